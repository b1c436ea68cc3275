//! Hostile values and load: configuration values that hold shell syntax are passed as data,
//! never run; OpenSSH's own refusals of hostile destinations still happen; many sessions and
//! transfers at once all succeed; a link named ssh never loops.
//!
//! `prelude` is shell code by design, and `options` are the runtime's own arguments, passed
//! verbatim: Apptainer itself evaluates an `--env` value in the container's shell, which is why
//! cssh's `env` key sets variables with `env(1)` instead.

use std::process::Command;

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
            let config = Scratch::tagging(FULL_SIF, &extra);
            let _ = run(cssh(&config).args(["th-bash", "true"]));
            let _ = run(cssh(&config).args(["-T", "th-tcsh"]));
        }
        // As the image itself: refused as missing, never run.
        let config = Scratch::tagging(payload, "");
        let out = run(cssh(&config).args(["th-fish", "true"]));
        assert_eq!(out.status.code(), Some(127), "{}", describe(&out));
    }
    assert!(!local.exists(), "an injected command ran on the remote");
}

#[test]
fn openssh_still_refuses_hostile_destinations_of_untagged_hosts() {
    // cssh refuses such names itself for tagged hosts (cli.rs); untagged ones reach ssh as they
    // are, and ssh's own refusal must come out exactly as without cssh.
    let config = Scratch::tagging(FULL_SIF, "");
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

#[test]
fn sixty_four_concurrent_sessions_all_succeed() {
    let config = Scratch::tagging(FULL_SIF, "");
    let children: Vec<_> = (0..64)
        .map(|i| {
            let alias = &host().aliases[i % host().aliases.len()];
            cssh(&config)
                .args([alias.as_str(), "printf", &format!("session-{i}")])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            text(&out.stdout),
            format!("session-{i}"),
            "{}",
            describe(&out)
        );
    }
}

#[test]
fn thirty_two_concurrent_transfers_all_arrive_intact() {
    let config = Scratch::tagging(FULL_SIF, "");
    let source = config.path("payload");
    let data: Vec<u8> = (0..4 << 20)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&source, &data).unwrap();
    let children: Vec<_> = (0..32)
        .map(|i| {
            let alias = &host().aliases[i % host().aliases.len()];
            let target = format!("{alias}:/tmp/cssh-load-{}-{i}", std::process::id());
            let mut command = if i % 2 == 0 {
                let mut c = Command::new(env!("CARGO_BIN_EXE_cscp"));
                c.args(["-q", "-F"])
                    .arg(&host().ssh_config)
                    .arg(&source)
                    .arg(&target);
                c
            } else {
                let mut c = Command::new("rsync");
                c.args(["-e", &format!("{CSSH} -F {}", host().ssh_config.display())])
                    .arg(&source)
                    .arg(&target);
                c
            };
            command
                .env("CSSH_CONFIG", config.path("config.toml"))
                .stdin(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "transfer {i}: {}", describe(&out));
        let arrived = host()
            .root
            .join(format!("tmp/cssh-load-{}-{i}", std::process::id()));
        assert!(
            std::fs::read(&arrived).unwrap() == data,
            "transfer {i} arrived changed"
        );
        std::fs::remove_file(arrived).unwrap();
    }
}

#[test]
fn a_link_named_ssh_first_on_path_never_loops() {
    let config = Scratch::tagging(FULL_SIF, "");
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
