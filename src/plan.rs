//! The decision: from cssh's request (ssh's command line and cssh's own options) to the exact
//! argv the real ssh gets. Pure: what it needs from the machine (the configuration, `ssh -V`,
//! `ssh -G`, a socket directory) it asks through [`Local`], and only when the decision needs the
//! answer, so every decision is testable without a process and a plain line reads no file.
//!
//! Only the remote command changes. For a command, ssh's joined words become the remote script;
//! for a login shell the script is appended as a command and `-t` is added where ssh would have
//! asked for a pty itself; for the `sftp` subsystem, `-s` is removed and the script runs the
//! image's sftp-server. Every other word, option order included, stays byte for byte, except the
//! connection-reuse options that `persist` puts first.

use std::ffi::OsString;
use std::fmt;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use crate::config::{self, Config, Resolution};
use crate::quote;
use crate::remote::{self, Payload, Target};
use crate::settings::{Image, Settings};
use crate::ssh_args::{self, Invocation, Session, TtyRequest};

/// What cssh was asked to run.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// ssh's arguments, without argv[0].
    pub args: Vec<OsString>,
    /// `--image`: tags the destination for this call.
    pub image: Option<String>,
    /// `--no-container`: plain ssh, exactly as given.
    pub no_container: bool,
    /// `--explain`: read the configuration even where the decision does not need it, so the
    /// report is whole.
    pub explain: bool,
}

/// What a plan asks of the machine it runs on.
pub trait Local {
    /// Whether the real ssh's `-P` takes an argument (OpenSSH 9.4 and later).
    fn p_takes_argument(&mut self) -> bool;
    /// The configuration.
    fn config(&mut self) -> anyhow::Result<Config>;
    /// What `ssh -G` resolves for these arguments (no connection is made).
    fn resolved_ssh_config(&mut self, args: &[OsString]) -> anyhow::Result<String>;
    /// A private directory for connection-sharing sockets.
    fn control_dir(&mut self) -> anyhow::Result<PathBuf>;
}

/// A [`Local`] that answers from given values and runs nothing: for tests and fuzzing.
#[derive(Debug, Clone, Default)]
pub struct Given {
    pub config: Config,
    pub p_takes_argument: bool,
    pub ssh_config: String,
    pub control_dir: PathBuf,
}

impl Local for Given {
    fn p_takes_argument(&mut self) -> bool {
        self.p_takes_argument
    }

    fn config(&mut self) -> anyhow::Result<Config> {
        Ok(self.config.clone())
    }

    fn resolved_ssh_config(&mut self, _: &[OsString]) -> anyhow::Result<String> {
        Ok(self.ssh_config.clone())
    }

