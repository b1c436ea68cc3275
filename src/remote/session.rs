//! What runs inside the container and with what: the session's variables the runtime would
//! drop and the configured ones, the shell a session runs (the configured one, else the login
//! shell, bash, sh), and the command, login shell, sftp-server or transfer tool the payload is,
//! each checked for where the image may lack it. This mirrors ssh's own session: the command
//! string exactly as ssh would send it, run by a `sh -c` of the image's.

use super::join;
use super::runtime::{drops_environment, keeps_session_files_out};
use super::script::Script;
use super::target::{Job, Payload, Place, SFTP_SERVER_PATHS, Scheduler, Target};
use super::values;
use crate::quote::{printf_format, sh};
use crate::settings::ForwardEnv;

/// Programs that file-transfer clients run as a remote command, and what a user should know
/// when the image lacks them.
pub(super) const TOOLS: &[(&str, &str)] = &[
    (
        "scp",
        "no scp in {image} (scp -O runs the image's scp; without -O scp uses its sftp-server)",
    ),
    ("rsync", "no rsync in {image}"),
    ("git-upload-pack", "no git in {image}"),
    ("git-receive-pack", "no git in {image}"),
    ("git-upload-archive", "no git in {image}"),
];

/// Whether a command is a file-transfer client's server side (`scp -t`, `rsync --server`, git).
pub fn is_transfer(command: &[u8]) -> bool {
    tool_of(command).is_some()
}

/// The transfer tool a command starts with, if any (`rsync --server ...`, `scp -t ...`).
pub(super) fn tool_of(command: &[u8]) -> Option<(&'static str, &'static str)> {
    let first = command
        .split(u8::is_ascii_whitespace)
        .find(|w| !w.is_empty())?;
    let name = first.rsplit(|&b| b == b'/').next()?;
    TOOLS
        .iter()
        .copied()
        .find(|(tool, _)| tool.as_bytes() == name)
}

/// What ssh set up for the session: each is passed into the container by `env` where the
/// session has it, so it survives `--cleanenv` and `--containall` (sshd's own, the terminal,
/// the locale, the agent and X11).
pub(super) const SESSION_VARIABLES: &[&str] = &[
    "SSH_CONNECTION",
    "SSH_CLIENT",
    "SSH_TTY",
    "SSH_AUTH_SOCK",
    "DISPLAY",
    "XAUTHORITY",
    "TERM",
    "COLORTERM",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "LC_NUMERIC",
    "LC_TIME",
    "LC_COLLATE",
    "LC_MONETARY",
    "LC_MESSAGES",
    "LC_PAPER",
    "LC_NAME",
    "LC_ADDRESS",
    "LC_TELEPHONE",
    "LC_MEASUREMENT",
    "LC_IDENTIFICATION",
];

/// The session's variables that come into the container, as `forward_env` says.
pub(super) fn forwarded<'a>(target: &Target<'a>) -> Vec<&'a str> {
    match &target.settings.forward_env {
        None | Some(ForwardEnv::Session) => SESSION_VARIABLES
            .iter()
            .copied()
            .chain(
                target
                    .sent
                    .iter()
                    .map(String::as_str)
                    .filter(|name| !SESSION_VARIABLES.contains(name)),
            )
            .collect(),
        Some(ForwardEnv::Off) => Vec::new(),
        Some(ForwardEnv::Only(names)) => names.iter().map(String::as_str).collect(),
    }
}

/// The session's variables where the runtime would drop them, set by `env` inside the image.
/// The configured ones are not words here: they come in `CSSH_VALUES` (see `values`), which the
/// image's sh evaluates after these.
pub(super) fn environment(s: &mut Script, target: &Target) {
    let forwarded = if drops_environment(target.settings) {
        forwarded(target)
    } else {
        Vec::new()
    };
    let xauthority = SessionBinds::of(target).xauthority;
    if forwarded.is_empty() && !xauthority {
        return;
    }
    s.raw(" env");
    for name in forwarded {
        s.raw(&format!(" ${{{name}+\"{name}=${name}\"}}"));
    }
    if xauthority {
        s.raw(&format!(" ${{cssh_xauth:+XAUTHORITY={XAUTHORITY_INSIDE}}}"));
    }
}

