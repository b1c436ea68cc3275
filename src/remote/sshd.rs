//! A private sshd of the user's, in the job: OpenSSH's own `sshd -i` (inetd mode), run as the
//! user with the scheduler's channel as its socket (stdin and stdout), so that the laptop's ssh
//! talks SSH end to end to the job through its ProxyCommand, and no port listens anywhere. This
//! is HTCondor's own way into a job (its starter runs `sshd -i -e -f FILE` on the handed socket)
//! turned around, with the laptop's ssh as the client.
//!
//! It keeps its keys in the user's home on the cluster, `~/.ssh/cssh` (0700, the user's, and no
//! directory from it up to home writable by others: sshd's StrictModes, kept on, which the
//! site's own sshd asks of `~/.ssh` already): the host
//! key, made once and pinned on the laptop (through the user's own authenticated ssh to the
//! login node, [`pin_script`]), and `authorized_keys`, which admits only the key cssh keeps on
//! the laptop: never `~/.ssh/authorized_keys`, which on a shared home would open the login
//! nodes too. Everything else is given on sshd's command line (`-f /dev/null`, `-o ...`): no
//! configuration file to keep in step.
//!
//! The forced command exports the job's own variables (the scheduler's `SLURM_*` or `_CONDOR_*`
//! and the GPUs', which sshd's fresh environment lacks) and runs the command the client sent,
//! as the login shell would have: cssh's script, which then enters the container.
//!
//! A refusal before sshd starts (its keys, no sshd) is one `cssh:` line on stderr, then a bare
//! SSH banner on stdout, so that the client, at LogLevel ERROR, ends without lines of its own.

use super::script::{Part, Script};
use super::target::Target;
use crate::quote::for_login_shell;

/// Exit status of a refusal: cssh's own errors exit 255, as ssh's do.
pub const REFUSED: u8 = 255;

/// The directory of the keys, relative to home, for messages.
pub const KEY_DIR: &str = "~/.ssh/cssh";

/// What a script on the way to the job's sshd does when it exits instead of reaching it (it
/// refused in one line): an SSH banner, so that the client sees a server that closed the
/// connection, which it does not report at LogLevel ERROR (a stream that ends before any banner,
/// OpenSSH up to 9.x reports as an error of its own).
pub(super) const ON_REFUSAL: &str = "printf 'SSH-2.0-cssh\\r\\n'";

/// The banner [`ON_REFUSAL`] prints, for a refusal on the laptop (`cssh --proxy`).
pub const REFUSAL_BANNER: &[u8] = b"SSH-2.0-cssh\r\n";

/// The keys a connection brings: the laptop's public key, which the job's sshd admits, and the
/// host key the laptop pinned for the host, which the sshd must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    /// The laptop's public key, an authorized_keys line.
    pub client: String,
    /// The pinned host key (`TYPE BASE64`) and its line in the laptop's file of pins.
    pub pinned: String,
    pub pinned_line: usize,
    /// The name the host key is pinned under (ssh's HostKeyAlias).
    pub alias: String,
    /// The laptop's file of pins, for messages.
    pub known_hosts: String,
}

/// `cssh_home`, the user's home directory on this machine as the password database has it (a job's
/// environment may say otherwise: HTCondor's sessions can have the scratch directory as HOME),
/// and `cssh_kd`, the key directory under it, made where it is missing and checked: the user's,
/// mode 0700, and nothing from it up to home writable by anyone else (sshd would refuse the keys).
fn key_directory(s: &mut Script, target: &Target) {
    s.raw("cssh_um=$(umask); umask 077\n");
    home(s);
    s.raw("[ -d \"$cssh_kd\" ] || mkdir -p \"$cssh_kd\" 2>/dev/null\n");
    s.raw("[ -d \"$cssh_kd\" ] && [ -O \"$cssh_kd\" ] && chmod 700 \"$cssh_kd\" ||");
    s.fail_with(
        &[
            Part::Text(&target.say(&format!("{KEY_DIR} on "))),
            Part::Value("$(hostname)"),
            Part::Text(" is not a directory of yours: the job's sshd keeps its keys there"),
        ],
        REFUSED,
    );
    writable_by_others(s);
    s.raw("[ -z \"$cssh_w\" ] ||");
    s.fail_with(
        &[
            Part::Text(&target.say("")),
            Part::Value("$cssh_w"),
            Part::Text(" is writable by others or not yours: the job's sshd refuses keys under it, as sshd's StrictModes must (chmod go-w "),
            Part::Value("$cssh_w"),
            Part::Text(")"),
        ],
        REFUSED,
    );
}

