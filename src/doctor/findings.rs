//! From what one probe printed to the findings: each check passes, warns, fails or does not
//! apply, with the value measured and, where it does not pass, the fix in one line. Pure: the
//! probe's output and the host's settings in, the findings out.

use std::time::Duration;

use serde::Serialize;

use crate::plan::Probe;
use crate::remote::facts::Fact;
use crate::settings::{Image, RuntimeKind};

mod inside;
mod scheduler;
mod sshd;

use inside::{judge_attach, judge_inside};
use scheduler::{judge_htcondor, judge_slurm};

/// The checks, in the table's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    Reach,
    Quiet,
    Script,
    Runtime,
    Image,
    Binds,
    Start,
    Shell,
    SftpServer,
    Scp,
    Rsync,
    Git,
    Vscode,
    Instance,
    Persist,
    Slurm,
    Htcondor,
    Attach,
    Sshd,
}

pub const CHECKS: &[Check] = &[
    Check::Reach,
    Check::Quiet,
    Check::Script,
    Check::Runtime,
    Check::Image,
    Check::Binds,
    Check::Start,
    Check::Shell,
    Check::SftpServer,
    Check::Scp,
    Check::Rsync,
    Check::Git,
    Check::Vscode,
    Check::Instance,
    Check::Persist,
    Check::Slurm,
    Check::Htcondor,
    Check::Attach,
    Check::Sshd,
];

impl Check {
    /// The name in the table and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Check::Reach => "reach",
            Check::Quiet => "quiet",
            Check::Script => "script",
            Check::Runtime => "runtime",
            Check::Image => "image",
            Check::Binds => "binds",
            Check::Start => "start",
            Check::Shell => "shell",
            Check::SftpServer => "sftp_server",
            Check::Scp => "scp",
            Check::Rsync => "rsync",
            Check::Git => "git",
            Check::Vscode => "vscode",
            Check::Instance => "instance",
            Check::Persist => "persist",
            Check::Slurm => "slurm",
            Check::Htcondor => "htcondor",
            Check::Attach => "attach",
            Check::Sshd => "sshd",
        }
    }

    /// Whether what the check found names the host's job (its state, node and time left), which
    /// the table shows under it even when it passes.
    pub fn names_a_job(self) -> bool {
        matches!(self, Check::Slurm | Check::Htcondor | Check::Attach)
    }
}

/// A check's outcome; the order is how bad it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Does not apply to this host, or could not run because an earlier check failed.
    Skip,
    Pass,
    Warn,
    Fail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub check: Check,
    pub status: Status,
    /// What was measured or found.
    pub value: String,
    /// What to do, where the check does not pass.
    pub fix: Option<String>,
}

/// What running one probe gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// ssh's exit status; `None` when it was killed.
    pub exit: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// The timeout, where the host hit it.
    pub timed_out: Option<Duration>,
    /// Whether a shared connection was live before the probe, where `persist` is set.
    pub master_live: Option<bool>,
}

/// The oldest glibc VS Code's server runs on (since VS Code 1.99).
const VSCODE_GLIBC: (u32, u32) = (2, 28);

/// The probe's facts, and what the login shell wrote before them.
struct Facts {
    noise: Vec<u8>,
    begun: bool,
    lines: Vec<(Fact, String)>,
}

impl Facts {
    fn read(stdout: &[u8]) -> Facts {
        let mut facts = Facts {
            noise: Vec::new(),
            begun: false,
            lines: Vec::new(),
        };
        for line in stdout.split_inclusive(|&b| b == b'\n') {
            let text = String::from_utf8_lossy(line);
            match Fact::parse(text.trim_end_matches('\n')) {
                Some((Fact::Begin, _)) if !facts.begun => facts.begun = true,
                Some((fact, value)) if facts.begun => facts.lines.push((fact, value.to_string())),
                _ if !facts.begun => facts.noise.extend_from_slice(line),
                _ => {}
            }
        }
        facts
    }

    fn get(&self, fact: Fact) -> Option<&str> {
        self.lines
            .iter()
            .find(|(f, _)| *f == fact)
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, fact: Fact) -> Vec<&str> {
        self.lines
            .iter()
            .filter(|(f, _)| *f == fact)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Where the fix for a host's settings goes: the setting's line, else the host's entry.
struct Places<'a> {
    probe: &'a Probe,
}

impl Places<'_> {
    /// `FILE:LINE` of a setting's line (0 where unset: the host's first entry).
    fn at(&self, line: usize) -> String {
        let file = &self.probe.config_file;
        match (line, self.probe.entry_line) {
            _ if !self.probe.config_found => format!("{file} (which does not exist yet)"),
            (0, Some(entry)) => format!("the entry at {file}:{entry}"),
            (0, None) => file.clone(),
            (line, _) => format!("{file}:{line}"),
        }
    }
}

