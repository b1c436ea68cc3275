//! Hostile values and load: configuration values that hold shell syntax are passed as data,
//! never run; OpenSSH's own refusals of hostile destinations still happen; many sessions and
//! transfers at once all succeed; a link named ssh never loops.
//!
//! `prelude` is shell code by design, and `options` are the runtime's own arguments, passed
//! verbatim: Apptainer itself evaluates an `--env` value in the container's shell, which is why
//! cssh's `env` key sets variables with `env(1)` instead.

use std::process::{Command, Output, Stdio};

use crate::harness::*;

/// A canary path on the remote that only an injected command would create.
fn canary(name: &str) -> (String, std::path::PathBuf) {
    let remote = format!("/tmp/cssh-canary-{name}-{}", std::process::id());
    let local = host().root.join(remote.trim_start_matches('/'));
    (remote, local)
}

#[test]
fn configuration_values_with_shell_syntax_never_run() {
    let (remote, local) = canary("config");
    let payloads = [
        format!("$(touch {remote})"),
        format!("`touch {remote}`"),
        format!("x'; touch {remote}; '"),
        format!("x\"; touch {remote}; \""),
        format!("x\ntouch {remote}\n"),
    ];
    for payload in &payloads {
        let toml = |s: &str| format!("{s:?}");
        for extra in [
            format!("shell = {}", toml(payload)),
            format!("binds = [{}]", toml(&format!("/tmp:{payload}"))),
            format!("env = {{ CSSH_X = {} }}", toml(payload)),
        ] {
            let config = tagging(FULL_SIF, &extra);
            let _ = run(cssh(&config).args(["th-bash", "true"]));
            let _ = run(cssh(&config).args(["-T", "th-tcsh"]));
        }
        // As the image itself: refused as missing (or, with a line break, as a bad value of
        // the configuration), never run.
        let config = tagging(payload, "");
        let out = run(cssh(&config).args(["th-fish", "true"]));
        let refused = if payload.contains('\n') { 255 } else { 127 };
        assert_eq!(out.status.code(), Some(refused), "{}", describe(&out));
    }
    assert!(!local.exists(), "an injected command ran on the remote");
}

#[test]
fn openssh_still_refuses_hostile_destinations_of_untagged_hosts() {
    // cssh refuses such names itself for tagged hosts (cli.rs); untagged ones reach ssh as they
    // are, and ssh's own refusal must come out exactly as without cssh.
    let config = tagging(FULL_SIF, "");
    let canary = config.path("canary");
    let touch = format!("touch {}", canary.display());
    for destination in [
        format!("-oProxyCommand={touch}"),
        format!("h;{touch}"),
        format!("$({touch})"),
        format!("h'`{touch}`'"),
        format!("h\n{touch}"),
        format!("u;{touch}@localhost"),
    ] {
        let args = ["--", destination.as_str(), "true"];
        let plain = run(Command::new("ssh")
            .arg("-F")
            .arg(&host().ssh_config)
            .args(args));
        let out = run(cssh(&config).args(args));
        assert_eq!(out.status.code(), Some(255), "{}", describe(&out));
        assert_eq!(
            (out.status.code(), text(&out.stderr)),
            (plain.status.code(), text(&plain.stderr)),
            "{destination:?}"
        );
        assert!(
            text(&out.stderr).contains("contains invalid characters"),
            "{}",
            describe(&out)
        );
    }
    assert!(!canary.exists(), "an injected command ran locally");
}

/// Starts `count` commands at once, the i-th against login shell i modulo 7, and waits for all.
fn all_at_once(count: usize, command: impl Fn(usize, &str) -> Command) -> Vec<Output> {
    let aliases = &host().aliases;
    let children: Vec<_> = (0..count)
        .map(|i| {
            command(i, &aliases[i % aliases.len()])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|child| child.wait_with_output().unwrap())
        .collect()
}

#[test]
fn sixty_four_concurrent_sessions_all_succeed() {
    let config = tagging(FULL_SIF, "");
    let outputs = all_at_once(64, |i, alias| {
        let mut command = cssh(&config);
        command.args([alias, "printf", &format!("session-{i}")]);
        command
    });
    for (i, out) in outputs.iter().enumerate() {
        assert_eq!(
            text(&out.stdout),
            format!("session-{i}"),
            "{}",
            describe(out)
        );
    }
}

#[test]
fn thirty_two_concurrent_transfers_all_arrive_intact() {
    let config = tagging(FULL_SIF, "");
    let source = config.path("payload");
    let data: Vec<u8> = (0..4 << 20)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&source, &data).unwrap();
    let remote = |i: usize| format!("/tmp/cssh-load-{}-{i}", std::process::id());
    // Half through cscp, half through rsync -e cssh.
    let outputs = all_at_once(32, |i, alias| {
        let mut command = if i % 2 == 0 {
            let mut cscp = Command::new(env!("CARGO_BIN_EXE_cscp"));
            cscp.args(["-q", "-F"]).arg(&host().ssh_config);
            cscp
        } else {
            let mut rsync = Command::new("rsync");
            rsync.args(["-e", &format!("{CSSH} -F {}", host().ssh_config.display())]);
            rsync
        };
        command
            .arg(&source)
            .arg(format!("{alias}:{}", remote(i)))
            .env("CSSH_CONFIG", config.path("config.toml"));
        command
    });
    for (i, out) in outputs.iter().enumerate() {
        assert!(out.status.success(), "transfer {i}: {}", describe(out));
        let arrived = host().root.join(remote(i).trim_start_matches('/'));
        assert!(
            std::fs::read(&arrived).unwrap() == data,
            "transfer {i} arrived changed"
        );
        std::fs::remove_file(arrived).unwrap();
    }
}

#[test]
fn a_link_named_ssh_first_on_path_never_loops() {
    let config = tagging(FULL_SIF, "");
    let links = config.path("bin");
    std::fs::create_dir(&links).unwrap();
    std::os::unix::fs::symlink(CSSH, links.join("ssh")).unwrap();
    let path = format!("{}:{}", links.display(), std::env::var("PATH").unwrap());
    let marker = config.path("marker");
    let bin = |name: &str| Command::new(std::path::Path::new(CSSH).with_file_name(name));
    for (what, mut command) in [
        ("ssh link", Command::new(links.join("ssh"))),
        ("cscp", bin("cscp")),
        ("crsync", bin("crsync")),
    ] {
        command
            .env("PATH", &path)
            .env("CSSH_CONFIG", config.path("config.toml"))
            .env_remove("CSSH_SSH");
        match what {
            "ssh link" => command.arg("-F").arg(&host().ssh_config).args([
                "th-bash",
                "cat",
                &host().image_marker,
            ]),
            "cscp" => command
                .args(["-q", "-F"])
                .arg(&host().ssh_config)
                .arg("th-bash:/etc/cssh-image-marker")
                .arg(&marker),
            _ => command
                .args(["-e", &format!("ssh -F {}", host().ssh_config.display())])
                .arg("th-bash:/etc/cssh-image-marker")
                .arg(&marker),
        };
        let out = run(&mut command);
        assert!(out.status.success(), "{what}: {}", describe(&out));
        let got = if what == "ssh link" {
            text(&out.stdout)
        } else {
            std::fs::read_to_string(&marker).unwrap()
        };
        assert_eq!(got, FULL_MARKER, "{what}");
        let _ = std::fs::remove_file(&marker);
    }
}