/// `cssh_home` and `cssh_kd` (see [`key_directory`]), nothing made.
fn home(s: &mut Script) {
    s.raw("cssh_home=$(env -u LD_PRELOAD getent passwd \"$(id -u)\" 2>/dev/null | cut -d: -f6)\n");
    s.raw("[ -n \"$cssh_home\" ] || cssh_home=$HOME\ncssh_kd=$cssh_home/.ssh/cssh\n");
}

/// `cssh_w`: the first of home and `~/.ssh` that someone else owns (but root) or could write,
/// where sshd's StrictModes refuses keys; else empty.
fn writable_by_others(s: &mut Script) {
    s.raw("cssh_w=$(find \"$cssh_home\" \"$cssh_home/.ssh\" -maxdepth 0 \\( ! -uid 0 ! -uid \"$(id -u)\" -o -perm /022 \\) -print 2>/dev/null | head -n 1)\n");
}

/// `cssh_sshd`: the absolute path of this machine's sshd (sshd 9.8 refuses `-i` from a relative
/// one), or empty.
fn sshd_lookup(s: &mut Script) {
    s.raw("cssh_sshd=\nfor cssh_p in \"$(command -v sshd 2>/dev/null)\" /usr/sbin/sshd /usr/local/sbin/sshd /usr/bin/sshd; do case $cssh_p in /*) [ -x \"$cssh_p\" ] && cssh_sshd=$cssh_p && break ;; esac; done\n");
}

/// The doctor's facts about the job's sshd, found on the login node (a cluster's nodes run the
/// same system, as a rule) without making or changing anything: where sshd is, the key
/// directory (`ok`, `none` yet, or where sshd would refuse it), its host key, and whether it
/// admits `client`.
pub(super) fn probe(s: &mut Script, client: &str) {
    use super::facts::Fact;
    home(s);
    sshd_lookup(s);
    writable_by_others(s);
    s.raw(&format!(
        "cssh_fact {} \"$cssh_sshd\"\n",
        Fact::SshdPath.key()
    ));
    s.raw(&format!(
        "if [ -n \"$cssh_w\" ]; then cssh_fact {0} \"writable $cssh_w\"\nelif ! [ -e \"$cssh_kd\" ]; then cssh_fact {0} none\nelif ! [ -d \"$cssh_kd\" ] || ! [ -O \"$cssh_kd\" ]; then cssh_fact {0} \"notyours $cssh_kd\"\nelse cssh_fact {0} ok\nfi\n",
        Fact::SshdKeys.key()
    ));
    s.raw(&format!(
        "if [ -s \"$cssh_kd/host_ed25519.pub\" ]; then cssh_fact {} \"$(cut -d' ' -f1,2 \"$cssh_kd/host_ed25519.pub\")\"; fi\ncssh_ck=",
        Fact::SshdHostKey.key()
    ));
    s.quoted(client.as_bytes());
    s.raw(&format!(
        "\nif grep -qxF \"$cssh_ck\" \"$cssh_kd/authorized_keys\" 2>/dev/null; then cssh_fact {} yes; fi\n",
        Fact::SshdAdmits.key()
    ));
}

