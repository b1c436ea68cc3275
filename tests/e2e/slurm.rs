//! Compute nodes behind Slurm: sessions run as steps of one allocation per host, inside the image,
//! on the node Slurm chose; the allocation is found again by later connections, reported while it
//! waits, replaced when it ends and released on request; files move in both places transfers may
//! run. Tests that end or hold an allocation use a host name of their own (`-l` gives the user),
//! since the allocation belongs to the name.

use std::os::unix::process::CommandExt as _;
use std::process::{Command, Output, Stdio};

use crate::harness::*;
use crate::transfer::{DataDir, every_client_round_trips, vs_code_session};

/// Short allocations: a test run never leaves a job for long (and each run starts with an
/// empty queue, see the harness).
const SLURM: &str = "slurm = [\"--time=30\"]";

fn slurm_config(settings: &str) -> Scratch {
    Scratch::new(&format!(
        "[[host]]\npattern = \"th-*\"\nimage = \"{FULL_SIF}\"\n{settings}\n"
    ))
}

/// Prints where a command runs: host name, job, image marker.
const WHERE: &str = "echo host=$(hostname) job=$SLURM_JOB_ID; cat /etc/cssh-image-marker";

/// The node and the job a `WHERE` command reported, after checking it ran in the image.
fn landed(out: &Output) -> (String, String) {
    let field = reported(out);
    let (node, job) = (field("host"), field("job"));
    assert!(
        node.starts_with("node"),
        "on a compute node: {}",
        describe(out)
    );
    assert!(
        !job.is_empty() && job.bytes().all(|b| b.is_ascii_digit()),
        "inside a job: {}",
        describe(out)
    );
    (node, job)
}

/// This user's live jobs of one allocation name, as `squeue` on the login node lists them.
fn live_jobs(alias: &str, user: &str) -> Vec<String> {
    jobs_in(alias, user, "PENDING,CONFIGURING,RUNNING")
}

/// This user's jobs of one allocation name in one of `states`.
fn jobs_in(alias: &str, user: &str, states: &str) -> Vec<String> {
    let out = ssh(
        "th-bash",
        &[
            "squeue",
            "--noheader",
            &format!("--states={states}"),
            "--format=%i",
            &format!("--user={user}"),
            &format!("--name=cssh-{alias}"),
        ],
    );
    text(&out.stdout).lines().map(String::from).collect()
}