/// The findings for one host, every check in [`CHECKS`] order.
pub fn judge(probe: &Probe, outcome: &Outcome) -> Vec<Finding> {
    let facts = Facts::read(&outcome.stdout);
    let places = Places { probe };
    let lines = &probe.settings.lines;
    let mut found: Vec<Finding> = Vec::new();
    let mut add = |check: Check, status: Status, value: String, fix: Option<String>| {
        found.push(Finding {
            check,
            status,
            value,
            fix,
        });
    };
    let ssh_said = last_line(&outcome.stderr);

    // The checks from `first` on, skipped: an earlier one failed, or they do not apply.
    let skipped_from = |first: Check| CHECKS.iter().copied().skip_while(move |c| *c != first);
    let reached = facts.begun
        || (outcome.timed_out.is_none() && outcome.exit.is_some_and(|code| code != 255));
    if !reached {
        let (value, fix) = match outcome.timed_out {
            Some(limit) => (
                format!("timeout: no answer within {}", seconds(limit)),
                format!(
                    "check with `{}` (a ProxyCommand or ProxyJump that hangs, a firewall, a prompt)",
                    probe.by_hand
                ),
            ),
            None if ssh_said.contains("Permission denied") => (
                ssh_said.clone(),
                format!(
                    "the doctor runs ssh with BatchMode=yes, so it cannot answer a password or passphrase prompt: load the key into ssh-agent, then check with `{}`",
                    probe.by_hand
                ),
            ),
            None => (
                if ssh_said.is_empty() {
                    "ssh failed".into()
                } else {
                    ssh_said.clone()
                },
                format!("check with `{}`", probe.by_hand),
            ),
        };
        add(Check::Reach, Status::Fail, value, Some(fix));
        for check in skipped_from(Check::Quiet) {
            add(check, Status::Skip, String::new(), None);
        }
        return found;
    }
    add(Check::Reach, Status::Pass, "yes".into(), None);

    let login_shell = facts.get(Fact::LoginShell).unwrap_or_default().to_string();
    if facts.noise.is_empty() {
        add(Check::Quiet, Status::Pass, "nothing on stdout".into(), None);
    } else {
        let first = String::from_utf8_lossy(&facts.noise);
        let first = first
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default();
        add(
            Check::Quiet,
            Status::Fail,
            format!(
                "the login shell wrote {} bytes to stdout before any command: \"{}\"",
                facts.noise.len(),
                shown(first, 60)
            ),
            Some(quiet_fix(&login_shell)),
        );
    }

    if !facts.begun {
        // The login shell ran, but the script it was given did not start.
        let code = outcome.exit.unwrap_or_default();
        add(
            Check::Script,
            Status::Fail,
            format!("the login shell did not run cssh's script (exit {code}): {ssh_said}"),
            Some("the login shell must run the command sshd gives it, which starts /bin/sh: check that its startup files do not exit and that /bin/sh works on the remote".into()),
        );
        for check in skipped_from(Check::Runtime) {
            add(check, Status::Skip, String::new(), None);
        }
        return found;
    }
    add(Check::Script, Status::Pass, "yes".into(), None);

    if probe.attach.is_some() {
        // An attached host runs no image of its own: the job's container is checked instead.
        for check in skipped_from(Check::Runtime).take_while(|c| *c != Check::Attach) {
            add(check, Status::Skip, String::new(), None);
        }
        let (status, value, fix) = judge_attach(&facts, probe, &places);
        add(Check::Attach, status, value, fix);
        let (status, value, fix) = sshd::judge(&facts, probe, &places);
        add(Check::Sshd, status, value, fix);
        return found;
    }

    let Some(image) = &probe.image else {
        add(Check::Runtime, Status::Skip, String::new(), None);
        add(Check::Image, Status::Skip, probe.untagged.into(), None);
        for check in skipped_from(Check::Binds) {
            add(check, Status::Skip, String::new(), None);
        }
        return found;
    };
    let timed_out = |what: &str| {
        outcome
            .timed_out
            .map(|limit| format!("{what} did not finish within {}", seconds(limit)))
    };

    // The runtime.
    let runtime_ok = if let Some(error) = facts.get(Fact::RuntimeError) {
        let mut error = without_prefix(error, &probe.host);
        let said = facts.get(Fact::PreludeSaid).unwrap_or_default();
        // The module a site names its runtime by, as a rule.
        let module = match probe.settings.runtime_kind() {
            RuntimeKind::Apptainer => "apptainer",
            RuntimeKind::Charliecloud => "charliecloud",
        };
        let fix = if error.starts_with("the prelude (") {
            let prelude = places.at(lines.prelude);
            if !said.is_empty() {
                error = format!("{error}: {said}");
            }
            if said.contains("module: not found") || said.contains("module: command not found") {
                format!(
                    "no module system defines `module` for the host's sh (cssh looked at MODULESHOME and /etc/profile.d): source its init in the prelude at {prelude}, e.g. \". /usr/share/lmod/lmod/init/sh && module load {module}\""
                )
            } else if said.contains("unknown") || said.contains("Unable to locate") {
                format!(
                    "check the module's name in the prelude at {prelude} (`module avail` in a login shell on the host lists them)"
                )
            } else {
                format!(
                    "make the prelude at {prelude} succeed on the host (its last command's status is the prelude's)"
                )
            }
        } else {
            format!(
                "set prelude (e.g. \"module load {module}\") or runtime in {}",
                places.at(lines.prelude.max(lines.runtime))
            )
        };
        add(Check::Runtime, Status::Fail, error, Some(fix));
        false
    } else if let Some(path) = facts.get(Fact::RuntimePath) {
        let version = facts.get(Fact::RuntimeVersion).unwrap_or_default();
        add(
            Check::Runtime,
            Status::Pass,
            format!("{version} at {path}"),
            None,
        );
        true
    } else {
        add(
            Check::Runtime,
            Status::Fail,
            timed_out("the runtime lookup").unwrap_or_default(),
            None,
        );
        false
    };

    // The image, and the binds' sources.
    let image_ok = if let Some(error) = facts.get(Fact::ImageError) {
        add(
            Check::Image,
            Status::Fail,
            without_prefix(error, &probe.host),
            Some(
                if matches!(&probe.settings.image, Some(Image::Path(path)) if probe.image.as_ref() == Some(path))
                {
                    format!(
                        "copy the image there, or set image in {}",
                        places.at(lines.image)
                    )
                } else {
                    "copy the image there, or give --image its path on the remote".into()
                },
            ),
        );
        false
    } else if image.contains("://") {
        add(
            Check::Image,
            Status::Pass,
            format!("{image} (the runtime fetches it)"),
            None,
        );
        true
    } else {
        add(Check::Image, Status::Pass, image.clone(), None);
        true
    };
    let binds = probe.settings.binds.as_deref().unwrap_or_default();
    let missing = facts.all(Fact::BindMissing);
    if binds.is_empty() {
        add(Check::Binds, Status::Skip, String::new(), None);
    } else if missing.is_empty() {
        add(
            Check::Binds,
            Status::Pass,
            format!("{} present", binds.len()),
            None,
        );
    } else {
        add(
            Check::Binds,
            Status::Fail,
            format!("missing on the remote: {}", missing.join(", ")),
            Some(format!(
                "create them on the remote, or change binds in {}",
                places.at(lines.binds)
            )),
        );
    }

    // The session itself, and what it found inside the image.
    let inside = facts.get(Fact::End).is_some();
    if !runtime_ok || !image_ok {
        add(
            Check::Start,
            Status::Skip,
            "needs the runtime and the image".into(),
            None,
        );
    } else if inside {
        let ms = facts.get(Fact::StartMs).unwrap_or("?");
        // The runtime's mode: whether it made the container a user namespace of its own.
        let mode = match facts.get(Fact::UidsMapped) {
            Some("4294967295") => ", setuid mode (no user namespace)",
            Some("") | None => "",
            Some(_) => ", in a user namespace",
        };
        add(Check::Start, Status::Pass, format!("{ms} ms{mode}"), None);
    } else {
        let error = facts
            .get(Fact::StartError)
            .map(|e| without_prefix(e, &probe.host))
            .or_else(|| timed_out("the container"))
            .unwrap_or_else(|| "the container did not start".into());
        add(
            Check::Start,
            Status::Fail,
            error,
            Some(format!(
                "`cssh {} true` shows the runtime's whole message; `cssh --explain {}` the script",
                probe.host, probe.host
            )),
        );
    }
    if inside {
        judge_inside(&facts, probe, &places, &login_shell, &mut add);
    } else {
        // The checks inside the image: from the shell up to the instance.
        for check in skipped_from(Check::Shell).take_while(|c| *c != Check::Instance) {
            add(check, Status::Skip, String::new(), None);
        }
    }

    match (&probe.settings.instance, facts.get(Fact::Instance)) {
        (None, _) | (Some(_), None) => add(Check::Instance, Status::Skip, String::new(), None),
        (Some(name), Some("stale")) => add(
            Check::Instance,
            Status::Warn,
            format!(
                "{name} runs with the image, binds and options it was started with, not those of {}",
                places.at(probe.settings.lines.instance)
            ),
            Some(format!(
                "stop it for the next session to start it anew: ssh {} apptainer instance stop {name}",
                probe.host
            )),
        ),
        (Some(name), Some(state)) => {
            let value = match (state, facts.get(Fact::InstanceJoin)) {
                ("running", Some("namespaces")) => {
                    format!("{name} running, commands join it by its namespaces")
                }
                ("running", Some(way)) => {
                    let why = way.strip_prefix("runtime ").unwrap_or(way);
                    format!("{name} running, commands join it by apptainer exec instance:// {why}")
                }
                ("running", None) => format!("{name} running"),
                _ => format!("{name} not running (the next session starts it)"),
            };
            add(Check::Instance, Status::Pass, value, None);
        }
    }
    match outcome.master_live {
        None => add(Check::Persist, Status::Skip, String::new(), None),
        Some(true) => add(
            Check::Persist,
            Status::Pass,
            "a shared connection was live".into(),
            None,
        ),
        Some(false) => add(
            Check::Persist,
            Status::Pass,
            "no shared connection was live (this check opened one)".into(),
            None,
        ),
    }
    let slurm = judge_slurm(&facts, probe, &places);
    add(Check::Slurm, slurm.0, slurm.1, slurm.2);
    let htcondor = judge_htcondor(&facts, probe, &places);
    add(Check::Htcondor, htcondor.0, htcondor.1, htcondor.2);
    add(Check::Attach, Status::Skip, String::new(), None);
    let (status, value, fix) = sshd::judge(&facts, probe, &places);
    add(Check::Sshd, status, value, fix);
    found
}

