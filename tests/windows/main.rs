//! The Windows build under Wine (tests/wine/wine), started as a Windows program starts it. cssh
//! cannot exec on Windows: it starts ssh.exe and waits. These tests prove that contract with a
//! recording ssh.exe (record.rs, built for Windows here): every argument reaches ssh.exe exactly
//! as the Linux build hands it to ssh, standard input and output pass through byte for byte, and
//! ssh.exe's exit status is cssh's. Then cssh.exe drives the real ssh against the test host, so
//! that a tagged command lands in the image from the Windows build.
//!
//! tests/check builds the Windows programs first (`cargo build --target x86_64-pc-windows-gnu`)
//! and names their directory in CSSH_WINDOWS_BIN; without it, every test here fails and says so.
#![cfg(unix)]

#[path = "../support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use support::{CSSH, Scratch, describe, repo, run, text};

const TAGGED: &str = "[[host]]\npattern = \"tagged\"\nimage = \"/opt/img.sif\"\n";

/// The directory of the Windows build's programs.
fn windows_bin() -> PathBuf {
    let dir = std::env::var_os("CSSH_WINDOWS_BIN").map(PathBuf::from).expect(
        "CSSH_WINDOWS_BIN names no directory: tests/check builds the Windows programs and sets it",
    );
    assert!(
        dir.join("cssh.exe").is_file(),
        "no cssh.exe in CSSH_WINDOWS_BIN={}",
        dir.display()
    );
    dir
}

/// The recording stand-in, built for Windows once into a directory of its own.
fn recorder() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("cssh-windows-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let exe = dir.join("record.exe");
        let out = run(Command::new("rustc")
            .args([
                "--edition",
                "2024",
                "-O",
                "--target",
                "x86_64-pc-windows-gnu",
            ])
            .args(["-C", "linker=x86_64-w64-mingw32-gcc", "-o"])
            .arg(&exe)
            .arg(repo("tests/windows/record.rs")));
        assert!(
            out.status.success(),
            "building record.rs: {}",
            describe(&out)
        );
        exe
    })
}

/// A recorder named `name` (ssh.exe, scp.exe) in a directory of the scratch's.
fn recorder_as(scratch: &Scratch, name: &str) -> PathBuf {
    let dir = scratch.path("bin");
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join(name);
    std::fs::copy(recorder(), &exe).unwrap();
    exe
}

