//! Into a job by its own sshd, the default way into a Slurm allocation and an HTCondor job and
//! into a job attached to: the job is ssh's destination, reached by its ProxyCommand through the
//! login node and the scheduler's channel. Every ssh feature ends in the job, for each kind of
//! job and a bash, a tcsh and a fish user: exact commands, a terminal that is a terminal in the
//! container, forwards (proved by the process that holds them: its ancestors are the scheduler's
//! and it is the user's), the agent; the nodes' own sshd is never used and nothing listens; the
//! host key is pinned, and a changed one is refused in one line; what a session leaves running
//! belongs to the job's batch step and ends with the job, not with the session.

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::commands::{corpus, expected_output, printf_command};
use crate::harness::*;
use crate::held::*;

/// The kinds of job a session reaches by its own sshd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The host's own Slurm allocation.
    SlurmOwn,
    /// A Slurm job the user submitted, attached to.
    SlurmAttached,
    /// The host's own HTCondor job.
    CondorOwn,
    /// An HTCondor job the user submitted, attached to.
    CondorAttached,
}

const KINDS: [Kind; 4] = [
    Kind::SlurmOwn,
    Kind::SlurmAttached,
    Kind::CondorOwn,
    Kind::CondorAttached,
];

/// The users: one login shell of each kind (sh-like, csh-like, fish), by their login alias.
const USERS: [(&str, &str); 3] = [
    ("th-bash", "bashuser"),
    ("th-tcsh", "tcshuser"),
    ("th-fish", "fishuser"),
];

/// Prints where a command runs: the host name and the job (Slurm's id, HTCondor's cluster), then
/// the image's marker.
const WHERE: &str = "echo host=$(hostname) job=${SLURM_JOB_ID:-$(sed -n 's/^ClusterId = //p' \"$_CONDOR_JOB_AD\")}; cat /etc/cssh-image-marker";

/// A job of one kind for one user, reached by its own sshd; it ends when dropped.
struct InJob {
    kind: Kind,
    /// The login node as the user names it.
    login: &'static str,
    user: &'static str,
    /// The destination: a host name of this job's own, or the login node for an attached job.
    alias: String,
    config: Scratch,
    /// The attached job's id.
    attached: Option<String>,
}

impl InJob {
    fn new(kind: Kind, (login, user): (&'static str, &'static str)) -> InJob {
        let own = format!("th-sshd-{}", rand_suffix());
        let (alias, settings, attached) = match kind {
            Kind::SlurmOwn => (own, "slurm = [\"--time=10\"]".to_string(), None),
            Kind::CondorOwn => (
                own,
                "htcondor = [\"allowed_job_duration = 900\"]".to_string(),
                None,
            ),
            Kind::SlurmAttached => {
                let out = ssh(
                    login,
                    &[
                        "sbatch",
                        "--parsable",
                        "--time=10",
                        "--output=/dev/null",
                        "--job-name=sshd-attach",
                        "--wrap",
                        &format!("'exec apptainer exec --pid {FULL_SIF} sleep 3000'"),
                    ],
                );
                assert!(out.status.success(), "sbatch: {}", describe(&out));
                let id = text(&out.stdout).trim().to_string();
                (login.to_string(), String::new(), Some(id))
            }
            Kind::CondorAttached => {
                let id = condor_submit(
                    login,
                    user,
                    &format!(
                        "universe = container\ncontainer_image = {FULL_SIF}\ntransfer_container = false\nshould_transfer_files = NO\ntransfer_executable = false\nexecutable = /bin/sleep\narguments = 3000\noutput = /dev/null\nerror = /dev/null"
                    ),
                );
                (login.to_string(), "htcondor = []".to_string(), Some(id))
            }
        };
        let config = Scratch::new(&format!(
            "[[host]]\npattern = \"{alias}\"\nimage = \"{FULL_SIF}\"\n{settings}\n"
        ));
        let job = InJob {
            kind,
            login,
            user,
            alias,
            config,
            attached,
        };
        if job.attached.is_some() {
            // Until it runs and its container is up.
            wait_until(&format!("{kind:?} job of {user} to be entered"), || {
                let out = run(&mut job.command(&[], &["true"]));
                if out.status.success() {
                    Ok(())
                } else {
                    Err(describe(&out))
                }
            });
        }
        job
    }