/// `/bin/sh -c '...'` inside the image: the user's command, a login shell, sftp-server, or a
/// program with the script's own arguments, each checked for first where the image may lack it.
pub(super) fn payload_command(s: &mut Script, target: &Target, payload: Payload) {
    let inner = Inner::of(target, payload);
    s.raw(" /bin/sh -c");
    s.word(&inner.snippet);
    inner.arguments(s);
}

/// What the image's `/bin/sh -c` runs for a payload: its code, and the arguments that follow it.
pub(super) struct Inner {
    pub(super) snippet: Vec<u8>,
    after: After,
}

/// The arguments after the snippet's `$0`.
pub(super) enum After {
    Nothing,
    /// One word: the command.
    Word(Vec<u8>),
    /// The script's own arguments, `"$@"`: what follows it on the remote command line.
    ScriptArguments,
    /// One word: the value of this variable of the script's.
    Variable(&'static str),
}

impl Inner {
    pub(super) fn of(target: &Target, payload: Payload) -> Inner {
        let mut inner = Inner::payload(target, payload);
        let instance = target.settings.instance.is_some()
            || matches!(
                target.place,
                Place::Job(Job::Attached(Scheduler::Slurm, _), _)
            );
        if values::carries_env(target) {
            inner.snippet.splice(0..0, values::INSIDE.iter().copied());
        }
        if instance {
            inner.snippet.splice(0..0, join::ENTERED.iter().copied());
        }
        inner
    }

    /// What runs `payload`, with the prompt the user's startup files give an interactive
    /// shell, whoever starts it (a login shell, mosh-server, tmux, `bash -i`).
    pub(super) fn payload(target: &Target, payload: Payload) -> Inner {
        let mut inner = Inner::bare(target, payload);
        inner.snippet.splice(0..0, OWN_PROMPT.iter().copied());
        inner
    }

