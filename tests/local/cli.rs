//! cssh's own surface: exact pass-through, --dry-run, --explain, configuration errors and
//! refusals. A fake ssh that records its argv shows what cssh would exec, byte for byte.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::process::Command;

use crate::support::*;
use std::os::unix::fs::PermissionsExt;

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
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Whether the tests run as root (whose reads no file mode stops).
pub fn is_root() -> bool {
    run(Command::new("id").arg("-u")).stdout == b"0\n"
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

/// ssh gets SIGPIPE's disposition as cssh got it, ignored or not, as when the caller runs ssh
/// itself (Rust's runtime ignores it, and its exec sets it to the default).
#[test]
fn ssh_gets_sigpipe_as_the_caller_left_it() {
    let scratch = Scratch::new("");
    let fake = scratch.path("fake-ssh");
    let seen = scratch.path("sigign");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nsed -n 's/^SigIgn:[[:space:]]*//p' /proc/$$/status > '{}'\n",
            seen.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    for (trap, ignored) in [("trap '' PIPE; ", true), ("", false)] {
        let script = format!("{trap}exec \"$0\" -Q cipher");
        let out = run(Command::new("/bin/sh")
            .args(["-c", &script, CSSH])
            .env("CSSH_CONFIG", scratch.path("config.toml"))
            .env("CSSH_SSH", &fake));
        assert!(out.status.success(), "{}", describe(&out));
        let mask = std::fs::read_to_string(&seen).unwrap();
        let mask = u64::from_str_radix(mask.trim(), 16).unwrap();
        assert_eq!(
            mask & (1 << (13 - 1)) != 0,
            ignored,
            "{trap:?}: SigIgn {mask:x}"
        );
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
        "setting: image = \"/el9.sif\" (line 7)\n".into(),
        "setting: runtime = \"apptainer\" (line 12)\n".into(),
        "setting: binds = [\"/scratch\"] (line 8)\n".into(),
        "decision: container\n".into(),
        "  exec \"$cssh_rt\" exec --bind /scratch /el9.sif /bin/sh -c 'case ${PROMPT_COMMAND-} in "
            .into(),
        " sh 'make -j8'\n".into(),
    ] {
        assert!(
            report.contains(&expected),
            "missing {expected:?} in:\n{report}"
        );
    }
    assert!(!report.contains("\ninstance: "), "{report}");
    let out = run(cssh_with_fake(&scratch).args(["--explain", "login", "id"]));
    assert!(
        text(&out.stdout).contains("decision: plain ssh: image = \"none\" for this host\n"),
        "{}",
        describe(&out)
    );
}

#[test]
fn explain_says_how_commands_join_an_instance() {
    let scratch =
        Scratch::new("[[host]]\npattern = \"hpc\"\nimage = \"/el9.sif\"\ninstance = \"dev\"\n");
    let out = run(cssh_with_fake(&scratch).args(["--explain", "hpc", "true"]));
    let report = text(&out.stdout);
    assert!(
        report.contains(
            "\ninstance: commands join dev by its namespaces where it runs in a user namespace"
        ),
        "{report}"
    );
    assert!(
        report.contains("else by apptainer exec instance:// (cssh --doctor says which)\n"),
        "{report}"
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
        (
            "[[host]]\npattern = \"a\"\nimage = \"x\"\ninstance = \"..\"\n",
            ":4:12: instance: \"..\": start with a letter, digit or '_'",
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
    // Root reads any file, so as root the unreadable one is read by a copy of cssh running as
    // nobody; any other user cannot read it as it is.
    std::fs::write(scratch.path("unreadable.toml"), "").unwrap();
    std::fs::set_permissions(
        scratch.path("unreadable.toml"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    std::fs::copy(CSSH, scratch.path("cssh")).unwrap();
    let as_nobody = || {
        if !is_root() {
            return cssh_with_fake(&scratch);
        }
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

#[test]
fn a_cssh_ssh_that_is_not_there_is_one_line_in_cssh_words() {
    for (value, said) in [
        ("/nope/ssh", "no such program"),
        ("nope-ssh-program", "not on PATH"),
    ] {
        let out = run(Command::new(CSSH)
            .env("CSSH_SSH", value)
            .args(["h", "true"]));
        assert_eq!(
            (out.status.code(), text(&out.stderr)),
            (
                Some(255),
                format!(
                    "cssh: CSSH_SSH={value}: {said} (set it to the path of ssh, or unset it)\n"
                )
            )
        );
    }
}

#[test]
fn a_line_ssh_refuses_with_a_cssh_option_in_it_gets_a_hint_then_sshs_own_words() {
    let scratch = Scratch::new("");
    let ssh = fake_ssh(&scratch);
    for (args, hint) in [
        (
            &["-F", "x", "--dry-run", "rig"][..],
            "cssh: --dry-run is cssh's own option: cssh's options come before ssh's (cssh --dry-run [ssh options] destination)\n",
        ),
        (
            &[],
            "cssh: usage: cssh [cssh options] [ssh options] destination [command]; cssh --help lists cssh's options, ssh's usage follows\n",
        ),
    ] {
        let out = run(Command::new(CSSH)
            .env("CSSH_SSH", &ssh)
            .env("CSSH_CONFIG", scratch.path("none.toml"))
            .args(args));
        assert_eq!(text(&out.stderr), hint);
        // ssh still gets the line as it was, to say what it says of it.
        assert_eq!(
            recorded(&scratch)[1..],
            args.iter().map(OsString::from).collect::<Vec<_>>()[..]
        );
    }
}

#[test]
fn configuration_files_others_could_write_are_refused() {
    let scratch = Scratch::new("[[host]]\npattern = \"*\"\nimage = \"/i.sif\"\nprelude = \"id\"\n");
    let config = scratch.path("config.toml");
    let chmod = |mode| {
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    let mut refusals = vec![
        (
            0o664,
            0,
            "writable by its group, who could make you run code on every tagged host; chmod go-w it",
        ),
        (
            0o646,
            0,
            "writable by anyone, who could make you run code on every tagged host; chmod go-w it",
        ),
    ];
    if is_root() {
        // Owned by another user: root may hand the file to nobody.
        refusals.push((0o644, 65534, "owned by uid 65534, not by you (uid 0) or root, so its code would run as you; chown it to yourself"));
    }
    for (mode, owner, why) in refusals {
        chmod(mode);
        if is_root() {
            std::os::unix::fs::chown(&config, Some(owner), None).unwrap();
        }
        let out = run(cssh_with_fake(&scratch).args(["h", "id"]));
        assert_eq!(out.status.code(), Some(255), "{mode:o}: {}", describe(&out));
        assert_eq!(
            text(&out.stderr),
            format!("cssh: {}: {why}\n", config.display()),
            "{mode:o}"
        );
        assert!(!scratch.path("argv").exists(), "ssh must not run");
    }
    if is_root() {
        std::os::unix::fs::chown(&config, Some(0), None).unwrap();
    }
    chmod(0o600);
    let out = run(cssh_with_fake(&scratch).args(["h", "id"]));
    assert!(out.status.success(), "{}", describe(&out));
}

/// What only Rust's debug formatting would show a person: `Some(`, `Path(`, or a CamelCase
/// word (letters only, as Rust names its variants) that is not one of ssh's own keywords.
fn debug_text(shown: &str) -> Option<&str> {
    const SSH_WORDS: &[&str] = &[
        "RemoteCommand",
        "SessionType",
        "ControlMaster",
        "ControlPath",
        "ControlPersist",
        "ProxyCommand",
        "ProxyJump",
        "ClearAllForwardings",
        "PermitLocalCommand",
    ];
    let is_camel = |word: &&str| {
        let mut chars = word.chars();
        chars.next().is_some_and(|c| c.is_ascii_uppercase())
            && chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && word.chars().filter(char::is_ascii_uppercase).count() >= 2
            && word.chars().all(|c| c.is_ascii_alphabetic())
            && !SSH_WORDS.contains(word)
    };
    // The exec'd command line carries the encoded script, whose words are noise here.
    let prose = || shown.lines().filter(|line| !line.starts_with("exec: "));
    ["Some(", "Path("]
        .into_iter()
        .find(|debug| prose().any(|line| line.contains(debug)))
        .or_else(|| {
            prose()
                .flat_map(|line| line.split(|c: char| !c.is_ascii_alphanumeric()))
                .find(is_camel)
        })
}

#[test]
fn what_a_person_reads_is_never_debug_text() {
    assert_eq!(debug_text("(IllegalOption(106))"), Some("IllegalOption"));
    assert_eq!(debug_text("image = Some(Path(\"/i.sif\"))"), Some("Some("));
    assert_eq!(debug_text("-o RemoteCommand cannot be combined"), None);
    let scratch = Scratch::new(
        "[[host]]\npattern = \"tagged\"\nimage = \"/i.sif\"\nruntime = \"apptainer\"\nbinds = [\"/a\"]\nenv = { A = \"1\" }\npersist = \"yes\"\n\n[[host]]\npattern = \"off\"\nimage = \"none\"\n",
    );
    let long = "x".repeat(100 * 1024);
    let cases: &[&[&str]] = &[
        &["--explain", "-j", "tagged"],
        &["--explain", "-p"],
        &["--explain", "-G", "tagged"],
        &["--explain", "tagged", "id"],
        &["--explain", "off", "id"],
        &["--explain", "--no-container", "tagged"],
        &["--explain", "--image", "/x.sif", "other"],
        &["--rsync-path", "-p"],
        &["--rsync-path", "off"],
        &["--rsync-path"],
        &["--sftp-server-command", "off"],
        &["--sftp-server-command", "-p"],
        &["--release", "tagged"],
        &["--release", "tagged", "id"],
        &["--release"],
        &["--frob"],
        &["--config"],
        &["--help", "--version"],
        &["--dry-run", "--explain", "h"],
        &["--image", "/x", "--no-container", "h"],
        &["--", "h;x", "id"],
        &["-o", "RemoteCommand=x", "tagged"],
        &["tagged", &long],
    ];
    for args in cases {
        let out = run(cssh_with_fake(&scratch).args(*args));
        let shown = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert_eq!(debug_text(&shown), None, "{args:?}:\n{shown}");
    }
    // Configuration errors, and an explain of a missing default configuration.
    for config in [
        "[[host]]\npattern = 3\n",
        "[[host]]\nimage = \"x\"\n",
        "[[host]]\npattern = \"a\"\nbinds = \"x\"\n",
        "[[host]]\npattern = \"a\"\nenv = [1]\n",
        "[[host]]\npattern = \"a\"\npersist = true\n",
        "[host]\npattern = \"a\"\n",
        "x = \n",
    ] {
        let bad = Scratch::new(config);
        let out = run(cssh_with_fake(&bad).args(["a", "id"]));
        assert_eq!(out.status.code(), Some(255), "{config}");
        assert_eq!(
            debug_text(&text(&out.stderr)),
            None,
            "{}",
            text(&out.stderr)
        );
    }
    let home = Scratch::new("");
    let out = run(Command::new(CSSH)
        .env_remove("CSSH_CONFIG")
        .env("HOME", &home.dir)
        .env_remove("XDG_CONFIG_HOME")
        .args(["--explain", "h"]));
    assert_eq!(
        text(&out.stdout).lines().next(),
        Some(
            format!(
                "config: {}/.config/cssh/config.toml (not found: no host is tagged)",
                home.dir.display()
            )
            .as_str()
        )
    );
}
