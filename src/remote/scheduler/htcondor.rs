//! The remote script's HTCondor steps, run on the access point in the same ssh session as the
//! rest: find this user's job for the host (batch name `cssh-HOST`) or submit one (container
//! universe, the image not transferred, a program that sleeps until the job's time limit), wait
//! while it is idle, then reach its execute point with `condor_ssh_to_job` and enter the job's
//! own container there by its namespaces (`container`), as a Slurm job's is attached. `--release`
//! removes it.
//!
//! condor_ssh_to_job runs a command on the execute point, outside the container, through
//! `eval ${SSH_ORIGINAL_COMMAND}` in bash: unquoted, so a run of blanks becomes one and globs
//! expand. What crosses it is therefore only words that survive that: the script for the execute
//! point in base64, and the session's variables and arguments as base64 of NUL-separated
//! records, decoded there. A job reached for the first time is tried with `true` until its
//! starter answers (for a second or so after it runs, the schedd does not know the starter's
//! address), and marked `CsshReady` in its ad, so later sessions go straight in.
//!
//! Two connections that submit at once both keep the lowest job id and remove the other, as
//! with Slurm.

use super::{ALLOCATION_FAILED, Wait, wait};
use crate::quote::base64;
use crate::remote::container::{
    ATTACH_FAILED, define_pick, describe_container, fail_job, join_namespaces, vet_job,
};
use crate::remote::script::{Part, Script};
use crate::remote::session::{Inner, forwarded};
use crate::remote::target::{CondorJob, Target};
use crate::remote::values;
use crate::settings::{Attach, JobRef};

/// A ClassAd string literal.
fn classad_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// `cssh_live_jobs`: this user's jobs of the host's batch still in the queue and not leaving
/// it, lowest id first, each `CLUSTER.PROC:STATUS:GLOBALJOBID`; and `cssh_pick LINE`, which
/// sets `cssh_job` to a line's id and `cssh_key` to what the job's marks in the home's cssh
/// cache are named by: its GlobalJobId (`SCHEDD#CLUSTER.PROC#QDATE`), unique in a home that
/// several access points share, whose ids overlap (its checksum where it holds more than a
/// file name's safe characters).
fn live_jobs(s: &mut Script, job: &CondorJob) {
    let constraint = format!(
        "JobBatchName =?= {} && JobStatus =!= 3 && JobStatus =!= 4",
        classad_string(&job.batch_name)
    );
    s.raw("cssh_live_jobs() { condor_q \"$(id -un)\" -constraint");
    s.word(constraint.as_bytes());
    s.raw(" -format '%d.' ClusterId -format '%d:' ProcId -format '%d:' JobStatus -format '%s\\n' GlobalJobId 2>/dev/null </dev/null | sort -n; }\n");
    s.raw("cssh_pick() { cssh_job=${1%%:*}; cssh_key=${1#*:*:}; case $cssh_key in ''|*[!A-Za-z0-9._@#-]*) cssh_key=$(printf '%s' \"$1\" | cksum); cssh_key=${cssh_key%% *} ;; esac; }\n");
}

/// `cssh_idle_why`: `cssh_idle`, why idle job `$cssh_job` does not run, in a few words: the
/// first condition of its requirements that no slot matches (condor_q -better-analyze's table),
/// else the negotiator's last reason (`LastRejMatchReason`), else nothing (not yet considered).
/// Printable characters only: it goes to the user's terminal.
fn define_idle_why(s: &mut Script) {
    s.raw(r#"cssh_idle_why() {
  cssh_idle=$(condor_q -better-analyze "$cssh_job" 2>/dev/null </dev/null | sed -n 's/^\[[0-9]*\]  *0  *\(.*[^ ]\) *$/no slot matches \1/p' | head -n 1)
  [ -n "$cssh_idle" ] || cssh_idle=$(condor_q "$cssh_job" -af LastRejMatchReason 2>/dev/null </dev/null)
  [ "$cssh_idle" != undefined ] || cssh_idle=
  cssh_idle=$(printf '%s' "$cssh_idle" | tr -cd '[:print:]')
}
"#);
}

