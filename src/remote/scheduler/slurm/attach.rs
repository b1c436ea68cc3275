//! Into a running Slurm job's own container: the remote script's steps that find this user's
//! job (`squeue`), reach its node (a step `srun --jobid=J --overlap` from the login node, or the
//! session's own ssh to the node), find the job's container there among the job's processes
//! (`scontrol listpids`, Slurm's own view of the job: the batch step's container, else the
//! job's oldest) and enter it (`container`), with `SLURM_JOB_ID` and the session's variables on
//! top. A job that only started an instance (its processes left the job's process tree) is
//! entered by the instance the job started, as any instance is (`join`).

use crate::remote::container::{
    ATTACH_FAILED, define_pick, describe_container, fail_job, join_namespaces, vet_job,
};
use crate::remote::join;
use crate::remote::runtime::runtime_lookup;
use crate::remote::scheduler::slurm;
use crate::remote::script::{Part, Script};
use crate::remote::session::Inner;
use crate::remote::target::Target;
use crate::settings::{Attach, JobRef};

/// What a Slurm job's container sees of the job it belongs to, as a step of it would.
const SLURM_JOB_VARIABLES: &str = " SLURM_JOB_ID=\"$cssh_job\" SLURM_JOBID=\"$cssh_job\"";

/// A command that prints the id of this user's running Slurm job that `attach` names (by id,
/// or its newest of that name), or nothing.
pub(in crate::remote) fn running(s: &mut Script, attach: &Attach) {
    s.raw("squeue --me --noheader --states=RUNNING --format=%i");
    match &attach.job {
        JobRef::Id(id) => s.raw(&format!(" --jobs={id}")),
        JobRef::Name(name) => {
            s.raw(" --name=");
            s.quoted(name.as_bytes());
        }
    }
    s.raw(" 2>/dev/null </dev/null | sort -n | tail -n 1");
}

/// Sets `cssh_job` to the job and `cssh_node` to the node of its container's step, on a host
/// where squeue answers (the login node, or the job's node); fails in one line where the job
/// is not this user's running job.
pub(in crate::remote) fn find_job(s: &mut Script, target: &Target, attach: &Attach) {
    match &attach.job {
        JobRef::Id(id) => s.raw(&format!("cssh_job={id}\n")),
        JobRef::Name(name) => {
            s.raw("cssh_job=$(");
            running(s, attach);
            s.raw(")\n[ -n \"$cssh_job\" ] ||");
            s.fail_with(
                &[Part::Text(&target.say(&format!(
                    "no running job of yours named \"{name}\" (cssh --attach list {} lists them)",
                    target.host
                )))],
                ATTACH_FAILED,
            );
        }
    }
    vet_job(
        s,
        target,
        "cssh_info=$(squeue --noheader --states=all --jobs=\"$cssh_job\" --format='%T %u %B' 2>&1)",
        "cssh_state=${cssh_info%% *}; cssh_info=${cssh_info#* }; cssh_owner=${cssh_info%% *}; cssh_node=${cssh_info#* }",
        "[ \"$cssh_state\" = RUNNING ]",
    );
    if let Some(step) = &attach.step {
        s.raw(&format!(
            "cssh_node=$(squeue --noheader --steps=\"$cssh_job.{step}\" --format=%N 2>/dev/null)\n[ -n \"$cssh_node\" ] ||"
        ));
        fail_job(
            s,
            target,
            &[Part::Text(&format!(" has no running step {step}"))],
        );
        s.raw("cssh_node=$(scontrol show hostnames \"$cssh_node\" | head -n 1)\n");
    }
}

/// From the login node: the session becomes a step of the job on its container's node, where
/// [`enter`] runs with the job's id as its first argument.
pub(in crate::remote) fn step(s: &mut Script, target: &Target, attach: &Attach, inner: &Inner) {
    let mut on_node = Script::default();
    on_node.raw("cssh_job=$1; shift\n");
    enter(&mut on_node, target, attach, inner);
    slurm::terminal_or_unbuffered(s);
    s.raw("exec");
    slurm::step(s, Some("\"$cssh_node\""));
    s.raw(" /bin/sh -c");
    s.word(&on_node.text);
    s.raw(" sh \"$cssh_job\" \"$@\"\n");
}

/// The first connection of a session that reaches the job's node by ssh: prints the node.
pub(in crate::remote) fn print_node(s: &mut Script) {
    s.raw("printf '%s\\n' \"$cssh_node\"\n");
}