    fn control_dir(&mut self) -> anyhow::Result<PathBuf> {
        Ok(self.control_dir.clone())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// ssh's arguments, without argv[0].
    pub args: Vec<OsString>,
    pub decision: Decision,
    pub report: Report,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// ssh gets exactly the argv cssh received, for this reason.
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

/// The plan for a request.
pub fn make(request: &Request, local: &mut dyn Local) -> anyhow::Result<Plan> {
    let args = &request.args;
    let passthrough = |why: String, report: Report| Plan {
        args: args.clone(),
        decision: Decision::Passthrough(why),
        report,
    };
    if request.no_container && !request.explain {
        return Ok(passthrough("--no-container".into(), Report::default()));
    }
    let parsed = ssh_args::parse(args.clone(), &mut || local.p_takes_argument());
    // A line that opens no session (git's `-G` probe, `-V`, `-O check`) never reads the
    // configuration, so it behaves as plain ssh even while the file is being edited.
    let opens_session = parsed
        .as_ref()
        .is_ok_and(|inv| inv.session() != Session::None);
    let mut report = Report::default();
    let config = if request.explain || (opens_session && !request.no_container) {
        let config = local.config()?;
        report.config = Some((config.file.clone(), config.found));
        Some(config)
    } else {
        None
    };
    let inv = match parsed {
        Ok(inv) => inv,
        Err(why) => {
            return Ok(passthrough(
                format!("ssh will report the command line ({why})"),
                report,
            ));
        }
    };
    report.destination = Some((
        inv.args[inv.destination].to_string_lossy().into_owned(),
        inv.host.to_string_lossy().into_owned(),
    ));
    if let Some(config) = &config {
        report.resolution = config::resolve(config, inv.host.as_bytes());
    }
    if request.no_container {
        return Ok(passthrough("--no-container".into(), report));
    }
    let settings = &report.resolution.settings;
    let cx = Context {
        settings,
        image_override: request.image.as_deref(),
        config_file: report.config.as_ref().map_or("", |(file, _)| file),
    };
    let (mut args, decision) = decide(&inv, &cx)?;
    if let (Decision::Container { .. }, Some(persist)) = (&decision, &settings.persist)
        && !inv.sets_multiplexing()
        && !multiplexing_configured(&local.resolved_ssh_config(&inv.args)?)
    {
        args = with_connection_reuse(args, &local.control_dir()?, persist);
    }
    Ok(Plan {
        args,
        decision,
        report,
    })
}

/// Everything the decision depends on besides the command line.
struct Context<'a> {
    settings: &'a Settings,
    /// `--image` from cssh's own options, which tags any host for one call.
    image_override: Option<&'a str>,
    /// The configuration file shown in messages about the remote.
    config_file: &'a str,
}

fn decide(inv: &Invocation, cx: &Context) -> Result<(Vec<OsString>, Decision), Refusal> {
    let plain = |why: &str| Ok((inv.args.clone(), Decision::Passthrough(why.into())));
    let Some(image) = image_for(cx) else {
        return plain(untagged_reason(cx));
    };
    let session = inv.session();
    let payload = match &session {
        Session::None => return plain("this command line opens no session"),
        Session::Subsystem(name) if name.as_slice() != b"sftp" => {
            return plain("a subsystem other than sftp");
        }
        Session::Shell if inv.forks_without_command() => {
            return plain("-f without a command (ssh refuses it)");
        }
        Session::Command(command) => Payload::Command(command),
        Session::Shell => Payload::Shell,
        Session::Subsystem(_) => Payload::Sftp,
    };
    if inv
        .config_values("RemoteCommand")
        .any(|v| !v.eq_ignore_ascii_case(b"none"))
    {
        return Err(Refusal(
            "-o RemoteCommand cannot be combined with a container host; give the command as arguments".into(),
        ));
    }
    let (script, command) = wrap(inv.host.as_bytes(), image, cx, payload)?;
    let args = match &session {
        Session::Shell => {
            // ssh asks for a pty for a login shell but not for a command: ask for it as ssh
            // would have (it still drops it, with its usual notice, when stdin is no terminal).
            let mut args = Vec::with_capacity(inv.args.len() + 2);
            if inv.tty_request() == TtyRequest::Auto {
                args.push(OsString::from("-t"));
            }
            args.extend(inv.args.iter().cloned());
            args.push(command);
            args
        }
        Session::Subsystem(_) => {
            let mut args = inv.args_without_subsystem_flag();
            args.truncate(args.len() - (inv.args.len() - inv.command_start));
            args.push(command);
            args
        }
        _ => {
            let mut args = inv.args[..inv.command_start].to_vec();
            args.push(command);
            args
        }
    };
    Ok((args, Decision::Container { script }))
}

/// `args` with ssh's connection sharing turned on: the first connection to a host becomes a
/// master that stays `persist` after its last session, and later ones ride on it, skipping the
/// handshake. Options go first, where they win over ssh_config (only used where neither the
/// command line nor ssh_config decides multiplexing already).
fn with_connection_reuse(args: Vec<OsString>, control_dir: &Path, persist: &str) -> Vec<OsString> {
    let mut path = OsString::from("ControlPath=");
    path.push(control_dir.join("%C"));
    let mut reused = vec![
        OsString::from("-o"),
        OsString::from("ControlMaster=auto"),
        OsString::from("-o"),
        path,
        OsString::from("-o"),
        OsString::from(format!("ControlPersist={persist}")),
    ];
    reused.extend(args);
    reused
}

/// Whether `ssh -G` output shows ssh_config setting up multiplexing for the host.
fn multiplexing_configured(resolved: &str) -> bool {
    resolved.lines().any(|line| {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        (key == "controlmaster" && value != "false") || (key == "controlpath" && value != "none")
    })
}

/// The value for `rsync --rsync-path` that runs the image's rsync on the request's
/// destination, for users who keep another transport than cssh: rsync appends its server
/// arguments, which the remote login shell splits and the script hands to rsync unchanged.
pub fn rsync_path(request: &Request, config: &Config) -> anyhow::Result<Vec<u8>> {
    // Only the destination matters here, so `-P` is read as current OpenSSH reads it.
    let inv = ssh_args::parse(request.args.clone(), &mut || true).map_err(|why| {
        Refusal(format!(
            "--rsync-path needs a destination, as ssh takes it ({why})"
        ))
    })?;
    let settings = config::resolve(config, inv.host.as_bytes()).settings;
    let cx = Context {
        settings: &settings,
        image_override: request.image.as_deref(),
        config_file: &config.file,
    };
    let image = image_for(&cx).ok_or_else(|| {
        Refusal(format!(
            "{} has no image: {}",
            inv.host.to_string_lossy(),
            untagged_reason(&cx)
        ))
    })?;
    let (_, command) = wrap(inv.host.as_bytes(), image, &cx, Payload::Arguments("rsync"))?;
    Ok(command.into_vec())
}

fn image_for<'a>(cx: &Context<'a>) -> Option<&'a str> {
    match (cx.image_override, &cx.settings.image) {
        (Some(image), _) => Some(image),
        (None, Some(Image::Path(image))) => Some(image.as_str()),
        (None, _) => None,
    }
}

