//! The batch schedulers a host's sessions may run under, one module each, all of one shape:
//! find this user's job for the host or submit one, wait while it waits for resources (one
//! updating line), reach it, release it, and what the doctor reads of it without submitting.
//! `slurm` runs sessions as steps of an allocation; `htcondor` enters the job's container on
//! its execute point through `condor_ssh_to_job`. A third (PBS, LSF, Flux) is one more module
//! that writes the same steps.

pub mod either;
pub mod htcondor;
pub mod slurm;

use super::script::{Script, proc_stat};
use super::target::{Scheduler, Target};

/// A row of `cssh --attach list` (a printf format): job, node, image, whether a session can
/// enter it, name.
pub(in crate::remote) const LIST_ROW: &str = "%-10s %-10s %-32s %-24s %s\\n";

/// `cssh --attach list`: a header, then this user's running jobs under each of `schedulers`
/// (one the login node lacks is passed over where `skip_missing`: a host that names none lists
/// whichever it has), or one line where there is none.
pub(in crate::remote) fn list(s: &mut Script, schedulers: &[Scheduler], skip_missing: bool) {
    s.raw(&format!(
        "printf '{LIST_ROW}' JOB NODE IMAGE ENTER NAME\ncssh_rows=$(\n"
    ));
    for scheduler in schedulers {
        let (tool, rows): (&str, fn(&mut Script)) = match scheduler {
            Scheduler::Slurm => ("squeue", slurm::attach::rows),
            Scheduler::Htcondor => ("condor_q", htcondor::rows),
        };
        if skip_missing {
            s.raw(&format!("if command -v {tool} >/dev/null 2>&1; then\n"));
            rows(s);
            s.raw("fi\n");
        } else {
            rows(s);
        }
    }
    s.raw(")\nif [ -n \"$cssh_rows\" ]; then printf '%s\\n' \"$cssh_rows\"; else printf '(no running job of yours)\\n'; fi\n");
}

/// Exit status when the job cannot be had: the scheduler refuses it, or it ends while a session
/// waits for it. cssh's own errors exit 255, as ssh's do.
pub const ALLOCATION_FAILED: u8 = 255;

/// How a scheduler's job `$cssh_job` is waited for.
pub(in crate::remote) struct Wait<'a> {
    /// The scheduler's name, in the wait's marks (`~/.cache/cssh/wait-NAME-JOB`).
    pub(in crate::remote) name: &'a str,
    /// Sets `cssh_state` to the job's state, as the scheduler's tools print it.
    pub(in crate::remote) query: &'a str,
    /// A `case` pattern: the job runs.
    pub(in crate::remote) running: &'a str,
    /// A `case` pattern: the job waits for resources.
    pub(in crate::remote) waiting: &'a str,
    /// What a line shows of a waiting job's state (a shell expression).
    pub(in crate::remote) shown: &'a str,
    /// A command that finds why the job waits, where the state does not say (it costs the
    /// scheduler more than the query): run after 2 s of waiting, then every 5 s.
    pub(in crate::remote) explain: Option<&'a str>,
    /// Ends job `$cssh_job`: the command, its verb and what it did ("scancel ...", "cancel",
    /// "cancelled").
    pub(in crate::remote) cancel: [&'a str; 3],
    /// The user's stderr is a terminal.
    pub(in crate::remote) progress: bool,
}

