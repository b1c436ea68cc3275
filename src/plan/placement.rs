//! Where a session runs ([`Place`]): on the host ssh reaches, or in the host's Slurm allocation or
//! HTCondor job, or a job attached to, and how it gets there ([`Way`]), as the host's settings
//! say; and the image, allocation and HTCondor job a host's settings give.

use super::{Context, Refusal};
use crate::remote::scheduler::slurm::Allocation;
use crate::remote::{self, CondorJob, HostJob, Job, Payload, Place, Scheduler, Way};
use crate::settings::{
    self, HtcondorConnect, Image, RuntimeKind, Settings, SlurmConnect, SlurmTransfers,
};

/// Where a session runs: on the host, or in its Slurm allocation or HTCondor job where the
/// session belongs there (a Slurm host's transfers run on the login node unless
/// `slurm_transfers = "job"`; an HTCondor host's run in its job).
pub(super) fn place(
    host: &str,
    image: &str,
    cx: &Context,
    payload: Payload,
) -> Result<Place, Refusal> {
    let settings = cx.settings;
    runtime_fits(host, image, cx)?;
    if let (Some(_), Some(_)) = (&settings.slurm, &settings.htcondor) {
        return Err(Refusal(format!(
            "{host}: slurm ({file}:{}) and htcondor ({file}:{}) are both set; a host runs its sessions under one scheduler",
            settings.lines.slurm,
            settings.lines.htcondor,
            file = cx.config_file
        )));
    }
    // Everything of an attached host runs in the job: its container's files are the point.
    if let Some(job) = cx.attach {
        return Ok(match attached_scheduler(settings) {
            Some(scheduler) => Place::Job(
                Job::Attached(scheduler, job.clone()),
                way(scheduler, settings),
            ),
            None => Place::Job(
                Job::AttachedEither(job.clone()),
                way(Scheduler::Slurm, settings),
            ),
        });
    }
    // An HTCondor host's transfers run in its job too: the job's container is the one view,
    // and an access point need not have Apptainer.
    if let Some(lines) = &settings.htcondor {
        return Ok(Place::Job(
            Job::Own(HostJob::Htcondor(condor_job(host, image, lines, cx))),
            way(Scheduler::Htcondor, settings),
        ));
    }
    let transfer = match payload {
        Payload::Sftp | Payload::Arguments(_) => true,
        Payload::Command(command) => remote::is_transfer(command),
        Payload::Shell | Payload::Client => false,
    };
    if transfer && settings.slurm_transfers != Some(SlurmTransfers::Job) {
        return Ok(Place::Here);
    }
    Ok(match allocation(host, cx)? {
        None => Place::Here,
        Some(allocation) => Place::Job(
            Job::Own(HostJob::Slurm(allocation)),
            way(Scheduler::Slurm, settings),
        ),
    })
}

/// What a host's runtime cannot do, refused before anything runs: Charliecloud has no
/// `instance` of cssh's (each session is a new container, about 4 ms), takes no URI (it runs a
/// directory or SquashFS file on the remote), does not start an HTCondor job's container
/// (HTCondor's starter does, with the pool's runtime), and under an `--unset-env` of its
/// options would drop the variable that carries `env`'s values (which never go on a command
/// line) without a word.
fn runtime_fits(host: &str, image: &str, cx: &Context) -> Result<(), Refusal> {
    let settings = cx.settings;
    if settings.runtime_kind() != RuntimeKind::Charliecloud {
        return Ok(());
    }
    let runtime = format!("runtime ({}:{})", cx.config_file, settings.lines.runtime);
    let refused = if settings.instance.is_some() {
        format!(
            "instance ({}:{}) is Apptainer's: with Charliecloud's {runtime} each session is a new container",
            cx.config_file, settings.lines.instance
        )
    } else if image.contains("://") {
        format!(
            "Charliecloud's {runtime} runs a directory or SquashFS image on the remote, not {image}"
        )
    } else if settings.env.as_ref().is_some_and(|env| !env.is_empty())
        && remote::drops_environment(settings)
    {
        format!(
            "env ({}:{}) cannot reach a container whose options ({}:{}) unset the environment with Charliecloud's {runtime}: set the variables in the image, or drop --unset-env",
            cx.config_file, settings.lines.env, cx.config_file, settings.lines.options
        )
    } else if settings.htcondor.is_some() {
        format!(
            "htcondor ({}:{}) runs the job's container with the pool's runtime, not Charliecloud's {runtime}",
            cx.config_file, settings.lines.htcondor
        )
    } else {
        return Ok(());
    };
    Err(Refusal(format!("{host}: {refused}")))
}

/// The scheduler of the job an attached host enters: the one it names (`htcondor`, `slurm`),
/// else `None`, whichever of the login node's has the job, where both reach their jobs the
/// same way; node mode is Slurm's alone.
pub(super) fn attached_scheduler(settings: &Settings) -> Option<Scheduler> {
    match (&settings.htcondor, &settings.slurm) {
        (Some(_), _) => Some(Scheduler::Htcondor),
        (None, Some(_)) => Some(Scheduler::Slurm),
        (None, None) => {
            let slurm = way(Scheduler::Slurm, settings);
            (slurm != way(Scheduler::Htcondor, settings) || slurm == Way::NodeSsh)
                .then_some(Scheduler::Slurm)
        }
    }
}