/// Sets `cssh_state` to HTCondor's name for `JobStatus` `status` (a shell word).
fn state_name(status: &str) -> String {
    format!(
        "case {status} in 1) cssh_state=idle ;; 2) cssh_state=running ;; 3) cssh_state=removed ;; 4) cssh_state=completed ;; 5) cssh_state=held ;; 6) cssh_state='transferring output' ;; 7) cssh_state=suspended ;; *) cssh_state='gone from the queue' ;; esac"
    )
}

/// Sets `cssh_job` to the host's running job, reachable by condor_ssh_to_job: found, else
/// submitted, waited for while idle. A held job of the host's is removed, with one line.
pub(in crate::remote) fn job(s: &mut Script, target: &Target, job: &CondorJob) {
    live_jobs(s, job);
    s.raw("cssh_job=; cssh_submitted=\nfor cssh_w in $(cssh_live_jobs); do\n  cssh_s=${cssh_w#*:}\n  case ${cssh_s%%:*} in\n  5) cssh_w=${cssh_w%%:*}\n");
    s.raw("    printf 'cssh: %s: job %s was held (%s): removed it\\n' ");
    s.quoted(target.host.as_bytes());
    s.raw(" \"$cssh_w\" \"$(condor_q \"$cssh_w\" -af HoldReason 2>/dev/null </dev/null)\" >&2\n");
    s.raw("    condor_rm \"$cssh_w\" >/dev/null 2>&1 </dev/null ;;\n");
    s.raw("  *) [ -n \"$cssh_job\" ] || cssh_pick \"$cssh_w\" ;;\n  esac\ndone\n");
    s.raw("if [ -z \"$cssh_job\" ]; then\n  cssh_out=$(printf '%s\\n'");
    for line in &job.description {
        s.word(line.as_bytes());
    }
    s.raw(" | condor_submit -terse 2>&1) && cssh_job=$(printf '%s\\n' \"$cssh_out\" | tail -n 1) && cssh_job=${cssh_job%% *}\n");
    // Only `CLUSTER.PROC` is a job id (it goes into later commands as it is).
    s.raw("  case $cssh_job in *[!0-9.]*|*.*.*) cssh_job= ;; esac\n  case $cssh_job in [0-9]*.[0-9]*) ;; *)");
    s.fail_with(
        &[
            Part::Text(&target.say(&format!(
                "condor_submit refused the job (htcondor in {}): ",
                job.configured_at
            ))),
            Part::Value("$(printf '%s\\n' \"$cssh_out\" | sed '/^[[:space:]]*$/d' | tail -n 1)"),
        ],
        ALLOCATION_FAILED,
    );
    s.raw("  esac\n  cssh_submitted=1\n");
    s.raw("  cssh_new=$cssh_job; cssh_first=$(cssh_live_jobs | sed '/^[^:]*:5:/d' | head -n 1)\n");
    s.raw("  [ -z \"$cssh_first\" ] || cssh_pick \"$cssh_first\"\n");
    s.raw("  if [ \"$cssh_job\" != \"$cssh_new\" ]; then condor_rm \"$cssh_new\" >/dev/null 2>&1 </dev/null; cssh_submitted=; fi\nfi\n");
    define_idle_why(s);
    s.raw("cssh_idle=\n");
    let waiting = Wait {
        name: "htcondor",
        query: &format!(
            "cssh_state=$(condor_q \"$cssh_job\" -af JobStatus CsshReady 2>/dev/null </dev/null) || cssh_state=\n  cssh_ready=${{cssh_state#* }}\n  {}",
            state_name("${cssh_state%% *}")
        ),
        running: "running",
        waiting: "idle|suspended",
        shown: "$cssh_state${cssh_idle:+ ($cssh_idle)}",
        explain: Some("cssh_idle_why"),
        cancel: ["condor_rm \"$cssh_job\"", "remove", "removed"],
        progress: job.progress,
    };
    wait(s, target, &waiting, |s| {
        s.raw("\n    cssh_why=\n    if [ \"$cssh_state\" = held ]; then cssh_why=\" ($(condor_q \"$cssh_job\" -af HoldReason 2>/dev/null </dev/null)), removed it\"; condor_rm \"$cssh_job\" >/dev/null 2>&1 </dev/null; fi\n   ");
        s.fail_with(
            &[
                Part::Text(&target.say("job ")),
                Part::Value("$cssh_job"),
                Part::Text(" "),
                Part::Value("$cssh_state$cssh_why"),
                Part::Text(" (the next connection submits a new one)"),
            ],
            ALLOCATION_FAILED,
        );
    });
    reachable(s, target);
}

