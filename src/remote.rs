//! The script that runs on the remote host, in the same ssh session as the user's command (never
//! an extra round trip): prelude, runtime lookup, image check, instance start, then `exec` of
//! the runtime with the user's command, shell or sftp-server inside the image.
//!
//! The script is POSIX sh and runs under the remote's `/bin/sh`; see `quote` for how it gets
//! past the login shell. Everything it writes before the `exec` goes to stderr, so stdout
//! carries only what the command inside the container writes (scp, rsync and sftp rely on it).
//! Failures to find a piece on the remote exit with [`MISSING_ON_REMOTE`] after one `cssh:` line.

pub mod attach;
mod join;
pub mod probe;
pub mod slurm;

use crate::quote::{printf_format, sh};
use crate::settings::{Attach, ForwardEnv, Runtime, Settings};
use slurm::Allocation;

/// Exit status when the runtime, the image, a shell or sftp-server is missing on the remote:
/// 127, the shell's "command not found".
pub const MISSING_ON_REMOTE: u8 = 127;

/// Where the OpenSSH packages of the common distributions install sftp-server.
pub const SFTP_SERVER_PATHS: &[&str] = &[
    "/usr/lib/openssh/sftp-server",
    "/usr/libexec/openssh/sftp-server",
    "/usr/lib/ssh/sftp-server",
    "/usr/libexec/sftp-server",
    "/usr/lib/sftp-server",
];

/// What runs inside the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload<'a> {
    /// The command string exactly as ssh would have sent it, run by the image's `/bin/sh -c`.
    Command(&'a [u8]),
    /// An interactive login shell.
    Shell,
    /// The image's sftp-server, for the `sftp` subsystem.
    Sftp,
    /// A program of the image with the arguments that follow the script on the remote command
    /// line, as the remote login shell split them: what `rsync --rsync-path` appends to.
    Arguments(&'a str),
}

/// Programs that file-transfer clients run as a remote command, and what a user should know
/// when the image lacks them.
const TOOLS: &[(&str, &str)] = &[
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
fn tool_of(command: &[u8]) -> Option<(&'static str, &'static str)> {
    let first = command
        .split(u8::is_ascii_whitespace)
        .find(|w| !w.is_empty())?;
    let name = first.rsplit(|&b| b == b'/').next()?;
    TOOLS
        .iter()
        .copied()
        .find(|(tool, _)| tool.as_bytes() == name)
}

/// The host and settings a script is written for.
pub struct Target<'a> {
    /// The host as the user typed it, for messages.
    pub host: &'a str,
    pub image: &'a str,
    pub settings: &'a Settings,
    /// Where a user would fix a missing runtime, for messages.
    pub config_file: &'a str,
    /// Where the session runs.
    pub place: Place,
    /// The variables ssh sends for the session besides [`SESSION_VARIABLES`] (SendEnv, SetEnv).
    pub sent: &'a [String],
}

/// Where a session runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// On the host ssh reaches.
    Here,
    /// As a step of the host's Slurm allocation, started from the login node.
    Step(Allocation),
    /// On the allocation's node, reached by ssh through the login node: the session joins the
    /// allocation's job.
    Node(Allocation),
    /// In a running job's own container, entered from a step of the job started from the login
    /// node.
    Attached(Attach),
    /// In a running job's own container, entered on the job's node, reached by ssh through the
    /// login node.
    AttachedNode(Attach),
}

impl Target<'_> {
    /// A message for the user about this host.
    fn say(&self, what: &str) -> String {
        format!("cssh: {}: {what}", self.host)
    }
}

/// Builds the script text: each step writes its part, in the order the remote runs them.
pub fn script(target: &Target, payload: Payload) -> Vec<u8> {
    let mut s = Script::default();
    prelude(&mut s, target);
    if let Place::Attached(job) | Place::AttachedNode(job) = &target.place {
        let inner = Inner::of(target, payload);
        attach::find_job(&mut s, target, job);
        if let Place::Attached(_) = target.place {
            attach::step(&mut s, target, job, &inner);
        } else {
            attach::enter(&mut s, target, job, &inner);
        }
        return s.text;
    }
    runtime_lookup(&mut s, target);
    image_check(&mut s, target);
    match &target.place {
        Place::Here | Place::Attached(_) | Place::AttachedNode(_) => {}
        Place::Step(allocation) => {
            slurm::allocation(&mut s, target, allocation, &batch_script(target));
        }
        Place::Node(allocation) => slurm::join(&mut s, allocation),
    }
    if let (Some(instance), Place::Here | Place::Node(_)) =
        (&target.settings.instance, &target.place)
    {
        // The command's words first, while the session's variables are as ssh left them.
        s.raw("set --");
        environment(&mut s, target);
        payload_command(&mut s, target, payload);
        s.raw("\n");
        join::enter(
            &mut s,
            &String::from_utf8_lossy(&sh(instance.as_bytes())),
            |s| {
                instance_start(s, target, instance);
            },
        );
    } else {
        launcher(&mut s, target);
        environment(&mut s, target);
        payload_command(&mut s, target, payload);
        s.raw("\n");
    }
    s.text
}

/// The script that finds or submits the host's Slurm allocation, waits for it and prints the
/// name of its first node, for a session that then reaches the node by ssh.
pub fn node_query_script(target: &Target, allocation: &Allocation) -> Vec<u8> {
    let mut s = Script::default();
    prelude(&mut s, target);
    runtime_lookup(&mut s, target);
    image_check(&mut s, target);
    slurm::allocation(&mut s, target, allocation, &batch_script(target));
    slurm::print_node(&mut s);
    s.text
}

