//! Finding the real programs and replacing this process with one of them.
//!
//! cssh `exec`s ssh rather than spawning it, so the terminal, signals, stdin/stdout and the exit
//! status are ssh's own and cssh is never in the data path. argv[0] is the real program's
//! absolute path: ProxyJump children that ssh starts from argv[0] then skip cssh as well.
//!
//! Windows has no exec: there cssh starts ssh.exe with its own console and handles, leaves
//! Ctrl-C and Ctrl-Break to it, waits, and exits with its status. Rust quotes each argument by
//! the rules Windows programs use to split their command line, which ssh.exe follows.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use anyhow::{Context as _, bail};

/// The program `name` to run: `preferred` (a path or a name on PATH) if given, else the first
/// `name` on PATH that is not this very executable, so a link named `ssh` (or `scp`) pointing
/// at cssh (or cscp) never recurses.
pub fn real_program(name: &str, preferred: Option<(&str, OsString)>) -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe().and_then(|p| p.canonicalize()).ok();
    let is_me = |path: &Path| me.is_some() && path.canonicalize().ok() == me;
    if let Some((variable, program)) = preferred.filter(|(_, p)| !p.is_empty()) {
        let shown = program.to_string_lossy().into_owned();
        // A path is taken as it is (on Windows, also one without .exe); a name is looked up.
        let path = if shown.chars().any(std::path::is_separator) && Path::new(&program).is_file() {
            PathBuf::from(&program)
        } else if let Ok(path) = which::which(&program) {
            path
        } else if shown.chars().any(std::path::is_separator) {
            bail!("{variable}={shown}: no such program (set it to the path of {name}, or unset it)")
        } else {
            bail!("{variable}={shown}: not on PATH (set it to the path of {name}, or unset it)")
        };
        if is_me(&path) {
            bail!("{variable}={shown} is this program itself, not {name}");
        }
        return Ok(path);
    }
    let hint = format!("install {name} or put it on PATH");
    let found = which::which_all(name).with_context(|| format!("no {name} on PATH ({hint})"))?;
    for path in found {
        if !is_me(&path) {
            return Ok(path);
        }
    }
    bail!("no {name} on PATH other than this program itself ({hint})")
}

/// The ssh cssh runs: `$CSSH_SSH`, else the first other `ssh` on PATH; on Windows, else the
/// one Windows installs, `%SystemRoot%\System32\OpenSSH\ssh.exe`.
pub fn real_ssh() -> anyhow::Result<PathBuf> {
    let preferred = std::env::var_os("CSSH_SSH").map(|p| ("CSSH_SSH", p));
    let found = real_program("ssh", preferred.clone());
    #[cfg(windows)]
    if found.is_err() && preferred.is_none() {
        let system = std::env::var_os("SystemRoot").map(PathBuf::from);
        if let Some(ssh) = system.map(|root| root.join(r"System32\OpenSSH\ssh.exe"))
            && ssh.is_file()
        {
            return Ok(ssh);
        }
    }
    found
}

/// The ssh-keygen of the same OpenSSH as `ssh`: beside it, else the first on PATH.
pub fn keygen(ssh: &Path) -> anyhow::Result<PathBuf> {
    let beside = ssh.with_file_name(format!("ssh-keygen{}", std::env::consts::EXE_SUFFIX));
    if beside.is_file() {
        return Ok(beside);
    }
    which::which("ssh-keygen")
        .context("no ssh-keygen beside ssh or on PATH (it makes the key of your jobs' sshd)")
}

/// The cssh that cscp, csftp and crsync hand to their client: the one installed beside them,
/// else the first on PATH. Always an absolute path, since scp and sftp run it as given.
pub fn cssh() -> anyhow::Result<PathBuf> {
    let beside = std::env::current_exe()
        .ok()
        .map(|me| me.with_file_name(format!("cssh{}", std::env::consts::EXE_SUFFIX)));
    if let Some(path) = beside.filter(|p| p.is_file()) {
        return Ok(path);
    }
    which::which("cssh").context("cssh is neither installed beside this program nor on PATH")
}

/// `ssh -V`'s banner, used only to learn how `-P` parses.
pub fn version_banner(ssh: &Path) -> String {
    Command::new(ssh)
        .arg("-V")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stderr).into_owned())
        .unwrap_or_default()
}

/// What `ssh -G` resolves for a command line (no connection is made).
pub fn resolved_config(ssh: &Path, args: &[OsString]) -> anyhow::Result<String> {
    let out = Command::new(ssh)
        .arg("-G")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {} -G", ssh.display()))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `program args...` with stdin closed and stderr the user's, and gives its status and
/// stdout.
pub fn output(program: &Path, args: &[OsString]) -> anyhow::Result<(ExitStatus, Vec<u8>)> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run {}", program.display()))?;
    Ok((out.status, out.stdout))
}

/// Runs `program args...` with `input` on its stdin, its stdout discarded and stderr the
/// user's, and gives its status (one that ended before reading it all fails by its status).
pub fn feed(program: &Path, args: &[OsString], input: &[u8]) -> anyhow::Result<ExitStatus> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot run {}", program.display()))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = std::io::Write::write_all(&mut stdin, input);
    }
    child
        .wait()
        .with_context(|| format!("cannot wait for {}", program.display()))
}