/// Waits until condor_ssh_to_job reaches running job `$cssh_job` (`$cssh_ready` is what its
/// ad says), then marks it so.
pub(in crate::remote) fn reachable(s: &mut Script, target: &Target) {
    s.raw("if [ \"$cssh_ready\" != true ]; then\n  cssh_tries=0\n");
    s.raw("  until cssh_out=$(condor_ssh_to_job \"$cssh_job\" true 2>&1 </dev/null); do\n");
    s.raw("    cssh_tries=$((cssh_tries + 1)); [ \"$cssh_tries\" -lt 40 ] ||");
    s.fail_with(
        &[
            Part::Text(&target.say("job ")),
            Part::Value("$cssh_job"),
            Part::Text(" runs, but condor_ssh_to_job cannot reach it: "),
            Part::Value("$(printf '%s\\n' \"$cssh_out\" | sed '/^[[:space:]]*$/d' | tail -n 1)"),
        ],
        ATTACH_FAILED,
    );
    s.raw("    sleep 0.5\n  done\n  condor_qedit \"$cssh_job\" CsshReady true >/dev/null 2>&1 </dev/null\nfi\n");
}

/// A command that prints the id (`CLUSTER.PROC`) of this user's running HTCondor job that
/// `attach` names (by id, `123` being 123.0, or its newest of that batch name), or nothing.
pub(in crate::remote) fn running(s: &mut Script, attach: &Attach) {
    let constraint = match &attach.job {
        JobRef::Id(id) => format!(
            "ClusterId == {id} && ProcId == {} && JobStatus == 2",
            attach.step.as_deref().unwrap_or("0")
        ),
        JobRef::Name(name) => format!(
            "JobBatchName =?= {} && JobStatus == 2",
            classad_string(name)
        ),
    };
    s.raw("condor_q \"$(id -un)\" -constraint");
    s.word(constraint.as_bytes());
    s.raw(" -format '%d.' ClusterId -format '%d\\n' ProcId 2>/dev/null </dev/null | sort -n | tail -n 1");
}

/// Sets `cssh_job` to the running job a session attaches to, this user's, and `cssh_ready` to
/// what its ad says of condor_ssh_to_job; else one line.
pub(in crate::remote) fn find_job(s: &mut Script, target: &Target, attach: &Attach) {
    match &attach.job {
        JobRef::Id(id) => s.raw(&format!(
            "cssh_job={id}.{}\n",
            attach.step.as_deref().unwrap_or("0")
        )),
        JobRef::Name(name) => {
            s.raw("cssh_job=$(");
            running(s, attach);
            s.raw(")\n[ -n \"$cssh_job\" ] ||");
            s.fail_with(
                &[Part::Text(&target.say(&format!(
                    "no running job of yours with batch name \"{name}\""
                )))],
                ATTACH_FAILED,
            );
        }
    }
    vet_job(
        s,
        target,
        // A job that left the queue (removed, completed) is in the history, with its state.
        "cssh_info=$(condor_q \"$cssh_job\" -af JobStatus Owner 2>&1 </dev/null) && { [ -n \"$cssh_info\" ] || cssh_info=$(condor_history \"$cssh_job\" -limit 1 -af JobStatus Owner 2>/dev/null </dev/null) || cssh_info=; }",
        &format!(
            "cssh_owner=${{cssh_info#* }}; {}",
            state_name("${cssh_info%% *}")
        ),
        "[ \"$cssh_state\" = running ]",
    );
    s.raw("cssh_ready=$(condor_q \"$cssh_job\" -af CsshReady 2>/dev/null </dev/null)\n");
}

