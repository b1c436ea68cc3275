//! Into a running batch job's own container: the remote script's steps that find this user's
//! job, reach its node (a step `srun --jobid=J --overlap` from the login node, or the session's
//! own ssh to the node), find the job's container there and enter it by its namespaces, as
//! `nsenter` does, with the container's environment and the session's variables on top.
//!
//! The container is a process of job J (`scontrol listpids`, Slurm's own view of the job),
//! owned by this user, in a mount namespace other than the node's, whose root holds
//! `/.singularity.d`, and whose parent is outside that namespace: the batch step's oldest such
//! process, else the job's oldest. The session enters the user namespace, then those of mount,
//! pid, uts and ipc that differ from its own (entering the same one again fails), the working
//! directory of the container's process and its environment. A pid-namespace container's first
//! process is Apptainer's init, whose environment is the runtime's: its oldest child's is used.
//!
//! Safety: every namespace, the working directory and the environment are opened as file
//! descriptors first, and only then is the process checked again, owner and start time, so what
//! is entered is the process that was found, never a reused pid. A job that only started an
//! instance (its processes left the job's process tree) is entered by the instance the job
//! started, as any instance is (`join`).

use super::join;
use super::runtime::runtime_lookup;
use super::scheduler::slurm;
use super::script::{Part, Script, proc_stat};
use super::session::{Inner, forwarded};
use super::target::Target;
use crate::settings::{Attach, JobRef};

/// What messages call the container an attached session enters.
pub const CONTAINER: &str = "the job's container";

/// Exit status when the job cannot be entered: not found, not running, not this user's, no
/// container, a setuid runtime, no nsenter. cssh's own errors exit 255, as ssh's do.
pub const ATTACH_FAILED: u8 = 255;

/// What a Slurm job's container sees of the job it belongs to, as a step of it would.
const SLURM_JOB_VARIABLES: &str = " SLURM_JOB_ID=\"$cssh_job\" SLURM_JOBID=\"$cssh_job\"";

/// The oldest util-linux whose nsenter keeps the user's credentials in a user namespace.
const NSENTER_VERSION: &str = "util-linux 2.26";