    fn bare(target: &Target, payload: Payload) -> Inner {
        let check = |tool: &str, message: &str| -> Vec<u8> {
            let mut check = Script::default();
            check.raw("command -v");
            check.word(tool.as_bytes());
            check.raw(" >/dev/null 2>&1 ||");
            check.fail(&target.say(&message.replace("{image}", target.image)));
            check.text
        };
        let only = |snippet: Vec<u8>| Inner {
            snippet,
            after: After::Nothing,
        };
        match payload {
            Payload::Command(command) => {
                // The command gets a `/bin/sh -c` of its own, after SHELL is set and the transfer
                // tool it starts, if any, is checked for.
                let mut snippet = shell_choice(target);
                snippet.extend_from_slice(b"SHELL=$cssh_p; export SHELL; ");
                if let Some((tool, message)) = tool_of(command) {
                    snippet.extend(check(tool, message));
                }
                if std::str::from_utf8(command).is_ok() {
                    snippet.extend_from_slice(b"exec /bin/sh -c \"$1\"");
                    Inner {
                        snippet,
                        after: After::Word(command.to_vec()),
                    }
                } else {
                    // Apptainer hands the container's argv to its starter as JSON, which turns
                    // invalid UTF-8 into U+FFFD. Such a command travels as a printf format of
                    // ASCII escapes, decoded by the image's sh (the `x` keeps trailing newlines).
                    snippet.extend_from_slice(
                        b"cssh_c=$(printf \"$1\"; echo x); exec /bin/sh -c \"${cssh_c%x}\"",
                    );
                    Inner {
                        snippet,
                        after: After::Word(printf_format(command, |b| {
                            (0x20..=0x7e).contains(&b) && b != b'%' && b != b'\\'
                        })),
                    }
                }
            }
            Payload::Arguments(program) => {
                let message = match tool_of(program.as_bytes()) {
                    Some((_, message)) => message.to_string(),
                    None => format!("no {program} in {{image}}"),
                };
                let mut snippet = check(program, &message);
                snippet.extend_from_slice(b"exec ");
                snippet.extend_from_slice(&sh(program.as_bytes()));
                snippet.extend_from_slice(b" \"$@\"");
                Inner {
                    snippet,
                    after: After::ScriptArguments,
                }
            }
            Payload::Client => {
                // `$1` is the client's request: `s` a login shell, `f` sftp, `c` and a command, or
                // `p` and a command as a printf format (see [`Payload::Command`]).
                let mut snippet = b"case $1 in s) ".to_vec();
                snippet.extend(Inner::bare(target, Payload::Shell).snippet);
                snippet.extend_from_slice(b" ;; f) ");
                snippet.extend(Inner::bare(target, Payload::Sftp).snippet);
                snippet.extend_from_slice(b" ;; esac; ");
                snippet.extend(shell_choice(target));
                snippet.extend_from_slice(b"SHELL=$cssh_p; export SHELL; case $1 in p*) cssh_c=$(printf \"${1#p}\"; echo x); exec /bin/sh -c \"${cssh_c%x}\" ;; esac; exec /bin/sh -c \"${1#c}\"");
                Inner {
                    snippet,
                    after: After::Variable("cssh_oc"),
                }
            }
            Payload::Shell => {
                let mut snippet = shell_choice(target);
                snippet.extend_from_slice(
                    b"if [ -x \"$cssh_p\" ]; then SHELL=$cssh_p; export SHELL; exec \"$cssh_p\" -l; fi;",
                );
                let tried = shells(target).join(", ");
                let mut failure = Script::default();
                failure.fail(&target.say(&format!(
                    "no shell to run in {} (tried {tried})",
                    target.image
                )));
                snippet.extend_from_slice(failure.text.trim_ascii_end());
                only(snippet)
            }
            Payload::Sftp => {
                let (candidates, what) = match &target.settings.sftp_server {
                    Some(path) => (
                        vec![path.as_str()],
                        format!(
                            "no {path} in {} (sftp_server in {}:{}; or use scp -O)",
                            target.image, target.config_file, target.settings.lines.sftp_server
                        ),
                    ),
                    None => (
                        SFTP_SERVER_PATHS.to_vec(),
                        format!(
                            "no sftp-server in {} (set sftp_server in {}, or use scp -O)",
                            target.image, target.config_file
                        ),
                    ),
                };
                only(first_executable(&candidates, &target.say(&what)))
            }
        }
    }

    /// ` sh` and the arguments, after the snippet: `$0`, then `$1...` as the snippet reads them.
    pub(super) fn arguments(&self, s: &mut Script) {
        self.word_argument(s);
        if let After::ScriptArguments = self.after {
            s.raw(" \"$@\"");
        }
    }

    /// Whether the snippet reads the script's own arguments.
    pub(super) fn takes_script_arguments(&self) -> bool {
        matches!(self.after, After::ScriptArguments)
    }

