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

use crate::remote::script::{Part, Script, private_file, proc_stat};
use crate::remote::target::Target;
pub use crate::remote::target::{Allocation, DEFAULT_TIME_LIMIT};

/// `cssh_live_jobs`: this user's live jobs of the allocation's name, lowest id first, each
/// `ID CLUSTER`; and `cssh_first_job`, which sets `cssh_job` to the first's id,
/// `cssh_cluster` to its cluster's name and `cssh_key` to its [`KEY`].
fn live_jobs(s: &mut Script, allocation: &Allocation) {
    s.raw("cssh_live_jobs() { squeue --me --noheader --states=PENDING,CONFIGURING,RUNNING --Format='JobID: ,Cluster:' --name=");
    s.quoted(allocation.job_name.as_bytes());
    s.raw(" 2>/dev/null | sort -n; }\n");
    s.raw("cssh_first_job() { cssh_w=$(cssh_live_jobs | head -n 1); cssh_job=${cssh_w%% *}; cssh_cluster=${cssh_w#* }; cssh_key=$cssh_cluster-$cssh_job; }\n");
}

/// What a job's marks in the home's cssh cache are named by, `cssh_key`: its cluster's name
/// and its id, as the batch step's variables say them (and the job's sshd's sessions, which
/// have them) and as [`live_jobs`] reads them on the login node. A home that several clusters
/// share holds the marks of each one's jobs, whose ids overlap. (A step's variables lack
/// `SLURM_CLUSTER_NAME`: a step is given it.)
pub(in crate::remote) const KEY: &str = "cssh_key=${SLURM_CLUSTER_NAME-}-$SLURM_JOB_ID\n";

