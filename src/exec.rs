//! Finding the real ssh and replacing cssh with it.
//!
//! cssh `exec`s ssh rather than spawning it, so the terminal, signals, stdin/stdout and the exit
//! status are ssh's own and cssh is never in the data path. argv[0] is the real ssh's absolute
//! path: ProxyJump children that ssh starts from argv[0] then skip cssh as well.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

/// The ssh to run: `$CSSH_SSH` (a path or a name on PATH), else the first `ssh` on PATH that is
/// not cssh itself, so a link named `ssh` pointing at cssh never recurses.
pub fn real_ssh(cssh_ssh: Option<OsString>) -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe().and_then(|p| p.canonicalize()).ok();
    let is_me = |path: &Path| me.is_some() && path.canonicalize().ok() == me;
    if let Some(program) = cssh_ssh.filter(|p| !p.is_empty()) {
        let path = which::which(&program)
            .with_context(|| format!("CSSH_SSH={}: not found", program.to_string_lossy()))?;
        if is_me(&path) {
            bail!(
                "CSSH_SSH={} is cssh itself, not ssh",
                program.to_string_lossy()
            );
        }
        return Ok(path);
    }
    let found = which::which_all("ssh")
        .context("no ssh on PATH (install OpenSSH's client or set CSSH_SSH)")?;
    for path in found {
        if !is_me(&path) {
            return Ok(path);
        }
    }
    bail!("no ssh on PATH other than cssh itself (install OpenSSH's client or set CSSH_SSH)")
}

/// `ssh -V`'s banner, used only to learn how `-P` parses.
pub fn version_banner(ssh: &Path) -> String {
    Command::new(ssh)
        .arg("-V")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stderr).into_owned())
        .unwrap_or_default()
}

/// Replaces this process with `program args...`; returns only on failure.
pub fn exec(program: &Path, args: &[OsString]) -> anyhow::Error {
    let error = Command::new(program).arg0(program).args(args).exec();
    anyhow::Error::new(error).context(format!("cannot run {}", program.display()))
}
