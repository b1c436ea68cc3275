//! What every end-to-end test shares: the test host (brought up once per run, or the run fails
//! saying why), cssh and ssh invocations against it; and what both test binaries share.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub use crate::support::*;

pub const FULL_SIF: &str = "/opt/th/full.sif";
pub const FULL_SANDBOX: &str = "/opt/th/full-sandbox";
/// The full image as a plain SquashFS file (Charliecloud's other kind of image).
pub const FULL_SQUASHFS: &str = "/opt/th/full.sqfs";
pub const SPACE_SIF: &str = "/opt/th/dir with space/full.sif";
pub const BARE_SIF: &str = "/opt/th/bare.sif";
/// The bare image with a %environment section of its own, and with a docker-style one.
pub const ENV_SIF: &str = "/opt/th/env.sif";
pub const DOCKER_SIF: &str = "/opt/th/docker.sif";
/// Debian trixie with Slurm's client, the cluster's own release: srun runs inside it (with
/// the cluster's configuration and munge's socket bound in).
pub const SLURM_SIF: &str = "/opt/th/slurm.sif";
pub const FULL_MARKER: &str = "cssh-testhost image marker: full bookworm image\n";
pub const BARE_MARKER: &str = "cssh-testhost image marker: bare bookworm image\n";
pub const REMOTE_MARKER: &str = "cssh-testhost remote marker: the host (trixie), not a container\n";
/// The test host's Slurm cluster's name (ClusterName in tests/testhost/testhost's slurm.conf).
pub const SLURM_CLUSTER: &str = "cssh";
/// What loads the module-only runtime on the test host, as a site's documentation would say.
pub const MODULE_PRELUDE: &str = ". /usr/share/modules/init/sh && module load modtainer";

pub struct TestHost {
    pub ssh_config: PathBuf,
    /// The remote root filesystem as the client sees it.
    pub root: PathBuf,
    /// One ssh alias per login shell: th-bash, th-sh, th-dash, th-zsh, th-tcsh, th-csh, th-fish.
    pub aliases: Vec<String>,
    pub image_marker: String,
    pub remote_marker: String,
    pub port: String,
    /// Login nodes of other kinds of site (rhel-lmod, setuid...): alias `SITE-SHELL` per
    /// login shell, as `th-SHELL` for the login node.
    pub sites: Vec<String>,
    /// What th-noisy's ~/.bashrc prints for every shell, interactive or not.
    pub noise: String,
}

/// The running test host. The first call runs `testhost up`, which builds the host if needed;
/// if that fails, every end-to-end test fails with the builder's reason.
pub fn host() -> &'static TestHost {
    static HOST: OnceLock<Result<TestHost, String>> = OnceLock::new();
    HOST.get_or_init(bring_up)
        .as_ref()
        .unwrap_or_else(|why| panic!("the test host is not available: {why}"))
}

/// `tests/NAME up` (the test host's or the clients' builder): its path, or why it failed.
pub fn built(name: &str) -> Result<PathBuf, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(name);
    let up = Command::new(&script)
        .arg("up")
        .stdout(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    if !up.status.success() {
        return Err(format!(
            "`{} up` failed: {}",
            script.display(),
            String::from_utf8_lossy(&up.stderr).trim()
        ));
    }
    Ok(script)
}