/// Sets `cssh_job` to the running allocation, submitting it if there is none and waiting while
/// it is pending. `batch` is the job's script: it holds the allocation until its time limit.
pub(in crate::remote) fn allocation(
    s: &mut Script,
    target: &Target,
    allocation: &Allocation,
    batch: &[u8],
) {
    live_jobs(s, allocation);
    s.raw("cssh_submitted=; cssh_first_job\nif [ -z \"$cssh_job\" ]; then\n");
    // sbatch exports the submitting environment to the job, but not the host's values: a
    // session brings its own, which an instance started in the job must not hold older ones of.
    s.raw("  cssh_out=$(unset CSSH_VALUES APPTAINERENV_CSSH_VALUES SINGULARITYENV_CSSH_VALUES; CSSH_RT=$cssh_rt sbatch --parsable --output=/dev/null --job-name=");
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
    s.raw("  cssh_new=${cssh_out%%;*}; cssh_submitted=1; cssh_first_job\n  [ -n \"$cssh_job\" ] || cssh_job=$cssh_new\n");
    s.raw("  if [ \"$cssh_job\" != \"$cssh_new\" ]; then scancel \"$cssh_new\"; cssh_submitted=; fi\nfi\n");
    // squeue fails for a job that has left the queue.
    let waiting = Wait {
        name: "slurm",
        query: "cssh_state=$(squeue --noheader --states=all --jobs=\"$cssh_job\" --format='%T %r' 2>/dev/null) || cssh_state=\n  cssh_state=${cssh_state:-ENDED}",
        running: "RUNNING*",
        waiting: "PENDING*|CONFIGURING*",
        shown: "${cssh_state%% *} (${cssh_state#* })",
        explain: None,
        cancel: ["scancel \"$cssh_job\"", "cancel", "cancelled"],
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

/// The variables of the job's environment on its node that its sessions keep: Slurm's own
/// (`srun` in a session runs as in the batch script) and the GPUs it was given.
pub(in crate::remote) const JOB_VARIABLES: &[&str] = &["^SLURM_"];

/// srun's input variables that change how a step's output is carried (labels, buffering,
/// which task's stdin): a session's stream must be the task's, byte for byte.
const STREAM_VARIABLES: &[&str] = &[
    "SLURM_LABELIO",
    "SLURM_UNBUFFEREDIO",
    "SLURM_STDINMODE",
    "SLURM_STDOUTMODE",
    "SLURM_STDERRMODE",
];

/// The step that carries a connection to the job's sshd on node `node` (a shell word): srun
/// unbuffered, whose task's stdin is a pipe and stdout a terminal with output processing off, so
/// the stream is byte-exact (buffered, srun forwards whole lines only and the key exchange
/// stalls); never `--pty`. Named, so that idle release does not count it: the sessions in it
/// count.
fn sshd_step(s: &mut Script, node: &str) {
    s.raw("exec env");
    for name in STREAM_VARIABLES {
        s.raw(" -u ");
        s.raw(name);
    }
    s.raw(&format!(
        " srun --jobid=\"$cssh_job\" --overlap --nodes=1 --ntasks=1 --nodelist={node} --job-name={CONNECTION_STEP} --unbuffered --quiet --quiet"
    ));
}

/// The name of the steps that carry connections to a job's sshd.
pub(in crate::remote) const CONNECTION_STEP: &str = "cssh-connection";

/// Starts `launcher`, a sh script, on the node of running job `$cssh_job` where `$cssh_node`
/// names it, as a step that carries the connection (never returns), with the job's id and
/// `$cssh_conn` as its `$1` and `$2`.
pub(in crate::remote) fn channel(s: &mut Script, launcher: &[u8]) {
    sshd_step(s, "\"$cssh_node\"");
    s.raw(" /bin/sh -c");
    s.word(launcher);
    s.raw(" sh \"$cssh_job\" \"$cssh_conn\"\n");
}

/// Into the host's own allocation: to its batch step's node, where the step that carries the
/// connection hands it to the batch script (see [`serve`], whose record it finds by the job's
/// [`KEY`]: the step is given its cluster's name, `$3`, which a step's variables lack) with its
/// `$1` and `$2` (the job's id and `$cssh_conn`, written in front of it: words any sh reads as
/// they are), which runs `launcher` with the connection's stdin, stdout and stderr, so that what
/// the sessions start belongs to the batch step and outlives the connection, as with ssh to the
/// node; an allocation whose batch script does not serve (an older cssh's) runs `launcher` in
/// the step itself.
pub(in crate::remote) fn channel_to_batch(s: &mut Script, launcher: &[u8]) {
    s.raw("cssh_node=$(squeue --noheader --jobs=\"$cssh_job\" --format=%B 2>/dev/null)\n");
    let mut carrier = Script::default();
    proc_stat(&mut carrier);
    private_file(&mut carrier);
    carrier.raw("[ -n \"${SLURM_CLUSTER_NAME-}\" ] || [ -z \"${3-}\" ] || { SLURM_CLUSTER_NAME=$3; export SLURM_CLUSTER_NAME; }\n");
    carrier.raw(KEY);
    carrier.raw("cssh_launch=");
    carrier.quoted(launcher);
    carrier.raw(&format!(
        "\ncssh_r={SERVER_RECORD}\nif [ -f \"$cssh_r\" ] && cssh_private \"$cssh_r\" && read -r cssh_bp cssh_bs cssh_srv <\"$cssh_r\" && cssh_stat \"$cssh_bp\" && [ \"$cssh_start\" = \"$cssh_bs\" ] && [ -p \"$cssh_srv/connect\" ] && [ -O \"$cssh_srv\" ] && cssh_stat $$; then\n",
    ));
    // Written before asking (nothing redirects this shell's descriptors once the batch script
    // may open them); asked from a subshell, which the batch script answers by killing this
    // shell once the connection's sshd ends.
    carrier.raw("  printf 'set -- %s %s\\n%s' \"$1\" \"$2\" \"$cssh_launch\" >\"$cssh_srv/launch-$$\"\n  cssh_sl=; trap 'kill $cssh_sl 2>/dev/null; exit 0' TERM\n");
    carrier.raw("  (printf '%s %s\\n' \"$$\" \"$cssh_start\" >\"$cssh_srv/connect\") &\n");
    // A batch script that does not take it within 10 s is not serving: the step runs it.
    carrier.raw("  cssh_t=0\n  while [ -e \"$cssh_srv/launch-$$\" ]; do\n    [ \"$cssh_t\" -lt 100 ] || { rm -f \"$cssh_srv/launch-$$\"; kill $! 2>/dev/null; break; }\n    sleep 0.1; cssh_t=$((cssh_t + 1))\n  done\n");
    // Waiting, with nothing that holds the step's descriptors once this shell is gone.
    carrier.raw("  [ -e \"$cssh_srv/launch-$$\" ] || [ \"$cssh_t\" -ge 100 ] || while :; do sleep 3600 </dev/null >/dev/null 2>&1 & cssh_sl=$!; wait $cssh_sl; done\nfi\n");
    carrier.raw("exec /bin/sh -c \"$cssh_launch\" sh \"$1\" \"$2\"\n");
    sshd_step(s, "\"$cssh_node\"");
    s.raw(" /bin/sh -c");
    s.word(&carrier.text);
    s.raw(" sh \"$cssh_job\" \"$cssh_conn\" \"$cssh_cluster\"\n");
}

/// The batch script's server of connections to the job's sshd (a background loop, for as long
/// as the job runs): each connection's step writes a launcher into the private directory and
/// asks by its pid and start time on the `connect` FIFO (the server's record, `PID START
/// DIRECTORY` in the home's cssh cache, names the batch script and that directory); the server opens that process's stdin,
/// stdout and stderr, checks it is the same process (owner, start time: a reused pid is never
/// served), runs the launcher with them, and ends the step's process when the launcher's sshd
/// has ended. So the sshd and what its sessions start are the batch step's, not the step's,
/// which Slurm ends with the connection. Where the server cannot start (no mkfifo), the steps
/// run their launchers themselves.
pub(in crate::remote) fn serve(s: &mut Script) {
    proc_stat(s);
    s.raw("cssh_srv=$(mktemp -d \"${TMPDIR:-/tmp}/cssh-job.XXXXXX\") && mkfifo \"$cssh_srv/connect\" && cssh_stat $$ && {\n");
    s.raw("  while :; do\n    while read -r cssh_p cssh_ps; do\n      case $cssh_p:$cssh_ps in *[!0-9:]*|:*|*:) continue ;; esac\n");
    s.raw("      (\n        exec 3<\"/proc/$cssh_p/fd/0\" 4>\"/proc/$cssh_p/fd/1\" 5>\"/proc/$cssh_p/fd/2\" || exit\n");
    s.raw("        [ -O \"/proc/$cssh_p\" ] && cssh_stat \"$cssh_p\" && [ \"$cssh_start\" = \"$cssh_ps\" ] && [ -O \"$cssh_srv/launch-$cssh_p\" ] || exit\n");
    s.raw("        cssh_launch=$(cat \"$cssh_srv/launch-$cssh_p\"); rm -f \"$cssh_srv/launch-$cssh_p\"\n");
    // The sshd in a session of its own, which the job's end (`sweep`) ends whole through this
    // shell (sshd rewrites its environment for its process titles: the sweep cannot see it).
    s.raw("        setsid /bin/sh -c \"$cssh_launch\" sh \"$SLURM_JOB_ID\" <&3 >&4 2>&5 3<&- 4>&- 5>&- &\n");
    s.raw("        cssh_d=$!; trap 'kill -TERM -\"$cssh_d\" 2>/dev/null' TERM; wait \"$cssh_d\"\n");
    s.raw("        cssh_stat \"$cssh_p\" && [ \"$cssh_start\" = \"$cssh_ps\" ] && kill \"$cssh_p\"\n      ) </dev/null >/dev/null 2>&1 &\n      jobs >/dev/null 2>&1\n");
    s.raw("    done <\"$cssh_srv/connect\"\n  done &\n  cssh_server=$!\n");
    s.raw(&format!(
        "  (umask 077; printf '%s %s %s\\n' $$ \"$cssh_start\" \"$cssh_srv\" >{SERVER_RECORD})\n}}\n"
    ));
}

/// What the batch script's exit trap does for the server: it stops, and its record and directory go.
pub(in crate::remote) fn stop_serving(s: &mut Script) {
    s.raw(&format!(
        "; [ -z \"${{cssh_server-}}\" ] || kill \"$cssh_server\"; rm -rf \"${{cssh_srv:-/nonexistent}}\" {SERVER_RECORD}"
    ));
}

/// What the batch script's exit trap does last: ends every process of this user on the node that
/// belongs to the job by its environment (`SLURM_JOB_ID`, which its sessions carry: the job's
/// sshd's forced command exports it), so that neither the sshd of a connection still open
/// (whose step Slurm could not end while it holds the step's streams: the shell that
/// [`serve`]d it ends its session) nor a session's background process, reparented away from the
/// job's process tree, outlives the job where Slurm tracks processes without cgroups.
pub(in crate::remote) fn sweep(s: &mut Script) {
    s.raw("; for cssh_p in /proc/[0-9]*; do [ \"${cssh_p#/proc/}\" != $$ ] && [ -O \"$cssh_p\" ] && tr '\\000' '\\n' 2>/dev/null <\"$cssh_p/environ\" | grep -qx \"SLURM_JOB_ID=$SLURM_JOB_ID\" && kill -TERM \"${cssh_p#/proc/}\" 2>/dev/null; done");
}

/// Where a batch script that serves connections says so (see [`serve`]), a shell word of job
/// `$cssh_key`'s.
const SERVER_RECORD: &str = "\"$HOME/.cache/cssh/slurm-$cssh_key.sshd\"";

/// In a session of the job's own sshd on the allocation's node (whose variables the sshd's
/// forced command exported): with `slurm_idle`, the session's mark, as a node-mode session
/// leaves it.
pub(in crate::remote) fn joined(s: &mut Script, allocation: &Allocation) {
    if allocation.idle.is_some() {
        s.raw(KEY);
        pid_mark(s);
    }
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
/// word of job `$cssh_key`'s.
pub(in crate::remote) const JOB_ENVIRONMENT: &str = "\"$HOME/.cache/cssh/slurm-$cssh_key.env\"";

/// The directory of the sessions' marks for `slurm_idle`, a shell word of job `$cssh_key`'s:
/// `connect`, written by a connection just before its session starts, and
/// `pid-PID` (its start time inside) for each node-mode session, whose process is the session
/// until its command ends. Written with `true` (a redirection that fails on `:`, a special
/// built-in, would end the script).
pub(in crate::remote) const SESSION_MARKS: &str = "\"$HOME/.cache/cssh/slurm-$cssh_key.sessions\"";

/// The batch script's watch for `slurm_idle`: every few seconds (a quarter of the idle time, 1 to
/// 30 s) it asks whether a session lives: a step of the job (a step ends when its last process
/// does; not one that carries a connection to the job's sshd, which a kept master holds open: the
/// sessions in it leave marks), a node-mode or job-sshd session's process (its pid with its start time, so a reused pid is not
/// it), or a connection that touched `connect` since the last look (it found the job running
/// and is starting its step). After `idle` seconds without one the script exits, and so the job
/// ends; the next connection submits a new one.
pub(in crate::remote) fn idle_watch(s: &mut Script, idle: u64) {
    let every = (idle / 4).clamp(1, 30);
    proc_stat(s);
    s.raw("cssh_now() { read -r cssh_t _ </proc/uptime; cssh_t=${cssh_t%.*}; }\n");
    s.raw("cssh_busy() {\n");
    s.raw(&format!(
        "  squeue --noheader --steps --jobs=\"$SLURM_JOB_ID\" --format='%i %j' 2>/dev/null | grep -v ' {CONNECTION_STEP}$' | grep -q '\\.[0-9][0-9]* ' && return 0\n"
    ));
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
        s.raw(&format!("true 2>/dev/null >{SESSION_MARKS}/connect\n"));
    }
}

/// On the allocation's node: the session belongs to its job with the variables its steps have
/// (those of the batch step, which `srun` inside reads as it would in a batch script). With
/// `slurm_idle`, it leaves its mark: this process, which becomes the runtime's, is the session.
pub(in crate::remote) fn join(s: &mut Script, allocation: &Allocation) {
    live_jobs(s, allocation);
    s.raw("cssh_first_job; SLURM_JOB_ID=$cssh_job\n");
    private_file(s);
    s.raw(&format!(
        "cssh_env={JOB_ENVIRONMENT}; [ -z \"$SLURM_JOB_ID\" ] || ! [ -f \"$cssh_env\" ] || ! cssh_private \"$cssh_env\" || . \"$cssh_env\"\n"
    ));
    s.raw("SLURM_JOBID=$SLURM_JOB_ID; export SLURM_JOB_ID SLURM_JOBID\n");
    if allocation.idle.is_some() {
        pid_mark(s);
    }
}

/// The session's mark for `slurm_idle`: this process, which becomes the runtime's, is the
/// session until its command ends.
fn pid_mark(s: &mut Script) {
    proc_stat(s);
    s.raw(&format!(
        "[ -z \"$SLURM_JOB_ID\" ] || ! cssh_stat $$ || printf '%s\\n' \"$cssh_start\" 2>/dev/null >{SESSION_MARKS}/pid-$$\n"
    ));
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
        "cssh_first_job\n[ -z \"$cssh_job\" ] || cssh_fact {} \"$(squeue --noheader --jobs=\"$cssh_job\" --format='%i %T %N %L %r' 2>/dev/null)\"\n",
        Fact::Job.key()
    ));
}

