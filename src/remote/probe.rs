//! The doctor's probe: one script for one ssh session, made of the session's own steps, that
//! writes what it finds instead of stopping at the first missing piece.
//!
//! Each finding is a fact, a line `cssh-doctor<TAB>KEY<TAB>VALUE` on stdout; `doctor` judges
//! them. The first line marks where the script starts: whatever the login shell's startup files
//! wrote to stdout comes before it. Each stage runs in a subshell with the session's steps
//! (prelude, runtime lookup, image check) and, where one fails, the fact is the line a session
//! would have printed. The last stage is a whole session script, exactly as `cssh host CMD` runs
//! it, whose command is the probe of the image's contents. It runs on the host ssh reaches:
//! the doctor never submits a Slurm job, it reports the allocation's state.

use super::slurm::{self, Allocation};
use super::{
    Payload, Place, SFTP_SERVER_PATHS, Script, Target, attach, image_check, instance_running, join,
    prelude, runtime_lookup, script,
};
use crate::quote::sh;
use crate::settings::Attach;

/// The first word of every fact line.
pub const MARK: &str = "cssh-doctor";

/// What the probe reports, by the key it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fact {
    /// The script started (value empty).
    Begin,
    /// `$SHELL` of the ssh session: the login shell.
    LoginShell,
    /// The session's line where the runtime lookup failed.
    RuntimeError,
    RuntimePath,
    /// The runtime's `--version`, first line.
    RuntimeVersion,
    /// `running` or `stopped`.
    Instance,
    /// After the session: how commands enter the instance, `namespaces` or `runtime (WHY)`.
    InstanceJoin,
    /// The session's line where the image check failed.
    ImageError,
    /// A bind source that does not exist on the remote (one fact each).
    BindMissing,
    SbatchPath,
    SrunPath,
    /// The partitions sinfo lists, separated by spaces.
    Partitions,
    /// The allocation's job: `ID STATE NODES REASON`, or empty.
    Job,
    /// The last stderr line of the Slurm stage, where it failed.
    SlurmError,
    /// The session's last stderr line when it did not run the inside probe.
    StartError,
    /// Milliseconds from the session's start to its end.
    StartMs,
    /// Inside the image: the shell a session runs (`$SHELL` as the session set it).
    Shell,
    /// `yes` when that shell is executable in the image.
    ShellRuns,
    /// The image's sftp-server, or empty.
    SftpServer,
    Scp,
    Rsync,
    Git,
    Bash,
    Tar,
    /// `getconf GNU_LIBC_VERSION` in the image, e.g. `glibc 2.36`.
    Glibc,
    /// The inside probe finished (value empty).
    End,
    /// The job an attached host enters and its node: `ID NODE`.
    AttachJob,
    /// What a step of that job found on its node: `IMAGE<TAB>ENTER` (`yes`, `yes (instance
    /// NAME)` or `no (WHY)`).
    AttachContainer,
    /// The session's line where the job could not be had.
    AttachError,
}

const KEYS: &[(Fact, &str)] = &[
    (Fact::Begin, "begin"),
    (Fact::LoginShell, "login_shell"),
    (Fact::RuntimeError, "runtime_error"),
    (Fact::RuntimePath, "runtime_path"),
    (Fact::RuntimeVersion, "runtime_version"),
    (Fact::Instance, "instance"),
    (Fact::InstanceJoin, "instance_join"),
    (Fact::ImageError, "image_error"),
    (Fact::BindMissing, "bind_missing"),
    (Fact::SbatchPath, "sbatch"),
    (Fact::SrunPath, "srun"),
    (Fact::Partitions, "partitions"),
    (Fact::Job, "job"),
    (Fact::SlurmError, "slurm_error"),
    (Fact::StartError, "start_error"),
    (Fact::StartMs, "start_ms"),
    (Fact::Shell, "shell"),
    (Fact::ShellRuns, "shell_runs"),
    (Fact::SftpServer, "sftp_server"),
    (Fact::Scp, "scp"),
    (Fact::Rsync, "rsync"),
    (Fact::Git, "git"),
    (Fact::Bash, "bash"),
    (Fact::Tar, "tar"),
    (Fact::Glibc, "glibc"),
    (Fact::End, "end"),
    (Fact::AttachJob, "attach_job"),
    (Fact::AttachContainer, "attach_container"),
    (Fact::AttachError, "attach_error"),
];

