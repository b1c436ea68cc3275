//! Connection sharing for `persist`: ssh's ControlMaster, ControlPath and ControlPersist put first
//! on a command line, where the command line and ssh_config do not decide multiplexing already
//! (`ssh -G` tells, asked only where an ssh_config file mentions it); and the master a `-O` line
//! reaches, the login node's or the job's own.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::{Context, Local, checked_host, place, sshd};
use crate::remote::{Payload, Place, Way};
use crate::ssh_args::Invocation;

/// The ControlPath of the master that a host's sessions share with `persist`: the job's own,
/// for a host whose sessions reach their job's sshd; else the login node's, unless the command
/// line or ssh_config decides multiplexing.
pub(super) fn master_path(
    inv: &Invocation,
    cx: &Context,
    image: &str,
    local: &mut dyn Local,
) -> anyhow::Result<Option<OsString>> {
    let host = checked_host(inv.host.as_encoded_bytes())?;
    if cfg!(unix)
        && !inv.sets_multiplexing()
        && let Place::Job(_, Way::Sshd) = place(&host, image, cx, Payload::Shell)?
    {
        return Ok(Some(sshd::job_control_path(inv, cx, &local.control_dir()?)));
    }
    Ok(reuse_directory(inv, local)?.map(|dir| control_path(&dir)))
}

/// The directory for `persist`'s connection sharing, unless the system's ssh cannot share
/// connections, or the command line or ssh_config already decides multiplexing for this host
/// (`ssh -G` tells, asked only where an ssh_config file mentions it at all).
pub(super) fn reuse_directory(
    inv: &Invocation,
    local: &mut dyn Local,
) -> anyhow::Result<Option<PathBuf>> {
    // Windows' OpenSSH has no connection sharing (ControlMaster): there `persist` does nothing.
    if cfg!(windows)
        || inv.sets_multiplexing()
        || (local.ssh_config_may_set(inv.config_file(), &["controlmaster", "controlpath"])
            && multiplexing_configured(&local.resolved_ssh_config(&inv.args)?))
    {
        return Ok(None);
    }
    Ok(Some(local.control_dir()?))
}

/// `args` with ssh's connection sharing turned on: the first connection to a host becomes a
/// master that stays `persist` after its last session, and later ones ride on it, skipping the
/// handshake. Options go first, where they win over ssh_config (only used where neither the
/// command line nor ssh_config decides multiplexing already).
pub(super) fn with_connection_reuse(
    args: Vec<OsString>,
    control_dir: &Path,
    persist: &str,
) -> Vec<OsString> {
    let mut reused = vec![
        OsString::from("-o"),
        OsString::from("ControlMaster=auto"),
        OsString::from("-o"),
        control_path(control_dir),
        OsString::from("-o"),
        OsString::from(format!("ControlPersist={persist}")),
    ];
    reused.extend(args);
    reused
}

/// `ControlPath=DIR/%C`: one socket per destination, user and port, as ssh hashes them.
pub(super) fn control_path(control_dir: &Path) -> OsString {
    let mut path = OsString::from("ControlPath=");
    path.push(control_dir.join("%C"));
    path
}

/// Whether `ssh -G` output shows ssh_config setting up multiplexing for the host.
pub(super) fn multiplexing_configured(resolved: &str) -> bool {
    resolved.lines().any(|line| {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        (key == "controlmaster" && value != "false") || (key == "controlpath" && value != "none")
    })
}
