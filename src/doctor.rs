//! `cssh --doctor [ssh options] [host ...]`: every host checked at once, one ssh connection
//! each, running the probe that `remote::probe` builds from the session's own steps.
//!
//! This is the one place cssh runs many processes: tokio waits on them, at most `--jobs` at a
//! time, each host within `--timeout` (a host that hangs is killed with what it started, and
//! reported as such, without holding the others). ssh's options before the hosts apply to
//! every host, as ssh takes them; ssh itself still does all the networking.

pub mod findings;
pub mod report;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::{ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use crate::config::Config;
use crate::output::write_out;
use crate::plan::{self, Local, Probe, Refusal};
use crate::ssh_args::{self, Unparsable};
use findings::Outcome;
use report::{HostReport, Report};

/// Hosts checked at once unless `--jobs` says otherwise.
pub const DEFAULT_JOBS: usize = 16;
/// How long one host may take unless `--timeout` says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);
/// Exit status when some check failed (warnings do not fail).
pub const EXIT_FAILED: u8 = 1;

/// How the doctor runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub jobs: usize,
    pub timeout: Duration,
    pub json: bool,
    /// `--image`: the image for every host checked.
    pub image: Option<String>,
}

/// Checks the hosts `args` name (ssh options first), or every configured host name.
pub fn run(
    ssh: &Path,
    args: Vec<OsString>,
    options: &Options,
    local: &mut dyn Local,
) -> anyhow::Result<ExitCode> {
    let config = local.config(None)?;
    let (ssh_options, hosts) = split(args, &config, &mut || local.grammar(), "--doctor")?;
    let probes = hosts
        .iter()
        .map(|host| plan::probe(&ssh_options, host, options.image.as_deref(), &config, local))
        .collect::<anyhow::Result<Vec<Probe>>>()?;
    let started = Instant::now();
    let progress = std::io::stderr().is_terminal();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let outcomes = runtime.block_on(check_all(ssh, &probes, options, progress));
    let hosts = probes
        .iter()
        .zip(outcomes)
        .map(|(probe, (outcome, seconds))| {
            HostReport::new(
                probe.host.clone(),
                seconds,
                outcome.timed_out.is_some(),
                findings::judge(probe, &outcome),
            )
        })
        .collect();
    let report = Report::new(hosts);
    let text = if options.json {
        report::json(&report)
    } else {
        report::table(&report, started.elapsed().as_secs_f64())
    };
    write_out(text.as_bytes())?;
    Ok(if report.result == findings::Status::Fail {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

/// ssh's options and the hosts of `mode` (`--doctor`, `--ssh-config`): the words of
/// `[ssh options] [host ...]`, read as ssh reads its own command line (the first host is its
/// destination, the rest its command), or, without hosts, the configuration's host names
/// without wildcards.
pub fn split(
    args: Vec<OsString>,
    config: &Config,
    grammar: &mut dyn FnMut() -> ssh_args::Grammar,
    mode: &str,
) -> Result<(Vec<OsString>, Vec<OsString>), Refusal> {
    match ssh_args::parse(args.clone(), grammar) {
        Ok(inv) => {
            let mut ssh_options = inv.args[..inv.command_start].to_vec();
            ssh_options.remove(inv.destination);
            let mut hosts = vec![inv.args[inv.destination].clone()];
            hosts.extend_from_slice(&inv.args[inv.command_start..]);
            Ok((ssh_options, hosts))
        }
        Err(Unparsable::NoDestination) => {
            let hosts: Vec<OsString> = config
                .literal_hosts()
                .into_iter()
                .map(OsString::from)
                .collect();
            if hosts.is_empty() {
                return Err(Refusal(format!(
                    "{mode}: no host named, and {} names none without wildcards",
                    config.file
                )));
            }
            Ok((args, hosts))
        }
        Err(why) => Err(Refusal(format!(
            "{mode}: ssh would refuse these options ({why})"
        ))),
    }
}

/// For the progress line: the hosts being checked, each with when it started, and how many
/// are done.
#[derive(Default)]
struct Progress {
    running: Vec<(usize, Instant)>,
    done: usize,
}

/// Runs every probe, at most `jobs` at a time; each outcome with the seconds it took, in the
/// probes' order.
async fn check_all(
    ssh: &Path,
    probes: &[Probe],
    options: &Options,
    progress: bool,
) -> Vec<(Outcome, f64)> {
    let slots = Arc::new(tokio::sync::Semaphore::new(options.jobs));
    let state: Arc<Mutex<Progress>> = Arc::default();
    let mut tasks = tokio::task::JoinSet::new();
    for (index, probe) in probes.iter().enumerate() {
        let (slots, state) = (slots.clone(), state.clone());
        let (ssh, probe, timeout) = (ssh.to_path_buf(), probe.clone(), options.timeout);
        tasks.spawn(async move {
            let _slot = slots.acquire_owned().await;
            let start = Instant::now();
            lock(&state).running.push((index, start));
            let outcome = check(&ssh, &probe, timeout).await;
            let mut state = lock(&state);
            state.running.retain(|(i, _)| *i != index);
            state.done += 1;
            (index, outcome, start.elapsed().as_secs_f64())
        });
    }
    let ticker = progress.then(|| {
        let names: Vec<String> = probes.iter().map(|p| p.host.clone()).collect();
        tokio::spawn(show_progress(state.clone(), names))
    });
    let mut outcomes: Vec<Option<(Outcome, f64)>> = vec![None; probes.len()];
    while let Some(done) = tasks.join_next().await {
        if let Ok((index, outcome, seconds)) = done {
            outcomes[index] = Some((outcome, seconds));
        }
    }
    if let Some(ticker) = ticker {
        ticker.abort();
        eprint!("\r\x1b[K");
    }
    outcomes
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One line on stderr, rewritten every 200 ms: hosts done, and the one running longest.
async fn show_progress(state: Arc<Mutex<Progress>>, names: Vec<String>) {
    let total = names.len();
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tick.tick().await;
        let line = {
            let state = lock(&state);
            let Some((index, start)) = state.running.iter().min_by_key(|(_, start)| *start) else {
                continue;
            };
            format!(
                "\rcssh --doctor: {} of {total} done, slowest: {} ({:.1} s)\x1b[K",
                state.done,
                names[*index],
                start.elapsed().as_secs_f64()
            )
        };
        let _ = std::io::stderr().write_all(line.as_bytes());
    }
}

/// One host: whether its shared connection is live, then its probe, within `timeout` for both.
async fn check(ssh: &Path, probe: &Probe, timeout: Duration) -> Outcome {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut outcome = Outcome::default();
    if let Some(args) = &probe.master_check {
        let mut command = command(ssh, args);
        command.stdout(Stdio::null()).stderr(Stdio::null());
        let live = match command.spawn() {
            Ok(mut child) => tokio::time::timeout_at(deadline, child.wait()).await,
            Err(_) => return failed_to_start(ssh),
        };
        outcome.master_live = Some(matches!(live, Ok(Ok(status)) if status.success()));
    }
    if let Some(send) = &probe.send {
        // The values first, where they have not gone yet; where they cannot go, the probe says
        // what a session would.
        send_values(ssh, send, deadline).await;
    }
    let mut command = command(ssh, &probe.args);
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let Ok(mut child) = command.spawn() else {
        return failed_to_start(ssh);
    };
    let stdout = collect(child.stdout.take());
    let stderr = collect(child.stderr.take());
    if let Ok(status) = tokio::time::timeout_at(deadline, child.wait()).await {
        outcome.exit = status.ok().and_then(|s| s.code());
    } else {
        kill_group(&mut child);
        let _ = child.wait().await;
        outcome.timed_out = Some(timeout);
    }
    // A ProxyCommand that outlived ssh may hold the pipes open: give them a moment to close.
    let grace = tokio::time::Instant::now() + Duration::from_millis(500);
    outcome.stdout = stdout.finish(grace).await;
    outcome.stderr = stderr.finish(grace).await;
    outcome
}

/// The host's values sent as a session would send them, without asking for a password
/// (`BatchMode`), and recorded once they went.
async fn send_values(ssh: &Path, send: &plan::SendStep, deadline: tokio::time::Instant) {
    let mut args = vec![OsString::from("-o"), OsString::from("BatchMode=yes")];
    args.extend(send.args.iter().cloned());
    let mut command = command(ssh, &args);
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let Ok(mut child) = command.spawn() else {
        return;
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = AsyncWriteExt::write_all(&mut stdin, &send.content).await;
    }
    if let Ok(Ok(status)) = tokio::time::timeout_at(deadline, child.wait()).await
        && status.success()
    {
        let _ = crate::sent::record(&send.key, &send.name);
    }
}

/// ssh with `args`, stdin from /dev/null, in a process group of its own (on Unix) so that a
/// timeout ends what it started too (a ProxyCommand).
fn command(ssh: &Path, args: &[OsString]) -> Command {
    let mut command = Command::new(ssh);
    command.args(args).stdin(Stdio::null()).kill_on_drop(true);
    #[cfg(unix)]
    command.process_group(0);
    command
}

#[cfg(unix)]
fn kill_group(child: &mut tokio::process::Child) {
    if let Some(pid) = child.id().and_then(|pid| i32::try_from(pid).ok()) {
        // SAFETY: kill(2) with a negative pid signals the process group; no memory is involved.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

/// Windows has no process groups to signal: ssh.exe alone is ended.
#[cfg(not(unix))]
fn kill_group(child: &mut tokio::process::Child) {
    let _ = child.start_kill();
}

fn failed_to_start(ssh: &Path) -> Outcome {
    Outcome {
        stderr: format!("cannot run {}", ssh.display()).into_bytes(),
        ..Outcome::default()
    }
}

/// A pipe read to its end in the background, into a buffer that stays readable if it never
/// ends.
struct Collected {
    buffer: Arc<Mutex<Vec<u8>>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// The most a probe's stdout or stderr keeps: its facts take a few KiB; a remote that prints
/// without end is read to its end (so it never blocks) but not kept.
const COLLECTED_AT_MOST: usize = 1 << 20;

fn collect(pipe: Option<impl tokio::io::AsyncRead + Unpin + Send + 'static>) -> Collected {
    let buffer: Arc<Mutex<Vec<u8>>> = Arc::default();
    let task = pipe.map(|mut pipe| {
        let buffer = buffer.clone();
        tokio::spawn(async move {
            let mut chunk = [0u8; 8192];
            while let Ok(n @ 1..) = pipe.read(&mut chunk).await {
                let mut kept = lock(&buffer);
                let room = COLLECTED_AT_MOST.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..n.min(room)]);
            }
        })
    });
    Collected { buffer, task }
}

impl Collected {
    /// What was read by the end of the pipe or `deadline`, whichever comes first.
    async fn finish(self, deadline: tokio::time::Instant) -> Vec<u8> {
        if let Some(task) = self.task {
            // A task still reading at the deadline ends with the runtime.
            let _ = tokio::time::timeout_at(deadline, task).await;
        }
        std::mem::take(&mut *lock(&self.buffer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn os(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn options_before_the_hosts_apply_to_all_and_no_host_means_every_configured_name() {
        let config = crate::config::parse(
            "[[host]]\npattern = \"a b* c\"\nimage = \"/i\"\n",
            Path::new("/c.toml"),
        )
        .unwrap();
        let split = |words: &[&str]| {
            split(
                os(words),
                &config,
                &mut || ssh_args::Grammar::CURRENT,
                "--doctor",
            )
        };
        assert_eq!(
            split(&["-F", "cfg", "-o", "ConnectTimeout=5", "h1", "h2", "h3"]).unwrap(),
            (
                os(&["-F", "cfg", "-o", "ConnectTimeout=5"]),
                os(&["h1", "h2", "h3"])
            )
        );
        // As ssh reads it: options right after the first host are options too.
        assert_eq!(
            split(&["h1", "-p", "22", "h2"]).unwrap(),
            (os(&["-p", "22"]), os(&["h1", "h2"]))
        );
        assert_eq!(
            split(&["-l", "me"]).unwrap(),
            (os(&["-l", "me"]), os(&["a", "c"]))
        );
        assert_eq!(
            split(&["-l"]).unwrap_err().0,
            "--doctor: ssh would refuse these options (option requires an argument -- l)"
        );
        let empty = crate::config::parse("# nothing\n", Path::new("/c.toml")).unwrap();
        assert_eq!(
            super::split(
                Vec::new(),
                &empty,
                &mut || ssh_args::Grammar::CURRENT,
                "--doctor"
            )
            .unwrap_err()
            .0,
            "--doctor: no host named, and /c.toml names none without wildcards"
        );
    }
}
