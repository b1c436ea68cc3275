//! Any SSH client, no wrapper: `cssh --ssh-config` writes the blocks, and clients that never see
//! cssh on their command line (OpenSSH's ssh, scp in both modes, sftp, rsync, git; Paramiko and
//! asyncssh; VS Code's argv shape) reach the container through `ProxyCommand cssh --proxy`: on
//! the login node and in a Slurm allocation, for a bash, a tcsh and a fish user. Commands are
//! exact, exit statuses and 4 MiB of binary data come back, a pty shell and SFTP work, and a
//! forward ends where the session runs (the process that holds it says so). An untagged host's
//! ProxyCommand is refused in one line.

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Output, Stdio};

use crate::commands::{corpus, expected_output, printf_command};
use crate::harness::*;
use crate::held::*;

/// Where the client's sessions run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The login node's container.
    Login,
    /// The host's own Slurm allocation.
    Slurm,
}

const KINDS: [Kind; 2] = [Kind::Login, Kind::Slurm];

/// One login shell of each kind (sh-like, csh-like, fish), by their login alias.
const USERS: [(&str, &str); 3] = [
    ("th-bash", "bashuser"),
    ("th-tcsh", "tcshuser"),
    ("th-fish", "fishuser"),
];

/// Prints where a command runs: the host name and the Slurm job, then the image's marker.
const WHERE: &str = "echo host=$(hostname) job=${SLURM_JOB_ID:-none}; cat /etc/cssh-image-marker";

/// A host whose container plain clients reach as `cssh.HOST`, by the blocks `cssh --ssh-config`
/// wrote into an ssh_config file of its own (which names nothing else: the login node is
/// reached by the test host's, which cssh's ProxyCommand carries).
struct Proxied {
    kind: Kind,
    user: &'static str,
    host: String,
    scratch: Scratch,
}

impl Proxied {
    fn new(kind: Kind, (_, user): (&'static str, &'static str)) -> Proxied {
        let name = format!("th-px-{}", rand_suffix());
        let slurm = match kind {
            Kind::Login => "",
            Kind::Slurm => "slurm = [\"--time=10\"]",
        };
        let scratch = Scratch::new(&format!(
            "[[host]]\npattern = \"{name}\"\nimage = \"{FULL_SIF}\"\n{slurm}\n"
        ));
        let out = run(Command::new(CSSH)
            .env_remove("CSSH_CONFIG")
            .arg("--config")
            .arg(scratch.path("config.toml"))
            .args(["--ssh-config", "-F"])
            .arg(&host().ssh_config)
            .args(["-l", user, &name]));
        assert!(out.status.success(), "--ssh-config: {}", describe(&out));
        std::fs::write(scratch.path("ssh_config"), &out.stdout).unwrap();
        Proxied {
            kind,
            user,
            host: name,
            scratch,
        }
    }

    /// The name clients use.
    fn name(&self) -> String {
        format!("cssh.{}", self.host)
    }

    /// A client program with the ssh_config file: `PROGRAM -F FILE ARGS...` (cssh nowhere).
    fn client(&self, program: &str, args: &[&str]) -> Command {
        let mut command = Command::new(program);
        command
            .env_remove("CSSH_CONFIG")
            .arg("-F")
            .arg(self.scratch.path("ssh_config"))
            .args(args);
        command
    }

    /// `ssh -F FILE [OPTIONS] cssh.HOST [REMOTE]`.
    fn ssh(&self, options: &[&str], remote: &[&OsStr]) -> Command {
        let mut command = self.client("ssh", options);
        command.arg(self.name()).args(remote);
        command
    }

    /// `python3 sshclient.py LIBRARY FILE cssh.HOST ACTION ARGS...`.
    fn python(&self, library: &str, action: &str, args: &[&OsStr]) -> Command {
        let mut command = Command::new("python3");
        command
            .env_remove("CSSH_CONFIG")
            .env("PYTHONWARNINGS", "ignore")
            .arg(repo("tests/e2e/sshclient.py"))
            .arg(library)
            .arg(self.scratch.path("ssh_config"))
            .arg(self.name())
            .arg(action)
            .args(args);
        command
    }

    /// The same request by each client: OpenSSH's ssh, Paramiko, asyncssh.
    fn each_client(&self, remote: &[u8], stdin: &[u8]) -> Vec<(&'static str, Output)> {
        let remote = OsStr::from_bytes(remote);
        vec![
            ("ssh", run_with_input(&mut self.ssh(&[], &[remote]), stdin)),
            (
                "paramiko",
                run_with_input(&mut self.python("paramiko", "exec", &[remote]), stdin),
            ),
            (
                "asyncssh",
                run_with_input(&mut self.python("asyncssh", "exec", &[remote]), stdin),
            ),
        ]
    }