#[test]
fn commands_land_in_the_image_on_a_node_inside_one_reused_job() {
    let config = slurm_config(SLURM);
    for alias in ["th-bash", "th-tcsh", "th-fish"] {
        let (node, job) = landed(&run(cssh(&config).args([alias, WHERE])));
        let again = landed(&run(cssh(&config).args([alias, WHERE])));
        assert_eq!(
            again,
            (node, job),
            "{alias}: the second connection reuses the job"
        );
        // Exact arguments, exit status and binary stdin, through the step.
        let out = run(cssh(&config).args([
            alias, "printf", "'[%s]'", "'a  b'", "'$x'", "\\!;", "exit 7",
        ]));
        assert_eq!(
            (text(&out.stdout), said(&out.stderr), out.status.code()),
            ("[a  b][$x][!]".into(), String::new(), Some(7)),
            "{alias}: stderr holds nothing of srun's: {}",
            describe(&out)
        );
        let input: Vec<u8> = (0..200_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        let out = run_with_input(cssh(&config).args([alias, "cat"]), &input);
        assert!(
            out.stdout == input,
            "{alias}: stdin and stdout byte-exact: {}",
            describe(&out).len()
        );
    }
}

#[test]
fn a_pty_shell_lands_in_the_job() {
    let config = slurm_config(SLURM);
    for alias in ["th-bash", "th-tcsh", "th-fish"] {
        let tmux = Tmux::start(&format!(
            "env CSSH_CONFIG={} {CSSH} -F {} {alias}; echo CSSH-EXITED-$?; sleep 60",
            config.path("config.toml").display(),
            host().ssh_config.display()
        ));
        tmux.wait_for_prompt();
        tmux.keys("echo host=$(hostname) job=$SLURM_JOB_ID; tty; cat /etc/cssh-image-marker; echo end-$((6*7))");
        let screen = tmux.wait_for("end-42");
        assert!(screen.contains("host=node"), "{alias}: {screen}");
        assert!(screen.contains("/dev/pts/"), "{alias}: a pty: {screen}");
        assert!(screen.contains(FULL_MARKER.trim_end()), "{alias}: {screen}");
        tmux.keys("exit 3");
        tmux.wait_for("CSSH-EXITED-3");
    }
}

#[test]
fn the_time_left_is_said_for_a_terminal_login_and_never_for_a_command() {
    let config = slurm_config(SLURM);
    for alias in ["th-bash", "th-tcsh", "th-fish"] {
        let job = landed(&run(cssh(&config).args([alias, WHERE]))).1;
        // A command on a terminal first, then the login.
        let tmux = Tmux::start(&format!(
            "env CSSH_CONFIG={0} {CSSH} -F {1} -t {alias} 'echo command-$((6*7))'; env CSSH_CONFIG={0} {CSSH} -F {1} {alias}; echo CSSH-EXITED-$?; sleep 60",
            config.path("config.toml").display(),
            host().ssh_config.display()
        ));
        // The login's prompt, after the command's output and the line.
        tmux.wait_until("the login's prompt", |s| {
            s.contains(" left\n") && s.trim_end().ends_with('$')
        });
        tmux.keys("echo end-$((6*7))");
        let screen = tmux.wait_until("end-42", |s| s.contains("\nend-42"));
        let said: Vec<&str> = screen
            .lines()
            .filter(|l| l.starts_with(&format!("cssh: {alias}: job ")))
            .collect();
        assert!(
            said.len() == 1
                && said[0].starts_with(&format!("cssh: {alias}: job {job} on node"))
                && said[0].ends_with(" left"),
            "{alias}: one line, for the login: {screen}"
        );
        let (command, login) = (
            screen.find("command-42").unwrap(),
            screen.find(said[0]).unwrap(),
        );
        assert!(command < login, "{alias}: none for the command: {screen}");
        tmux.keys("exit 3");
        tmux.wait_for("CSSH-EXITED-3");
    }
}

#[test]
fn allocate_returns_once_the_job_runs_and_the_next_command_lands_in_it() {
    let config = slurm_config(SLURM);
    for user in ["bashuser", "tcshuser", "fishuser"] {
        let alias = format!("th-ahead-{}", rand_suffix());
        let out = run(Command::new(CSSH)
            .env("CSSH_CONFIG", config.path("config.toml"))
            .args(["--allocate", "-F"])
            .arg(&host().ssh_config)
            .args(["-l", user, &alias]));
        let stderr = said(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{user}: {}", describe(&out));
        assert_eq!(text(&out.stdout), "", "{user}");
        let jobs = live_jobs(&alias, user);
        assert_eq!(jobs.len(), 1, "{user}: {jobs:?}");
        let state = ssh(
            "th-bash",
            &["squeue", "--noheader", "--format=%T", "--jobs", &jobs[0]],
        );
        assert_eq!(text(&state.stdout), "RUNNING\n", "{user}: it runs already");
        assert!(
            stderr.starts_with(&format!("cssh: {alias}: job {} on node", jobs[0]))
                && stderr.ends_with(" left\n")
                && stderr.lines().count() == 1,
            "{user}: {stderr}"
        );
        let (_, job) = landed(&run(cssh(&config).args(["-l", user, &alias, WHERE])));
        assert_eq!(job, jobs[0], "{user}: the next command lands in it");
        assert!(release(&config, user, &alias).status.success());
    }
}

/// Waits (up to 40 s) until `alias`'s allocation of `user` lives or is gone, as `live` says:
/// gone from the queue, not left completing (a process Slurm cannot end keeps it there).
fn until_allocation(alias: &str, user: &str, live: bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    let jobs = || {
        if live {
            live_jobs(alias, user)
        } else {
            jobs_in(
                alias,
                user,
                "PENDING,CONFIGURING,RUNNING,COMPLETING,SUSPENDED",
            )
        }
    };
    while jobs().is_empty() == live {
        assert!(
            std::time::Instant::now() < deadline,
            "{alias} of {user}: allocation still {}",
            if live { "missing" } else { "there" }
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

/// The idle time below: once the job runs, and again once a connection has found it, a session
/// has that long to show itself (its hop, the step that carries it, ssh's handshake), on a
/// loaded two-core host too.
const IDLE: &str = "slurm_idle = \"8s\"";

/// Longer than the idle time, with the watch's look every 2 s.
const OUTLIVES_IDLE: std::time::Duration = std::time::Duration::from_secs(14);

#[test]
fn an_idle_allocation_ends_itself_and_never_while_a_session_lives() {
    let sshd = slurm_config(&format!("{SLURM}\n{IDLE}"));
    let steps = slurm_config(&format!("{SLURM}\n{IDLE}\nslurm_connect = \"srun\""));
    let nodes = slurm_config(&format!("{SLURM}\n{IDLE}\nslurm_connect = \"ssh\""));
    let persisted = slurm_config(&format!("{SLURM}\n{IDLE}\npersist = \"10m\""));
    let allocate = |config: &Scratch, user: &str, alias: &str| {
        let out = run(Command::new(CSSH)
            .env("CSSH_CONFIG", config.path("config.toml"))
            .args(["--allocate", "-F"])
            .arg(&host().ssh_config)
            .args(["-l", user, alias]));
        assert!(out.status.success(), "{alias}: {}", describe(&out));
    };
    // A long command: as a step (bash, tcsh and fish users), and in node mode.
    let command = |config: &Scratch, way: &str, user: &'static str| {
        let alias = format!("th-idle-{}", rand_suffix());
        allocate(config, user, &alias);
        let session = cssh(config)
            .args(["-l", user, &alias, "sleep 18; echo done"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(OUTLIVES_IDLE);
        assert_eq!(
            live_jobs(&alias, user).len(),
            1,
            "{alias} of {user} ({way}): kept while the command runs"
        );
        let out = session.wait_with_output().unwrap();
        assert_eq!(text(&out.stdout), "done\n", "{alias} of {user} ({way})");
        until_allocation(&alias, user, false);
    };
    std::thread::scope(|scope| {
        // No session at all.
        scope.spawn(|| {
            let alias = format!("th-idle-{}", rand_suffix());
            allocate(&steps, "bashuser", &alias);
            until_allocation(&alias, "bashuser", false);
            // The next connection submits a new one.
            let (_, job) = landed(&run(cssh(&steps).args(["-l", "bashuser", &alias, WHERE])));
            assert!(!job.is_empty());
            assert!(release(&steps, "bashuser", &alias).status.success());
        });
        scope.spawn(|| command(&sshd, "sshd", "bashuser"));
        scope.spawn(|| command(&sshd, "sshd", "tcshuser"));
        scope.spawn(|| command(&sshd, "sshd", "fishuser"));
        scope.spawn(|| command(&steps, "steps", "bashuser"));
        scope.spawn(|| command(&nodes, "nodes", "tcshuser"));
        scope.spawn(|| command(&nodes, "nodes", "bashuser"));
        scope.spawn(|| command(&nodes, "nodes", "fishuser"));
        // A master kept on the job's sshd with no session: the allocation ends all the same,
        // and the master with it.
        scope.spawn(|| {
            let alias = format!("th-idle-{}", rand_suffix());
            let check = |config: &Scratch| {
                run(cssh(config).args(["-l", "fishuser", "-O", "check", &alias]))
            };
            let out = run(cssh(&persisted).args(["-l", "fishuser", &alias, "true"]));
            assert!(out.status.success(), "{}", describe(&out));
            let master = check(&persisted);
            assert!(
                master.status.success() && text(&master.stderr).starts_with("Master running"),
                "{}",
                describe(&master)
            );
            until_allocation(&alias, "fishuser", false);
            wait_until("the master to end with the allocation", || {
                let master = check(&persisted);
                if master.status.success() {
                    Err(describe(&master))
                } else {
                    Ok(())
                }
            });
        });
        // An interactive login on a terminal.
        scope.spawn(|| {
            let alias = format!("th-idle-{}", rand_suffix());
            allocate(&sshd, "tcshuser", &alias);
            let tmux = Tmux::start(&format!(
                "env CSSH_CONFIG={} {CSSH} -F {} -l tcshuser {alias}; echo CSSH-EXITED-$?; sleep 60",
                sshd.path("config.toml").display(),
                host().ssh_config.display()
            ));
            tmux.wait_for_prompt();
            std::thread::sleep(OUTLIVES_IDLE);
            assert_eq!(live_jobs(&alias, "tcshuser").len(), 1, "kept while the login lives");
            tmux.keys("exit 3");
            tmux.wait_for("CSSH-EXITED-3");
            until_allocation(&alias, "tcshuser", false);
        });
    });
}

#[test]
fn the_allocation_lands_on_the_node_slurm_chose() {
    let config = slurm_config("slurm = [\"--time=30\", \"--partition=second\"]");
    let alias = format!("th-second-{}", rand_suffix());
    let (node, _) = landed(&run(cssh(&config).args(["-l", "fishuser", &alias, WHERE])));
    assert_eq!(node, "node2", "partition second has only node2");
    let out = release(&config, "fishuser", &alias);
    assert!(out.status.success(), "{}", describe(&out));
}

/// Sets a partition down for as long as it lives.
struct PartitionDown(&'static str);

impl PartitionDown {
    fn new(name: &'static str) -> PartitionDown {
        admin(&[
            "scontrol",
            "update",
            &format!("partitionname={name}"),
            "state=down",
        ]);
        PartitionDown(name)
    }
}

impl Drop for PartitionDown {
    fn drop(&mut self) {
        admin(&[
            "scontrol",
            "update",
            &format!("partitionname={}", self.0),
            "state=up",
        ]);
    }
}

#[test]
fn a_pending_job_shows_its_state_and_a_cancelled_one_is_replaced() {
    let config = slurm_config("slurm = [\"--time=30\", \"--partition=spare\"]");
    let alias = format!("th-pending-{}", rand_suffix());
    let command = format!(
        "env CSSH_CONFIG={} {CSSH} -F {} -l bashuser {alias} '{WHERE}'; echo CSSH-EXITED-$?; sleep 60",
        config.path("config.toml").display(),
        host().ssh_config.display()
    );
    let down = PartitionDown::new("spare");
    // Waiting in the queue: one updating line on the terminal.
    let first = Tmux::start(&command);
    let screen = first.wait_for("PENDING (PartitionDown)");
    assert!(screen.contains(&format!("cssh: {alias}: job ")), "{screen}");
    let jobs = live_jobs(&alias, "bashuser");
    assert_eq!(jobs.len(), 1, "one job: {jobs:?}");
    // Cancelled while it waits: one line with its id and state.
    admin(&["scancel", &jobs[0]]);
    let screen = first.wait_for("CSSH-EXITED-255");
    assert!(
        screen.contains(&format!(
            "cssh: {alias}: job {} CANCELLED (the next connection submits a new one)",
            jobs[0]
        )),
        "{screen}"
    );
    // The next connection submits a new job, which runs once the partition is up.
    let second = Tmux::start(&command);
    second.wait_for("PENDING (PartitionDown)");
    let replaced = live_jobs(&alias, "bashuser");
    assert_eq!(replaced.len(), 1, "{replaced:?}");
    assert_ne!(replaced, jobs, "a new job");
    drop(down);
    let screen = second.wait_for("CSSH-EXITED-0");
    assert!(screen.contains(&format!("job={}", replaced[0])), "{screen}");
    assert!(
        !screen.contains("PENDING"),
        "the waiting line is cleared: {screen}"
    );
    let out = release(&config, "bashuser", &alias);
    assert!(out.status.success(), "{}", describe(&out));
}

#[test]
fn release_cancels_the_allocation() {
    let config = slurm_config(SLURM);
    let alias = format!("th-release-{}", rand_suffix());
    let (_, job) = landed(&run(cssh(&config).args(["-l", "tcshuser", &alias, WHERE])));
    let cancel = || release(&config, "tcshuser", &alias);
    let out = cancel();
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        said(&out.stderr),
        format!("cssh: {alias}: released job {job}\n")
    );
    assert_eq!(live_jobs(&alias, "tcshuser"), Vec::<String>::new());
    let out = cancel();
    assert_eq!(
        said(&out.stderr),
        format!("cssh: {alias}: no allocation to release\n")
    );
    // The next connection starts a new one.
    let (_, next) = landed(&run(cssh(&config).args(["-l", "tcshuser", &alias, WHERE])));
    assert_ne!(next, job);
    assert!(cancel().status.success());
}

#[test]
fn a_bad_slurm_option_is_one_line() {
    let config = slurm_config("slurm = [\"--partition=nosuch\"]");
    let alias = format!("th-bad-{}", rand_suffix());
    let out = run(cssh(&config).args(["-l", "fishuser", &alias, "true"]));
    assert_eq!(out.status.code(), Some(255), "{}", describe(&out));
    assert_eq!(
        said(&out.stderr),
        format!(
            "cssh: {alias}: sbatch refused the allocation (slurm = [\"--partition=nosuch\"] in {}:4): Batch job submission failed: Invalid partition name specified\n",
            config.path("config.toml").display()
        )
    );
}

#[test]
fn files_move_on_the_login_node_by_default() {
    every_client_round_trips(&DataDir::with(FULL_SIF, SLURM));
}

#[test]
fn files_move_through_the_job_when_asked() {
    every_client_round_trips(&DataDir::with(
        FULL_SIF,
        &format!("{SLURM}\nslurm_transfers = \"job\""),
    ));
}

#[test]
fn in_node_mode_sessions_reach_the_node_by_ssh_vs_code_and_forwards_included() {
    let config = slurm_config(&format!("{SLURM}\nslurm_connect = \"ssh\""));
    for alias in ["th-bash", "th-tcsh", "th-fish"] {
        // A command, on the node's own sshd, in the image, inside the job.
        let out = run(cssh(&config).args([alias, &format!("{WHERE}; echo $SSH_CONNECTION")]));
        let (node, job) = landed(&out);
        let stdout = text(&out.stdout);
        let server = stdout.lines().last().unwrap().split(' ').nth(2).unwrap();
        assert!(
            server.starts_with("127.0.0.") && server != "127.0.0.1",
            "{alias}: the session is on {node}'s sshd: {stdout}"
        );
        // VS Code Remote-SSH's shape: -T -D PORT host bash, its script on stdin.
        let script = format!(
            "echo host=$(hostname) job=$SLURM_JOB_ID\ncat {}\necho listeningOn==127.0.0.1:1234==\nexit 0\n",
            host().image_marker
        );
        let out = vs_code_session(&config, alias, &script);
        assert!(out.status.success(), "{alias}: {}", describe(&out));
        let stdout = text(&out.stdout);
        assert!(
            stdout.starts_with(&format!("host={node} job={job}\n{FULL_MARKER}"))
                && stdout.ends_with("listeningOn==127.0.0.1:1234==\n"),
            "{alias}: {stdout}"
        );
    }
    // -L to a server started inside the container on the node: git's daemon, serving a
    // repository whose one file names the host it was made on.
    let (local, remote) = (free_port(), free_port());
    let repo = format!("/tmp/cssh-forward-{}", rand_suffix());
    let serve = format!(
        "mkdir -p {repo}/r && cd {repo}/r && git init -q && hostname >host && git add host && \
         git -c user.name=c -c user.email=c@c commit -qm served && \
         exec timeout 60 git daemon --listen=127.0.0.1 --port={remote} --export-all --base-path={repo} --reuseaddr"
    );
    let mut server = cssh(&config)
        .args([
            "-L",
            &format!("{local}:127.0.0.1:{remote}"),
            "th-bash",
            &serve,
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let clone = Scratch::new("");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let url = format!("git://127.0.0.1:{local}/r");
    loop {
        let out = run(Command::new("git")
            .args(["clone", "-q", &url])
            .arg(clone.path("r")));
        if out.status.success() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "git clone through -L: {}",
            describe(&out)
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let served_on = std::fs::read_to_string(clone.path("r/host")).unwrap();
    assert!(
        served_on.starts_with("node"),
        "served on a compute node: {served_on}"
    );
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(host().root.join(repo.trim_start_matches('/')));
}

#[test]
fn node_mode_sessions_have_the_jobs_slurm_variables() {
    // The batch step's variables, as `srun` inside the session reads them: the job, its nodes,
    // its CPUs, where it was submitted from.
    let config = slurm_config(&format!("{SLURM}\nslurm_connect = \"ssh\""));
    for alias in ["th-bash", "th-tcsh", "th-fish"] {
        let out = run(cssh(&config).args([
            alias,
            "echo host=$(hostname) job=$SLURM_JOB_ID nodes=$SLURM_JOB_NODELIST cpus=$SLURM_CPUS_ON_NODE submitted=$SLURM_SUBMIT_HOST; cat /etc/cssh-image-marker",
        ]));
        let field = reported(&out);
        assert!(
            field("host").starts_with("node"),
            "{alias}: {}",
            describe(&out)
        );
        assert_eq!(field("nodes"), field("host"), "{alias}: {}", describe(&out));
        assert!(
            !field("job").is_empty()
                && !field("cpus").is_empty()
                && field("submitted") == "th-remote",
            "{alias}: {}",
            describe(&out)
        );
    }
}

#[test]
fn srun_inside_a_node_mode_session_runs_in_the_job() {
    // An image with the cluster's Slurm client; its configuration and munge's socket bound in.
    let config = Scratch::new(&format!(
        "[[host]]\npattern = \"th-*\"\nimage = \"{SLURM_SIF}\"\nbinds = [\"/etc/slurm\", \"/run/munge\"]\n{SLURM}\nslurm_connect = \"ssh\"\n"
    ));
    for user in ["bashuser", "tcshuser", "fishuser"] {
        let alias = format!("th-srun-{}", rand_suffix());
        let out = run(cssh(&config).args([
            "-l",
            user,
            &alias,
            "echo host=$(hostname) job=$SLURM_JOB_ID; srun hostname",
        ]));
        let stdout = text(&out.stdout);
        let (first, rest) = stdout.split_once('\n').unwrap_or_default();
        let node = first
            .strip_prefix("host=")
            .and_then(|l| l.split(' ').next())
            .unwrap_or_default();
        assert!(
            node.starts_with("node") && rest == format!("{node}\n"),
            "{user}: srun ran a step of the job on its node: {}",
            describe(&out)
        );
        assert!(release(&config, user, &alias).status.success());
    }
}

#[test]
fn an_instance_is_started_with_the_allocation_and_joined_by_its_steps() {
    // PID 1 of an instance is Apptainer's appinit; a plain exec has none of its own. Each
    // command joins the instance by its namespaces on the node, from a step and, with
    // slurm_connect = "ssh", from the node's own sshd, for the bash, tcsh and fish users.
    let command = format!("{WHERE}; tr '\\0' ' ' </proc/1/cmdline; echo; {CAPBND}");
    std::thread::scope(|scope| {
        for user in ["bashuser", "tcshuser", "fishuser"] {
            let command = &command;
            scope.spawn(move || {
                let instance = format!("dev{}", rand_suffix());
                let config = slurm_config(&format!("{SLURM}\ninstance = \"{instance}\""));
                let by_ssh = slurm_config(&format!(
                    "{SLURM}\ninstance = \"{instance}\"\nslurm_connect = \"ssh\""
                ));
                let alias = format!("th-instance-{}", rand_suffix());
                let mut seen = Vec::new();
                for config in [&config, &config, &by_ssh] {
                    let out = run(cssh(config).args(["-l", user, &alias, command]));
                    seen.push(landed(&out));
                    let stdout = text(&out.stdout);
                    assert!(stdout.contains("appinit"), "{user}: {}", describe(&out));
                    assert!(joined_by_namespaces(&stdout), "{user}: {}", describe(&out));
                }
                assert_eq!(seen[0], seen[1], "{user}: one job, one instance");
                assert_eq!(seen[0], seen[2], "{user}: the same job by ssh to its node");
                let state = host().root.join(format!(
                    "home/{user}/.apptainer/instances/app/{}/{user}/{instance}/{instance}.json",
                    seen[0].0
                ));
                assert!(
                    state.exists(),
                    "the instance runs on the node: {}",
                    state.display()
                );
                let out = release(&config, user, &alias);
                assert!(out.status.success(), "{user}: {}", describe(&out));
                // Released at the same moment for three users, each job stops its instance.
                wait_until(&format!("{user}'s instance to stop with its job"), || {
                    if state.exists() {
                        Err(state.display().to_string())
                    } else {
                        Ok(())
                    }
                });
            });
        }
    });
}

#[test]
fn the_doctor_checks_the_partition_and_reports_the_allocation_without_submitting_one() {
    let config = Scratch::new(&format!(
        "[[host]]\npattern = \"th-doc-nopart\"\nslurm = [\"--time=30\", \"--partition=nosuch\"]\n\
         [[host]]\npattern = \"th-*\"\nimage = \"{FULL_SIF}\"\n{SLURM}\n"
    ));
    let doctor = |user: &str| {
        let out = run(Command::new(CSSH)
            .env("CSSH_CONFIG", config.path("config.toml"))
            .args(["--doctor", "--json", "-F"])
            .arg(&host().ssh_config)
            .args(["-l", user, "th-doc-slurm", "th-doc-nopart"]));
        let report: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", describe(&out)));
        let slurm = |host: usize| {
            let check = report["hosts"][host]["checks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["check"] == "slurm")
                .unwrap();
            (
                check["status"].as_str().unwrap().to_string(),
                check["value"].as_str().unwrap().to_string(),
            )
        };
        (out.status.code(), slurm(0), slurm(1))
    };
    // The Slurm step of the probe, through every kind of login shell.
    for user in ["bashuser", "tcshuser", "fishuser"] {
        let (status, ready, nopart) = doctor(user);
        assert_eq!(status, Some(1), "{user}");
        assert_eq!(
            ready,
            (
                "pass".into(),
                "no allocation (the next session submits one)".into()
            ),
            "{user}"
        );
        assert_eq!(nopart.0, "fail", "{user}");
        assert!(
            nopart.1.starts_with("no partition nosuch (sinfo lists: "),
            "{user}: {nopart:?}"
        );
        assert!(
            live_jobs("th-doc-slurm", user).is_empty(),
            "the doctor submitted a job for {user}"
        );
    }

    let session = run(cssh(&config).args(["-l", "bashuser", "th-doc-slurm", WHERE]));
    let (node, job) = landed(&session);
    let (_, running, _) = doctor("bashuser");
    assert!(
        running.0 == "pass"
            && running
                .1
                .starts_with(&format!("job {job} running on {node}, "))
            && running.1.ends_with(" left"),
        "{running:?}"
    );
    // The table shows the job under it, as --json does.
    let table = run(Command::new(CSSH)
        .env("CSSH_CONFIG", config.path("config.toml"))
        .args(["--doctor", "-F"])
        .arg(&host().ssh_config)
        .args(["-l", "bashuser", "th-doc-slurm"]));
    let shown = format!("th-doc-slurm: slurm: job {job} running on {node}, ");
    assert!(
        text(&table.stdout)
            .lines()
            .any(|l| l.starts_with(&shown) && l.ends_with(" left")),
        "{}",
        describe(&table)
    );
    assert!(
        release(&config, "bashuser", "th-doc-slurm")
            .status
            .success()
    );
}

/// Whether one of `pid`'s ancestors is the sshd of a compute node (the test host starts each
/// with `PidFile=/run/sshd-NODE.pid`), not the login node's.
fn under_a_nodes_sshd(pid: u32) -> bool {
    crate::held::ancestors(pid)
        .into_iter()
        .any(|p| crate::held::proc_file(p, "cmdline").contains("PidFile=/run/sshd-node"))
}

/// A tunnel alone (`-N -L`) goes where the host's sessions go: in node mode, to the allocation's
/// node (the forward's connection is made by a process under that node's sshd); with steps,
/// which carry no forwards, to the login node, after one line that says so.
#[test]
fn a_tunnel_alone_goes_to_the_node_or_says_it_stays_on_the_login_node() {
    use crate::held::{connected_to, holder, port, uid_of};
    use std::net::{TcpListener, TcpStream};
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let server_port = server.local_addr().unwrap().port();
    // Node mode runs a script on the login node and the node: for every kind of login shell.
    for (connect, on_node, user) in [
        ("ssh", true, "bashuser"),
        ("ssh", true, "tcshuser"),
        ("ssh", true, "fishuser"),
        ("srun", false, "bashuser"),
    ] {
        let alias = format!("th-tunnel-{connect}{}", rand_suffix() % 1_000_000);
        let config = slurm_config(&format!("{SLURM}\nslurm_connect = \"{connect}\""));
        // The doctor's vscode check agrees: a warning where the forwards stay behind.
        let report = crate::doctor::json_report(&config, &["-l", user, &alias], 0);
        let vscode = crate::doctor::finding(&report, &alias, "vscode");
        assert_eq!(
            vscode["status"],
            if on_node { "pass" } else { "warn" },
            "{connect}: {vscode}"
        );
        let local = port();
        let mut tunnel = cssh(&config)
            .args(["-N", "-L", &format!("{local}:127.0.0.1:{server_port}")])
            .args(["-l", user, &alias])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = tunnel.stderr.take().unwrap();
        let said = std::thread::spawn(move || {
            let mut all = Vec::new();
            let _ = std::io::Read::read_to_end(&mut { stderr }, &mut all);
            // Less the lines of a wait for the job (a loaded machine may make one).
            crate::harness::said(&all)
        });
        wait_until(&format!("{connect}: the -L port"), || {
            match holder(|l, _, state| l == local && state == "0A") {
                Some(_) => Ok(()),
                None => Err("not yet".into()),
            }
        });
        let _stream = TcpStream::connect(("127.0.0.1", local)).unwrap();
        let (_accepted, _) = server.accept().unwrap();
        let held = connected_to(server_port).expect("a process holds the forward");
        assert_eq!(held.uid, uid_of(user), "{connect}: held as the user");
        assert_eq!(
            under_a_nodes_sshd(held.pid),
            on_node,
            "{connect}: where the forward ends: {:?}",
            held.names
        );
        let _ = tunnel.kill();
        let _ = tunnel.wait();
        let line = said.join().unwrap();
        if on_node {
            assert_eq!(line, "", "{connect}: nothing said");
            let _ = release(&config, user, &alias);
        } else {
            assert_eq!(
                line,
                format!(
                    "cssh: {alias}: this command line opens no session: its forwards end on the login node, not in the job (slurm_connect = \"srun\" in {}:5; \"sshd\", the default, takes them into the job)\n",
                    config.path("config.toml").display()
                )
            );
        }
    }
}

/// `alias`'s one live job as `user`, once there is one.
fn the_job(alias: &str, user: &str) -> String {
    let mut job = String::new();
    wait_until("the job to be submitted", || {
        let jobs = live_jobs(alias, user);
        job = jobs.first().cloned().unwrap_or_default();
        (jobs.len() == 1).then_some(()).ok_or(format!("{jobs:?}"))
    });
    job
}

/// Waits until Slurm lists `job` as cancelled.
fn until_cancelled(job: &str, alias: &str, user: &str) {
    wait_until("the job to be cancelled", || {
        let cancelled = jobs_in(alias, user, "CANCELLED");
        cancelled
            .contains(&job.to_string())
            .then_some(())
            .ok_or(format!(
                "cancelled: {cancelled:?}, live: {:?}",
                live_jobs(alias, user)
            ))
    });
}

/// A wait given up, by Ctrl-C on a terminal or a hang-up without one: the job the waiting
/// connections submitted is cancelled once none waits for it; while another waits, it stays.
/// Without a terminal the wait is one line per state on stderr and one when the job starts.
/// Jobs are held (`--hold`), so that each test's job pends on its own.
#[test]
fn a_wait_given_up_cancels_the_job_it_submitted_once_no_connection_waits() {
    let config = slurm_config("slurm = [\"--time=30\", \"--hold\"]");
    let line = |user: &str, alias: &str, options: &str| {
        format!(
            "trap true INT; env CSSH_CONFIG={} {CSSH} -F {} -l {user} {options} {alias} '{WHERE}'; echo CSSH-EXITED-$?; sleep 60",
            config.path("config.toml").display(),
            host().ssh_config.display()
        )
    };
    for user in ["bashuser", "tcshuser", "fishuser"] {
        // The job's own sshd (the wait is in the hop, which has no terminal): the connection
        // ends; a second connection waiting keeps the job, the last one cancels it.
        let alias = format!("th-giveup-{}", rand_suffix());
        let first = Tmux::start(&line(user, &alias, ""));
        let screen = first.wait_for("(JobHeldUser)");
        assert!(screen.contains("; Ctrl-C cancels it"), "{user}: {screen}");
        let job = the_job(&alias, user);
        let second = Tmux::start(&line(user, &alias, ""));
        second.wait_for("(JobHeldUser)");
        first.press("C-c");
        first.wait_for("CSSH-EXITED-");
        let marks = format!(".cache/cssh/wait-slurm-{SLURM_CLUSTER}-{job}");
        wait_until("the first wait to end", || {
            let out = ssh(&format!("th-{}", &user[..user.len() - 4]), &["ls", &marks]);
            let left = text(&out.stdout)
                .lines()
                .filter(|l| l.starts_with("w-"))
                .count();
            (left == 1).then_some(()).ok_or(describe(&out))
        });
        assert_eq!(
            live_jobs(&alias, user),
            std::slice::from_ref(&job),
            "{user}: another connection waits"
        );
        second.press("C-c");
        until_cancelled(&job, &alias, user);

        // Steps on a terminal (-t): Ctrl-C reaches the login node, which says what it did.
        let alias = format!("th-giveup-{}", rand_suffix());
        let steps = slurm_config("slurm = [\"--time=30\", \"--hold\"]\nslurm_connect = \"srun\"");
        let session = Tmux::start(&format!(
            "trap true INT; env CSSH_CONFIG={} {CSSH} -F {} -l {user} -t {alias} '{WHERE}'; echo CSSH-EXITED-$?; sleep 60",
            steps.path("config.toml").display(),
            host().ssh_config.display()
        ));
        session.wait_for("(JobHeldUser)");
        let job = the_job(&alias, user);
        session.press("C-c");
        let screen = session.wait_for("CSSH-EXITED-");
        assert!(
            screen.contains(&format!(
                "cssh: {alias}: job {job} cancelled: no connection waits for it any more"
            )),
            "{user}: {screen}"
        );
        // The status is what the login shell makes of an interrupted command (tcsh: 1).
        if user == "bashuser" {
            assert!(screen.contains("CSSH-EXITED-130"), "{screen}");
        }
        until_cancelled(&job, &alias, user);

        // No terminal: a hang-up of ssh and its ProxyCommand (their process group, as a
        // closed terminal or an editor ends them) ends the wait on the login node too.
        let alias = format!("th-giveup-{}", rand_suffix());
        let mut child = cssh(&config)
            .args(["-l", user, &alias, WHERE])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        let job = the_job(&alias, user);
        wait_until("the wait to start", || {
            jobs_in(&alias, user, "PENDING")
                .contains(&job)
                .then_some(())
                .ok_or(String::new())
        });
        // Until the waiting connection has marked itself as waiting.
        wait_until("the wait's mark", || {
            let out = admin(&[
                "sh",
                "-c",
                &format!(
                    "ls /home/{user}/.cache/cssh/wait-slurm-{SLURM_CLUSTER}-{job}/ 2>/dev/null | grep '^w-' || true"
                ),
            ]);
            (!out.stdout.is_empty()).then_some(()).ok_or(describe(&out))
        });
        let hup = Command::new("kill")
            .args(["-HUP", "--", &format!("-{}", child.id())])
            .status();
        assert!(hup.unwrap().success());
        let _ = child.wait();
        until_cancelled(&job, &alias, user);
    }

    // No terminal, the job waited for: one line per state on stderr, one when it starts; stdout
    // is the command's.
    for user in ["bashuser", "tcshuser", "fishuser"] {
        let alias = format!("th-giveup-{}", rand_suffix());
        let files = Scratch::new("");
        let child = cssh(&config)
            .args(["-l", user, &alias, WHERE])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(files.path("out")).unwrap())
            .stderr(std::fs::File::create(files.path("err")).unwrap())
            .spawn()
            .unwrap();
        let job = the_job(&alias, user);
        let said = format!(
            "cssh: {alias}: job {job} PENDING (JobHeldUser) after 5 s; ending the connection cancels it\n"
        );
        wait_until("the line on stderr", || {
            let err = std::fs::read_to_string(files.path("err")).unwrap();
            (err == said).then_some(()).ok_or(err)
        });
        admin(&["scontrol", "release", &job]);
        let status = child.wait_with_output().unwrap().status;
        let err = String::from_utf8_lossy(&std::fs::read(files.path("err")).unwrap()).into_owned();
        assert!(status.success(), "{status}: {err}");
        // Released, it may pend a moment longer for another reason: a line of its own.
        let lines: Vec<&str> = err.lines().collect();
        let (started, between) = lines[1..].split_last().unwrap_or_else(|| panic!("{err}"));
        assert!(
            err.starts_with(&said)
                && between.iter().all(|l| {
                    l.starts_with(&format!("cssh: {alias}: job {job} PENDING ("))
                        && l.ends_with(" s; ending the connection cancels it")
                })
                && started.starts_with(&format!("cssh: {alias}: job {job} started after "))
                && started.ends_with(" s"),
            "{err}"
        );
        let out = std::fs::read_to_string(files.path("out")).unwrap();
        assert!(
            out.starts_with("host=node") && out.contains(&format!(" job={job}\n")),
            "{out}"
        );
        assert!(release(&config, user, &alias).status.success());
    }
}