    /// `cssh [--attach JOB] -F ... -l USER OPTIONS DESTINATION REMOTE...`.
    fn command(&self, options: &[&str], remote: &[&str]) -> Command {
        let mut command = Command::new(CSSH);
        command
            .env("CSSH_CONFIG", self.config.path("config.toml"))
            .env_remove("CSSH_SSH");
        if let Some(job) = &self.attached {
            command.args(["--attach", job]);
        }
        command
            .arg("-F")
            .arg(&host().ssh_config)
            .args(["-l", self.user])
            .args(options)
            .arg(&self.alias)
            .args(remote);
        command
    }

    /// The name of this job's scheduler's process on the node that a session's processes
    /// descend from.
    fn daemon(&self) -> &'static str {
        match self.kind {
            Kind::SlurmOwn | Kind::SlurmAttached => "slurmstepd",
            Kind::CondorOwn | Kind::CondorAttached => "condor_starter",
        }
    }

    /// Checks that a `WHERE` command ran in the image, on a node of the job's scheduler, inside
    /// the job (the one attached to, where there is one).
    fn landed(&self, out: &Output) {
        let field = reported(out);
        let prefix = match self.kind {
            Kind::SlurmOwn | Kind::SlurmAttached => "node",
            Kind::CondorOwn | Kind::CondorAttached => "ep",
        };
        assert!(
            field("host").starts_with(prefix),
            "{self:?}: on a node: {}",
            describe(out)
        );
        let job = field("job");
        match &self.attached {
            Some(id) => assert_eq!(
                id.split('.').next(),
                Some(job.as_str()),
                "{self:?}: {}",
                describe(out)
            ),
            None => assert!(
                !job.is_empty() && job.bytes().all(|b| b.is_ascii_digit()),
                "{self:?}: inside a job: {}",
                describe(out)
            ),
        }
    }
}

impl InJob {
    /// `cssh --release` of the host's own job.
    fn release(&self) -> Output {
        run(Command::new(CSSH)
            .env("CSSH_CONFIG", self.config.path("config.toml"))
            .args(["--release", "-F"])
            .arg(&host().ssh_config)
            .args(["-l", self.user, &self.alias]))
    }
}

impl std::fmt::Debug for InJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} of {}", self.kind, self.user)
    }
}

impl Drop for InJob {
    fn drop(&mut self) {
        match (&self.attached, self.kind) {
            (Some(id), Kind::SlurmAttached) => {
                let _ = ssh(self.login, &["scancel", id]);
            }
            (Some(id), _) => {
                let _ = ssh(self.login, &["condor_rm", id]);
            }
            (None, _) => {
                let _ = self.release();
            }
        }
    }
}

/// Runs `check` for every kind of job (each in a thread of its own, at once) and every user.
fn for_every_job(check: impl Fn(&InJob) + Sync) {
    std::thread::scope(|scope| {
        for kind in KINDS {
            let check = &check;
            scope.spawn(move || {
                for user in USERS {
                    check(&InJob::new(kind, user));
                }
            });
        }
    });
}

