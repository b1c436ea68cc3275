//! The plan of a session that reaches its job's own sshd ([`Way::Sshd`]): the job is ssh's
//! destination. ssh gets, before the user's options (it keeps the first value it obtains), a
//! ProxyCommand that runs the hop (cssh execs the user's own ssh to the login node, whose script
//! starts the job's sshd: `remote::hop_script`), the host key pinned for the host
//! (HostKeyAlias, cssh's known_hosts, StrictHostKeyChecking), cssh's client key, and its own
//! connection sharing; the user's options stay, for the job (forwards, the agent, X11, `-t`,
//! `-N`, `-f`), but `-J`, which is the login node's. The hop gets the user's ways to the login
//! node (`-F`, `-i`, `-p`, `-l`, `-J`, `-o`, ssh_config) without what is the session's.
//!
//! A host whose key is not pinned yet is pinned first ([`PinStep`]): its login node shows the
//! key through the user's own ssh, and the plan is made again.

use std::ffi::OsString;

use super::{
    Context, Decided, Hop, Local, PinStep, Refusal, carry, reuse_directory, session_args,
    with_connection_reuse,
};
use crate::hop;
use crate::keys;
use crate::remote::{self, Keys, Payload, Target};
use crate::ssh_args::{self, Invocation, Session, TtyRequest};
use crate::words;

/// What of the user's command line is the session's, not the login node's: forwards, the agent,
/// X11, a pty, `-N`, `-f`, `-n`, a subsystem, multiplexing, the escape character; and the same
/// set by `-o`.
const SESSION_LETTERS: &[u8] = b"LRDWAaXxYtTNfnsMSOeg";
const SESSION_SETTINGS: &[&str] = &[
    "LocalForward",
    "RemoteForward",
    "DynamicForward",
    "ForwardAgent",
    "ForwardX11",
    "ForwardX11Trusted",
    "ForwardX11Timeout",
    "RequestTTY",
    "SessionType",
    "RemoteCommand",
    "StdinNull",
    "ForkAfterAuthentication",
    "ControlMaster",
    "ControlPath",
    "ControlPersist",
    "EscapeChar",
    "ExitOnForwardFailure",
    "GatewayPorts",
    "Tunnel",
    "TunnelDevice",
    "LocalCommand",
    "PermitLocalCommand",
];

/// What the hop always asks of its ssh: no pty, forwards, agent or X11 (the stream is the job
/// connection's), no RemoteCommand or LocalCommand from ssh_config (the command is the hop's;
/// a LocalCommand would write into the stream).
const HOP_OPTIONS: &[&str] = &[
    "-T",
    "-a",
    "-x",
    "-o",
    "ClearAllForwardings=yes",
    "-o",
    "RemoteCommand=none",
    "-o",
    "PermitLocalCommand=no",
];