/// The host key, made where it is missing: into a file of its own, linked into place (the first
/// of two connections that make one at once wins), its public half beside it.
fn host_key(s: &mut Script, target: &Target) {
    s.raw("if ! [ -s \"$cssh_kd/host_ed25519.pub\" ]; then\n");
    s.raw("  rm -f \"$cssh_kd/host.$$\" \"$cssh_kd/host.$$.pub\"\n");
    s.raw("  ssh-keygen -q -t ed25519 -N '' -C cssh-job-sshd -f \"$cssh_kd/host.$$\" </dev/null >/dev/null 2>&1 && { ln \"$cssh_kd/host.$$\" \"$cssh_kd/host_ed25519\" 2>/dev/null; true; } && ssh-keygen -y -f \"$cssh_kd/host_ed25519\" >\"$cssh_kd/host.$$.pub\" 2>/dev/null && mv -f \"$cssh_kd/host.$$.pub\" \"$cssh_kd/host_ed25519.pub\" ||");
    s.fail_with(
        &[
            Part::Text(&target.say("cannot make the job's sshd a host key in ")),
            Part::Text(KEY_DIR),
            Part::Text(" on "),
            Part::Value("$(hostname)"),
            Part::Text(" (ssh-keygen)"),
        ],
        REFUSED,
    );
    s.raw("  rm -f \"$cssh_kd/host.$$\"\nfi\n");
}

/// `authorized_keys` with the laptop's key in it: the only key the job's sshd admits (replaced
/// whole, never half-written).
fn admit(s: &mut Script, client: &str) {
    s.raw("cssh_ck=");
    s.quoted(client.as_bytes());
    s.raw("\ngrep -qxF \"$cssh_ck\" \"$cssh_kd/authorized_keys\" 2>/dev/null || { { cat \"$cssh_kd/authorized_keys\" 2>/dev/null; printf '%s\\n' \"$cssh_ck\"; } >\"$cssh_kd/authorized_keys.$$\" && mv -f \"$cssh_kd/authorized_keys.$$\" \"$cssh_kd/authorized_keys\"; }\n");
}

/// The script the laptop runs once per host through its own ssh to the login node, before the
/// first connection to a job: the key directory and host key, made where missing, the laptop's
/// key admitted, and the host key's public half printed, for the laptop to pin.
pub fn pin_script(target: &Target, client: &str) -> Vec<u8> {
    let mut s = Script::default();
    key_directory(&mut s, target);
    host_key(&mut s, target);
    admit(&mut s, client);
    s.raw("cut -d' ' -f1,2 \"$cssh_kd/host_ed25519.pub\"\n");
    s.text
}

/// On the login node, in the hop: `cssh_conn`, the hop's own `SSH_CONNECTION` and `SSH_CLIENT`
/// (NUL-separated records, in base64: a word that crosses any channel) for the launcher's `$2`.
pub const CONNECTION: &str = "cssh_conn=$({ [ -z \"${SSH_CONNECTION+x}\" ] || printf 'SSH_CONNECTION=%s\\0' \"$SSH_CONNECTION\"; [ -z \"${SSH_CLIENT+x}\" ] || printf 'SSH_CLIENT=%s\\0' \"$SSH_CLIENT\"; } | base64 -w0)\n";

/// What the forced command runs first: the job's variables exported, from the `export` lines
/// that its arguments carry as a printf format of octal escapes (see [`launcher`]), printed and
/// evaluated by the shell's builtins: no program starts for them in each session.
const FORCED: &[u8] = b"eval \"$(IFS=; printf \"$*\")\"; set --
";

/// Then, for cssh's own sessions: the command the client sent, as the login shell would have
/// run it (cssh's scripts read the same under every shell; without the `SSH_ORIGINAL_COMMAND`
/// that plain ssh does not set), or a login shell.
const CSSH_COMMAND: &[u8] = b"[ -z \"${SSH_ORIGINAL_COMMAND+x}\" ] || { cssh_c=$SSH_ORIGINAL_COMMAND; unset SSH_ORIGINAL_COMMAND; exec /bin/sh -c \"$cssh_c\"; }
exec \"$SHELL\" -l
";

/// The command sshd runs for the `sftp` subsystem, which the forced command sees in
/// `SSH_ORIGINAL_COMMAND`: a plain client's sftp.
const SFTP_SUBSYSTEM: &str = "/cssh/sftp-server";

