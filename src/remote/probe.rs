//! The doctor's probe: one script for one ssh session, made of the session's own steps, that
//! writes what it finds instead of stopping at the first missing piece.
//!
//! Each finding is a fact, a line `cssh-doctor<TAB>KEY<TAB>VALUE` on stdout; `doctor` judges
//! them. The first line marks where the script starts: whatever the login shell's startup files
//! wrote to stdout comes before it. Each stage runs in a subshell with the session's steps
//! (prelude, runtime lookup, image check) and, where one fails, the fact is the line a session
//! would have printed. The last stage is a whole session script, exactly as `cssh host CMD` runs
//! it, whose command is the probe of the image's contents. It runs on the host ssh reaches:
//! the doctor never submits a Slurm or HTCondor job, it reports the job's state.

pub use super::facts::{Fact, MARK};
use super::launch::{define_stale, instance_running};
use super::runtime::{bind_sources, image_check, prelude, runtime_lookup};
use super::scheduler::slurm::attach;
use super::scheduler::{either, htcondor, slurm};
use super::script::Script;
use super::target::{HostJob, Payload, Place, SFTP_SERVER_PATHS, Scheduler, Target};
use super::{join, script, sshd};
use crate::quote::sh;
use crate::settings::Attach;

/// The probe for a host with an image; `job` where the host's sessions run in a batch job, and
/// `sshd_client` (this machine's key) where they reach it by its own sshd.
pub fn probe_script(target: &Target, job: Option<&HostJob>, sshd_client: Option<&str>) -> Vec<u8> {
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
        define_stale(&mut runtime, target, instance);
        runtime.raw(&format!(
            "if ! cssh_running; then cssh_fact {0} stopped; elif cssh_stale; then cssh_fact {0} stale; else cssh_fact {0} running; fi\n",
            Fact::Instance.key()
        ));
    }
    stage(&mut s, &runtime, Fact::RuntimeError);
    if target.settings.prelude.is_some() {
        s.raw(&format!(
            "case ${{cssh_err-}} in *'the prelude ('*) cssh_fact {} \"$(printf '%s\\n' \"$cssh_err\" | awk {} | tr -s ' ')\" ;; esac\n",
            Fact::PreludeSaid.key(),
            String::from_utf8_lossy(&sh(FIRST_ERROR.as_bytes()))
        ));
    }

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

    if let Some(job) = job {
        let mut queue = Script::default();
        prelude(&mut queue, target);
        match job {
            HostJob::Slurm(allocation) => {
                slurm::probe(&mut queue, allocation);
                stage(&mut s, &queue, Fact::SlurmError);
            }
            HostJob::Htcondor(job) => {
                htcondor::probe(&mut queue, job);
                stage(&mut s, &queue, Fact::HtcondorError);
            }
        }
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
    job_sshd(&mut s, sshd_client);
    s.text
}

/// What the doctor looks at of the job's own sshd, where the host's sessions reach their job by
/// it.
fn job_sshd(s: &mut Script, client: Option<&str>) {
    if let Some(client) = client {
        let mut sshd = Script::default();
        sshd::probe(&mut sshd, client);
        stage(s, &sshd, Fact::SshdKeys);
    }
}

/// awk: the first line of a prelude's output that reads as an error (not cssh's own), with the
/// line after it where it ends in `:` (Lmod names the unknown module on the next line).
const FIRST_ERROR: &str = "done { next }
f && NF { print p \" \" $0; done = 1; next }
f || /^cssh: / { next }
tolower($0) ~ /error|not found|unknown|no such/ { if ($0 ~ /:[[:space:]]*$/) { p = $0; f = 1 } else { print; done = 1 } }
END { if (f && !done) print p }";

/// The probe for a host with `attach`: on the login node (or access point), the session's own
/// steps that find the job, then a step of the job (or condor_ssh_to_job) that looks for its
/// container on its node, as `--attach list` does; nothing is entered.
pub fn attach_probe_script(
    target: &Target,
    job: &Attach,
    scheduler: Option<Scheduler>,
    sshd_client: Option<&str>,
) -> Vec<u8> {
    let mut s = opening();
    s.raw("cssh_last() { printf '%s\\n' \"$1\" | sed '/^[[:space:]]*$/d' | tail -n 1; }\n");
    let mut find = Script::default();
    prelude(&mut find, target);
    let look = |find: &mut Script, scheduler| {
        match scheduler {
            Scheduler::Htcondor => {
                htcondor::find_job(find, target, job);
                find.raw("cssh_node=$(condor_q \"$cssh_job\" -af RemoteHost 2>/dev/null </dev/null); cssh_node=${cssh_node##*@}\n");
            }
            Scheduler::Slurm => attach::find_job(find, target, job),
        }
        find.raw(&format!(
            "cssh_fact {} \"$cssh_job $cssh_node\"\ncssh_fact {} \"$(",
            Fact::AttachJob.key(),
            Fact::AttachContainer.key()
        ));
        match scheduler {
            Scheduler::Htcondor => htcondor::look(find),
            Scheduler::Slurm => attach::look_in_step(find, job.step.as_deref()),
        }
        find.raw(")\"\n");
    };
    if let Some(scheduler) = scheduler {
        look(&mut find, scheduler);
    } else {
        either::decide(&mut find, target, job);
        find.raw(&format!("if {}; then\n", either::DECIDED));
        look(&mut find, Scheduler::Htcondor);
        find.raw("else\n");
        look(&mut find, Scheduler::Slurm);
        find.raw("fi\n");
    }
    stage(&mut s, &find, Fact::AttachError);
    job_sshd(&mut s, sshd_client);
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
        "cssh_fact {} \"${{cssh_v%.}}\"\n",
        Fact::Glibc.key()
    ));
    s.raw(&format!(
        "cssh_n=; read -r _ _ cssh_n </proc/self/uid_map 2>/dev/null; cssh_fact {} \"$cssh_n\"\ncssh_fact {} ''\n",
        Fact::UidsMapped.key(),
        Fact::End.key()
    ));
    s.text
}