/// The session's decision, given where it runs (`target.place` is a job with [`Way::Sshd`]):
/// `payload` is `None` for a tunnel alone (`-N`).
pub(super) fn decide(
    inv: &Invocation,
    cx: &Context,
    target: &Target,
    payload: Option<Payload>,
    local: &mut dyn Local,
) -> anyhow::Result<Decided> {
    let (keys, hop, files) = match keys_and_hop(inv, cx, target, local)? {
        Ready::Keys(keys, hop, files) => (keys, hop, files),
        Ready::Pin(pin, script) => {
            return Ok(Decided {
                args: Vec::new(),
                decision: remote_decision(script),
                first_hop: None,
                pin: Some(pin),
                hop: None,
                shares_its_own: true,
                notice: None,
            });
        }
    };
    let (cssh, ssh) = local.programs()?;
    let alias = keys.alias.clone();
    let announce = payload == Some(Payload::Shell)
        && inv.tty_request() == TtyRequest::Auto
        && cx.progress
        && cx.terminal;
    let hop_script = remote::hop_script(target, &keys, announce);
    let mut hop_argv = vec![ssh.into_os_string()];
    hop_argv.extend(hop);
    hop_argv.push(carry(&hop_script)?);
    let proxy = hop::proxy_command(&cssh, &hop_argv).map_err(Refusal)?;
    hop_argv.remove(0);

    let mut ours: Vec<OsString> = Vec::new();
    let mut set = |setting: OsString| {
        ours.push(OsString::from("-o"));
        ours.push(setting);
    };
    let mut proxy_setting = OsString::from("ProxyCommand=");
    proxy_setting.push(&proxy);
    set(proxy_setting);
    set(format!("HostKeyAlias={alias}").into());
    set(setting_path("UserKnownHostsFile", &files.known_hosts)?);
    set("StrictHostKeyChecking=yes".into());
    set(setting_path("IdentityFile", &files.identity)?);
    set("IdentitiesOnly=yes".into());
    if !inv.sets_multiplexing() {
        match (
            &cx.settings.persist,
            local.control_dir().ok().filter(|_| cfg!(unix)),
        ) {
            (Some(persist), Some(dir)) => {
                set("ControlMaster=auto".into());
                set(job_control_path(inv, cx, &dir));
                set(format!("ControlPersist={persist}").into());
            }
            // Never the login node's master, which ssh_config may name for this host.
            _ => set("ControlPath=none".into()),
        }
    }
    if !inv.sets_log_level() && !local.ssh_config_may_set(inv.config_file(), &["loglevel"]) {
        // A refusal on the way is cssh's one line; at ssh's default level the closed stream
        // would add one of ssh's.
        set("LogLevel=ERROR".into());
    }
    ours.extend(inv.args_without(b"J"));
    let grammar = super::kept_grammar(inv);
    let job = ssh_args::parse(ours, &mut || grammar)
        .map_err(|why| Refusal(format!("cannot reach the job's sshd: {why}")))?;
    let (args, script) = match payload {
        None => (job.args.clone(), Vec::new()),
        Some(payload) => {
            let script = remote::script(target, payload);
            (session_args(&job, carry(&script)?), script)
        }
    };
    Ok(Decided {
        args,
        decision: remote_decision(script),
        first_hop: None,
        pin: None,
        hop: Some(Hop {
            args: hop_argv,
            script: hop_script,
        }),
        shares_its_own: true,
        notice: None,
    })
}

/// What a connection to a private sshd needs first: the pinned keys and the hop's ssh
/// arguments (the user's ways to the login node, sharing its connection as the host's other
/// sessions do), or the pin step, and its script, where the host key is not pinned yet.
pub(super) enum Ready {
    Keys(Keys, Vec<OsString>, KeyFiles),
    Pin(PinStep, Vec<u8>),
}

/// Where this machine keeps cssh's client key and its pins.
pub(super) struct KeyFiles {
    pub(super) identity: std::path::PathBuf,
    pub(super) known_hosts: std::path::PathBuf,
}

pub(super) fn keys_and_hop(
    inv: &Invocation,
    cx: &Context,
    target: &Target,
    local: &mut dyn Local,
) -> anyhow::Result<Ready> {
    let alias = keys::alias(target.host);
    if let Some(c) = target.host.chars().find(|c| ",*?![]".contains(*c)) {
        return Err(Refusal(format!(
            "refusing host name {:?} for a private sshd: it holds {c:?}, which a known_hosts file cannot name",
            target.host
        ))
        .into());
    }
    let job_keys = local.job_keys(&alias)?;
    let mut hop = hop_args(inv);
    if let (Some(persist), Some(dir)) = (&cx.settings.persist, reuse_directory(inv, local)?) {
        // The login node's connection is shared as the host's other sessions share it.
        hop = with_connection_reuse(hop, &dir, persist);
    }
    let Some((pinned, pinned_line)) = job_keys.pinned else {
        let script = remote::pin_script(target, &job_keys.public);
        let mut args = hop;
        args.push(carry(&script)?);
        return Ok(Ready::Pin(PinStep { args, alias }, script));
    };
    let keys = Keys {
        client: job_keys.public,
        pinned,
        pinned_line,
        alias,
        known_hosts: job_keys.known_hosts.display().to_string(),
    };
    let files = KeyFiles {
        identity: job_keys.identity,
        known_hosts: job_keys.known_hosts,
    };
    Ok(Ready::Keys(keys, hop, files))
}

fn remote_decision(script: Vec<u8>) -> super::Decision {
    super::Decision::Container { script }
}