impl Fact {
    pub fn key(self) -> &'static str {
        KEYS.iter()
            .find(|(fact, _)| *fact == self)
            .map_or("", |(_, key)| key)
    }

    /// A fact line's key and value, where the line is one.
    pub fn parse(line: &str) -> Option<(Fact, &str)> {
        let mut fields = line.strip_prefix(MARK)?.strip_prefix('\t')?.splitn(2, '\t');
        let key = fields.next()?;
        let fact = KEYS.iter().find(|(_, k)| *k == key)?.0;
        Some((fact, fields.next().unwrap_or_default()))
    }
}

/// The probe for a host with an image; `allocation` where the host has Slurm set.
pub fn probe_script(target: &Target, allocation: Option<&Allocation>) -> Vec<u8> {
    let mut s = opening();
    // A stage's own lines go to stdout (fd 3); its stderr's last line is the finding.
    s.raw("cssh_last() { printf '%s\\n' \"$1\" | sed '/^[[:space:]]*$/d' | tail -n 1; }\n");
    // The time in centiseconds, read without starting a process (the probe should cost about
    // what a session costs).
    s.raw("cssh_cs() { read -r cssh_t _ </proc/uptime; cssh_t=${cssh_t%.*}${cssh_t#*.}; }\n");

    let mut runtime = Script::default();
    prelude(&mut runtime, target);
    runtime_lookup(&mut runtime, target);
    runtime.raw(&format!(
        "cssh_fact {} \"$(command -v \"$cssh_rt\")\"\ncssh_fact {} \"$(\"$cssh_rt\" --version 2>&1 | head -n 1)\"\n",
        Fact::RuntimePath.key(),
        Fact::RuntimeVersion.key()
    ));
    if let Some(instance) = &target.settings.instance {
        instance_running(&mut runtime, instance);
        runtime.raw(&format!(
            "if cssh_running; then cssh_fact {0} running; else cssh_fact {0} stopped; fi\n",
            Fact::Instance.key()
        ));
    }
    stage(&mut s, &runtime, Fact::RuntimeError);

    let mut image = Script::default();
    image_check(&mut image, target);
    stage(&mut s, &image, Fact::ImageError);

    for source in bind_sources(target) {
        s.raw("[ -e");
        s.word(source.as_bytes());
        s.raw(&format!(" ] || cssh_fact {}", Fact::BindMissing.key()));
        s.word(source.as_bytes());
        s.raw("\n");
    }

    if let Some(allocation) = allocation {
        let mut queue = Script::default();
        prelude(&mut queue, target);
        slurm::probe(&mut queue, allocation);
        stage(&mut s, &queue, Fact::SlurmError);
    }

    // The session itself, as `cssh host COMMAND` runs it, here rather than in an allocation.
    let here = Target {
        place: Place::Here,
        ..*target
    };
    let session = script(&here, Payload::Command(&inside_probe(target)));
    s.raw("cssh_cs; cssh_t0=$cssh_t\n");
    s.raw("{ cssh_err=$(/bin/sh -c");
    s.word(&session);
    s.raw(&format!(
        " </dev/null 2>&1 >&3); }} 3>&1 || cssh_fact {} \"$(cssh_last \"$cssh_err\")\"\n",
        Fact::StartError.key()
    ));
    s.raw(&format!(
        "cssh_cs; cssh_fact {} $(((cssh_t - cssh_t0) * 10))\n",
        Fact::StartMs.key()
    ));
    if let Some(instance) = &target.settings.instance {
        // The way the session's join took, now that it looked at the instance.
        let mut way = Script::default();
        prelude(&mut way, target);
        join::report(&mut way, &String::from_utf8_lossy(&sh(instance.as_bytes())));
        way.raw(&format!(
            "cssh_fact {} \"$cssh_jway\"\n",
            Fact::InstanceJoin.key()
        ));
        stage(&mut s, &way, Fact::InstanceJoin);
    }
    s.text
}

/// The probe for a host with `attach`: on the login node, the session's own steps that find the
/// job, then a step of the job that looks for its container on the node, as `--attach list`
/// does; nothing is entered.
pub fn attach_probe_script(target: &Target, job: &Attach) -> Vec<u8> {
    let mut s = opening();
    s.raw("cssh_last() { printf '%s\\n' \"$1\" | sed '/^[[:space:]]*$/d' | tail -n 1; }\n");
    let mut find = Script::default();
    prelude(&mut find, target);
    attach::find_job(&mut find, target, job);
    find.raw(&format!(
        "cssh_fact {} \"$cssh_job $cssh_node\"\ncssh_fact {} \"$(",
        Fact::AttachJob.key(),
        Fact::AttachContainer.key()
    ));
    attach::look_in_step(&mut find, job.step.as_deref());
    find.raw(")\"\n");
    stage(&mut s, &find, Fact::AttachError);
    s.text
}

