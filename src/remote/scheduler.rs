//! The batch schedulers a host's sessions may run under, one module each, all of one shape:
//! find this user's job for the host or submit one, wait while it waits for resources (one
//! updating line), reach it, release it, and what the doctor reads of it without submitting.
//! `slurm` runs sessions as steps of an allocation; `htcondor` enters the job's container on
//! its execute point through `condor_ssh_to_job`. A third (PBS, LSF, Flux) is one more module
//! that writes the same steps.

pub mod htcondor;
pub mod slurm;

use super::script::Script;
use super::target::Target;

/// Exit status when the job cannot be had: the scheduler refuses it, or it ends while a session
/// waits for it. cssh's own errors exit 255, as ssh's do.
pub const ALLOCATION_FAILED: u8 = 255;

/// How a scheduler's job `$cssh_job` is waited for.
pub(in crate::remote) struct Wait<'a> {
    /// Sets `cssh_state` to the job's state, as the scheduler's tools print it.
    pub(in crate::remote) query: &'a str,
    /// A `case` pattern: the job runs.
    pub(in crate::remote) running: &'a str,
    /// A `case` pattern: the job waits for resources.
    pub(in crate::remote) waiting: &'a str,
    /// What the updating line shows of a waiting job's state (a shell expression).
    pub(in crate::remote) shown: &'a str,
    /// The user's stderr is a terminal.
    pub(in crate::remote) progress: bool,
}

/// Waits while job `$cssh_job` waits; any state but running or waiting runs `gone`, which
/// ends the script in one line.
pub(in crate::remote) fn wait(
    s: &mut Script,
    target: &Target,
    wait: &Wait,
    gone: impl FnOnce(&mut Script),
) {
    s.raw("cssh_waited=0\nwhile :; do\n  ");
    s.raw(wait.query);
    s.raw(&format!(
        "\n  case $cssh_state in\n  {}) break ;;\n  {})\n",
        wait.running, wait.waiting
    ));
    if wait.progress {
        s.raw("    printf '\\rcssh: %s: job %s %s, %s s\\033[K' ");
        s.quoted(target.host.as_bytes());
        s.raw(&format!(
            " \"$cssh_job\" \"{}\" \"$cssh_waited\" >&2\n",
            wait.shown
        ));
    }
    s.raw("    sleep 1; cssh_waited=$((cssh_waited + 1)) ;;\n  *)");
    if wait.progress {
        s.raw(" [ \"$cssh_waited\" = 0 ] || printf '\\r\\033[K' >&2;");
    }
    gone(s);
    s.raw("  esac\ndone\n");
    if wait.progress {
        s.raw("[ \"$cssh_waited\" = 0 ] || printf '\\r\\033[K' >&2\n");
    }
}