/// The variables a session carries to the execute point: the forwarded ones and the login
/// shell, which chooses the shell in the image.
fn carried<'a>(target: &Target<'a>) -> Vec<&'a str> {
    let mut names = forwarded(target);
    if !names.contains(&"SHELL") {
        names.push("SHELL");
    }
    names
}

/// Reaches job `$cssh_job`'s execute point and runs the session in its container (never
/// returns): with a terminal exactly where the session has one.
pub(in crate::remote) fn reach(s: &mut Script, target: &Target, inner: &Inner) {
    values::to_sandbox(s, target);
    // NUL-separated records behind a first `x`, so that none and one empty one differ.
    s.raw("cssh_fw=$(printf '%s\\0' x");
    for name in carried(target) {
        s.raw(&format!(" ${{{name}+\"{name}=${name}\"}}"));
    }
    s.raw(" | base64 -w0)\n");
    let arguments = inner.takes_script_arguments();
    if arguments {
        s.raw("cssh_args=$(printf '%s\\0' x \"$@\" | base64 -w0)\n");
    }
    s.raw("cssh_tt=; [ -t 0 ] && cssh_tt='ssh -tt -oLogLevel=ERROR'\n");
    let on_execute_point =
        String::from_utf8_lossy(&base64(&execute_point_script(target, inner))).into_owned();
    s.raw(&format!(
        "exec condor_ssh_to_job ${{cssh_tt:+-ssh \"$cssh_tt\"}} \"$cssh_job\" \"sh -c \\\"\\$(echo {on_execute_point}|base64 -d)\\\" sh $cssh_job $cssh_fw{}\"\n",
        if arguments { " $cssh_args" } else { "" }
    ));
}

/// The script condor_ssh_to_job runs on the execute point, outside the job's container: `$1`
/// the job, `$2` (and `$3`, the arguments, where the payload takes them) as [`reach`] sends
/// them. It finds the container among the job's processes and enters it.
fn execute_point_script(target: &Target, inner: &Inner) -> Vec<u8> {
    let mut s = Script::default();
    s.raw("cssh_decode() { printf %s \"$1\" | base64 -d | sed -z \"1d; s/'/'\\\\\\\\''/g; s/^/'/; s/\\$/' /\" | tr -d '\\000'; }\n");
    s.raw("cssh_job=$1; cssh_fw=$(cssh_decode \"$2\")");
    if inner.takes_script_arguments() {
        s.raw("; cssh_args=$(cssh_decode \"$3\")");
    } else {
        s.raw("; cssh_args=");
    }
    s.raw("\nunset");
    for name in carried(target) {
        s.raw(" ");
        s.raw(name);
    }
    s.raw("\neval \"set -- $cssh_fw\"; for cssh_w; do export \"$cssh_w\"; done\n");
    values::load_in_sandbox(&mut s, target);
    s.raw("eval \"set -- $cssh_args\"\n");
    enter_container(&mut s, target, inner);
    s.text
}

/// On the execute point, in a session of job `$cssh_job` whose variables (`_CONDOR_JOB_PIDS`)
/// it has, with the session's own variables: finds the job's container among the job's
/// processes and enters it (never returns), or fails in one line.
pub(in crate::remote) fn enter_container(s: &mut Script, target: &Target, inner: &Inner) {
    job_processes(s);
    s.raw("if cssh_pick job; then\n");
    // The login shell: the job's container is HTCondor's, but its sessions are cssh's (the
    // configured variables come in `CSSH_VALUES`, over all of these).
    join_namespaces(s, target, inner, " ${SHELL+\"SHELL=$SHELL\"}");
    s.raw("fi\n");
    fail_job(
        s,
        target,
        &[
            Part::Text(" runs no container on "),
            Part::Value("$cssh_node"),
            Part::Text(" (its execute point runs it without Apptainer)"),
        ],
    );
}

