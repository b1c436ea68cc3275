//! Into a running batch job's own container: jobs the tests submit themselves (not cssh) run
//! `apptainer exec --contain --pid` with a file only the container sees, a variable exported by
//! the job script and one given by `--env`; another starts an instance; another runs no
//! container. cssh enters them from the laptop by `--attach` and by the `attach` setting, as
//! steps from the login node and by ssh to the node, for every client.

use std::process::{Command, Output, Stdio};

use crate::doctor::{status, value};
use crate::harness::*;
use crate::transfer::{CSFTP, CSSCP, Unmount};

/// A batch job submitted by `alias`'s user with `script` as its batch script, cancelled when
/// dropped.
pub struct Job {
    alias: &'static str,
    pub id: String,
    /// What only this job's container holds in its /tmp, and its variables' values.
    secret: String,
    /// The node Slurm ran it on, once it runs.
    node: String,
}

impl Job {
    pub fn submit(alias: &'static str, name: &str, script: &str) -> Job {
        let out = run_with_input(
            Command::new("ssh").arg("-F").arg(&host().ssh_config).args([
                alias,
                "sbatch",
                "--parsable",
                "--time=10",
                "--output=/dev/null",
                &format!("--job-name={name}"),
            ]),
            script.as_bytes(),
        );
        assert!(out.status.success(), "sbatch: {}", describe(&out));
        let id = text(&out.stdout).trim().to_string();
        assert!(id.bytes().all(|b| b.is_ascii_digit()), "{id}");
        Job {
            alias,
            id,
            secret: String::new(),
            node: String::new(),
        }
    }

    /// A job whose batch step runs a contained container with a pid namespace of its own.
    pub fn container(alias: &'static str) -> Job {
        let secret = format!("secret-{}", rand_suffix());
        let name = format!("attach-{}", rand_suffix());
        let script = format!(
            "#!/bin/sh\nexport JOBMARK=mark-{secret}\nexec apptainer exec --contain --pid --env VIAENV=via-{secret} {FULL_SIF} sh -c 'echo {secret} >/tmp/job-only; cd /tmp; exec sleep 3001'\n"
        );
        let mut job = Job::submit(alias, &name, &script);
        job.secret = secret;
        job.wait_until_entered("cat /tmp/job-only");
        job
    }

    /// A job whose container is as setuid Apptainer's are: a mount namespace of root's, no user
    /// namespace (the test host's stand-in for starter-suid, which Debian does not ship).
    fn setuid(alias: &'static str) -> Job {
        Job::submit(
            alias,
            "attach-setuid",
            "#!/bin/sh\nexec /usr/local/libexec/th-setuid-starter --mount --root=/opt/th/setuid-root /usr/bin/setpriv --reuid=$(id -u) --regid=$(id -g) --clear-groups /usr/bin/sleep 3006\n",
        )
    }

    /// Waits until the job runs, and notes its node.
    fn wait_until_running(&mut self) {
        let (alias, id) = (self.alias, self.id.clone());
        let mut node = String::new();
        wait_until(&format!("job {id} to run"), || {
            let out = ssh(
                alias,
                &["squeue", "-h", "-t", "RUNNING", "-o", "%N", "-j", &id],
            );
            node = text(&out.stdout).trim().to_string();
            if node.is_empty() {
                Err(describe(&out))
            } else {
                Ok(())
            }
        });
        assert!(node.starts_with("node"), "job {id} on {node}");
        self.node = node;
    }

    /// Waits until the job runs and `probe`, attached, succeeds: its container is up.
    pub fn wait_until_entered(&mut self, probe: &str) {
        self.wait_until_running();
        wait_until(&format!("job {}'s container", self.id), || {
            let out = run(attach(&untagged(), &self.id, self.alias).arg(probe));
            if out.status.success() {
                Ok(())
            } else {
                Err(describe(&out))
            }
        });
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        let _ = ssh(self.alias, &["scancel", &self.id]);
    }
}

/// Yes where `seen` is `wanted`.
fn seen(seen: String, wanted: &str) -> Result<(), String> {
    if seen == wanted { Ok(()) } else { Err(seen) }
}

