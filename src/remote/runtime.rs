//! The runtime's steps: the configured prelude, finding the runtime on the remote's PATH, the
//! image and bind checks, the check of the configured options by the runtime's own flag
//! parser, and the words that start a new container of the image with the command after them.
//!
//! This is the seam between runtimes: what differs between them (the words that start a
//! container, how options are checked, which options keep the host's environment or files out)
//! is one module per kind, `apptainer` (Apptainer and Singularity) and `charliecloud`
//! (`ch-run`), each writing the same steps; a new runtime is one more module and one more arm
//! in each dispatch here. The instance and the join into it are Apptainer's alone (`launch`,
//! `join`); a host of another runtime that sets `instance` is refused before anything runs.

mod apptainer;
mod charliecloud;

use super::script::{Part, Script, fingerprint};
use super::target::Target;
use crate::settings::{Runtime, RuntimeKind, Settings};
pub(super) use apptainer::image_arguments;

/// Exit status when the configured prelude fails or exits, or the runtime refuses the configured
/// options: bad configuration, cssh's own error, as ssh's exit 255.
pub const REFUSED_SETTING: u8 = 255;

/// The configured prelude, with stdin closed (the user's stdin is the command's) and its
/// output sent to stderr (stdout is the command's too). It runs in the script's own shell, so
/// that what it sets (PATH, `module load`) stays; a prelude that fails, or calls `exit`, ends
/// the session in one line that names it.
pub(super) fn prelude(s: &mut Script, target: &Target) {
    super::values::load(s, target);
    let Some(prelude) = &target.settings.prelude else {
        return;
    };
    let at = format!(
        "the prelude ({}:{})",
        target.config_file, target.settings.lines.prelude
    );
    let exited = target.say(&format!("{at} called exit, status "));
    let mut on_exit = Script::default();
    on_exit.raw("cssh_s=$?; ");
    if let Some(always) = s.on_exit {
        on_exit.raw(always);
        on_exit.raw("; ");
    }
    on_exit.raw("printf '%s%s\\n'");
    on_exit.word(exited.as_bytes());
    on_exit.raw(&format!(" \"$cssh_s\" >&2; exit {REFUSED_SETTING}"));
    s.raw("trap");
    s.word(&on_exit.text);
    s.raw(" EXIT\n");
    if uses_modules(prelude) {
        module_setup(s);
    }
    // Its text is the values file's (`cssh_prelude`), never the script's own.
    s.raw("{ eval \"$cssh_prelude\"\n} </dev/null >&2\n");
    s.raw("cssh_s=$?; ");
    s.restore_exit_trap();
    s.raw("; [ \"$cssh_s\" = 0 ] ||");
    s.fail_with(
        &[
            Part::Text(&target.say(&format!("{at} failed with status "))),
            Part::Value("$cssh_s"),
        ],
        REFUSED_SETTING,
    );
}

/// Whether the prelude runs a module system's command (`module load ...`, Lmod's `ml`).
fn uses_modules(prelude: &str) -> bool {
    prelude
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .any(|word| word == "module" || word == "ml")
}

/// `module` where the script's sh lacks it. Sites define it in the login and interactive
/// shells' startup files (/etc/profile.d, /etc/bashrc), which the remote's `sh -c` never reads
/// (where /bin/sh is bash, an exported bash function may come along). As a login shell would, in
/// this order: the init for sh of the module system the login shell set up (`MODULESHOME`, or
/// Lmod's `LMOD_PKG`: its MODULEPATH came along too); else the site's module scripts in
/// /etc/profile.d (Lmod's lmod.sh or z00_lmod.sh, Environment Modules' modules.sh, a site's
/// own *module*.sh), which set MODULEPATH as the site has it. Quietly: their output is not the
/// session's. It costs one `command -v` where `module` is defined, nothing where the prelude
/// does not use it.
fn module_setup(s: &mut Script) {
    s.raw("command -v module >/dev/null 2>&1 || for cssh_m in \"${MODULESHOME:-/nonexistent}/init/sh\" \"${LMOD_PKG:-/nonexistent}/init/sh\" /etc/profile.d/*lmod*.sh /etc/profile.d/*module*.sh; do\n");
    s.raw("  [ -f \"$cssh_m\" ] && . \"$cssh_m\"\n  command -v module >/dev/null 2>&1 && break\ndone </dev/null >/dev/null 2>&1\n");
}

