//! What a plan asks of the machine it runs on, through one trait ([`Local`]): ssh's grammar, the
//! configuration, `ssh -G`, whether ssh_config files mention a keyword, a private directory for
//! connection sharing, cssh's own variables, the programs and the job sshd's keys. [`Given`]
//! answers from values, for tests and fuzzing; [`Remembering`] runs `ssh -G` once per command
//! line however many decisions ask.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

use crate::config::Config;
use crate::ssh_args;

/// What a plan asks of the machine it runs on.
pub trait Local {
    /// What of ssh's grammar the real ssh's version decides (`-P`, `-Z`).
    fn grammar(&mut self) -> ssh_args::Grammar;
    /// The configuration; given a host, it may hold only the entries that match it.
    fn config(&mut self, host: Option<&[u8]>) -> anyhow::Result<Config>;
    /// What `ssh -G` resolves for these arguments (no connection is made).
    fn resolved_ssh_config(&mut self, args: &[OsString]) -> anyhow::Result<String>;
    /// Whether the ssh_config files read with `-F config_file` (if any) could set one of
    /// `keywords` (lower case) at all: when not, `ssh -G` need not run to tell. Unless told
    /// otherwise, they could.
    fn ssh_config_may_set(&mut self, _config_file: Option<&OsStr>, _keywords: &[&str]) -> bool {
        true
    }
    /// A private directory for connection-sharing sockets.
    fn control_dir(&mut self) -> anyhow::Result<PathBuf>;
    /// The names of cssh's own environment variables: what ssh's SendEnv patterns match.
    fn variable_names(&mut self) -> Vec<String>;
    /// This program, and the real ssh: a ProxyCommand runs the one to exec the other. Unless
    /// told, neither is known.
    fn programs(&mut self) -> anyhow::Result<(PathBuf, PathBuf)> {
        anyhow::bail!("no programs here")
    }
    /// The job sshd's client key, made the first time, and the host key pinned for `alias`.
    /// Unless told, there is none.
    fn job_keys(&mut self, _alias: &str) -> anyhow::Result<JobKeys> {
        anyhow::bail!("no keys here")
    }
    /// The name on the remote of the values recorded as sent under `key` (see `values`), if
    /// they went. Unless told, none did.
    fn values_record(&mut self, _key: &str) -> anyhow::Result<Option<String>> {
        Ok(None)
    }
    /// A name for values not sent yet, that tells nothing of them. Unless told, a fixed one.
    fn fresh_name(&mut self) -> String {
        "fresh".into()
    }
}

/// What connections to a job's own sshd use on this machine (see `keys`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobKeys {
    /// The client key's private file.
    pub identity: PathBuf,
    /// Its public line, which the job's sshd admits.
    pub public: String,
    /// The file of pinned host keys.
    pub known_hosts: PathBuf,
    /// The host key pinned for the alias asked about (`TYPE BASE64`), and its line.
    pub pinned: Option<(String, usize)>,
}

/// A [`Local`] that answers from given values and runs nothing: for tests and fuzzing.
#[derive(Debug, Clone, Default)]
pub struct Given {
    pub config: Config,
    pub grammar: ssh_args::Grammar,
    pub ssh_config: String,
    /// The ssh_config files mention nothing cssh would ask `ssh -G` about.
    pub ssh_config_silent: bool,
    pub control_dir: PathBuf,
    pub variable_names: Vec<String>,
    /// The job sshd's keys; `pinned` answers for every alias.
    pub job_keys: JobKeys,
    /// The name recorded for every host's values, as if they went.
    pub values_sent: Option<String>,
}

impl Local for Given {
    fn grammar(&mut self) -> ssh_args::Grammar {
        self.grammar
    }

    fn config(&mut self, _: Option<&[u8]>) -> anyhow::Result<Config> {
        Ok(self.config.clone())
    }

    fn resolved_ssh_config(&mut self, _: &[OsString]) -> anyhow::Result<String> {
        Ok(self.ssh_config.clone())
    }

    fn ssh_config_may_set(&mut self, _: Option<&OsStr>, _: &[&str]) -> bool {
        !self.ssh_config_silent
    }

    fn control_dir(&mut self) -> anyhow::Result<PathBuf> {
        Ok(self.control_dir.clone())
    }

    fn variable_names(&mut self) -> Vec<String> {
        self.variable_names.clone()
    }

    fn programs(&mut self) -> anyhow::Result<(PathBuf, PathBuf)> {
        Ok(("/usr/bin/cssh".into(), "/usr/bin/ssh".into()))
    }

    fn job_keys(&mut self, _: &str) -> anyhow::Result<JobKeys> {
        Ok(self.job_keys.clone())
    }

    fn values_record(&mut self, _key: &str) -> anyhow::Result<Option<String>> {
        Ok(self.values_sent.clone())
    }
}

/// A [`Local`] that runs `ssh -G` once for a command line, however many decisions ask.
pub(super) struct Remembering<'a> {
    local: &'a mut dyn Local,
    resolved: Option<(Vec<OsString>, String)>,
}

impl<'a> Remembering<'a> {
    pub(super) fn new(local: &'a mut dyn Local) -> Self {
        Remembering {
            local,
            resolved: None,
        }
    }
}

impl Local for Remembering<'_> {
    fn grammar(&mut self) -> ssh_args::Grammar {
        self.local.grammar()
    }

    fn config(&mut self, host: Option<&[u8]>) -> anyhow::Result<Config> {
        self.local.config(host)
    }

    fn resolved_ssh_config(&mut self, args: &[OsString]) -> anyhow::Result<String> {
        if let Some((asked, resolved)) = &self.resolved
            && asked == args
        {
            return Ok(resolved.clone());
        }
        let resolved = self.local.resolved_ssh_config(args)?;
        self.resolved = Some((args.to_vec(), resolved.clone()));
        Ok(resolved)
    }

    fn ssh_config_may_set(&mut self, config_file: Option<&OsStr>, keywords: &[&str]) -> bool {
        self.local.ssh_config_may_set(config_file, keywords)
    }

    fn control_dir(&mut self) -> anyhow::Result<PathBuf> {
        self.local.control_dir()
    }

    fn variable_names(&mut self) -> Vec<String> {
        self.local.variable_names()
    }

    fn programs(&mut self) -> anyhow::Result<(PathBuf, PathBuf)> {
        self.local.programs()
    }

    fn job_keys(&mut self, alias: &str) -> anyhow::Result<JobKeys> {
        self.local.job_keys(alias)
    }

    fn values_record(&mut self, key: &str) -> anyhow::Result<Option<String>> {
        self.local.values_record(key)
    }

    fn fresh_name(&mut self) -> String {
        self.local.fresh_name()
    }
}
