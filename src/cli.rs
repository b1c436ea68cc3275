//! cssh's front door: its own long options, then parse, decide and exec.
//!
//! cssh's options are long options placed before ssh's. OpenSSH has no long options (its getopt
//! would reject `--config` as the illegal option `-`), so nothing collides, and everything from
//! the first other word on belongs to ssh and reaches it unchanged.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, anyhow, bail};

use crate::config::{self, Config};
use crate::exec;
use crate::plan::{self, Context, Decision, Plan};
use crate::quote;
use crate::settings::{self, HostSettings};
use crate::ssh_args::{self, Invocation, Session};

/// cssh's own failures exit like ssh's own: 255.
pub const EXIT_CSSH_ERROR: u8 = 255;

const HELP: &str = "\
cssh: ssh into the container image configured for a host

usage: cssh [cssh options] [ssh options] destination [command [argument ...]]

cssh's options come first; everything else is ssh's and reaches it unchanged.
  --config FILE   read FILE (default: $CSSH_CONFIG, else ~/.config/cssh/config.toml)
  --image IMAGE   run in IMAGE on this host for this call, configured or not
  --no-container  run ssh exactly as given
  --dry-run       print the ssh command line cssh would run, then exit
  --explain       show the matching entries, the settings and the remote script
  --rsync-path    print a value for rsync --rsync-path that runs rsync in the
                  destination's image (cssh --rsync-path [ssh options] destination)
  --list-hosts    print the configured host names that have no wildcard
  --help          this text
  --version       cssh's version

Environment: CSSH_CONFIG (configuration file), CSSH_SSH (the real ssh).
See cssh(1) and cssh-config(5).
";

#[derive(Debug, Default, PartialEq, Eq)]
struct OwnOptions {
    config: Option<PathBuf>,
    image: Option<String>,
    no_container: bool,
    dry_run: bool,
    explain: bool,
    rsync_path: bool,
    list_hosts: bool,
    help: bool,
    version: bool,
}

/// Takes cssh's long options off the front of argv (without argv[0]).
fn split_own_options(mut args: Vec<OsString>) -> anyhow::Result<(OwnOptions, Vec<OsString>)> {
    let mut own = OwnOptions::default();
    let mut taken = 0;
    while let Some(word) = args.get(taken) {
        let bytes = word.as_bytes();
        if bytes.len() <= 2 || !bytes.starts_with(b"--") {
            break;
        }
        let text = word
            .to_str()
            .ok_or_else(|| anyhow!("unknown option {}", word.to_string_lossy()))?;
        let (name, attached) = match text.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (text, None),
        };
        taken += 1;
        let mut value = |name: &str| -> anyhow::Result<String> {
            if let Some(value) = attached.clone() {
                return Ok(value);
            }
            let next = args
                .get(taken)
                .ok_or_else(|| anyhow!("{name} needs a value"))?;
            taken += 1;
            next.to_str()
                .map(str::to_string)
                .ok_or_else(|| anyhow!("{name}: the value is not valid UTF-8"))
        };
        match name {
            "--config" => own.config = Some(PathBuf::from(value(name)?)),
            "--image" => own.image = Some(value(name)?).filter(|i| !i.is_empty()),
            "--no-container" => own.no_container = true,
            "--dry-run" => own.dry_run = true,
            "--explain" => own.explain = true,
            "--rsync-path" => own.rsync_path = true,
            "--list-hosts" => own.list_hosts = true,
            "--help" => own.help = true,
            "--version" => own.version = true,
            _ => bail!("unknown option {name} (cssh's options come before ssh's; see cssh --help)"),
        }
        if attached.is_some() && !matches!(name, "--config" | "--image") {
            bail!("{name} takes no value");
        }
    }
    args.drain(..taken);
    Ok((own, args))
}

/// Runs cssh with the process's argv.
pub fn main(argv: impl Iterator<Item = OsString>) -> ExitCode {
    match run(argv.skip(1).collect()) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("cssh: {error:#}");
            ExitCode::from(EXIT_CSSH_ERROR)
        }
    }
}