#[test]
fn commands_in_the_job_are_exact() {
    let words = corpus();
    let random: Vec<u8> = {
        let mut bytes = vec![0u8; 4 << 20];
        std::fs::File::open("/dev/urandom")
            .unwrap()
            .read_exact(&mut bytes)
            .unwrap();
        bytes
    };
    for_every_job(|job| {
        job.landed(&run(&mut job.command(&[], &[WHERE])));
        // The corpus, through printf's arguments; the words that are not UTF-8 travel too.
        let mut command = job.command(&[], &[]);
        command.arg(std::ffi::OsStr::from_bytes(&printf_command(&words)));
        let out = run(&mut command);
        assert_eq!(
            out.stdout,
            expected_output(&words),
            "{job:?}: {}",
            said(&out.stderr)
        );
        let out = run(&mut job.command(&[], &["exit 42"]));
        assert_eq!(out.status.code(), Some(42), "{job:?}: {}", describe(&out));
        // The session's umask is the login's, not the 077 cssh writes its own files with.
        let out = run(&mut job.command(&[], &["umask"]));
        assert_eq!(text(&out.stdout), "0022\n", "{job:?}: {}", describe(&out));
        let out = run_with_input(&mut job.command(&[], &["cat"]), &random);
        assert!(
            out.stdout == random,
            "{job:?}: 4 MiB byte for byte: {} bytes back; {}",
            out.stdout.len(),
            said(&out.stderr)
        );
    });
}

#[test]
fn a_terminal_is_a_terminal_in_the_container_and_tmux_starts() {
    for_every_job(|job| {
        let attach = job
            .attached
            .as_ref()
            .map(|id| format!(" --attach {id}"))
            .unwrap_or_default();
        let command = format!(
            "env CSSH_CONFIG={} {CSSH}{attach} -F {} -l {} {}; echo CSSH-EXITED-$?; sleep 60",
            job.config.path("config.toml").display(),
            host().ssh_config.display(),
            job.user,
            job.alias
        );
        let tmux = Tmux::start(&command);
        tmux.wait_for_prompt();
        tmux.keys("tty; echo tty-$((6*7))");
        let screen = tmux.wait_for("tty-42");
        assert!(
            screen.contains("/dev/pts/") && !screen.contains("not a tty"),
            "{job:?}: {screen}"
        );
        // tmux's client needs a terminal it can name.
        // A server of its own: the user's other jobs' tests start theirs at the same time,
        // where the node's /tmp is the same.
        tmux.keys(&format!(
            "tmux -L cssh-inner-{} new-session 'echo inside-tmux-$((6*7)); sleep 3'",
            rand_suffix()
        ));
        tmux.wait_for("inside-tmux-42");
        tmux.wait_until("the inner tmux to end", |screen| {
            screen.contains("[exited]") && screen.trim_end().ends_with(['$', '>', '#', '%'])
        });
        tmux.keys("exit 3");
        tmux.wait_for("CSSH-EXITED-3");
    });
}

/// Checks that the process holding a forward is the user's and descends from the job's
/// scheduler on its node.
fn held_in_the_job(job: &InJob, what: &str, held: Option<Held>) {
    let Held { uid, names, .. } =
        held.unwrap_or_else(|| panic!("{job:?}: no process holds {what}"));
    assert_eq!(uid, uid_of(job.user), "{job:?}: {what} is held as the user");
    assert!(
        names.iter().any(|n| n == job.daemon()),
        "{job:?}: {what} is held by a process of the job ({}): {names:?}",
        job.daemon()
    );
}

