//! cssh's own errands on the login node, each a plan of one ssh connection with the host's
//! settings: `--release`, `--allocate` and `--attach list`; and the remote commands printed for
//! tools with an ssh of their own, `--rsync-path` and `--sftp-server-command`.

use super::values::Values;
use super::values::{SendStep, stored};
use super::{
    Context, Decision, Local, Plan, Refusal, Report, Request, allocation, carry, checked_host,
    condor_job, image_for, place, untagged_reason,
};
use crate::config;
use crate::remote::{self, Payload, Place, Target, Way};
use crate::ssh_args;

/// The value for `rsync --rsync-path` that runs the image's rsync on the request's
/// destination, for users who keep another transport than cssh: rsync appends its server
/// arguments, which the remote login shell splits and the script hands to rsync unchanged.
pub fn rsync_path(request: &Request, local: &mut dyn Local) -> anyhow::Result<Printed> {
    remote_command(request, local, Payload::Arguments("rsync"), "--rsync-path")
}

/// A remote command that runs the image's sftp-server on the request's destination, for tools
/// with an ssh of their own that can send one (rclone's `--sftp-server-command`, `sftp -s`).
pub fn sftp_server_command(request: &Request, local: &mut dyn Local) -> anyhow::Result<Printed> {
    remote_command(request, local, Payload::Sftp, "--sftp-server-command")
}

/// A remote command for another tool's ssh to send, and the call that sends the host's values
/// first, where they have not gone yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Printed {
    pub command: Vec<u8>,
    pub send: Option<SendStep>,
}

/// The remote command, readable by every login shell, that runs `payload` in the image of the
/// request's destination; `option` names the asking option in messages.
pub(super) fn remote_command(
    request: &Request,
    local: &mut dyn Local,
    payload: Payload,
    option: &str,
) -> anyhow::Result<Printed> {
    // Only the destination matters here, so `-P` is read as current OpenSSH reads it.
    let inv = ssh_args::parse(request.args.clone(), &mut || ssh_args::Grammar::CURRENT).map_err(
        |why| {
            Refusal(format!(
                "{option} needs a destination, as ssh takes it ({why})"
            ))
        },
    )?;
    let config = local.config(Some(inv.host.as_encoded_bytes()))?;
    let settings = config::resolve(&config, inv.host.as_encoded_bytes()).settings;
    let cx = Context {
        settings: &settings,
        image_override: request.image.as_deref(),
        attach: request.attach.as_ref().or(settings.attach.as_ref()),
        config_file: &config.file,
        progress: false,
        terminal: false,
        values: None,
    };
    let image = image_for(&cx).ok_or_else(|| {
        Refusal(format!(
            "{} has no image: {}",
            inv.host.to_string_lossy(),
            untagged_reason(&cx)
        ))
    })?;
    let host = checked_host(inv.host.as_encoded_bytes())?;
    // The command runs on the login node: a step reaches the node from there.
    let place = match place(&host, image, &cx, payload)? {
        Place::Job(job, _) => Place::Job(job, Way::Channel),
        place @ Place::Here => place,
    };
    let target = Target {
        host: &host,
        image,
        settings: cx.settings,
        config_file: cx.config_file,
        place,
        sent: &[],
        values: None,
    };
    let (values, send) = stored(&inv, &cx, local)?.map_or((None, None), |(n, s)| (Some(n), s));
    let target = Target {
        values: values.as_ref().map(Values::stored),
        ..target
    };
    Ok(Printed {
        command: carry(&remote::script(&target, payload))?.into_encoded_bytes(),
        send,
    })
}

/// `cssh --release [ssh options] destination`: ssh's command line that cancels the
/// destination's Slurm allocation on the login node.
pub fn release(request: &Request, local: &mut dyn Local) -> anyhow::Result<Plan> {
    on_login_node(request, local, "--release", |target, cx| {
        if let Some(lines) = &cx.settings.htcondor {
            let job = condor_job(target.host, target.image, lines, cx);
            return Ok(remote::condor_release_script(target, &job));
        }
        let allocation = allocation(target.host, cx)?.ok_or_else(|| {
            Refusal(format!(
                "{} has no Slurm allocation or HTCondor job to release (no slurm or htcondor for it in {})",
                target.host, cx.config_file
            ))
        })?;
        Ok(remote::release_script(target, &allocation))
    })
}