fn bring_up() -> Result<TestHost, String> {
    let script = built("testhost/testhost")?;
    // The job sshd's host keys pinned by an earlier run may be those of a test host since built
    // anew: every run pins them again (cargo sets XDG_DATA_HOME under target/, .cargo/config.toml).
    if let Some(data) = std::env::var_os("XDG_DATA_HOME") {
        let _ = std::fs::remove_file(Path::new(&data).join("cssh/known_hosts"));
    }
    // A host left running by an earlier run may hold its Slurm and HTCondor jobs, which would
    // reach their time limit in the middle of this one: every run starts with empty queues.
    let cancel = Command::new(&script)
        .args([
            "admin",
            "sh",
            "-c",
            "squeue --noheader --format=%i | xargs -r scancel; condor_rm -all >/dev/null 2>&1; true",
        ])
        .output()
        .map_err(|e| e.to_string())?;
    if !cancel.status.success() {
        return Err(format!(
            "cancelling earlier Slurm jobs failed: {}",
            String::from_utf8_lossy(&cancel.stderr).trim()
        ));
    }
    let env = Command::new(&script)
        .arg("env")
        .output()
        .map_err(|e| e.to_string())?;
    let vars: HashMap<String, String> = String::from_utf8_lossy(&env.stdout)
        .lines()
        .filter_map(|line| {
            line.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let var = |name: &str| {
        vars.get(name)
            .cloned()
            .ok_or(format!("`testhost env` does not say {name}"))
    };
    let root: PathBuf = var("CSSH_TESTHOST_ROOT")?.into();
    forget_values_sent_before(&root.with_file_name("stamp"));
    Ok(TestHost {
        ssh_config: var("CSSH_TESTHOST_SSH_CONFIG")?.into(),
        root,
        aliases: var("CSSH_TESTHOST_ALIASES")?
            .split(' ')
            .map(String::from)
            .collect(),
        image_marker: var("CSSH_TESTHOST_IMAGE_MARKER")?,
        remote_marker: var("CSSH_TESTHOST_REMOTE_MARKER")?,
        port: var("CSSH_TESTHOST_PORT")?,
        sites: var("CSSH_TESTHOST_SITES")?
            .split(' ')
            .map(str::to_string)
            .collect(),
        noise: var("CSSH_TESTHOST_NOISE")?,
    })
}

/// The host's values (`prelude`, `env`) go once into the homes of the test host; a test host
/// built anew (its `stamp` written then) has fresh homes: this machine's records that they went
/// (cssh's cache, `sent/`) from before are removed, so that they go again.
fn forget_values_sent_before(stamp: &Path) {
    let Ok(built) = std::fs::metadata(stamp).and_then(|m| m.modified()) else {
        return;
    };
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")));
    let Some(Ok(records)) = cache.map(|cache| std::fs::read_dir(cache.join("cssh/sent"))) else {
        return;
    };
    for record in records.flatten() {
        if record
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t < built)
        {
            let _ = std::fs::remove_file(record.path());
        }
    }
}

/// A command run as root on the test host's login node (`testhost admin`), e.g. scontrol.
pub fn admin(command: &[&str]) -> Output {
    host();
    let out = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testhost/testhost"))
        .arg("admin")
        .args(command)
        .stdin(Stdio::null())
        .output()
        .expect("runs testhost admin");
    assert!(
        out.status.success(),
        "admin {command:?}: {}",
        describe(&out)
    );
    out
}

/// Plain OpenSSH against the test host.
pub fn ssh(alias: &str, command: &[&str]) -> Output {
    let host = host();
    Command::new("ssh")
        .arg("-F")
        .arg(&host.ssh_config)
        .arg(alias)
        .args(command)
        .output()
        .expect("runs ssh")
}

/// cssh against the test host with the given configuration text; the caller adds arguments.
pub fn cssh(config: &Scratch) -> Command {
    let host = host();
    let mut command = Command::new(CSSH);
    command
        .env("CSSH_CONFIG", config.path("config.toml"))
        .env_remove("CSSH_SSH")
        .arg("-F")
        .arg(&host.ssh_config);
    command
}

/// `cssh --release` of `alias` as `user`.
pub fn release(config: &Scratch, user: &str, alias: &str) -> Output {
    run(Command::new(CSSH)
        .env("CSSH_CONFIG", config.path("config.toml"))
        .args(["--release", "-F"])
        .arg(&host().ssh_config)
        .args(["-l", user, alias]))
}

/// A configuration that tags every test host alias except th-plain (the other sites' login
/// nodes' too), and the host's bare address, with `image`.
pub fn tagging(image: &str, extra: &str) -> Scratch {
    let sites: Vec<String> = host()
        .sites
        .iter()
        .map(|site| format!("{site}-*"))
        .collect();
    Scratch::new(&format!(
        "[[host]]\npattern = \"th-* {} 127.0.0.1 !th-plain\"\nimage = {image:?}\n{extra}\n",
        sites.join(" ")
    ))
}

/// A port of 127.0.0.1 that nothing listens on now.
pub fn free_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds a port");
    listener
        .local_addr()
        .expect("has an address")
        .port()
        .to_string()
}

/// Runs a command with `input` on its stdin, collecting stdout and stderr.
pub fn run_with_input(command: &mut Command, input: &[u8]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // A writer thread: a command may answer before it has read all of its input.
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("waits");
    writer.join().unwrap();
    out
}