/// Sets `cssh_job` to the job and `cssh_node` to the node of its container's step, on a host
/// where squeue answers (the login node, or the job's node); fails in one line where the job
/// is not this user's running job.
pub(super) fn find_job(s: &mut Script, target: &Target, attach: &Attach) {
    match &attach.job {
        JobRef::Id(id) => s.raw(&format!("cssh_job={id}\n")),
        JobRef::Name(name) => {
            s.raw("cssh_job=$(squeue --me --noheader --states=RUNNING --format=%i --name=");
            s.quoted(name.as_bytes());
            s.raw(" 2>/dev/null | sort -n | tail -n 1)\n[ -n \"$cssh_job\" ] ||");
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

/// Checks job `$cssh_job` as a scheduler's `query` (which sets `cssh_info`) reports it, `parse`
/// read from it `cssh_owner` and `cssh_state`, and `running` tells: found, this user's and
/// running; else one line and exit 255.
pub(super) fn vet_job(s: &mut Script, target: &Target, query: &str, parse: &str, running: &str) {
    s.raw(query);
    s.raw(" ||");
    fail_job(
        s,
        target,
        &[
            Part::Text(": "),
            Part::Value("$(printf '%s\\n' \"$cssh_info\" | tail -n 1)"),
        ],
    );
    s.raw("[ -n \"$cssh_info\" ] ||");
    fail_job(s, target, &[Part::Text(" not found")]);
    s.raw(parse);
    s.raw("\n[ \"$cssh_owner\" = \"$(id -un)\" ] ||");
    fail_job(
        s,
        target,
        &[
            Part::Text(" is "),
            Part::Value("$cssh_owner"),
            Part::Text("'s: cssh enters only your own jobs"),
        ],
    );
    s.raw(running);
    s.raw(" ||");
    fail_job(
        s,
        target,
        &[
            Part::Text(" is "),
            Part::Value("$cssh_state"),
            Part::Text(": only a running job has a container to enter"),
        ],
    );
}

/// One `cssh: HOST: job J ...` line and exit 255.
pub(super) fn fail_job(s: &mut Script, target: &Target, parts: &[Part]) {
    let mut all = vec![Part::Text("job "), Part::Value("$cssh_job")];
    all.extend_from_slice(parts);
    fail(s, target, &all);
}

/// One `cssh: HOST: WHAT on NODE WHY` line and exit 255: a program of the node falls short.
fn fail_on_node(s: &mut Script, target: &Target, what: &str, why: &str) {
    let what = format!("{what} on ");
    let why = format!(" {why}");
    fail(
        s,
        target,
        &[
            Part::Text(&what),
            Part::Value("$cssh_node"),
            Part::Text(&why),
        ],
    );
}

/// One `cssh: HOST: ...` line and exit 255.
fn fail(s: &mut Script, target: &Target, parts: &[Part]) {
    let lead = target.say("");
    let mut all = vec![Part::Text(&lead)];
    all.extend_from_slice(parts);
    s.fail_with(&all, ATTACH_FAILED);
}

/// From the login node: the session becomes a step of the job on its container's node, where
/// [`enter`] runs with the job's id as its first argument.
pub(super) fn step(s: &mut Script, target: &Target, attach: &Attach, inner: &Inner) {
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
pub(super) fn print_node(s: &mut Script) {
    s.raw("printf '%s\\n' \"$cssh_node\"\n");
}

/// On the job's node, with `cssh_job` set: finds the job's container and enters it, or its
/// instance; else one line and exit 255.
pub(super) fn enter(s: &mut Script, target: &Target, attach: &Attach, inner: &Inner) {
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

/// `cssh_pick PATTERN [PARENT]` over `cssh_pids` (`GROUP:PID` words): `cssh_t`, the oldest
/// process of the groups matching PATTERN that is this user's and in a container (of PARENT's
/// children: any in the container; else: only the container's first processes, whose parent is
/// outside it), with `cssh_stat`.
pub(super) fn define_pick(s: &mut Script) {
    proc_stat(s);
    s.raw("cssh_pick() {\n  cssh_t=; cssh_ts=\n  for cssh_w in $cssh_pids; do\n");
    s.raw("    case $cssh_w in $1:*) ;; *) continue ;; esac\n    cssh_p=${cssh_w#*:}\n");
    s.raw("    [ -O \"/proc/$cssh_p\" ] && ! [ \"/proc/$cssh_p/ns/mnt\" -ef /proc/self/ns/mnt ] && [ -d \"/proc/$cssh_p/root/.singularity.d\" ] && cssh_stat \"$cssh_p\" || continue\n");
    s.raw("    if [ -n \"${2-}\" ]; then [ \"$cssh_ppid\" = \"$2\" ] || continue\n");
    s.raw("    elif [ \"/proc/$cssh_ppid/ns/mnt\" -ef \"/proc/$cssh_p/ns/mnt\" ]; then continue; fi\n");
    s.raw("    if [ -z \"$cssh_t\" ] || [ \"$cssh_start\" -lt \"$cssh_ts\" ]; then cssh_t=$cssh_p; cssh_ts=$cssh_start; fi\n");
    s.raw("  done\n  [ -n \"$cssh_t\" ]\n}\n");
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

/// `cssh --attach list`, on the login node: each running job of this user, its node, its
/// container's image and whether a session can enter it, found by a step on its node.
pub(super) fn list(s: &mut Script) {
    s.raw("printf '%-10s %-10s %-32s %-24s %s\\n' JOB NODE IMAGE ENTER NAME\n");
    s.raw("squeue --me --noheader --states=RUNNING --format='%i %B %j' | sort -n | while read -r cssh_job cssh_node cssh_name; do\n  cssh_found=$(");
    look_in_step(s, None);
    s.raw(")\n  printf '%-10s %-10s %-32s %-24s %s\\n' \"$cssh_job\" \"$cssh_node\" \"${cssh_found%%\t*}\" \"${cssh_found#*\t}\" \"$cssh_name\"\ndone\n");
}

/// A command that prints `IMAGE<TAB>ENTER` for job `$cssh_job`'s container on `$cssh_node`,
/// looked for by a step of the job there (of `step`, else the default), without entering it:
/// ENTER is `yes`, `yes (instance NAME)` or `no (WHY)`.
pub(super) fn look_in_step(s: &mut Script, step: Option<&str>) {
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

/// Prints `IMAGE<TAB>ENTER` for the container `cssh_t` found with `cssh_pick`, without
/// entering it: ENTER is `yes` or `no (WHY)`. Where none was found, `otherwise` sets
/// `cssh_img` and `cssh_can`.
pub(super) fn describe_container(s: &mut Script, otherwise: impl FnOnce(&mut Script)) {
    s.raw("if [ -n \"$cssh_t\" ]; then\n  cssh_e=$cssh_t; cssh_pick '*' \"$cssh_e\" && cssh_e=$cssh_t\n");
    s.raw("  cssh_img=$(tr '\\000' '\\n' <\"/proc/$cssh_e/environ\" | sed -n 's/^APPTAINER_CONTAINER=//p; s/^SINGULARITY_CONTAINER=//p' | head -n 1)\n");
    s.raw("  if [ \"/proc/$cssh_e/ns/user\" -ef /proc/self/ns/user ]; then cssh_can='no (setuid Apptainer)'\n");
    s.raw("  elif command -v nsenter >/dev/null 2>&1; then cssh_can=yes; else cssh_can='no (no nsenter)'; fi\nelse\n");
    otherwise(s);
    s.raw("fi\nprintf '%s\\t%s\\n' \"${cssh_img:--}\" \"$cssh_can\"\n");
}

/// The namespaces of process `cssh_t`, which the session enters: the user namespace, then
/// those that differ from the session's.
const NAMESPACES: &[(&str, &str, u8)] = &[
    ("pid", "--pid", 6),
    ("uts", "--uts", 7),
    ("ipc", "--ipc", 8),
];

/// Enters `cssh_t`'s container with nsenter (never returns but by failing in one line), with
/// the container's environment, then `job_variables` (shell words the scheduler adds), then the
/// session's variables forwarded from this shell.
pub(super) fn join_namespaces(s: &mut Script, target: &Target, inner: &Inner, job_variables: &str) {
    s.raw("  [ \"/proc/$cssh_t/ns/user\" -ef /proc/self/ns/user ] &&");
    fail_job(
        s,
        target,
        &[Part::Text(
            " runs its container without a user namespace (setuid Apptainer): its namespaces belong to root and only the runtime can enter them (an instance started with --userns, or apptainer exec instance://, can be joined)",
        )],
    );
    s.raw("  cssh_nsenter=$(command -v nsenter) ||");
    fail_on_node(
        s,
        target,
        "no nsenter",
        &format!("to enter the job's container ({NSENTER_VERSION} or later has it)"),
    );
    s.raw("  \"$cssh_nsenter\" --help 2>&1 | grep -q -e --preserve-credentials ||");
    fail_on_node(
        s,
        target,
        "nsenter",
        &format!(
            "cannot keep your credentials in the container's user namespace ({NSENTER_VERSION} or later can)"
        ),
    );
    // The environment comes from the container's first process, or from its init's oldest
    // child where it has a pid namespace of its own (its init holds the runtime's variables).
    s.raw("  cssh_e=$cssh_t; cssh_es=$cssh_ts; cssh_top=$cssh_t; cssh_tops=$cssh_ts\n");
    s.raw("  if ! [ \"/proc/$cssh_t/ns/pid\" -ef /proc/self/ns/pid ] && cssh_pick '*' \"$cssh_top\"; then cssh_e=$cssh_t; cssh_es=$cssh_ts; fi\n");
    s.raw("  cssh_t=$cssh_top; cssh_ts=$cssh_tops\n");
    // A descriptor that cannot be opened (the process ended) fails the check below, quietly.
    s.raw("  { command exec 3<\"/proc/$cssh_e/environ\" 4<\"/proc/$cssh_t/ns/user\" 5<\"/proc/$cssh_t/ns/mnt\" 9<\"/proc/$cssh_e/cwd\"; } 2>/dev/null || cssh_ts=gone\n");
    s.raw("  cssh_ns=\"--user=/dev/fd/4 --mount=/dev/fd/5\"\n");
    for (name, flag, fd) in NAMESPACES {
        s.raw(&format!(
            "  [ \"/proc/$cssh_t/ns/{name}\" -ef /proc/self/ns/{name} ] || {{ {{ command exec {fd}<\"/proc/$cssh_t/ns/{name}\"; }} 2>/dev/null || cssh_ts=gone; cssh_ns=\"$cssh_ns {flag}=/dev/fd/{fd}\"; }}\n"
        ));
    }
    // Opened first, checked after: the same owner and start time mean the same processes.
    s.raw("  { [ -O \"/proc/$cssh_t\" ] && cssh_stat \"$cssh_t\" && [ \"$cssh_start\" = \"$cssh_ts\" ] && [ -O \"/proc/$cssh_e\" ] && cssh_stat \"$cssh_e\" && [ \"$cssh_start\" = \"$cssh_es\" ] && [ /dev/fd/5 -ef \"/proc/$cssh_t/ns/mnt\" ]; } ||");
    fail_job(
        s,
        target,
        &[
            Part::Text("'s container process "),
            Part::Value("$cssh_t"),
            Part::Text(" ended while the session entered it"),
        ],
    );
    // The container's environment, each variable a quoted word for eval (GNU sed's -z reads
    // NUL-separated records), then the job's id and what ssh set up for the session on top.
    // Only NAME=VALUE records count: a program may overwrite its environment's memory (its
    // process title), and anything else would be env's command. A sed that cannot (no -z)
    // says so after what it printed, and the session stops there.
    s.raw("  cssh_env=$({ sed -z \"/^[A-Za-z_][A-Za-z0-9_]*=/!d; s/'/'\\\\\\\\''/g; s/^/'/; s/\\$/' /\" <&3 2>/dev/null || echo cssh-no-sed-z; } | tr -d '\\000')\n");
    s.raw("  case $cssh_env in *cssh-no-sed-z)");
    fail_on_node(
        s,
        target,
        "the sed",
        "cannot read the container's environment (GNU sed 4.2.2 or later, with -z, can)",
    );
    s.raw("  esac\n");
    s.raw("  cssh_n=$#\n  eval \"set -- \\\"\\$@\\\" $cssh_env\"\n");
    s.raw("  set -- \"$@\"");
    s.raw(job_variables);
    for name in forwarded(target) {
        s.raw(&format!(" ${{{name}+\"{name}=${name}\"}}"));
    }
    s.raw("\n");
    // As Apptainer's own: no new privileges (the container's root is not mounted nosuid).
    s.raw("  cssh_nnp=$(command -v setpriv) || cssh_nnp=\n");
    s.raw("  set -- \"$@\" ${cssh_nnp:+\"$cssh_nnp\"} ${cssh_nnp:+--no-new-privs} \"$cssh_nsenter\" $cssh_ns --wd=/dev/fd/9 --preserve-credentials /bin/sh -c");
    // The descriptors stay outside: the command starts with none of them.
    let mut snippet = b"exec 3<&- 4<&- 5<&- 6<&- 7<&- 8<&- 9<&-; ".to_vec();
    snippet.extend_from_slice(&inner.snippet);
    s.word(&snippet);
    inner.word_argument(s);
    // The script's own arguments (`"$@"` when the payload takes them) come last.
    s.raw("\n  while [ \"$cssh_n\" -gt 0 ]; do set -- \"$@\" \"$1\"; shift; cssh_n=$((cssh_n - 1)); done\n");
    s.raw("  exec env -i \"$@\"\n");
}
