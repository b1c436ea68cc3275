//! `cssh --proxy [ssh options] HOST`: cssh as any SSH client's ProxyCommand. The client (plain
//! ssh, Paramiko, asyncssh, PuTTY, an IDE's own) talks SSH to a private sshd of the user's,
//! which the hop starts where `cssh HOST` would run the session: on the login node, or in the
//! host's Slurm allocation or HTCondor job, or a job attached to, always by the job's own sshd
//! there. Its sessions run what the client asks in the container (the command from
//! `SSH_ORIGINAL_COMMAND`, a login shell, sftp: `Payload::Client`), so the client needs no
//! wrapper, and its pty, forwards, agent and X11 are plain SSH's, ending where the session runs.
//!
//! The hop is the user's own ssh to the login node, with the user's ways there (ssh_config, or
//! the options given after `--proxy`), exec'd with the client's pipes as its stdin and stdout:
//! cssh is not in the data path. Keys and pinning are the job sshd's (`sshd`); a host whose key
//! is not pinned yet is pinned first, through the same ssh. Every session of a connection runs
//! where its shell would: a Slurm host's transfers run in its allocation too.
//!
//! `cssh --ssh-config [HOST...]` writes the ssh_config blocks that make it so: a name of its own
//! per host (`cssh.HOST`), so that the hop's ssh to `HOST` never meets the ProxyCommand again.

use std::ffi::OsString;
use std::path::Path;

use super::sshd::{Ready, keys_and_hop};
use super::values::Values;
use super::values::{SendStep, stored};
use super::{Context, PinStep, Refusal, carry, checked_host, image_for, local::Remembering, place};
use crate::config;
use crate::hop;
use crate::remote::{self, Payload, Place, Target, Way};
use crate::ssh_args::{self, Session};

use super::{Local, Request};

/// The name `cssh --ssh-config` gives a host's container: the host's own stays the login node's.
pub const NAME_PREFIX: &str = "cssh.";

/// What `cssh --proxy` does: pin the host key first, or exec the hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyPlan {
    /// Pin the host key this prints, then plan again.
    Pin(PinStep),
    /// ssh's arguments for the hop, the script's word last; its stdin and stdout are the
    /// client's connection. The call that sends the host's values goes first, where they have
    /// not gone yet.
    Hop(Vec<OsString>, Option<SendStep>),
}

/// The plan of `cssh --proxy`, whose request holds ssh's options and the destination.
pub fn proxy(request: &Request, local: &mut dyn Local) -> anyhow::Result<ProxyPlan> {
    let local = &mut Remembering::new(local);
    let inv = ssh_args::parse(request.args.clone(), &mut || local.grammar())
        .map_err(|why| Refusal(format!("--proxy: {why}")))?;
    if inv.session() != Session::Shell {
        return Err(Refusal(
            "--proxy takes ssh's options and a destination, no command: the client sends its own"
                .into(),
        )
        .into());
    }
    let config = local.config(Some(inv.host.as_encoded_bytes()))?;
    let resolution = config::resolve(&config, inv.host.as_encoded_bytes());
    let settings = &resolution.settings;
    let cx = Context {
        settings,
        image_override: request.image.as_deref(),
        attach: request.attach.as_ref().or(settings.attach.as_ref()),
        config_file: &config.file,
        progress: false,
        terminal: false,
        values: None,
    };
    let host = checked_host(inv.host.as_encoded_bytes())?;
    let Some(image) = image_for(&cx) else {
        return Err(Refusal(format!(
            "{host} has no image in {}: cssh --proxy serves only a host with an image (give it one, or take the ProxyCommand off this host)",
            config.file
        ))
        .into());
    };
    // However the host's sessions reach its job, a plain client's reach its sshd.
    let place = match place(&host, image, &cx, Payload::Client)? {
        Place::Job(job, _) => Place::Job(job, Way::Sshd),
        Place::Here => Place::Here,
    };
    let (values, send) = stored(&inv, &cx, local)?.map_or((None, None), |(n, s)| (Some(n), s));
    let target = Target {
        host: &host,
        image,
        settings,
        config_file: &config.file,
        place,
        sent: &[],
        values: values.as_ref().map(Values::stored),
    };
    Ok(match keys_and_hop(&inv, &cx, &target, local)? {
        Ready::Pin(pin, _) => ProxyPlan::Pin(pin),
        Ready::Keys(keys, mut hop, _) => {
            hop.push(carry(&remote::proxy_script(&target, &keys))?);
            ProxyPlan::Hop(hop, send)
        }
    })
}

