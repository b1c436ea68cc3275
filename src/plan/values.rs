//! When the host's configured values (the prelude and `env`) go to the remote: never on a
//! command line (see `remote::values`), but once, on the stdin of an ssh call of their own to
//! the login node, with the user's ways there (ssh_config, `-F`, `-i`, `-p`, `-J`) and, with
//! `persist`, over the connection the host's sessions share. This machine keeps a record of
//! what went where (`Local::values_record`: the values and the login node's command line, as
//! a fingerprint, name the record; it holds the file's name on the remote), so that later
//! sessions name the file without a call. Changed values are a new file, sent once in turn.

use std::ffi::OsString;

use super::reuse::{reuse_directory, with_connection_reuse};
use super::{Context, Local, carry, sshd::hop_args};
use crate::remote::values::{content, store_script};
use crate::remote::{Stored, fingerprint};
use crate::ssh_args::Invocation;

/// The ssh call that sends the values before the session, and the record it makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendStep {
    /// ssh's arguments: the login node, the store script's word last.
    pub args: Vec<OsString>,
    /// What goes on its stdin: the file's text.
    pub content: Vec<u8>,
    /// The record's name on this machine, once they went.
    pub key: String,
    /// The file's name on the remote.
    pub name: String,
}

/// Where the host's values are: the file's name on the remote and this machine's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Values {
    name: String,
    key: String,
}

impl Values {
    pub(super) fn stored(&self) -> Stored<'_> {
        Stored {
            name: &self.name,
            record: &self.key,
        }
    }
}

/// Where the host's values are, where it sets a prelude or `env`, and the call that sends them
/// first where this machine has no record that they went.
pub(super) fn stored(
    inv: &Invocation,
    cx: &Context,
    local: &mut dyn Local,
) -> anyhow::Result<Option<(Values, Option<SendStep>)>> {
    let Some(content) = content(cx.settings) else {
        return Ok(None);
    };
    let login = hop_args(inv);
    let words: Vec<String> = login
        .iter()
        .map(|word| word.to_string_lossy().into_owned())
        .collect();
    let text = String::from_utf8_lossy(&content).into_owned();
    let key = fingerprint(
        ["values"]
            .into_iter()
            .chain(words.iter().map(String::as_str))
            .chain([text.as_str()]),
    );
    if let Some(name) = local.values_record(&key)? {
        return Ok(Some((Values { name, key }, None)));
    }
    let name = local.fresh_name();
    let mut args = login;
    if let (Some(persist), Some(dir)) = (&cx.settings.persist, reuse_directory(inv, local)?) {
        args = with_connection_reuse(args, &dir, persist);
    }
    args.push(carry(&store_script(&name))?);
    let values = Values {
        name: name.clone(),
        key: key.clone(),
    };
    Ok(Some((
        values,
        Some(SendStep {
            args,
            content,
            key,
            name,
        }),
    )))
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::super::sshd::tests::given;
    use super::super::{Request, make, probe, proxy, release, rsync_path};
    use crate::quote::any_carried;

    const SECRET: &str = "tok-s3cr3t";
    const VALUES: &str =
        "env = { HF_TOKEN = \"tok-s3cr3t x'y\" }\nprelude = \"export P=tok-s3cr3t\"";

    fn request(words: &[&str]) -> Request {
        Request {
            args: words.iter().map(OsString::from).collect(),
            ..Request::default()
        }
    }

    /// Every word of `args`, decoded where it carries a script to a login shell.
    fn shown(args: &[OsString]) -> String {
        args.iter()
            .map(|w| {
                let bytes = w.as_encoded_bytes();
                String::from_utf8_lossy(&any_carried(bytes).unwrap_or_else(|| bytes.to_vec()))
                    .into_owned()
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn values_go_once_on_stdin_and_never_on_a_command_line() {
        // Each way a session goes: the login node, Slurm's steps, node mode and job sshd,
        // HTCondor's job sshd and condor_ssh_to_job, a job attached to.
        for settings in [
            "",
            "slurm = []\nslurm_connect = \"srun\"",
            "slurm = []\nslurm_connect = \"ssh\"",
            "slurm = []",
            "htcondor = []",
            "htcondor = []\nhtcondor_connect = \"condor_ssh_to_job\"",
            "attach = \"42\"",
        ] {
            let mut local = given(&format!("{VALUES}\n{settings}"));
            let plan = make(&request(&["-p", "22", "h1", "echo", "hi"]), &mut local).unwrap();
            let send = plan.send.clone().expect(settings);
            assert_eq!(send.name, "fresh", "{settings}");
            let content = String::from_utf8(send.content.clone()).unwrap();
            assert!(content.contains("HF_TOKEN=tok-s3cr3t x"), "{content}");
            assert!(content.contains("export P=tok-s3cr3t"), "{content}");
            // The call goes to the login node with the user's ways there, the store script last.
            let words = shown(&send.args);
            assert!(words.contains("-p 22 h1 "), "{words}");
            assert!(words.contains("/cssh/values-fresh"), "{words}");
            assert!(!words.contains(SECRET), "{settings}: {words}");
            // The session, its first hop and its ProxyCommand's hop name the file alone.
            let mut everything = shown(&plan.args);
            if let Some(hop) = &plan.first_hop {
                everything += &shown(&hop.args);
            }
            if let Some(hop) = &plan.hop {
                everything += &shown(&hop.args);
                everything += &String::from_utf8_lossy(&hop.script);
            }
            assert!(!everything.contains(SECRET), "{settings}: {everything}");
            assert!(everything.contains("values-fresh"), "{settings}");
            // Once recorded, nothing goes.
            local.values_sent = Some("0123abcd".into());
            let plan = make(&request(&["-p", "22", "h1", "echo", "hi"]), &mut local).unwrap();
            assert_eq!(plan.send, None, "{settings}");
            assert!(shown(&plan.args).contains("values-0123abcd") || plan.hop.is_some());
        }
    }

    #[test]
    fn a_host_without_values_sends_nothing_and_every_errand_sends_first() {
        let mut plain = given("");
        assert_eq!(
            make(&request(&["h1", "true"]), &mut plain).unwrap().send,
            None
        );
        let mut local = given(&format!("{VALUES}\nslurm = []"));
        assert!(
            release(&request(&["h1"]), &mut local)
                .unwrap()
                .send
                .is_some()
        );
        assert!(
            rsync_path(&request(&["h1"]), &mut local)
                .unwrap()
                .send
                .is_some()
        );
        let config = local.config.clone();
        let probed = probe(&[], &OsString::from("h1"), None, &config, &mut local).unwrap();
        assert!(probed.send.is_some());
        assert!(!shown(&probed.args).contains(SECRET));
        match proxy(&request(&["h1"]), &mut local).unwrap() {
            super::super::ProxyPlan::Hop(hop, send) => {
                assert!(send.is_some());
                assert!(!shown(&hop).contains(SECRET));
            }
            other @ super::super::ProxyPlan::Pin(_) => panic!("{other:?}"),
        }
        // A line that ends up plain ssh's (no session) sends nothing.
        assert_eq!(make(&request(&["-V"]), &mut local).unwrap().send, None);
    }
}
