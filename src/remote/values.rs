//! The host's configured values, the prelude and `env`, which often hold secrets (tokens): they
//! never appear on a command line on the remote, where any user of the machine reads them in
//! `ps`. cssh sends them once, on the stdin of an ssh call of their own to the login node
//! (`plan::values` decides when), into a file of the user's cache there (0600 in a 0700
//! directory, named at random: the name tells nothing of the values). Every session's script
//! names only the file: it reads it where it is the user's and writable by no one else, runs the
//! prelude from it, and carries `env`'s values to the container in one exported variable,
//! `CSSH_VALUES` (Apptainer's `APPTAINERENV_`/`SINGULARITYENV_` forms too, which survive
//! `--cleanenv`), evaluated only by the image's sh. Slurm's nodes read the login node's file (a
//! shared home), and steps carry the variable as srun carries the environment. An HTCondor
//! execute point shares no home: the access point copies the file into the job's scratch
//! directory once per job, on condor_ssh_to_job's stdin, and keeps a mark that it did.

use super::script::{Part, Script, private_file};
use super::target::{Job, Place, Stored, Target};
use crate::quote::{base64, sh};
use crate::settings::RuntimeKind;

/// Exit status when the values are not on the remote: the session cannot start as configured.
const MISSING: u8 = super::runtime::REFUSED_SETTING;

/// The variable that carries `env`'s values into the container, as `export` lines for its sh.
pub(super) const VARIABLE: &str = "CSSH_VALUES";

/// The file's text: `cssh_prelude`, `CSSH_VALUES` and its form for Apptainer's environment
/// script (`cssh_values_dq`) as sh assignments, or `None` where the host sets neither the
/// prelude nor `env`.
pub fn content(settings: &crate::settings::Settings) -> Option<Vec<u8>> {
    let env = settings.env.as_deref().unwrap_or_default();
    if settings.prelude.is_none() && env.is_empty() {
        return None;
    }
    let mut text = Vec::new();
    if let Some(prelude) = &settings.prelude {
        text.extend_from_slice(b"cssh_prelude=");
        text.extend_from_slice(&sh(prelude.as_bytes()));
        text.push(b'\n');
    }
    if !env.is_empty() {
        let mut exports = Vec::new();
        for (name, value) in env {
            exports.extend_from_slice(b"export ");
            exports.extend_from_slice(&sh(format!("{name}={value}").as_bytes()));
            exports.push(b'\n');
        }
        text.extend_from_slice(format!("{VARIABLE}=").as_bytes());
        text.extend_from_slice(&sh(&exports));
        text.extend_from_slice(b"\ncssh_values_dq=");
        text.extend_from_slice(&sh(&double_quoted(&exports)));
        text.push(b'\n');
    }
    Some(text)
}

