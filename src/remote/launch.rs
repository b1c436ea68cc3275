//! Starting the command's container: `apptainer exec` of the image (with the session's agent
//! and X11 files bound in where the options keep /tmp and home out), the configured instance
//! started where it does not run, and the batch script that holds a Slurm allocation with its
//! instance. An instance on the host itself is joined by `join`.

use super::join;
use super::runtime::{before_new_container, image_arguments, new_container, option_check};
use super::scheduler::slurm;
use super::script::{Part, Script, define_quote, fingerprint, proc_stat};
use super::target::{MISSING_ON_REMOTE, Place, Target};
use crate::quote::sh;

/// `exec` of a new container of the image (the runtime's words, see `runtime`); on a Slurm
/// host, as a step of the allocation, which joins the configured instance on the node (started
/// first if it does not run). On the host itself an instance is entered by [`join::enter`].
pub(super) fn launcher(s: &mut Script, target: &Target) {
    if target.settings.instance.is_none() {
        before_new_container(s, target);
    }
    let step = target.place.is_step();
    s.raw("exec");
    if step {
        slurm::step(s, None);
    }
    match &target.settings.instance {
        None => new_container(s, target),
        Some(instance) => {
            // On the allocation's node, a small sh joins the instance, starting it first if it
            // does not run.
            let mut joiner = Script::default();
            joiner.raw("cssh_rt=$1; shift\n");
            join::enter(
                &mut joiner,
                &String::from_utf8_lossy(&sh(instance.as_bytes())),
                |j| instance_start(j, target, instance),
            );
            s.raw(" /bin/sh -c");
            s.word(&joiner.text);
            s.raw(" sh \"$cssh_rt\"");
        }
    }
}

/// Starts the instance unless it runs. Sessions that start one instance at the same moment break
/// each other (a start that loses deletes the winner's state), so a user's starts take turns
/// under `flock` on one file beside the runtime's state (util-linux; without it, as before),
/// each checking again once it has the lock. A start that fails with the runtime's `already exists`
/// (one begun outside the lock, by a Slurm batch script) waits for the instance to show up; any
/// other failure stops the session at once with the runtime's own error line (its `FATAL`,
/// `ERROR` or `Error` line, else its last).
pub(super) fn instance_start(s: &mut Script, target: &Target, instance: &str) {
    instance_running(s, instance);
    if target.place != Place::Here {
        // The allocation's batch script starts the instance as the job starts: a second start
        // at the same moment can break both, so wait for it a while before starting one here.
        s.raw("cssh_tries=0\nuntil cssh_running || [ \"$cssh_tries\" -ge 15 ]; do cssh_tries=$((cssh_tries + 1)); sleep 1; done\n");
    }
    s.raw("if ! cssh_running; then\n");
    option_check(s, target, true);
    s.raw("  cssh_lock=\"$HOME/.apptainer/instances/cssh-start.lock\"; (umask 077; mkdir -p \"${cssh_lock%/*}\") 2>/dev/null\n");
    // The runtime and its instance must not keep the lock's descriptor: the lock would last as
    // long as the instance.
    // The instance outlives the session: it holds none of the host's values (each session
    // brings its own).
    s.raw("  { ! command -v flock >/dev/null 2>&1 || flock -w 120 9; cssh_running 9>&- || cssh_out=$(unset CSSH_VALUES APPTAINERENV_CSSH_VALUES SINGULARITYENV_CSSH_VALUES; \"$cssh_rt\" -s instance start");
    image_arguments(s, target);
    s.word(instance.as_bytes());
    s.raw(" </dev/null 2>&1 9>&-); } 9>>\"$cssh_lock\" 2>/dev/null || {\n");
    s.raw("  cssh_why=$(printf '%s\\n' \"$cssh_out\" | grep -m 1 -e FATAL -e ERROR -e Error) || cssh_why=$(printf '%s\\n' \"$cssh_out\" | sed '/^[[:space:]]*$/d' | tail -n 1)\n");
    s.raw("  cssh_tries=0\n  until cssh_running; do\n    cssh_tries=$((cssh_tries + 1))\n");
    s.raw("    case $cssh_out in *\"already exists\"*) [ \"$cssh_tries\" -le 10 ] ;; *) false ;; esac ||");
    s.fail_with(
        &[
            Part::Text(&target.say(&format!(
                "could not start instance {instance} of {}: ",
                target.image
            ))),
            Part::Value("$cssh_why"),
        ],
        MISSING_ON_REMOTE,
    );
    s.raw("    sleep 1\n  done\n  }\n");
    // What this start was given, for later sessions to compare with what they are given.
    s.raw("  cssh_h=; read -r cssh_h </proc/sys/kernel/hostname 2>/dev/null; printf '%s\\n'");
    s.word(started_with(target).as_bytes());
    s.raw(&format!(
        " >\"$HOME/.apptainer/instances/app/$cssh_h/${{USER:-$LOGNAME}}/\"{} 2>/dev/null\nfi\n",
        started_record(instance)
    ));
}