    /// ` sh` and the command word, where the payload has one: for a caller that appends the
    /// script's own arguments itself.
    pub(super) fn word_argument(&self, s: &mut Script) {
        s.raw(" sh");
        match &self.after {
            After::Word(word) => s.word(word),
            After::Variable(name) => s.raw(&format!(" \"${name}\"")),
            After::Nothing | After::ScriptArguments => {}
        }
    }
}

/// Before the payload: Apptainer's `PROMPT_COMMAND`, which sets an interactive shell's `PS1` after
/// the startup files (to the image's, else `Apptainer> `), goes, and so does the runtime's own
/// `Apptainer> `, so the prompt is what the user's and the image's startup files make it, as on
/// the host. An image's own `PS1` stays, as a host's profile's does.
pub(super) const OWN_PROMPT: &[u8] = b"case ${PROMPT_COMMAND-} in 'PS1=\"'*'\"; unset PROMPT_COMMAND') unset PROMPT_COMMAND ;; *'; PROMPT_COMMAND=\"${PROMPT_COMMAND%%; PROMPT_COMMAND=*}\"; PS1=\"'*) PROMPT_COMMAND=${PROMPT_COMMAND%%; PROMPT_COMMAND=*} ;; esac; case ${PS1-} in 'Apptainer> '|'Singularity> ') unset PS1 ;; esac; ";

/// The shells a session may run in the image, in order: the configured one, then the login
/// shell (`$SHELL`, expanded inside the container), `/bin/bash`, `/bin/sh`.
pub(super) fn shells<'a>(target: &Target<'a>) -> Vec<&'a str> {
    let mut shells: Vec<&str> = target.settings.shell.iter().map(String::as_str).collect();
    shells.extend(["$SHELL", "/bin/bash", "/bin/sh"]);
    shells
}

/// `cssh_p`, the first executable of [`shells`] (else the last), for the image's `/bin/sh`. The
/// shell that runs there is also the container's `SHELL`, which programs (GNU parallel,
/// mosh-server, script) start, so a configured one the image lacks is said in one line, with
/// the shell that runs instead, and passed over, as a login shell the image lacks is.
pub(super) fn shell_choice(target: &Target) -> Vec<u8> {
    let mut s = Script::default();
    s.raw("for cssh_p in");
    for shell in shells(target) {
        if shell == "$SHELL" {
            s.raw(" \"$SHELL\"");
        } else {
            s.word(shell.as_bytes());
        }
    }
    s.raw("; do [ -x \"$cssh_p\" ] && break; done; ");
    if let Some(shell) = &target.settings.shell {
        s.raw("[ -x");
        s.word(shell.as_bytes());
        s.raw(" ] || printf '%s%s%s\\n'");
        s.word(
            target
                .say(&format!(
                    "no {shell} in {} (shell in {}:{}): ",
                    target.image, target.config_file, target.settings.lines.shell
                ))
                .as_bytes(),
        );
        s.raw(" \"$cssh_p\" ' runs instead' >&2; ");
    }
    s.text
}

/// A snippet for the image's `/bin/sh`: exec the first executable candidate, else fail.
pub(super) fn first_executable(candidates: &[&str], failure: &str) -> Vec<u8> {
    let mut s = Script::default();
    s.raw("for cssh_p in");
    for candidate in candidates {
        s.word(candidate.as_bytes());
    }
    s.raw("; do if [ -x \"$cssh_p\" ]; then exec \"$cssh_p\"; fi; done;");
    s.fail(failure);
    s.text.trim_ascii_end().to_vec()
}

/// Where the X11 cookie file is bound in a container that keeps the home directory out.
pub(super) const XAUTHORITY_INSIDE: &str = "/tmp/.cssh-Xauthority";

/// What of the session's files a container needs bound in because its options keep the host's
/// /tmp and home directory out (`--contain`, `--containall`): the agent's socket and
/// the X11 cookie file, each where the session forwards it. An instance's binds are fixed when
/// it starts, and a Slurm step runs elsewhere: neither gets them.
pub(super) struct SessionBinds {
    pub(super) agent: bool,
    pub(super) xauthority: bool,
}

impl SessionBinds {
    pub(super) fn of(target: &Target) -> SessionBinds {
        let contained = keeps_session_files_out(target.settings)
            && target.place == Place::Here
            && target.settings.instance.is_none();
        let forwarded = forwarded(target);
        SessionBinds {
            agent: contained && forwarded.contains(&"SSH_AUTH_SOCK"),
            xauthority: contained && forwarded.contains(&"DISPLAY"),
        }
    }
}
