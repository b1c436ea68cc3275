//! The remote script's Slurm steps, run on the login node in the same ssh session as the rest:
//! find this user's allocation for the host (a job named `cssh-HOST`) or submit one, wait while
//! it is pending, then start the session as a step of it (`srun --jobid=J --overlap`), so shells,
//! commands, transfers and editor windows share one job. `--release` cancels it. Where sessions
//! reach the node by ssh instead, a first connection waits for the allocation and prints its
//! node, and the session's own script, run on the node, joins the job.
//!
//! Two connections that submit at once both keep the lowest job id and cancel the other, so a
//! burst of connections (an editor opens several) ends with one allocation.

use super::{ALLOCATION_FAILED, Wait, wait};
pub mod attach;

use crate::remote::script::{Part, Script};
use crate::remote::target::Target;
pub use crate::remote::target::{Allocation, DEFAULT_TIME_LIMIT};

/// `cssh_live_jobs`: this user's live jobs of the allocation's name, lowest id first.
fn live_jobs(s: &mut Script, allocation: &Allocation) {
    s.raw("cssh_live_jobs() { squeue --me --noheader --states=PENDING,CONFIGURING,RUNNING --format=%i --name=");
    s.quoted(allocation.job_name.as_bytes());
    s.raw(" 2>/dev/null | sort -n; }\n");
}

/// Sets `cssh_job` to the running allocation, submitting it if there is none and waiting while
/// it is pending. `batch` is the job's script: it holds the allocation until its time limit.
pub(in crate::remote) fn allocation(
    s: &mut Script,
    target: &Target,
    allocation: &Allocation,
    batch: &[u8],
) {
    live_jobs(s, allocation);
    s.raw("cssh_job=$(cssh_live_jobs | head -n 1)\nif [ -z \"$cssh_job\" ]; then\n");
    s.raw("  cssh_out=$(CSSH_RT=$cssh_rt sbatch --parsable --output=/dev/null --job-name=");
    s.quoted(allocation.job_name.as_bytes());
    for option in &allocation.sbatch_options {
        s.word(option.as_bytes());
    }
    s.raw(" --wrap");
    s.word(batch);
    s.raw(" </dev/null 2>&1) ||");
    s.fail_with(
        &[
            Part::Text(&target.say(&format!(
                "sbatch refused the allocation (slurm in {}): ",
                allocation.configured_at
            ))),
            Part::Value("$(printf '%s\\n' \"$cssh_out\" | tail -n 1 | sed 's/^sbatch: error: //')"),
        ],
        ALLOCATION_FAILED,
    );
    // sbatch --parsable prints `id` or `id;cluster`. A connection that submitted at the same
    // time keeps the lowest id too; the other job goes.
    s.raw("  cssh_job=${cssh_out%%;*}\n  cssh_first=$(cssh_live_jobs | head -n 1)\n");
    s.raw("  if [ -n \"$cssh_first\" ] && [ \"$cssh_first\" != \"$cssh_job\" ]; then scancel \"$cssh_job\"; cssh_job=$cssh_first; fi\nfi\n");
    // squeue fails for a job that has left the queue.
    let waiting = Wait {
        query: "cssh_state=$(squeue --noheader --states=all --jobs=\"$cssh_job\" --format='%T %r' 2>/dev/null) || cssh_state=\n  cssh_state=${cssh_state:-ENDED}",
        running: "RUNNING*",
        waiting: "PENDING*|CONFIGURING*",
        shown: "${cssh_state%% *} (${cssh_state#* })",
        progress: allocation.progress,
    };
    wait(s, target, &waiting, |s| {
        s.fail_with(
            &[
                Part::Text(&target.say("job ")),
                Part::Value("$cssh_job"),
                Part::Text(" "),
                Part::Value("${cssh_state%% *}"),
                Part::Text(" (the next connection submits a new one)"),
            ],
            ALLOCATION_FAILED,
        );
    });
    terminal_or_unbuffered(s);
}