/// The record beside the instance's state of what cssh started it with (a shell word).
fn started_record(instance: &str) -> String {
    String::from_utf8_lossy(&sh(format!("{instance}/{STARTED}").as_bytes())).into_owned()
}

/// The file name of that record: it goes with the instance's state directory when it stops.
const STARTED: &str = "cssh-started-1";

/// What an instance's container is made of, which only a new start changes: the image, the
/// binds and the runtime options, as a fingerprint.
fn started_with(target: &Target) -> String {
    let settings = target.settings;
    fingerprint(
        std::iter::once(target.image)
            .chain(settings.binds.iter().flatten().map(String::as_str))
            .chain([""])
            .chain(settings.options.iter().flatten().map(String::as_str)),
    )
}

/// `cssh_stale`: true where the running instance was started by cssh with another image,
/// binds or options than this session's (the record differs); false where they are the same
/// or the instance was started otherwise.
pub(super) fn define_stale(s: &mut Script, target: &Target, instance: &str) {
    s.raw(
        "cssh_stale() {
  cssh_h=; read -r cssh_h </proc/sys/kernel/hostname 2>/dev/null; cssh_was=
",
    );
    s.raw(&format!(
        "  {{ read -r cssh_was <\"$HOME/.apptainer/instances/app/$cssh_h/${{USER:-$LOGNAME}}/\"{}; }} 2>/dev/null || return 1\n",
        started_record(instance)
    ));
    s.raw("  [ \"$cssh_was\" !=");
    s.word(started_with(target).as_bytes());
    s.raw(" ]\n}\n");
}

/// One line on stderr where the running instance is stale: what the fix is.
pub(super) fn stale_warning(s: &mut Script, target: &Target, instance: &str) {
    define_stale(s, target, instance);
    s.raw("! cssh_stale || printf '%s\\n'");
    s.word(
        target
            .say(&format!(
                "instance {instance} runs with the image, binds and options it was started with, not those {}:{} gives now (to start it anew: ssh {} apptainer instance stop {instance})",
                target.config_file, target.settings.lines.instance, target.host
            ))
            .as_bytes(),
    );
    s.raw(" >&2\n");
}

/// `cssh_running`: whether the instance runs: its state file says so (see [`instance_pid`]),
/// without starting the runtime (about 20 ms per command); without a live one, `instance list`
/// decides (and clears stale state).
pub(super) fn instance_running(s: &mut Script, instance: &str) {
    instance_pid(s, instance);
    s.raw("cssh_running() {\n  cssh_instance_pid && return 0\n");
    s.raw("  \"$cssh_rt\" instance list 2>/dev/null | awk -v");
    s.word(format!("n={instance}").as_bytes());
    s.raw(" 'NR > 1 && $1 == n { f = 1 } END { exit !f }'\n}\n");
}

/// `cssh_instance_pid`: `cssh_pid`, the instance's first process, from the runtime's state file
/// on this host, whose first fields are that pid and its parent's; true only while that process
/// is this user's and the child of the parent the file names (a pid reused by another process
/// of the user has another). The pid comes from the file's first bytes by `head`: the file is
/// one line of several KiB, which sh's `read` takes one byte per system call (about 4 ms).
fn instance_pid(s: &mut Script, instance: &str) {
    proc_stat(s);
    let state = format!("{instance}/{instance}.json");
    s.raw("cssh_instance_pid() {\n  cssh_host=; read -r cssh_host </proc/sys/kernel/hostname 2>/dev/null\n");
    s.raw("  for cssh_state in \"$HOME/.apptainer/instances/app\" \"$HOME/.singularity/instances/sing\"; do\n");
    s.raw("    cssh_state=\"$cssh_state/$cssh_host/${USER:-$LOGNAME}/\"");
    s.quoted(state.as_bytes());
    s.raw("\n    [ -f \"$cssh_state\" ] || continue\n");
    s.raw("    cssh_pid=$(head -c 64 \"$cssh_state\" 2>/dev/null); cssh_pp=${cssh_pid#*'\"ppid\":'}; cssh_pp=${cssh_pp%%,*}; cssh_pid=${cssh_pid#'{\"pid\":'}; cssh_pid=${cssh_pid%%,*}\n");
    s.raw("    case $cssh_pid:$cssh_pp in *[!0-9:]*|:*|*:) ;; *) [ -O \"/proc/$cssh_pid\" ] && cssh_stat \"$cssh_pid\" && [ \"$cssh_ppid\" = \"$cssh_pp\" ] && return 0 ;; esac\n  done\n  cssh_pid=; return 1\n}\n");
}

