//! cssh's own surface: exact pass-through, --dry-run, --explain, configuration errors and
//! refusals. A fake ssh that records its argv shows what cssh would exec, byte for byte.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::process::Command;

use crate::harness::*;

/// Writes a fake ssh into the scratch directory: it records its argv, NUL-separated.
fn fake_ssh(scratch: &Scratch) -> std::path::PathBuf {
    let path = scratch.path("fake-ssh");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nprintf '%s\\0' \"$0\" \"$@\" > '{}'\n",
            scratch.path("argv").display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn recorded(scratch: &Scratch) -> Vec<OsString> {
    let bytes = std::fs::read(scratch.path("argv")).unwrap();
    let mut words: Vec<OsString> = bytes
        .split(|&b| b == 0)
        .map(|w| OsString::from_vec(w.to_vec()))
        .collect();
    words.pop(); // after the last NUL
    words
}

fn cssh_with_fake(scratch: &Scratch) -> Command {
    let mut command = Command::new(CSSH);
    command
        .env("CSSH_CONFIG", scratch.path("config.toml"))
        .env("CSSH_SSH", fake_ssh(scratch));
    command
}

#[test]
fn untagged_hosts_get_the_argv_byte_for_byte() {
    let scratch = Scratch::new("[[host]]\npattern = \"tagged\"\nimage = \"/i.sif\"\n");
    let odd: Vec<OsString> = vec![
        "-o".into(),
        "SetEnv=A=b c".into(),
        "-p2222".into(),
        "untagged".into(),
        "echo".into(),
        "a  b\n'c'".into(),
        OsString::from_vec(vec![0xff, b'!', 0x80]),
        "".into(),
        "--".into(),
    ];
    let fake = fake_ssh(&scratch);
    for (prefix, args) in [
        (vec![], odd.clone()),
        (
            vec!["--no-container"],
            [vec!["tagged".into()], odd[4..].to_vec()].concat(),
        ),
    ] {
        let status = cssh_with_fake(&scratch)
            .args(&prefix)
            .args(&args)
            .status()
            .unwrap();
        assert!(status.success());
        let mut expected = vec![fake.clone().into_os_string()];
        expected.extend(args.iter().cloned());
        assert_eq!(recorded(&scratch), expected, "{prefix:?}");
    }
}

#[test]
fn sessionless_lines_pass_through_unchanged_even_for_tagged_hosts() {
    let scratch = Scratch::new("[[host]]\npattern = \"*\"\nimage = \"/i.sif\"\n");
    let fake = fake_ssh(&scratch);
    for args in [
        &["-G", "-o", "SendEnv=GIT_PROTOCOL", "h"][..],
        &["-V"],
        &["-O", "check", "h"],
        &["-N", "-L", "8080:localhost:80", "h"],
        &["-W", "h:22", "jump"],
        &["-s", "h", "netconf"],
        &["-o", "SessionType=none", "h"],
        &["-j", "h"],
    ] {
        let status = cssh_with_fake(&scratch).args(args).status().unwrap();
        assert!(status.success(), "{args:?}");
        let mut expected = vec![fake.clone().into_os_string()];
        expected.extend(args.iter().map(OsString::from));
        assert_eq!(recorded(&scratch), expected, "{args:?}");
    }
}

#[test]
fn dry_run_prints_the_exact_command_line() {
    let scratch = Scratch::new("[[host]]\npattern = \"tagged\"\nimage = \"/i.sif\"\n");
    let fake = fake_ssh(&scratch);
    let out = run(cssh_with_fake(&scratch).args(["--dry-run", "untagged", "echo", "a b"]));
    assert_eq!(
        text(&out.stdout),
        format!("{} untagged echo 'a b'\n", fake.display())
    );
    let out = run(cssh_with_fake(&scratch).args(["--dry-run", "-p", "22", "tagged", "id"]));
    let line = text(&out.stdout);
    assert!(
        line.starts_with(&format!("{} -p 22 tagged ", fake.display())),
        "{line}"
    );
    assert_eq!(line.lines().count(), 1);
    assert!(!scratch.path("argv").exists(), "a dry run runs nothing");
    // The printed line, run by a shell, is exactly what cssh execs.
    let status = Command::new("/bin/sh")
        .arg("-c")
        .arg(line.trim_end())
        .status()
        .unwrap();
    assert!(status.success());
    let from_dry_run = recorded(&scratch);
    let real = cssh_with_fake(&scratch)
        .args(["-p", "22", "tagged", "id"])
        .status()
        .unwrap();
    assert!(real.success());
    assert_eq!(recorded(&scratch), from_dry_run);
    assert_eq!(from_dry_run.len(), 5, "{from_dry_run:?}");
}

#[test]
fn explain_names_entries_settings_and_the_remote_script() {
    let scratch = Scratch::new(
        "[[host]]\npattern = \"login\"\nimage = \"none\"\n\n[[host]]\npattern = \"hpc-*\"\nimage = \"/el9.sif\"\nbinds = [\"/scratch\"]\n\n[[host]]\npattern = \"*\"\nruntime = \"apptainer\"\n",
    );
    let out = run(cssh_with_fake(&scratch).args(["--explain", "alice@hpc-7", "make", "-j8"]));
    let report = text(&out.stdout);
    let config = scratch.path("config.toml").display().to_string();
    for expected in [
        format!("config: {config}\n"),
        "destination: alice@hpc-7 (host hpc-7)\n".into(),
        "matched: line 6: pattern = \"hpc-*\"\n".into(),
        "matched: line 11: pattern = \"*\"\n".into(),
        "setting: image = Some(Path(\"/el9.sif\")) (line 6)\n".into(),
        "setting: runtime = Some(Program(\"apptainer\")) (line 11)\n".into(),
        "setting: binds = [\"/scratch\"] (line 6)\n".into(),
        "decision: container\n".into(),
        "  exec \"$cssh_rt\" exec --bind /scratch /el9.sif /bin/sh -c 'make -j8'\n".into(),
    ] {
        assert!(
            report.contains(&expected),
            "missing {expected:?} in:\n{report}"
        );
    }
    let out = run(cssh_with_fake(&scratch).args(["--explain", "login", "id"]));
    assert!(
        text(&out.stdout).contains("decision: plain ssh: image = \"none\" for this host\n"),
        "{}",
        describe(&out)
    );
}

#[test]
fn configuration_errors_are_one_line_with_position() {
    let cases = [
        (
            "[[host]]\npattern = \"a\"\nimgae = \"x\"\n",
            ":3:1: unknown key `imgae` (did you mean `image`?)",
        ),
        ("[[host]]\npattern = \"a\nimage = 1\n", ":2:"),
        (
            "[[host]]\npattern = \"!a\"\nimage = \"x\"\n[[host]]\npattern = \"b !\"\n",
            ":5:11: invalid pattern \"b !\"",
        ),
    ];
    for (config, expected) in cases {
        let scratch = Scratch::new(config);
        let out = run(cssh_with_fake(&scratch).args(["a", "id"]));
        assert_eq!(out.status.code(), Some(255), "{}", describe(&out));
        let stderr = text(&out.stderr);
        assert!(
            stderr.starts_with(&format!(
                "cssh: {}{expected}",
                scratch.path("config.toml").display()
            )),
            "{stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(!scratch.path("argv").exists(), "ssh must not run");
    }
}

#[test]
fn unusable_configuration_files_are_one_line() {
    let scratch = Scratch::new("# tags nothing\n");
    std::fs::write(scratch.path("empty.toml"), "\n").unwrap();
    std::fs::write(scratch.path("latin1.toml"), b"# caf\xe9\n").unwrap();
    std::fs::create_dir(scratch.path("dir.toml")).unwrap();
    // Root reads any file, so the unreadable one is read by a copy of cssh running as nobody.
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(scratch.path("unreadable.toml"), "").unwrap();
    std::fs::set_permissions(
        scratch.path("unreadable.toml"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    std::fs::copy(CSSH, scratch.path("cssh")).unwrap();
    let as_nobody = || {
        let mut command = Command::new("setpriv");
        command
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(scratch.path("cssh"))
            .env("CSSH_SSH", fake_ssh(&scratch));
        command
    };
    for (file, expected, mut command) in [
        (
            "missing.toml",
            "cannot read: No such file or directory",
            cssh_with_fake(&scratch),
        ),
        (
            "dir.toml",
            "is a directory, not a configuration file",
            cssh_with_fake(&scratch),
        ),
        ("empty.toml", "empty file;", cssh_with_fake(&scratch)),
        (
            "latin1.toml",
            "1:6: not valid UTF-8",
            cssh_with_fake(&scratch),
        ),
        (
            "unreadable.toml",
            "cannot read: Permission denied",
            as_nobody(),
        ),
    ] {
        let path = scratch.path(file);
        let out = run(command.arg("--config").arg(&path).args(["h", "id"]));
        assert_eq!(out.status.code(), Some(255));
        let stderr = text(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with(&format!("cssh: {}", path.display())) && stderr.contains(expected),
            "{stderr}"
        );
    }
    // A file of comments tags nothing, on purpose.
    let out = run(cssh_with_fake(&scratch).args(["h", "id"]));
    assert!(out.status.success(), "{}", describe(&out));
}

#[test]
fn hostile_host_names_are_refused_for_container_hosts() {
    let scratch = Scratch::new("[[host]]\npattern = \"*\"\nimage = \"/i.sif\"\n");
    for name in [
        "h;touch /tmp/cssh-hostile",
        "$(touch /tmp/cssh-hostile)",
        "h\nx",
        "-oProxyCommand=touch /tmp/cssh-hostile",
    ] {
        let out = run(cssh_with_fake(&scratch).args(["--", name, "id"]));
        assert_eq!(out.status.code(), Some(255), "{name:?}");
        assert!(
            text(&out.stderr).starts_with("cssh: refusing host name"),
            "{}",
            describe(&out)
        );
        assert!(!scratch.path("argv").exists());
    }
    assert!(!std::path::Path::new("/tmp/cssh-hostile").exists());
}

#[test]
fn own_options_help_and_version() {
    let out = run(Command::new(CSSH).arg("--help"));
    assert!(out.status.success() && text(&out.stdout).contains("--dry-run"));
    let out = run(Command::new(CSSH).arg("--version"));
    assert_eq!(
        text(&out.stdout),
        format!("cssh {}\n", env!("CARGO_PKG_VERSION"))
    );
    let out = run(Command::new(CSSH).args(["--frob", "h"]));
    assert_eq!(out.status.code(), Some(255));
    assert_eq!(
        text(&out.stderr),
        "cssh: unknown option --frob (cssh's options come before ssh's; see cssh --help)\n"
    );
}

#[test]
fn a_link_named_ssh_to_cssh_never_recurses() {
    let scratch = Scratch::new("");
    std::os::unix::fs::symlink(CSSH, scratch.path("ssh")).unwrap();
    let path = format!(
        "{}:{}",
        scratch.dir.display(),
        std::env::var("PATH").unwrap()
    );
    let out = run(Command::new(scratch.path("ssh"))
        .env("PATH", &path)
        .env_remove("CSSH_SSH")
        .args(["--dry-run", "h"]));
    let line = text(&out.stdout);
    assert!(
        line.starts_with('/') && !line.starts_with(&scratch.dir.display().to_string()),
        "{line}"
    );
    assert!(line.split(' ').next().unwrap().ends_with("/ssh"), "{line}");
}
