//! The decision: from cssh's request (ssh's command line and cssh's own options) to the exact
//! argv the real ssh gets. Pure: what it needs from the machine (the configuration, `ssh -V`,
//! `ssh -G`, a socket directory) it asks through [`Local`], and only when the decision needs the
//! answer, so every decision is testable without a process and a plain line reads no file.
//!
//! Only the remote command changes. For a command, ssh's joined words become the remote script;
//! for a login shell the script is appended as a command and `-t` is added where ssh would have
//! asked for a pty itself; for the `sftp` subsystem, `-s` is removed and the script runs the
//! image's sftp-server. Every other word, option order included, stays byte for byte, except the
//! connection-reuse options that `persist` puts first. A session that reaches its job's own sshd
//! gets ssh's settings for it in front instead (`sshd`).
//!
//! The parts: what the machine answers (`local`), where a session runs and how it gets there
//! (`placement`), connection sharing (`reuse`), the job's own sshd (`sshd`), the job's node by ssh
//! (`node`), the host's values sent once (`values`), cssh's errands on the login node
//! (`errands`), `--proxy` (`proxy`) and the doctor's probe (`probe`); this module is the decision
//! itself.

use std::ffi::OsString;
use std::fmt;

use crate::config::{self, Resolution};
use crate::pattern::glob_match;
use crate::quote;
use crate::remote::{self, HostJob, Job, Payload, Place, Scheduler, Target, Way};
use crate::settings::{Attach, ForwardEnv, Settings, is_env_name};
use crate::ssh_args::{self, Invocation, Session, TtyRequest};
use crate::words;

mod errands;
mod local;
mod node;
mod placement;
mod probe;
mod proxy;
mod reuse;
mod sshd;
mod values;
use values::Values;

pub use errands::{Printed, allocate, attach_list, release, rsync_path, sftp_server_command};
use local::Remembering;
pub use local::{Given, JobKeys, Local};
use placement::{
    allocation, attached_scheduler, condor_job, forwards_stay, host_job, image_for, place,
    untagged_reason, way,
};
pub use probe::{Probe, SshdPin, probe};
pub use proxy::{NAME_PREFIX, ProxyPlan, proxy, ssh_config_block};
use reuse::{master_path, reuse_directory, with_connection_reuse};
pub use values::SendStep;

/// What cssh was asked to run.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// ssh's arguments, without argv[0].
    pub args: Vec<OsString>,
    /// `--image`: tags the destination for this call.
    pub image: Option<String>,
    /// `--no-container`: plain ssh, exactly as given.
    pub no_container: bool,
    /// `--attach`: the session enters this running job's container, configured or not.
    pub attach: Option<Attach>,
    /// `--explain`: read the configuration even where the decision does not need it, so the
    /// report is whole.
    pub explain: bool,
    /// Which of the user's streams are terminals.
    pub terminals: Terminals,
}

/// Which of the user's streams are terminals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Terminals {
    /// A pending Slurm allocation or HTCondor job shows its state on stderr.
    pub stderr: bool,
    /// With stderr too: an interactive login says its job's time left.
    pub stdin: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// ssh's arguments, without argv[0].
    pub args: Vec<OsString>,
    pub decision: Decision,
    pub report: Report,
    /// A connection to run before ssh: it prints the node that `args[node_at]` stands for.
    pub first_hop: Option<FirstHop>,
    /// A host key to pin before there is a plan: the args are empty, and the plan is made
    /// again once it is pinned.
    pub pin: Option<PinStep>,
    /// The hop that the ProxyCommand runs, where the session reaches its job's own sshd.
    pub hop: Option<Hop>,
    /// A line for stderr before ssh runs: what the command line does that the user may not
    /// expect (a tunnel that cannot follow the host's sessions into their job).
    pub notice: Option<String>,
    /// A connection to run before ssh: it sends the host's values (see `values`).
    pub send: Option<SendStep>,
}

/// The ProxyCommand's connection to the login node, for `--explain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// ssh's arguments, the script's word last.
    pub args: Vec<OsString>,
    /// The script the login node's /bin/sh runs.
    pub script: Vec<u8>,
}

/// An ssh connection to the login node that makes the job sshd's host key where it is missing,
/// admits this machine's client key, and prints the host key, to pin for `alias`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinStep {
    /// ssh's arguments for it.
    pub args: Vec<OsString>,
    pub alias: String,
}

/// An ssh connection to the login node that waits for the Slurm allocation and prints the name
/// of its node, the destination of the plan's own connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstHop {
    /// ssh's arguments for it.
    pub args: Vec<OsString>,
    /// Where the node's name goes in the plan's arguments.
    pub node_at: usize,
}

impl Plan {
    /// The plan's arguments once the first hop named the node (its output, trimmed).
    pub fn on_node(&self, output: &[u8]) -> Result<Vec<OsString>, Refusal> {
        let node = output.trim_ascii();
        let mut args = self.args.clone();
        let Some(hop) = &self.first_hop else {
            return Ok(args);
        };
        if node.is_empty() || node.contains(&b'\n') || hostile_host(node).is_some() {
            return Err(Refusal(format!(
                "the allocation's node is not a host name ssh takes: {:?}",
                String::from_utf8_lossy(node)
            )));
        }
        args[hop.node_at] = words::from_bytes(node.to_vec());
        Ok(args)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// ssh gets the argv cssh received, for this reason (a `-O` line for a host with `persist`:
    /// after the ControlPath of the master cssh keeps).
    Passthrough(String),
    /// The session runs in the container; `script` is what the remote `/bin/sh` runs.
    Container { script: Vec<u8> },
}

/// Where the decision came from, for `--explain`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The configuration file and whether it exists; `None` where the decision did not read it.
    pub config: Option<(String, bool)>,
    /// The destination word and its host; `None` where ssh will report the command line.
    pub destination: Option<(String, String)>,
    pub resolution: Resolution,
}

/// Why cssh stops before ssh runs: one line for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refusal {}