/// The batch script of a Slurm allocation: it holds the allocation until its time limit (or,
/// with `slurm_idle`, until no session has lived for that long), and starts the configured
/// instance first and stops it when the job ends (cancelled, released, idle or out of time),
/// so the instance lives as long as the allocation: its processes leave the job's process tree,
/// which a cluster without cgroups ends alone. It also leaves its SLURM_* variables where
/// node-mode sessions (which are not steps) read them, and the directory where they leave their
/// marks, for as long as the job runs, and serves the connections to the job's own sshd (see
/// `slurm::serve`); as it ends it ends what the job's sessions left behind (`slurm::sweep`).
/// The runtime comes in `CSSH_RT` (sbatch exports the submitting environment).
pub(super) fn batch_script(target: &Target, allocation: &slurm::Allocation) -> Vec<u8> {
    let mut s = Script::default();
    // cssh's own files, with umask 077 whatever the site's (the job's processes keep theirs):
    // each SLURM_ variable that is set, as a quoted `export` line, so that no value, whatever
    // it holds (a line break), is more than its own variable.
    define_quote(&mut s);
    s.raw(slurm::KEY);
    s.raw(&format!(
        "cssh_env={}; cssh_marks={}; cssh_um=$(umask); umask 077\nmkdir -p \"$cssh_marks\" && chmod go-w \"${{cssh_env%/*}}\" && for cssh_l in $(env | sed -n 's/^\\(SLURM_[A-Za-z0-9_]*\\)=.*/\\1/p'); do eval \"[ -n \\\"\\${{$cssh_l+x}}\\\" ]\" || continue; eval \"cssh_q \\\"\\${{$cssh_l}}\\\"\"; printf 'export %s=%s\\n' \"$cssh_l\" \"$cssh_qv\"; done >\"$cssh_env\"\numask \"$cssh_um\"\n",
        slurm::JOB_ENVIRONMENT,
        slurm::SESSION_MARKS
    ));
    if let Some(instance) = &target.settings.instance {
        instance_pid(&mut s, instance);
    }
    // The exit trap runs to its end: Slurm signals a cancelled job's processes more than once
    // (the job's, then the step's), and a second TERM that ran `exit` would end it midway.
    let mut on_exit = Script::default();
    on_exit.raw("trap '' TERM HUP INT; ");
    if let Some(instance) = &target.settings.instance {
        // First, the instance's first process gets SIGTERM, as `instance stop` sends it (the
        // instance's own monitor then clears its state): Slurm kills what is left of the batch
        // step as soon as this script ends, and the runtime takes a second or more to start. The
        // runtime's stop, in the background, stays for what the state file does not name.
        on_exit.raw("cssh_instance_pid && kill -TERM \"$cssh_pid\" 2>/dev/null; \"$CSSH_RT\" -s instance stop");
        on_exit.word(instance.as_bytes());
        on_exit.raw(" </dev/null >/dev/null 2>&1 & ");
    }
    on_exit.raw("rm -rf \"$cssh_env\" \"$cssh_marks\"");
    slurm::stop_serving(&mut on_exit);
    slurm::sweep(&mut on_exit);
    // The traps first: a job cancelled while the instance starts still stops it once started.
    s.raw("trap");
    s.word(&on_exit.text);
    s.raw(" EXIT; trap exit TERM HUP INT\n");
    slurm::serve(&mut s);
    if let Some(instance) = &target.settings.instance {
        s.raw("\"$CSSH_RT\" -s instance start");
        image_arguments(&mut s, target);
        s.word(instance.as_bytes());
        s.raw(" </dev/null >/dev/null 2>&1\n");
    }
    match allocation.idle {
        None => s.raw("sleep 2147483647 & wait"),
        Some(idle) => slurm::idle_watch(&mut s, idle),
    }
    s.text
}
