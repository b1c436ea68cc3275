//! cscp, csftp and crsync: the real scp, sftp or rsync with cssh as their ssh.
//!
//! Each takes cssh's `--config FILE` and `--dry-run` before the client's own arguments, builds
//! the client's new command line with its adapter (`scp_sftp`, `rsync`), and execs the client,
//! whose exit status is then the caller's.

use std::ffi::OsString;
use std::process::ExitCode;

use anyhow::bail;

use crate::cli::{self, EXIT_CSSH_ERROR};
use crate::exec;
use crate::{rsync, scp_sftp};

/// A client's command line, and the environment cssh gets through it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolPlan {
    pub args: Vec<OsString>,
    pub env: Vec<(&'static str, OsString)>,
}

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
    match run(tool, argv.skip(1).collect()) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("{}: {error:#}", tool.name());
            ExitCode::from(EXIT_CSSH_ERROR)
        }
    }
}

fn run(tool: Tool, args: Vec<OsString>) -> anyhow::Result<ExitCode> {
    let (name, client) = (tool.name(), tool.client());
    let (own, args) = cli::split_own_options(args)?;
    if own.help {
        print!(
            "{name}: {client} with cssh as its ssh, so tagged hosts transfer inside their container\n\n\
             usage: {name} [--config FILE] [--dry-run] [{client} arguments]\n\n  \
             --config FILE  cssh's configuration (default: $CSSH_CONFIG, else ~/.config/cssh/config.toml)\n  \
             --dry-run      print the {client} command line, then exit\n\n\
             Everything else is {client}'s. See {name}(1), cssh(1) and cssh-config(5).\n"
        );
        return Ok(ExitCode::SUCCESS);
    }
    if own.version {
        println!("{name} {}", env!("CARGO_PKG_VERSION"));
        return Ok(ExitCode::SUCCESS);
    }
    if own.image.is_some() || own.no_container || own.explain || own.rsync_path {
        bail!("only --config and --dry-run go before {client}'s arguments (the others are cssh's)");
    }
    let cssh = exec::cssh()?;
    let program = exec::real_program(client, None)?;
    let mut plan = match tool {
        Tool::Scp => scp_sftp::plan(scp_sftp::SCP_OPTSTRING, args, &cssh),
        Tool::Sftp => scp_sftp::plan(scp_sftp::SFTP_OPTSTRING, args, &cssh),
        Tool::Rsync => rsync::plan(args, &cssh, std::env::var_os("RSYNC_RSH")),
    };
    if let Some(config) = own.config {
        plan.env.push(("CSSH_CONFIG", config.into_os_string()));
    }
    if own.dry_run {
        let mut line = Vec::new();
        for (key, value) in &plan.env {
            let assignment = [key.as_bytes(), b"=", value.as_encoded_bytes()].concat();
            line.extend(crate::quote::sh(&assignment)?.iter());
            line.push(b' ');
        }
        line.extend(cli::command_line(&program, &plan.args)?);
        cli::write_line(&line)?;
        return Ok(ExitCode::SUCCESS);
    }
    Err(exec::exec(&program, &plan.args, &plan.env))
}
