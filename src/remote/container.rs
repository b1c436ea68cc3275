//! Into a running job's own container, by its namespaces, as `nsenter` does: what every
//! scheduler's attach shares once it runs on the job's node with the job's processes in hand.
//! It checks the job (found, this user's, running), picks the container's first process among
//! the job's (owned by this user, in a mount namespace other than the session's, an Apptainer
//! container's (its root holds `/.singularity.d`) or Charliecloud's (its environment has
//! ch-run's `CH_RUNNING`), whose parent is outside it), tells whether it can be entered without
//! entering it, and enters it: the user namespace, then those of mount, pid, uts and ipc that
//! differ from the session's (entering the same one again fails), the working directory of the
//! container's process and its environment. A pid-namespace container's first process is
//! Apptainer's init, whose environment is the runtime's: its oldest child's is used.
//!
//! Safety: every namespace, the working directory and the environment are opened as file
//! descriptors first, and only then is the process checked again, owner and start time, so what
//! is entered is the process that was found, never a reused pid. The container's environment is
//! the container's alone: nsenter and setpriv run with an empty environment but for one variable
//! (`CSSH_ENV`) that carries it as quoted `export` commands to the image's sh, which evaluates them
//! inside; an `LD_PRELOAD` set in the job never loads into a program of the host.

use super::script::{Part, Script, define_quote, proc_stat};
use super::session::{Inner, forwarded};
use super::target::Target;

/// What messages call the container an attached session enters.
pub const CONTAINER: &str = "the job's container";

/// Exit status when the job cannot be entered: not found, not running, not this user's, no
/// container, a setuid runtime, no nsenter. cssh's own errors exit 255, as ssh's do.
pub const ATTACH_FAILED: u8 = 255;

/// The oldest util-linux whose nsenter keeps the user's credentials in a user namespace.
const NSENTER_VERSION: &str = "util-linux 2.26";

