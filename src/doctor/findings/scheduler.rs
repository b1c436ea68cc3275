//! The doctor's checks of a host's batch job, one per scheduler: Slurm's allocation and
//! HTCondor's job (found or submittable, running, its time left, why it waits), judged from the
//! probe's facts, with the fix naming the host's `slurm` or `htcondor` line.

use super::{Facts, Places, Status};
use crate::plan::Probe;
use crate::remote::HostJob;
use crate::remote::facts::Fact;

/// The Slurm check: sbatch and srun on the login node, the partition, the allocation's state.
pub(super) fn judge_slurm(
    facts: &Facts,
    probe: &Probe,
    places: &Places,
) -> (Status, String, Option<String>) {
    let Some(HostJob::Slurm(allocation)) = &probe.job else {
        return (Status::Skip, String::new(), None);
    };
    let at = places.at(probe.settings.lines.slurm);
    if let Some(error) = facts.get(Fact::SlurmError) {
        return (
            Status::Fail,
            error.into(),
            Some(format!(
                "check the prelude in {}",
                places.at(probe.settings.lines.prelude)
            )),
        );
    }
    let (Some(sbatch), Some(srun)) = (facts.get(Fact::SbatchPath), facts.get(Fact::SrunPath))
    else {
        return (Status::Skip, String::new(), None);
    };
    for (path, program) in [(sbatch, "sbatch"), (srun, "srun")] {
        if path.is_empty() {
            return (
                Status::Fail,
                format!("no {program} on the login node"),
                Some(format!(
                    "load Slurm in the prelude in {}",
                    places.at(probe.settings.lines.prelude)
                )),
            );
        }
    }
    let partitions = facts.get(Fact::Partitions).unwrap_or_default();
    if let Some(partition) = allocation.partition()
        && !partitions.split_whitespace().any(|p| p == partition)
    {
        return (
            Status::Fail,
            format!(
                "no partition {partition} (sinfo lists: {})",
                partitions.split_whitespace().collect::<Vec<_>>().join(" ")
            ),
            Some(format!("name one of them in slurm in {at}")),
        );
    }
    let job = facts.get(Fact::Job).unwrap_or_default();
    let mut fields = job.splitn(5, ' ');
    match (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) {
        (Some(id), Some("RUNNING"), Some(nodes), Some(left), _) => (
            Status::Pass,
            format!("job {id} running on {nodes}, {left} left"),
            None,
        ),
        (Some(id), Some(state), _, _, reason) if !id.is_empty() => (
            Status::Warn,
            format!("job {id} {state} ({})", reason.unwrap_or_default()),
            Some(format!(
                "sessions wait for it; `cssh --release {}` cancels it",
                probe.host
            )),
        ),
        _ => (
            Status::Pass,
            "no allocation (the next session submits one)".into(),
            None,
        ),
    }
}

/// The HTCondor check: condor_submit and condor_ssh_to_job on the access point, a pool with
/// execute points that run containers, the host's job's state and execute point.
pub(super) fn judge_htcondor(
    facts: &Facts,
    probe: &Probe,
    places: &Places,
) -> (Status, String, Option<String>) {
    let Some(HostJob::Htcondor(_)) = &probe.job else {
        return (Status::Skip, String::new(), None);
    };
    let in_prelude = |what: &str| {
        Some(format!(
            "{what} in the prelude in {}",
            places.at(probe.settings.lines.prelude)
        ))
    };
    if let Some(error) = facts.get(Fact::HtcondorError) {
        return (Status::Fail, error.into(), in_prelude("check the commands"));
    }
    let (Some(submit), Some(ssh_to_job)) = (
        facts.get(Fact::CondorSubmitPath),
        facts.get(Fact::CondorSshToJobPath),
    ) else {
        return (Status::Skip, String::new(), None);
    };
    for (path, program) in [(submit, "condor_submit"), (ssh_to_job, "condor_ssh_to_job")] {
        if path.is_empty() {
            return (
                Status::Fail,
                format!("no {program} on the access point"),
                in_prelude("put HTCondor's tools on PATH"),
            );
        }
    }
    let pool = facts.get(Fact::Pool).unwrap_or_default();
    if let Some(error) = pool.strip_prefix("error ") {
        return (
            Status::Fail,
            format!("the pool does not answer: {error}"),
            Some(
                "condor_status must answer on the access point (CONDOR_HOST, COLLECTOR_HOST)"
                    .into(),
            ),
        );
    }
    let mut counts = pool.split(' ').map(|n| n.parse::<u32>().unwrap_or(0));
    let (slots, containers) = (counts.next().unwrap_or(0), counts.next().unwrap_or(0));
    if containers == 0 {
        return (
            Status::Fail,
            format!("none of the pool's {slots} slots runs containers (HasContainer)"),
            Some("the execute points need Apptainer or Singularity that HTCondor detects".into()),
        );
    }
    let pool = format!("{containers} of {slots} slots run containers");
    let job = facts.get(Fact::CondorJob).unwrap_or_default();
    let mut fields = job.split(' ');
    match (fields.next(), fields.next(), fields.next()) {
        (Some(id), Some("2"), Some(slot)) => {
            let point = slot.rsplit('@').next().unwrap_or(slot);
            (
                Status::Pass,
                format!("{pool}; job {id} running on {point}"),
                None,
            )
        }
        (Some(id), Some(status), _) if !id.is_empty() => {
            let why = facts.get(Fact::CondorIdle).unwrap_or_default();
            let release = format!("`cssh --release {}` removes it", probe.host);
            let (state, fix) = match why {
                "" => (
                    condor_status_name(status).to_string(),
                    format!("sessions wait for it; {release}"),
                ),
                _ if why.starts_with("no slot matches ") => (
                    format!("idle ({why})"),
                    format!(
                        "no slot can run it: change htcondor in {}, then {release}",
                        places.at(probe.settings.lines.htcondor)
                    ),
                ),
                _ => (
                    format!("idle ({why})"),
                    format!("sessions wait for it; {release}"),
                ),
            };
            (Status::Warn, format!("{pool}; job {id} {state}"), Some(fix))
        }
        _ => (
            Status::Pass,
            format!("{pool}; no job (the next session submits one)"),
            None,
        ),
    }
}

/// HTCondor's name for a `JobStatus`.
fn condor_status_name(status: &str) -> &str {
    match status {
        "1" => "idle",
        "2" => "running",
        "5" => "held (the next session removes it and submits a new one)",
        "6" => "transferring output",
        "7" => "suspended",
        other => other,
    }
}