/// How a host's sessions reach its job under `scheduler`, as its settings say: by the job's
/// own sshd unless they say otherwise.
pub(super) fn way(scheduler: Scheduler, settings: &Settings) -> Way {
    match scheduler {
        Scheduler::Slurm => match settings.slurm_connect {
            None | Some(SlurmConnect::Sshd) => Way::Sshd,
            Some(SlurmConnect::Srun) => Way::Channel,
            Some(SlurmConnect::Ssh) => Way::NodeSsh,
        },
        Scheduler::Htcondor => match settings.htcondor_connect {
            None | Some(HtcondorConnect::Sshd) => Way::Sshd,
            Some(HtcondorConnect::CondorSshToJob) => Way::Channel,
        },
    }
}

/// Where a host's forwards (`-L`, `-D`, the agent, VS Code) end when its sessions reach their
/// job by the scheduler's channel (a step, condor_ssh_to_job), which carries the session's
/// streams alone: on the login node or access point, not in the job. The setting that says so,
/// `KEY = "VALUE" in FILE:LINE`; `None` where they end in the job (its own sshd, ssh to its node).
pub(super) fn forwards_stay(
    scheduler: Scheduler,
    settings: &Settings,
    config_file: &str,
) -> Option<String> {
    if way(scheduler, settings) != Way::Channel {
        return None;
    }
    Some(match scheduler {
        Scheduler::Slurm => format!(
            "slurm_connect = \"srun\" in {config_file}:{}",
            settings.lines.slurm_connect
        ),
        Scheduler::Htcondor => format!(
            "htcondor_connect = \"condor_ssh_to_job\" in {config_file}:{}",
            settings.lines.htcondor_connect
        ),
    })
}

/// The image a session runs in; for an attached host, the job's container, whatever its image.
pub(super) fn image_for<'a>(cx: &Context<'a>) -> Option<&'a str> {
    if cx.attach.is_some() {
        return Some(remote::CONTAINER);
    }
    match (cx.image_override, &cx.settings.image) {
        (Some(image), _) => Some(image),
        (None, Some(Image::Path(image))) => Some(image.as_str()),
        (None, _) => None,
    }
}

pub(super) fn untagged_reason(cx: &Context) -> &'static str {
    match cx.settings.image {
        Some(Image::None) => "image = \"none\" for this host",
        _ => "no image for this host",
    }
}

/// The host's Slurm allocation, where `slurm` is set; refused for a host name with a comma,
/// since Slurm splits job names at commas (`squeue --name`, `-J`): the allocation of `gpu,train`
/// would be found among the jobs named `train` too.
pub(super) fn allocation(host: &str, cx: &Context) -> Result<Option<Allocation>, Refusal> {
    let Some(options) = cx.settings.slurm.as_ref() else {
        return Ok(None);
    };
    let at = format!("{}:{}", cx.config_file, cx.settings.lines.slurm);
    if host.contains(',') {
        return Err(Refusal(format!(
            "refusing host name {host:?} for a Slurm allocation (slurm in {at}): Slurm splits job names at commas, so its job would be found among others"
        )));
    }
    Ok(Some(Allocation {
        idle: cx
            .settings
            .slurm_idle
            .as_deref()
            .and_then(settings::seconds),
        ..Allocation::new(host, options, &at, cx.progress)
    }))
}

/// The host's batch job, where its settings give it one.
pub(super) fn host_job(
    host: &str,
    image: Option<&str>,
    cx: &Context,
) -> Result<Option<HostJob>, Refusal> {
    Ok(match (&cx.settings.htcondor, image) {
        (Some(lines), Some(image)) => Some(HostJob::Htcondor(condor_job(host, image, lines, cx))),
        _ => allocation(host, cx)?.map(HostJob::Slurm),
    })
}

/// The host's HTCondor job of `image`, from its `htcondor` lines.
pub(super) fn condor_job(host: &str, image: &str, lines: &[String], cx: &Context) -> CondorJob {
    let at = format!("{}:{}", cx.config_file, cx.settings.lines.htcondor);
    CondorJob::new(host, image, lines, at, cx.progress)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        let mut settings = Settings::default();
        for (key, toml) in pairs {
            let value = toml::de::DeValue::parse(toml).unwrap();
            assert_eq!(settings.set(key, value.get_ref(), 1), Some(Ok(())), "{key}");
        }
        settings
    }

    #[test]
    fn an_attached_host_that_names_no_scheduler_takes_either_where_both_are_reached_alike() {
        let scheduler = |pairs: &[(&str, &str)]| attached_scheduler(&settings(pairs));
        assert_eq!(scheduler(&[]), None);
        assert_eq!(
            scheduler(&[
                ("slurm_connect", "\"srun\""),
                ("htcondor_connect", "\"condor_ssh_to_job\"")
            ]),
            None
        );
        assert_eq!(scheduler(&[("htcondor", "[]")]), Some(Scheduler::Htcondor));
        assert_eq!(scheduler(&[("slurm", "[]")]), Some(Scheduler::Slurm));
        // Node mode is Slurm's alone; ways that differ cannot be chosen after the job is found.
        assert_eq!(
            scheduler(&[("slurm_connect", "\"ssh\"")]),
            Some(Scheduler::Slurm)
        );
        assert_eq!(
            scheduler(&[("slurm_connect", "\"srun\"")]),
            Some(Scheduler::Slurm)
        );
    }
}
