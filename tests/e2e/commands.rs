//! Remote commands through cssh on the real test host: the right layer answers, every byte of
//! every argument arrives for every login shell, exit statuses and binary streams are ssh's.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use crate::harness::*;
use std::io::Read;

#[test]
fn commands_run_in_each_image_for_every_login_shell() {
    for image in [FULL_SIF, FULL_SANDBOX, SPACE_SIF] {
        let config = tagging(image, "");
        for alias in &host().aliases {
            let out = run(cssh(&config).args([alias, "cat", &host().image_marker]));
            assert_eq!(
                text(&out.stdout),
                FULL_MARKER,
                "{image} {alias}: {}",
                describe(&out)
            );
            assert_eq!(
                text(&out.stderr),
                "",
                "{image} {alias}: nothing but the command's output"
            );
        }
    }
}

#[test]
fn shell_names_the_shell_that_runs_in_the_image() {
    // GNU parallel, mosh-server and script start $SHELL: it must exist in the image. bashuser's
    // login shell does; tcshuser's, zshuser's and fishuser's are not in the image: bash stands in.
    let config = tagging(FULL_SIF, "");
    for alias in ["th-bash", "th-tcsh", "th-zsh", "th-fish"] {
        let out =
            run(cssh(&config).args([alias, "echo $SHELL; test -x \"$SHELL\" && echo present"]));
        assert_eq!(
            text(&out.stdout),
            "/bin/bash\npresent\n",
            "{alias}: {}",
            describe(&out)
        );
    }
    let configured = tagging(FULL_SIF, "shell = \"/bin/sh\"");
    let out = run(cssh(&configured).args(["th-tcsh", "echo $SHELL"]));
    assert_eq!(text(&out.stdout), "/bin/sh\n", "{}", describe(&out));
}

#[test]
fn an_untagged_alias_of_the_same_server_lands_on_the_host() {
    let config = tagging(FULL_SIF, "");
    let out = run(cssh(&config).args(["th-plain", "cat", &host().remote_marker]));
    assert_eq!(text(&out.stdout), REMOTE_MARKER, "{}", describe(&out));
    let out = run(cssh(&config).args(["th-plain", "cat", &host().image_marker]));
    assert!(
        !out.status.success() && out.stdout.is_empty(),
        "{}",
        describe(&out)
    );
    // And a tagged one does not see the host's marker.
    let out = run(cssh(&config).args(["th-bash", "cat", &host().remote_marker]));
    assert!(!out.status.success(), "{}", describe(&out));
}

/// Arguments that break naive quoting somewhere: in sh, in tcsh/csh (`!`, newlines), in fish
/// (`\\`, `\'`), in the runtime, or in the encoding.
pub fn corpus() -> Vec<Vec<u8>> {
    let mut words: Vec<Vec<u8>> = [
        "plain",
        "",
        " ",
        "two  spaces",
        "'",
        "\"",
        "it's",
        "\"dq\" 'sq'",
        "$HOME",
        "${x:-y}",
        "$(touch /tmp/cssh-canary)",
        "`id`",
        "!",
        "!!",
        "!x",
        "a!b",
        "\n",
        "line1\nline2",
        "trailing\n",
        "\ttab",
        "\\",
        "\\\\",
        "\\'",
        "a\\nb",
        "*",
        "?",
        "[a-z]*",
        "~",
        "~root",
        "-",
        "--",
        "-n",
        "-e",
        "--help",
        "#comment",
        ";",
        "&&",
        "|",
        ">out",
        "<in",
        "{a,b}",
        "%s",
        "%%",
        "=eq",
        "é ü 漢字 🚀",
        "\u{7f}",
        "\r\n",
        "end",
    ]
    .iter()
    .map(|w| w.as_bytes().to_vec())
    .collect();
    words.push(vec![0xff, 0xfe, b'x', 0x80]);
    words.push((1u8..=255).filter(|b| *b != b'\n').collect());
    words
}

pub fn printf_command(words: &[Vec<u8>]) -> Vec<u8> {
    let mut command = b"printf '%s\\0'".to_vec();
    for word in words {
        command.push(b' ');
        command.extend_from_slice(&cssh::quote::sh(word));
    }
    command
}

pub fn expected_output(words: &[Vec<u8>]) -> Vec<u8> {
    words
        .iter()
        .flat_map(|w| w.iter().copied().chain([0]))
        .collect()
}

#[test]
fn argument_corpus_round_trips_for_every_login_shell() {
    let config = tagging(FULL_SIF, "");
    let words = corpus();
    let command = OsString::from_vec(printf_command(&words));
    for alias in &host().aliases {
        let out = run(cssh(&config).arg(alias).arg(&command));
        assert!(out.status.success(), "{alias}: {}", describe(&out));
        assert_eq!(
            out.stdout,
            expected_output(&words),
            "{alias}: stderr {}",
            text(&out.stderr)
        );
    }
    assert!(
        !host().root.join("tmp/cssh-canary").exists(),
        "no argument may run as code"
    );
}

