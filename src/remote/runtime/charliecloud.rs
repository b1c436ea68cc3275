//! Charliecloud's steps: `ch-run OPTIONS -b B --home -c DIR IMAGE -- COMMAND` starts a new
//! container of a directory or SquashFS image. ch-run passes the host's environment (but for
//! HOME), shares the host's /tmp and network, and runs as the user; by itself it would start in
//! `/` with HOME=/root, so cssh asks for the home directory (`--home`: the host's `$HOME` at
//! `/home/$USER`, HOME set to it) and the session's working directory there. Its flag parser
//! (argp) answers `ch-run OPTIONS --help` without starting a container. Its own failures (after
//! cssh's checks of the runtime, image, binds and options) exit 1 with its `ch-run[PID]: error`
//! line, as ch-run's do.

use crate::remote::runtime::{OptionCheck, Programs};
use crate::remote::script::Script;
use crate::remote::target::Target;
use crate::settings::Settings;

/// `charliecloud`: ch-run.
pub(super) const PROGRAMS: Programs = Programs {
    names: &["ch-run"],
    missing: "ch-run (Charliecloud) not on PATH",
};

/// No subcommand; argp's errors name the program (`ch-run: unrecognized option ...`).
pub(super) const OPTION_CHECK: OptionCheck = OptionCheck {
    subcommand: "",
    errors: &["ch-run"],
};

/// `cssh_cd`, the session's working directory inside: under the home directory, where it is
/// inside `/home/$USER`; elsewhere none (ch-run starts in `/`).
pub(super) fn before_new_container(s: &mut Script) {
    s.raw("cssh_cd=; case $PWD in \"$HOME\"|\"$HOME\"/*) cssh_cd=/home/${USER:-$LOGNAME}${PWD#\"$HOME\"} ;; esac\n");
}

/// `"$cssh_rt"`, options, each bind (`-b SRC[:DST]`, a comma-separated list as several), the
/// home directory and the working directory, the image and `--`.
pub(super) fn new_container(s: &mut Script, target: &Target) {
    let settings = target.settings;
    s.raw(" \"$cssh_rt\"");
    for option in settings.options.iter().flatten() {
        s.word(option.as_bytes());
    }
    for bind in settings.binds.iter().flatten().flat_map(|b| b.split(',')) {
        s.raw(" -b");
        s.word(bind.as_bytes());
    }
    s.raw(" --home ${cssh_cd:+-c} ${cssh_cd:+\"$cssh_cd\"}");
    s.word(target.image.as_bytes());
    s.raw(" --");
}

/// `--unset-env` drops what its pattern matches (`'*'`: everything).
pub(super) fn drops_environment(settings: &Settings) -> bool {
    settings
        .options
        .iter()
        .flatten()
        .any(|option| option.starts_with("--unset-env"))
}