/// `cssh --allocate [ssh options] destination`: ssh's command line that finds or submits the
/// destination's Slurm allocation or HTCondor job, waits until it runs (with the updating line
/// where stderr is a terminal) and says its job, node and time left, so that the next
/// connection, an editor's too, starts at once.
pub fn allocate(request: &Request, local: &mut dyn Local) -> anyhow::Result<Plan> {
    on_login_node(request, local, "--allocate", |target, cx| {
        if cx.settings.attach.is_some() {
            return Err(Refusal(format!(
                "{} enters a running job of yours (attach in {}:{}): it has no allocation or HTCondor job of its own to allocate",
                target.host, cx.config_file, cx.settings.lines.attach
            )));
        }
        let image = image_for(cx).ok_or_else(|| {
            Refusal(format!(
                "{} has no image: {}",
                target.host,
                untagged_reason(cx)
            ))
        })?;
        let target = Target {
            image,
            place: Place::Here,
            ..*target
        };
        if let Some(lines) = &cx.settings.htcondor {
            let job = condor_job(target.host, image, lines, cx);
            return Ok(remote::condor_allocate_script(&target, &job));
        }
        let allocation = allocation(target.host, cx)?.ok_or_else(|| {
            Refusal(format!(
                "{} has no Slurm allocation or HTCondor job to allocate (no slurm or htcondor for it in {})",
                target.host, cx.config_file
            ))
        })?;
        Ok(remote::allocate_script(&target, &allocation))
    })
}

/// `cssh --attach list [ssh options] destination`: ssh's command line that lists this user's
/// running jobs on the destination's cluster, with their nodes, images and whether each can be
/// entered.
pub fn attach_list(request: &Request, local: &mut dyn Local) -> anyhow::Result<Plan> {
    on_login_node(request, local, "--attach list", |target, _| {
        Ok(remote::attach_list_script(target))
    })
}

/// The plan of one of cssh's own errands on the login node (`option`): the destination alone,
/// no command, and the script `errand` writes for it from the host's settings.
pub(super) fn on_login_node(
    request: &Request,
    local: &mut dyn Local,
    option: &str,
    errand: impl FnOnce(&Target, &Context) -> Result<Vec<u8>, Refusal>,
) -> anyhow::Result<Plan> {
    let inv = ssh_args::parse(request.args.clone(), &mut || local.grammar()).map_err(|why| {
        Refusal(format!(
            "{option} needs a destination, as ssh takes it ({why})"
        ))
    })?;
    if inv.command_start < inv.args.len() {
        return Err(Refusal(format!("{option} takes a destination and no command")).into());
    }
    let config = local.config(Some(inv.host.as_encoded_bytes()))?;
    let resolution = config::resolve(&config, inv.host.as_encoded_bytes());
    let host = checked_host(inv.host.as_encoded_bytes())?;
    let cx = Context {
        settings: &resolution.settings,
        image_override: request.image.as_deref(),
        attach: None,
        config_file: &config.file,
        progress: request.terminals.stderr,
        terminal: request.terminals.stdin,
        values: None,
    };
    let (values, send) = stored(&inv, &cx, local)?.map_or((None, None), |(n, s)| (Some(n), s));
    let cx = Context {
        values: values.as_ref().map(Values::stored),
        ..cx
    };
    let target = Target {
        host: &host,
        image: "",
        settings: cx.settings,
        config_file: cx.config_file,
        place: Place::Here,
        sent: &[],
        values: cx.values,
    };
    let script = errand(&target, &cx)?;
    let mut args = inv.args.clone();
    args.push(carry(&script)?);
    Ok(Plan {
        args,
        decision: Decision::Container { script },
        report: Report::default(),
        first_hop: None,
        pin: None,
        hop: None,
        notice: None,
        send,
    })
}
