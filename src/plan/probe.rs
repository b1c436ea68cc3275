//! The doctor's probe of one host: the session's own script steps, run the way a session runs
//! them (the same options, connection reuse and login shell), and what the doctor judges the
//! findings by (the host's settings, its job, the job sshd's pin).

use std::ffi::OsString;

use super::values::Values;
use super::{
    Context, Local, Refusal, attached_scheduler, carry, checked_host, forwards_stay, host_job,
    image_for, master_path, reuse_directory, untagged_reason, way, with_connection_reuse,
};
use crate::config::{self, Config};
use crate::quote;
use crate::remote::{self, HostJob, Place, Scheduler, Target, Way};
use crate::settings::{Attach, Settings};
use crate::ssh_args;

/// What the doctor runs for one host, and what it judges the findings by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The host as the user named it.
    pub host: String,
    /// `ssh -v OPTIONS HOST true`, shell-quoted: how to see by hand what ssh says of the host,
    /// with the user's own options.
    pub by_hand: String,
    /// ssh's arguments for the probe: the user's options, `BatchMode` (many hosts at once
    /// cannot each ask for a password), the host and the probe script.
    pub args: Vec<OsString>,
    /// ssh's arguments that ask whether a shared connection is live, where `persist` is set.
    pub master_check: Option<Vec<OsString>>,
    /// The image, where the host has one.
    pub image: Option<String>,
    /// Why the host has no image, where it has none.
    pub untagged: &'static str,
    pub settings: Settings,
    /// The first matching entry's line, where a setting the host lacks would go.
    pub entry_line: Option<usize>,
    pub config_file: String,
    /// Whether the configuration file exists.
    pub config_found: bool,
    /// The batch job the host's sessions run in, where it has `slurm` or `htcondor`.
    pub job: Option<HostJob>,
    /// The running job an attached host enters, where it has `attach`.
    pub attach: Option<Attach>,
    /// The job's own sshd, where the host's sessions reach their job by it.
    pub sshd: Option<SshdPin>,
    /// The setting that keeps the host's forwards on the login node while its sessions run in a
    /// job (a step or condor_ssh_to_job carries none), where it does.
    pub forwards_stay: Option<String>,
    /// The call that sends the host's values first, where they have not gone yet.
    pub send: Option<super::SendStep>,
}

/// What this machine keeps for a host's job sshd: the name its host key is pinned under, the
/// file of pins, and the pin (`TYPE BASE64` and its line), if the host has one yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshdPin {
    pub alias: String,
    pub known_hosts: String,
    pub pinned: Option<(String, usize)>,
}