    /// Checks that a `WHERE` command ran in the image, on the login node or a node of the
    /// allocation.
    fn landed(&self, client: &str, out: &Output) {
        let field = reported(out);
        let (host, job) = (field("host"), field("job"));
        match self.kind {
            Kind::Login => assert!(
                host == "th-remote" && job == "none",
                "{self:?} by {client}: on the login node: {}",
                describe(out)
            ),
            Kind::Slurm => assert!(
                host.starts_with("node") && job.bytes().all(|b| b.is_ascii_digit()),
                "{self:?} by {client}: in the allocation: {}",
                describe(out)
            ),
        }
        assert!(
            text(&out.stdout).ends_with(FULL_MARKER),
            "{self:?} by {client}: in the image: {}",
            describe(out)
        );
    }
}

impl std::fmt::Debug for Proxied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} of {}", self.kind, self.user)
    }
}

impl Drop for Proxied {
    fn drop(&mut self) {
        if self.kind == Kind::Slurm {
            let _ = run(Command::new(CSSH)
                .arg("--config")
                .arg(self.scratch.path("config.toml"))
                .args(["--release", "-F"])
                .arg(&host().ssh_config)
                .args(["-l", self.user, &self.host]));
        }
    }
}

/// Runs `check` for every kind (each in a thread of its own, at once) and every user.
fn for_every_host(check: impl Fn(&Proxied) + Sync) {
    std::thread::scope(|scope| {
        for kind in KINDS {
            let check = &check;
            scope.spawn(move || {
                for user in USERS {
                    check(&Proxied::new(kind, user));
                }
            });
        }
    });
}

#[test]
fn any_client_runs_commands_exactly_in_the_container() {
    let words = corpus();
    let mut random = vec![0u8; 4 << 20];
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut random)
        .unwrap();
    for_every_host(|px| {
        for (client, out) in px.each_client(WHERE.as_bytes(), b"") {
            px.landed(client, &out);
        }
        for (client, out) in px.each_client(&printf_command(&words), b"") {
            assert!(
                out.stdout == expected_output(&words),
                "{px:?} by {client}: the corpus: {}",
                describe(&out)
            );
        }
        for (client, out) in px.each_client(b"exit 42", b"") {
            assert_eq!(out.status.code(), Some(42), "{px:?} by {client}");
        }
        for (client, out) in px.each_client(b"cat", &random) {
            assert!(
                out.stdout == random,
                "{px:?} by {client}: 4 MiB byte for byte: {} bytes back; {}",
                out.stdout.len(),
                said(&out.stderr)
            );
        }
    });
}

#[test]
fn any_client_gets_a_terminal_and_sftp() {
    let typed = "tty; echo shell-$((6*7)) $SHELL; cat /etc/cssh-image-marker\nexit 3\n";
    for_every_host(|px| {
        // A pty shell: OpenSSH's (`-tt`: its stdin is no terminal here), Paramiko's and
        // asyncssh's.
        let shells = [
            (
                "ssh",
                run_with_input(&mut px.ssh(&["-tt"], &[]), typed.as_bytes()),
            ),
            (
                "paramiko",
                run(&mut px.python("paramiko", "shell", &[OsStr::new(typed)])),
            ),
            (
                "asyncssh",
                run(&mut px.python("asyncssh", "shell", &[OsStr::new(typed)])),
            ),
        ];
        for (client, out) in shells {
            let screen = text(&out.stdout);
            assert!(
                screen.contains("/dev/pts/")
                    && screen.contains("shell-42")
                    && screen.contains(FULL_MARKER.trim_end()),
                "{px:?} by {client}: a shell on a terminal in the image: {}",
                describe(&out)
            );
            assert_eq!(out.status.code(), Some(3), "{px:?} by {client}");
        }
        // SFTP: OpenSSH's sftp, Paramiko's and asyncssh's, into a directory of the container's.
        let dir = format!("/tmp/px-sftp-{}", rand_suffix());
        let made = run(&mut px.ssh(&[], &[OsStr::new(&format!("mkdir {dir}"))]));
        assert!(made.status.success(), "{px:?}: {}", describe(&made));
        let local = px.scratch.path("upload");
        let mut data = vec![0u8; 1 << 20];
        std::fs::File::open("/dev/urandom")
            .unwrap()
            .read_exact(&mut data)
            .unwrap();
        std::fs::write(&local, &data).unwrap();
        let batch = format!(
            "put {} {dir}/by-sftp\nget {dir}/by-sftp {}.back\nls {dir}\n",
            local.display(),
            local.display()
        );
        let out = run_with_input(
            &mut px.client("sftp", &["-q", "-b", "-", &px.name()]),
            batch.as_bytes(),
        );
        assert!(out.status.success(), "{px:?} by sftp: {}", describe(&out));
        assert!(
            std::fs::read(px.scratch.path("upload.back")).unwrap() == data,
            "{px:?} by sftp"
        );
        for library in ["paramiko", "asyncssh"] {
            std::fs::remove_file(px.scratch.path("upload.back")).unwrap();
            let remote = format!("{dir}/by-{library}");
            let out =
                run(&mut px.python(library, "sftp", &[local.as_os_str(), OsStr::new(&remote)]));
            assert!(
                out.status.success(),
                "{px:?} by {library}: {}",
                describe(&out)
            );
            assert!(
                std::fs::read(px.scratch.path("upload.back")).unwrap() == data,
                "{px:?} by {library}"
            );
            assert!(
                text(&out.stdout).contains(&format!("by-{library}\n")),
                "{px:?}: {}",
                describe(&out)
            );
        }
        // What the client wrote is the container's /tmp: the image's marker beside it proves
        // nothing, so ask the container which files it sees.
        let listed = run(&mut px.ssh(&[], &[OsStr::new(&format!("ls {dir}; rm -r {dir}"))]));
        assert_eq!(
            text(&listed.stdout),
            "by-asyncssh\nby-paramiko\nby-sftp\n",
            "{px:?}"
        );
    });
}