/// Waits while job `$cssh_job` (whose marks `$cssh_key` names) waits; any state but running or
/// waiting runs `gone`, which ends the script in one line. A terminal shows one updating line;
/// without one, each change of what it would show is one line once the wait has lasted 5 s,
/// and its end one more.
///
/// A wait that is given up (Ctrl-C or a hang-up on a terminal session, or the connection gone:
/// its sshd ended, or the updating line cannot be written) ends the job with `wait.cancel` when a
/// connection submitted it to wait for it (`cssh_submitted`, kept in the wait's marks) and no
/// other connection still waits for it; else the job stays queued. Either way one line says
/// which, and the updating line says beforehand what Ctrl-C does. Each waiting connection
/// touches its own mark every second; one touched in the last 6 s is a connection that waits
/// (wherever the home is shared).
pub(in crate::remote) fn wait(
    s: &mut Script,
    target: &Target,
    wait: &Wait,
    gone: impl FnOnce(&mut Script),
) {
    proc_stat(s);
    // The connection: the sshd whose session this is (the session leader's parent), with its
    // start time. Where it cannot be read, only a signal or a failed write ends the wait.
    s.raw("cssh_link=; cssh_stat $$ && cssh_stat \"$cssh_sid\" && cssh_link=$cssh_ppid && cssh_stat \"$cssh_link\" && cssh_link=\"$cssh_link $cssh_start\" || cssh_link=\n");
    s.raw(&format!(
        "cssh_wdir=\"$HOME/.cache/cssh/wait-{}-$cssh_key\"; cssh_wmark=\"$cssh_wdir/w-$(uname -n)-$$\"\n",
        wait.name
    ));
    s.raw("cssh_stop() {\n  trap '' INT HUP TERM PIPE\n  rm -f \"$cssh_wmark\"\n");
    if wait.progress {
        s.raw("  printf '\\r\\033[K' >&2\n");
    }
    s.raw("  cssh_what=");
    s.quoted(
        format!(
            "stays queued (cssh --release {} {}s it)",
            target.host, wait.cancel[1]
        )
        .as_bytes(),
    );
    s.raw("\n  if [ -f \"$cssh_wdir/submitted\" ]; then\n");
    s.raw("    if [ -n \"$(find \"$cssh_wdir\" -name 'w-*' -mmin -0.1 2>/dev/null)\" ]; then cssh_what='stays queued: another connection waits for it'\n");
    s.raw(&format!(
        "    else {} >/dev/null 2>&1 </dev/null; rm -rf \"$cssh_wdir\"; cssh_what='{}: no connection waits for it any more'; fi\n  fi\n",
        wait.cancel[0], wait.cancel[2]
    ));
    s.raw("  printf '%s%s %s\\n'");
    s.word(target.say("job ").as_bytes());
    s.raw(" \"$cssh_job\" \"$cssh_what\" >&2\n  exit \"$1\"\n}\n");
    s.raw("trap 'cssh_stop 130' INT; trap 'cssh_stop 129' HUP; trap 'cssh_stop 143' TERM; trap '' PIPE\n");
    s.raw("cssh_waited=0; cssh_said=; cssh_ending='leaves it queued'\nwhile :; do\n  ");
    s.raw(wait.query);
    s.raw(&format!(
        "\n  case $cssh_state in\n  {}) break ;;\n  {})\n",
        wait.running, wait.waiting
    ));
    s.raw("    if [ \"$cssh_waited\" = 0 ]; then\n      (umask 077; mkdir -p \"$cssh_wdir\") 2>/dev/null\n");
    s.raw(&format!(
        "      [ -z \"$cssh_submitted\" ] || true 2>/dev/null >\"$cssh_wdir/submitted\"\n      [ -f \"$cssh_wdir/submitted\" ] && cssh_ending='{}s it'\n    fi\n",
        wait.cancel[1]
    ));
    s.raw("    true 2>/dev/null >\"$cssh_wmark\"\n");
    if let Some(explain) = wait.explain {
        s.raw(&format!("    [ $((cssh_waited % 5)) != 2 ] || {explain}\n"));
    }
    s.raw("    [ -z \"$cssh_link\" ] || { cssh_stat \"${cssh_link%% *}\" && [ \"$cssh_start\" = \"${cssh_link#* }\" ]; } || cssh_stop 255\n");
    let host = crate::quote::sh(target.host.as_bytes());
    let host = String::from_utf8_lossy(&host);
    if wait.progress {
        s.raw(&format!(
            "    printf '\\rcssh: %s: job %s %s, %s s; Ctrl-C %s\\033[K' {host} \"$cssh_job\" \"{}\" \"$cssh_waited\" \"$cssh_ending\" >&2 || cssh_stop 255\n",
            wait.shown
        ));
    } else {
        s.raw(&format!(
            "    cssh_now=\"{}\"\n    if [ \"$cssh_waited\" -ge 5 ] && [ \"$cssh_now\" != \"$cssh_said\" ]; then\n",
            wait.shown
        ));
        s.raw(&format!(
            "      cssh_said=$cssh_now; printf 'cssh: %s: job %s %s after %s s; ending the connection %s\\n' {host} \"$cssh_job\" \"$cssh_said\" \"$cssh_waited\" \"$cssh_ending\" >&2 || cssh_stop 255\n    fi\n"
        ));
    }
    s.raw("    sleep 1; cssh_waited=$((cssh_waited + 1)) ;;\n  *) rm -f \"$cssh_wmark\";");
    if wait.progress {
        s.raw(" [ \"$cssh_waited\" = 0 ] || printf '\\r\\033[K' >&2;");
    }
    gone(s);
    s.raw("  esac\ndone\ntrap - INT HUP TERM PIPE\n[ \"$cssh_waited\" = 0 ] || rm -rf \"$cssh_wdir\"\n");
    if wait.progress {
        s.raw("[ \"$cssh_waited\" = 0 ] || printf '\\r\\033[K' >&2\n");
    } else {
        s.raw(&format!(
            "[ -z \"$cssh_said\" ] || printf 'cssh: %s: job %s started after %s s\\n' {host} \"$cssh_job\" \"$cssh_waited\" >&2\n"
        ));
    }
}
