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

use crate::remote::script::{Part, Script, proc_stat};
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
                "sbatch refused the allocation ({}): ",
                allocation.configured
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

/// One line on stderr: job `$cssh_job`, its nodes and the time it has left, as squeue says
/// (`7:58:12`, `1-02:00:00`, `UNLIMITED`).
pub(in crate::remote) fn time_left(s: &mut Script, target: &Target) {
    s.raw("cssh_left=$(squeue --noheader --jobs=\"$cssh_job\" --format='%N %L' 2>/dev/null </dev/null)\nprintf '%s%s on %s, %s left\\n'");
    s.word(target.say("job ").as_bytes());
    s.raw(" \"$cssh_job\" \"${cssh_left%% *}\" \"${cssh_left#* }\" >&2\n");
}

/// Prints the allocation's first node.
pub(in crate::remote) fn print_node(s: &mut Script) {
    s.raw("cssh_nodes=$(squeue --noheader --jobs=\"$cssh_job\" --format=%N)\n");
    s.raw("scontrol show hostnames \"$cssh_nodes\" | head -n 1\n");
}

/// Where the allocation's batch script leaves its SLURM_* variables (`export` lines), a shell
/// word of the job's id.
pub(in crate::remote) const JOB_ENVIRONMENT: &str = "\"$HOME/.cache/cssh/slurm-$SLURM_JOB_ID.env\"";

/// The directory of the sessions' marks for `slurm_idle`, a shell word of the job's id in
/// `job` (a variable): `connect`, written by a connection just before its session starts, and
/// `pid-PID` (its start time inside) for each node-mode session, whose process is the session
/// until its command ends. Written with `true` (a redirection that fails on `:`, a special
/// built-in, would end the script).
pub(in crate::remote) fn session_marks(job: &str) -> String {
    format!("\"$HOME/.cache/cssh/slurm-${job}.sessions\"")
}

/// The batch script's watch for `slurm_idle`: every few seconds (a quarter of the idle time, 1 to
/// 30 s) it asks whether a session lives: a step of the job (a step ends when its last process
/// does), a node-mode session's process (its pid with its start time, so a reused pid is not
/// it), or a connection that touched `connect` since the last look (it found the job running
/// and is starting its step). After `idle` seconds without one the script exits, and so the job
/// ends; the next connection submits a new one.
pub(in crate::remote) fn idle_watch(s: &mut Script, idle: u64) {
    let every = (idle / 4).clamp(1, 30);
    proc_stat(s);
    s.raw("cssh_now() { read -r cssh_t _ </proc/uptime; cssh_t=${cssh_t%.*}; }\n");
    s.raw("cssh_busy() {\n");
    s.raw("  squeue --noheader --steps --jobs=\"$SLURM_JOB_ID\" --format=%i 2>/dev/null | grep -q '\\.[0-9][0-9]*$' && return 0\n");
    s.raw("  [ \"$cssh_marks/connect\" -nt \"$cssh_marks/looked\" ] && return 0\n");
    s.raw("  for cssh_m in \"$cssh_marks\"/pid-*; do\n    [ -f \"$cssh_m\" ] || continue\n");
    s.raw("    read -r cssh_s <\"$cssh_m\"; cssh_stat \"${cssh_m##*/pid-}\" && [ \"$cssh_start\" = \"$cssh_s\" ] && return 0\n");
    s.raw("    rm -f \"$cssh_m\"\n  done\n  return 1\n}\n");
    s.raw(&format!(
        "cssh_now; cssh_last=$cssh_t\nwhile :; do\n  true >\"$cssh_marks/looked\"; sleep {every} & wait $!\n"
    ));
    s.raw(&format!(
        "  cssh_now; if cssh_busy; then cssh_last=$cssh_t; elif [ $((cssh_t - cssh_last)) -ge {idle} ]; then exit 0; fi\ndone"
    ));
}

/// For `slurm_idle`: a session of job `$cssh_job` is about to start (the allocation's watch
/// counts it until its step or its node-mode mark shows). Never fails.
pub(in crate::remote) fn connecting(s: &mut Script, allocation: &Allocation) {
    if allocation.idle.is_some() {
        s.raw(&format!(
            "true 2>/dev/null >{}/connect\n",
            session_marks("cssh_job")
        ));
    }
}

/// On the allocation's node: the session belongs to its job with the variables its steps have
/// (those of the batch step, which `srun` inside reads as it would in a batch script). With
/// `slurm_idle`, it leaves its mark: this process, which becomes the runtime's, is the session.
pub(in crate::remote) fn join(s: &mut Script, allocation: &Allocation) {
    live_jobs(s, allocation);
    s.raw("SLURM_JOB_ID=$(cssh_live_jobs | head -n 1)\n");
    s.raw(&format!(
        "cssh_env={JOB_ENVIRONMENT}; [ -z \"$SLURM_JOB_ID\" ] || ! [ -f \"$cssh_env\" ] || . \"$cssh_env\"\n"
    ));
    s.raw("SLURM_JOBID=$SLURM_JOB_ID; export SLURM_JOB_ID SLURM_JOBID\n");
    if allocation.idle.is_some() {
        proc_stat(s);
        s.raw(&format!(
            "[ -z \"$SLURM_JOB_ID\" ] || ! cssh_stat $$ || printf '%s\\n' \"$cssh_start\" 2>/dev/null >{}/pid-$$\n",
            session_marks("SLURM_JOB_ID")
        ));
    }
}

/// The doctor's facts about the host's Slurm: where sbatch and srun are, the partitions, and
/// the allocation's job (`ID STATE NODES TIME_LEFT REASON`), if there is one.
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
        "cssh_job=$(cssh_live_jobs | head -n 1)\n[ -z \"$cssh_job\" ] || cssh_fact {} \"$(squeue --noheader --jobs=\"$cssh_job\" --format='%i %T %N %L %r' 2>/dev/null)\"\n",
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
            Allocation::new("GPU-job", &words, "c:1", false).sbatch_options
        };
        assert_eq!(options(&["-p", "gpu"]), ["--time=1:00:00", "-p", "gpu"]);
        for own in [&["--time=5"][..], &["--time", "5"], &["-t", "5"], &["-t5"]] {
            assert_eq!(options(own), own, "{own:?}");
        }
        assert_eq!(
            Allocation::new("GPU-job", &[], "", false).job_name,
            "cssh-gpu-job"
        );
        // Messages show the options as the user wrote them, in TOML, with where.
        assert_eq!(
            Allocation::new("h", &["-p".into(), "a \"b\"".into()], "c.toml:4", false).configured,
            r#"slurm = ["-p", 'a "b"'] in c.toml:4"#
        );
    }
}