#[test]
fn words_are_joined_with_spaces_as_ssh_joins_them() {
    // `ssh host printf '%s|' "a  b" c` sends "printf %s| a  b c": the remote shell splits it again.
    let config = tagging(FULL_SIF, "");
    let words = ["printf", "'%s|'", "a  b", "c", "\"d  e\""];
    let plain = run(cssh(&config).arg("th-plain").args(words));
    assert_eq!(text(&plain.stdout), "a|b|c|d  e|", "{}", describe(&plain));
    for alias in &host().aliases {
        let out = run(cssh(&config).arg(alias).args(words));
        assert_eq!(out.stdout, plain.stdout, "{alias}: {}", describe(&out));
    }
    // The same words, byte for byte, as separate arguments of a printf '%s\0' command.
    let corpus = corpus();
    let mut args: Vec<OsString> = vec!["th-tcsh".into(), "printf".into(), "'%s\\0'".into()];
    args.extend(
        corpus
            .iter()
            .map(|w| OsString::from_vec(cssh::quote::sh(w).into_owned())),
    );
    let out = run(cssh(&config).args(&args));
    assert_eq!(out.stdout, expected_output(&corpus), "{}", describe(&out));
}

#[test]
fn exit_statuses_are_the_commands() {
    statuses_are_the_commands(&tagging(FULL_SIF, ""), &[0, 1, 42, 255]);
}

/// `exit N` in the image, as each of the bash, tcsh and fish users, exits N with nothing on
/// stderr.
pub fn statuses_are_the_commands(config: &Scratch, statuses: &[i32]) {
    for alias in ["th-bash", "th-tcsh", "th-fish"] {
        for status in statuses {
            let out = run(cssh(config).args([alias, &format!("exit {status}")]));
            assert_eq!(
                (out.status.code(), said(&out.stderr)),
                (Some(*status), String::new()),
                "{alias}: {}",
                describe(&out)
            );
        }
    }
}

#[test]
fn binary_stdin_and_stdout_are_clean() {
    binary_round_trips(&tagging(FULL_SIF, ""), &["th-bash", "th-fish"], 100);
}

/// `mib` MiB of random bytes through `cat` in the image, as each alias, come back unchanged.
pub fn binary_round_trips(config: &Scratch, aliases: &[&str], mib: u64) {
    let input = config.path("in.bin");
    let output = config.path("out.bin");
    let random = std::fs::File::open("/dev/urandom").unwrap();
    let mut data = Vec::new();
    random.take(mib << 20).read_to_end(&mut data).unwrap();
    std::fs::write(&input, &data).unwrap();
    for alias in aliases {
        let status = cssh(config)
            .args([alias, "cat"])
            .stdin(std::fs::File::open(&input).unwrap())
            .stdout(std::fs::File::create(&output).unwrap())
            .status()
            .unwrap();
        assert!(status.success(), "{alias}");
        assert!(
            std::fs::read(&output).unwrap() == data,
            "{alias}: {mib} MiB must come back unchanged"
        );
    }
}

#[test]
fn stdin_reaches_the_command_and_its_end_is_seen() {
    let config = tagging(FULL_SIF, "");
    let out = run_with_input(cssh(&config).args(["th-csh", "wc", "-c"]), &[0u8; 12345]);
    assert_eq!(text(&out.stdout).trim(), "12345");
}

#[test]
fn an_invalid_utf8_argument_survives() {
    let config = tagging(FULL_SIF, "");
    let word = OsString::from_vec(vec![b'a', 0xc3, 0x28, 0xff, b'z']);
    let mut command = b"printf %s ".to_vec();
    command.extend_from_slice(&cssh::quote::sh(word.as_bytes()));
    let out = run(cssh(&config).arg("th-zsh").arg(OsString::from_vec(command)));
    assert_eq!(out.stdout, word.as_bytes(), "{}", describe(&out));
}

#[test]
fn proxy_jump_and_image_override_keep_working() {
    let config = tagging(FULL_SIF, "");
    // Through an untagged jump host to a tagged one: the jump is plain ssh (-W), the target runs
    // in its container.
    let out = run(cssh(&config).args(["-J", "th-plain", "th-bash", "cat", &host().image_marker]));
    assert_eq!(text(&out.stdout), FULL_MARKER, "{}", describe(&out));
    // cssh's own options come first: --image tags an untagged host for one call, and
    // --no-container untags a tagged one.
    let own = |own: &[&str], rest: &[&str]| {
        let mut command = std::process::Command::new(CSSH);
        command
            .env("CSSH_CONFIG", config.path("config.toml"))
            .args(own)
            .arg("-F")
            .arg(&host().ssh_config)
            .args(rest);
        run(&mut command)
    };
    let out = own(
        &["--image", FULL_SANDBOX],
        &["th-plain", "cat", &host().image_marker],
    );
    assert_eq!(text(&out.stdout), FULL_MARKER, "{}", describe(&out));
    let out = own(
        &["--no-container"],
        &["th-bash", "cat", &host().remote_marker],
    );
    assert_eq!(text(&out.stdout), REMOTE_MARKER, "{}", describe(&out));
}

#[test]
fn a_long_command_reaches_every_login_shell() {
    // csh refuses words over a few KiB ("Word too long."): the encoded script travels in
    // short words. 60 KB of argument is half of what the remote kernel takes in one command.
    // 36 KB of characters that travel as escapes, 4 bytes each, are too many for one
    // command: that script travels in base64.
    let config = tagging(FULL_SIF, "");
    for word in ["x".repeat(60_000), "!%\\".repeat(12_000)] {
        for alias in &host().aliases {
            let out = run(cssh(&config).args([alias, "printf", "%s", &format!("'{word}'")]));
            assert!(
                out.stdout == word.as_bytes(),
                "{alias}: {} bytes back; {}",
                out.stdout.len(),
                text(&out.stderr)
            );
        }
    }
}