/// The script that finds the running job a session attaches to and prints its node, for a
/// session that then reaches the node by ssh.
pub fn attached_node_query_script(target: &Target, job: &Attach) -> Vec<u8> {
    let mut s = Script::default();
    prelude(&mut s, target);
    attach::find_job(&mut s, target, job);
    attach::print_node(&mut s);
    s.text
}

/// The script that lists this user's running jobs on the host's cluster and whether their
/// containers can be entered.
pub fn attach_list_script(target: &Target) -> Vec<u8> {
    let mut s = Script::default();
    prelude(&mut s, target);
    attach::list(&mut s);
    s.text
}

/// The script that cancels the host's Slurm allocation.
pub fn release_script(target: &Target, allocation: &Allocation) -> Vec<u8> {
    let mut s = Script::default();
    prelude(&mut s, target);
    slurm::release(&mut s, target, allocation);
    s.text
}

/// The configured prelude, with stdin closed (the user's stdin is the command's) and its
/// output sent to stderr (stdout is the command's too).
fn prelude(s: &mut Script, target: &Target) {
    if let Some(prelude) = &target.settings.prelude {
        s.line(format!("{{ {prelude}\n}} </dev/null >&2").as_bytes());
    }
}

/// `$cssh_rt`: the first runtime candidate on PATH, or one line and exit 127.
fn runtime_lookup(s: &mut Script, target: &Target) {
    let (candidates, missing) = match target.settings.runtime.clone().unwrap_or(Runtime::Auto) {
        Runtime::Auto => (
            vec!["apptainer".to_string(), "singularity".to_string()],
            "neither apptainer nor singularity on PATH".to_string(),
        ),
        Runtime::Program(program) => (vec![program.clone()], format!("{program} not on PATH")),
    };
    s.raw("cssh_rt=\nfor cssh_c in");
    for candidate in &candidates {
        s.word(candidate.as_bytes());
    }
    s.raw("; do\n  if command -v \"$cssh_c\" >/dev/null 2>&1; then cssh_rt=$cssh_c; break; fi\ndone\n");
    s.raw("[ -n \"$cssh_rt\" ] ||");
    s.fail(&target.say(&format!(
        "{missing} (set prelude or runtime in {})",
        target.config_file
    )));
}

/// An image given as a path must exist; URIs (docker://, oras://, library://...) are the
/// runtime's to resolve.
fn image_check(s: &mut Script, target: &Target) {
    if target.image.contains("://") {
        return;
    }
    s.raw("[ -e");
    s.word(target.image.as_bytes());
    s.raw(" ] ||");
    s.fail(&target.say(&format!("image {} not found on the remote", target.image)));
}

/// The runtime's arguments that start a container of the image: options, binds, the image.
fn image_arguments(s: &mut Script, target: &Target) {
    let settings = target.settings;
    for option in settings.options.iter().flatten() {
        s.word(option.as_bytes());
    }
    for bind in settings.binds.iter().flatten() {
        s.raw(" --bind");
        s.word(bind.as_bytes());
    }
    s.word(target.image.as_bytes());
}

/// `exec "$cssh_rt" exec ...`: a new container of the image; on a Slurm host, as a step of the
/// allocation, which joins the configured instance on the node (started first if it does not
/// run). On the host itself an instance is entered by [`join::enter`].
fn launcher(s: &mut Script, target: &Target) {
    let binds = SessionBinds::of(target);
    if binds.agent {
        s.raw("cssh_agent=; [ -S \"${SSH_AUTH_SOCK-}\" ] && cssh_agent=${SSH_AUTH_SOCK%/*}\n");
    }
    if binds.xauthority {
        s.raw("cssh_xauth=; [ -n \"${DISPLAY-}\" ] && [ -f \"${XAUTHORITY:-$HOME/.Xauthority}\" ] && cssh_xauth=${XAUTHORITY:-$HOME/.Xauthority}\n");
    }
    let step = matches!(target.place, Place::Step(_));
    s.raw("exec");
    if step {
        slurm::step(s, None);
    }
    match &target.settings.instance {
        None => {
            s.raw(" \"$cssh_rt\" exec");
            if binds.agent {
                // --contain and --containall keep the host's /tmp out: the agent's socket
                // directory comes in, nothing else of /tmp.
                s.raw(" ${cssh_agent:+--bind} ${cssh_agent:+\"$cssh_agent\"}");
            }
            if binds.xauthority {
                // ... and the home directory: the X11 cookie file comes in, read-only.
                s.raw(&format!(
                    " ${{cssh_xauth:+--bind}} ${{cssh_xauth:+\"$cssh_xauth:{XAUTHORITY_INSIDE}:ro\"}}"
                ));
            }
            image_arguments(s, target);
        }
        Some(instance) => {
            // On the allocation's node, a small sh joins the instance, starting it first if it
            // does not run.
            let mut joiner = Script::default();
            joiner.raw("cssh_rt=$1; shift\n");
            join::enter(
                &mut joiner,
                &String::from_utf8_lossy(&sh(instance.as_bytes())),
                |j| instance_start(j, target, instance),
            );
            s.raw(" /bin/sh -c");
            s.word(&joiner.text);
            s.raw(" sh \"$cssh_rt\"");
        }
    }
}