/// How a plan's passthrough reason starts where ssh's own grammar refuses the command line.
pub const SSH_WILL_REPORT: &str = "ssh will report the command line";

/// The plan for a request.
pub fn make(request: &Request, local: &mut dyn Local) -> anyhow::Result<Plan> {
    let local = &mut Remembering::new(local);
    let args = &request.args;
    let passthrough = |why: String, report: Report| Plan {
        args: args.clone(),
        decision: Decision::Passthrough(why),
        report,
        first_hop: None,
        pin: None,
        hop: None,
        notice: None,
        send: None,
    };
    if request.no_container && !request.explain {
        return Ok(passthrough("--no-container".into(), Report::default()));
    }
    let parsed = ssh_args::parse(args.clone(), &mut || local.grammar());
    // A line that opens no session (git's `-G` probe, `-V`) never reads the configuration, so
    // it behaves as plain ssh even while the file is being edited; `-O` does, for the master
    // that `persist` keeps.
    let reads_config = parsed.as_ref().is_ok_and(|inv| {
        inv.session() != Session::None || inv.controls_master() || inv.tunnel_only()
    });
    let mut report = Report::default();
    let config = if request.explain || (reads_config && !request.no_container) {
        let host = parsed.as_ref().ok().map(|inv| inv.host.as_encoded_bytes());
        let config = local.config(host)?;
        report.config = Some((config.file.clone(), config.found));
        Some(config)
    } else {
        None
    };
    let inv = match parsed {
        Ok(inv) => inv,
        Err(why) => {
            return Ok(passthrough(format!("{SSH_WILL_REPORT} ({why})"), report));
        }
    };
    report.destination = Some((
        inv.args[inv.destination].to_string_lossy().into_owned(),
        inv.host.to_string_lossy().into_owned(),
    ));
    if let Some(config) = &config {
        report.resolution = config::resolve(config, inv.host.as_encoded_bytes());
    }
    if request.no_container {
        return Ok(passthrough("--no-container".into(), report));
    }
    let settings = &report.resolution.settings;
    let cx = Context {
        settings,
        image_override: request.image.as_deref(),
        attach: request.attach.as_ref().or(settings.attach.as_ref()),
        config_file: report.config.as_ref().map_or("", |(file, _)| file),
        progress: request.terminals.stderr,
        terminal: request.terminals.stdin,
        values: None,
    };
    let stored = match image_for(&cx) {
        Some(_) if inv.session() != Session::None || inv.tunnel_only() => {
            values::stored(&inv, &cx, local)?
        }
        _ => None,
    };
    let (values, send) = stored.map_or((None, None), |(name, send)| (Some(name), send));
    let cx = Context {
        values: values.as_ref().map(Values::stored),
        ..cx
    };
    if inv.controls_master()
        && settings.persist.is_some()
        && let Some(image) = image_for(&cx)
        && let Some(path) = master_path(&inv, &cx, image, local)?
    {
        // `-O check|exit|stop|...` goes to the master that sessions of this host share.
        let mut args = vec![OsString::from("-o"), path];
        args.extend(inv.args.iter().cloned());
        return Ok(Plan {
            args,
            decision: Decision::Passthrough(
                "-O goes to the shared connection persist keeps (its ControlPath first)".into(),
            ),
            report,
            first_hop: None,
            pin: None,
            hop: None,
            notice: None,
            send: None,
        });
    }
    let Decided {
        mut args,
        decision,
        mut first_hop,
        pin,
        hop,
        shares_its_own,
        notice,
    } = decide(&inv, &cx, local)?;
    // A line that ends up plain ssh's runs no script that reads the values.
    let send = send.filter(|_| matches!(decision, Decision::Container { .. }));
    if let (Decision::Container { .. }, Some(persist), false) =
        (&decision, &settings.persist, shares_its_own)
        && let Some(dir) = reuse_directory(&inv, local)?
    {
        let args_before = args.len();
        args = with_connection_reuse(args, &dir, persist);
        if let Some(hop) = &mut first_hop {
            hop.args = with_connection_reuse(std::mem::take(&mut hop.args), &dir, persist);
            // `args` has the reuse options in front now.
            hop.node_at += args.len() - args_before;
        }
    }
    Ok(Plan {
        args,
        decision,
        report,
        first_hop,
        pin,
        hop,
        notice,
        // A line that ends up plain ssh's runs no script that reads them.
        send,
    })
}

/// Everything the decision depends on besides the command line.
#[derive(Clone, Copy)]
struct Context<'a> {
    settings: &'a Settings,
    /// `--image` from cssh's own options, which tags any host for one call.
    image_override: Option<&'a str>,
    /// The running job whose container sessions enter: `--attach`, else the host's `attach`.
    attach: Option<&'a Attach>,
    /// The configuration file shown in messages about the remote.
    config_file: &'a str,
    /// The user's stderr is a terminal.
    progress: bool,
    /// The user's stdin is a terminal.
    terminal: bool,
    /// The values' file on the remote, where the host sets a prelude or `env`.
    values: Option<remote::Stored<'a>>,
}

/// What [`decide`] settles: ssh's arguments, the decision, and any connection to run first.
struct Decided {
    args: Vec<OsString>,
    decision: Decision,
    first_hop: Option<FirstHop>,
    pin: Option<PinStep>,
    hop: Option<Hop>,
    /// The arguments share connections as they say already (a job's own master): `persist`
    /// adds nothing.
    shares_its_own: bool,
    /// See [`Plan::notice`].
    notice: Option<String>,
}

