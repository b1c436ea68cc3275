//! What a person installs: the Debian package, installed into a clean Debian root with Debian's
//! own tools, and the static Linux build, run where there is no C library at all. tests/check
//! builds both first (`cargo deb`, `cargo build --release --target x86_64-unknown-linux-musl`)
//! and names them in CSSH_DEB and CSSH_STATIC_BIN; without them every test here fails and says
//! so. Both need root (chroot), as the whole suite does.
#![cfg(unix)]

#[path = "../support/mod.rs"]
#[allow(
    dead_code,
    reason = "what every test binary shares; this one needs part of it"
)]
mod support;

use std::path::PathBuf;
use std::process::Command;

use support::{Scratch, describe, run, text};

/// A file tests/check built, named by `variable`.
fn built(variable: &str, what: &str) -> PathBuf {
    let path = std::env::var_os(variable).map_or_else(
        || panic!("{variable} names no {what}: tests/check builds it and sets it"),
        PathBuf::from,
    );
    assert!(path.exists(), "{variable}={}: no such file", path.display());
    path
}

/// Runs `script` with sh inside `root`.
fn inside(root: &std::path::Path, script: &str) -> std::process::Output {
    run(Command::new("chroot")
        .arg(root)
        .args(["/bin/sh", "-c", script]))
}

#[test]
fn the_debian_package_installs_programs_pages_and_completions() {
    let deb = built("CSSH_DEB", "Debian package");
    let scratch = Scratch::new("");
    let root = scratch.path("root");
    let mirror = std::env::var("CSSH_TESTHOST_MIRROR")
        .unwrap_or_else(|_| "http://deb.debian.org/debian".into());
    let made = run(Command::new("mmdebstrap")
        .args([
            "--quiet",
            "--variant=apt",
            "--include=man-db,bash-completion",
        ])
        .arg("bookworm")
        .arg(&root)
        .arg(format!("deb {mirror} bookworm main")));
    assert!(made.status.success(), "mmdebstrap: {}", describe(&made));
    std::fs::copy(&deb, root.join("tmp/cssh.deb")).unwrap();
    let installed = inside(
        &root,
        "apt-get install --quiet --yes --no-install-recommends /tmp/cssh.deb",
    );
    assert!(installed.status.success(), "{}", describe(&installed));

    let versions = inside(
        &root,
        "for c in cssh cscp csftp crsync; do $c --version; done",
    );
    assert_eq!(
        text(&versions.stdout),
        ["cssh", "cscp", "csftp", "crsync"]
            .map(|c| format!("{c} {}\n", env!("CARGO_PKG_VERSION")))
            .concat(),
        "{}",
        describe(&versions)
    );
    let pages = inside(
        &root,
        "man -w cssh cscp csftp crsync && man -w 5 cssh-config",
    );
    assert_eq!(
        text(&pages.stdout),
        "/usr/share/man/man1/cssh.1.gz\n/usr/share/man/man1/cscp.1.gz\n\
         /usr/share/man/man1/csftp.1.gz\n/usr/share/man/man1/crsync.1.gz\n\
         /usr/share/man/man5/cssh-config.5.gz\n",
        "{}",
        describe(&pages)
    );
    // bash-completion loads a command's completion from its file on first use.
    let bash = inside(
        &root,
        "bash -c '. /usr/share/bash-completion/bash_completion; for c in cssh cscp csftp crsync; do _comp_load $c 2>/dev/null || __load_completion $c; complete -p $c; done'",
    );
    for command in ["cssh", "cscp", "csftp", "crsync"] {
        assert!(
            text(&bash.stdout).contains(&format!(" {command}\n")),
            "{command}: {}",
            describe(&bash)
        );
    }
    let others = inside(
        &root,
        "ls /usr/share/zsh/vendor-completions/_cssh /usr/share/fish/vendor_completions.d/ /usr/share/doc/cssh/copyright",
    );
    assert_eq!(
        text(&others.stdout),
        "/usr/share/doc/cssh/copyright\n/usr/share/zsh/vendor-completions/_cssh\n\n\
         /usr/share/fish/vendor_completions.d/:\ncrsync.fish\ncscp.fish\ncsftp.fish\ncssh.fish\n",
        "{}",
        describe(&others)
    );
}

#[test]
fn the_static_build_runs_where_there_is_no_c_library() {
    let cssh = built("CSSH_STATIC_BIN", "static cssh");
    let scratch = Scratch::new("[[host]]\npattern = \"hpc-7 login\"\nimage = \"/img.sif\"\n");
    let root = scratch.path("root");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::copy(&cssh, root.join("cssh")).unwrap();
    std::fs::copy(scratch.path("config.toml"), root.join("config.toml")).unwrap();
    let out = run(Command::new("chroot").arg(&root).args([
        "/cssh",
        "--config",
        "/config.toml",
        "--list-hosts",
    ]));
    assert_eq!(text(&out.stdout), "hpc-7\nlogin\n", "{}", describe(&out));
    let version = run(Command::new("chroot")
        .arg(&root)
        .args(["/cssh", "--version"]));
    assert_eq!(
        text(&version.stdout),
        format!("cssh {}\n", env!("CARGO_PKG_VERSION"))
    );
}
