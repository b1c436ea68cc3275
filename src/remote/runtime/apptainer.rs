//! Apptainer's (and Singularity's) steps: `apptainer exec OPTIONS --bind B IMAGE` starts a new
//! container, with the session's agent socket and X11 cookie bound in where the options keep
//! the host's /tmp and home out (`--contain`, `--containall`); its flag parser answers for
//! `exec` or `instance start`; `--cleanenv` and `--containall` drop the host's environment.
//! Apptainer binds the home directory and starts in the working directory itself, and passes
//! the environment unless told not to.

use crate::remote::runtime::{OptionCheck, Programs, has_option};
use crate::remote::script::Script;
use crate::remote::session::{SessionBinds, XAUTHORITY_INSIDE};
use crate::remote::target::Target;
use crate::settings::Settings;

/// `auto`: apptainer, else singularity (older sites, and Singularity itself).
pub(super) const PROGRAMS: Programs = Programs {
    names: &["apptainer", "singularity"],
    missing: "neither apptainer nor singularity on PATH",
};

/// The runtime's arguments that start a container of the image: options, binds, the image.
pub(in crate::remote) fn image_arguments(s: &mut Script, target: &Target) {
    let settings = target.settings;
    for option in settings.options.iter().flatten() {
        s.word(option.as_bytes());
    }
    for bind in settings.binds.iter().flatten() {
        s.raw(" --bind");
        s.word(bind.as_bytes());
    }
    s.word(target.image.as_bytes());
}

/// `exec`, or `instance start` for an instance; errors are Apptainer's `FATAL`/`ERROR` lines
/// and its flag parser's `Error ...`.
pub(super) fn option_check(instance: bool) -> OptionCheck {
    OptionCheck {
        subcommand: if instance { "instance start" } else { "exec" },
        errors: &["Error", "FATAL", "ERROR"],
    }
}

/// Where the agent's socket and the X11 cookie are, if the session has them and they must be
/// bound in (`cssh_agent`, `cssh_xauth`).
pub(super) fn before_new_container(s: &mut Script, target: &Target) {
    let binds = SessionBinds::of(target);
    if binds.agent {
        s.raw("cssh_agent=; [ -S \"${SSH_AUTH_SOCK-}\" ] && cssh_agent=$SSH_AUTH_SOCK\n");
    }
    if binds.xauthority {
        s.raw("cssh_xauth=; [ -n \"${DISPLAY-}\" ] && [ -f \"${XAUTHORITY:-$HOME/.Xauthority}\" ] && cssh_xauth=${XAUTHORITY:-$HOME/.Xauthority}\n");
    }
}

/// `"$cssh_rt" exec`, the session's files, then options, binds and the image.
pub(super) fn new_container(s: &mut Script, target: &Target) {
    let binds = SessionBinds::of(target);
    s.raw(" \"$cssh_rt\" exec");
    if binds.agent {
        // --contain and --containall keep the host's /tmp out: the agent's socket comes in,
        // nothing else of /tmp (not its directory, which may be /tmp itself).
        s.raw(" ${cssh_agent:+--bind} ${cssh_agent:+\"$cssh_agent\"}");
    }
    if binds.xauthority {
        // ... and the home directory: the X11 cookie file comes in, read-only.
        s.raw(&format!(
            " ${{cssh_xauth:+--bind}} ${{cssh_xauth:+\"$cssh_xauth:{XAUTHORITY_INSIDE}:ro\"}}"
        ));
    }
    image_arguments(s, target);
}

pub(super) fn drops_environment(settings: &Settings) -> bool {
    has_option(settings, &["--cleanenv", "-e", "--containall", "-C"])
}

pub(super) fn keeps_session_files_out(settings: &Settings) -> bool {
    has_option(settings, &["--contain", "-c", "--containall", "-C"])
}
