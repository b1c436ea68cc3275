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

/// How the script speaks of a scheduler here: its word in `cssh_sched`, the variable that holds
/// its answer (a job id, `-` where it has none of this user's, empty where the login node lacks
/// it), and the `case` patterns of `$cssh_s:$cssh_h` where it has the job, or only is there.
struct Spoken {
    word: &'static str,
    answer: &'static str,
    has_job: &'static str,
    is_there: &'static str,
}

fn spoken(scheduler: Scheduler) -> Spoken {
    match scheduler {
        Scheduler::Slurm => Spoken {
            word: "slurm",
            answer: "cssh_s",
            has_job: "[0-9]*:*",
            is_there: "-:*",
        },
        Scheduler::Htcondor => Spoken {
            word: "htcondor",
            answer: "cssh_h",
            has_job: "*:[0-9]*",
            is_there: "*:-",
        },
    }
}

/// Sets `cssh_sched` to `slurm` or `htcondor`: the scheduler whose running job of this user's
/// `attach` names, else the one the form prefers; or refuses a name both have, in one line.
pub(in crate::remote) fn decide(s: &mut Script, target: &Target, attach: &Attach) {
    let (first, second) = match (&attach.job, &attach.step) {
        (JobRef::Id(_), Some(_)) => (Scheduler::Htcondor, Scheduler::Slurm),
        _ => (Scheduler::Slurm, Scheduler::Htcondor),
    };
    let ask = |s: &mut Script, scheduler: Scheduler| {
        let (tool, running): (&str, fn(&mut Script, &Attach)) = match scheduler {
            Scheduler::Slurm => ("squeue", slurm::attach::running),
            Scheduler::Htcondor => ("condor_q", htcondor::running),
        };
        let answer = spoken(scheduler).answer;
        s.raw(&format!(
            "if command -v {tool} >/dev/null 2>&1; then {answer}=$("
        ));
        running(s, attach);
        s.raw(&format!("); {answer}=${{{answer}:--}}; fi\n"));
    };
    // An id the preferred scheduler has needs no second question; a name always does.
    s.raw("cssh_s=; cssh_h=\n");
    ask(s, first);
    if let JobRef::Id(_) = &attach.job {
        s.raw(&format!(
            "case ${} in [0-9]*) ;; *)\n",
            spoken(first).answer
        ));
        ask(s, second);
        s.raw(";; esac\n");
    } else {
        ask(s, second);
    }
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
    let (first, second) = (spoken(first), spoken(second));
    s.raw(&format!(
        "{}) cssh_sched={} ;;\n{}) cssh_sched={} ;;\n{}) cssh_sched={} ;;\n*) cssh_sched={} ;;\nesac\n",
        first.has_job, first.word, second.has_job, second.word, first.is_there, first.word, second.word
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

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::remote::script::run_with_stand_ins;
    use crate::settings::Settings;

    /// What `decide` makes of `attach` where squeue answers `slurm` and condor_q `htcondor`
    /// (a job id, or nothing; `None`: the login node lacks the tool): `cssh_sched`, or the line
    /// it refuses with.
    fn decided(attach: &str, slurm: Option<&str>, htcondor: Option<&str>) -> String {
        let settings = Settings::default();
        let target = Target {
            host: "hpc",
            image: "/i.sif",
            settings: &settings,
            config_file: "/c.toml",
            place: Place::Here,
            sent: &[],
            values: None,
        };
        let mut s = Script::default();
        decide(&mut s, &target, &Attach::parse(attach).unwrap());
        s.raw("echo \"$cssh_sched\"\n");
        let answers: Vec<(&str, String)> = [("squeue", slurm), ("condor_q", htcondor)]
            .into_iter()
            .filter_map(|(tool, answer)| Some((tool, format!("echo {}", answer?))))
            .collect();
        let programs: Vec<(&str, &str)> = answers.iter().map(|(t, a)| (*t, a.as_str())).collect();
        run_with_stand_ins(&s.text, &programs)
    }
    #[test]
    fn the_scheduler_that_has_the_job_is_taken_and_the_form_decides_between_both() {
        // A plain number: Slurm's first, HTCondor's N.0 where Slurm has none.
        assert_eq!(decided("42", Some("42"), Some("42.0")), "slurm");
        assert_eq!(decided("42", Some(""), Some("42.0")), "htcondor");
        // ID.STEP: HTCondor's first, a Slurm step where HTCondor has none.
        assert_eq!(decided("12.0", Some("12"), Some("12.0")), "htcondor");
        assert_eq!(decided("12.0", Some("12"), Some("")), "slurm");
        // Neither has it: the preferred scheduler that the login node has says why.
        assert_eq!(decided("42", Some(""), Some("")), "slurm");
        assert_eq!(decided("42", None, Some("")), "htcondor");
        assert_eq!(decided("12.0", None, None), "slurm");
        // A name: whichever has it; both is one line naming both.
        assert_eq!(decided("train", Some(""), Some("12.0")), "htcondor");
        assert_eq!(decided("train", Some("42"), None), "slurm");
        assert_eq!(
            decided("train", Some("42"), Some("12.0")),
            "cssh: hpc: Slurm's job 42 and HTCondor's job 12.0 are both running jobs of yours named \"train\": attach one by its id (cssh --attach list hpc lists them)"
        );
    }
}