/// Or, for a plain client's sessions (`cssh --proxy`): `cssh_oc`, what the client asked, for
/// the session's script ([`Payload::Client`](super::Payload::Client)): `s` a login shell, `f`
/// sftp, `c` and its command, or `p` and the command as a printf format of octal escapes where
/// it holds a byte outside printable ASCII (Apptainer hands a container's argv on as JSON, which
/// turns invalid UTF-8 into U+FFFD).
const CLIENT: &str = r#"if [ -z "${SSH_ORIGINAL_COMMAND+x}" ]; then cssh_oc=s
elif [ "$SSH_ORIGINAL_COMMAND" = SUBSYSTEM ]; then cssh_oc=f
elif (LC_ALL=C; case $SSH_ORIGINAL_COMMAND in *[!\ -~]*) exit 1 ;; esac); then cssh_oc=c$SSH_ORIGINAL_COMMAND
else cssh_oc=p$(printf %s "$SSH_ORIGINAL_COMMAND" | od -An -v -to1 | tr -s ' \n' '\\'); cssh_oc=${cssh_oc%\\}
fi
unset SSH_ORIGINAL_COMMAND
"#;

/// The sshd's `PATH`, which its sessions start with.
const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What the sessions of a private sshd run.
#[derive(Debug, Clone, Copy)]
pub enum Serving<'a> {
    /// The command cssh sent (cssh's script), as sshd's own sessions would run it.
    CsshCommands,
    /// A plain client's request, in the container, by this script of cssh's (`cssh --proxy`).
    Client(&'a [u8]),
}

/// The forced command's script for `serving`.
fn forced(serving: Serving) -> Vec<u8> {
    let mut text = FORCED.to_vec();
    match serving {
        Serving::CsshCommands => text.extend_from_slice(CSSH_COMMAND),
        Serving::Client(script) => {
            text.extend_from_slice(CLIENT.replace("SUBSYSTEM", SFTP_SUBSYSTEM).as_bytes());
            text.extend_from_slice(script);
        }
    }
    text
}