/// On the job's node, with `cssh_job` set: finds the job's container and enters it, or its
/// instance; else one line and exit 255.
pub(in crate::remote) fn enter(s: &mut Script, target: &Target, attach: &Attach, inner: &Inner) {
    find_container(s, attach.step.as_deref());
    s.raw("if [ -n \"$cssh_t\" ]; then\n");
    join_namespaces(s, target, inner, SLURM_JOB_VARIABLES);
    s.raw("fi\n");
    find_instance(s);
    s.raw("if [ -n \"$cssh_inst\" ]; then\n");
    runtime_lookup(s, target);
    s.raw("set -- /bin/sh -c");
    s.word(&inner.snippet);
    inner.arguments(s);
    s.raw("\n");
    join::enter(s, "\"$cssh_inst\"", |_| {});
    s.raw("fi\n");
    fail_job(
        s,
        target,
        &[
            Part::Text(" runs no container on "),
            Part::Value("$cssh_node"),
            Part::Text(&format!(
                " (the job without one: ssh -t {} srun --jobid=",
                target.host
            )),
            Part::Value("$cssh_job"),
            Part::Text(" --overlap --pty bash)"),
        ],
    );
}

/// On the job's node, with `cssh_job` set: `cssh_node`, and `cssh_t` (empty where there is
/// none), the first process of the job's container: of `step`, else of the batch step, else of
/// any step. `cssh_pick` and `cssh_stat` stay defined for the join.
fn find_container(s: &mut Script, step: Option<&str>) {
    s.raw("cssh_node=; read -r cssh_node </proc/sys/kernel/hostname\n");
    // `STEP:PID` for each of the job's processes; the batch step is `batch`.
    s.raw("cssh_pids=$(scontrol listpids \"$cssh_job\" 2>/dev/null | awk 'NR > 1 { print $3 \":\" $1 }')\n");
    define_pick(s);
    match step {
        Some(step) => s.raw(&format!("cssh_pick {step}\n")),
        None => s.raw("cssh_pick batch || cssh_pick '*'\n"),
    }
}

/// `cssh_inst`: the instance job `cssh_job` started on this node, or empty. Its processes left
/// the job's process tree; its starter's environment names the job.
fn find_instance(s: &mut Script) {
    s.raw("cssh_inst=\nfor cssh_state in \"$HOME/.apptainer/instances/app/$cssh_node/${USER:-$LOGNAME}\"/*/*.json \"$HOME/.singularity/instances/sing/$cssh_node/${USER:-$LOGNAME}\"/*/*.json; do\n");
    s.raw("  [ -f \"$cssh_state\" ] || continue\n");
    s.raw("  cssh_pp=$(head -c 64 \"$cssh_state\" 2>/dev/null); cssh_pp=${cssh_pp#*'\"ppid\":'}; cssh_pp=${cssh_pp%%,*}\n");
    s.raw("  case $cssh_pp in ''|*[!0-9]*) continue ;; esac\n");
    s.raw("  [ -O \"/proc/$cssh_pp\" ] && grep -qa \"\\\"SLURM_JOB_ID=$cssh_job\\\"\" \"/proc/$cssh_pp/environ\" 2>/dev/null || continue\n");
    s.raw("  cssh_inst=${cssh_state%/*}; cssh_inst=${cssh_inst##*/}; break\ndone\n");
}

/// `cssh --attach list`'s rows, on the login node: each running job of this user, its node,
/// its container's image and whether a session can enter it, found by a step on its node.
pub(in crate::remote) fn rows(s: &mut Script) {
    s.raw("squeue --me --noheader --states=RUNNING --format='%i %B %j' | sort -n | while read -r cssh_job cssh_node cssh_name; do\n  cssh_found=$(");
    look_in_step(s, None);
    s.raw(&format!(
        ")\n  printf '{}' \"$cssh_job\" \"$cssh_node\" \"${{cssh_found%%\t*}}\" \"${{cssh_found#*\t}}\" \"$cssh_name\"\ndone\n",
        crate::remote::scheduler::LIST_ROW
    ));
}

/// A command that prints `IMAGE<TAB>ENTER` for job `$cssh_job`'s container on `$cssh_node`,
/// looked for by a step of the job there (of `step`, else the default), without entering it:
/// ENTER is `yes`, `yes (instance NAME)` or `no (WHY)`.
pub(in crate::remote) fn look_in_step(s: &mut Script, step: Option<&str>) {
    let mut on_node = Script::default();
    on_node.raw("cssh_job=$1\n");
    find_container(&mut on_node, step);
    describe_container(&mut on_node, |s| {
        find_instance(s);
        s.raw("  if [ -n \"$cssh_inst\" ]; then cssh_can=\"yes (instance $cssh_inst)\"; cssh_img=$(sed -n 's/.*\"image\":\"\\([^\"]*\\)\".*/\\1/p' \"$cssh_state\")\n");
        s.raw("  else cssh_can='no (no container)'; cssh_img=-; fi\n");
    });
    s.raw("srun --jobid=\"$cssh_job\" --overlap --nodes=1 --ntasks=1 --nodelist=\"$cssh_node\" --quiet --quiet /bin/sh -c");
    s.word(&on_node.text);
    s.raw(" sh \"$cssh_job\" </dev/null 2>/dev/null || printf '?\\t? (the step did not start)\\n'");
}