/// Checks job `$cssh_job` as a scheduler's `query` (which sets `cssh_info`) reports it, `parse`
/// read from it `cssh_owner` and `cssh_state`, and `running` tells: found, this user's and
/// running; else one line and exit 255.
pub(in crate::remote) fn vet_job(
    s: &mut Script,
    target: &Target,
    query: &str,
    parse: &str,
    running: &str,
) {
    let list = format!(
        " (cssh --attach list {} lists your running jobs)",
        target.host
    );
    s.raw(query);
    s.raw(" ||");
    fail_job(
        s,
        target,
        &[
            Part::Text(": "),
            Part::Value("$(printf '%s\\n' \"$cssh_info\" | tail -n 1)"),
            Part::Text(&list),
        ],
    );
    s.raw("[ -n \"$cssh_info\" ] ||");
    fail_job(s, target, &[Part::Text(" not found"), Part::Text(&list)]);
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
pub(in crate::remote) fn fail_job(s: &mut Script, target: &Target, parts: &[Part]) {
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

/// `cssh_pick PATTERN [PARENT]` over `cssh_pids` (`GROUP:PID` words): `cssh_t`, the oldest
/// process of the groups matching PATTERN that is this user's and in a container (of PARENT's
/// children: any in the container; else: only the container's first processes, whose parent is
/// outside it), with `cssh_stat`.
pub(in crate::remote) fn define_pick(s: &mut Script) {
    proc_stat(s);
    s.raw("cssh_pick() {\n  cssh_t=; cssh_ts=\n  for cssh_w in $cssh_pids; do\n");
    s.raw("    case $cssh_w in $1:*) ;; *) continue ;; esac\n    cssh_p=${cssh_w#*:}\n");
    s.raw("    [ -O \"/proc/$cssh_p\" ] && ! [ \"/proc/$cssh_p/ns/mnt\" -ef /proc/self/ns/mnt ] && { [ -d \"/proc/$cssh_p/root/.singularity.d\" ] || tr '\\000' '\\n' <\"/proc/$cssh_p/environ\" 2>/dev/null | grep -q '^CH_RUNNING='; } && cssh_stat \"$cssh_p\" || continue\n");
    s.raw("    if [ -n \"${2-}\" ]; then [ \"$cssh_ppid\" = \"$2\" ] || continue\n");
    s.raw("    elif [ \"/proc/$cssh_ppid/ns/mnt\" -ef \"/proc/$cssh_p/ns/mnt\" ]; then continue; fi\n");
    s.raw("    if [ -z \"$cssh_t\" ] || [ \"$cssh_start\" -lt \"$cssh_ts\" ]; then cssh_t=$cssh_p; cssh_ts=$cssh_start; fi\n");
    s.raw("  done\n  [ -n \"$cssh_t\" ]\n}\n");
}

/// Prints `IMAGE<TAB>ENTER` for the container `cssh_t` found with `cssh_pick`, without
/// entering it: ENTER is `yes` or `no (WHY)`. Where none was found, `otherwise` sets
/// `cssh_img` and `cssh_can`.
pub(in crate::remote) fn describe_container(s: &mut Script, otherwise: impl FnOnce(&mut Script)) {
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

/// What runs first in the container, its `$1` the payload's snippet and the rest the snippet's
/// `$0` and arguments:
/// the descriptors of the namespaces close (the command starts with none of them), and the
/// environment (`CSSH_ENV`'s `export` lines) is set; then, where
/// the session has a terminal that the container does not see (a container with a `/dev` of its
/// own: `tty` says "not a tty", tmux and ttyname fail), the payload runs on a terminal of the
/// container's own, the image's `script` (util-linux) relaying between the two (the window
/// size too), with its exit status; else as it is. A payload on a terminal has at most one
/// argument (its command). script ignores a hangup of the session's terminal (util-linux 2.38
/// even spins): a watcher, which holds nothing open and is not script's child (script waits for
/// its children), looks once a second whether that terminal can still be opened and, once it
/// cannot, kills script, which hangs up the container's
/// terminal in turn, as the session's own hangup would have.
const TERMINAL_INSIDE: &[u8] = br#"exec 3<&- 4<&- 5<&- 6<&- 7<&- 8<&- 9<&-
eval "$CSSH_ENV"; unset CSSH_ENV
cssh_r=$1; shift
if [ -t 0 ] && ! tty >/dev/null 2>&1 && command -v script >/dev/null 2>&1; then
  CSSH_RELAY=$cssh_r CSSH_SHELL=${SHELL-}; export CSSH_RELAY CSSH_SHELL
  if [ $# -gt 1 ]; then CSSH_ARG=$2; export CSSH_ARG; fi
  cssh_me=$(cut -d' ' -f22 /proc/$$/stat)
  ( (trap '' HUP; cssh_alive() { [ "$(cut -d' ' -f22 /proc/$$/stat 2>/dev/null)" = "$cssh_me" ]; }
    while cssh_alive && { [ -t 0 ]; } </proc/$$/fd/0; do sleep 1; done
    cssh_alive && kill -KILL $$) & ) </dev/null >/dev/null 2>&1
  SHELL=/bin/sh exec script -qec 'SHELL=$CSSH_SHELL; cssh_r=$CSSH_RELAY; unset CSSH_RELAY CSSH_SHELL; if [ -n "${CSSH_ARG+x}" ]; then cssh_a=$CSSH_ARG; unset CSSH_ARG; exec /bin/sh -c "$cssh_r" sh "$cssh_a"; fi; exec /bin/sh -c "$cssh_r" sh' /dev/null
fi
exec /bin/sh -c "$cssh_r" "$@""#;

/// `SSH_AUTH_SOCK` as the container `cssh_t` sees the agent's socket: where the session's path
/// is not the same socket inside, the same socket under the job's scratch directory, which
/// HTCondor binds into its containers at the same path and whose `tmp` is the /tmp of a session
/// on its execute point. A container with a /tmp of its own elsewhere (`--contain`) does not see
/// it: the path stays.
fn agent_inside(s: &mut Script) {
    s.raw("  if [ -S \"${SSH_AUTH_SOCK-}\" ] && ! [ \"$SSH_AUTH_SOCK\" -ef \"/proc/$cssh_t/root$SSH_AUTH_SOCK\" ]; then\n");
    s.raw("    for cssh_p in \"${_CONDOR_SCRATCH_DIR:-/nonexistent}$SSH_AUTH_SOCK\"; do [ \"$SSH_AUTH_SOCK\" -ef \"/proc/$cssh_t/root$cssh_p\" ] && SSH_AUTH_SOCK=$cssh_p && break; done\n  fi\n");
}

/// Enters `cssh_t`'s container with nsenter (never returns but by failing in one line), with
/// the container's environment, then `job_variables` (shell words the scheduler adds), then the
/// session's variables forwarded from this shell.
pub(in crate::remote) fn join_namespaces(
    s: &mut Script,
    target: &Target,
    inner: &Inner,
    job_variables: &str,
) {
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
    agent_inside(s);
    s.raw("  set -- \"$@\"");
    s.raw(job_variables);
    for name in forwarded(target) {
        s.raw(&format!(" ${{{name}+\"{name}=${name}\"}}"));
    }
    s.raw("\n");
    // The script's own arguments (`"$@"` when the payload takes them) go last, then the
    // variables before them become `CSSH_ENV`'s lines (a name that is not a shell name is
    // dropped: the image's sh could not export it).
    s.raw("  cssh_m=$(($# - cssh_n))\n  while [ \"$cssh_n\" -gt 0 ]; do set -- \"$@\" \"$1\"; shift; cssh_n=$((cssh_n - 1)); done\n");
    define_quote(s);
    s.raw("  cssh_code=\n  while [ \"$cssh_m\" -gt 0 ]; do\n    case ${1%%=*} in ''|[0-9]*|*[!A-Za-z0-9_]*) ;; *) cssh_q \"$1\"; cssh_code=\"${cssh_code}command export $cssh_qv\n\" ;; esac\n    shift; cssh_m=$((cssh_m - 1))\n  done\n");
    // One variable carries it into the container: Linux takes at most 128 KiB in one.
    s.raw("  [ \"$(printf %s \"$cssh_code\" | wc -c)\" -lt 131000 ] ||");
    fail_job(
        s,
        target,
        &[Part::Text(
            ": its container's environment is larger than the 128 KiB that cssh can carry into it (one variable, as the kernel limits it)",
        )],
    );
    // As Apptainer's own: no new privileges (the container's root is not mounted nosuid).
    s.raw("  cssh_nnp=$(command -v setpriv) || cssh_nnp=\n");
    // The host's programs get no variable but `CSSH_ENV` and the configured `CSSH_VALUES`,
    // which travel in the environment, never as words of a command line (`ps` shows those):
    // every other exported variable and function is unset first.
    s.raw("  CSSH_ENV=$cssh_code; export CSSH_ENV\n");
    s.raw("  cssh_f=; for cssh_v in $(env | sed -n 's/^BASH_FUNC_\\(.*\\)%%=.*/-f \\1/p; s/^\\([A-Za-z_][A-Za-z0-9_]*\\)=.*/\\1/p'); do case $cssh_v in CSSH_ENV|CSSH_VALUES) ;; -f) cssh_f=-f ;; *) command unset $cssh_f \"$cssh_v\" 2>/dev/null; cssh_f= ;; esac; done\n");
    s.raw("  exec ${cssh_nnp:+\"$cssh_nnp\"} ${cssh_nnp:+--no-new-privs} \"$cssh_nsenter\" $cssh_ns --wd=/dev/fd/9 --preserve-credentials /bin/sh -c");
    s.word(TERMINAL_INSIDE);
    s.raw(" sh");
    s.word(&inner.snippet);
    inner.word_argument(s);
    s.raw(" \"$@\"\n");
}