/// Starts the instance unless it runs. Another session may be starting it at the same moment:
/// then this start fails and the instance shows up running within seconds, so a failed start
/// waits for it before saying why it failed.
fn instance_start(s: &mut Script, target: &Target, instance: &str) {
    instance_running(s, instance);
    if target.place != Place::Here {
        // The allocation's batch script starts the instance as the job starts: a second start
        // at the same moment can break both, so wait for it a while before starting one here.
        s.raw("cssh_tries=0\nuntil cssh_running || [ \"$cssh_tries\" -ge 15 ]; do cssh_tries=$((cssh_tries + 1)); sleep 1; done\n");
    }
    s.raw("if ! cssh_running && ! cssh_out=$(\"$cssh_rt\" -s instance start");
    image_arguments(s, target);
    s.word(instance.as_bytes());
    s.raw(" </dev/null 2>&1); then\n  cssh_tries=0\n  until cssh_running; do\n    cssh_tries=$((cssh_tries + 1))\n    [ \"$cssh_tries\" -le 10 ] ||");
    s.fail_with(
        &[
            Part::Text(&target.say(&format!(
                "could not start instance {instance} of {}: ",
                target.image
            ))),
            Part::Value("$(printf '%s\\n' \"$cssh_out\" | tail -n 1)"),
        ],
        MISSING_ON_REMOTE,
    );
    s.raw("    sleep 1\n  done\nfi\n");
}

/// Where the X11 cookie file is bound in a container that keeps the home directory out.
const XAUTHORITY_INSIDE: &str = "/tmp/.cssh-Xauthority";

/// What of the session's files a container needs bound in because its options keep the host's
/// /tmp and home directory out (`--contain`, `--containall`): the agent's socket directory and
/// the X11 cookie file, each where the session forwards it. An instance's binds are fixed when
/// it starts, and a Slurm step runs elsewhere: neither gets them.
struct SessionBinds {
    agent: bool,
    xauthority: bool,
}

impl SessionBinds {
    fn of(target: &Target) -> SessionBinds {
        let contained = has_option(target.settings, &["--contain", "-c", "--containall", "-C"])
            && target.place == Place::Here
            && target.settings.instance.is_none();
        let forwarded = forwarded(target);
        SessionBinds {
            agent: contained && forwarded.contains(&"SSH_AUTH_SOCK"),
            xauthority: contained && forwarded.contains(&"DISPLAY"),
        }
    }
}

/// `cssh_running`: whether the instance runs. The runtime's state file, whose first field is
/// the instance's pid, answers without starting the runtime (about 20 ms per command); without a
/// live one, `instance list` decides (and clears stale state). The pid comes from the file's
/// first bytes by `head`: the file is one line of several KiB, which sh's `read` takes one
/// byte per system call (about 4 ms).
fn instance_running(s: &mut Script, instance: &str) {
    let state = format!("{instance}/{instance}.json");
    s.raw("cssh_running() {\n  cssh_host=; read -r cssh_host </proc/sys/kernel/hostname 2>/dev/null\n");
    s.raw("  for cssh_state in \"$HOME/.apptainer/instances/app\" \"$HOME/.singularity/instances/sing\"; do\n");
    s.raw("    cssh_state=\"$cssh_state/$cssh_host/${USER:-$LOGNAME}/\"");
    s.quoted(state.as_bytes());
    s.raw("\n    [ -f \"$cssh_state\" ] || continue\n");
    s.raw("    cssh_pid=$(head -c 32 \"$cssh_state\" 2>/dev/null); cssh_pid=${cssh_pid#'{\"pid\":'}; cssh_pid=${cssh_pid%%,*}\n");
    s.raw("    case $cssh_pid in ''|*[!0-9]*) ;; *) kill -0 \"$cssh_pid\" 2>/dev/null && return 0 ;; esac\n  done\n");
    s.raw("  \"$cssh_rt\" instance list 2>/dev/null | awk -v");
    s.word(format!("n={instance}").as_bytes());
    s.raw(" 'NR > 1 && $1 == n { f = 1 } END { exit !f }'\n}\n");
}

/// The batch script of a Slurm allocation: it holds the allocation until its time limit, and
/// starts the configured instance first and stops it when the job ends (cancelled, released
/// or out of time), so the instance lives as long as the allocation: its processes leave the
/// job's process tree, which a cluster without cgroups ends alone. The runtime comes in
/// `CSSH_RT` (sbatch exports the submitting environment).
fn batch_script(target: &Target) -> Vec<u8> {
    let mut s = Script::default();
    let Some(instance) = &target.settings.instance else {
        s.raw("exec sleep 2147483647");
        return s.text;
    };
    s.raw("\"$CSSH_RT\" -s instance start");
    image_arguments(&mut s, target);
    s.word(instance.as_bytes());
    s.raw(" </dev/null >/dev/null 2>&1; trap");
    let mut stop = Script::default();
    stop.raw("\"$CSSH_RT\" -s instance stop");
    stop.word(instance.as_bytes());
    stop.raw(" >/dev/null 2>&1");
    s.word(&stop.text);
    s.raw(" EXIT; trap exit TERM HUP INT; sleep 2147483647 & wait");
    s.text
}

