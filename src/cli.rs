//! cssh's front door: its own options (`options`), then the plan (`plan`), then one of the
//! modes: exec the real ssh, print the command line, explain the plan, print an rsync path or
//! list the configured hosts.

use std::ffi::{OsStr, OsString};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::config::{self, Config};
use crate::doctor;
use crate::exec;
use crate::explain;
use crate::hop;
use crate::keys;
use crate::options::{self, Mode, OwnOptions};
use crate::output::{self, write_line, write_out};
use crate::plan::{self, Local, Request};
use crate::remote;
use crate::sent;
use crate::ssh_args;
use crate::ssh_config;

/// Runs cssh with the process's argv.
pub fn main(argv: impl Iterator<Item = OsString>) -> ExitCode {
    run(argv.skip(1).collect()).unwrap_or_else(|error| output::fail("cssh", &error))
}

fn run(args: Vec<OsString>) -> anyhow::Result<ExitCode> {
    // The ProxyCommand of a job's sshd: the hop's command line, exec'd as it was written.
    if let [only] = args.as_slice()
        && let Some(word) = only.to_str().and_then(|w| w.strip_prefix(hop::OPTION))
    {
        let hop_words = hop::decode(word).context("--hop: not a hop that cssh wrote")?;
        return Err(exec::exec(
            std::path::Path::new(&hop_words[0]),
            &hop_words[1..],
            &[],
        ));
    }
    let (own, ssh_args) = options::split(args)?;
    let request = Request {
        args: ssh_args,
        image: own.image.clone(),
        no_container: own.no_container,
        attach: own.attach.clone(),
        explain: own.mode == Mode::Explain,
        terminals: plan::Terminals {
            stderr: std::io::stderr().is_terminal(),
            stdin: std::io::stdin().is_terminal(),
        },
    };
    match own.mode {
        Mode::Help => write_out(options::help().as_bytes())?,
        Mode::Version => write_line(format!("cssh {}", env!("CARGO_PKG_VERSION")).as_bytes())?,
        Mode::ListHosts => {
            let config = config::read(own.config.as_deref(), None)?;
            let lines: String = config
                .literal_hosts()
                .iter()
                .map(|h| h.clone() + "\n")
                .collect();
            write_out(lines.as_bytes())?;
        }
        Mode::RsyncPath | Mode::SftpServerCommand => {
            let mut system = System::new(&own)?;
            let printed = if own.mode == Mode::RsyncPath {
                plan::rsync_path(&request, &mut system)?
            } else {
                plan::sftp_server_command(&request, &mut system)?
            };
            if let Err(code) = send_values(&system.ssh, printed.send.as_ref())? {
                return Ok(code);
            }
            write_line(&printed.command)?;
        }
        Mode::Doctor => {
            let mut system = System::new(&own)?;
            let options = doctor::Options {
                jobs: own.jobs.unwrap_or(doctor::DEFAULT_JOBS),
                timeout: own.timeout.unwrap_or(doctor::DEFAULT_TIMEOUT),
                json: own.json,
                image: own.image.clone(),
            };
            let ssh = system.ssh.clone();
            return doctor::run(&ssh, request.args, &options, &mut system);
        }
        Mode::Proxy => return Ok(proxy(&own, &request)),
        Mode::SshConfig => {
            let mut system = System::new(&own)?;
            write_out(ssh_config(&own, &request.args, &mut system)?.as_bytes())?;
        }
        Mode::Release | Mode::Allocate | Mode::AttachList => {
            let mut system = System::new(&own)?;
            let plan = match own.mode {
                Mode::Release => plan::release(&request, &mut system)?,
                Mode::Allocate => plan::allocate(&request, &mut system)?,
                _ => plan::attach_list(&request, &mut system)?,
            };
            if let Err(code) = send_values(&system.ssh, plan.send.as_ref())? {
                return Ok(code);
            }
            return Err(exec::exec(&system.ssh, &plan.args, &[]));
        }
        Mode::Run | Mode::DryRun | Mode::Explain => {
            let mut system = System::new(&own)?;
            let mut plan = plan::make(&request, &mut system)?;
            if let (Some(pin), Mode::Run) = (&plan.pin, own.mode) {
                if let Err(code) = pin_key(&system.ssh, pin)? {
                    return Ok(code);
                }
                plan = plan::make(&request, &mut system)?;
            }
            match own.mode {
                Mode::Explain => write_line(&explain::render(&plan, &system.ssh))?,
                Mode::DryRun => write_line(&output::plan_line(&system.ssh, &plan))?,
                _ => {
                    if let plan::Decision::Passthrough(why) = &plan.decision
                        && why.starts_with(plan::SSH_WILL_REPORT)
                        && let Some(hint) = options::misplaced_hint(&request.args)
                    {
                        // ssh's own message follows; this line says what cssh's part is.
                        eprintln!("cssh: {hint}");
                    }
                    if let Some(notice) = &plan.notice {
                        eprintln!("cssh: {notice}");
                    }
                    if let Err(code) = send_values(&system.ssh, plan.send.as_ref())? {
                        return Ok(code);
                    }
                    let args = match &plan.first_hop {
                        None => plan.args,
                        Some(hop) => {
                            let (status, node) = exec::output(&system.ssh, &hop.args)?;
                            if !status.success() {
                                // The login node said why, on stderr.
                                let code = status.code().unwrap_or(255);
                                return Ok(ExitCode::from(u8::try_from(code).unwrap_or(255)));
                            }
                            plan.on_node(&node)?
                        }
                    };
                    return Err(exec::exec(&system.ssh, &args, &[]));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The host's values sent to the remote and recorded here, where they had not gone; `Err` with
/// the exit status of an ssh that failed (it, or the login node, said why on stderr).
pub fn send_values(
    ssh: &std::path::Path,
    send: Option<&plan::SendStep>,
) -> anyhow::Result<Result<(), ExitCode>> {
    let Some(send) = send else {
        return Ok(Ok(()));
    };
    let status = exec::feed(ssh, &send.args, &send.content)?;
    if !status.success() {
        let code = status.code().unwrap_or(255);
        eprintln!(
            "cssh: could not send the host's prelude and env values to the remote (ssh exited {code})"
        );
        return Ok(Err(ExitCode::from(u8::try_from(code).unwrap_or(255))));
    }
    sent::record(&send.key, &send.name)?;
    Ok(Ok(()))
}

/// The private sshd's host key, which its login node shows, pinned here; `Err` with the exit
/// status of an ssh that failed (the login node said why, on stderr).
fn pin_key(ssh: &std::path::Path, pin: &plan::PinStep) -> anyhow::Result<Result<(), ExitCode>> {
    let (status, printed) = exec::output(ssh, &pin.args)?;
    if !status.success() {
        let code = status.code().unwrap_or(255);
        return Ok(Err(ExitCode::from(u8::try_from(code).unwrap_or(255))));
    }
    keys::Store::open()?.pin(&pin.alias, &String::from_utf8_lossy(&printed))?;
    Ok(Ok(()))
}

/// The hop of `cssh --proxy`, the host key pinned first where it is not (once: a key that is
/// still not found after is an error, never a loop); `Err` with the exit status of a pin step
/// that failed.
fn pinned_hop(
    request: &Request,
    system: &mut System,
) -> anyhow::Result<Result<Vec<OsString>, ExitCode>> {
    let pin = match plan::proxy(request, system)? {
        plan::ProxyPlan::Hop(args, send) => {
            return Ok(send_values(&system.ssh, send.as_ref())?.map(|()| args));
        }
        plan::ProxyPlan::Pin(pin) => pin,
    };
    if let Err(code) = pin_key(&system.ssh, &pin)? {
        return Ok(Err(code));
    }
    let (args, send) = hop_args(plan::proxy(request, system)?)?;
    Ok(send_values(&system.ssh, send.as_ref())?.map(|()| args))
}

/// The hop's arguments of a plan made after pinning.
fn hop_args(plan: plan::ProxyPlan) -> anyhow::Result<(Vec<OsString>, Option<plan::SendStep>)> {
    match plan {
        plan::ProxyPlan::Hop(args, send) => Ok((args, send)),
        plan::ProxyPlan::Pin(pin) => {
            anyhow::bail!(
                "the host key just pinned as {} is not found among cssh's pins",
                pin.alias
            )
        }
    }
}

/// `cssh --proxy`: stdin and stdout are an SSH client's connection, handed to the hop's ssh. A
/// refusal is one line on stderr and a bare SSH banner on stdout, so that the client ends the
/// connection without a guess of its own, as a refusal on the way does.
fn proxy(own: &OwnOptions, request: &Request) -> ExitCode {
    let refused = |code: ExitCode| {
        let _ = write_out(remote::REFUSAL_BANNER);
        code
    };
    let run = || -> anyhow::Result<ExitCode> {
        let mut system = System::new(own)?;
        match pinned_hop(request, &mut system)? {
            Ok(args) => Err(exec::exec(&system.ssh, &args, &[])),
            Err(code) => Ok(refused(code)),
        }
    };
    run().unwrap_or_else(|error| refused(output::fail("cssh", &error)))
}

/// `cssh --ssh-config [ssh options] [host ...]`: each host's key pinned (through the user's own
/// ssh to it, as a first connection would) and its block for `cssh --proxy`, whose ProxyCommand
/// carries the ssh options; no host: every configured host name without wildcards that has an
/// image.
fn ssh_config(own: &OwnOptions, args: &[OsString], system: &mut System) -> anyhow::Result<String> {
    let config = config::read(own.config.as_deref(), None)?;
    let grammar = system.grammar();
    let named = ssh_args::parse(args.to_vec(), &mut || grammar).is_ok();
    let (ssh_options, hosts) =
        doctor::split(args.to_vec(), &config, &mut || grammar, "--ssh-config")?;
    let tagged = |host: &OsString| {
        matches!(
            config::resolve(&config, host.as_encoded_bytes())
                .settings
                .image,
            Some(crate::settings::Image::Path(_))
        )
    };
    let store = keys::Store::open()?;
    let (identity, _) = store.client_key(&exec::keygen(&system.ssh)?)?;
    let cssh = std::env::current_exe().context("cannot tell where this cssh is")?;
    let mut proxy = Vec::new();
    if let Some(file) = &own.config {
        proxy.push("--config".into());
        proxy.push(file.clone().into_os_string());
    }
    proxy.push("--proxy".into());
    proxy.extend(ssh_options.iter().cloned());
    let mut text = format!(
        "# Written by cssh --ssh-config: {}HOST is HOST's container, for any SSH client.\n# Include this file at the top of ~/.ssh/config.\n",
        plan::NAME_PREFIX
    );
    for host in hosts.iter().filter(|h| named || tagged(h)) {
        let mut args = ssh_options.clone();
        args.push(host.clone());
        let request = Request {
            args: args.clone(),
            ..Request::default()
        };
        if pinned_hop(&request, system)?.is_err() {
            anyhow::bail!(
                "{}: cannot pin its key (its login node said why, above)",
                host.to_string_lossy()
            );
        }
        let resolved = system.resolved_ssh_config(&args)?;
        let user = resolved
            .lines()
            .find_map(|line| line.strip_prefix("user "))
            .ok_or_else(|| anyhow::anyhow!("ssh -G {} names no user", host.to_string_lossy()))?;
        text.push('\n');
        text.push_str(&plan::ssh_config_block(
            &host.to_string_lossy(),
            user,
            &cssh,
            &proxy,
            &identity,
            &store.known_hosts(),
        )?);
    }
    Ok(text)
}

/// The machine cssh runs on, as the plan sees it.
struct System {
    ssh: PathBuf,
    config_flag: Option<PathBuf>,
}

impl System {
    fn new(own: &OwnOptions) -> anyhow::Result<System> {
        Ok(System {
            ssh: exec::real_ssh()?,
            config_flag: own.config.clone(),
        })
    }
}

impl Local for System {
    fn grammar(&mut self) -> ssh_args::Grammar {
        ssh_args::Grammar::of(&exec::version_banner(&self.ssh))
    }

    fn config(&mut self, host: Option<&[u8]>) -> anyhow::Result<Config> {
        Ok(config::read(self.config_flag.as_deref(), host)?)
    }

    fn resolved_ssh_config(&mut self, args: &[OsString]) -> anyhow::Result<String> {
        exec::resolved_config(&self.ssh, args)
    }

    fn ssh_config_may_set(&mut self, config_file: Option<&OsStr>, keywords: &[&str]) -> bool {
        ssh_config::may_set(&ssh_config::Places::of(&self.ssh), config_file, keywords)
    }

    fn control_dir(&mut self) -> anyhow::Result<PathBuf> {
        exec::control_dir()
    }

    fn variable_names(&mut self) -> Vec<String> {
        std::env::vars_os()
            .filter_map(|(name, _)| name.into_string().ok())
            .collect()
    }

    fn programs(&mut self) -> anyhow::Result<(PathBuf, PathBuf)> {
        let me = std::env::current_exe().context("cannot tell where this cssh is")?;
        Ok((me, self.ssh.clone()))
    }

    fn values_record(&mut self, key: &str) -> anyhow::Result<Option<String>> {
        sent::lookup(key)
    }

    fn fresh_name(&mut self) -> String {
        sent::fresh_name()
    }

    fn job_keys(&mut self, alias: &str) -> anyhow::Result<plan::JobKeys> {
        let store = keys::Store::open()?;
        let (identity, public) = store.client_key(&exec::keygen(&self.ssh)?)?;
        Ok(plan::JobKeys {
            identity,
            public,
            known_hosts: store.known_hosts(),
            pinned: store.pinned(alias)?,
        })
    }
}