/// In a session of the job's own sshd on the execute point: the configured variables read from
/// the job's scratch directory (they win over the session's own, as where cssh starts the
/// container), then into the job's container.
pub(in crate::remote) fn enter_by_sshd(s: &mut Script, target: &Target, inner: &Inner) {
    values::load_in_sandbox(s, target);
    enter_container(s, target, inner);
}

/// The variables of the job's environment on its execute point that its sessions keep: HTCondor's
/// own (the job's processes, scratch directory, slot; the markers by which HTCondor tracks what
/// the job started).
pub(in crate::remote) const JOB_VARIABLES: &[&str] = &["^_CONDOR_"];

/// Starts `launcher`, a sh script, on job `$cssh_job`'s execute point, outside its container,
/// with condor_ssh_to_job's stdin and stdout as its own and the job's id and `$cssh_conn` as its
/// `$1` and `$2` (never returns): only words that survive its unquoted `eval` cross.
pub(in crate::remote) fn channel(s: &mut Script, launcher: &[u8]) {
    s.raw(&format!(
        "exec condor_ssh_to_job \"$cssh_job\" \"sh -c \\\"\\$(echo {}|base64 -d)\\\" sh $cssh_job $cssh_conn\"\n",
        String::from_utf8_lossy(&base64(launcher))
    ));
}

/// On the execute point, in a session of job `$cssh_job`: `cssh_node`, and the job's processes
/// as `cssh_pick` reads them, with `cssh_pick` defined.
fn job_processes(s: &mut Script) {
    // HTCondor's view of the job names the runtime's starter; the container's init is its
    // child, and the job's own first process the init's.
    s.raw("cssh_node=; read -r cssh_node </proc/sys/kernel/hostname\ncssh_pids=\n");
    s.raw("cssh_kids() {\n  for cssh_k in $(cat \"/proc/$1/task/\"*/children 2>/dev/null); do\n    cssh_pids=\"$cssh_pids job:$cssh_k\"; [ \"$2\" = 0 ] || cssh_kids \"$cssh_k\" $(($2 - 1))\n  done\n}\n");
    s.raw("for cssh_p in ${_CONDOR_JOB_PIDS-}; do cssh_pids=\"$cssh_pids job:$cssh_p\"; cssh_kids \"$cssh_p\" 1; done\n");
    define_pick(s);
}

/// A command that prints `IMAGE<TAB>ENTER` for running job `$cssh_job`'s container, looked for
/// on its execute point through condor_ssh_to_job, without entering it.
pub(in crate::remote) fn look(s: &mut Script) {
    let mut on_execute_point = Script::default();
    job_processes(&mut on_execute_point);
    on_execute_point.raw("cssh_pick job\n");
    describe_container(&mut on_execute_point, |s| {
        s.raw("  cssh_can='no (no container)'; cssh_img=-\n");
    });
    s.raw(&format!(
        "condor_ssh_to_job \"$cssh_job\" \"sh -c \\\"\\$(echo {}|base64 -d)\\\" sh\" </dev/null 2>/dev/null || printf '?\\t? (condor_ssh_to_job did not reach it)\\n'",
        String::from_utf8_lossy(&base64(&on_execute_point.text))
    ));
}

/// `cssh --attach list`'s rows on an access point: each running job of this user, its execute
/// point, its container's image and whether a session can enter it.
pub(in crate::remote) fn rows(s: &mut Script) {
    s.raw("condor_q \"$(id -un)\" -constraint 'JobStatus == 2' -format '%d.' ClusterId -format '%d ' ProcId -format '%s ' RemoteHost -format '%s' JobBatchName -format '\\n' ClusterId </dev/null | sort -n | while read -r cssh_job cssh_node cssh_name; do\n  cssh_found=$(");
    look(s);
    s.raw(&format!(
        ")\n  printf '{}' \"$cssh_job\" \"${{cssh_node##*@}}\" \"${{cssh_found%%\t*}}\" \"${{cssh_found#*\t}}\" \"$cssh_name\"\ndone\n",
        super::LIST_ROW
    ));
}

