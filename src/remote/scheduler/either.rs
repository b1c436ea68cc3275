//! A job attached to on a login node with both schedulers, where the host names neither: the
//! script asks each scheduler the login node has for a running job of this user's by that id
//! or name, and goes on as for the one that has it. The form decides where both could: a plain
//! number is Slurm's job first (an HTCondor cluster's proc 0 after), `ID.STEP` HTCondor's job
//! first (a Slurm job's step after); a name that both have is refused in one line naming both.
//! Where neither has it, the scheduler the form prefers (of those the login node has) says why,
//! as it does for a host that names it.

use super::{htcondor, slurm};
use crate::remote::container::ATTACH_FAILED;
use crate::remote::script::{Part, Script};
use crate::remote::target::{Job, Place, Scheduler, Target};
use crate::settings::{Attach, JobRef};

/// A test that is true where [`decide`] chose HTCondor.
pub(in crate::remote) const DECIDED: &str = "[ \"$cssh_sched\" = htcondor ]";

/// A test that is true in a session of the job's own sshd of an HTCondor job, whose id
/// (`cssh_job`, from the sshd's `CSSH_JOB`) is `CLUSTER.PROC` (a Slurm job's is a number).
pub(in crate::remote) const IN_SESSION: &str = "case $cssh_job in *.*) true ;; *) false ;; esac";

/// Sets `cssh_sched` to `slurm` or `htcondor`: the scheduler whose running job of this user's
/// `attach` names, else the one the form prefers; or refuses a name both have, in one line.
pub(in crate::remote) fn decide(s: &mut Script, target: &Target, attach: &Attach) {
    s.raw("cssh_s=; cssh_h=\nif command -v squeue >/dev/null 2>&1; then cssh_s=$(");
    slurm::attach::running(s, attach);
    s.raw("); cssh_s=${cssh_s:--}; fi\nif command -v condor_q >/dev/null 2>&1; then cssh_h=$(");
    htcondor::running(s, attach);
    s.raw("); cssh_h=${cssh_h:--}; fi\n");
    // `-` is a scheduler the login node has, without the job.
    s.raw("case $cssh_s:$cssh_h in\n");
    if let JobRef::Name(name) = &attach.job {
        s.raw("[0-9]*:[0-9]*)");
        s.fail_with(
            &[
                Part::Text(&target.say("Slurm's job ")),
                Part::Value("$cssh_s"),
                Part::Text(" and HTCondor's job "),
                Part::Value("$cssh_h"),
                Part::Text(&format!(
                    " are both running jobs of yours named \"{name}\": attach one by its id (cssh --attach list {} lists them)",
                    target.host
                )),
            ],
            ATTACH_FAILED,
        );
        s.raw(";;\n");
    }
    let (first, second) = match (&attach.job, &attach.step) {
        (JobRef::Id(_), Some(_)) => ("htcondor", "slurm"),
        _ => ("slurm", "htcondor"),
    };
    let found = |name| {
        if name == "slurm" {
            "[0-9]*:*"
        } else {
            "*:[0-9]*"
        }
    };
    let has = |name| if name == "slurm" { "-:*" } else { "*:-" };
    s.raw(&format!(
        "{}) cssh_sched={first} ;;\n{}) cssh_sched={second} ;;\n{}) cssh_sched={first} ;;\n*) cssh_sched={second} ;;\nesac\n",
        found(first),
        found(second),
        has(first),
    ));
}

/// Writes `body` for each scheduler, for the target attached to its job: HTCondor's behind
/// `test` (ending the script there), then Slurm's.
pub(in crate::remote) fn each(
    s: &mut Script,
    target: &Target,
    attach: &Attach,
    test: &str,
    mut body: impl FnMut(&mut Script, &Target),
) {
    let Place::Job(_, way) = target.place else {
        return;
    };
    let on = |scheduler| Target {
        place: Place::Job(Job::Attached(scheduler, attach.clone()), way),
        ..target.clone()
    };
    s.raw(&format!("if {test}; then\n"));
    body(s, &on(Scheduler::Htcondor));
    s.raw("exit\nfi\n");
    body(s, &on(Scheduler::Slurm));
}
