//! The runtime's steps: the configured prelude, finding apptainer or singularity on the
//! remote's PATH, the image check, and the runtime's arguments that start a container of the
//! image (options, binds, the image), as the user wrote them.

use super::script::{Part, Script};
use super::target::Target;
use crate::settings::{Runtime, Settings};

/// Exit status when the configured prelude fails or exits: cssh's own error, as ssh's exit 255.
pub const PRELUDE_FAILED: u8 = 255;

/// The configured prelude, with stdin closed (the user's stdin is the command's) and its
/// output sent to stderr (stdout is the command's too). It runs in the script's own shell, so
/// that what it sets (PATH, `module load`) stays; a prelude that fails, or calls `exit`, ends
/// the session in one line that names it.
pub(super) fn prelude(s: &mut Script, target: &Target) {
    let Some(prelude) = &target.settings.prelude else {
        return;
    };
    let at = format!(
        "the prelude ({}:{})",
        target.config_file, target.settings.lines.prelude
    );
    let exited = target.say(&format!("{at} called exit, status "));
    let mut on_exit = Script::default();
    on_exit.raw("cssh_s=$?; printf '%s%s\\n'");
    on_exit.word(exited.as_bytes());
    on_exit.raw(&format!(" \"$cssh_s\" >&2; exit {PRELUDE_FAILED}"));
    s.raw("trap");
    s.word(&on_exit.text);
    s.raw(" EXIT\n");
    s.line(format!("{{ {prelude}\n}} </dev/null >&2").as_bytes());
    s.raw("cssh_s=$?; trap - EXIT; [ \"$cssh_s\" = 0 ] ||");
    s.fail_with(
        &[
            Part::Text(&target.say(&format!("{at} failed with status "))),
            Part::Value("$cssh_s"),
        ],
        PRELUDE_FAILED,
    );
}

/// `$cssh_rt`: the first runtime candidate on PATH, or one line and exit 127.
pub(super) fn runtime_lookup(s: &mut Script, target: &Target) {
    let (candidates, missing) = match target.settings.runtime.clone().unwrap_or(Runtime::Auto) {
        Runtime::Auto => (
            vec!["apptainer".to_string(), "singularity".to_string()],
            "neither apptainer nor singularity on PATH".to_string(),
        ),
        // A path is looked at itself, not searched for.
        Runtime::Program(program) if program.contains('/') => (
            vec![program.clone()],
            format!("{program} not found or not executable"),
        ),
        Runtime::Program(program) => (vec![program.clone()], format!("{program} not on PATH")),
    };
    s.raw("cssh_rt=\nfor cssh_c in");
    for candidate in &candidates {
        s.word(candidate.as_bytes());
    }
    s.raw("; do\n  if command -v \"$cssh_c\" >/dev/null 2>&1; then cssh_rt=$cssh_c; break; fi\ndone\n");
    s.raw("[ -n \"$cssh_rt\" ] ||");
    s.fail(&target.say(&format!(
        "{missing} (set prelude or runtime in {})",
        target.config_file
    )));
}

/// An image given as a path must exist; URIs (docker://, oras://, library://...) are the
/// runtime's to resolve.
pub(super) fn image_check(s: &mut Script, target: &Target) {
    if target.image.contains("://") {
        return;
    }
    s.raw("[ -e");
    s.word(target.image.as_bytes());
    s.raw(" ] ||");
    s.fail(&target.say(&format!("image {} not found on the remote", target.image)));
}

/// The source of each bind (`SRC[:DEST[:OPTS]]`, several separated by commas).
pub(super) fn bind_sources(target: &Target) -> Vec<String> {
    target
        .settings
        .binds
        .iter()
        .flatten()
        .flat_map(|bind| bind.split(','))
        .filter_map(|bind| bind.split(':').next())
        .filter(|source| !source.is_empty())
        .map(str::to_string)
        .collect()
}

/// Every bind's source must exist where the runtime starts the container: else one line naming
/// it and where the binds are configured, and exit status 127, instead of the runtime's FATAL
/// and its exit 255 (which reads as a lost connection).
pub(super) fn bind_check(s: &mut Script, target: &Target) {
    for source in bind_sources(target) {
        s.raw("[ -e");
        s.word(source.as_bytes());
        s.raw(" ] ||");
        s.fail(&target.say(&format!(
            "bind source {source} is not on the remote (binds in {}:{})",
            target.config_file, target.settings.lines.binds
        )));
    }
}

/// The runtime's arguments that start a container of the image: options, binds, the image.
pub(super) fn image_arguments(s: &mut Script, target: &Target) {
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

/// Whether the configured runtime options include one of `flags`.
pub(super) fn has_option(settings: &Settings, flags: &[&str]) -> bool {
    settings
        .options
        .iter()
        .flatten()
        .any(|option| flags.contains(&option.as_str()))
}

/// Whether the runtime options keep the host's environment out of the container.
pub fn drops_environment(settings: &Settings) -> bool {
    has_option(settings, &["--cleanenv", "-e", "--containall", "-C"])
}