/// A script that removes the host's job and says which it was.
/// One line on stderr: job `$cssh_job`, its execute point and the time it has left of its
/// `AllowedJobDuration` (HTCondor ends it then), as H:MM:SS.
pub(in crate::remote) fn time_left(s: &mut Script, target: &Target) {
    s.raw("cssh_left=$(condor_q \"$cssh_job\" -af RemoteHost 'AllowedJobDuration - (time() - JobCurrentStartDate)' 2>/dev/null </dev/null)\n");
    s.raw("cssh_node=${cssh_left%% *}; cssh_node=${cssh_node##*@}; cssh_left=${cssh_left#* }\n");
    s.raw("case $cssh_left in ''|*[!0-9]*) cssh_left=unlimited ;; *) cssh_left=$(printf '%d:%02d:%02d' $((cssh_left / 3600)) $((cssh_left / 60 % 60)) $((cssh_left % 60))) ;; esac\n");
    s.raw("printf '%s%s on %s, %s left\\n'");
    s.word(target.say("job ").as_bytes());
    s.raw(" \"$cssh_job\" \"$cssh_node\" \"$cssh_left\" >&2\n");
}

pub(in crate::remote) fn release(s: &mut Script, target: &Target, job: &CondorJob) {
    live_jobs(s, job);
    s.raw("cssh_job=$(cssh_live_jobs | sed 's/:.*//')\nif [ -z \"$cssh_job\" ]; then\n  printf '%s\\n' ");
    s.quoted(target.say("no job to release").as_bytes());
    s.raw(" >&2\nelse\n  condor_rm $cssh_job >/dev/null </dev/null || exit\n  printf '%s %s\\n' ");
    s.quoted(target.say("released job").as_bytes());
    s.raw(" \"$(echo $cssh_job)\" >&2\nfi\n");
}