/// A tmux server of its own, killed when dropped.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    pub fn start(command: &str) -> Tmux {
        let tmux = Tmux {
            socket: format!("cssh-e2e-{}-{}", std::process::id(), rand_suffix()),
        };
        let status = Command::new("tmux")
            .args([
                "-L",
                &tmux.socket,
                "new-session",
                "-d",
                "-x",
                "160",
                "-y",
                "40",
                command,
            ])
            .status()
            .expect("tmux runs");
        assert!(status.success());
        tmux
    }

    pub fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-J"])
            .output()
            .unwrap();
        text(&out.stdout)
    }

    pub fn keys(&self, keys: &str) {
        let status = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-l", keys])
            .status()
            .unwrap();
        assert!(status.success());
        Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "Enter"])
            .status()
            .unwrap();
    }

    /// Presses one key by tmux's name for it (`C-c`, `C-z`).
    pub fn press(&self, key: &str) {
        let status = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", key])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the first output (the shell's prompt): keys typed earlier may be discarded.
    /// Waits until the screen's last line ends as a shell's prompt does (`$`, `#`, `>`, `%`):
    /// keys typed before the shell reads them can be lost (a Slurm step's terminal starts
    /// after the line that says the job's time left).
    pub fn wait_for_prompt(&self) {
        self.wait_until("a prompt", |screen| {
            screen
                .lines()
                .rev()
                .find(|line| !line.trim().is_empty())
                .is_some_and(|line| line.trim_end().ends_with(['$', '#', '>', '%']))
        });
    }

    /// Waits until the screen shows `what`, for at most 20 s (a readiness check, not a delay).
    pub fn wait_for(&self, what: &str) -> String {
        self.wait_until(what, |screen| screen.contains(what))
    }

    pub fn wait_until(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "waited 20 s for {what}; the screen shows:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

pub fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// A shell line that prints `capbnd=MASK`, the command's capability bounding set: empty when
/// Apptainer's starter ran it, the session's when cssh joined the instance by its namespaces
/// (a join from outside cannot drop it). Builtins only: the bare images have no grep.
pub const CAPBND: &str =
    "while read -r k v; do case $k in CapBnd:) echo \"capbnd=$v\" ;; esac; done </proc/self/status";

/// Whether a command's output shows it was joined by its namespaces, not through the runtime.
pub fn joined_by_namespaces(stdout: &str) -> bool {
    stdout
        .lines()
        .any(|l| l.starts_with("capbnd=") && l != "capbnd=0000000000000000")
}

/// Polls `done` until it says yes, for at most 30 s (a readiness check, not a delay); its
/// last no says what was seen instead.
pub fn wait_until(what: &str, mut done: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Err(seen) = done() {
        assert!(Instant::now() < deadline, "waited 30 s for {what}: {seen}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Submits `description` (a submit file's lines, `queue` added) as `user` from the login node;
/// the job's id, `CLUSTER.0`.
pub fn condor_submit(alias: &str, user: &str, description: &str) -> String {
    let file = format!("cssh-e2e-{}.sub", rand_suffix());
    let path = host().root.join(format!("home/{user}/{file}"));
    std::fs::write(&path, format!("{description}\nqueue\n")).unwrap();
    let out = ssh(alias, &["condor_submit", "-terse", &file]);
    std::fs::remove_file(&path).unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    // -terse prints `FIRST - LAST`.
    text(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// What a command that prints `NAME=VALUE` words on its first line, then the image's marker,
/// reported: the value of each name (empty where it printed none). Checked: it succeeded, in the
/// full image.
pub fn reported(out: &Output) -> impl Fn(&str) -> String {
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", describe(out));
    let (line, marker) = stdout.split_once('\n').unwrap_or_default();
    assert!(
        marker.starts_with(FULL_MARKER),
        "in the image: {}",
        describe(out)
    );
    let line = line.to_string();
    move |name: &str| {
        line.split(' ')
            .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
            .unwrap_or_default()
            .to_string()
    }
}

/// The name of an instance a test's commands start, stopped when the test ends, passed or
/// failed: an instance outlives the session that started it.
pub struct Instance {
    pub alias: &'static str,
    pub name: String,
}

impl Instance {
    pub fn new(alias: &'static str, prefix: &str) -> Instance {
        Instance {
            alias,
            name: format!("{prefix}{}", rand_suffix() % 1_000_000),
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = ssh(self.alias, &["apptainer", "instance", "stop", &self.name]);
    }
}

/// What a session wrote to stderr, less cssh's lines for a wait without a terminal (one per
/// change of the job's state, one when it starts: a first session gets them when its job waited
/// 5 s or more, which a loaded machine makes of any start).
pub fn said(stderr: &[u8]) -> String {
    text(stderr)
        .split_inclusive('\n')
        .filter(|line| {
            let line = line.trim_end_matches('\n');
            !(line.starts_with("cssh: ")
                && (line.contains(" s; ending the connection ")
                    || (line.contains(": job ")
                        && line.contains(" started after ")
                        && line.ends_with(" s"))))
        })
        .collect()
}
