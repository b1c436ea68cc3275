//! Interactive logins through a real pty, shells without a terminal, and the sftp subsystem.

use std::process::Command;

use crate::harness::*;

pub fn interactive_command(config: &Scratch, alias: &str) -> String {
    let q = |s: &str| String::from_utf8(cssh::quote::sh(s.as_bytes()).into_owned()).unwrap();
    format!(
        "env CSSH_CONFIG={} {} -F {} {alias}; echo CSSH-EXITED-$?; sleep 60",
        q(&config.path("config.toml").display().to_string()),
        q(CSSH),
        q(&host().ssh_config.display().to_string())
    )
}

#[test]
fn an_interactive_login_gets_a_pty_inside_the_image() {
    for alias in ["th-bash", "th-fish"] {
        let config = tagging(FULL_SIF, "");
        let tmux = Tmux::start(&interactive_command(&config, alias));
        tmux.wait_for_prompt();
        // `end-42` shows only once the commands ran, not while they are echoed.
        tmux.keys(&format!(
            "cat {}; tty; echo \"shell=$0\"; shopt -q login_shell && echo login-shell; echo end-$((6*7))",
            host().image_marker
        ));
        let screen = tmux.wait_for("end-42");
        assert!(screen.contains(FULL_MARKER.trim_end()), "{alias}: {screen}");
        assert!(screen.contains("/dev/pts/"), "{alias}: a pty: {screen}");
        // fishuser's own shell is not in the image: bash, the next choice, answers.
        assert!(
            screen.contains("shell=/bin/bash\nlogin-shell\n"),
            "{alias}: a login bash: {screen}"
        );
        tmux.keys("exit 3");
        tmux.wait_for("CSSH-EXITED-3");
    }
}

/// A file of the test host put back as it was when this is dropped, passed or failed.
struct Restored {
    path: std::path::PathBuf,
    was: Vec<u8>,
}

impl Drop for Restored {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.path, &self.was);
    }
}

#[test]
fn the_prompt_is_the_startup_files_not_apptainers() {
    // zshuser's zsh is not in the image: bash, the next choice, reads their ~/.bashrc. The
    // image's /etc/bash.bashrc sets Debian's prompt, as the host's does; a PS1 of their own
    // ~/.bashrc wins over it, as on the host.
    let config = tagging(FULL_SIF, "");
    let path = host().root.join("home/zshuser/.bashrc");
    let bashrc = Restored {
        was: std::fs::read(&path).unwrap(),
        path,
    };
    for (own, prompt) in [(false, "zshuser@th-remote:~$ "), (true, "own-prompt> ")] {
        if own {
            let mut text = bashrc.was.clone();
            text.extend_from_slice(b"PS1='own-prompt> '\n");
            std::fs::write(&bashrc.path, text).unwrap();
        }
        let tmux = Tmux::start(&interactive_command(&config, "th-zsh"));
        let screen = tmux.wait_for(prompt);
        assert!(!screen.contains("Apptainer>"), "{screen}");
        tmux.keys("exit");
        tmux.wait_for("CSSH-EXITED-0");
    }
}

#[test]
fn a_configured_shell_is_used() {
    let config = tagging(FULL_SIF, "shell = \"/bin/sh\"");
    let tmux = Tmux::start(&interactive_command(&config, "th-zsh"));
    tmux.wait_for_prompt();
    tmux.keys("echo \"shell=$0\"; cat /etc/cssh-image-marker; echo end-$((6*7))");
    let screen = tmux.wait_for("end-42");
    assert!(screen.contains("shell=/bin/sh\n"), "{screen}");
    tmux.keys("exit");
    tmux.wait_for("CSSH-EXITED-0");
}

#[test]
fn without_a_terminal_the_containers_shell_reads_stdin() {
    let config = tagging(FULL_SIF, "");
    for alias in ["th-bash", "th-tcsh"] {
        let input = format!("cat {}\nexit 5\n", host().image_marker);
        let out = run_with_input(cssh(&config).arg(alias), input.as_bytes());
        assert_eq!(
            text(&out.stdout),
            FULL_MARKER,
            "{alias}: {}",
            describe(&out)
        );
        assert_eq!(out.status.code(), Some(5));
        assert_eq!(text(&out.stderr), "", "{alias}: {}", describe(&out));
    }
}

fn sftp(config: &Scratch, alias: &str, batch: &str) -> std::process::Output {
    run_with_input(
        Command::new("sftp")
            .env("CSSH_CONFIG", config.path("config.toml"))
            .args(["-S", CSSH, "-F"])
            .arg(&host().ssh_config)
            .args(["-b", "-", alias])
            .current_dir(&config.dir),
        batch.as_bytes(),
    )
}

#[test]
fn the_sftp_subsystem_is_served_from_the_image() {
    let config = tagging(FULL_SIF, "");
    for alias in ["th-bash", "th-tcsh", "th-fish"] {
        let out = sftp(
            &config,
            alias,
            &format!("get {} got\n", host().image_marker),
        );
        assert!(out.status.success(), "{alias}: {}", describe(&out));
        assert_eq!(
            std::fs::read_to_string(config.path("got")).unwrap(),
            FULL_MARKER
        );
        std::fs::remove_file(config.path("got")).unwrap();
    }
}

#[test]
fn an_image_without_sftp_server_says_so() {
    let config = tagging(BARE_SIF, "");
    let out = sftp(&config, "th-bash", "ls\n");
    assert!(!out.status.success());
    let expected = format!(
        "cssh: th-bash: no sftp-server in {BARE_SIF} (set sftp_server in {}, or use scp -O)",
        config.path("config.toml").display()
    );
    assert!(text(&out.stderr).contains(&expected), "{}", describe(&out));
    // A configured one the image lacks is named, with where it is configured.
    let config = tagging(FULL_SIF, "sftp_server = \"/nope/sftp-server\"");
    let out = sftp(&config, "th-tcsh", "ls\n");
    assert!(!out.status.success());
    let expected = format!(
        "cssh: th-tcsh: no /nope/sftp-server in {FULL_SIF} (sftp_server in {}:4; or use scp -O)",
        config.path("config.toml").display()
    );
    assert!(text(&out.stderr).contains(&expected), "{}", describe(&out));
}