/// A configuration whose prelude puts `~/DIR/NAME`, holding `script`, first on th-bash's PATH.
fn fake_program(dir: &str, name: &str, script: &str) -> Scratch {
    let out = run_with_input(
        Command::new("ssh").arg("-F").arg(&host().ssh_config).args([
            "th-bash",
            &format!("mkdir -p ~/{dir} && cat >~/{dir}/{name} && chmod +x ~/{dir}/{name}"),
        ]),
        script.as_bytes(),
    );
    assert!(out.status.success(), "{}", describe(&out));
    Scratch::new(&format!(
        "[[host]]\npattern = \"th-bash\"\nprelude = \"PATH=$HOME/{dir}:$PATH\"\n"
    ))
}

/// The users the tests attach as: one login shell of each kind (sh-like, csh-like, fish).
const ATTACH_USERS: [&str; 3] = ["th-bash", "th-tcsh", "th-fish"];

/// A configuration that tags no host: `--attach` alone enters the job.
pub fn untagged() -> Scratch {
    Scratch::new("# no host is tagged\n")
}

/// `cssh --attach JOB -F ... ALIAS`; the caller adds the command.
pub fn attach(config: &Scratch, job: &str, alias: &str) -> Command {
    let mut command = Command::new(CSSH);
    command
        .env("CSSH_CONFIG", config.path("config.toml"))
        .env_remove("CSSH_SSH")
        .args(["--attach", job, "-F"])
        .arg(&host().ssh_config)
        .arg(alias)
        .stdin(Stdio::null());
    command
}

/// Prints what a session in the job's container sees, one fact a line.
const PROBE: &str = "cat /tmp/job-only; echo mark=$JOBMARK via=$VIAENV job=$SLURM_JOB_ID; hostname; pwd; cat /proc/1/comm; for p in /proc/[0-9]*; do tr '\\0' ' ' <$p/cmdline; echo; done | grep -c '^sleep 3001'";

#[test]
fn a_command_enters_the_jobs_own_container() {
    let config = untagged();
    for alias in ATTACH_USERS {
        let job = Job::container(alias);
        let out = run(attach(&config, &job.id, alias).arg(PROBE));
        let secret = &job.secret;
        assert_eq!(
            (text(&out.stdout), out.status.code()),
            (
                format!(
                    "{secret}\nmark=mark-{secret} via=via-{secret} job={}\n{}\n/tmp\nappinit\n1\n",
                    job.id, job.node
                ),
                Some(0)
            ),
            "{alias}: the job's file, variables, node, working directory and processes: {}",
            describe(&out)
        );
        // Exact arguments and exit status, byte-exact binary stdin.
        let out = run(attach(&config, &job.id, alias)
            .args(["printf", "'[%s]'", "'a  b'", "'$x'", "\\!;", "exit 7"]));
        assert_eq!(
            (text(&out.stdout), text(&out.stderr), out.status.code()),
            ("[a  b][$x][!]".into(), String::new(), Some(7)),
            "{alias}: {}",
            describe(&out)
        );
        let input: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        let out = run_with_input(attach(&config, &job.id, alias).arg("cat"), &input);
        assert!(
            out.stdout == input,
            "{alias}: 1 MB of stdin byte-exact: {}",
            describe(&out).len()
        );
    }
}

#[test]
fn an_environment_that_is_not_all_variables_gives_only_its_variables() {
    // The container's process replaces its environment with records env would take for a
    // command and an option, as a program that overwrites its environment's memory leaves it.
    let script = format!(
        "#!/bin/sh\nexec apptainer exec --contain {FULL_SIF} python3 -c 'import ctypes; libc = ctypes.CDLL(None); A = ctypes.c_char_p * 4; libc.execve(b\"/bin/sleep\", A(b\"sleep\", b\"3011\", None, None), A(b\"GOOD=kept\", b\"NOEQUALS\", b\"-u\", None))'\n"
    );
    let mut job = Job::submit("th-bash", "attach-garbled", &script);
    job.wait_until_entered("true");
    let out = run(attach(&untagged(), &job.id, "th-bash")
        .arg("echo $GOOD; env | grep -c -e NOEQUALS -e '^-u'; exit 7"));
    assert_eq!(
        (text(&out.stdout), text(&out.stderr), out.status.code()),
        ("kept\n0\n".into(), String::new(), Some(7)),
        "{}",
        describe(&out)
    );
}