/// A script that cancels the host's allocation and says which job it was.
pub(in crate::remote) fn release(s: &mut Script, target: &Target, allocation: &Allocation) {
    live_jobs(s, allocation);
    s.raw("cssh_job=$(cssh_live_jobs | sed 's/ .*//')\nif [ -z \"$cssh_job\" ]; then\n  printf '%s\\n' ");
    s.quoted(target.say("no allocation to release").as_bytes());
    s.raw(" >&2\nelse\n  scancel $cssh_job || exit\n  printf '%s %s\\n' ");
    s.quoted(target.say("released job").as_bytes());
    s.raw(" \"$(echo $cssh_job)\" >&2\nfi\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(unix)]
    fn a_jobs_marks_are_named_by_its_cluster_and_its_id_on_the_login_node_as_in_the_job() {
        let allocation = Allocation::new("h", &[], "c:1", false);
        let mut s = Script::default();
        live_jobs(&mut s, &allocation);
        s.raw("cssh_first_job; printf '%s|%s|' \"$cssh_job\" \"$cssh_key\"\n");
        s.raw("SLURM_CLUSTER_NAME=gpu; SLURM_JOB_ID=40\n");
        s.raw(KEY);
        s.raw("printf '%s' \"$cssh_key\"");
        let squeue = "printf '41 gpu\\n40 gpu\\n'";
        assert_eq!(
            crate::remote::script::run_with_stand_ins(&s.text, &[("squeue", squeue)]),
            "40|gpu-40|gpu-40"
        );
    }

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
