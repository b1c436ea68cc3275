//! The OpenSSH clients users have (tests/clients: Debian 11's 8.4, 12's 9.2, 13's 10.0, each
//! in a root of its own): cssh's reading of a command line against each version's own (`ssh
//! -G` for the destination, `ssh -v`'s `Sending command:` for what runs), and a command, scp
//! and rsync through cssh with each version as the real ssh.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use cssh::ssh_args::{self, Session};

use crate::harness::*;
use crate::transfer::DataDir;

const VERSIONS: [&str; 3] = ["8.4", "9.2", "10.0"];

/// `PROGRAM-VERSION` from tests/clients (built by `clients up`, which the first call runs).
fn client(program: &str, version: &str) -> PathBuf {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let script = built("clients/clients")?;
        let dir = Command::new(&script)
            .arg("dir")
            .output()
            .map_err(|e| e.to_string())?;
        Ok(PathBuf::from(text(&dir.stdout).trim()))
    });
    let dir = dir
        .as_ref()
        .unwrap_or_else(|why| panic!("the OpenSSH clients are not available: {why}"));
    dir.join(format!("{program}-{version}"))
}

/// Command lines whose every piece some client or user writes: options before and after the
/// destination, joined flags, attached arguments, `--`, `user@`, `ssh://` URIs, `-P` (a flag
/// before 9.4, a tag from 9.4 on), `-Z` (a flag from 10.5 on), a subsystem, and lines ssh
/// refuses. (Which host names ssh accepts is not the grammar's: see hostile.rs.) No backslash:
/// `ssh -v` escapes it in its log.
const CORPUS: &[&[&str]] = &[
    &["th-plain", "echo", "a b"],
    &["th-plain"],
    &["-p", "2222", "th-plain", "echo", "x"],
    &["-l", "bashuser", "th-plain", "true"],
    &["-lbashuser", "th-plain", "whoami"],
    &["bashuser@th-plain", "-T", "echo", "hi"],
    &[
        "th-plain",
        "-l",
        "bashuser",
        "-o",
        "LogLevel=ERROR",
        "echo",
        "second",
        "pass",
    ],
    &["th-plain", "--", "echo", "-t"],
    &["th-plain", "echo", "a", "--", "-b"],
    &["-o", "User=bashuser", "th-plain", "printf", "[%s]", "x y"],
    &["-4", "-x", "-a", "th-plain", "id", "-u"],
    &["-CTx", "th-plain", "echo", "joined"],
    &["-oPort=2222", "th-plain", "echo", "attached"],
    &["ssh://bashuser@th-plain:2222", "echo", "uri"],
    &["-e", "none", "th-plain", "echo", "-e"],
    &["-P", "tag", "th-plain", "true"],
    &["-s", "th-plain", "sftp"],
    &["-C", "-k", "th-plain", "echo", "-q"],
    &["-b"],
    &["-Z", "th-plain"],
    &["-y", "th-plain", "-Z", "true"],
];

/// `ssh -v`'s line naming what the session runs, as cssh names it.
fn sent(stderr: &str) -> Session {
    for line in stderr.lines() {
        if let Some(command) = line.strip_prefix("debug1: Sending command: ") {
            return Session::Command(command.as_bytes().to_vec());
        }
        if let Some(subsystem) = line.strip_prefix("debug1: Sending subsystem: ") {
            return Session::Subsystem(subsystem.as_bytes().to_vec());
        }
    }
    Session::Shell
}

#[test]
fn the_grammar_agrees_with_each_versions_own_ssh() {
    let mut wrong = Vec::new();
    for version in VERSIONS {
        let ssh = client("ssh", version);
        let banner = text(&run(Command::new(&ssh).arg("-V")).stderr);
        assert!(
            banner.starts_with(&format!("OpenSSH_{version}")),
            "{banner}"
        );
        let grammar = ssh_args::Grammar::of(&banner);
        for words in CORPUS {
            let args: Vec<OsString> = words.iter().map(OsString::from).collect();
            let ours = ssh_args::parse(args, &mut || grammar).ok();
            // Where ssh reads the destination: -G resolves it without connecting.
            let out = run(Command::new(&ssh)
                .args(["-G", "-F", "/dev/null"])
                .args(*words)
                .stdin(Stdio::null()));
            let theirs = out.status.success().then(|| {
                text(&out.stdout)
                    .lines()
                    .find_map(|l| l.strip_prefix("hostname ").map(str::to_string))
                    .unwrap_or_default()
            });
            let our_host = ours
                .as_ref()
                .map(|inv| inv.host.to_string_lossy().to_lowercase());
            if our_host != theirs {
                wrong.push(format!(
                    "{version} {words:?}: destination {our_host:?}, ssh -G says {theirs:?}"
                ));
                continue;
            }
            // What runs there: a real session with the test host (the untagged alias).
            let (Some(inv), Some("th-plain")) = (&ours, theirs.as_deref()) else {
                continue;
            };
            let out: Output = run(Command::new(&ssh)
                .arg("-v")
                .arg("-F")
                .arg(&host().ssh_config)
                .args(*words)
                .stdin(Stdio::null()));
            let theirs = sent(&text(&out.stderr));
            if inv.session() != theirs {
                wrong.push(format!(
                    "{version} {words:?}: cssh reads {:?}, ssh sent {theirs:?}",
                    inv.session()
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_command_scp_and_rsync_land_in_the_image_with_each_version() {
    let data = DataDir::with(FULL_SIF, "");
    for version in VERSIONS {
        let ssh = client("ssh", version);
        let out = run(cssh(&data.scratch).env("CSSH_SSH", &ssh).args([
            "th-tcsh",
            "cat",
            &host().image_marker,
        ]));
        assert_eq!(
            text(&out.stdout),
            FULL_MARKER,
            "{version}: {}",
            describe(&out)
        );

        // The version's own scp (8.4's speaks the SCP protocol, 9.x and 10.0 SFTP) through cssh.
        let local = data.local(&format!("scp-{version}"));
        std::fs::write(&local, format!("through scp {version}\n")).unwrap();
        let out = run(Command::new(client("scp", version))
            .env("CSSH_CONFIG", data.config())
            .env("CSSH_SSH", &ssh)
            .arg("-S")
            .arg(CSSH)
            .arg("-F")
            .arg(&host().ssh_config)
            .arg(&local)
            .arg(format!("th-bash:/data/scp-{version}")));
        assert!(out.status.success(), "scp {version}: {}", describe(&out));
        assert_eq!(
            std::fs::read_to_string(data.remote_path().join(format!("scp-{version}")))
                .unwrap_or_default(),
            format!("through scp {version}\n"),
            "scp {version} wrote the container's /data"
        );

        let local = data.local(&format!("rsync-{version}"));
        std::fs::write(&local, format!("through rsync {version}\n")).unwrap();
        let out = run(Command::new("rsync")
            .env("CSSH_CONFIG", data.config())
            .env("CSSH_SSH", &ssh)
            .arg("-e")
            .arg(format!("{CSSH} -F {}", host().ssh_config.display()))
            .arg(&local)
            .arg(format!("th-fish:/data/rsync-{version}")));
        assert!(out.status.success(), "rsync {version}: {}", describe(&out));
        assert_eq!(
            std::fs::read_to_string(data.remote_path().join(format!("rsync-{version}")))
                .unwrap_or_default(),
            format!("through rsync {version}\n"),
            "rsync {version} wrote the container's /data"
        );
    }
}