/// The doctor's facts about the host's HTCondor: where condor_submit and condor_ssh_to_job
/// are, what the pool's collector lists (slots, and those that run containers), and the host's
/// job (`ID STATUS SLOT`), if there is one. Nothing is submitted.
pub(in crate::remote) fn probe(s: &mut Script, job: &CondorJob) {
    use crate::remote::facts::Fact;
    live_jobs(s, job);
    s.raw(&format!(
        "cssh_fact {} \"$(command -v condor_submit)\"\ncssh_fact {} \"$(command -v condor_ssh_to_job)\"\n",
        Fact::CondorSubmitPath.key(),
        Fact::CondorSshToJobPath.key()
    ));
    s.raw(&format!(
        "if cssh_out=$(condor_status -af Name HasContainer 2>&1 </dev/null); then cssh_fact {0} \"$(printf '%s\\n' \"$cssh_out\" | awk 'NF {{ n++ }} $2 == \"true\" {{ c++ }} END {{ printf \"%d %d\", n, c }}')\"; else cssh_fact {0} \"error $(printf '%s\\n' \"$cssh_out\" | sed '/^[[:space:]]*$/d' | tail -n 1)\"; fi\n",
        Fact::Pool.key()
    ));
    s.raw(&format!(
        "cssh_job=$(cssh_live_jobs | head -n 1)\n[ -z \"$cssh_job\" ] || cssh_fact {} \"${{cssh_job%%:*}} $(condor_q \"${{cssh_job%%:*}}\" -af JobStatus RemoteHost 2>/dev/null </dev/null)\"\n",
        Fact::CondorJob.key()
    ));
    define_idle_why(s);
    s.raw(&format!(
        "cssh_s=${{cssh_job#*:}}; case ${{cssh_s%%:*}} in 1) cssh_job=${{cssh_job%%:*}}; cssh_idle_why; cssh_fact {} \"$cssh_idle\" ;; esac\n",
        Fact::CondorIdle.key()
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The id and key `cssh_pick` takes from the first job condor_q lists (`line`), under sh.
    #[cfg(unix)]
    fn picked(line: &str) -> String {
        let mut s = Script::default();
        live_jobs(
            &mut s,
            &CondorJob::new("h", "/i.sif", &[], String::new(), false),
        );
        s.raw("cssh_pick \"$(cssh_live_jobs | head -n 1)\"; printf '%s|%s' \"$cssh_job\" \"$cssh_key\"");
        let condor_q = format!("printf '%s\\n' '{line}'");
        crate::remote::script::run_with_stand_ins(&s.text, &[("condor_q", &condor_q)])
    }

    #[test]
    #[cfg(unix)]
    fn a_jobs_marks_are_named_by_its_global_id_which_two_access_points_never_share() {
        assert_eq!(
            picked("12.0:2:ap1.example.org#12.0#1765000000"),
            "12.0|ap1.example.org#12.0#1765000000"
        );
        assert_ne!(
            picked("12.0:2:ap1.example.org#12.0#1765000000"),
            picked("12.0:2:ap2.example.org#12.0#1765000000")
        );
        // A schedd named with more than a file name's safe characters: a checksum of the line.
        let odd = picked("12.0:2:ap/1 x#12.0#1765000000");
        let (job, key) = odd.split_once('|').unwrap();
        assert_eq!(job, "12.0");
        assert!(
            !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit()),
            "{odd}"
        );
        assert_ne!(picked("12.0:2:ap/2 x#12.0#1765000000"), odd);
    }

    #[test]
    fn the_job_is_a_sleeping_container_job_whose_lines_the_user_can_change() {
        let job = CondorJob::new(
            "EL9",
            "/i.sif",
            &["request_cpus = 4".into()],
            "c:3".into(),
            false,
        );
        assert_eq!(job.batch_name, "cssh-el9");
        assert!(job.description.contains(&"container_image = /i.sif".into()));
        assert!(
            job.description
                .contains(&"allowed_job_duration = 3600".into())
        );
        assert_eq!(
            job.description[job.description.len() - 2..],
            ["request_cpus = 4", "queue"]
        );
        let own = CondorJob::new(
            "h",
            "/i.sif",
            &["Allowed_Job_Duration=60".into()],
            String::new(),
            false,
        );
        assert!(
            !own.description
                .contains(&"allowed_job_duration = 3600".into())
        );
        assert_eq!(classad_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }

    /// The id condor_submit prints goes into later commands as it is: only `CLUSTER.PROC` is
    /// taken, anything else is its refusal.
    #[cfg(unix)]
    #[test]
    fn only_a_cluster_and_proc_is_taken_for_a_job_id() {
        let settings = crate::settings::Settings::default();
        let target = Target {
            host: "h",
            image: "/i.sif",
            settings: &settings,
            config_file: "/c.toml",
            place: crate::remote::Place::Here,
            sent: &[],
            values: None,
        };
        let job = CondorJob::new("h", "/i.sif", &[], "c:3".into(), false);
        let submitted = |printed: &str| {
            let mut s = Script::default();
            super::job(&mut s, &target, &job);
            s.raw("echo \"$cssh_job\"\n");
            crate::remote::script::run_with_stand_ins(
                &s.text,
                &[
                    (
                        "condor_submit",
                        &format!("cat >/dev/null; echo '{printed}'"),
                    ),
                    // The queue holds nothing of the host's; the job itself runs, reachable.
                    (
                        "condor_q",
                        "case \"$*\" in *-constraint*) ;; *) echo '2 true' ;; esac",
                    ),
                ],
            )
        };
        assert_eq!(submitted("7.0 - 7.0"), "7.0");
        for hostile in ["1.0;touch x - 1.0", "1.0.2 - 1.0.2", "$(id) - 1"] {
            assert_eq!(
                submitted(hostile),
                format!("cssh: h: condor_submit refused the job (htcondor in c:3): {hostile}"),
            );
        }
    }
}
