//! Node mode (`slurm_connect = "ssh"`): the session's own ssh reaches the allocation's node,
//! with the login node as its jump host, as a user would with `ssh -J login NODE`. A first
//! connection to the login node finds (or submits and waits for) the job and prints its node,
//! which then takes the place of [`NODE`] in the session's command line.

use std::ffi::OsString;

use super::{Decided, Decision, FirstHop, Local, Refusal, carry, session_args};
use crate::remote::{self, Payload, Target};
use crate::ssh_args::{self, Invocation};
use crate::words;

/// The decision for a session that reaches its job's node by ssh, `first_hop_script` the login
/// node's script that prints the node.
pub(super) fn decide(
    inv: &Invocation,
    target: &Target,
    payload: Option<Payload>,
    first_hop_script: &[u8],
    local: &mut dyn Local,
) -> anyhow::Result<Decided> {
    let host = target.host;
    // The session reaches the allocation's node through the login node: a first connection
    // waits for the allocation and names its node; this one's destination becomes that node.
    // It runs its command: a tunnel alone's -N (or SessionType) would keep it from running.
    let mut first = inv.args_without_settings(b"tTfsN", &["SessionType"]);
    first.truncate(first.len() - (inv.args.len() - inv.command_start));
    first.splice(
        0..0,
        ["-T", "-o", "ClearAllForwardings=yes"].map(OsString::from),
    );
    first.push(carry(first_hop_script)?);
    let login_user = local
        .resolved_ssh_config(&inv.args)?
        .lines()
        .find_map(|line| line.strip_prefix("user "))
        .map(str::to_string)
        .ok_or_else(|| Refusal(format!("ssh -G {host} names no user for the login node")))?;
    let node_inv = on_node(inv, &login_user)?;
    // A tunnel alone reaches the node as it is, with no session to run there.
    let (args, script) = match payload {
        None => (node_inv.args.clone(), Vec::new()),
        Some(payload) => {
            let script = remote::script(target, payload);
            (session_args(&node_inv, carry(&script)?), script)
        }
    };
    let node_at = args
        .iter()
        .position(|word| word.as_encoded_bytes() == NODE.as_bytes())
        .ok_or_else(|| Refusal("lost the node's place in the command line".into()))?;
    Ok(Decided {
        args,
        decision: Decision::Container { script },
        first_hop: Some(FirstHop {
            args: first,
            node_at,
        }),
        pin: None,
        hop: None,
        shares_its_own: false,
        notice: None,
    })
}

/// Stands for the allocation's node until the first connection names it: no argv word can
/// hold a NUL, so it cannot be mistaken for one of the user's.
pub(super) const NODE: &str = "\0node";

/// The command line that reaches the allocation's node: the login node, as the user named it
/// (with their `-l`, `-p` and `-J`), becomes the jump host, and the node is the destination,
/// reached as the login node's user. The rest of the line is the user's, for the node.
fn on_node(inv: &Invocation, login_user: &str) -> Result<Invocation, Refusal> {
    let destination = inv.args[inv.destination].as_encoded_bytes();
    let mut jump = Vec::new();
    if let Some(hops) = inv.first_value(b'J') {
        jump.extend_from_slice(hops.as_encoded_bytes());
        jump.push(b',');
    }
    let uri = destination.starts_with(b"ssh://");
    if let Some(user) = inv
        .first_value(b'l')
        .filter(|_| !uri && !destination.contains(&b'@'))
    {
        jump.extend_from_slice(user.as_encoded_bytes());
        jump.push(b'@');
    }
    jump.extend_from_slice(destination);
    if let Some(port) = inv.first_value(b'p').filter(|_| !uri) {
        jump.push(b':');
        jump.extend_from_slice(port.as_encoded_bytes());
    }
    let mut marked = inv.clone();
    marked.args[inv.destination] = OsString::from(NODE);
    let mut args: Vec<OsString> = ["-J", "", "-l", login_user].map(OsString::from).to_vec();
    args[1] = words::from_bytes(jump);
    args.extend(marked.args_without(b"lpJ"));
    let grammar = super::kept_grammar(inv);
    ssh_args::parse(args, &mut || grammar)
        .map_err(|why| Refusal(format!("cannot reach the allocation's node: {why}")))
}