fn run(args: Vec<OsString>) -> anyhow::Result<ExitCode> {
    let (own, ssh_args) = split_own_options(args)?;
    if own.help {
        write_out(HELP.as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    if own.version {
        write_line(format!("cssh {}", env!("CARGO_PKG_VERSION")).as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    if own.list_hosts {
        let (config, _) = load_config(own.config.as_deref())?;
        let mut seen = std::collections::BTreeSet::new();
        let mut hosts = String::new();
        for entry in &config.entries {
            for host in entry
                .pattern
                .literals()
                .filter(|h| seen.insert(h.to_string()))
            {
                hosts += host;
                hosts += "\n";
            }
        }
        write_out(hosts.as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    if own.rsync_path {
        write_line(&rsync_path_value(&own, ssh_args)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let ssh = exec::real_ssh()?;
    let mut report = Report::default();
    let plan = build_plan(&own, ssh_args, &ssh, &mut report)?;
    if own.explain {
        report.print(&plan, &ssh)?;
    } else if own.dry_run {
        write_line(&command_line(&ssh, &plan.args)?)?;
    } else {
        return Err(exec::exec(&ssh, &plan.args, &[]));
    }
    Ok(ExitCode::SUCCESS)
}

fn build_plan(
    own: &OwnOptions,
    args: Vec<OsString>,
    ssh: &Path,
    report: &mut Report,
) -> anyhow::Result<Plan> {
    if own.no_container {
        return Ok(plan::passthrough(args, "--no-container"));
    }
    let invocation = match ssh_args::parse(args.clone(), &mut || {
        ssh_args::p_takes_argument(&exec::version_banner(ssh))
    }) {
        Ok(invocation) => invocation,
        Err(why) => {
            return Ok(plan::passthrough(
                args,
                format!("ssh will report the command line ({why:?})"),
            ));
        }
    };
    // A line that opens no session (git's `-G` probe, `-V`, `-O check`) never reads the
    // configuration, so it behaves as plain ssh even while the file is being edited.
    if invocation.session() == Session::None && !own.explain {
        return Ok(plan::passthrough(
            args,
            "this command line opens no session",
        ));
    }
    let (settings, config_file, config_found) = resolve_host(own, &invocation)?;
    let cx = Context {
        settings: &settings,
        image_override: own.image.as_deref(),
        config_file: &config_file,
    };
    let mut plan = plan::decide(&invocation, &cx).map_err(|refusal| anyhow!(refusal.0))?;
    if let (Decision::Container { .. }, Some(persist)) = (&plan.decision, &settings.persist)
        && !invocation.sets_multiplexing()
        && !plan::multiplexing_configured(&exec::resolved_config(ssh, &invocation.args)?)
    {
        plan.args = plan::with_connection_reuse(plan.args, &exec::control_dir()?, persist);
    }
    *report = Report {
        config_file,
        config_found,
        invocation: Some(invocation),
        settings,
    };
    Ok(plan)
}

/// The destination's settings, the configuration file's name, and whether it exists.
fn resolve_host(
    own: &OwnOptions,
    invocation: &Invocation,
) -> anyhow::Result<(HostSettings, String, bool)> {
    let (config, config_file) = load_config(own.config.as_deref())?;
    let settings = settings::resolve(&config, invocation.host.as_bytes());
    Ok((settings, config_file, config.path.is_some()))
}

/// `cssh --rsync-path [ssh options] destination`: the `--rsync-path` value for that host.
fn rsync_path_value(own: &OwnOptions, args: Vec<OsString>) -> anyhow::Result<Vec<u8>> {
    // Only the destination matters here, so `-P` is read as current OpenSSH reads it.
    let invocation = ssh_args::parse(args, &mut || true)
        .map_err(|why| anyhow!("--rsync-path needs a destination, as ssh takes it ({why:?})"))?;
    let (settings, config_file, _) = resolve_host(own, &invocation)?;
    let cx = Context {
        settings: &settings,
        image_override: own.image.as_deref(),
        config_file: &config_file,
    };
    plan::rsync_path(invocation.host.as_bytes(), &cx).map_err(|refusal| anyhow!(refusal.0))
}

/// The configuration, or an empty one when the default file does not exist; and the file's
/// name for messages.
fn load_config(flag: Option<&Path>) -> anyhow::Result<(Config, String)> {
    let Some((path, named)) = config::locate(flag, &|name| std::env::var(name).ok()) else {
        return Ok((Config::default(), "~/.config/cssh/config.toml".into()));
    };
    let config = config::load(&path, named)?.unwrap_or_default();
    Ok((config, path.display().to_string()))
}

/// What `--explain` shows.
#[derive(Default)]
struct Report {
    config_file: String,
    config_found: bool,
    invocation: Option<Invocation>,
    settings: HostSettings,
}

impl Report {
    fn print(&self, plan: &Plan, ssh: &Path) -> anyhow::Result<()> {
        let mut out = String::new();
        let found = if self.config_found {
            ""
        } else {
            " (not found: no host is tagged)"
        };
        out += &format!("config: {}{found}\n", self.config_file);
        if let Some(inv) = &self.invocation {
            out += &format!(
                "destination: {} (host {})\n",
                inv.args[inv.destination].to_string_lossy(),
                inv.host.to_string_lossy()
            );
        }
        for (line, pattern) in &self.settings.matched {
            out += &format!("matched: line {line}: pattern = {pattern:?}\n");
        }
        let s = &self.settings;
        for (key, line) in &s.origins {
            let value = match *key {
                "image" => format!("{:?}", s.image),
                "runtime" => format!("{:?}", s.runtime),
                "prelude" => format!("{:?}", s.prelude),
                "binds" => format!("{:?}", s.binds),
                "env" => format!("{:?}", s.env),
                "options" => format!("{:?}", s.options),
                "shell" => format!("{:?}", s.shell),
                "sftp_server" => format!("{:?}", s.sftp_server),
                "instance" => format!("{:?}", s.instance),
                _ => format!("{:?}", s.persist),
            };
            out += &format!("setting: {key} = {value} (line {line})\n");
        }
        match &plan.decision {
            Decision::Passthrough(why) => out += &format!("decision: plain ssh: {why}\n"),
            Decision::Container { script } => {
                out += "decision: container\nremote script (run by the remote /bin/sh):\n";
                for line in String::from_utf8_lossy(script).lines() {
                    out += &format!("  {line}\n");
                }
            }
        }
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(b"exec: ");
        bytes.extend(command_line(ssh, &plan.args)?);
        write_line(&bytes)
    }
}

/// The exec'd command line, shell-quoted, for `--dry-run` and `--explain`.
pub(crate) fn command_line(ssh: &Path, args: &[OsString]) -> anyhow::Result<Vec<u8>> {
    let mut line = quote::sh(ssh.as_os_str().as_bytes())?.into_owned();
    for arg in args {
        line.push(b' ');
        line.extend_from_slice(&quote::sh(arg.as_bytes())?);
    }
    Ok(line)
}

pub(crate) fn write_line(bytes: &[u8]) -> anyhow::Result<()> {
    write_out(&[bytes, b"\n"].concat())
}

/// Writes to stdout, reporting a closed or full stdout as an error rather than panicking.
pub(crate) fn write_out(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .context("writing to stdout")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn own_options_come_first_and_stop_at_sshs() {
        let (own, rest) = split_own_options(os(&[
            "--config",
            "c.toml",
            "--image=/i.sif",
            "--dry-run",
            "-p",
            "2",
            "h",
            "--explain",
        ]))
        .unwrap();
        assert_eq!(own.config, Some(PathBuf::from("c.toml")));
        assert_eq!(own.image.as_deref(), Some("/i.sif"));
        assert!(own.dry_run && !own.explain);
        assert_eq!(rest, os(&["-p", "2", "h", "--explain"]));
        let (own, rest) = split_own_options(os(&["--", "h"])).unwrap();
        assert_eq!((own, rest), (OwnOptions::default(), os(&["--", "h"])));
    }

    #[test]
    fn own_option_errors() {
        let e = |w: &[&str]| split_own_options(os(w)).unwrap_err().to_string();
        assert_eq!(
            e(&["--confg", "x"]),
            "unknown option --confg (cssh's options come before ssh's; see cssh --help)"
        );
        assert_eq!(e(&["--config"]), "--config needs a value");
        assert_eq!(e(&["--dry-run=yes", "h"]), "--dry-run takes no value");
    }
}