#[test]
fn a_pty_shell_enters_the_job_and_ends_what_it_started() {
    let config = untagged();
    for alias in ATTACH_USERS {
        let job = Job::container(alias);
        let tmux = Tmux::start(&format!(
            "env CSSH_CONFIG={} {CSSH} --attach {} -F {} {alias}; echo CSSH-EXITED-$?; sleep 60",
            config.path("config.toml").display(),
            job.id,
            host().ssh_config.display()
        ));
        tmux.wait_for_prompt();
        tmux.keys("cat /tmp/job-only; stty size; echo $SLURM_JOB_ID-$((6*7))");
        let screen = tmux.wait_for(&format!("{}-42", job.id));
        assert!(screen.contains(&job.secret), "{alias}: {screen}");
        assert!(
            screen.contains("40 160"),
            "{alias}: the window size: {screen}"
        );
        // Ctrl-C reaches the foreground program in the container; job control works.
        let sleeps = |seconds: &str| {
            let count = format!(
                "for p in /proc/[0-9]*; do tr '\\0' ' ' <$p/cmdline; echo; done | grep -c '^sleep {seconds}'"
            );
            text(&run(attach(&config, &job.id, alias).arg(count)).stdout)
        };
        tmux.keys("sleep 3098");
        wait_until(&format!("{alias}: the foreground sleep"), || {
            seen(sleeps("3098"), "1\n")
        });
        tmux.press("C-c");
        // bash abandons the rest of a line whose program Ctrl-C ended: $? on the next line.
        tmux.keys("echo interrupted-$?");
        tmux.wait_for("interrupted-130");
        tmux.keys("sleep 3099 & fg %1");
        wait_until(&format!("{alias}: the sleep brought back"), || {
            seen(sleeps("3099"), "1\n")
        });
        tmux.press("C-c");
        tmux.keys("echo back-$((40+2))");
        tmux.wait_for("back-42");
        assert_eq!(
            sleeps("3099"),
            "0\n",
            "{alias}: Ctrl-C ended the job brought back"
        );
        tmux.keys("exit 3");
        tmux.wait_for("CSSH-EXITED-3");
        // A closed connection ends what the session started in the container.
        // The pane stays after the command, so that a session that ended says why.
        let tmux = Tmux::start(&format!(
            "env CSSH_CONFIG={} {CSSH} --attach {} -F {} -t {alias} sleep 3077; echo CSSH-EXITED-$?; sleep 60",
            config.path("config.toml").display(),
            job.id,
            host().ssh_config.display()
        ));
        wait_until(&format!("{alias}: the session's sleep to start"), || {
            seen(sleeps("3077"), "1\n").map_err(|e| format!("{e}; the screen:\n{}", tmux.screen()))
        });
        drop(tmux);
        wait_until(
            &format!("{alias}: the session's sleep to end with its connection"),
            || seen(sleeps("3077"), "0\n"),
        );
    }
}