#[test]
fn scp_rsync_and_git_work_from_plain_clients() {
    for_every_host(|px| {
        let dir = format!("/tmp/px-files-{}", rand_suffix());
        let local = px.scratch.path("file");
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&local, &data).unwrap();
        let made = run(&mut px.ssh(
            &[],
            &[OsStr::new(&format!(
                "mkdir {dir} && git init -q --bare --initial-branch=main {dir}/repo.git"
            ))],
        ));
        assert!(made.status.success(), "{px:?}: {}", describe(&made));
        let name = px.name();
        for (mode, flag) in [("sftp", "-s"), ("scp", "-O")] {
            let to = format!("{name}:{dir}/by-scp-{mode}");
            let back = px.scratch.path(format!("back-{mode}"));
            let up = run(px.client("scp", &["-q", flag]).arg(&local).arg(&to));
            assert!(
                up.status.success(),
                "{px:?}: scp {flag} up: {}",
                describe(&up)
            );
            let down = run(px.client("scp", &["-q", flag]).arg(&to).arg(&back));
            assert!(
                down.status.success(),
                "{px:?}: scp {flag} down: {}",
                describe(&down)
            );
            assert!(std::fs::read(&back).unwrap() == data, "{px:?}: scp {flag}");
        }
        let ssh_command = format!("ssh -F {}", px.scratch.path("ssh_config").display());
        let rsync = run(Command::new("rsync")
            .args(["-a", "-e", &ssh_command])
            .arg(&local)
            .arg(format!("{name}:{dir}/by-rsync")));
        assert!(
            rsync.status.success(),
            "{px:?}: rsync: {}",
            describe(&rsync)
        );
        // git over ssh: push to a bare repository in the container, clone it back.
        let work = px.scratch.path("work");
        let git = |args: &[&str], cwd: &std::path::Path| {
            let out = run(Command::new("git")
                .current_dir(cwd)
                .env("GIT_SSH_COMMAND", &ssh_command)
                .args([
                    "-c",
                    "user.name=T",
                    "-c",
                    "user.email=t@example.org",
                    "-c",
                    "init.defaultBranch=main",
                ])
                .args(args));
            assert!(
                out.status.success(),
                "{px:?}: git {args:?}: {}",
                describe(&out)
            );
        };
        std::fs::create_dir_all(&work).unwrap();
        git(&["init", "-q"], &work);
        std::fs::write(work.join("f"), "in the container's repository\n").unwrap();
        git(&["add", "f"], &work);
        git(&["commit", "-q", "-m", "one"], &work);
        git(
            &["push", "-q", &format!("{name}:{dir}/repo.git"), "HEAD:main"],
            &work,
        );
        git(
            &["clone", "-q", &format!("{name}:{dir}/repo.git"), "clone"],
            &px.scratch.dir,
        );
        assert_eq!(
            std::fs::read_to_string(px.scratch.path("clone/f")).unwrap(),
            "in the container's repository\n"
        );
        let seen = run(&mut px.ssh(&[], &[OsStr::new(&format!("cmp {dir}/by-rsync {dir}/by-scp-sftp && cmp {dir}/by-scp-scp {dir}/by-rsync && git -C {dir}/repo.git log --format=%s && rm -rf {dir}"))]));
        assert_eq!(text(&seen.stdout), "one\n", "{px:?}: {}", describe(&seen));
    });
}