#[test]
fn forwards_end_in_the_job() {
    for_every_job(|job| {
        // VS Code Remote-SSH's shape: `-T -D PORT host bash`, its script on stdin, a server it
        // starts in the background, its port said on stdout.
        let (dynamic, server) = (port(), port());
        let _vscode = vscode_server(
            &mut job.command(
                &[
                    "-T",
                    "-D",
                    &dynamic.to_string(),
                    "-o",
                    "ConnectTimeout=15",
                    "-o",
                    "RemoteCommand=none",
                ],
                &["bash"],
            ),
            server,
            &format!("{job:?}"),
        );
        let mut stream = socks(dynamic, server);
        // The job's sshd made the connection to the server: the side that is not the server's,
        // looked at while it is open (the server ends it once it has answered).
        held_in_the_job(job, "the -D connection", connected_to(server));
        assert!(http_status(&mut stream).contains(" 200 "), "{job:?}: -D");
        drop(stream);
        // -L and -R, in a tunnel alone (`-N`), which goes to the job as its sessions do.
        let (local, remote, client) = (port(), port(), TcpListener::bind("127.0.0.1:0").unwrap());
        let client_port = client.local_addr().unwrap().port();
        let _tunnel = Running(
            job.command(
                &[
                    "-N",
                    "-L",
                    &format!("{local}:127.0.0.1:{server}"),
                    "-R",
                    &format!("{remote}:127.0.0.1:{client_port}"),
                ],
                &[],
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
        );
        wait_until(&format!("{job:?}: the -L and -R ports"), || {
            let listening = |port: u16| holder(|l, _, state| l == port && state == "0A").is_some();
            if listening(local) && listening(remote) {
                Ok(())
            } else {
                Err("not yet".into())
            }
        });
        let mut stream = TcpStream::connect(("127.0.0.1", local)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        held_in_the_job(job, "the -L connection", connected_to(server));
        assert!(http_status(&mut stream).contains(" 200 "), "{job:?}: -L");
        drop(stream);
        // The -R port listens in the job, and leads back here.
        held_in_the_job(
            job,
            "the -R listener",
            held(|l, _, state| l == remote && state == "0A"),
        );
        let _ = TcpStream::connect(("127.0.0.1", remote)).unwrap();
        client.set_nonblocking(false).unwrap();
        let (accepted, _) = client.accept().unwrap();
        drop(accepted);
    });
}

#[test]
fn the_agent_lists_its_key_in_the_job() {
    let agent = Command::new("ssh-agent").arg("-s").output().unwrap();
    let agent_text = text(&agent.stdout);
    let variable = |name: &str| {
        agent_text
            .split(';')
            .find_map(|part| part.trim().strip_prefix(&format!("{name}=")))
            .unwrap()
            .to_string()
    };
    let (socket, pid) = (variable("SSH_AUTH_SOCK"), variable("SSH_AGENT_PID"));
    let key = host().ssh_config.with_file_name("id_ed25519");
    let added = Command::new("ssh-add")
        .env("SSH_AUTH_SOCK", &socket)
        .arg("-q")
        .arg(&key)
        .status()
        .unwrap();
    assert!(added.success());
    let fingerprint = text(
        &Command::new("ssh-keygen")
            .args(["-l", "-f"])
            .arg(key.with_extension("pub"))
            .output()
            .unwrap()
            .stdout,
    );
    let fingerprint = fingerprint.split(' ').nth(1).unwrap().to_string();
    for_every_job(|job| {
        let out = run(job
            .command(&["-A"], &["ssh-add -l"])
            .env("SSH_AUTH_SOCK", &socket));
        assert!(
            text(&out.stdout).contains(&fingerprint),
            "{job:?}: {}",
            describe(&out)
        );
    });
    let _ = Command::new("kill").arg(pid).status();
}

/// The logins a compute node's own sshd accepted for `user`, by its log.
fn node_logins(user: &str) -> usize {
    ["node1", "node2", "node3"]
        .iter()
        .map(|node| {
            std::fs::read_to_string(host().root.join(format!("var/log/sshd-{node}.log")))
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains(&format!("Accepted publickey for {user} ")))
                .count()
        })
        .sum()
}

/// What listens as `job`'s user in the job (below the scheduler's own process there), or as an
/// sshd of the user's: `PORT by PROCESSES` each. (srun listens on the login node for its steps'
/// streams, and condor_starter for its job, as they always do.)
fn listening_in(job: &InJob) -> Vec<String> {
    let uid = uid_of(job.user).to_string();
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .flat_map(|table| {
            std::fs::read_to_string(table)
                .unwrap_or_default()
                .lines()
                .skip(1)
                .filter_map(|line| {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    (fields[3] == "0A" && fields[7] == uid).then(|| fields[1].to_string())
                })
                .collect::<Vec<_>>()
        })
        .filter_map(|address| {
            let port = u16::from_str_radix(address.rsplit(':').next().unwrap(), 16).unwrap();
            let Held { names, .. } = held(|l, _, state| l == port && state == "0A")?;
            (names[0].starts_with("sshd") || names[1..].iter().any(|n| n == job.daemon()))
                .then(|| format!("{port} by {names:?}"))
        })
        .collect()
}

#[test]
fn no_node_sshd_is_used_and_nothing_listens() {
    // The zsh user's sessions reach nodes only here.
    let user = ("th-zsh", "zshuser");
    let before = node_logins(user.1);
    std::thread::scope(|scope| {
        for kind in KINDS {
            scope.spawn(move || {
                let job = InJob::new(kind, user);
                let mut session = Running(
                    job.command(&[], &["echo started; sleep 5"])
                        .stdin(Stdio::null())
                        .stdout(Stdio::piped())
                        .stderr(Stdio::null())
                        .spawn()
                        .unwrap(),
                );
                let mut said = String::new();
                BufReader::new(session.0.stdout.as_mut().unwrap())
                    .read_line(&mut said)
                    .unwrap();
                assert_eq!(said, "started\n", "{job:?}");
                assert_eq!(listening_in(&job), Vec::<String>::new(), "{job:?}");
                assert!(session.0.wait().unwrap().success(), "{job:?}");
            });
        }
    });
    assert_eq!(
        node_logins(user.1),
        before,
        "no node's own sshd let the user in"
    );
}

#[test]
fn the_host_key_is_pinned_and_a_changed_one_refused_in_one_line() {
    // The dash user's job sshd is this test's alone: its keys change here.
    let pins = Scratch::new("");
    let job = InJob::new(Kind::SlurmOwn, ("th-dash", "dashuser"));
    let known_hosts = pins.path("cssh/known_hosts");
    let cssh = |remote: &str| run(job.command(&[], &[remote]).env("XDG_DATA_HOME", &pins.dir));
    let out = cssh("true");
    assert!(out.status.success(), "{}", describe(&out));
    let alias = format!("cssh-job-{}", job.alias);
    let pinned = std::fs::read_to_string(&known_hosts).unwrap();
    assert!(
        pinned.starts_with(&format!("{alias} ssh-ed25519 ")) && pinned.lines().count() == 1,
        "{pinned}"
    );
    // The cluster's key made anew (its directory reset): refused in one line, as ssh refuses
    // a changed host key.
    let reset = ssh(
        "th-dash",
        &[
            "rm",
            "-f",
            ".ssh/cssh/host_ed25519",
            ".ssh/cssh/host_ed25519.pub",
        ],
    );
    assert!(reset.status.success(), "{}", describe(&reset));
    let out = cssh("true");
    assert_eq!(
        (out.status.code(), text(&out.stdout)),
        (Some(255), String::new()),
        "{}",
        describe(&out)
    );
    assert_eq!(
        said(&out.stderr),
        format!(
            "cssh: {}: the job's sshd host key (~/.ssh/cssh/host_ed25519 on the cluster) is not the one pinned for {} in {}:1: refusing it, as ssh refuses a changed host key (if you reset that directory, remove the pin: ssh-keygen -R {alias} -f {})\n",
            job.alias,
            job.alias,
            known_hosts.display(),
            known_hosts.display()
        )
    );
    // The fix it names works: the next connection pins the new key.
    let removed = Command::new("ssh-keygen")
        .args(["-q", "-R", &alias, "-f"])
        .arg(&known_hosts)
        .output()
        .unwrap();
    assert!(removed.status.success(), "{}", describe(&removed));
    let out = cssh("true");
    assert!(out.status.success(), "{}", describe(&out));
    // A key directory that is not one: one line too.
    let broken = ssh(
        "th-dash",
        &[
            "mv",
            ".ssh/cssh",
            ".ssh/cssh.kept",
            "&&",
            "touch",
            ".ssh/cssh",
        ],
    );
    assert!(broken.status.success(), "{}", describe(&broken));
    let out = cssh("true");
    let restored = ssh(
        "th-dash",
        &["rm", ".ssh/cssh", "&&", "mv", ".ssh/cssh.kept", ".ssh/cssh"],
    );
    assert!(restored.status.success(), "{}", describe(&restored));
    assert_eq!(out.status.code(), Some(255), "{}", describe(&out));
    let said = said(&out.stderr);
    assert!(
        said.lines().count() == 1
            && said.starts_with(&format!("cssh: {}: ~/.ssh/cssh on node", job.alias))
            && said
                .ends_with(" is not a directory of yours: the job's sshd keeps its keys there\n"),
        "{said}"
    );
}

/// The names of the job's steps that run now, its batch step left out.
fn steps_of(job: &InJob, id: &str) -> Vec<String> {
    let out = ssh(
        job.login,
        &[
            "squeue",
            "--noheader",
            "--steps",
            "--jobs",
            id,
            "--format=%j",
        ],
    );
    text(&out.stdout)
        .lines()
        .filter(|name| *name != "batch")
        .map(str::to_string)
        .collect()
}

#[test]
fn what_a_session_leaves_running_lives_as_long_as_its_job() {
    let job = InJob::new(Kind::SlurmOwn, ("th-csh", "cshuser"));
    let mark = format!("CSSH_MARK={}", rand_suffix());
    // A session that starts a process to outlive it, then waits on its stdin.
    let mut session = Running(
        job.command(
            &[],
            &[&format!(
                "{mark} nohup sleep 3000 >/dev/null 2>&1 & echo $SLURM_JOB_ID $!; cat >/dev/null"
            )],
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    let mut said = String::new();
    BufReader::new(session.0.stdout.as_mut().unwrap())
        .read_line(&mut said)
        .unwrap();
    let (id, pid) = said.trim_end().split_once(' ').unwrap();
    let pid: u32 = pid.parse().unwrap();
    // It is the batch step's, not the step that carries the connection.
    let lineage: Vec<String> = ancestors(pid)
        .into_iter()
        .map(|p| proc_file(p, "cmdline").replace('\0', " "))
        .collect();
    assert!(
        lineage
            .iter()
            .any(|c| c.starts_with(&format!("slurmstepd: [{id}.batch]"))),
        "{lineage:?}"
    );
    assert_eq!(
        steps_of(&job, id),
        ["cssh-connection"],
        "one step carries it"
    );
    drop(session.0.stdin.take());
    assert!(session.0.wait().unwrap().success());
    wait_until("the connection's step to end", || {
        let steps = steps_of(&job, id);
        steps.is_empty().then_some(()).ok_or(format!("{steps:?}"))
    });
    assert_eq!(with_variable(&mark), [pid], "it outlives its session");
    let out = run(&mut job.command(&[], &[&format!("kill -0 {pid} && echo $SLURM_JOB_ID")]));
    assert_eq!(text(&out.stdout), format!("{id}\n"), "{}", describe(&out));
    // Released, the job takes everything its sessions left with it.
    let out = job.release();
    assert!(out.status.success(), "{}", describe(&out));
    wait_until("the job's processes to end", || {
        let left = with_variable(&format!("SLURM_JOB_ID={id}"));
        left.is_empty().then_some(()).ok_or(format!("{left:?}"))
    });
}

#[test]
fn what_a_session_leaves_running_in_an_htcondor_job_ends_with_it() {
    let job = InJob::new(Kind::CondorOwn, ("th-csh", "cshuser"));
    let mark = format!("CSSH_MARK={}", rand_suffix());
    let out = run(&mut job.command(
        &[],
        &[&format!("{mark} nohup sleep 3000 >/dev/null 2>&1 &")],
    ));
    assert!(out.status.success(), "{}", describe(&out));
    let left = with_variable(&mark);
    assert_eq!(left.len(), 1, "it outlives its session: {left:?}");
    held_in_the_job(
        &job,
        "what the session left",
        left.first().and_then(|&pid| Held::of(pid)),
    );
    let out = job.release();
    assert!(out.status.success(), "{}", describe(&out));
    wait_until("what the session left to end", || {
        let left = with_variable(&mark);
        left.is_empty().then_some(()).ok_or(format!("{left:?}"))
    });
}