/// A private directory for connection-sharing sockets: under `$XDG_RUNTIME_DIR`, else the
/// cache directory, mode 0700.
#[cfg(unix)]
pub fn control_dir() -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let dir = match dirs::runtime_dir() {
        Some(runtime) => runtime.join("cssh"),
        None => dirs::cache_dir()
            .context("no home directory for connection sockets")?
            .join("cssh")
            .join("control"),
    };
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)))
        .with_context(|| format!("cannot make {} for connection sockets", dir.display()))?;
    Ok(dir)
}

/// Windows' OpenSSH has no connection sharing (ControlMaster): `persist` is not used there.
#[cfg(not(unix))]
pub fn control_dir() -> anyhow::Result<PathBuf> {
    bail!("connection sharing (persist) needs ControlMaster, which this system's ssh lacks")
}

/// Replaces this process with `program args...` and the extra environment; returns only on
/// failure.
#[cfg(unix)]
pub fn exec(program: &Path, args: &[OsString], env: &[(&str, OsString)]) -> anyhow::Error {
    use std::os::unix::process::CommandExt;
    let mut command = Command::new(program);
    command.arg0(program).args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    if inherited::pipe_ignored() {
        // SAFETY: the hook makes one async-signal-safe call.
        unsafe {
            command.pre_exec(inherited::ignore_pipe);
        }
    }
    anyhow::Error::new(command.exec()).context(format!("cannot run {}", program.display()))
}

/// What cssh's caller gave it that Rust changes on the way to the program cssh execs: the
/// runtime ignores SIGPIPE before `main`, and `Command` sets it to the default in the child. A
/// caller that ignores SIGPIPE (`trap '' PIPE`, systemd's services) must see ssh ignore it too,
/// as when it runs ssh itself. The disposition is read before `main` (a constructor in
/// `.init_array`) and set again just before the exec. (The signal mask and the other
/// dispositions pass through exec untouched.)
#[cfg(unix)]
mod inherited {
    use std::sync::atomic::{AtomicBool, Ordering};

    static PIPE_IGNORED: AtomicBool = AtomicBool::new(false);

    /// Runs before Rust's runtime starts (which ignores SIGPIPE): a query only.
    extern "C" fn capture() {
        // SAFETY: a null new action only reads the current one into zeroed memory.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGPIPE, std::ptr::null(), &raw mut action) == 0 {
                PIPE_IGNORED.store(action.sa_sigaction == libc::SIG_IGN, Ordering::Relaxed);
            }
        }
    }

    #[used]
    #[cfg_attr(
        target_vendor = "apple",
        unsafe(link_section = "__DATA,__mod_init_func")
    )]
    #[cfg_attr(not(target_vendor = "apple"), unsafe(link_section = ".init_array"))]
    static CAPTURE: extern "C" fn() = capture;

    /// Whether cssh started with SIGPIPE ignored.
    pub fn pipe_ignored() -> bool {
        PIPE_IGNORED.load(Ordering::Relaxed)
    }

    /// In the child, after `Command`'s own reset: SIGPIPE ignored again.
    pub fn ignore_pipe() -> std::io::Result<()> {
        // SAFETY: signal(2) is async-signal-safe and changes only this process's disposition.
        match unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) } {
            libc::SIG_ERR => Err(std::io::Error::last_os_error()),
            _ => Ok(()),
        }
    }
}

/// Runs `program args...` with the extra environment in this console and exits with its
/// status; returns only when it cannot start.
#[cfg(windows)]
pub fn exec(program: &Path, args: &[OsString], env: &[(&str, OsString)]) -> anyhow::Error {
    let mut command = Command::new(program);
    command.args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    console::leave_interrupts_to_children();
    match command.status() {
        Ok(status) => std::process::exit(status.code().unwrap_or(255)),
        Err(e) => anyhow::Error::new(e).context(format!("cannot run {}", program.display())),
    }
}

/// The console's Ctrl-C and Ctrl-Break reach every process attached to it: cssh ignores them,
/// so that ssh.exe decides what they do and cssh still exits with ssh's status.
#[cfg(windows)]
mod console {
    const CTRL_BREAK_EVENT: u32 = 1;

    unsafe extern "system" {
        fn SetConsoleCtrlHandler(
            handler: Option<unsafe extern "system" fn(u32) -> i32>,
            add: i32,
        ) -> i32;
    }

    /// Handled (ignored) for Ctrl-C (0) and Ctrl-Break (1); a closing console ends cssh as usual.
    unsafe extern "system" fn ignore_interrupts(event: u32) -> i32 {
        i32::from(event <= CTRL_BREAK_EVENT)
    }

    pub fn leave_interrupts_to_children() {
        // SAFETY: registers a handler that touches no memory; the call has no other effect.
        unsafe {
            SetConsoleCtrlHandler(Some(ignore_interrupts), 1);
        }
    }
}