#[test]
fn forwards_end_where_the_session_runs() {
    for_every_host(|px| {
        // VS Code Remote-SSH's shape, with plain ssh: `-T -D PORT host bash`, its script on
        // stdin, a server it starts in the background, its port said on stdout.
        let (dynamic, server, local) = (port(), port(), port());
        let _vscode = vscode_server(
            &mut px.ssh(
                &["-T", "-D", &dynamic.to_string(), "-o", "ConnectTimeout=15"],
                &[OsStr::new("bash")],
            ),
            server,
            &format!("{px:?}"),
        );
        let mut stream = socks(dynamic, server);
        held_where_the_session_runs(px, "the -D connection", connected_to(server));
        assert!(http_status(&mut stream).contains(" 200 "), "{px:?}: -D");
        drop(stream);
        // -L in a tunnel alone (`-N`).
        let _tunnel = Running(
            px.ssh(&["-N", "-L", &format!("{local}:127.0.0.1:{server}")], &[])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        wait_until(&format!("{px:?}: the -L port"), || {
            holder(|l, _, state| l == local && state == "0A")
                .map(|_| ())
                .ok_or_else(|| "not yet".into())
        });
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", local)).unwrap();
        held_where_the_session_runs(px, "the -L connection", connected_to(server));
        assert!(http_status(&mut stream).contains(" 200 "), "{px:?}: -L");
    });
}

/// Checks that the process holding a forward is in the user's private sshd (an sshd of the
/// user's whose parent is not the system sshd's privileged monitor, which is root's: sshd
/// rewrites its command line for its titles), and that it runs in the allocation (under
/// slurmstepd) or on the login node (under no job).
fn held_where_the_session_runs(px: &Proxied, what: &str, held: Option<Held>) {
    let Held { pid, uid, names } =
        held.unwrap_or_else(|| panic!("{px:?}: no process holds {what}"));
    let user = uid_of(px.user);
    assert_eq!(uid, user, "{px:?}: {what} is held as the user");
    let owner = |p: u32| lineage(p).map(|(uid, _)| uid);
    let lineage = ancestors(pid);
    let private_sshd = lineage.windows(2).any(|pair| {
        let name = proc_file(pair[0], "comm");
        name.starts_with("sshd") && owner(pair[0]) == Some(user) && owner(pair[1]) != Some(0)
    });
    assert!(
        private_sshd,
        "{px:?}: {what} is held by the private sshd: {names:?}"
    );
    let in_job = names.iter().any(|n| n == "slurmstepd");
    assert_eq!(in_job, px.kind == Kind::Slurm, "{px:?}: {what}: {names:?}");
}

#[test]
fn an_untagged_host_is_refused_in_one_line() {
    let scratch =
        Scratch::new("[[host]]\npattern = \"th-px-tagged\"\nimage = \"/opt/th/full.sif\"\n");
    let out = run(Command::new(CSSH)
        .arg("--config")
        .arg(scratch.path("config.toml"))
        .args(["--proxy", "-F"])
        .arg(&host().ssh_config)
        .arg("th-plain"));
    assert_eq!(out.status.code(), Some(255), "{}", describe(&out));
    assert_eq!(
        said(&out.stderr),
        format!(
            "cssh: th-plain has no image in {}: cssh --proxy serves only a host with an image (give it one, or take the ProxyCommand off this host)\n",
            scratch.path("config.toml").display()
        )
    );
    // What the client reads: a server that closed the connection.
    assert_eq!(out.stdout, b"SSH-2.0-cssh\r\n");
    // A plain client whose ProxyCommand names it fails at once, with that line.
    std::fs::write(
        scratch.path("ssh_config"),
        format!(
            "Host px-untagged\n    ProxyCommand {CSSH} --config {} --proxy -F {} th-plain\n",
            scratch.path("config.toml").display(),
            host().ssh_config.display()
        ),
    )
    .unwrap();
    let out = run(Command::new("ssh")
        .arg("-F")
        .arg(scratch.path("ssh_config"))
        .args(["px-untagged", "true"]));
    assert_eq!(out.status.code(), Some(255), "{}", describe(&out));
    assert!(
        said(&out.stderr).starts_with("cssh: th-plain has no image in "),
        "{}",
        describe(&out)
    );
}
