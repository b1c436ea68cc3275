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
use crate::remote::{Stored, fingerprint};
use crate::remote::values::{content, store_script};
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