fn untagged_reason(cx: &Context) -> &'static str {
    match cx.settings.image {
        Some(Image::None) => "image = \"none\" for this host",
        _ => "no image for this host",
    }
}

/// The remote script for a payload, and the command that carries it past the login shell.
fn wrap(
    host: &[u8],
    image: &str,
    cx: &Context,
    payload: Payload,
) -> Result<(Vec<u8>, OsString), Refusal> {
    if let Some(reason) = hostile_host(host) {
        return Err(Refusal(format!(
            "refusing host name {:?}: {reason}",
            String::from_utf8_lossy(host)
        )));
    }
    let host_text = String::from_utf8_lossy(host);
    let target = Target {
        host: &host_text,
        image,
        settings: cx.settings,
        config_file: cx.config_file,
    };
    let script = remote::script(&target, payload);
    let command = quote::for_login_shell(&script);
    if command.len() > quote::MAX_REMOTE_COMMAND {
        return Err(Refusal(format!(
            "the remote command is too long: {} bytes once wrapped, the remote kernel takes at most {} (send long scripts on stdin)",
            command.len(),
            quote::MAX_REMOTE_COMMAND
        )));
    }
    Ok((script, OsString::from_vec(command)))
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
    use super::*;

    fn os(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    /// A machine whose configuration is `toml`.
    fn given(toml: &str) -> Given {
        Given {
            config: crate::config::parse(toml, Path::new("/c.toml")).unwrap(),
            p_takes_argument: true,
            ssh_config: String::new(),
            control_dir: PathBuf::from("/run/user/7/cssh"),
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
        };
        OsString::from_vec(quote::for_login_shell(&remote::script(&target, payload)))
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
        fn p_takes_argument(&mut self) -> bool {
            true
        }
        fn config(&mut self) -> anyhow::Result<Config> {
            anyhow::bail!("the configuration was read")
        }
        fn resolved_ssh_config(&mut self, _: &[OsString]) -> anyhow::Result<String> {
            anyhow::bail!("ssh -G ran")
        }
        fn control_dir(&mut self) -> anyhow::Result<PathBuf> {
            anyhow::bail!("a socket directory was made")
        }
    }

    #[test]
    fn sessionless_and_unparsable_lines_pass_through_without_reading_the_configuration() {
        for words in [
            &["-G", "h"][..],
            &["-N", "h"],
            &["-O", "check", "h"],
            &["-V"],
            &["-j", "h"],
            &["-p"],
        ] {
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
        let long = "x".repeat(100 * 1024);
        assert!(refusal(&["h", &long]).contains("too long"));
    }

    #[test]
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
        assert!(!multiplexing_configured(
            "user bob\ncontrolmaster false\ncontrolpath none\n"
        ));
        assert!(multiplexing_configured(
            "controlmaster false\ncontrolpath ~/.ssh/cm-%C\n"
        ));
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

    #[test]
    fn rsync_path_needs_a_tagged_destination() {
        let request = |words: &[&str]| Request {
            args: os(words),
            ..Request::default()
        };
        let value = rsync_path(&request(&["-p", "22", "h"]), &given(TAGGED).config).unwrap();
        assert!(value.starts_with(b"/bin/sh -c '"));
        assert_eq!(
            rsync_path(&request(&["other"]), &given(TAGGED).config)
                .unwrap_err()
                .to_string(),
            "other has no image: no image for this host"
        );
        assert_eq!(
            rsync_path(&request(&["-p"]), &given(TAGGED).config)
                .unwrap_err()
                .to_string(),
            "--rsync-path needs a destination, as ssh takes it (option requires an argument -- p)"
        );
    }
}