/// `$cssh_rt`: the first runtime candidate on PATH, or one line and exit 127.
pub(super) fn runtime_lookup(s: &mut Script, target: &Target) {
    let (candidates, missing) = match target.settings.runtime.clone().unwrap_or(Runtime::Auto) {
        Runtime::Auto => apptainer::PROGRAMS.owned(),
        Runtime::Charliecloud => charliecloud::PROGRAMS.owned(),
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

/// The programs a kind of runtime is looked for as, in order, on PATH, and what the line says
/// when none is there.
pub(super) struct Programs {
    pub(super) names: &'static [&'static str],
    pub(super) missing: &'static str,
}

impl Programs {
    fn owned(&self) -> (Vec<String>, String) {
        let names = self.names.iter().map(ToString::to_string).collect();
        (names, self.missing.to_string())
    }
}

/// How a kind of runtime's flag parser is asked about options: the words between the program
/// and the options (`exec`; none for ch-run), and what its error lines start with or hold.
pub(super) struct OptionCheck {
    pub(super) subcommand: &'static str,
    pub(super) errors: &'static [&'static str],
}

/// Options the runtime does not know: its own error line (`Error for command "exec": unknown
/// flag: --bogus`, `ch-run: unrecognized option '--bogus'`) and one line naming where the
/// options are configured, exit 255, instead of its usage and its exit status, which reads as
/// the command's. The runtime's flag parser alone answers: `RUNTIME SUBCOMMAND OPTIONS --help`
/// starts no container (about 20 ms). `instance` asks of an instance's start instead of a new
/// container's. It runs once per option set: a mark in the remote's ~/.cache/cssh, newer than
/// the runtime's program, says they passed (a runtime upgraded since is asked again).
pub(super) fn option_check(s: &mut Script, target: &Target, instance: bool) {
    let options = target.settings.options.as_deref().unwrap_or_default();
    if options.is_empty() {
        return;
    }
    let check = match target.settings.runtime_kind() {
        RuntimeKind::Apptainer => apptainer::option_check(instance),
        RuntimeKind::Charliecloud => charliecloud::OPTION_CHECK,
    };
    let subcommand = check.subcommand;
    let mark = fingerprint(std::iter::once(subcommand).chain(options.iter().map(String::as_str)));
    s.raw(&format!(
        "cssh_mark=\"${{XDG_CACHE_HOME:-$HOME/.cache}}/cssh/options-{mark}\"\n"
    ));
    s.raw("[ \"$cssh_mark\" -nt \"$(command -v \"$cssh_rt\")\" ] || if cssh_out=$(\"$cssh_rt\"");
    if !subcommand.is_empty() {
        s.raw(" ");
        s.raw(subcommand);
    }
    for option in options {
        s.word(option.as_bytes());
    }
    s.raw(" --help </dev/null 2>&1 >/dev/null); then\n");
    s.raw("  (umask 077; mkdir -p \"${cssh_mark%/*}\" && : >\"$cssh_mark\") 2>/dev/null\nelse\n");
    s.raw("  printf '%s\\n' \"$cssh_out\" | grep -m 1");
    for error in check.errors {
        s.raw(" -e");
        s.word(error.as_bytes());
    }
    s.raw(" >&2\n ");
    s.fail_with(
        &[Part::Text(&target.say(&format!(
            "the runtime refuses the options in {}:{}",
            target.config_file, target.settings.lines.options
        )))],
        REFUSED_SETTING,
    );
    s.raw("fi\n");
}

/// Lines a new container's words need first (where they must be worked out before `exec`).
pub(super) fn before_new_container(s: &mut Script, target: &Target) {
    match target.settings.runtime_kind() {
        RuntimeKind::Apptainer => apptainer::before_new_container(s, target),
        RuntimeKind::Charliecloud => charliecloud::before_new_container(s),
    }
}

/// The words, after `exec` (and a step's srun), that start a new container of the image, up to
/// where the command inside goes: the runtime, its options, binds and the image.
pub(super) fn new_container(s: &mut Script, target: &Target) {
    match target.settings.runtime_kind() {
        RuntimeKind::Apptainer => apptainer::new_container(s, target),
        RuntimeKind::Charliecloud => charliecloud::new_container(s, target),
    }
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
    match settings.runtime_kind() {
        RuntimeKind::Apptainer => apptainer::drops_environment(settings),
        RuntimeKind::Charliecloud => charliecloud::drops_environment(settings),
    }
}

/// Whether the runtime options keep the host's /tmp and home out of a new container, so that
/// the session's agent socket and X11 cookie must be bound in.
pub(super) fn keeps_session_files_out(settings: &Settings) -> bool {
    match settings.runtime_kind() {
        RuntimeKind::Apptainer => apptainer::keeps_session_files_out(settings),
        // ch-run shares the host's /tmp unless told not to, and cssh binds the home in.
        RuntimeKind::Charliecloud => false,
    }
}