#[test]
fn every_client_reaches_the_jobs_private_tmp_through_the_attach_setting() {
    let job = Job::container("th-bash");
    let config = Scratch::new(&format!(
        "[[host]]\npattern = \"th-bash\"\nattach = \"{}\"\n",
        job.id
    ));
    let local = |name: &str| config.path(name).display().to_string();
    let ssh_config = host().ssh_config.display().to_string();
    let with_config = |command: &mut Command| -> Output {
        run(command
            .env("CSSH_CONFIG", config.path("config.toml"))
            .env_remove("CSSH_SSH")
            .stdin(Stdio::null()))
    };
    let cssh_e = format!("{CSSH} -F {ssh_config}");
    let expected = format!("{}\n", job.secret);
    // What `cssh --rsync-path` and `--sftp-server-command` print for the host: a remote command
    // for tools whose transport stays plain ssh.
    let own_remote_command = |option: &str| -> String {
        let out = with_config(Command::new(CSSH).args([option, "th-bash"]));
        assert!(out.status.success(), "{option}: {}", describe(&out));
        text(&out.stdout).trim_end().to_string()
    };
    for (what, command, file) in [
        (
            "scp",
            with_config(Command::new(CSSCP).args([
                "-q",
                "-F",
                &ssh_config,
                "th-bash:/tmp/job-only",
                &local("scp"),
            ])),
            "scp",
        ),
        (
            "scp -O",
            with_config(Command::new(CSSCP).args([
                "-O",
                "-q",
                "-F",
                &ssh_config,
                "th-bash:/tmp/job-only",
                &local("scp-O"),
            ])),
            "scp-O",
        ),
        (
            "rsync -e cssh",
            with_config(Command::new("rsync").args([
                "-a",
                "-e",
                &cssh_e,
                "th-bash:/tmp/job-only",
                &local("rsync"),
            ])),
            "rsync",
        ),
        (
            "rsync --rsync-path, plain ssh as its transport",
            with_config(
                Command::new("rsync")
                    .args(["-a", "-e", &format!("ssh -F {ssh_config}")])
                    .arg(format!(
                        "--rsync-path={}",
                        own_remote_command("--rsync-path")
                    ))
                    .args(["th-bash:/tmp/job-only", &local("rsync-path")]),
            ),
            "rsync-path",
        ),
    ] {
        assert!(command.status.success(), "{what}: {}", describe(&command));
        assert_eq!(
            std::fs::read_to_string(config.path(file)).unwrap(),
            expected,
            "{what}"
        );
    }
    // Plain sftp with cssh's remote command for the sftp-server, then csftp: each puts a file
    // into the job's /tmp, and the job sees it there.
    std::fs::write(config.path("up-plain"), "uploaded plain\n").unwrap();
    let out = run_with_input(
        Command::new("sftp")
            .args(["-q", "-F", &ssh_config, "-b", "-", "-s"])
            .arg(own_remote_command("--sftp-server-command"))
            .arg("th-bash"),
        format!("put {} /tmp/up-plain\n", local("up-plain")).as_bytes(),
    );
    assert!(out.status.success(), "sftp -s: {}", describe(&out));
    std::fs::write(config.path("up"), "uploaded\n").unwrap();
    let out = run_with_input(
        Command::new(CSFTP)
            .args(["-q", "-F", &ssh_config, "-b", "-", "th-bash"])
            .env("CSSH_CONFIG", config.path("config.toml"))
            .env_remove("CSSH_SSH"),
        format!("put {} /tmp/up\n", local("up")).as_bytes(),
    );
    assert!(out.status.success(), "sftp: {}", describe(&out));
    let out = with_config(Command::new(CSSH).args([
        "-F",
        &ssh_config,
        "th-bash",
        "cat /tmp/up; ls -1 /tmp",
    ]));
    assert_eq!(
        text(&out.stdout),
        "uploaded\njob-only\nup\nup-plain\n",
        "{}",
        describe(&out)
    );
    // git: a bare repository in the job's /tmp, cloned and pushed to.
    let out = with_config(Command::new(CSSH).args([
        "-F",
        &ssh_config,
        "th-bash",
        "git init -q --bare -b main /tmp/repo.git",
    ]));
    assert!(out.status.success(), "{}", describe(&out));
    let git = |dir: &std::path::Path, args: &[&str]| {
        let out = with_config(
            Command::new("git")
                .current_dir(dir)
                .args(["-c", "user.name=cssh", "-c", "user.email=cssh@example.org"])
                .args(args)
                .env("GIT_SSH_COMMAND", &cssh_e),
        );
        assert!(out.status.success(), "git {args:?}: {}", describe(&out));
    };
    git(
        config.path("").as_path(),
        &["clone", "-q", "th-bash:/tmp/repo.git", "work"],
    );
    let work = config.path("work");
    std::fs::write(work.join("file"), "pushed\n").unwrap();
    git(&work, &["add", "file"]);
    git(&work, &["commit", "-q", "-m", "one"]);
    git(&work, &["push", "-q", "origin", "HEAD:main"]);
    let out = with_config(Command::new(CSSH).args([
        "-F",
        &ssh_config,
        "th-bash",
        "git --git-dir=/tmp/repo.git show main:file",
    ]));
    assert_eq!(text(&out.stdout), "pushed\n", "{}", describe(&out));
    // sshfs mounts the job's /tmp: what the job wrote reads back, what is written the job sees.
    let mount = config.path("mnt");
    std::fs::create_dir(&mount).unwrap();
    let out = with_config(
        Command::new("sshfs")
            .arg("-o")
            .arg(format!("ssh_command={cssh_e}"))
            .arg("th-bash:/tmp")
            .arg(&mount),
    );
    assert!(out.status.success(), "sshfs: {}", describe(&out));
    let unmount = Unmount(mount.clone());
    assert_eq!(
        std::fs::read_to_string(mount.join("job-only")).unwrap(),
        expected
    );
    std::fs::write(mount.join("by-sshfs"), "mounted\n").unwrap();
    drop(unmount);
    let out =
        with_config(Command::new(CSSH).args(["-F", &ssh_config, "th-bash", "cat /tmp/by-sshfs"]));
    assert_eq!(text(&out.stdout), "mounted\n", "{}", describe(&out));
}