/// What ssh set up for the session: each is passed into the container by `env` where the
/// session has it, so it survives `--cleanenv` and `--containall` (sshd's own, the terminal,
/// the locale, the agent and X11).
const SESSION_VARIABLES: &[&str] = &[
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

/// Whether the configured runtime options include one of `flags`.
fn has_option(settings: &Settings, flags: &[&str]) -> bool {
    settings
        .options
        .iter()
        .flatten()
        .any(|option| flags.contains(&option.as_str()))
}

/// Whether the runtime options keep the host's environment out of the container.
pub fn drops_environment(settings: &Settings) -> bool {
    has_option(settings, &["--cleanenv", "-e", "--containall", "-C"])
}

/// The session's variables that come into the container, as `forward_env` says.
fn forwarded<'a>(target: &Target<'a>) -> Vec<&'a str> {
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

/// The session's variables where the runtime would drop them, then the configured ones, set by
/// `env` inside the image rather than the runtime's --env, whose values cannot hold a comma, or
/// APPTAINERENV_/SINGULARITYENV_, which depend on which runtime answers.
fn environment(s: &mut Script, target: &Target) {
    let forwarded = if drops_environment(target.settings) {
        forwarded(target)
    } else {
        Vec::new()
    };
    let configured = target.settings.env.as_deref().unwrap_or_default();
    let xauthority = SessionBinds::of(target).xauthority;
    if forwarded.is_empty() && configured.is_empty() && !xauthority {
        return;
    }
    s.raw(" env");
    for name in forwarded {
        s.raw(&format!(" ${{{name}+\"{name}=${name}\"}}"));
    }
    if xauthority {
        s.raw(&format!(" ${{cssh_xauth:+XAUTHORITY={XAUTHORITY_INSIDE}}}"));
    }
    for (key, value) in configured {
        s.word(format!("{key}={value}").as_bytes());
    }
}

/// `/bin/sh -c '...'` inside the image: the user's command, a login shell, sftp-server, or a
/// program with the script's own arguments, each checked for first where the image may lack it.
fn payload_command(s: &mut Script, target: &Target, payload: Payload) {
    let inner = Inner::of(target, payload);
    s.raw(" /bin/sh -c");
    s.word(&inner.snippet);
    inner.arguments(s);
}

/// What the image's `/bin/sh -c` runs for a payload: its code, and the arguments that follow it.
struct Inner {
    snippet: Vec<u8>,
    after: After,
}

/// The arguments after the snippet's `$0`.
enum After {
    Nothing,
    /// One word: the command.
    Word(Vec<u8>),
    /// The script's own arguments, `"$@"`: what follows it on the remote command line.
    ScriptArguments,
}

impl Inner {
    fn of(target: &Target, payload: Payload) -> Inner {
        let mut inner = Inner::payload(target, payload);
        let instance = target.settings.instance.is_some()
            || matches!(target.place, Place::Attached(_) | Place::AttachedNode(_));
        if instance {
            inner.snippet.splice(0..0, join::ENTERED.iter().copied());
        }
        inner
    }

    fn payload(target: &Target, payload: Payload) -> Inner {
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
                let mut snippet = shell_choice(target, b"; do [ -x \"$cssh_p\" ] && break; done; ");
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
            Payload::Shell => {
                let mut snippet = shell_choice(
                    target,
                    b"; do if [ -x \"$cssh_p\" ]; then SHELL=$cssh_p; export SHELL; exec \"$cssh_p\" -l; fi; done;",
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
                let candidates: Vec<&str> = match &target.settings.sftp_server {
                    Some(path) => vec![path],
                    None => SFTP_SERVER_PATHS.to_vec(),
                };
                let what = format!(
                    "no sftp-server in {} (set sftp_server in {}, or use scp -O)",
                    target.image, target.config_file
                );
                only(first_executable(&candidates, &target.say(&what)))
            }
        }
    }

    /// ` sh` and the arguments, after the snippet: `$0`, then `$1...` as the snippet reads them.
    fn arguments(&self, s: &mut Script) {
        self.word_argument(s);
        if let After::ScriptArguments = self.after {
            s.raw(" \"$@\"");
        }
    }

    /// ` sh` and the command word, where the payload has one: for a caller that appends the
    /// script's own arguments itself.
    fn word_argument(&self, s: &mut Script) {
        s.raw(" sh");
        if let After::Word(word) = &self.after {
            s.word(word);
        }
    }
}

/// The shells a session may run in the image, in order: the configured one, else the login
/// shell (`$SHELL`, expanded inside the container), `/bin/bash`, `/bin/sh`.
fn shells<'a>(target: &Target<'a>) -> Vec<&'a str> {
    match &target.settings.shell {
        Some(shell) => vec![shell],
        None => vec!["$SHELL", "/bin/bash", "/bin/sh"],
    }
}

/// `for cssh_p in SHELLS` and `body`: a loop over [`shells`], for the image's `/bin/sh`. The
/// shell that runs there is also the container's `SHELL`, which programs (GNU parallel,
/// mosh-server, script) start.
fn shell_choice(target: &Target, body: &[u8]) -> Vec<u8> {
    let mut s = Script::default();
    s.raw("for cssh_p in");
    for shell in shells(target) {
        if shell == "$SHELL" {
            s.raw(" \"$SHELL\"");
        } else {
            s.word(shell.as_bytes());
        }
    }
    s.text.extend_from_slice(body);
    s.text
}

/// A snippet for the image's `/bin/sh`: exec the first executable candidate, else fail.
fn first_executable(candidates: &[&str], failure: &str) -> Vec<u8> {
    let mut s = Script::default();
    s.raw("for cssh_p in");
    for candidate in candidates {
        s.word(candidate.as_bytes());
    }
    s.raw("; do if [ -x \"$cssh_p\" ]; then exec \"$cssh_p\"; fi; done;");
    s.fail(failure);
    s.text.trim_ascii_end().to_vec()
}