fn decide(inv: &Invocation, cx: &Context, local: &mut dyn Local) -> anyhow::Result<Decided> {
    let plain = |why: &str| {
        Ok(Decided {
            args: inv.args.clone(),
            decision: Decision::Passthrough(why.into()),
            first_hop: None,
            pin: None,
            hop: None,
            shares_its_own: false,
            notice: None,
        })
    };
    let Some(image) = image_for(cx) else {
        return plain(untagged_reason(cx));
    };
    let session = inv.session();
    // A tunnel alone (`-N`) goes where the host's sessions go, where its job can be reached.
    let (payload, no_session) = match payload_of(inv, &session) {
        Ok(payload) => (Some(payload), ""),
        Err(why) if inv.tunnel_only() => (None, why),
        Err(why) => return plain(why),
    };
    if inv
        .config_values("RemoteCommand")
        .any(|v| !v.eq_ignore_ascii_case(b"none"))
    {
        return Err(Refusal(
            "-o RemoteCommand cannot be combined with a container host; give the command as arguments".into(),
        )
        .into());
    }
    let host = checked_host(inv.host.as_encoded_bytes())?;
    let forwards_session = matches!(cx.settings.forward_env, None | Some(ForwardEnv::Session));
    // ssh sends what SendEnv and SetEnv say, on the command line or in an ssh_config file;
    // `ssh -G` says which, where the runtime would drop them.
    let sends = |local: &mut dyn Local| {
        ["SendEnv", "SetEnv"]
            .iter()
            .any(|k| inv.config_values(k).next().is_some())
            || local.ssh_config_may_set(inv.config_file(), &["sendenv", "setenv"])
    };
    let sent = if remote::drops_environment(cx.settings) && forwards_session && sends(local) {
        sent_variables(
            &local.resolved_ssh_config(&inv.args)?,
            &local.variable_names(),
        )
    } else {
        Vec::new()
    };
    let target = Target {
        host: &host,
        image,
        settings: cx.settings,
        config_file: cx.config_file,
        place: place(&host, image, cx, payload.unwrap_or(Payload::Shell))?,
        sent: &sent,
        values: cx.values,
    };
    if let Place::Job(_, Way::Sshd) = &target.place {
        return sshd::decide(inv, cx, &target, payload, local);
    }
    // A tunnel alone goes where the sessions go: to the job's node in node mode; a step or
    // condor_ssh_to_job carries no forwards, so there it ends on the login node, and says so.
    if payload.is_none()
        && let Place::Job(job, _) = &target.place
        // A job on either scheduler reaches it the same way on both.
        && let Some(stays) = forwards_stay(
            job.scheduler().unwrap_or(Scheduler::Slurm),
            cx.settings,
            cx.config_file,
        )
    {
        return Ok(Decided {
            notice: Some(format!(
                "{host}: {no_session}: its forwards end on the login node, not in the job ({stays}; \"sshd\", the default, takes them into the job)"
            )),
            ..plain(no_session)?
        });
    }
    let first_hop_script = match &target.place {
        Place::Job(Job::Own(HostJob::Slurm(allocation)), Way::NodeSsh) => {
            remote::node_query_script(&target, allocation)
        }
        Place::Job(Job::Attached(Scheduler::Slurm, job), Way::NodeSsh) => {
            remote::attached_node_query_script(&target, job)
        }
        _ => {
            let Some(payload) = payload else {
                return plain(no_session);
            };
            let script = remote::script(&target, payload);
            let args = session_args(inv, carry(&script)?);
            return Ok(Decided {
                args,
                decision: Decision::Container { script },
                first_hop: None,
                pin: None,
                hop: None,
                shares_its_own: false,
                notice: None,
            });
        }
    };
    node::decide(inv, &target, payload, &first_hop_script, local)
}

/// The variables ssh sends for the session, from `ssh -G`: cssh's own that a SendEnv pattern
/// matches (as ssh matches them), and the names SetEnv sets.
fn sent_variables(resolved: &str, own: &[String]) -> Vec<String> {
    let mut sent: Vec<String> = Vec::new();
    for line in resolved.lines() {
        if let Some(pattern) = line.strip_prefix("sendenv ") {
            sent.extend(
                own.iter()
                    .filter(|name| glob_match(pattern.as_bytes(), name.as_bytes()))
                    .cloned(),
            );
        } else if let Some((name, _)) = line.strip_prefix("setenv ").and_then(|a| a.split_once('='))
        {
            sent.push(name.to_string());
        }
    }
    sent.retain(|name| is_env_name(name));
    sent.sort();
    sent.dedup();
    sent
}

/// What runs in the container for a command line, or why nothing does.
fn payload_of<'a>(inv: &Invocation, session: &'a Session) -> Result<Payload<'a>, &'static str> {
    Ok(match session {
        Session::None => return Err("this command line opens no session"),
        Session::Subsystem(name) if name.as_slice() != b"sftp" => {
            return Err("a subsystem other than sftp");
        }
        Session::Shell if inv.forks_without_command() => {
            return Err("-f without a command (ssh refuses it)");
        }
        Session::Command(command) => Payload::Command(command),
        Session::Shell => Payload::Shell,
        Session::Subsystem(_) => Payload::Sftp,
    })
}

/// ssh's arguments for a session whose remote command is `command`: only the remote command
/// changes, and a login shell asks for the pty ssh would have asked for.
fn session_args(inv: &Invocation, command: OsString) -> Vec<OsString> {
    let mut args = match inv.session() {
        Session::Shell => {
            // ssh asks for a pty for a login shell but not for a command: ask for it as ssh
            // would have (it still drops it, with its usual notice, when stdin is no terminal).
            let mut args = Vec::with_capacity(inv.args.len() + 2);
            if inv.tty_request() == TtyRequest::Auto {
                args.push(OsString::from("-t"));
            }
            args.extend(inv.args.iter().cloned());
            args
        }
        Session::Subsystem(_) => {
            let mut args = inv.args_without(b"s");
            args.truncate(args.len() - (inv.args.len() - inv.command_start));
            args
        }
        _ => inv.args[..inv.command_start].to_vec(),
    };
    args.push(command);
    args
}

/// The grammar a command line cssh rewrote is parsed again with: `-P` keeps the arity the first
/// parse gave it, and `-Z` was known to it.
fn kept_grammar(inv: &Invocation) -> ssh_args::Grammar {
    ssh_args::Grammar {
        p_takes_argument: inv
            .options
            .iter()
            .find(|o| o.letter == b'P')
            .is_none_or(|o| o.value.is_some()),
        z_is_flag: true,
    }
}