#[test]
fn node_mode_carries_vs_code_and_a_forward_into_the_container() {
    for alias in ATTACH_USERS {
        let job = Job::container(alias);
        let config = Scratch::new(&format!(
            "[[host]]\npattern = \"{alias}\"\nattach = \"{}\"\nslurm_connect = \"ssh\"\n",
            job.id
        ));
        // VS Code Remote-SSH's shape: its script on bash's stdin, in the job's container.
        let out = run_with_input(
            cssh(&config).args(["-T", "-D", &free_port(), alias, "bash"]),
            b"cat /tmp/job-only; echo bash=$BASH_VERSION; hostname\nexit 0\n",
        );
        let stdout = text(&out.stdout);
        assert!(
            stdout.starts_with(&format!("{}\nbash=5.2", job.secret))
                && stdout.ends_with(&format!("{}\n", job.node)),
            "{alias}: {}",
            describe(&out)
        );
        // -L ends on the node, in the container's network: a server in the container answers.
        let (local, remote) = (free_port(), free_port());
        let mut server = cssh(&config)
            .args([
                "-L",
                &format!("{local}:127.0.0.1:{remote}"),
                alias,
                &format!("cd /tmp && exec python3 -m http.server {remote} --bind 127.0.0.1"),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut body = String::new();
        wait_until(&format!("{alias}: the server in the container"), || {
            let fetched = Command::new("python3")
                .args([
                    "-c",
                    &format!(
                        "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:{local}/job-only', timeout=5).read().decode(), end='')"
                    ),
                ])
                .output()
                .unwrap();
            body = text(&fetched.stdout);
            if fetched.status.success() {
                Ok(())
            } else {
                Err(describe(&fetched))
            }
        });
        let _ = server.kill();
        let _ = server.wait();
        assert_eq!(body, format!("{}\n", job.secret), "{alias}");
    }
}

#[test]
fn a_job_that_runs_an_instance_is_entered_by_its_instance() {
    for alias in ATTACH_USERS {
        let name = format!("inst{}", rand_suffix());
        let script = format!(
            "#!/bin/sh\napptainer instance start {FULL_SIF} {name} >/dev/null 2>&1\ntrap 'apptainer instance stop {name} >/dev/null 2>&1' EXIT TERM\nsleep 3002 & wait\n"
        );
        let mut job = Job::submit(alias, &format!("attach-{name}"), &script);
        job.wait_until_entered("true");
        let out = run(attach(&untagged(), &job.id, alias).arg(format!(
            "cat /etc/cssh-image-marker; echo $APPTAINER_INSTANCE job=$SLURM_JOB_ID; {CAPBND}; exit 7"
        )));
        let stdout = text(&out.stdout);
        assert_eq!(
            (
                stdout.lines().take(2).collect::<Vec<_>>(),
                out.status.code()
            ),
            (
                vec![FULL_MARKER.trim_end(), &format!("{name} job={}", job.id)],
                Some(7)
            ),
            "{alias}: {}",
            describe(&out)
        );
        // The instance is joined by its namespaces, as any instance.
        assert!(joined_by_namespaces(&stdout), "{alias}: {stdout}");
    }
}

#[test]
fn a_step_picks_its_own_container_and_the_batch_steps_is_the_default() {
    // The batch step runs one container; step 0, started by srun inside the job, another.
    let script = format!(
        "#!/bin/sh\napptainer exec --contain {FULL_SIF} sh -c 'echo batch >/tmp/which; exec sleep 3012' &\nsrun --overlap --ntasks=1 apptainer exec --contain {FULL_SIF} sh -c 'echo step >/tmp/which; exec sleep 3013' &\nwait\n"
    );
    let mut job = Job::submit("th-fish", "attach-steps", &script);
    job.wait_until_entered("cat /tmp/which");
    let step = format!("{}.0", job.id);
    wait_until("step 0's container", || {
        let out = run(attach(&untagged(), &step, "th-fish").arg("cat /tmp/which"));
        seen(text(&out.stdout), "step\n")
    });
    let out = run(attach(&untagged(), &job.id, "th-fish").arg("cat /tmp/which"));
    assert_eq!(text(&out.stdout), "batch\n", "{}", describe(&out));
}

#[test]
fn csshs_own_allocation_with_an_instance_is_entered_by_its_instance() {
    let alias = format!("th-attach-own-{}", rand_suffix());
    let instance = format!("own{}", rand_suffix());
    let config = Scratch::new(&format!(
        "[[host]]\npattern = \"{alias}\"\nimage = \"{FULL_SIF}\"\nslurm = [\"--time=5\"]\ninstance = \"{instance}\"\n"
    ));
    let out = run(cssh(&config).args(["-l", "tcshuser", &alias, "true"]));
    assert!(out.status.success(), "{}", describe(&out));
    let listed = ssh(
        "th-tcsh",
        &["squeue", "-h", "-o", "%i", &format!("--name=cssh-{alias}")],
    );
    let job = text(&listed.stdout).trim().to_string();
    assert!(!job.is_empty(), "{}", describe(&listed));
    let out = run(attach(&untagged(), &job, "th-tcsh")
        .arg("echo $APPTAINER_INSTANCE; cat /etc/cssh-image-marker"));
    let node = ssh("th-tcsh", &["squeue", "-h", "-o", "%N", "-j", &job]);
    let node = text(&node.stdout).trim().to_string();
    let released = run(Command::new(CSSH)
        .env("CSSH_CONFIG", config.path("config.toml"))
        .args(["--release", "-F"])
        .arg(&host().ssh_config)
        .args(["-l", "tcshuser", &alias]));
    assert_eq!(
        text(&out.stdout),
        format!("{instance}\n{FULL_MARKER}"),
        "{}",
        describe(&out)
    );
    assert!(released.status.success(), "{}", describe(&released));
    // The instance left the job's processes, and the job, ending, stopped it.
    wait_until(
        &format!("the instance on {node} to stop with its job"),
        || {
            let out = Command::new("ssh")
                .arg("-F")
                .arg(&host().ssh_config)
                .args([
                    "-J",
                    "th-tcsh",
                    "-l",
                    "tcshuser",
                    &node,
                    "apptainer instance list",
                ])
                .stdin(Stdio::null())
                .output()
                .unwrap();
            let listed = text(&out.stdout);
            if out.status.success() && !listed.contains(&instance) {
                Ok(())
            } else {
                Err(describe(&out))
            }
        },
    );
}

#[test]
fn what_cannot_be_entered_is_one_line_and_255() {
    let config = untagged();
    // Running, with no container: what the refusal says is the proof.
    let mut plain = Job::submit("th-bash", "attach-plain", "#!/bin/sh\nexec sleep 3003\n");
    plain.wait_until_running();
    let held = {
        let out = run_with_input(
            Command::new("ssh").arg("-F").arg(&host().ssh_config).args([
                "th-bash",
                "sbatch",
                "--parsable",
                "--hold",
                "--time=5",
                "--output=/dev/null",
                "--job-name=attach-held",
            ]),
            b"#!/bin/sh\nexec sleep 3004\n",
        );
        Job {
            alias: "th-bash",
            id: text(&out.stdout).trim().to_string(),
            secret: String::new(),
            node: String::new(),
        }
    };
    let theirs = Job::container("th-bash");
    let mut setuid = Job::setuid("th-bash");
    setuid.wait_until_running();
    // A container whose environment is larger than one variable may carry (three of 60 KB).
    let mut large = Job::submit(
        "th-bash",
        "attach-large",
        &format!(
            "#!/bin/sh\nx=$(head -c 60000 /dev/zero | tr '\\0' x)\nexport A=$x B=$x C=$x\nexec apptainer exec {FULL_SIF} sleep 3007\n"
        ),
    );
    large.wait_until_running();
    wait_until("the large container to start", || {
        let out = run(attach(&config, &large.id, "th-bash").arg("true"));
        let said = text(&out.stderr);
        (said.contains("environment is larger"))
            .then_some(())
            .ok_or(said)
    });
    // Nodes whose programs fall short, each a PATH the prelude sets: no nsenter at all, an
    // nsenter too old for user namespaces, a sed without -z.
    let setup = ssh(
        "th-bash",
        &[
            "mkdir -p ~/no-nsenter && for f in /usr/bin/*; do [ \"${f##*/}\" = nsenter ] || ln -sf \"$f\" ~/no-nsenter/; done",
        ],
    );
    assert!(setup.status.success(), "{}", describe(&setup));
    let old_nsenter = fake_program(
        "old-nsenter",
        "nsenter",
        "#!/bin/sh\necho 'Usage: nsenter [options] <program>'\n",
    );
    let old_sed = fake_program(
        "old-sed",
        "sed",
        "#!/bin/sh\ncase $1 in -z) echo 'sed: invalid option -- z' >&2; exit 1 ;; esac\nexec /usr/bin/sed \"$@\"\n",
    );
    let no_nsenter =
        Scratch::new("[[host]]\npattern = \"th-bash\"\nprelude = \"PATH=$HOME/no-nsenter\"\n");
    let cases = [
        (
            run(attach(&config, &plain.id, "th-bash").arg("true")),
            format!(
                "cssh: th-bash: job {0} runs no container on {1} (the job without one: ssh -t th-bash srun --jobid={0} --overlap --pty bash)",
                plain.id, plain.node
            ),
        ),
        (
            run(attach(&config, &setuid.id, "th-bash").arg("true")),
            format!(
                "cssh: th-bash: job {} runs its container without a user namespace (setuid Apptainer): its namespaces belong to root and only the runtime can enter them (an instance started with --userns, or apptainer exec instance://, can be joined)",
                setuid.id
            ),
        ),
        (
            run(attach(&config, &large.id, "th-bash").arg("true")),
            format!(
                "cssh: th-bash: job {}: its container's environment is larger than the 128 KiB that cssh can carry into it (one variable, as the kernel limits it)",
                large.id
            ),
        ),
        (
            run(attach(&config, &held.id, "th-bash").arg("true")),
            format!(
                "cssh: th-bash: job {} is PENDING: only a running job has a container to enter",
                held.id
            ),
        ),
        (
            run(attach(&config, &theirs.id, "th-fish").arg("true")),
            format!(
                "cssh: th-fish: job {} is bashuser's: cssh enters only your own jobs",
                theirs.id
            ),
        ),
        (
            run(attach(&config, "999999", "th-bash").arg("true")),
            "cssh: th-bash: job 999999: slurm_load_jobs error: Invalid job id specified (cssh --attach list th-bash lists your running jobs)".into(),
        ),
        (
            run(attach(&config, "attach-nosuch", "th-bash").arg("true")),
            "cssh: th-bash: no running job of yours named \"attach-nosuch\" (cssh --attach list th-bash lists them)".into(),
        ),
        (
            run(attach(&config, &format!("{}.7", theirs.id), "th-bash").arg("true")),
            format!("cssh: th-bash: job {} has no running step 7", theirs.id),
        ),
        (
            run(attach(&no_nsenter, &theirs.id, "th-bash").arg("true")),
            format!("cssh: th-bash: no nsenter on {} to enter the job's container (util-linux 2.26 or later has it)", theirs.node),
        ),
        (
            run(attach(&old_nsenter, &theirs.id, "th-bash").arg("true")),
            format!("cssh: th-bash: nsenter on {} cannot keep your credentials in the container's user namespace (util-linux 2.26 or later can)", theirs.node),
        ),
        (
            run(attach(&old_sed, &theirs.id, "th-bash").arg("true")),
            format!("cssh: th-bash: the sed on {} cannot read the container's environment (GNU sed 4.2.2 or later, with -z, can)", theirs.node),
        ),
    ];
    for (out, line) in cases {
        assert_eq!(
            (text(&out.stderr), out.status.code(), text(&out.stdout)),
            (format!("{line}\n"), Some(255), String::new()),
            "{}",
            describe(&out)
        );
    }
}

#[test]
fn the_list_shows_each_running_job_and_whether_it_can_be_entered() {
    let job = Job::container("th-tcsh");
    let mut plain = Job::submit(
        "th-tcsh",
        "attach-list-plain",
        "#!/bin/sh\nexec sleep 3005\n",
    );
    plain.wait_until_running();
    let mut setuid = Job::setuid("th-tcsh");
    setuid.wait_until_running();
    let out = run(Command::new(CSSH)
        .env("CSSH_CONFIG", untagged().path("config.toml"))
        .args(["--attach", "list", "-F"])
        .arg(&host().ssh_config)
        .arg("th-tcsh"));
    assert!(out.status.success(), "{}", describe(&out));
    let listed = text(&out.stdout);
    let row = |id: &str| -> Vec<String> {
        listed
            .lines()
            .find(|line| line.split_whitespace().next() == Some(id))
            .unwrap_or_default()
            .split_whitespace()
            .map(String::from)
            .collect()
    };
    assert!(listed.starts_with("JOB "), "{listed}");
    let name = row(&job.id).last().cloned().unwrap_or_default();
    assert_eq!(
        row(&job.id),
        [job.id.as_str(), &job.node, FULL_SIF, "yes", &name],
        "{listed}"
    );
    assert!(name.starts_with("attach-"), "{listed}");
    assert_eq!(
        row(&plain.id),
        [
            &plain.id,
            &plain.node,
            "-",
            "no",
            "(no",
            "container)",
            "attach-list-plain"
        ],
        "{listed}"
    );
    assert_eq!(
        row(&setuid.id),
        [
            &setuid.id,
            &setuid.node,
            "-",
            "no",
            "(setuid",
            "Apptainer)",
            "attach-setuid"
        ],
        "{listed}"
    );
}

#[test]
fn the_doctor_checks_an_attached_hosts_job_and_container() {
    let job = Job::container("th-bash");
    let mut plain = Job::submit(
        "th-bash",
        "attach-doctor-plain",
        "#!/bin/sh\nexec sleep 3007\n",
    );
    plain.wait_until_running();
    let config = Scratch::new(&format!(
        "[[host]]\npattern = \"th-attach-ok\"\nattach = \"{}\"\n\n[[host]]\npattern = \"th-attach-plain\"\nattach = \"{}\"\n\n[[host]]\npattern = \"th-attach-gone\"\nattach = \"999999\"\n",
        job.id, plain.id
    ));
    let out = run(Command::new(CSSH)
        .env("CSSH_CONFIG", config.path("config.toml"))
        .args(["--doctor", "--json", "-F"])
        .arg(&host().ssh_config)
        .args([
            "-l",
            "bashuser",
            "th-attach-ok",
            "th-attach-plain",
            "th-attach-gone",
        ]));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status(&report, "th-attach-ok", "attach"), "pass");
    assert_eq!(
        value(&report, "th-attach-ok", "attach"),
        format!("job {} on {}: {FULL_SIF}, yes", job.id, job.node)
    );
    assert_eq!(status(&report, "th-attach-ok", "image"), "skip");
    assert_eq!(status(&report, "th-attach-plain", "attach"), "fail");
    assert_eq!(
        value(&report, "th-attach-plain", "attach"),
        format!("job {} on {}: -, no (no container)", plain.id, plain.node)
    );
    assert_eq!(status(&report, "th-attach-gone", "attach"), "fail");
    assert_eq!(
        value(&report, "th-attach-gone", "attach"),
        "job 999999: slurm_load_jobs error: Invalid job id specified (cssh --attach list th-attach-gone lists your running jobs)"
    );
}

/// dashuser runs no job in any test: each scheduler's list says so under its header.
#[test]
fn an_empty_list_says_there_is_no_job() {
    for config in [
        untagged(),
        Scratch::new("[[host]]\npattern = \"th-dash\"\nhtcondor = []\n"),
    ] {
        let out = run(Command::new(CSSH)
            .env("CSSH_CONFIG", config.path("config.toml"))
            .args(["--attach", "list", "-F"])
            .arg(&host().ssh_config)
            .arg("th-dash")
            .stdin(Stdio::null()));
        assert!(out.status.success(), "{}", describe(&out));
        let stdout = text(&out.stdout);
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 2, "{stdout}");
        assert!(lines[0].starts_with("JOB "), "{stdout}");
        assert_eq!(lines[1], "(no running job of yours)");
    }
}