/// Runs a program of the Windows build under Wine, with `env` and `stdin`.
fn wine(program: &str, args: &[&str], env: &[(&str, &Path)], stdin: &[u8]) -> Output {
    let mut command = Command::new(repo("tests/wine/wine"));
    command
        .arg("run")
        .arg(windows_bin().join(program))
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("runs tests/wine/wine");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// The words a recorder wrote.
fn recorded(file: &Path) -> Vec<String> {
    let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    text(&bytes)
        .split_terminator('\0')
        .map(str::to_string)
        .collect()
}

/// What the Linux build hands ssh for `args`: a recording ssh of its own.
fn linux_ssh_args(scratch: &Scratch, args: &[&str]) -> Vec<String> {
    let ssh = scratch.path("linux-ssh");
    std::fs::write(&ssh, "#!/bin/sh\nprintf '%s\\0' \"$@\" >\"$RECORD_TO\"\n").unwrap();
    std::fs::set_permissions(&ssh, std::fs::Permissions::from_mode(0o755)).unwrap();
    let record = scratch.path("linux-record");
    let out = run(Command::new(CSSH)
        .args(args)
        .env("CSSH_SSH", &ssh)
        .env("CSSH_CONFIG", scratch.path("config.toml"))
        .env("RECORD_TO", &record));
    assert!(out.status.success(), "{}", describe(&out));
    recorded(&record)
}

#[test]
fn arguments_reach_ssh_exe_as_the_linux_build_hands_them_to_ssh() {
    let scratch = Scratch::new(TAGGED);
    let ssh = recorder_as(&scratch, "ssh.exe");
    let record = scratch.path("record");
    let awkward = [
        "a b",
        "q\"uote",
        "back\\",
        "",
        "x\\\"y",
        "tail\\\\",
        "it's $HOME `id` %PATH% ^&|<>",
        "ünïcødé",
    ];
    let lines: Vec<Vec<&str>> = vec![
        // Untagged: exactly what was typed.
        [&["-p", "2222", "-o", "SendEnv=A B", "other"][..], &awkward].concat(),
        // Tagged: the command becomes the encoded script, the options stay.
        [
            &["-p", "2222", "-l", "me", "tagged", "printf", "[%s]"][..],
            &awkward,
        ]
        .concat(),
        vec!["-t", "tagged"],
        vec!["-s", "tagged", "sftp"],
    ];
    for args in lines {
        let out = wine(
            "cssh.exe",
            &args,
            &[
                ("CSSH_SSH", &ssh),
                ("CSSH_CONFIG", &scratch.path("config.toml")),
                ("RECORD_TO", &record),
            ],
            b"",
        );
        assert!(out.status.success(), "{args:?}: {}", describe(&out));
        assert_eq!(
            recorded(&record),
            linux_ssh_args(&scratch, &args),
            "{args:?}"
        );
    }
}

#[test]
fn ssh_exes_exit_status_and_streams_are_csshs() {
    let scratch = Scratch::new(TAGGED);
    let ssh = recorder_as(&scratch, "ssh.exe");
    let record = scratch.path("record");
    let input: Vec<u8> = (0..=255_u8).cycle().take(300_000).collect();
    for code in ["0", "1", "7", "255"] {
        let out = wine(
            "cssh.exe",
            &["tagged", "cat"],
            &[
                ("CSSH_SSH", &ssh),
                ("CSSH_CONFIG", &scratch.path("config.toml")),
                ("RECORD_TO", &record),
                ("RECORD_EXIT", Path::new(code)),
            ],
            &input,
        );
        assert_eq!(
            out.status.code().map(|c| c.to_string()).as_deref(),
            Some(code),
            "{}",
            text(&out.stderr)
        );
        assert!(out.stdout == input, "{} bytes back", out.stdout.len());
    }
}

#[test]
fn cscp_exe_hands_scp_exe_the_cssh_exe_beside_it() {
    let scratch = Scratch::new(TAGGED);
    let scp = recorder_as(&scratch, "scp.exe");
    let record = scratch.path("record");
    let out = wine(
        "cscp.exe",
        &["-P", "2222", "a file.txt", "tagged:dir/"],
        &[("WINEPATH", scp.parent().unwrap()), ("RECORD_TO", &record)],
        b"",
    );
    assert!(out.status.success(), "{}", describe(&out));
    let args = recorded(&record);
    assert_eq!(args[0], "-S");
    assert!(
        args[1].ends_with("\\cssh.exe") && args[1].as_bytes()[1] == b':',
        "{args:?}"
    );
    assert_eq!(args[2..], ["-P", "2222", "a file.txt", "tagged:dir/"]);
}

/// The running test host's settings, from `testhost env`.
fn test_host() -> HashMap<String, String> {
    let script = repo("tests/testhost/testhost");
    let up = run(Command::new(&script).arg("up"));
    assert!(
        up.status.success(),
        "the test host is not up: {}",
        describe(&up)
    );
    let env = run(Command::new(&script).arg("env"));
    text(&env.stdout)
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn a_tagged_command_from_cssh_exe_lands_in_the_image() {
    // Wine starts a Linux program by its path, with the arguments and streams a Windows program
    // gives it, but hands back no exit status for it: cssh.exe then says it could not wait.
    let host = test_host();
    let scratch = Scratch::new("[[host]]\npattern = \"th-*\"\nimage = \"/opt/th/full.sif\"\n");
    let client = Path::new(&host["CSSH_TESTHOST_SSH_CONFIG"])
        .parent()
        .unwrap();
    let marker = &host["CSSH_TESTHOST_IMAGE_MARKER"];
    let out = wine(
        "cssh.exe",
        &[
            "-F",
            &host["CSSH_TESTHOST_SSH_CONFIG"],
            "th-bash",
            "cat",
            marker,
            "&&",
            "printf",
            "'[%s]'",
            "'a  b'",
        ],
        &[
            ("CSSH_SSH", Path::new("/usr/bin/ssh")),
            ("CSSH_CONFIG", &scratch.path("config.toml")),
            ("CSSH_WINE_SHOW", client),
        ],
        b"",
    );
    assert!(
        text(&out.stdout).starts_with("cssh-testhost image marker: full bookworm image\n[a  b]"),
        "{}",
        describe(&out)
    );
}