/// `text` for Apptainer's environment script: Apptainer (and Singularity) write an
/// `APPTAINERENV_` value there between double quotes, with each `"` escaped, and the script's
/// sourcing evaluates the rest: `$(...)`, backquotes, variables and backslashes.
fn double_quoted(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for &b in text {
        if b"\\$`".contains(&b) {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

/// Where the file is in the user's cache on the login node and the nodes that share its home.
fn cached(name: &str) -> String {
    format!("\"${{XDG_CACHE_HOME:-$HOME/.cache}}/cssh/values-{name}\"")
}

/// Where the file is in an HTCondor job's scratch directory (the sandbox condor_ssh_to_job and
/// the job's sshd start in).
fn in_sandbox(name: &str) -> String {
    format!("\"${{_CONDOR_SCRATCH_DIR:-$PWD}}/.cssh-values-{name}\"")
}

/// The script of the ssh call that stores the file, its text on stdin: written whole (a
/// private temporary file, then a rename), with umask 077.
pub fn store_script(name: &str) -> Vec<u8> {
    let file = cached(name);
    format!(
        "umask 077; cssh_vf={file}; mkdir -p \"${{cssh_vf%/*}}\" && cat >\"$cssh_vf.$$\" && mv -f \"$cssh_vf.$$\" \"$cssh_vf\" || {{ rm -f \"$cssh_vf.$$\"; exit 1; }}\n"
    )
    .into_bytes()
}

/// Reads the values where the script runs (the login node, or a node sharing its home), before
/// the prelude: `cssh_prelude`, and `CSSH_VALUES` exported in all its forms; or one line and exit
/// 255 where the file is missing or someone else could have written it.
pub(super) fn load(s: &mut Script, target: &Target) {
    let Some(stored) = target.values else {
        return;
    };
    read(s, target, &cached(stored.name), stored, "on the remote");
}

/// On an HTCondor execute point: the values the access point put in the job's sandbox.
pub(super) fn load_in_sandbox(s: &mut Script, target: &Target) {
    let Some(stored) = target.values.filter(|_| carries_env(target)) else {
        return;
    };
    read(
        s,
        target,
        &in_sandbox(stored.name),
        stored,
        "in the job's scratch directory",
    );
}

fn read(s: &mut Script, target: &Target, file: &str, stored: Stored, place: &str) {
    private_file(s);
    s.raw(&format!("cssh_vf={file}\n"));
    s.raw("cssh_private \"$cssh_vf\" && . \"$cssh_vf\" ||");
    s.fail_with(
        &[
            Part::Text(&target.say(&format!(
                "the values of prelude and env ({}) are not {place}, or others could have written them: ",
                target.config_file
            ))),
            Part::Value("$cssh_vf"),
            Part::Text(&format!(
                " (they go once; to send them again, remove this machine's record sent/{} in cssh's cache directory)",
                stored.record
            )),
        ],
        MISSING,
    );
    if !carries_env(target) {
        return;
    }
    match target.settings.runtime_kind() {
        RuntimeKind::Apptainer => s.raw(&format!(
            "APPTAINERENV_{VARIABLE}=$cssh_values_dq; SINGULARITYENV_{VARIABLE}=$cssh_values_dq; export {VARIABLE} APPTAINERENV_{VARIABLE} SINGULARITYENV_{VARIABLE}\n"
        )),
        // ch-run passes the environment: the variable alone.
        RuntimeKind::Charliecloud => s.raw(&format!("export {VARIABLE}\n")),
    }
}

/// On an HTCondor access point, job `$cssh_job` found: puts the values into the job's scratch
/// directory (written whole: a private temporary file, then a rename) where this access point
/// has not yet (a mark per job beside the file, named by the job's `$cssh_key`), on
/// condor_ssh_to_job's stdin; or one line and exit 255.
pub(super) fn to_sandbox(s: &mut Script, target: &Target) {
    if !carries_env(target) {
        return;
    }
    let Some(Stored { name, .. }) = target.values else {
        return;
    };
    // condor_ssh_to_job's command goes through an unquoted eval: only base64 crosses.
    let store = format!(
        "umask 077; f={}; cat >\"$f.$$\" && mv -f \"$f.$$\" \"$f\" || {{ rm -f \"$f.$$\"; exit 1; }}",
        in_sandbox(name)
    );
    s.raw("cssh_vs=\"$cssh_vf.job-$cssh_key\"\n");
    s.raw(&format!(
        "[ -f \"$cssh_vs\" ] || {{ condor_ssh_to_job \"$cssh_job\" \"sh -c \\\"\\$(echo {}|base64 -d)\\\" sh\" <\"$cssh_vf\" >/dev/null && (umask 077; : >\"$cssh_vs\"); }} ||",
        String::from_utf8_lossy(&base64(store.as_bytes()))
    ));
    s.fail_with(
        &[
            Part::Text(&target.say(&format!(
                "could not put the values of env ({}) into job ",
                target.config_file
            ))),
            Part::Value("$cssh_job"),
            Part::Text(" through condor_ssh_to_job"),
        ],
        MISSING,
    );
}

/// Whether the host sets `env`, whose values go into the container: not into a job attached
/// to, whose container's environment is what it is.
pub(super) fn carries_env(target: &Target) -> bool {
    let attached = matches!(
        target.place,
        Place::Job(Job::Attached(..) | Job::AttachedEither(_), _)
    );
    !attached
        && target
            .settings
            .env
            .as_ref()
            .is_some_and(|env| !env.is_empty())
}

/// What the image's sh runs first where the host sets `env`: its values over everything else,
/// and the variable gone.
pub(super) const INSIDE: &[u8] =
    b"if [ -n \"${CSSH_VALUES+x}\" ]; then eval \"$CSSH_VALUES\"; unset CSSH_VALUES; fi; ";
