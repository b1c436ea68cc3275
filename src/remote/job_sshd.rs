//! Into a job by its own sshd ([`Way::Sshd`]): the job is the ssh destination. The laptop's ssh
//! reaches it through its ProxyCommand, which runs the hop ([`hop_script`]): the user's own ssh
//! to the login node, whose script finds or submits the host's job (or finds the one attached
//! to), waits for it, and starts a private sshd of the user's (`sshd`) on the job's node through
//! the scheduler's channel (a Slurm step, `condor_ssh_to_job`), whose stdin and stdout then carry
//! the connection. So every ssh feature ends in the job: a pty, forwards, the agent, X11,
//! multiplexing. Each session's command is cssh's script for the job's node ([`session`]), as a
//! node-mode session's: a new container in the allocation, its instance, or the job's own
//! container entered by its namespaces.

use super::runtime::{image_check, prelude, runtime_lookup};
use super::scheduler::htcondor;
use super::scheduler::slurm::{self, attach};
use super::script::Script;
use super::session::Inner;
use super::sshd::{self, Keys, ON_REFUSAL};
use super::target::{HostJob, Job, Payload, Place, Scheduler, Target};
use super::{container, launch::batch_script};

/// The variables of a job's environment that name the GPUs it was given, whatever the scheduler.
const GPU_VARIABLES: &[&str] = &[
    "^CUDA_VISIBLE_DEVICES=",
    "^GPU_DEVICE_ORDINAL=",
    "^ROCR_VISIBLE_DEVICES=",
    "^HIP_VISIBLE_DEVICES=",
    "^ZE_AFFINITY_MASK=",
];

/// What the ProxyCommand's ssh runs on the login node: the job found, submitted or attached to
/// and waited for (with the line of its time left where `announce`: an interactive login on a
/// terminal), then the job's sshd started on its node through the scheduler's channel (never
/// returns but by refusing in one line, after which the stream ends quietly).
pub fn hop_script(target: &Target, keys: &Keys, announce: bool) -> Vec<u8> {
    let mut s = Script::exiting_with(ON_REFUSAL);
    prelude(&mut s, target);
    let Place::Job(job, _) = &target.place else {
        return s.text;
    };
    let variables = |scheduler: &[&'static str]| [scheduler, GPU_VARIABLES].concat();
    s.raw(sshd::CONNECTION);
    match job {
        Job::Own(HostJob::Slurm(allocation)) => {
            runtime_lookup(&mut s, target);
            image_check(&mut s, target);
            slurm::allocation(
                &mut s,
                target,
                allocation,
                &batch_script(target, allocation),
            );
            if announce {
                slurm::time_left(&mut s, target);
            }
            slurm::connecting(&mut s, allocation);
            let launcher = sshd::launcher(target, keys, &variables(slurm::JOB_VARIABLES));
            slurm::channel_to_batch(&mut s, &launcher);
        }
        Job::Attached(Scheduler::Slurm, attached) => {
            attach::find_job(&mut s, target, attached);
            let launcher = sshd::launcher(target, keys, &variables(slurm::JOB_VARIABLES));
            slurm::channel(&mut s, &launcher);
        }
        Job::Own(HostJob::Htcondor(job)) => {
            image_check(&mut s, target);
            htcondor::job(&mut s, target, job);
            if announce {
                htcondor::time_left(&mut s, target);
            }
            let launcher = sshd::launcher(target, keys, &variables(htcondor::JOB_VARIABLES));
            htcondor::channel(&mut s, &launcher);
        }
        Job::Attached(Scheduler::Htcondor, attached) => {
            htcondor::find_job(&mut s, target, attached);
            htcondor::reachable(&mut s, target);
            let launcher = sshd::launcher(target, keys, &variables(htcondor::JOB_VARIABLES));
            htcondor::channel(&mut s, &launcher);
        }
    }
    s.text
}

/// A session's script on the job's node, in a session of the job's sshd, whose forced command
/// exported the job's variables and `CSSH_JOB`, its id: the session's container. The prelude
/// runs on a Slurm node (where the runtime is to be found), not on an HTCondor execute point
/// (HTCondor starts the container; the prelude is the access point's).
pub(super) fn session(target: &Target, job: &Job, payload: Payload) -> Vec<u8> {
    let mut s = Script::default();
    if job.scheduler() == Scheduler::Slurm {
        prelude(&mut s, target);
    }
    s.raw("cssh_job=${CSSH_JOB-}; unset CSSH_JOB\n");
    let inner = || Inner::of(target, payload);
    match job {
        Job::Own(HostJob::Slurm(allocation)) => {
            runtime_lookup(&mut s, target);
            image_check(&mut s, target);
            slurm::joined(&mut s, allocation);
            container(&mut s, target, payload);
        }
        Job::Attached(Scheduler::Slurm, attached) => {
            attach::enter(&mut s, target, attached, &inner());
        }
        Job::Own(HostJob::Htcondor(_)) | Job::Attached(Scheduler::Htcondor, _) => {
            htcondor::enter_by_sshd(&mut s, target, &inner());
        }
    }
    s.text
}
