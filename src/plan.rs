//! The decision: from a parsed ssh command line and a host's settings to the exact argv the real
//! ssh gets. Pure data in, pure data out, so every decision is testable without a process.
//!
//! Only the remote command changes. For a command, ssh's joined words become the remote script;
//! for a login shell the script is appended as a command and `-t` is added where ssh would have
//! asked for a pty itself; for the `sftp` subsystem, `-s` is removed and the script runs the
//! image's sftp-server. Every other word, option order included, stays byte for byte.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use crate::config::Image;
use crate::quote;
use crate::remote::{self, Payload, Target};
use crate::settings::HostSettings;
use crate::ssh_args::{Invocation, Session, TtyRequest};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// ssh's arguments, without argv[0].
    pub args: Vec<OsString>,
    pub decision: Decision,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// ssh gets exactly the argv cssh received.
    Passthrough(String),
    /// The session runs in the container; `script` is what the remote `/bin/sh` runs.
    Container { script: Vec<u8> },
}

/// Errors that stop cssh before ssh runs; each is one line for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

pub fn passthrough(args: Vec<OsString>, why: impl Into<String>) -> Plan {
    Plan {
        args,
        decision: Decision::Passthrough(why.into()),
    }
}

/// Everything the decision depends on besides the command line.
pub struct Context<'a> {
    pub settings: &'a HostSettings,
    /// `--image` from cssh's own options, which tags any host for one call.
    pub image_override: Option<&'a str>,
    /// The configuration file shown in messages about the remote.
    pub config_file: &'a str,
}

pub fn decide(inv: &Invocation, cx: &Context) -> Result<Plan, Refusal> {
    let Some(image) = image_for(cx) else {
        return Ok(passthrough(inv.args.clone(), untagged_reason(cx)));
    };
    let session = inv.session();
    let payload = match &session {
        Session::None => {
            return Ok(passthrough(
                inv.args.clone(),
                "this command line opens no session",
            ));
        }
        Session::Subsystem(name) if name.as_slice() != b"sftp" => {
            return Ok(passthrough(inv.args.clone(), "a subsystem other than sftp"));
        }
        Session::Shell if inv.forks_without_command() => {
            return Ok(passthrough(
                inv.args.clone(),
                "-f without a command (ssh refuses it)",
            ));
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
    Ok(Plan {
        args,
        decision: Decision::Container { script },
    })
}

/// `args` with ssh's connection sharing turned on: the first connection to a host becomes a
/// master that stays `persist` after its last session, and later ones ride on it, skipping the
/// handshake. Options go first, where they win over ssh_config (the caller has checked that
/// neither the command line nor ssh_config decides multiplexing already).
pub fn with_connection_reuse(
    args: Vec<OsString>,
    control_dir: &Path,
    persist: &str,
) -> Vec<OsString> {
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
pub fn multiplexing_configured(resolved: &str) -> bool {
    resolved.lines().any(|line| {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        (key == "controlmaster" && value != "false") || (key == "controlpath" && value != "none")
    })
}

/// The value for `rsync --rsync-path` that runs the image's rsync on `host`, for users who keep
/// another transport than cssh: rsync appends its server arguments, which the remote login
/// shell splits and the script hands to rsync unchanged.
pub fn rsync_path(host: &[u8], cx: &Context) -> Result<Vec<u8>, Refusal> {
    let image = image_for(cx).ok_or_else(|| {
        Refusal(format!(
            "{} has no image: {}",
            String::from_utf8_lossy(host),
            untagged_reason(cx)
        ))
    })?;
    let (_, command) = wrap(host, image, cx, Payload::Arguments("rsync"))?;
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
    let script = remote::script(&target, payload).map_err(|e| Refusal(e.to_string()))?;
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
    use crate::ssh_args::parse;

    fn os(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    fn plan(words: &[&str], settings: &HostSettings) -> Result<Plan, Refusal> {
        let inv = parse(os(words), &mut || true).unwrap();
        decide(
            &inv,
            &Context {
                settings,
                image_override: None,
                config_file: "/c.toml",
            },
        )
    }

    fn tagged() -> HostSettings {
        HostSettings {
            image: Some(Image::Path("/img.sif".into())),
            ..HostSettings::default()
        }
    }

    fn wrapped(payload: Payload) -> OsString {
        let settings = tagged();
        let target = Target {
            host: "h",
            image: "/img.sif",
            settings: &settings,
            config_file: "/c.toml",
        };
        OsString::from_vec(quote::for_login_shell(
            &remote::script(&target, payload).unwrap(),
        ))
    }

    #[test]
    fn untagged_hosts_pass_through_byte_for_byte() {
        let words = ["-p", "22", "h", "echo", "a  b"];
        let p = plan(&words, &HostSettings::default()).unwrap();
        assert_eq!(p.args, os(&words));
        assert!(matches!(p.decision, Decision::Passthrough(_)));
        let none = HostSettings {
            image: Some(Image::None),
            ..HostSettings::default()
        };
        assert_eq!(plan(&words, &none).unwrap().args, os(&words));
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
            let p = plan(words, &tagged()).unwrap();
            assert_eq!(p.args, os(words), "{words:?}");
            assert!(matches!(p.decision, Decision::Passthrough(_)));
        }
    }

    #[test]
    fn command_words_become_the_script() {
        let p = plan(&["-v", "h", "-p", "22", "--", "echo", "a  b"], &tagged()).unwrap();
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
            let p = plan(given, &tagged()).unwrap();
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
        let p = plan(&words, &tagged()).unwrap();
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
        let hostile = plan(&["h;touch /tmp/x", "id"], &HostSettings { ..tagged() }).unwrap_err();
        assert!(
            hostile
                .0
                .starts_with("refusing host name \"h;touch /tmp/x\""),
            "{hostile:?}"
        );
        let rc = plan(&["-o", "RemoteCommand=bash", "h"], &tagged()).unwrap_err();
        assert!(rc.0.contains("RemoteCommand"));
        assert!(plan(&["-oRemoteCommand=none", "h", "id"], &tagged()).is_ok());
        let long = "x".repeat(100 * 1024);
        assert!(
            plan(&["h", &long], &tagged())
                .unwrap_err()
                .0
                .contains("too long")
        );
    }

    #[test]
    fn connection_reuse_goes_first() {
        let args = with_connection_reuse(os(&["h", "id"]), Path::new("/run/user/7/cssh"), "10m");
        assert_eq!(
            args,
            os(&[
                "-o",
                "ControlMaster=auto",
                "-o",
                "ControlPath=/run/user/7/cssh/%C",
                "-o",
                "ControlPersist=10m",
                "h",
                "id"
            ])
        );
        assert!(!multiplexing_configured(
            "user bob\ncontrolmaster false\ncontrolpath none\n"
        ));
        assert!(multiplexing_configured(
            "controlmaster auto\ncontrolpath none\n"
        ));
        assert!(multiplexing_configured(
            "controlmaster false\ncontrolpath ~/.ssh/cm-%C\n"
        ));
    }

    #[test]
    fn image_override_tags_any_host() {
        let inv = parse(os(&["h", "id"]), &mut || true).unwrap();
        let settings = HostSettings::default();
        let p = decide(
            &inv,
            &Context {
                settings: &settings,
                image_override: Some("/x.sif"),
                config_file: "/c",
            },
        )
        .unwrap();
        assert!(matches!(p.decision, Decision::Container { .. }));
    }
}