/// The user's ways to the login node, for the hop's ssh: the command line up to the
/// destination, without what is the session's, after what the hop always asks.
pub(super) fn hop_args(inv: &Invocation) -> Vec<OsString> {
    let mut args: Vec<OsString> = HOP_OPTIONS.iter().map(OsString::from).collect();
    let mut own = inv.args_without_settings(SESSION_LETTERS, SESSION_SETTINGS);
    // The command words, which follow the destination, are the job's.
    let command_words = match inv.session() {
        Session::Shell => 0,
        _ => inv.args.len() - inv.command_start,
    };
    own.truncate(own.len() - command_words);
    args.extend(own);
    args
}

/// `KEYWORD=PATH` for ssh, the path in double quotes where it holds a space (ssh splits such
/// values at spaces otherwise).
fn setting_path(keyword: &str, path: &std::path::Path) -> Result<OsString, Refusal> {
    let bytes = path.as_os_str().as_encoded_bytes();
    if bytes.contains(&b'"') || bytes.iter().any(u8::is_ascii_control) {
        return Err(Refusal(format!(
            "{}: ssh cannot be given this path for its {keyword}",
            path.display()
        )));
    }
    let mut value = format!("{keyword}=").into_bytes();
    if bytes.contains(&b' ') {
        value.push(b'"');
        value.extend_from_slice(bytes);
        value.push(b'"');
    } else {
        value.extend_from_slice(bytes);
    }
    Ok(words::from_bytes(value))
}

