//! Into a job by its own sshd ([`Way::Sshd`]): the job is the ssh destination. The laptop's ssh
//! reaches it through its ProxyCommand, which runs the hop ([`hop_script`]): the user's own ssh
//! to the login node, whose script finds or submits the host's job (or finds the one attached
//! to), waits for it, and starts a private sshd of the user's (`sshd`) on the job's node through
//! the scheduler's channel (a Slurm step, `condor_ssh_to_job`), whose stdin and stdout then carry
//! the connection. So every ssh feature ends in the job: a pty, forwards, the agent, X11,
//! multiplexing. Each session's command is cssh's script for the job's node ([`session`]), as a
//! node-mode session's: a new container in the allocation, its instance, or the job's own
//! container entered by its namespaces. For any SSH client (`cssh --proxy`, [`proxy_script`])
//! the same sshd runs that script itself, on the client's own request, and a host without a job
//! gets it on the login node.

use super::runtime::{image_check, prelude, runtime_lookup};
use super::scheduler::slurm::{self, attach};
use super::scheduler::{either, htcondor};
use super::script::Script;
use super::session::Inner;
use super::sshd::{self, Keys, ON_REFUSAL, Serving};
use super::target::{HostJob, Job, Payload, Place, Scheduler, Target};
use super::{container, launch::batch_script, values};

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
    hop(target, keys, announce, false)
}

/// What `cssh --proxy` runs on the login node for a plain SSH client: as [`hop_script`], but the
/// sshd's sessions run what the client asks in the container themselves
/// ([`Payload::Client`]); a host without a job gets the sshd on the login node, after its image
/// is checked (a refusal ends the connection before any session).
pub fn proxy_script(target: &Target, keys: &Keys) -> Vec<u8> {
    hop(target, keys, false, true)
}

fn hop(target: &Target, keys: &Keys, announce: bool, client: bool) -> Vec<u8> {
    let mut s = Script::exiting_with(ON_REFUSAL);
    prelude(&mut s, target);
    s.raw(sshd::CONNECTION);
    hop_body(&mut s, target, keys, announce, client);
    s.text
}

/// The hop after the prelude.
fn hop_body(s: &mut Script, target: &Target, keys: &Keys, announce: bool, client: bool) {
    let session_script;
    let serving = if client {
        session_script = match &target.place {
            Place::Job(job, _) => session(target, job, Payload::Client),
            Place::Here => super::script(target, Payload::Client),
        };
        Serving::Client(&session_script)
    } else {
        Serving::CsshCommands
    };
    let launcher = |variables: &[&str]| {
        sshd::launcher(target, keys, &[variables, GPU_VARIABLES].concat(), serving)
    };
    let Place::Job(job, _) = &target.place else {
        runtime_lookup(s, target);
        image_check(s, target);
        s.raw("exec /bin/sh -c");
        s.word(&sshd::launcher(target, keys, &[], serving));
        s.raw(" sh '' \"$cssh_conn\"\n");
        return;
    };
    match job {
        Job::AttachedEither(attached) => {
            either::decide(s, target, attached);
            either::each(s, target, attached, either::DECIDED, |s, on| {
                hop_body(s, on, keys, announce, client);
            });
        }
        Job::Own(HostJob::Slurm(allocation)) => {
            runtime_lookup(s, target);
            image_check(s, target);
            slurm::allocation(s, target, allocation, &batch_script(target, allocation));
            if announce {
                slurm::time_left(s, target);
            }
            slurm::connecting(s, allocation);
            slurm::channel_to_batch(s, &launcher(slurm::JOB_VARIABLES));
        }
        Job::Attached(Scheduler::Slurm, attached) => {
            attach::find_job(s, target, attached);
            slurm::channel(s, &launcher(slurm::JOB_VARIABLES));
        }
        Job::Own(HostJob::Htcondor(job)) => {
            image_check(s, target);
            htcondor::job(s, target, job);
            if announce {
                htcondor::time_left(s, target);
            }
            values::to_sandbox(s, target);
            htcondor::channel(s, &launcher(htcondor::JOB_VARIABLES));
        }
        Job::Attached(Scheduler::Htcondor, attached) => {
            htcondor::find_job(s, target, attached);
            htcondor::reachable(s, target);
            values::to_sandbox(s, target);
            htcondor::channel(s, &launcher(htcondor::JOB_VARIABLES));
        }
    }
}

/// A session's script on the job's node, in a session of the job's sshd, whose forced command
/// exported the job's variables and `CSSH_JOB`, its id: the session's container. The prelude
/// runs on a Slurm node (where the runtime is to be found), not on an HTCondor execute point
/// (HTCondor starts the container; the prelude is the access point's).
pub(super) fn session(target: &Target, job: &Job, payload: Payload) -> Vec<u8> {
    let mut s = Script::default();
    session_body(&mut s, target, job, payload);
    s.text
}

fn session_body(s: &mut Script, target: &Target, job: &Job, payload: Payload) {
    if job.scheduler() == Some(Scheduler::Slurm) {
        prelude(s, target);
    }
    // Once, also where the session goes on as for the scheduler whose job it is.
    s.raw("cssh_job=${CSSH_JOB-${cssh_job-}}; unset CSSH_JOB\n");
    let inner = || Inner::of(target, payload);
    match job {
        Job::Own(HostJob::Slurm(allocation)) => {
            runtime_lookup(s, target);
            image_check(s, target);
            slurm::joined(s, allocation);
            container(s, target, payload);
        }
        Job::Attached(Scheduler::Slurm, attached) => {
            attach::enter(s, target, attached, &inner());
        }
        Job::Own(HostJob::Htcondor(_)) | Job::Attached(Scheduler::Htcondor, _) => {
            htcondor::enter_by_sshd(s, target, &inner());
        }
        Job::AttachedEither(attached) => {
            either::each(s, target, attached, either::IN_SESSION, |s, on| {
                if let Place::Job(job, _) = &on.place {
                    session_body(s, on, job, payload);
                }
            });
        }
    }
}
