//! cscp, csftp and crsync: the real scp, sftp or rsync with cssh as their ssh.
//!
//! Each takes `--cssh-config FILE` and `--cssh-dry-run` before the client's own arguments (named
//! so that no option of scp, sftp or rsync, which has `--config` and `--dry-run` of its own,
//! is ever taken), builds the client's new command line with its adapter (`clients`), and execs
//! the client, whose exit status is then the caller's.

use std::ffi::OsString;
use std::process::ExitCode;

use anyhow::anyhow;

use crate::clients::{rsync, scp_sftp};
use crate::exec;
use crate::output::{self, write_line, write_out};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Scp,
    Sftp,
    Rsync,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Scp => "cscp",
            Tool::Sftp => "csftp",
            Tool::Rsync => "crsync",
        }
    }

    fn client(self) -> &'static str {
        match self {
            Tool::Scp => "scp",
            Tool::Sftp => "sftp",
            Tool::Rsync => "rsync",
        }
    }
}

pub fn main(tool: Tool, argv: impl Iterator<Item = OsString>) -> ExitCode {
    run(tool, argv.skip(1).collect()).unwrap_or_else(|error| output::fail(tool.name(), &error))
}

#[derive(Debug, Default, PartialEq, Eq)]
struct WrapperOptions {
    config: Option<OsString>,
    dry_run: bool,
    help: bool,
    version: bool,
}

/// Takes the wrapper's own options off the front; the first other word is the client's.
fn split_wrapper_options(
    mut args: Vec<OsString>,
) -> anyhow::Result<(WrapperOptions, Vec<OsString>)> {
    let mut own = WrapperOptions::default();
    let mut taken = 0;
    while let Some(word) = args.get(taken) {
        match word.to_str() {
            Some("--cssh-config") => {
                let value = args
                    .get(taken + 1)
                    .ok_or_else(|| anyhow!("--cssh-config needs a file"))?;
                if value.as_encoded_bytes().starts_with(b"-") {
                    anyhow::bail!(
                        "--cssh-config needs a file ({} is an option)",
                        value.to_string_lossy()
                    );
                }
                own.config = Some(value.clone());
                taken += 1;
            }
            Some(w) if w.starts_with("--cssh-config=") => {
                own.config = Some(w["--cssh-config=".len()..].into());
            }
            Some("--cssh-dry-run") => own.dry_run = true,
            Some("--help") => own.help = true,
            Some("--version") => own.version = true,
            _ => break,
        }
        taken += 1;
    }
    args.drain(..taken);
    Ok((own, args))
}

fn run(tool: Tool, args: Vec<OsString>) -> anyhow::Result<ExitCode> {
    let (name, client) = (tool.name(), tool.client());
    let (own, args) = split_wrapper_options(args)?;
    if own.help {
        write_out(format!(
            "{name}: {client} with cssh as its ssh, so tagged hosts transfer inside their container\n\n\
             usage: {name} [--cssh-config FILE] [--cssh-dry-run] [{client} arguments]\n\n  \
             --cssh-config FILE  cssh's configuration (default: $CSSH_CONFIG, else ~/.config/cssh/config.toml)\n  \
             --cssh-dry-run      print the {client} command line, then exit\n  \
             --help, --version   {name}'s own; `{client} --help` has {client}'s\n\n\
             Everything else is {client}'s. See {name}(1), cssh(1) and cssh-config(5).\n"
        ).as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    if own.version {
        write_line(format!("{name} {}", env!("CARGO_PKG_VERSION")).as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    let cssh = exec::cssh()?;
    let program = exec::real_program(client, None)?;
    let mut plan = match tool {
        Tool::Scp => scp_sftp::plan(scp_sftp::SCP_OPTSTRING, args, &cssh),
        Tool::Sftp => scp_sftp::plan(scp_sftp::SFTP_OPTSTRING, args, &cssh),
        Tool::Rsync => rsync::plan(args, &cssh, std::env::var_os("RSYNC_RSH")),
    };
    if let Some(config) = own.config {
        plan.env.push(("CSSH_CONFIG", config));
    }
    if own.dry_run {
        let mut line = Vec::new();
        // `NAME=value` words before the program, as a shell runs them: the name bare (a quoted
        // assignment would be a command name), the value quoted.
        for (key, value) in &plan.env {
            line.extend_from_slice(key.as_bytes());
            line.push(b'=');
            line.extend_from_slice(&crate::quote::sh(value.as_encoded_bytes()));
            line.push(b' ');
        }
        line.extend(output::command_line(&program, &plan.args));
        write_line(&line)?;
        return Ok(ExitCode::SUCCESS);
    }
    Err(exec::exec(&program, &plan.args, &plan.env))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn only_the_wrappers_own_options_are_taken() {
        let (own, rest) = split_wrapper_options(os(&[
            "--cssh-config",
            "c.toml",
            "--cssh-dry-run",
            "--dry-run",
            "-a",
        ]))
        .unwrap();
        assert_eq!(own.config, Some(OsString::from("c.toml")));
        assert!(own.dry_run);
        assert_eq!(
            rest,
            os(&["--dry-run", "-a"]),
            "rsync's own --dry-run stays rsync's"
        );
        let (own, rest) =
            split_wrapper_options(os(&["--cssh-config=x", "--old-args", "--help"])).unwrap();
        assert_eq!((own.config, own.help), (Some(OsString::from("x")), false));
        assert_eq!(rest, os(&["--old-args", "--help"]));
        assert!(split_wrapper_options(os(&["--cssh-config"])).is_err());
    }
}