/// `ControlPath=` of the master a job connection keeps with `persist`: one per host, the way
/// the user names the login node (destination, user, port, ssh_config file) and the job attached
/// to, so that later sessions, and `-O`, find it; never the login node's master.
pub(super) fn job_control_path(inv: &Invocation, cx: &Context, dir: &std::path::Path) -> OsString {
    let word = |letter: u8| {
        inv.first_value(letter)
            .map(|v| v.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let attached = cx.attach.map(|a| format!("{a:?}")).unwrap_or_default();
    let parts = [
        inv.args[inv.destination].to_string_lossy().into_owned(),
        word(b'l'),
        word(b'p'),
        word(b'F'),
        attached,
    ];
    let mut path = OsString::from("ControlPath=");
    path.push(dir.join(format!(
        "job-{}",
        remote::fingerprint(parts.iter().map(String::as_str))
    )));
    path
}

#[cfg(test)]
pub(super) mod tests {
    use std::path::{Path, PathBuf};

    use super::super::{Decision, Given, JobKeys, Plan, Request, make};
    use crate::hop;
    use crate::ssh_args::Grammar;
    use crate::words;
    use std::ffi::OsString;

    fn os(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    /// A machine whose configuration tags `h*` with these settings, with cssh's keys and a pin.
    pub(in crate::plan) fn given(settings: &str) -> Given {
        let toml = format!("[[host]]\npattern = \"h*\"\nimage = \"/img.sif\"\n{settings}\n");
        Given {
            config: crate::config::parse(&toml, Path::new("/c.toml")).unwrap(),
            grammar: Grammar::CURRENT,
            ssh_config: "user alice\n".into(),
            ssh_config_silent: true,
            control_dir: PathBuf::from("/run/user/7/cssh"),
            variable_names: Vec::new(),
            values_sent: None,
            job_keys: JobKeys {
                identity: PathBuf::from("/k/key/id_ed25519"),
                public: "ssh-ed25519 CLIENT cssh job key".into(),
                known_hosts: PathBuf::from("/k/known_hosts"),
                pinned: Some(("ssh-ed25519 PINNED".into(), 3)),
            },
        }
    }

    fn plan(words: &[&str], local: &mut Given) -> Plan {
        make(
            &Request {
                args: os(words),
                ..Request::default()
            },
            local,
        )
        .unwrap()
    }

    fn text(words: &[OsString]) -> Vec<String> {
        words
            .iter()
            .map(|w| w.to_string_lossy().into_owned())
            .collect()
    }

    /// The hop's command line, out of a plan's ProxyCommand.
    fn hop_of(args: &[String]) -> Vec<String> {
        let proxy = args
            .iter()
            .find_map(|a| a.strip_prefix("ProxyCommand=/usr/bin/cssh --hop="))
            .expect("a ProxyCommand");
        text(&hop::decode(proxy).unwrap())
    }

    /// What the login shell's bootstrap carries: the script itself.
    fn carried(word: &str) -> String {
        String::from_utf8(crate::quote::carried(word.as_bytes())).unwrap()
    }

    #[test]
    fn the_job_is_the_destination_and_the_login_node_its_proxy() {
        for (settings, scheduler) in [
            ("slurm = [\"-p\", \"gpu\"]", "srun --jobid"),
            ("slurm = []\nattach = \"42\"", "srun --jobid"),
            ("htcondor = []", "condor_ssh_to_job"),
            ("htcondor = []\nattach = \"12.0\"", "condor_ssh_to_job"),
        ] {
            let mut local = given(settings);
            let p = plan(
                &[
                    "-J",
                    "bastion",
                    "-p",
                    "22",
                    "-i",
                    "/id",
                    "-L",
                    "8888:localhost:8888",
                    "-A",
                    "-X",
                    "h1",
                    "make",
                    "-j8",
                ],
                &mut local,
            );
            let args = text(&p.args);
            assert_eq!(p.first_hop, None);
            assert_eq!(p.pin, None);
            // cssh's settings first (ssh keeps the first value), then the user's but -J.
            assert_eq!(
                args[2..14],
                [
                    "-o",
                    "HostKeyAlias=cssh-job-h1",
                    "-o",
                    "UserKnownHostsFile=/k/known_hosts",
                    "-o",
                    "StrictHostKeyChecking=yes",
                    "-o",
                    "IdentityFile=/k/key/id_ed25519",
                    "-o",
                    "IdentitiesOnly=yes",
                    "-o",
                    "ControlPath=none"
                ],
                "{settings}: {args:?}"
            );
            assert_eq!(args[14..16], ["-o", "LogLevel=ERROR"]);
            assert_eq!(
                args[16..args.len() - 1],
                [
                    "-p",
                    "22",
                    "-i",
                    "/id",
                    "-L",
                    "8888:localhost:8888",
                    "-A",
                    "-X",
                    "h1"
                ]
            );
            assert!(!args.contains(&"bastion".to_string()), "{args:?}");
            // The hop: the ways to the login node, none of the session's options.
            let hop = hop_of(&args);
            assert_eq!(
                hop[..12],
                [
                    "/usr/bin/ssh",
                    "-T",
                    "-a",
                    "-x",
                    "-o",
                    "ClearAllForwardings=yes",
                    "-o",
                    "RemoteCommand=none",
                    "-o",
                    "PermitLocalCommand=no",
                    "-J",
                    "bastion"
                ],
                "{hop:?}"
            );
            assert_eq!(hop[12..17], ["-p", "22", "-i", "/id", "h1"]);
            assert_eq!(hop.len(), 18, "{hop:?}");
            let hop_script = carried(&hop[17]);
            assert!(hop_script.contains(scheduler), "{hop_script}");
            // The launcher crosses condor_ssh_to_job in base64.
            assert!(
                scheduler == "condor_ssh_to_job"
                    || hop_script.contains("ssh-ed25519 PINNED")
                        && hop_script.contains("ssh-ed25519 CLIENT cssh job key"),
                "{hop_script}"
            );
            // The session's script runs on the job's node: it submits nothing.
            let Decision::Container { script } = &p.decision else {
                panic!("{p:?}")
            };
            let script = String::from_utf8_lossy(script);
            assert!(
                !script.contains("sbatch") && !script.contains("condor_submit"),
                "{script}"
            );
            assert!(
                script.contains("cssh_job=${CSSH_JOB-${cssh_job-}}"),
                "{script}"
            );
            assert_eq!(carried(args.last().unwrap()), script);
        }
    }

    #[test]
    fn a_host_without_a_pin_is_pinned_first_through_the_login_node() {
        let mut local = given("slurm = []");
        local.job_keys.pinned = None;
        let p = plan(&["-l", "bob", "h1", "true"], &mut local);
        assert!(p.args.is_empty());
        let pin = p.pin.expect("a pin step");
        assert_eq!(pin.alias, "cssh-job-h1");
        let args = text(&pin.args);
        assert_eq!(args[9..12], ["-l", "bob", "h1"]);
        let script = carried(&args[12]);
        assert!(
            script.contains("ssh-ed25519 CLIENT cssh job key")
                && script.contains("cut -d' ' -f1,2 \"$cssh_kd/host_ed25519.pub\""),
            "{script}"
        );
    }

    /// Windows' OpenSSH shares no connections: there `persist` does nothing.
    #[test]
    #[cfg(unix)]
    fn persist_keeps_a_master_of_the_job_and_o_reaches_it() {
        let mut local = given("slurm = []\npersist = \"10m\"");
        local.ssh_config_silent = true;
        let p = plan(&["h1", "true"], &mut local);
        let args = text(&p.args);
        let master = args
            .iter()
            .find(|a| a.starts_with("ControlPath="))
            .unwrap()
            .clone();
        assert!(
            master.starts_with("ControlPath=/run/user/7/cssh/job-"),
            "{master}"
        );
        assert!(args.contains(&"ControlPersist=10m".to_string()), "{args:?}");
        // The hop shares the login node's connection, as the host's other sessions do.
        let hop = hop_of(&args);
        assert!(
            hop.contains(&"ControlPath=/run/user/7/cssh/%C".to_string()),
            "{hop:?}"
        );
        let check = plan(&["-O", "check", "h1"], &mut local);
        assert_eq!(text(&check.args), ["-o", &master, "-O", "check", "h1"]);
        // Another attached job has a master of its own.
        let attached = make(
            &Request {
                args: os(&["h1", "true"]),
                attach: Some(crate::settings::Attach::parse("7").unwrap()),
                ..Request::default()
            },
            &mut local,
        )
        .unwrap();
        assert!(!text(&attached.args).contains(&master));
    }

    #[test]
    fn a_tunnel_alone_goes_to_the_job_and_elsewhere_stays_plain_ssh() {
        let mut local = given("slurm = []");
        let p = plan(&["-N", "-L", "8888:localhost:8888", "h1"], &mut local);
        let args = text(&p.args);
        assert_eq!(
            args[args.len() - 4..],
            ["-N", "-L", "8888:localhost:8888", "h1"]
        );
        assert!(args[0] == "-o" && args[1].starts_with("ProxyCommand="));
        let mut plain = given("");
        let p = plan(&["-N", "-L", "8888:localhost:8888", "h1"], &mut plain);
        assert_eq!(text(&p.args), ["-N", "-L", "8888:localhost:8888", "h1"]);
        assert!(matches!(p.decision, Decision::Passthrough(_)));
    }

    #[test]
    fn a_shell_gets_a_pty_and_sftp_becomes_a_command_in_the_job() {
        let mut local = given("htcondor = []");
        let shell = text(&plan(&["h1"], &mut local).args);
        assert_eq!(shell[0], "-t");
        let sftp = text(&plan(&["-s", "h1", "sftp"], &mut local).args);
        assert!(!sftp.contains(&"-s".to_string()) && !sftp.contains(&"sftp".to_string()));
        assert!(carried(sftp.last().unwrap()).contains("sftp-server"));
        // ssh_config that names LogLevel keeps it; so does the command line.
        local.ssh_config_silent = false;
        assert!(!text(&plan(&["h1", "id"], &mut local).args).contains(&"LogLevel=ERROR".into()));
        let verbose = text(&plan(&["-v", "h1", "id"], &mut given("htcondor = []")).args);
        assert!(!verbose.contains(&"LogLevel=ERROR".into()));
    }

    #[test]
    fn host_names_a_pin_cannot_name_are_refused() {
        // An HTCondor host: a Slurm host with a comma is refused before (its job name).
        let mut local = given("htcondor = []");
        local.config = crate::config::parse(
            "[[host]]\npattern = \"*\"\nimage = \"/i\"\nhtcondor = []\n",
            Path::new("/c.toml"),
        )
        .unwrap();
        let refused = make(
            &Request {
                args: os(&["a,b", "id"]),
                ..Request::default()
            },
            &mut local,
        )
        .unwrap_err();
        assert_eq!(
            refused.to_string(),
            "refusing host name \"a,b\" for a private sshd: it holds ',', which a known_hosts file cannot name"
        );
        let _ = words::from_bytes(Vec::new());
    }
}