/// The ssh_config block for `host`'s container, reached by `cssh` with `words` (its options,
/// `--proxy` and ssh's options), with cssh's client key and pins at `identity` and
/// `known_hosts`: the login user ssh resolves for `host` (the private sshd runs as it, and a
/// client that sent another name would be refused), the pinned host key and cssh's client key.
/// Nothing else: the user's own settings for the name stay theirs.
pub fn ssh_config_block(
    host: &str,
    user: &str,
    cssh: &Path,
    words: &[OsString],
    identity: &Path,
    known_hosts: &Path,
) -> Result<String, Refusal> {
    if host.starts_with('-')
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err(Refusal(format!(
            "{host:?}: --ssh-config writes blocks for host names of letters, digits, '.', '_' and '-' only"
        )));
    }
    let mut command = hop::program(cssh).map_err(Refusal)?;
    for word in words {
        // Words every shell that may run the ProxyCommand reads as they are.
        let word = word
            .to_str()
            .filter(|w| {
                !w.is_empty()
                    && w.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_@%+:,./=-".contains(&b))
            })
            .ok_or_else(|| {
                Refusal(format!(
                    "{:?}: --ssh-config cannot write this word into a ProxyCommand that every shell reads alike",
                    word.to_string_lossy()
                ))
            })?;
        command.push(' ');
        command.push_str(&word.replace('%', "%%"));
    }
    let path = |p: &Path| -> Result<String, Refusal> {
        let text = p
            .to_str()
            .filter(|t| !t.contains('"') && !t.chars().any(char::is_control))
            .ok_or_else(|| Refusal(format!("{}: ssh_config cannot name this path", p.display())))?;
        Ok(if text.contains(' ') {
            format!("\"{text}\"")
        } else {
            text.to_string()
        })
    };
    Ok(format!(
        "Host {NAME_PREFIX}{host}\n    ProxyCommand {command} -l %r {host}\n    User {user}\n    HostKeyAlias {alias}\n    UserKnownHostsFile {known_hosts}\n    StrictHostKeyChecking yes\n    IdentityFile {identity}\n    IdentitiesOnly yes\n",
        alias = crate::keys::alias(host),
        known_hosts = path(known_hosts)?,
        identity = path(identity)?,
    ))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::sshd::tests::given;
    use super::*;

    fn request(words: &[&str]) -> Request {
        Request {
            args: words.iter().map(OsString::from).collect(),
            ..Request::default()
        }
    }

    fn text(words: &[OsString]) -> Vec<String> {
        words
            .iter()
            .map(|w| w.to_string_lossy().into_owned())
            .collect()
    }

    fn hop(plan: ProxyPlan) -> (Vec<String>, String) {
        let ProxyPlan::Hop(args, _) = plan else {
            panic!("{plan:?}")
        };
        let mut args = text(&args);
        let script = String::from_utf8(crate::quote::carried(args.pop().unwrap().as_bytes()));
        (args, script.unwrap())
    }

    #[test]
    fn the_hop_is_the_users_ssh_to_the_login_node_and_its_sshd_runs_what_the_client_asks() {
        for (settings, scheduler) in [
            ("", None),
            ("slurm = []", Some("srun")),
            // However the host's sessions reach the job, a plain client's reach its sshd.
            ("slurm = []\nslurm_connect = \"ssh\"", Some("srun")),
            ("htcondor = []", Some("condor_ssh_to_job")),
        ] {
            let mut local = given(settings);
            let (args, script) = hop(proxy(
                &request(&["-F", "cfg", "-J", "bastion", "-l", "bob", "h1"]),
                &mut local,
            )
            .unwrap());
            assert_eq!(
                args[9..],
                ["-F", "cfg", "-J", "bastion", "-l", "bob", "h1"],
                "{settings}"
            );
            assert_eq!(args[..3], ["-T", "-a", "-x"]);
            match scheduler {
                None => assert!(
                    script.contains("exec /bin/sh -c") && !script.contains("srun"),
                    "{script}"
                ),
                Some(scheduler) => assert!(script.contains(scheduler), "{settings}: {script}"),
            }
        }
    }

    #[test]
    fn a_host_without_a_pin_is_pinned_first() {
        let mut local = given("");
        local.job_keys.pinned = None;
        let ProxyPlan::Pin(pin) = proxy(&request(&["h1"]), &mut local).unwrap() else {
            panic!()
        };
        assert_eq!(pin.alias, "cssh-job-h1");
    }

    #[test]
    fn an_untagged_host_or_a_command_is_refused() {
        let mut local = given("");
        assert_eq!(
            proxy(&request(&["other"]), &mut local)
                .unwrap_err()
                .to_string(),
            "other has no image in /c.toml: cssh --proxy serves only a host with an image (give it one, or take the ProxyCommand off this host)"
        );
        assert_eq!(
            proxy(&request(&["h1", "id"]), &mut local)
                .unwrap_err()
                .to_string(),
            "--proxy takes ssh's options and a destination, no command: the client sends its own"
        );
    }

    #[test]
    fn a_block_names_the_container_the_pin_and_the_key_and_nothing_else() {
        let words: Vec<OsString> = ["--config", "/c.toml", "--proxy", "-F", "/f"]
            .map(OsString::from)
            .to_vec();
        let cssh = Path::new("/opt/c%1/cssh");
        let block = ssh_config_block(
            "login1.example.org",
            "alice",
            cssh,
            &words,
            Path::new("/k/key/id_ed25519"),
            Path::new("/home/a b/known_hosts"),
        )
        .unwrap();
        assert_eq!(
            block,
            "Host cssh.login1.example.org
    ProxyCommand /opt/c%%1/cssh --config /c.toml --proxy -F /f -l %r login1.example.org
    User alice
    HostKeyAlias cssh-job-login1.example.org
    UserKnownHostsFile \"/home/a b/known_hosts\"
    StrictHostKeyChecking yes
    IdentityFile /k/key/id_ed25519
    IdentitiesOnly yes
"
        );
        let refused = |host: &str, word: &str| {
            let mut words = words.clone();
            words.push(word.into());
            ssh_config_block(host, "a", cssh, &words, Path::new("/i"), Path::new("/k"))
                .unwrap_err()
                .0
        };
        assert!(refused("a b", "-v").contains("host names of letters"));
        assert!(refused("-oProxyCommand=x", "-v").contains("host names of letters"));
        assert!(refused("h", "it's").contains("cannot write this word"));
        assert!(refused("h", "").contains("cannot write this word"));
    }
}