/// `cssh_stat PID`: `cssh_ppid` and `cssh_start` (fields 4 and 22 of /proc/PID/stat; the name,
/// field 2, may hold spaces and parentheses), or false where PID is gone. The start time tells a
/// process from a later one that got its pid.
fn proc_stat(s: &mut Script) {
    s.raw("cssh_stat() {\n  cssh_line=; read -r cssh_line 2>/dev/null <\"/proc/$1/stat\" || [ -n \"$cssh_line\" ] || return 1\n");
    s.raw("  set -- ${cssh_line##*\") \"}; cssh_ppid=$2; cssh_start=${20}\n}\n");
}

/// A piece of a message the script writes: text as it is, or the value of a shell expression.
#[derive(Clone, Copy)]
enum Part<'a> {
    Text(&'a str),
    Value(&'a str),
}

/// Script text under construction.
#[derive(Default)]
struct Script {
    text: Vec<u8>,
}

impl Script {
    fn raw(&mut self, text: &str) {
        self.text.extend_from_slice(text.as_bytes());
    }

    fn line(&mut self, text: &[u8]) {
        self.text.extend_from_slice(text);
        self.text.push(b'\n');
    }

    /// A space, then one quoted word.
    fn word(&mut self, word: &[u8]) {
        self.text.push(b' ');
        self.quoted(word);
    }

    /// A quoted string, joined to what precedes it.
    fn quoted(&mut self, text: &[u8]) {
        self.text.extend_from_slice(&sh(text));
    }

    /// ` { printf ... >&2; exit 127; }` and a newline: the tail of a `test || ...` line.
    fn fail(&mut self, message: &str) {
        self.fail_with(&[Part::Text(message)], MISSING_ON_REMOTE);
    }

    /// [`Script::fail`] with a message made of text and values found at run time.
    fn fail_with(&mut self, parts: &[Part], status: u8) {
        self.raw(" { printf '");
        for _ in parts {
            self.raw("%s");
        }
        self.raw("\\n'");
        for part in parts {
            match part {
                Part::Text(text) => self.word(text.as_bytes()),
                Part::Value(expression) => self.raw(&format!(" \"{expression}\"")),
            }
        }
        self.raw(&format!(" >&2; exit {status}; }}\n"));
    }
}

#[cfg(all(test, unix))]
mod tests {
    //! The scripts run here under the real `/bin/sh`, with a fake runtime on PATH that records
    //! its argv and then runs what follows the image, so the tests check what the remote would
    //! do rather than how the text is quoted.
    use super::*;
    use std::ffi::OsStr;
    use std::io::Write;
    use std::os::unix::ffi::OsStrExt;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Output};

    /// A fake `apptainer`: logs argv (NUL-separated) to $LOG, answers `instance list` from
    /// $INSTANCES, and for `exec` runs what follows the image or `instance://` word.
    const FAKE_RUNTIME: &str = r#"#!/bin/sh
printf '%s\0' "$@" >> "$LOG"; printf '\n' >> "$LOG"
[ "$1" = -s ] && shift
case "$1 $2" in
"instance list") printf 'INSTANCE NAME PID IP IMAGE\n'; cat "$INSTANCES" 2>/dev/null; exit 0 ;;
"instance start") shift $(($# - 1)); printf '%s 1 - img\n' "$1" >> "$INSTANCES"; exit 0 ;;
esac
shift
while [ $# -gt 0 ]; do case "$1" in --bind) shift 2 ;; -*) shift ;; *) shift; break ;; esac; done
exec "$@"
"#;

    struct Remote {
        dir: PathBuf,
        /// The ssh session's variables, besides those every run has.
        session: Vec<(&'static str, &'static str)>,
        /// What ssh's SendEnv and SetEnv send.
        sent: Vec<String>,
    }

    impl Remote {
        fn new(name: &str, runtime_name: &str) -> Remote {
            let dir = std::env::temp_dir()
                .join(format!("cssh-remote-test-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("bin")).unwrap();
            let runtime = dir.join("bin").join(runtime_name);
            std::fs::write(&runtime, FAKE_RUNTIME).unwrap();
            make_executable(&runtime);
            std::fs::write(dir.join("img.sif"), "").unwrap();
            Remote {
                dir,
                session: Vec::new(),
                sent: Vec::new(),
            }
        }

        fn image(&self) -> String {
            self.dir.join("img.sif").display().to_string()
        }

        fn run(&self, settings: &Settings, image: &str, payload: Payload, stdin: &[u8]) -> Output {
            let path = format!("{}:/usr/bin:/bin", self.dir.join("bin").display());
            self.run_with(settings, image, payload, stdin, &path, &[])
        }

        /// Runs `echo in` in the test image, which must print `in`.
        fn echo_in(&self, settings: &Settings) {
            let out = self.run(settings, &self.image(), Payload::Command(b"echo in"), b"");
            assert_eq!(text(&out.stdout), "in\n", "{out:?}");
        }

        /// Runs the script as the bootstrap does: `$@` is what followed it on the command line.
        fn run_with(
            &self,
            settings: &Settings,
            image: &str,
            payload: Payload,
            stdin: &[u8],
            path: &str,
            args: &[&str],
        ) -> Output {
            let target = Target {
                host: "hpc1",
                image,
                settings,
                config_file: "/c.toml",
                place: Place::Here,
                sent: &self.sent,
            };
            let text = script(&target, payload);
            let mut child = Command::new("/bin/sh")
                .env_clear()
                .arg("-c")
                .arg(OsStr::from_bytes(&text))
                .arg("sh")
                .args(args)
                .env("PATH", path)
                .env("LOG", self.dir.join("log"))
                .env("INSTANCES", self.dir.join("instances"))
                .env("SHELL", "/nonexistent/shell")
                .env("HOME", self.dir.join("home"))
                .env("USER", "tester")
                .envs(self.session.iter().copied())
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(stdin).unwrap();
            child.wait_with_output().unwrap()
        }

        /// The runtime's argv of each call, in order.
        fn calls(&self) -> Vec<Vec<String>> {
            let log = std::fs::read(self.dir.join("log")).unwrap_or_default();
            log.split(|&b| b == b'\n')
                .filter(|call| !call.is_empty())
                .map(|call| {
                    call.split(|&b| b == 0)
                        .filter(|w| !w.is_empty())
                        .map(|w| String::from_utf8_lossy(w).into_owned())
                        .collect()
                })
                .collect()
        }
    }

    impl Drop for Remote {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// The words after the image that run `command`: SHELL is chosen, then the command runs
    /// under a `/bin/sh -c` of its own.
    fn in_sh(command: &str) -> Vec<&str> {
        vec![
            "/bin/sh",
            "-c",
            "for cssh_p in \"$SHELL\" /bin/bash /bin/sh; do [ -x \"$cssh_p\" ] && break; done; SHELL=$cssh_p; export SHELL; exec /bin/sh -c \"$1\"",
            "sh",
            command,
        ]
    }

    fn make_executable(path: &Path) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }

    #[test]
    fn command_runs_in_the_image_with_stdin_and_status() {
        let remote = Remote::new("command", "singularity");
        let out = remote.run(
            &Settings::default(),
            &remote.image(),
            Payload::Command(b"printf '[%s]' \"$(cat)\"; exit 42"),
            b"in put",
        );
        assert_eq!(
            (text(&out.stdout), out.status.code(), text(&out.stderr)),
            ("[in put]".into(), Some(42), String::new())
        );
        let image = remote.image();
        assert_eq!(
            remote.calls(),
            vec![
                [
                    vec!["exec", &image],
                    in_sh("printf '[%s]' \"$(cat)\"; exit 42")
                ]
                .concat()
            ]
        );
    }

    #[test]
    fn transfer_tools_missing_from_the_image_are_named() {
        let remote = Remote::new("tools", "apptainer");
        let only_the_runtime = remote.dir.join("bin").display().to_string();
        let image = remote.image();
        for (command, message) in [
            (
                &b"scp -t /x"[..],
                "no scp in IMG (scp -O runs the image's scp; without -O scp uses its sftp-server)",
            ),
            (
                b"rsync --server -logDtpre.iLsfxCIvu . /x",
                "no rsync in IMG",
            ),
            (b"git-upload-pack '/r.git'", "no git in IMG"),
        ] {
            let out = remote.run_with(
                &Settings::default(),
                &image,
                Payload::Command(command),
                b"",
                &only_the_runtime,
                &[],
            );
            assert_eq!(out.status.code(), Some(127));
            assert_eq!(
                text(&out.stderr),
                format!("cssh: hpc1: {}\n", message.replace("IMG", &image))
            );
        }
        // Present, the tool runs the command string unchanged.
        let out = remote.run(
            &Settings::default(),
            &image,
            Payload::Command(b"rsync --version >/dev/null && echo \"$0\""),
            b"",
        );
        assert_eq!(text(&out.stdout), "/bin/sh\n", "{out:?}");
    }

    #[test]
    fn arguments_follow_the_script_unchanged() {
        let remote = Remote::new("arguments", "apptainer");
        let fake = remote.dir.join("bin").join("rsync");
        std::fs::write(&fake, "#!/bin/sh\nprintf '[%s]' \"$@\"\n").unwrap();
        make_executable(&fake);
        let path = format!("{}:/usr/bin:/bin", remote.dir.join("bin").display());
        let args = ["--server", "-e.LsfxC", ".", "a b", "$x'"];
        let out = remote.run_with(
            &Settings::default(),
            &remote.image(),
            Payload::Arguments("rsync"),
            b"",
            &path,
            &args,
        );
        assert_eq!(
            text(&out.stdout),
            "[--server][-e.LsfxC][.][a b][$x']",
            "{out:?}"
        );
        let only_the_runtime = remote.dir.join("bin").display().to_string();
        std::fs::remove_file(&fake).unwrap();
        let missing = remote.run_with(
            &Settings::default(),
            &remote.image(),
            Payload::Arguments("rsync"),
            b"",
            &only_the_runtime,
            &args,
        );
        assert_eq!(missing.status.code(), Some(127));
        assert_eq!(
            text(&missing.stderr),
            format!("cssh: hpc1: no rsync in {}\n", remote.image())
        );
    }

    #[test]
    fn invalid_utf8_commands_reach_the_image_as_ascii() {
        let remote = Remote::new("utf8", "apptainer");
        let command = b"printf '%s|' '\xff\x80' 'a\\b%' '\n\t'\n\n";
        let out = remote.run(
            &Settings::default(),
            &remote.image(),
            Payload::Command(command),
            b"",
        );
        assert_eq!(out.stdout, b"\xff\x80|a\\b%|\n\t|", "{out:?}");
        let calls = remote.calls();
        assert!(calls[0].iter().all(|w| w.is_ascii()), "{calls:?}");
    }

    #[test]
    fn settings_become_runtime_arguments_exactly() {
        let remote = Remote::new("settings", "my runtime");
        let settings = Settings {
            runtime: Some(Runtime::Program("my runtime".into())),
            prelude: Some("echo prelude says hi; read x || true".into()),
            binds: Some(vec!["/scratch".into(), "/d d:/mnt/$x:ro".into()]),
            env: Some(vec![("A".into(), "x, y'z $(id)".into())]),
            options: Some(vec!["--nv".into(), "--cleanenv".into()]),
            ..Settings::default()
        };
        let out = remote.run(
            &settings,
            "docker://alpine",
            Payload::Command(b"printf %s \"$A\"; cat"),
            b"stdin",
        );
        assert_eq!(
            text(&out.stdout),
            "x, y'z $(id)stdin",
            "the prelude neither writes stdout nor reads stdin"
        );
        assert_eq!(text(&out.stderr), "prelude says hi\n");
        assert_eq!(
            remote.calls(),
            vec![
                vec![
                    "exec",
                    "--nv",
                    "--cleanenv",
                    "--bind",
                    "/scratch",
                    "--bind",
                    "/d d:/mnt/$x:ro",
                    "docker://alpine",
                    "env",
                    "A=x, y'z $(id)",
                ]
                .into_iter()
                .chain(in_sh("printf %s \"$A\"; cat"))
                .collect::<Vec<_>>()
            ]
        );
    }

    #[test]
    fn under_cleanenv_the_session_comes_in_as_forward_env_says() {
        let mut remote = Remote::new("forward", "apptainer");
        remote.session = vec![
            ("LANG", "C.UTF-8"),
            ("GIT_AUTHOR_NAME", "A 'quoted' name"),
            ("SSH_AUTH_SOCK", "/tmp/ssh-x/agent.1"),
            ("HOST_ONLY", "stays out"),
        ];
        remote.sent = vec!["GIT_AUTHOR_NAME".into(), "UNSET_ONE".into()];
        let seen = |forward_env: Option<ForwardEnv>| {
            let settings = Settings {
                options: Some(vec!["--cleanenv".into()]),
                forward_env,
                ..Settings::default()
            };
            let out = remote.run(&settings, &remote.image(), Payload::Command(b"true"), b"");
            assert!(out.status.success(), "{out:?}");
            let calls = remote.calls();
            let call = calls.last().unwrap();
            let start = call
                .iter()
                .position(|w| w == "env")
                .map_or(call.len(), |i| i + 1);
            call[start..]
                .iter()
                .take_while(|w| *w != "/bin/sh")
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(
            seen(None),
            [
                "SSH_AUTH_SOCK=/tmp/ssh-x/agent.1",
                "LANG=C.UTF-8",
                "GIT_AUTHOR_NAME=A 'quoted' name"
            ]
        );
        assert_eq!(seen(Some(ForwardEnv::Session)), seen(None));
        assert_eq!(seen(Some(ForwardEnv::Off)), Vec::<String>::new());
        assert_eq!(
            seen(Some(ForwardEnv::Only(vec![
                "LANG".into(),
                "HOST_ONLY".into()
            ]))),
            ["LANG=C.UTF-8", "HOST_ONLY=stays out"]
        );
    }

    #[test]
    fn missing_pieces_fail_with_one_line() {
        let remote = Remote::new("missing", "unused");
        let out = remote.run(
            &Settings::default(),
            &remote.image(),
            Payload::Command(b"true"),
            b"",
        );
        assert_eq!(out.status.code(), Some(127));
        assert_eq!(
            text(&out.stderr),
            "cssh: hpc1: neither apptainer nor singularity on PATH (set prelude or runtime in /c.toml)\n"
        );
        let explicit = Settings {
            runtime: Some(Runtime::Program("unused".into())),
            ..Settings::default()
        };
        let out = remote.run(
            &explicit,
            "/no/such image.sif",
            Payload::Command(b"true"),
            b"",
        );
        assert_eq!(
            (out.status.code(), text(&out.stderr)),
            (
                Some(127),
                "cssh: hpc1: image /no/such image.sif not found on the remote\n".into()
            )
        );
        let sftp = Settings {
            sftp_server: Some("/no/sftp-server".into()),
            ..explicit.clone()
        };
        let out = remote.run(&sftp, &remote.image(), Payload::Sftp, b"");
        assert_eq!(out.status.code(), Some(127));
        assert_eq!(
            text(&out.stderr),
            format!(
                "cssh: hpc1: no sftp-server in {} (set sftp_server in /c.toml, or use scp -O)\n",
                remote.image()
            )
        );
        let out = remote.run(
            &Settings {
                shell: Some("/no/zsh".into()),
                ..explicit
            },
            &remote.image(),
            Payload::Shell,
            b"",
        );
        assert_eq!(
            text(&out.stderr),
            format!(
                "cssh: hpc1: no shell to run in {} (tried /no/zsh)\n",
                remote.image()
            )
        );
    }

    #[test]
    fn shell_and_sftp_server_are_the_first_that_exist() {
        let remote = Remote::new("shell", "apptainer");
        let fake = remote.dir.join("fake server");
        std::fs::write(&fake, "#!/bin/sh\necho \"ran $0 $#\"\n").unwrap();
        make_executable(&fake);
        let fake = fake.display().to_string();
        let settings = Settings {
            sftp_server: Some(fake.clone()),
            shell: Some(fake.clone()),
            ..Settings::default()
        };
        let out = remote.run(&settings, &remote.image(), Payload::Sftp, b"");
        assert_eq!(text(&out.stdout), format!("ran {fake} 0\n"));
        let out = remote.run(&settings, &remote.image(), Payload::Shell, b"");
        assert_eq!(
            text(&out.stdout),
            format!("ran {fake} 1\n"),
            "a login shell gets -l"
        );
        // Without a configured shell, $SHELL (here missing) gives way to bash, then sh.
        let out = remote.run(
            &Settings::default(),
            &remote.image(),
            Payload::Shell,
            b"echo $0",
        );
        assert!(
            text(&out.stdout).ends_with("bash\n") || text(&out.stdout).ends_with("sh\n"),
            "{out:?}"
        );
    }

    #[test]
    fn shell_is_the_shell_that_runs_in_the_image() {
        let remote = Remote::new("shellvar", "apptainer");
        // The login shell (here $SHELL, missing) gives way to bash; a configured one wins.
        for (configured, expected) in [(None, "/bin/bash\n"), (Some("/bin/sh"), "/bin/sh\n")] {
            let settings = Settings {
                shell: configured.map(String::from),
                ..Settings::default()
            };
            let out = remote.run(
                &settings,
                &remote.image(),
                Payload::Command(b"echo $SHELL"),
                b"",
            );
            assert_eq!(text(&out.stdout), expected, "{out:?}");
            let out = remote.run(&settings, &remote.image(), Payload::Shell, b"echo $SHELL\n");
            assert!(text(&out.stdout).ends_with(expected), "{out:?}");
        }
    }

    #[test]
    fn a_live_instance_state_file_spares_the_runtime() {
        let remote = Remote::new("state", "apptainer");
        let settings = Settings {
            instance: Some("dev".into()),
            ..Settings::default()
        };
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        let dir = remote.dir.join(format!(
            "home/.apptainer/instances/app/{}/tester/dev",
            hostname.trim()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        // A live pid (this test's own) skips `instance list`; a dead one falls back to it.
        for (pid, listed) in [(std::process::id(), false), (999_999_999, true)] {
            std::fs::write(
                dir.join("dev.json"),
                format!("{{\"pid\":{pid},\"ppid\":1,\"name\":\"dev\"}}"),
            )
            .unwrap();
            let _ = std::fs::remove_file(remote.dir.join("log"));
            remote.echo_in(&settings);
            let calls = remote.calls();
            assert_eq!(
                calls.iter().any(|c| c[..2] == ["instance", "list"]),
                listed,
                "pid {pid}: {calls:?}"
            );
        }
    }

    #[test]
    fn an_instance_in_this_user_namespace_is_joined_by_the_runtime() {
        // A setuid-mode instance shares the session's user namespace, which a join by
        // namespaces cannot enter: the look records why and the runtime joins it, even where
        // the state file claims a user namespace.
        let remote = Remote::new("setuid", "apptainer");
        let settings = Settings {
            instance: Some("dev".into()),
            ..Settings::default()
        };
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        let dir = remote.dir.join(format!(
            "home/.apptainer/instances/app/{}/tester/dev",
            hostname.trim()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mut init = Command::new("sleep").arg("60").spawn().unwrap();
        let config = "eyJlbmdpbmVDb25maWciOnsiaG9tZURlc3QiOiIvaCJ9fQ=="; // {"engineConfig":{"homeDest":"/h"}}
        std::fs::write(
            dir.join("dev.json"),
            format!(
                "{{\"pid\":{},\"ppid\":{},\"name\":\"dev\",\"user\":\"tester\",\"image\":\"/i.sif\",\"config\":\"{config}\",\"userns\":true,\"cgroup\":false,\"ip\":\"\",\"checkpoint\":\"\",\"sharensMode\":false}}",
                init.id(),
                std::process::id()
            ),
        )
        .unwrap();
        remote.echo_in(&settings);
        let record = std::fs::read_to_string(dir.join("cssh-join-1")).unwrap();
        let _ = init.kill();
        let _ = init.wait();
        assert!(
            record.contains("cssh_j_slow='it runs without a user namespace (setuid mode)'"),
            "{record}"
        );
        assert!(
            remote
                .calls()
                .iter()
                .any(|c| c[..2] == ["exec", "instance://dev"]),
            "{:?}",
            remote.calls()
        );
    }

    #[test]
    fn instance_is_started_once_then_joined() {
        let remote = Remote::new("instance", "apptainer");
        let settings = Settings {
            instance: Some("dev".into()),
            binds: Some(vec!["/b".into()]),
            ..Settings::default()
        };
        for _ in 0..2 {
            remote.echo_in(&settings);
        }
        let image = remote.image();
        // Without Apptainer's state file the fast join is not taken: the runtime joins.
        let mut joined = [vec!["exec", "instance://dev"], in_sh("echo in")].concat();
        let snippet = format!("{}{}", text(join::ENTERED), joined[4]);
        joined[4] = &snippet;
        assert_eq!(
            remote.calls(),
            vec![
                vec!["instance", "list"],
                vec!["-s", "instance", "start", "--bind", "/b", &image, "dev"],
                joined.clone(),
                vec!["instance", "list"],
                joined,
            ]
        );
    }
}