/// The host name, refused where it could not be written into the remote script's messages.
fn checked_host(host: &[u8]) -> Result<String, Refusal> {
    if let Some(reason) = hostile_host(host) {
        return Err(Refusal(format!(
            "refusing host name {:?}: {reason}",
            String::from_utf8_lossy(host)
        )));
    }
    Ok(String::from_utf8_lossy(host).into_owned())
}

/// The command that carries a script past the remote login shell, if the remote takes it.
fn carry(script: &[u8]) -> Result<OsString, Refusal> {
    let command = quote::for_login_shell(script);
    if command.len() > quote::MAX_REMOTE_COMMAND {
        return Err(Refusal(format!(
            "the remote command is too long: {} bytes once wrapped, the remote kernel takes at most {} (send long scripts on stdin)",
            command.len(),
            quote::MAX_REMOTE_COMMAND
        )));
    }
    Ok(words::from_bytes(command))
}

/// The host names OpenSSH 9.6 and later refuse (`valid_hostname` in ssh.c). Older clients
/// accept them; for a container host cssh refuses them on every version, since the name also
/// appears in the remote script's messages.
fn hostile_host(host: &[u8]) -> Option<&'static str> {
    if host.first() == Some(&b'-') {
        return Some("it starts with '-'");
    }
    if host.iter().any(|&b| {
        b"'`\"$\\;&<>|(){}".contains(&b) || b.is_ascii_whitespace() || b.is_ascii_control()
    }) {
        return Some("it holds a shell metacharacter, a space or a control character");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::node::NODE;
    use super::*;
    use crate::config::Config;
    use crate::settings::Image;
    use std::ffi::OsStr;
    use std::path::{Path, PathBuf};

    fn os(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    /// A machine whose configuration is `toml`.
    fn given(toml: &str) -> Given {
        Given {
            config: crate::config::parse(toml, Path::new("/c.toml")).unwrap(),
            grammar: ssh_args::Grammar::CURRENT,
            ssh_config: String::new(),
            ssh_config_silent: false,
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

    const TAGGED: &str = "[[host]]\npattern = \"h\"\nimage = \"/img.sif\"\n";

    fn plan_in(words: &[&str], local: &mut Given) -> anyhow::Result<Plan> {
        make(
            &Request {
                args: os(words),
                ..Request::default()
            },
            local,
        )
    }

    fn plan(words: &[&str], toml: &str) -> anyhow::Result<Plan> {
        plan_in(words, &mut given(toml))
    }

    fn wrapped(payload: Payload) -> OsString {
        let settings = Settings {
            image: Some(Image::Path("/img.sif".into())),
            ..Settings::default()
        };
        let target = Target {
            host: "h",
            image: "/img.sif",
            settings: &settings,
            config_file: "/c.toml",
            place: Place::Here,
            sent: &[],
            values: None,
        };
        words::from_bytes(quote::for_login_shell(&remote::script(&target, payload)))
    }

    #[test]
    fn an_attached_host_enters_the_job_without_an_image_for_every_payload() {
        let attached =
            "[[host]]\npattern = \"h\"\nattach = { name = \"train\" }\nslurm_connect = \"srun\"\n";
        for words in [&["h"][..], &["h", "ls"], &["-s", "h", "sftp"]] {
            let plan = plan(words, attached).unwrap();
            let Decision::Container { script } = &plan.decision else {
                panic!("{words:?}: {plan:?}");
            };
            let script = String::from_utf8_lossy(script);
            assert!(
                script.contains("--name=train ") && script.contains("srun --jobid=\"$cssh_job\""),
                "{words:?}: {script}"
            );
            assert!(!script.contains("-s instance start"), "{script}");
            assert_eq!(plan.first_hop, None);
        }
        // --attach on the command line tags any host; by ssh, a first hop names the node.
        let mut local = given("[[host]]\npattern = \"h\"\nslurm_connect = \"ssh\"\n");
        local.ssh_config = "user alice\n".into();
        let plan = make(
            &Request {
                args: os(&["h", "true"]),
                attach: Some(Attach::parse("42.3").unwrap()),
                ..Request::default()
            },
            &mut local,
        )
        .unwrap();
        let hop = plan.first_hop.clone().expect("a first hop");
        assert_eq!(&plan.args[..4], &os(&["-J", "h", "-l", "alice"])[..]);
        assert_eq!(plan.on_node(b"node7\n").unwrap()[hop.node_at], "node7");
        let Decision::Container { script } = &plan.decision else {
            panic!("{plan:?}");
        };
        let script = String::from_utf8_lossy(script);
        assert!(
            script.contains("cssh_job=42\n") && script.contains("cssh_pick 3\n"),
            "{script}"
        );
        assert!(
            !script.contains("exec srun"),
            "entered on the node itself: {script}"
        );
    }

    #[test]
    fn untagged_hosts_pass_through_byte_for_byte() {
        let words = ["-p", "22", "other", "echo", "a  b"];
        let p = plan(&words, TAGGED).unwrap();
        assert_eq!(p.args, os(&words));
        assert_eq!(
            p.decision,
            Decision::Passthrough("no image for this host".into())
        );
        let none = "[[host]]\npattern = \"*\"\nimage = \"none\"\n";
        let p = plan(&["h", "id"], none).unwrap();
        assert_eq!(p.args, os(&["h", "id"]));
        assert_eq!(
            p.decision,
            Decision::Passthrough("image = \"none\" for this host".into())
        );
    }

    /// A configuration that cannot be read: lines that must not read it prove they do not.
    struct Unreadable;

    impl Local for Unreadable {
        fn grammar(&mut self) -> ssh_args::Grammar {
            ssh_args::Grammar::CURRENT
        }
        fn config(&mut self, _: Option<&[u8]>) -> anyhow::Result<Config> {
            anyhow::bail!("the configuration was read")
        }
        fn resolved_ssh_config(&mut self, _: &[OsString]) -> anyhow::Result<String> {
            anyhow::bail!("ssh -G ran")
        }
        fn control_dir(&mut self) -> anyhow::Result<PathBuf> {
            anyhow::bail!("a socket directory was made")
        }
        fn variable_names(&mut self) -> Vec<String> {
            Vec::new()
        }
    }

    #[test]
    fn sessionless_and_unparsable_lines_pass_through_without_reading_the_configuration() {
        for words in [&["-G", "h"][..], &["-V"], &["-j", "h"], &["-p"]] {
            let request = Request {
                args: os(words),
                ..Request::default()
            };
            let p = make(&request, &mut Unreadable).unwrap();
            assert_eq!(p.args, os(words), "{words:?}");
            assert!(matches!(p.decision, Decision::Passthrough(_)));
        }
        let no_container = Request {
            args: os(&["h", "id"]),
            no_container: true,
            ..Request::default()
        };
        assert_eq!(
            make(&no_container, &mut Unreadable).unwrap().args,
            os(&["h", "id"])
        );
    }

    #[test]
    fn sessionless_lines_pass_through_even_when_tagged() {
        for words in [
            &["-G", "h"][..],
            &["-N", "h"],
            &["-O", "check", "h"],
            &["-s", "h", "netconf"],
            &["-f", "h"],
        ] {
            let p = plan(words, TAGGED).unwrap();
            assert_eq!(p.args, os(words), "{words:?}");
            assert!(matches!(p.decision, Decision::Passthrough(_)));
        }
    }

    #[test]
    fn the_report_is_filled_on_every_path() {
        let mut local = given(TAGGED);
        let explain = |words: &[&str], local: &mut Given| {
            let request = Request {
                args: os(words),
                explain: true,
                ..Request::default()
            };
            make(&request, local).unwrap()
        };
        let unparsable = explain(&["-j", "h"], &mut local);
        assert_eq!(unparsable.report.config, Some(("/c.toml".into(), true)));
        assert_eq!(unparsable.report.destination, None);
        assert_eq!(
            unparsable.decision,
            Decision::Passthrough("ssh will report the command line (unknown option -- j)".into())
        );
        let sessionless = explain(&["-G", "u@h"], &mut local);
        assert_eq!(
            sessionless.report.destination,
            Some(("u@h".into(), "h".into()))
        );
        assert_eq!(sessionless.report.resolution.matched, vec![(2, "h".into())]);
    }

    #[test]
    fn command_words_become_the_script() {
        let p = plan(&["-v", "h", "-p", "22", "--", "echo", "a  b"], TAGGED).unwrap();
        let mut expected = os(&["-v", "h", "-p", "22", "--"]);
        expected.push(wrapped(Payload::Command(b"echo a  b")));
        assert_eq!(p.args, expected);
    }

    #[test]
    fn login_shell_asks_for_a_pty_like_ssh() {
        // ssh asks for a pty for a login shell unless told otherwise; the rewritten session has
        // a command, so cssh says -t itself, and keeps the user's -T or -tt.
        for (given, sent) in [
            (&["h"][..], ["-t", "h"]),
            (&["-T", "h"], ["-T", "h"]),
            (&["-tt", "h"], ["-tt", "h"]),
        ] {
            let p = plan(given, TAGGED).unwrap();
            assert_eq!(p.args[..2], os(&sent), "{given:?}");
            assert_eq!(p.args[2..], [wrapped(Payload::Shell)], "{given:?}");
        }
    }

    #[test]
    fn sftp_subsystem_runs_the_images_sftp_server() {
        let words = [
            "-x",
            "-oForwardAgent=no",
            "-p",
            "2222",
            "-l",
            "u",
            "-s",
            "--",
            "h",
            "sftp",
        ];
        let p = plan(&words, TAGGED).unwrap();
        let mut expected = os(&[
            "-x",
            "-oForwardAgent=no",
            "-p",
            "2222",
            "-l",
            "u",
            "--",
            "h",
        ]);
        expected.push(wrapped(Payload::Sftp));
        assert_eq!(p.args, expected);
    }

    #[test]
    fn refusals() {
        let tag_all = "[[host]]\npattern = \"*\"\nimage = \"/img.sif\"\n";
        let refusal = |words: &[&str]| plan(words, tag_all).unwrap_err().to_string();
        assert!(
            refusal(&["h;touch /tmp/x", "id"]).starts_with("refusing host name \"h;touch /tmp/x\"")
        );
        assert!(refusal(&["-o", "RemoteCommand=bash", "h"]).contains("RemoteCommand"));
        assert!(plan(&["-oRemoteCommand=none", "h", "id"], tag_all).is_ok());
        // Plain characters travel as themselves, others in base64 once escapes would not fit.
        assert!(plan(&["h", &"x".repeat(120 * 1024)], tag_all).is_ok());
        assert!(plan(&["h", &"\\".repeat(90 * 1024)], tag_all).is_ok());
        assert!(refusal(&["h", &"\\".repeat(100 * 1024)]).contains("too long"));
        assert!(refusal(&["h", &"x".repeat(128 * 1024)]).contains("too long"));
    }

    #[test]
    #[cfg(windows)]
    fn persist_does_nothing_with_windows_ssh() {
        let persisting = format!("{TAGGED}persist = \"10m\"\n");
        let p = plan(&["h", "id"], &persisting).unwrap();
        assert_eq!(p.args[0], "h", "{:?}", p.args);
    }

    #[test]
    #[cfg(unix)]
    fn persist_reuses_the_connection_unless_multiplexing_is_decided() {
        let persisting = format!("{TAGGED}persist = \"10m\"\n");
        let p = plan(&["h", "id"], &persisting).unwrap();
        assert_eq!(
            p.args[..7],
            os(&[
                "-o",
                "ControlMaster=auto",
                "-o",
                "ControlPath=/run/user/7/cssh/%C",
                "-o",
                "ControlPersist=10m",
                "h",
            ])
        );
        let mut decided_by_ssh_config = given(&persisting);
        decided_by_ssh_config.ssh_config =
            "user bob\ncontrolmaster auto\ncontrolpath none\n".into();
        assert_eq!(
            plan_in(&["h", "id"], &mut decided_by_ssh_config)
                .unwrap()
                .args[0],
            "h"
        );
        assert_eq!(
            plan(&["-S", "/s", "h", "id"], &persisting).unwrap().args[0],
            "-S"
        );
        // Untagged hosts never ask ssh -G.
        let request = Request {
            args: os(&["other", "id"]),
            ..Request::default()
        };
        assert!(make(&request, &mut given(&persisting)).is_ok());
        assert!(!reuse::multiplexing_configured(
            "user bob\ncontrolmaster false\ncontrolpath none\n"
        ));
        assert!(reuse::multiplexing_configured(
            "controlmaster false\ncontrolpath ~/.ssh/cm-%C\n"
        ));
    }

    /// A [`Given`] that counts its `ssh -G` runs.
    struct Counting {
        given: Given,
        resolved: usize,
    }

    impl Local for Counting {
        fn grammar(&mut self) -> ssh_args::Grammar {
            self.given.grammar()
        }
        fn config(&mut self, _: Option<&[u8]>) -> anyhow::Result<Config> {
            self.given.config(None)
        }
        fn resolved_ssh_config(&mut self, args: &[OsString]) -> anyhow::Result<String> {
            self.resolved += 1;
            self.given.resolved_ssh_config(args)
        }
        fn ssh_config_may_set(&mut self, file: Option<&OsStr>, keywords: &[&str]) -> bool {
            self.given.ssh_config_may_set(file, keywords)
        }
        fn control_dir(&mut self) -> anyhow::Result<PathBuf> {
            self.given.control_dir()
        }
        fn variable_names(&mut self) -> Vec<String> {
            self.given.variable_names()
        }
    }

    #[test]
    fn under_cleanenv_what_ssh_sends_comes_in_and_ssh_g_runs_once() {
        let toml = format!("{TAGGED}options = [\"--cleanenv\"]\npersist = \"1m\"\n");
        let mut local = Counting {
            given: Given {
                ssh_config: "user bob\nsendenv LANG\nsendenv GIT_*\nsetenv FOO=a b\n".into(),
                variable_names: ["GIT_DIR", "HOME", "LANG", "GIT-X"]
                    .map(String::from)
                    .to_vec(),
                ..given(&toml)
            },
            resolved: 0,
        };
        let request = Request {
            args: os(&["h", "id"]),
            ..Request::default()
        };
        let plan = make(&request, &mut local).unwrap();
        assert_eq!(local.resolved, 1, "ssh -G runs once");
        let Decision::Container { script } = plan.decision else {
            panic!("{plan:?}");
        };
        let script = String::from_utf8(script).unwrap();
        for sent in ["GIT_DIR", "FOO", "LANG"] {
            assert!(
                script.contains(&format!("${{{sent}+\"{sent}=${sent}\"}}")),
                "{sent}: {script}"
            );
        }
        assert!(!script.contains("${HOME+"), "{script}");
        assert!(!script.contains("GIT-X"), "{script}");
        // Without --cleanenv the runtime passes the session's variables itself: no ssh -G.
        let mut untouched = Counting {
            given: given(TAGGED),
            resolved: 0,
        };
        make(&request, &mut untouched).unwrap();
        assert_eq!(untouched.resolved, 0);
    }

    #[test]
    fn ssh_g_runs_only_where_ssh_config_could_decide() {
        let toml = format!("{TAGGED}options = [\"--cleanenv\"]\npersist = \"1m\"\n");
        let silent = |args: &[&str]| {
            let mut local = Counting {
                given: Given {
                    ssh_config: "user bob\nsendenv LANG\n".into(),
                    ssh_config_silent: true,
                    variable_names: vec!["LANG".into()],
                    ..given(&toml)
                },
                resolved: 0,
            };
            let request = Request {
                args: os(args),
                ..Request::default()
            };
            let plan = make(&request, &mut local).unwrap();
            (plan.args, local.resolved)
        };
        let (args, resolved) = silent(&["h", "id"]);
        assert_eq!(
            resolved, 0,
            "no file mentions multiplexing, SendEnv or SetEnv"
        );
        assert_eq!(
            args.contains(&OsString::from("ControlPersist=1m")),
            cfg!(unix),
            "{args:?}"
        );
        // SendEnv on the command line: ssh -G says what it sends.
        let (_, resolved) = silent(&["-o", "SendEnv=LANG", "h", "id"]);
        assert_eq!(resolved, 1);
    }

    #[test]
    #[cfg(unix)]
    fn a_control_command_reaches_the_master_persist_keeps() {
        let with_persist = format!("{TAGGED}persist = \"1m\"\n");
        for (toml, words, reaches) in [
            (&with_persist[..], &["-O", "check", "h"][..], true),
            (&with_persist, &["-O", "exit", "h"], true),
            (TAGGED, &["-O", "check", "h"], false),
            (&with_persist, &["-O", "check", "other"], false),
            (&with_persist, &["-S", "/s", "-O", "check", "h"], false),
        ] {
            let p = plan(words, toml).unwrap();
            assert!(matches!(p.decision, Decision::Passthrough(_)));
            let expected = if reaches {
                [&["-o", "ControlPath=/run/user/7/cssh/%C"][..], words].concat()
            } else {
                words.to_vec()
            };
            assert_eq!(p.args, os(&expected), "{words:?}");
        }
    }

    #[test]
    fn the_doctors_probe_says_how_to_look_by_hand_with_the_users_options() {
        let config = crate::config::parse(TAGGED, Path::new("/c.toml")).unwrap();
        let p = probe(
            &os(&["-F", "my cfg", "-p", "1"]),
            &OsString::from("h"),
            None,
            &config,
            &mut given(TAGGED),
        )
        .unwrap();
        assert_eq!(p.by_hand, "ssh -v -F 'my cfg' -p 1 h true");
    }

    #[test]
    fn image_override_tags_any_host() {
        let request = Request {
            args: os(&["elsewhere", "id"]),
            image: Some("/x.sif".into()),
            ..Request::default()
        };
        let p = make(&request, &mut given(TAGGED)).unwrap();
        assert!(matches!(p.decision, Decision::Container { .. }));
    }

    /// A tunnel alone (`-N -L`) goes where the host's sessions go: the job's sshd, the job's
    /// node in node mode; through a step or condor_ssh_to_job, which carry no forwards, it ends
    /// on the login node and says so before ssh runs.
    #[test]
    fn a_tunnel_alone_follows_the_sessions_or_says_where_it_ends() {
        let tunnel = ["-N", "-L", "8888:localhost:8888", "h"];
        let mut local = given(&format!("{TAGGED}slurm = []\nslurm_connect = \"ssh\"\n"));
        local.ssh_config = "user alice\n".into();
        let node = plan_in(&tunnel, &mut local).unwrap();
        let hop = node
            .first_hop
            .as_ref()
            .expect("the node is asked for first");
        assert!(
            !hop.args.contains(&"-N".into()),
            "the first connection runs its command: {:?}",
            hop.args
        );
        assert_eq!(node.args[hop.node_at], OsString::from(NODE));
        assert!(
            node.args.contains(&"-N".into()) && node.args.contains(&"8888:localhost:8888".into())
        );
        assert_eq!(node.notice, None);
        let sshd = plan(&tunnel, &format!("{TAGGED}slurm = []\n")).unwrap();
        assert!(
            sshd.hop.is_some() && sshd.notice.is_none(),
            "{:?}",
            sshd.args
        );
        for (toml, stays) in [
            (
                format!("{TAGGED}slurm = []\nslurm_connect = \"srun\"\n"),
                "slurm_connect = \"srun\" in /c.toml:5",
            ),
            (
                format!("{TAGGED}htcondor = []\nhtcondor_connect = \"condor_ssh_to_job\"\n"),
                "htcondor_connect = \"condor_ssh_to_job\" in /c.toml:5",
            ),
        ] {
            let stay = plan(&tunnel, &toml).unwrap();
            assert_eq!(stay.args, os(&tunnel), "plain ssh");
            assert_eq!(
                stay.notice.as_deref(),
                Some(format!("h: this command line opens no session: its forwards end on the login node, not in the job ({stays}; \"sshd\", the default, takes them into the job)").as_str())
            );
        }
        assert_eq!(
            plan(&tunnel, TAGGED).unwrap().notice,
            None,
            "no job: no notice"
        );
    }

    #[test]
    fn slurm_sessions_run_in_the_job_and_transfers_where_configured() {
        let runs_in_job = |words: &[&str], transfers: &str| {
            let toml =
                format!("{TAGGED}slurm = [\"-p\", \"gpu\"]\nslurm_connect = \"srun\"\n{transfers}");
            match plan(words, &toml).unwrap().decision {
                Decision::Container { script } => {
                    let script = String::from_utf8(script).unwrap();
                    assert_eq!(
                        script.contains("sbatch"),
                        script.contains(" srun "),
                        "{script}"
                    );
                    script.contains(" srun ")
                }
                Decision::Passthrough(why) => panic!("{why}"),
            }
        };
        for transfers in ["", "slurm_transfers = \"login\"\n"] {
            assert!(runs_in_job(&["h", "make"], transfers));
            assert!(runs_in_job(&["h"], transfers));
            assert!(!runs_in_job(&["-s", "h", "sftp"], transfers));
            assert!(!runs_in_job(&["h", "scp", "-t", "/x"], transfers));
            assert!(!runs_in_job(&["h", "rsync", "--server", "."], transfers));
            assert!(!runs_in_job(&["h", "git-upload-pack", "'/r'"], transfers));
        }
        let job = "slurm_transfers = \"job\"\n";
        assert!(runs_in_job(&["-s", "h", "sftp"], job));
        assert!(runs_in_job(&["h", "scp", "-f", "/x"], job));
    }

    #[test]
    fn htcondor_sessions_and_transfers_all_run_in_the_job() {
        let script_of = |words: &[&str], toml: &str| match plan(words, toml).unwrap().decision {
            Decision::Container { script } => String::from_utf8(script).unwrap(),
            Decision::Passthrough(why) => panic!("{why}"),
        };
        let toml = format!(
            "{TAGGED}htcondor = [\"request_cpus = 2\"]\nhtcondor_connect = \"condor_ssh_to_job\"\n"
        );
        for words in [
            &["h", "make"][..],
            &["h"],
            &["-s", "h", "sftp"],
            &["h", "scp", "-t", "/x"],
            &["h", "git-upload-pack", "'/r'"],
        ] {
            let script = script_of(words, &toml);
            assert!(
                script.contains("condor_submit -terse")
                    && script.contains("exec condor_ssh_to_job"),
                "{words:?}: {script}"
            );
            assert!(script.contains("'request_cpus = 2' queue"), "{script}");
        }
        // Attached, the job is HTCondor's too: found, never submitted.
        let attached = format!(
            "{TAGGED}htcondor = []\nhtcondor_connect = \"condor_ssh_to_job\"\nattach = \"12.3\"\n"
        );
        let script = script_of(&["h", "id"], &attached);
        assert!(
            script.starts_with("cssh_job=12.3\n") && !script.contains("condor_submit"),
            "{script}"
        );
        for (extra, refused) in [
            (
                "instance = \"dev\"",
                "h: instance (/c.toml:5) is Apptainer's: with Charliecloud's runtime (/c.toml:4) each session is a new container",
            ),
            (
                "htcondor = []",
                "h: htcondor (/c.toml:5) runs the job's container with the pool's runtime, not Charliecloud's runtime (/c.toml:4)",
            ),
            (
                "env = { TOKEN = \"t\" }\noptions = [\"--unset-env=*\"]",
                "h: env (/c.toml:5) cannot reach a container whose options (/c.toml:6) unset the environment with Charliecloud's runtime (/c.toml:4): set the variables in the image, or drop --unset-env",
            ),
        ] {
            for runtime in ["charliecloud", "/opt/ch/bin/ch-run"] {
                let toml = format!("{TAGGED}runtime = {runtime:?}\n{extra}\n");
                assert_eq!(
                    plan(&["h", "id"], &toml).unwrap_err().to_string(),
                    refused,
                    "{runtime}"
                );
            }
        }
        let uri =
            "[[host]]\npattern = \"h\"\nimage = \"docker://debian\"\nruntime = \"charliecloud\"\n";
        assert_eq!(
            plan(&["h", "id"], uri).unwrap_err().to_string(),
            "h: Charliecloud's runtime (/c.toml:4) runs a directory or SquashFS image on the remote, not docker://debian"
        );
        let both = format!("{TAGGED}slurm = []\nhtcondor = []\n");
        assert_eq!(
            plan(&["h", "id"], &both).unwrap_err().to_string(),
            "h: slurm (/c.toml:4) and htcondor (/c.toml:5) are both set; a host runs its sessions under one scheduler"
        );
        let p = release(
            &Request {
                args: os(&["h"]),
                ..Request::default()
            },
            &mut given(&toml),
        )
        .unwrap();
        let Decision::Container { script } = p.decision else {
            panic!("a remote script")
        };
        assert!(
            String::from_utf8(script)
                .unwrap()
                .contains("condor_rm $cssh_job")
        );
    }

    #[test]
    fn release_cancels_only_slurm_hosts() {
        let request = |words: &[&str]| Request {
            args: os(words),
            ..Request::default()
        };
        let with_slurm = format!("{TAGGED}slurm = []\n");
        let p = release(&request(&["-p", "22", "h"]), &mut given(&with_slurm)).unwrap();
        assert_eq!(p.args[..3], os(&["-p", "22", "h"]));
        let Decision::Container { script } = p.decision else {
            panic!("a remote script")
        };
        assert!(String::from_utf8(script).unwrap().contains("scancel"));
        let refused = |words: &[&str], toml: &str| {
            release(&request(words), &mut given(toml))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            refused(&["h"], TAGGED),
            "h has no Slurm allocation or HTCondor job to release (no slurm or htcondor for it in /c.toml)"
        );
        assert_eq!(
            refused(&["h", "id"], &with_slurm),
            "--release takes a destination and no command"
        );
    }

    /// Slurm splits job names at commas: `cssh --release gpu,train` would cancel `train` too.
    #[test]
    fn a_host_name_with_a_comma_gets_no_slurm_job() {
        let toml = "[[host]]\npattern = \"*\"\nimage = \"/i.sif\"\nslurm = []\n";
        let expected = "refusing host name \"gpu,train\" for a Slurm allocation (slurm in /c.toml:4): Slurm splits job names at commas, so its job would be found among others";
        let request = Request {
            args: os(&["gpu,train"]),
            ..Request::default()
        };
        assert_eq!(
            release(&request, &mut given(toml)).unwrap_err().to_string(),
            expected
        );
        assert_eq!(
            allocate(&request, &mut given(toml))
                .unwrap_err()
                .to_string(),
            expected
        );
        assert_eq!(
            plan(&["gpu,train", "id"], toml).unwrap_err().to_string(),
            expected
        );
        let no_job = "[[host]]\npattern = \"*\"\nimage = \"/i.sif\"\n";
        assert!(
            plan(&["gpu,train", "id"], no_job).is_ok(),
            "no job, no refusal"
        );
    }

    #[test]
    fn allocate_waits_for_the_hosts_job_and_opens_no_session() {
        let request = |words: &[&str]| Request {
            args: os(words),
            ..Request::default()
        };
        let script = |toml: &str| {
            let p = allocate(&request(&["-l", "u", "h"]), &mut given(toml)).unwrap();
            assert_eq!(p.args[..3], os(&["-l", "u", "h"]));
            let Decision::Container { script } = p.decision else {
                panic!("a remote script")
            };
            String::from_utf8(script).unwrap()
        };
        let slurm = script(&format!("{TAGGED}slurm = []\n"));
        assert!(slurm.contains("sbatch") && slurm.contains("%L"), "{slurm}");
        assert!(!slurm.contains("srun"), "no session: {slurm}");
        let condor = script(&format!("{TAGGED}htcondor = []\n"));
        assert!(
            condor.contains("condor_submit") && condor.contains("AllowedJobDuration"),
            "{condor}"
        );
        assert!(!condor.contains("nsenter"), "no session: {condor}");
        let refused = |toml: &str| {
            allocate(&request(&["h"]), &mut given(toml))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            refused(TAGGED),
            "h has no Slurm allocation or HTCondor job to allocate (no slurm or htcondor for it in /c.toml)"
        );
        assert_eq!(
            refused("[[host]]\npattern = \"h\"\nslurm = []\n"),
            "h has no image: no image for this host"
        );
        assert_eq!(
            refused("[[host]]\npattern = \"h\"\nattach = \"train\"\n"),
            "h enters a running job of yours (attach in /c.toml:3): it has no allocation or HTCondor job of its own to allocate"
        );
    }

    #[test]
    fn rsync_path_needs_a_tagged_destination() {
        let request = |words: &[&str]| Request {
            args: os(words),
            ..Request::default()
        };
        let value = rsync_path(&request(&["-p", "22", "h"]), &mut given(TAGGED)).unwrap();
        assert!(value.command.starts_with(b"/bin/sh -c '"));
        assert_eq!(value.send, None, "no values to send");
        assert_eq!(
            rsync_path(&request(&["other"]), &mut given(TAGGED))
                .unwrap_err()
                .to_string(),
            "other has no image: no image for this host"
        );
        assert_eq!(
            rsync_path(&request(&["-p"]), &mut given(TAGGED))
                .unwrap_err()
                .to_string(),
            "--rsync-path needs a destination, as ssh takes it (option requires an argument -- p)"
        );
    }
}