/// With stdin and stdout the connection (on the job's node, or the login node): the keys
/// checked against what the laptop brings, then `exec` of this machine's sshd in inetd mode as
/// this user. `$1` is the job's id (empty on the login node) and `$2` the hop's [`CONNECTION`];
/// the job's variables are those of this shell's environment whose names start with one of
/// `variables` (grep patterns), which the forced command exports into each session with
/// `CSSH_JOB` (the job's id) and the hop's `SSH_CONNECTION` and `SSH_CLIENT` (the sshd has no
/// socket to tell them: they are the user's connection to the cluster). The sshd's own
/// environment is `PATH` alone. A refusal is one line and a bare banner.
pub(super) fn launcher(
    target: &Target,
    keys: &Keys,
    variables: &[&str],
    serving: Serving,
) -> Vec<u8> {
    let mut s = Script::exiting_with(ON_REFUSAL);
    key_directory(&mut s, target);
    host_key(&mut s, target);
    s.raw("cssh_hk=$(cut -d' ' -f1,2 \"$cssh_kd/host_ed25519.pub\")\n[ \"$cssh_hk\" =");
    s.word(keys.pinned.as_bytes());
    s.raw(" ] ||");
    s.fail_with(
        &[Part::Text(&target.say(&format!(
            "the job's sshd host key ({KEY_DIR}/host_ed25519 on the cluster) is not the one pinned for {} in {}:{}: refusing it, as ssh refuses a changed host key (if you reset that directory, remove the pin: ssh-keygen -R {} -f {})",
            target.host, keys.known_hosts, keys.pinned_line, keys.alias, keys.known_hosts
        )))],
        REFUSED,
    );
    admit(&mut s, &keys.client);
    sshd_lookup(&mut s);
    s.raw("[ -n \"$cssh_sshd\" ] ||");
    s.fail_with(
        &[
            Part::Text(&target.say("no sshd on ")),
            Part::Value("$(hostname)"),
            Part::Text(&match target.place {
                super::Place::Here => " for plain clients to reach the container by (OpenSSH's sshd; cssh itself reaches it without)".to_string(),
                super::Place::Job(..) => format!(" to start the job's own (OpenSSH's sshd; {})", fallback(target)),
            }),
        ],
        REFUSED,
    );
    // The variables, once for the connection, as `export 'NAME=VALUE'` lines written as a printf
    // format of octal escapes in single-quoted words of 16 bytes each: words that every login
    // shell reads as they are (a backslash only ever before a digit; csh's word limit far off),
    // by the system's programs, as the sshd's sessions would find them (not the prelude's).
    s.raw(&format!("cssh_jv=$(PATH={SYSTEM_PATH}; {{ [ -z \"$1\" ] || printf 'CSSH_JOB=%s\\0' \"$1\"; printf %s \"${{2-}}\" | base64 -d;"));
    if !variables.is_empty() {
        s.raw(" grep -za");
        for pattern in variables {
            s.raw(" -e");
            s.word(pattern.as_bytes());
        }
        s.raw(" </proc/$$/environ;");
    }
    s.raw(" } | sed -z \"s/'/'\\\\\\\\''/g; s/^/export '/; s/\\$/'/\" | tr '\\000' '\\n' | od -An -v -to1 | sed \"s/ /\\\\\\\\/g; s/^/'/; s/\\$/'/\" | tr '\\n' ' ')\n");
    // The sessions get the umask the connection came with: 077 was for the keys.
    s.raw(&format!(
        "umask \"$cssh_um\"\nexec env -i PATH={SYSTEM_PATH} \"$cssh_sshd\" -i -e -f /dev/null"
    ));
    for option in SSHD_OPTIONS {
        s.word(option.as_bytes());
    }
    if let Serving::Client(_) = serving {
        s.raw(" -o");
        s.word(format!("Subsystem=sftp {SFTP_SUBSYSTEM}").as_bytes());
    }
    s.raw(" -o \"HostKey=\\\"$cssh_kd/host_ed25519\\\"\" -o \"AuthorizedKeysFile=\\\"$cssh_kd/authorized_keys\\\"\" -o \"ForceCommand=\"");
    s.quoted(&for_login_shell(&forced(serving)));
    s.raw("\" $cssh_jv\"\n");
    s.text
}

/// What the job's sshd is: a server of one user, who is already authenticated on the cluster,
/// for that user's own key; forwarding, the agent and X11 as the client asks (they end in the
/// job); whatever variables the client sends (they are the user's own); no PAM, password,
/// motd, rc file or pid file; of its log (on stderr, the user's) only what stops it: a
/// server's log never reaches a plain ssh client.
const SSHD_OPTIONS: &[&str] = &[
    "-o",
    "UsePAM=no",
    "-o",
    "StrictModes=yes",
    "-o",
    "PubkeyAuthentication=yes",
    "-o",
    "PasswordAuthentication=no",
    "-o",
    "KbdInteractiveAuthentication=no",
    "-o",
    "PermitUserRC=no",
    "-o",
    "PrintMotd=no",
    "-o",
    "PrintLastLog=no",
    "-o",
    "AllowTcpForwarding=yes",
    "-o",
    "AllowStreamLocalForwarding=yes",
    "-o",
    "AllowAgentForwarding=yes",
    "-o",
    "X11Forwarding=yes",
    "-o",
    "AcceptEnv=*",
    "-o",
    "MaxSessions=64",
    "-o",
    "PidFile=none",
    "-o",
    "LogLevel=FATAL",
];

/// The setting that takes the scheduler's own channel instead, for messages.
fn fallback(target: &Target) -> String {
    let (key, value) = match target.settings.htcondor {
        Some(_) => ("htcondor_connect", "condor_ssh_to_job"),
        None => ("slurm_connect", "srun"),
    };
    format!(
        "or set {key} = \"{value}\" in {} to enter the job without it",
        target.config_file
    )
}