/// What to do about a login shell that writes to stdout, for that shell.
fn quiet_fix(login_shell: &str) -> String {
    let name = login_shell.rsplit('/').next().unwrap_or_default();
    match name {
        "tcsh" | "csh" => "something in ~/.cshrc or ~/.tcshrc prints to stdout: guard it with `if ($?prompt) then ... endif`".into(),
        "fish" => "something in ~/.config/fish/config.fish prints to stdout: guard it with `if status is-interactive ... end`".into(),
        "zsh" => "something in ~/.zshenv prints to stdout: guard it with `[ -t 1 ]`, or move it to ~/.zshrc".into(),
        _ => "something in ~/.bashrc (or the file $ENV names) prints to stdout: guard it with `[ -t 1 ]`".into(),
    }
}

/// `glibc 2.36` as (2, 36).
fn glibc_version(text: &str) -> Option<(u32, u32)> {
    let version = text.strip_prefix("glibc ")?;
    let mut parts = version.split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// The remote script's message without its `cssh: HOST: ` prefix, which the table shows.
fn without_prefix(line: &str, host: &str) -> String {
    line.strip_prefix(&format!("cssh: {host}: "))
        .unwrap_or(line)
        .to_string()
}

fn last_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// At most `at` characters of a line the remote wrote, control characters (a terminal's colour
/// codes) shown as `?`, for one line of the table.
fn shown(text: &str, at: usize) -> String {
    let mut shown: String = text
        .chars()
        .take(at)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().nth(at).is_some() {
        shown.push_str("...");
    }
    shown
}

fn seconds(duration: Duration) -> String {
    format!("{} s", duration.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::scheduler::slurm::Allocation;
    use crate::remote::{CondorJob, HostJob};
    use crate::settings::Settings;

    pub(super) fn probe(settings: Settings) -> Probe {
        Probe {
            host: "hpc".into(),
            by_hand: "ssh -v hpc true".into(),
            args: Vec::new(),
            master_check: None,
            send: None,
            image: Some("/img.sif".into()),
            untagged: "",
            settings,
            entry_line: Some(2),
            config_file: "/c.toml".into(),
            config_found: true,
            job: None,
            attach: None,
            sshd: None,
            forwards_stay: None,
        }
    }

    /// Fact lines as the probe prints them.
    pub(super) fn facts(pairs: &[(&str, &str)]) -> Vec<u8> {
        pairs
            .iter()
            .flat_map(|(key, value)| format!("cssh-doctor\t{key}\t{value}\n").into_bytes())
            .collect()
    }

    pub(super) const HEALTHY: &[(&str, &str)] = &[
        ("begin", ""),
        ("login_shell", "/bin/bash"),
        ("runtime_path", "/usr/bin/apptainer"),
        ("runtime_version", "apptainer version 1.4.5"),
        ("start_ms", "412"),
        ("shell", "/bin/bash"),
        ("shell_runs", "yes"),
        ("sftp_server", "/usr/lib/openssh/sftp-server"),
        ("scp", "/usr/bin/scp"),
        ("rsync", "/usr/bin/rsync"),
        ("git", ""),
        ("bash", "/bin/bash"),
        ("tar", "/bin/tar"),
        ("glibc", "glibc 2.36"),
        ("uids_mapped", "1"),
        ("end", ""),
    ];

    /// The findings for a probe that printed nothing, ssh exiting with `exit`.
    fn failed(exit: i32, stderr: &[u8]) -> Vec<Finding> {
        let outcome = Outcome {
            exit: Some(exit),
            stderr: stderr.to_vec(),
            ..Outcome::default()
        };
        judge(&probe(Settings::default()), &outcome)
    }

    /// The findings for a probe that printed `pairs` and exited 0.
    pub(super) fn judged(probe: &Probe, pairs: &[(&str, &str)]) -> Vec<Finding> {
        let outcome = Outcome {
            exit: Some(0),
            stdout: facts(pairs),
            ..Outcome::default()
        };
        judge(probe, &outcome)
    }

    pub(super) fn by_check(findings: &[Finding], check: Check) -> &Finding {
        findings.iter().find(|f| f.check == check).unwrap()
    }

    #[test]
    fn every_check_is_judged_once_in_order() {
        let outcome = Outcome {
            exit: Some(0),
            stdout: facts(HEALTHY),
            ..Outcome::default()
        };
        let found = judge(&probe(Settings::default()), &outcome);
        let checks: Vec<Check> = found.iter().map(|f| f.check).collect();
        assert_eq!(checks, CHECKS);
        assert_eq!(
            by_check(&found, Check::Runtime).value,
            "apptainer version 1.4.5 at /usr/bin/apptainer"
        );
        assert_eq!(
            by_check(&found, Check::Start).value,
            "412 ms, in a user namespace"
        );
        // Setuid Apptainer makes no user namespace: the container maps every uid.
        let mut setuid: Vec<(&str, &str)> = HEALTHY.to_vec();
        setuid.retain(|(key, _)| *key != "uids_mapped");
        setuid.insert(setuid.len() - 1, ("uids_mapped", "4294967295"));
        let found = judged(&probe(Settings::default()), &setuid);
        assert_eq!(
            by_check(&found, Check::Start).value,
            "412 ms, setuid mode (no user namespace)"
        );
        assert_eq!(
            by_check(&found, Check::Shell).value,
            "/bin/bash (the login shell)"
        );
        assert_eq!(by_check(&found, Check::Git).status, Status::Warn);
        assert_eq!(
            by_check(&found, Check::Vscode).value,
            "glibc 2.36, bash, tar"
        );
        for f in &found {
            let expected = match f.check {
                Check::Git => Status::Warn,
                Check::Binds
                | Check::Instance
                | Check::Persist
                | Check::Slurm
                | Check::Htcondor
                | Check::Attach
                | Check::Sshd => Status::Skip,
                _ => Status::Pass,
            };
            assert_eq!(f.status, expected, "{f:?}");
            assert_eq!(f.fix.is_some(), f.status >= Status::Warn, "{f:?}");
        }
    }

    #[test]
    fn an_unreachable_host_says_what_ssh_said_and_checks_nothing_else() {
        let found = failed(
            255,
            b"ssh: connect to host 127.0.0.1 port 9: Connection refused\r\n",
        );
        assert_eq!(found[0].status, Status::Fail);
        assert_eq!(
            found[0].value,
            "ssh: connect to host 127.0.0.1 port 9: Connection refused"
        );
        assert!(found[1..].iter().all(|f| f.status == Status::Skip));
        let hung = Outcome {
            timed_out: Some(Duration::from_millis(2500)),
            ..Outcome::default()
        };
        assert_eq!(
            judge(&probe(Settings::default()), &hung)[0].value,
            "timeout: no answer within 2.5 s"
        );
    }

    #[test]
    fn a_login_shell_that_cannot_run_the_script_fails_script() {
        let found = failed(1, b"sh: 1: eval: Syntax error\n");
        assert_eq!(found[0].status, Status::Pass);
        assert_eq!(found[1].status, Status::Pass);
        assert_eq!(found[2].check, Check::Script);
        assert_eq!(found[2].status, Status::Fail);
        assert_eq!(
            found[2].value,
            "the login shell did not run cssh's script (exit 1): sh: 1: eval: Syntax error"
        );
        assert!(found[3..].iter().all(|f| f.status == Status::Skip));
    }

    #[test]
    fn output_before_the_probe_is_the_login_shells() {
        let mut stdout = b"Welcome!\n".to_vec();
        stdout.extend(facts(&[("begin", ""), ("login_shell", "/bin/tcsh")]));
        let outcome = Outcome {
            exit: Some(0),
            stdout,
            ..Outcome::default()
        };
        let found = judge(&probe(Settings::default()), &outcome);
        let quiet = by_check(&found, Check::Quiet);
        assert_eq!(quiet.status, Status::Fail);
        assert_eq!(
            quiet.value,
            "the login shell wrote 9 bytes to stdout before any command: \"Welcome!\""
        );
        assert!(quiet.fix.as_deref().unwrap().contains("~/.cshrc"));
        assert_eq!(shown("\u{1b}[1mWelcome\u{1b}[0m", 60), "?[1mWelcome?[0m");
        assert_eq!(shown("abcdef", 3), "abc...");
    }

    #[test]
    fn a_missing_runtime_points_at_the_setting_and_skips_the_session() {
        let mut settings = Settings::default();
        settings.lines.runtime = 7;
        let outcome = Outcome {
            exit: Some(0),
            stdout: facts(&[
                ("begin", ""),
                (
                    "runtime_error",
                    "cssh: hpc: modtainer not on PATH (set prelude or runtime in /c.toml)",
                ),
            ]),
            ..Outcome::default()
        };
        let found = judge(&probe(settings), &outcome);
        let runtime = by_check(&found, Check::Runtime);
        assert_eq!(
            runtime.value,
            "modtainer not on PATH (set prelude or runtime in /c.toml)"
        );
        assert_eq!(
            runtime.fix.as_deref(),
            Some("set prelude (e.g. \"module load apptainer\") or runtime in /c.toml:7")
        );
        assert_eq!(by_check(&found, Check::Start).status, Status::Skip);
        assert_eq!(by_check(&found, Check::SftpServer).status, Status::Skip);
        // A Charliecloud host's fix names Charliecloud's module.
        let mut charliecloud = Settings {
            runtime: Some(crate::settings::Runtime::Charliecloud),
            ..Settings::default()
        };
        charliecloud.lines.runtime = 7;
        let found = judge(&probe(charliecloud), &outcome);
        assert_eq!(
            by_check(&found, Check::Runtime).fix.as_deref(),
            Some("set prelude (e.g. \"module load charliecloud\") or runtime in /c.toml:7")
        );
        // A prelude that fails points at the prelude; a module system's refusal, or no module
        // system at all, is named with the fix for each.
        for (said, fix) in [
            (
                "",
                "make the prelude at /c.toml:5 succeed on the host (its last command's status is the prelude's)",
            ),
            (
                "ERROR: Unable to locate a modulefile for 'nosuch'",
                "check the module's name in the prelude at /c.toml:5 (`module avail` in a login shell on the host lists them)",
            ),
            (
                "sh: 1: module: not found",
                "no module system defines `module` for the host's sh (cssh looked at MODULESHOME and /etc/profile.d): source its init in the prelude at /c.toml:5, e.g. \". /usr/share/lmod/lmod/init/sh && module load apptainer\"",
            ),
        ] {
            let mut settings = Settings::default();
            settings.lines.prelude = 5;
            let outcome = Outcome {
                exit: Some(0),
                stdout: facts(&[
                    ("begin", ""),
                    (
                        "runtime_error",
                        "cssh: hpc: the prelude (/c.toml:5) failed with status 1",
                    ),
                    ("prelude_said", said),
                ]),
                ..Outcome::default()
            };
            let found = judge(&probe(settings), &outcome);
            let runtime = by_check(&found, Check::Runtime);
            let value = if said.is_empty() {
                "the prelude (/c.toml:5) failed with status 1".to_string()
            } else {
                format!("the prelude (/c.toml:5) failed with status 1: {said}")
            };
            assert_eq!(
                (runtime.status, &runtime.value, runtime.fix.as_deref()),
                (Status::Fail, &value, Some(fix))
            );
        }
    }

    #[test]
    fn an_image_from_the_command_line_and_a_missing_file_get_fixes_that_fit() {
        let missing = |p: &Probe| {
            let outcome = Outcome {
                exit: Some(0),
                stdout: facts(&[
                    ("begin", ""),
                    ("runtime_path", "/usr/bin/apptainer"),
                    (
                        "image_error",
                        "cssh: hpc: image /img.sif not found on the remote",
                    ),
                ]),
                ..Outcome::default()
            };
            by_check(&judge(p, &outcome), Check::Image)
                .fix
                .clone()
                .unwrap()
        };
        let mut settings = Settings {
            image: Some(Image::Path("/img.sif".into())),
            ..Settings::default()
        };
        settings.lines.image = 3;
        assert_eq!(
            missing(&probe(settings)),
            "copy the image there, or set image in /c.toml:3"
        );
        let mut from_the_command_line = probe(Settings {
            image: Some(Image::None),
            ..Settings::default()
        });
        assert_eq!(
            missing(&from_the_command_line),
            "copy the image there, or give --image its path on the remote"
        );
        from_the_command_line.config_found = false;
        from_the_command_line.settings.image = Some(Image::Path("/img.sif".into()));
        assert_eq!(
            missing(&from_the_command_line),
            "copy the image there, or set image in /c.toml (which does not exist yet)"
        );
    }

    #[test]
    fn vs_code_needs_a_recent_glibc_bash_and_tar() {
        let mut lines: Vec<(&str, &str)> = HEALTHY.to_vec();
        for (key, value) in &mut lines {
            match *key {
                "glibc" => *value = "glibc 2.17",
                "tar" => *value = "",
                _ => {}
            }
        }
        let outcome = Outcome {
            exit: Some(0),
            stdout: facts(&lines),
            ..Outcome::default()
        };
        let vscode = judge(&probe(Settings::default()), &outcome)
            .into_iter()
            .find(|f| f.check == Check::Vscode)
            .unwrap();
        assert_eq!(vscode.status, Status::Warn);
        assert_eq!(vscode.value, "glibc 2.17 is older than 2.28, no tar");
        assert_eq!(glibc_version("glibc 2.36"), Some((2, 36)));
        assert_eq!(glibc_version(""), None);
        // A healthy image, but the sessions' forwards stay on the login node.
        let mut stays = probe(Settings::default());
        stays.forwards_stay = Some("slurm_connect = \"srun\" in /c.toml:5".into());
        let outcome = Outcome {
            exit: Some(0),
            stdout: facts(HEALTHY),
            ..Outcome::default()
        };
        let vscode = by_check(&judge(&stays, &outcome), Check::Vscode).clone();
        assert_eq!(vscode.status, Status::Warn);
        assert_eq!(
            vscode.value,
            "its forwards end on the login node, not in the job (slurm_connect = \"srun\" in /c.toml:5)"
        );
        assert!(vscode.fix.unwrap().contains("\"sshd\" (the default)"));
    }

    #[test]
    fn slurm_checks_the_partition_and_reports_the_job() {
        let mut settings = Settings::default();
        settings.lines.slurm = 4;
        let options = vec!["-p".to_string(), "gpu".to_string()];
        let mut p = probe(settings);
        p.job = Some(HostJob::Slurm(Allocation::new(
            "hpc",
            &options,
            "/c.toml:4",
            false,
        )));
        let slurm = |pairs: &[(&str, &str)]| {
            let mut lines = HEALTHY.to_vec();
            lines.extend_from_slice(pairs);
            by_check(&judged(&p, &lines), Check::Slurm).clone()
        };
        let found = slurm(&[
            ("sbatch", "/usr/bin/sbatch"),
            ("srun", "/usr/bin/srun"),
            ("partitions", "main spare "),
        ]);
        assert_eq!(found.status, Status::Fail);
        assert_eq!(found.value, "no partition gpu (sinfo lists: main spare)");
        assert_eq!(
            found.fix.as_deref(),
            Some("name one of them in slurm in /c.toml:4")
        );
        let base = [
            ("sbatch", "/usr/bin/sbatch"),
            ("srun", "/usr/bin/srun"),
            ("partitions", "gpu"),
        ];
        let mut pending = base.to_vec();
        pending.push(("job", "42 PENDING (null) 1:00:00 Resources"));
        let found = slurm(&pending);
        assert_eq!(
            (found.status, found.value.as_str()),
            (Status::Warn, "job 42 PENDING (Resources)")
        );
        let mut running = base.to_vec();
        running.push(("job", "42 RUNNING node3 7:58:12 None"));
        assert_eq!(
            slurm(&running).value,
            "job 42 running on node3, 7:58:12 left"
        );
        assert_eq!(
            slurm(&base).value,
            "no allocation (the next session submits one)"
        );
        assert_eq!(
            slurm(&[("sbatch", ""), ("srun", "")]).value,
            "no sbatch on the login node"
        );
    }

    #[test]
    fn htcondor_checks_the_tools_the_pool_and_reports_the_job() {
        let mut p = probe(Settings::default());
        p.job = Some(HostJob::Htcondor(CondorJob::new(
            "pool",
            "/i.sif",
            &[],
            "/c.toml:4".into(),
            false,
        )));
        let htcondor = |pairs: &[(&str, &str)]| {
            let mut lines = HEALTHY.to_vec();
            lines.extend_from_slice(pairs);
            by_check(&judged(&p, &lines), Check::Htcondor).clone()
        };
        let tools = [
            ("condor_submit", "/usr/bin/condor_submit"),
            ("condor_ssh_to_job", "/usr/bin/condor_ssh_to_job"),
        ];
        let with = |more: &[(&'static str, &'static str)]| {
            let mut pairs = tools.to_vec();
            pairs.extend_from_slice(more);
            htcondor(&pairs)
        };
        assert_eq!(
            htcondor(&[("condor_submit", ""), ("condor_ssh_to_job", "")]).value,
            "no condor_submit on the access point"
        );
        let down = with(&[("pool", "error CEDAR:6001:Failed to connect")]);
        assert_eq!(
            (down.status, down.value.as_str()),
            (
                Status::Fail,
                "the pool does not answer: CEDAR:6001:Failed to connect"
            )
        );
        assert_eq!(
            with(&[("pool", "3 0")]).value,
            "none of the pool's 3 slots runs containers (HasContainer)"
        );
        assert_eq!(
            with(&[("pool", "2 2")]).value,
            "2 of 2 slots run containers; no job (the next session submits one)"
        );
        let running = with(&[("pool", "2 2"), ("condor_job", "12.0 2 slot1_1@ep2")]);
        assert_eq!(
            (running.status, running.value.as_str()),
            (
                Status::Pass,
                "2 of 2 slots run containers; job 12.0 running on ep2"
            )
        );
        let idle = with(&[("pool", "2 2"), ("condor_job", "12.0 1 undefined")]);
        assert_eq!(
            (idle.status, idle.value.as_str()),
            (Status::Warn, "2 of 2 slots run containers; job 12.0 idle")
        );
        // An idle job says why, from condor_q -better-analyze; one no slot matches says how.
        let stuck = with(&[
            ("pool", "2 2"),
            ("condor_job", "12.0 1 undefined"),
            (
                "condor_idle",
                "no slot matches TARGET.Memory >= RequestMemory",
            ),
        ]);
        assert_eq!(
            stuck.value,
            "2 of 2 slots run containers; job 12.0 idle (no slot matches TARGET.Memory >= RequestMemory)"
        );
        assert!(
            stuck
                .fix
                .as_deref()
                .unwrap()
                .starts_with("no slot can run it: change htcondor in "),
            "{stuck:?}"
        );
        // A Slurm host skips the row, and an HTCondor host the Slurm row.
        assert_eq!(
            by_check(&judged(&p, HEALTHY), Check::Slurm).status,
            Status::Skip
        );
    }

    #[test]
    fn an_attached_host_checks_the_job_and_its_container_only() {
        let mut settings = Settings::default();
        settings.attach = Some(crate::settings::Attach::parse("train").unwrap());
        settings.lines.attach = 5;
        let mut p = probe(settings);
        p.image = None;
        p.attach = p.settings.attach.clone();
        let judged = |pairs: &[(&str, &str)]| {
            let mut lines = vec![("begin", ""), ("login_shell", "/bin/tcsh")];
            lines.extend_from_slice(pairs);
            judged(&p, &lines)
        };
        let found = judged(&[
            ("attach_job", "42 node1"),
            ("attach_container", "/img.sif\tyes"),
        ]);
        let checks: Vec<Check> = found.iter().map(|f| f.check).collect();
        assert_eq!(checks, CHECKS, "every check once, in order");
        for f in &found {
            let expected = match f.check {
                Check::Reach | Check::Quiet | Check::Script | Check::Attach => Status::Pass,
                _ => Status::Skip,
            };
            assert_eq!(f.status, expected, "{f:?}");
        }
        let attach = |pairs: &[(&str, &str)]| by_check(&judged(pairs), Check::Attach).clone();
        assert_eq!(
            attach(&[
                ("attach_job", "42 node1"),
                ("attach_container", "/img.sif\tyes"),
            ])
            .value,
            "job 42 on node1: /img.sif, yes"
        );
        let setuid = attach(&[
            ("attach_job", "42 node1"),
            ("attach_container", "/img.sif\tno (setuid Apptainer)"),
        ]);
        assert_eq!(setuid.status, Status::Fail);
        assert!(setuid.fix.unwrap().contains("--userns"));
        let missing = attach(&[(
            "attach_error",
            "cssh: hpc: no running job of yours named \"train\" (cssh --attach list hpc lists them)",
        )]);
        assert_eq!(
            (missing.status, missing.value.as_str()),
            (
                Status::Fail,
                "no running job of yours named \"train\" (cssh --attach list hpc lists them)"
            )
        );
        assert_eq!(
            missing.fix.as_deref(),
            Some("`cssh --attach list hpc` lists your running jobs; change attach in /c.toml:5")
        );
    }
}