/// The doctor's probe of `host` with ssh's `options`: the session's own script steps, run the
/// way a session runs them (the same options, connection reuse and login shell).
pub fn probe(
    options: &[OsString],
    host: &OsString,
    image_override: Option<&str>,
    config: &Config,
    local: &mut dyn Local,
) -> anyhow::Result<Probe> {
    let mut words = options.to_vec();
    words.push(host.clone());
    let inv = ssh_args::parse(words, &mut || local.grammar()).map_err(|why| {
        Refusal(format!(
            "--doctor: {}: not a destination ssh takes ({why})",
            host.to_string_lossy()
        ))
    })?;
    let resolution = config::resolve(config, inv.host.as_encoded_bytes());
    let name = checked_host(inv.host.as_encoded_bytes())?;
    let cx = Context {
        settings: &resolution.settings,
        image_override,
        attach: None,
        config_file: &config.file,
        progress: false,
        terminal: false,
        values: None,
    };
    let (values, send) = match image_for(&cx) {
        Some(_) => super::values::stored(&inv, &cx, local)?,
        None => None,
    }
    .map_or((None, None), |(n, s)| (Some(n), s));
    let cx = Context {
        values: values.as_ref().map(Values::stored),
        ..cx
    };
    let image = image_for(&cx);
    let job = host_job(&name, image, &cx)?;
    let attach = resolution.settings.attach.clone();
    // An attached host that names no scheduler reaches either scheduler's job the same way.
    let attached = attach.as_ref().map(|_| attached_scheduler(cx.settings));
    let scheduler = match (&job, attached) {
        (Some(HostJob::Htcondor(_)), _) => Some(Scheduler::Htcondor),
        (Some(HostJob::Slurm(_)), _) => Some(Scheduler::Slurm),
        (None, Some(scheduler)) => Some(scheduler.unwrap_or(Scheduler::Slurm)),
        (None, None) => None,
    };
    let sshd_keys = match scheduler {
        Some(scheduler) if way(scheduler, cx.settings) == Way::Sshd => {
            let alias = crate::keys::alias(&name);
            Some((local.job_keys(&alias)?, alias))
        }
        _ => None,
    };
    let client = sshd_keys.as_ref().map(|(keys, _)| keys.public.as_str());
    let forwards_stay =
        scheduler.and_then(|scheduler| forwards_stay(scheduler, cx.settings, cx.config_file));
    let script = match (&attach, image) {
        (Some(job), _) => remote::probe::attach_probe_script(
            &Target {
                host: &name,
                image: remote::CONTAINER,
                settings: cx.settings,
                config_file: cx.config_file,
                place: Place::Here,
                sent: &[],
                values: cx.values,
            },
            job,
            attached.flatten(),
            client,
        ),
        (None, Some(image)) => remote::probe::probe_script(
            &Target {
                host: &name,
                image,
                settings: cx.settings,
                config_file: cx.config_file,
                place: Place::Here,
                sent: &[],
                values: cx.values,
            },
            job.as_ref(),
            client,
        ),
        (None, None) => remote::probe::plain_probe_script(),
    };
    let mut args = inv.args.clone();
    args.splice(
        inv.destination..inv.destination,
        ["-o", "BatchMode=yes"].map(OsString::from),
    );
    args.push(carry(&script)?);
    let mut master_check = None;
    if let (Some(_), Some(persist)) = (image, &cx.settings.persist) {
        let mut check = inv.args.clone();
        check.splice(
            inv.destination..inv.destination,
            ["-O", "check"].map(OsString::from),
        );
        if let Some(dir) = reuse_directory(&inv, local)? {
            args = with_connection_reuse(args, &dir, persist);
            check = with_connection_reuse(check, &dir, persist);
        }
        // A host whose sessions reach their job's own sshd keeps its master there.
        let sessions = Context {
            attach: attach.as_ref(),
            ..cx
        };
        if sshd_keys.is_some()
            && let Some(path) = master_path(&inv, &sessions, remote::CONTAINER, local)?
        {
            check = [OsString::from("-o"), path]
                .into_iter()
                .chain(inv.args.iter().cloned())
                .collect();
            check.splice(
                inv.destination + 2..inv.destination + 2,
                ["-O", "check"].map(OsString::from),
            );
        }
        master_check = Some(check);
    }
    let by_hand: Vec<String> = ["ssh", "-v"]
        .into_iter()
        .map(OsString::from)
        .chain(inv.args.iter().cloned())
        .chain([OsString::from("true")])
        .map(|word| String::from_utf8_lossy(&quote::sh(word.as_encoded_bytes())).into_owned())
        .collect();
    Ok(Probe {
        host: host.to_string_lossy().into_owned(),
        by_hand: by_hand.join(" "),
        args,
        master_check,
        image: image.map(str::to_string),
        untagged: untagged_reason(&cx),
        entry_line: resolution.matched.first().map(|(line, _)| *line),
        config_file: config.file.clone(),
        config_found: config.found,
        settings: resolution.settings.clone(),
        job,
        attach,
        sshd: sshd_keys.map(|(keys, alias)| SshdPin {
            alias,
            known_hosts: keys.known_hosts.display().to_string(),
            pinned: keys.pinned,
        }),
        forwards_stay,
        send,
    })
}