/// The probe for a host without an image: only what every ssh session needs.
pub fn plain_probe_script() -> Vec<u8> {
    opening().text
}

/// Every probe's start: the mark that ends the login shell's own output, and the login shell.
fn opening() -> Script {
    let mut s = Script::default();
    facts_function(&mut s);
    s.raw(&format!("cssh_fact {} ''\n", Fact::Begin.key()));
    s.raw(&format!(
        "cssh_fact {} \"${{SHELL-}}\"\n",
        Fact::LoginShell.key()
    ));
    s
}

/// `cssh_fact KEY VALUE`: one fact line. Values are one line each (paths, versions, the last
/// line of a message).
fn facts_function(s: &mut Script) {
    s.raw(&format!(
        "cssh_fact() {{ printf '{MARK}\\t%s\\t%s\\n' \"$1\" \"$2\"; }}\n"
    ));
}

/// Runs `stage` in a subshell, its lines on stdout; where it fails, `fact` is its last line on
/// stderr.
fn stage(s: &mut Script, stage: &Script, fact: Fact) {
    s.raw("{ cssh_err=$( (\n");
    s.text.extend_from_slice(&stage.text);
    s.raw(&format!(
        ") </dev/null 2>&1 >&3); }} 3>&1 || cssh_fact {} \"$(cssh_last \"$cssh_err\")\"\n",
        fact.key()
    ));
}

/// The source of each bind (`SRC[:DEST[:OPTS]]`, several separated by commas).
fn bind_sources(target: &Target) -> Vec<String> {
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

/// The command the probe's session runs in the image: what a shell, sftp, scp, rsync, git and
/// VS Code's server need there.
fn inside_probe(target: &Target) -> Vec<u8> {
    let mut s = Script::default();
    facts_function(&mut s);
    s.raw(&format!(
        "cssh_fact {} \"$SHELL\"\n[ -x \"$SHELL\" ] && cssh_fact {} yes\n",
        Fact::Shell.key(),
        Fact::ShellRuns.key()
    ));
    let candidates: Vec<&str> = match &target.settings.sftp_server {
        Some(path) => vec![path],
        None => SFTP_SERVER_PATHS.to_vec(),
    };
    s.raw("for cssh_p in");
    for candidate in candidates {
        s.word(candidate.as_bytes());
    }
    s.raw(&format!(
        "; do if [ -x \"$cssh_p\" ]; then cssh_fact {} \"$cssh_p\"; break; fi; done\n",
        Fact::SftpServer.key()
    ));
    // `command -v` prints the path, or nothing: no command substitution, no process.
    for (fact, program) in [
        (Fact::Scp, "scp"),
        (Fact::Rsync, "rsync"),
        (Fact::Git, "git"),
        (Fact::Bash, "bash"),
        (Fact::Tar, "tar"),
    ] {
        s.raw(&format!(
            "printf '{MARK}\\t{}\\t'; command -v {program} || echo\n",
            fact.key()
        ));
    }
    // getconf comes with glibc's tools, which small images leave out; glibc's libc.so.6 itself
    // prints its version when run.
    s.raw("cssh_v=$(getconf GNU_LIBC_VERSION 2>/dev/null)\n");
    s.raw("for cssh_p in /lib/*/libc.so.6 /lib64/libc.so.6 /usr/lib/*/libc.so.6; do\n");
    s.raw("  [ -z \"$cssh_v\" ] && [ -x \"$cssh_p\" ] && cssh_v=$(\"$cssh_p\" | { read -r l; echo \"glibc ${l##* version }\"; })\n");
    s.raw("done\n");
    s.raw(&format!(
        "cssh_fact {} \"${{cssh_v%.}}\"\ncssh_fact {} ''\n",
        Fact::Glibc.key(),
        Fact::End.key()
    ));
    s.text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fact_has_one_key() {
        for (fact, key) in KEYS {
            assert_eq!(fact.key(), *key);
            assert_eq!(KEYS.iter().filter(|(_, k)| k == key).count(), 1, "{key}");
            let line = format!("{MARK}\t{key}\tsome value");
            assert_eq!(Fact::parse(&line), Some((*fact, "some value")));
        }
        assert_eq!(Fact::parse("cssh-doctor\tbegin"), Some((Fact::Begin, "")));
        assert_eq!(Fact::parse("cssh-doctor\tnosuch\tx"), None);
        assert_eq!(Fact::parse("hello from .bashrc"), None);
    }
}