/// `cssh_io`: a terminal session gets a terminal step; any other stays byte-exact, unbuffered.
pub(in crate::remote) fn terminal_or_unbuffered(s: &mut Script) {
    s.raw("cssh_io=--unbuffered; [ -t 0 ] && cssh_io=--pty\n");
}

/// The words that start a step of job `$cssh_job` on one node (`node`, a shell word, else its
/// first). srun quiet twice keeps its own "task 0: Exited with exit code N" off stderr, which
/// then holds only what the command writes, as with plain ssh; the job was just seen running,
/// so the step itself starts.
pub(in crate::remote) fn step(s: &mut Script, node: Option<&str>) {
    s.raw(" srun --jobid=\"$cssh_job\" --overlap --nodes=1 --ntasks=1");
    if let Some(node) = node {
        s.raw(&format!(" --nodelist={node}"));
    }
    s.raw(" --quiet --quiet \"$cssh_io\"");
}

/// Prints the allocation's first node.
pub(in crate::remote) fn print_node(s: &mut Script) {
    s.raw("cssh_nodes=$(squeue --noheader --jobs=\"$cssh_job\" --format=%N)\n");
    s.raw("scontrol show hostnames \"$cssh_nodes\" | head -n 1\n");
}

/// On the allocation's node: the session belongs to its job, as a step's would.
pub(in crate::remote) fn join(s: &mut Script, allocation: &Allocation) {
    live_jobs(s, allocation);
    s.raw("SLURM_JOB_ID=$(cssh_live_jobs | head -n 1); SLURM_JOBID=$SLURM_JOB_ID; export SLURM_JOB_ID SLURM_JOBID\n");
}

/// The doctor's facts about the host's Slurm: where sbatch and srun are, the partitions, and
/// the allocation's job (`ID STATE NODES REASON`), if there is one.
pub(in crate::remote) fn probe(s: &mut Script, allocation: &Allocation) {
    use crate::remote::facts::Fact;
    live_jobs(s, allocation);
    s.raw(&format!(
        "cssh_fact {} \"$(command -v sbatch)\"\ncssh_fact {} \"$(command -v srun)\"\n",
        Fact::SbatchPath.key(),
        Fact::SrunPath.key()
    ));
    s.raw(&format!(
        "cssh_fact {} \"$(sinfo --noheader --format=%R 2>/dev/null | sort -u | tr '\\n' ' ')\"\n",
        Fact::Partitions.key()
    ));
    s.raw(&format!(
        "cssh_job=$(cssh_live_jobs | head -n 1)\n[ -z \"$cssh_job\" ] || cssh_fact {} \"$(squeue --noheader --jobs=\"$cssh_job\" --format='%i %T %N %r' 2>/dev/null)\"\n",
        Fact::Job.key()
    ));
}

/// A script that cancels the host's allocation and says which job it was.
pub(in crate::remote) fn release(s: &mut Script, target: &Target, allocation: &Allocation) {
    live_jobs(s, allocation);
    s.raw("cssh_job=$(cssh_live_jobs)\nif [ -z \"$cssh_job\" ]; then\n  printf '%s\\n' ");
    s.quoted(target.say("no allocation to release").as_bytes());
    s.raw(" >&2\nelse\n  scancel $cssh_job || exit\n  printf '%s %s\\n' ");
    s.quoted(target.say("released job").as_bytes());
    s.raw(" \"$(echo $cssh_job)\" >&2\nfi\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_without_a_time_limit_get_the_default() {
        let options = |words: &[&str]| {
            let words: Vec<String> = words.iter().map(|w| (*w).to_string()).collect();
            Allocation::new("GPU-job", &words, "c:1".into(), false).sbatch_options
        };
        assert_eq!(options(&["-p", "gpu"]), ["--time=1:00:00", "-p", "gpu"]);
        for own in [&["--time=5"][..], &["--time", "5"], &["-t", "5"], &["-t5"]] {
            assert_eq!(options(own), own, "{own:?}");
        }
        assert_eq!(
            Allocation::new("GPU-job", &[], String::new(), false).job_name,
            "cssh-gpu-job"
        );
    }
}
