//! HTCondor pools: sessions of a host with `htcondor` land in the container of one HTCondor job
//! per host on an execute point, inside the job's own namespaces (its private /tmp); the job is
//! found again by later connections, replaced when held or removed, and removed on request;
//! files move on the access point; `--attach` enters a job the test submitted itself. Each test
//! uses a host name of its own (`-l` gives the user), since the job belongs to the name.

use std::process::{Command, Output, Stdio};

use crate::doctor::{status, value};
use crate::harness::*;
use crate::transfer::{CSFTP, DataDir, every_client_round_trips};

/// The `htcondor` setting of a host whose job, instead of sleeping alone, first leaves `secret`
/// in its private /tmp, which only a session inside the job's own mount namespace sees; then
/// `more` lines.
fn job_writing(secret: &str, more: &[&str]) -> String {
    let lines: Vec<String> = [
        "executable = /bin/sh",
        &format!("arguments = \"-c 'echo {secret} >/tmp/job-only; exec sleep 3000'\""),
        "allowed_job_duration = 600",
    ]
    .iter()
    .chain(more)
    .map(|line| format!("{line:?}"))
    .collect();
    format!("htcondor = [{}]", lines.join(", "))
}

fn condor_config(settings: &str) -> Scratch {
    Scratch::new(&format!(
        "[[host]]\npattern = \"th-*\"\nimage = \"{FULL_SIF}\"\n{settings}\n"
    ))
}

/// Prints where a command runs: host name, job, what the job left in its /tmp, image marker.
const WHERE: &str = "echo host=$(hostname) job=$(sed -n 's/^ClusterId = //p' \"$_CONDOR_JOB_AD\") tmp=$(cat /tmp/job-only 2>&1 | tr ' ' _); cat /etc/cssh-image-marker";

/// The execute point, the job and what is in its /tmp that a `WHERE` command reported, after
/// checking it ran in the image, inside a job.
fn where_(out: &Output) -> (String, String, String) {
    let field = reported(out);
    let (ep, job) = (field("host"), field("job"));
    assert!(
        ep.starts_with("ep"),
        "on an execute point: {}",
        describe(out)
    );
    assert!(
        !job.is_empty() && job.bytes().all(|b| b.is_ascii_digit()),
        "inside a job: {}",
        describe(out)
    );
    (ep, job, field("tmp"))
}

/// A host name of the test's own, whose job is removed when it is dropped.
struct Host {
    alias: String,
    user: &'static str,
    config: Scratch,
    /// What its job writes to its /tmp.
    secret: String,
}

impl Host {
    /// A host whose job writes its secret; `more` submit lines.
    fn new(user: &'static str, more: &[&str]) -> Host {
        let secret = format!("job-secret-{}", rand_suffix());
        Host {
            alias: format!("th-condor-{}", rand_suffix()),
            user,
            config: condor_config(&job_writing(&secret, more)),
            secret,
        }
    }

    /// A host with exactly these settings.
    fn with(user: &'static str, settings: &str) -> Host {
        Host {
            alias: format!("th-condor-{}", rand_suffix()),
            user,
            config: condor_config(settings),
            secret: String::new(),
        }
    }

    /// The execute point and the job a `WHERE` command reported, after checking it ran inside
    /// this host's job.
    fn landed(&self, out: &Output) -> (String, String) {
        let (ep, job, tmp) = where_(out);
        assert_eq!(tmp, self.secret, "in the job's own /tmp: {}", describe(out));
        (ep, job)
    }

    /// cssh for this host: the caller adds the command.
    fn cssh(&self) -> Command {
        let mut command = cssh(&self.config);
        command.args(["-l", self.user, &self.alias]);
        command
    }

    fn release(&self) -> Output {
        run(Command::new(CSSH)
            .env("CSSH_CONFIG", self.config.path("config.toml"))
            .args(["--release", "-F"])
            .arg(&host().ssh_config)
            .args(["-l", self.user, &self.alias]))
    }

    /// This host's jobs in the queue, `CLUSTER.PROC STATUS`, as condor_q lists them.
    fn jobs(&self) -> Vec<String> {
        let out = Command::new("ssh")
            .arg("-F")
            .arg(&host().ssh_config)
            .args([
                "-l",
                self.user,
                "th-bash",
                "condor_q",
                "-constraint",
                &format!("'JobBatchName == \"cssh-{}\"'", self.alias),
                "-af",
                "GlobalJobId",
                "JobStatus",
            ])
            .output()
            .unwrap();
        text(&out.stdout)
            .lines()
            .map(|line| {
                // `schedd#CLUSTER.PROC#time STATUS`
                let (id, status) = line.split_once(' ').unwrap();
                format!("{} {status}", id.split('#').nth(1).unwrap())
            })
            .collect()
    }

    /// Runs condor's `tool` on this host's job as its user.
    fn condor(&self, tool: &str, job: &str) {
        let out = Command::new("ssh")
            .arg("-F")
            .arg(&host().ssh_config)
            .args(["-l", self.user, "th-bash", tool, job])
            .output()
            .unwrap();
        assert!(out.status.success(), "{tool} {job}: {}", describe(&out));
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.release();
    }
}

#[test]
fn commands_land_in_the_jobs_own_container_on_an_execute_point() {
    std::thread::scope(|scope| {
        for user in ["bashuser", "tcshuser", "fishuser"] {
            scope.spawn(move || {
                let condor = Host::new(user, &[]);
                let first = condor.landed(&run(condor.cssh().arg(WHERE)));
                let again = condor.landed(&run(condor.cssh().arg(WHERE)));
                assert_eq!(again, first, "{user}: the second connection reuses the job");
                assert_eq!(
                    condor.jobs(),
                    [format!("{}.0 2", first.1)],
                    "{user}: one job"
                );
                // Exact arguments through condor_ssh_to_job's unquoted bash, and the status.
                let out = run(condor.cssh().args([
                    "printf", "'[%s]'", "'a  b'", "'$x'", "\"q'\"", "'*'", "'l1\nl2'", ";",
                    "exit 7",
                ]));
                assert_eq!(
                    (text(&out.stdout), said(&out.stderr), out.status.code()),
                    ("[a  b][$x][q'][*][l1\nl2]".into(), String::new(), Some(7)),
                    "{user}: {}",
                    describe(&out)
                );
                let input: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
                let out = run_with_input(condor.cssh().arg("cat"), &input);
                assert!(
                    out.stdout == input && out.status.success(),
                    "{user}: 1 MB of stdin and stdout byte-exact: {} bytes back, {:?}",
                    out.stdout.len(),
                    said(&out.stderr)
                );
            });
        }
    });
}

#[test]
fn the_jobs_land_where_htcondor_chose() {
    // Two hosts, each pinned to one execute point by its own submit line.
    for ep in ["ep1", "ep2"] {
        let requirement = format!("requirements = Machine == \"{ep}\"");
        let condor = Host::new("bashuser", &[&requirement]);
        let (landed_on, _) = condor.landed(&run(condor.cssh().arg(WHERE)));
        assert_eq!(landed_on, ep);
    }
}

#[test]
fn a_pty_shell_lands_in_the_job() {
    for user in ["bashuser", "tcshuser", "fishuser"] {
        let condor = Host::new(user, &[]);
        // The job first, so that the shell's prompt comes within the screen's wait.
        let (ep, job) = condor.landed(&run(condor.cssh().arg(WHERE)));
        let tmux = Tmux::start(&format!(
            "env CSSH_CONFIG={} {CSSH} -F {} -l {user} {}; echo CSSH-EXITED-$?; sleep 60",
            condor.config.path("config.toml").display(),
            host().ssh_config.display(),
            condor.alias
        ));
        tmux.wait_for_prompt();
        tmux.keys(&format!(
            "{WHERE}; [ -t 0 ] && [ -t 1 ] && echo on-a-terminal; stty size; echo end-$((6*7))"
        ));
        let screen = tmux.wait_for("end-42");
        assert!(
            screen.contains(&format!("host={ep} job={job} tmp={}", condor.secret)),
            "{user}: {screen}"
        );
        // The login's first line: the job, its execute point and its time left.
        assert!(
            screen.lines().any(|l| l
                .starts_with(&format!("cssh: {}: job {job}.0 on {ep}, 0:", condor.alias))
                && l.ends_with(" left")),
            "{user}: {screen}"
        );
        assert!(screen.contains("on-a-terminal"), "{user}: {screen}");
        assert!(screen.contains(FULL_MARKER.trim_end()), "{user}: {screen}");
        tmux.keys("exit 3");
        let screen = tmux.wait_for("CSSH-EXITED-3");
        assert!(
            !screen.contains("Connection to condor-job"),
            "{user}: condor_ssh_to_job's ssh says nothing: {screen}"
        );
    }
}

#[test]
fn a_held_or_removed_job_is_replaced_and_release_removes_it() {
    let condor = Host::new("tcshuser", &[]);
    let (_, first) = condor.landed(&run(condor.cssh().arg(WHERE)));
    let first = format!("{first}.0");
    // Held: the next connection removes it, says so in one line, and lands in a new one.
    condor.condor("condor_hold", &first);
    let out = run(condor.cssh().arg(WHERE));
    let (_, second) = condor.landed(&out);
    let second = format!("{second}.0");
    assert_ne!(second, first);
    let stderr = said(&out.stderr);
    assert!(
        stderr.starts_with(&format!("cssh: {}: job {first} was held (", condor.alias))
            && stderr.ends_with("): removed it\n")
            && stderr.lines().count() == 1,
        "{stderr}"
    );
    // Removed: the next connection submits a new one.
    condor.condor("condor_rm", &second);
    wait_until(&format!("job {second} to leave the queue"), || {
        let jobs = condor.jobs();
        if jobs.is_empty() {
            Ok(())
        } else {
            Err(format!("{jobs:?}"))
        }
    });
    let out = run(condor.cssh().arg(WHERE));
    let (_, third) = condor.landed(&out);
    let third = format!("{third}.0");
    assert!(third != first && third != second, "{third}");
    assert_eq!(said(&out.stderr), "");
    // --release removes it; a second says there is none.
    let out = condor.release();
    assert_eq!(
        (said(&out.stderr), out.status.code()),
        (
            format!("cssh: {}: released job {third}\n", condor.alias),
            Some(0)
        )
    );
    wait_until(&format!("job {third} to leave the queue"), || {
        let jobs = condor.jobs();
        if jobs.is_empty() {
            Ok(())
        } else {
            Err(format!("{jobs:?}"))
        }
    });
    let out = condor.release();
    assert_eq!(
        said(&out.stderr),
        format!("cssh: {}: no job to release\n", condor.alias)
    );
}

#[test]
fn an_idle_job_shows_its_state_and_one_removed_while_waiting_is_one_line() {
    // A job that no execute point matches stays idle.
    let condor = Host::with(
        "fishuser",
        "htcondor = [\"requirements = Machine == \\\"nosuch\\\"\"]",
    );
    let tmux = Tmux::start(&format!(
        "env CSSH_CONFIG={} {CSSH} -F {} -l fishuser {} true; echo CSSH-EXITED-$?; sleep 60",
        condor.config.path("config.toml").display(),
        host().ssh_config.display(),
        condor.alias
    ));
    let screen = tmux.wait_for(" idle, ");
    assert!(
        screen.contains(&format!("cssh: {}: job ", condor.alias)),
        "{screen}"
    );
    let jobs = condor.jobs();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let (job, status) = jobs[0].split_once(' ').unwrap();
    assert_eq!(status, "1", "idle");
    // Why it waits: the condition of its requirements that no slot matches.
    let screen = tmux.wait_for(" idle (no slot matches Machine == \"nosuch\"), ");
    assert!(screen.contains("; Ctrl-C removes it"), "{screen}");
    // The doctor's table says so too, with the fix.
    let doctor = run(Command::new(CSSH)
        .env("CSSH_CONFIG", condor.config.path("config.toml"))
        .args(["--doctor", "-F"])
        .arg(&host().ssh_config)
        .args(["-l", condor.user, &condor.alias]));
    let table = text(&doctor.stdout);
    let said = table
        .lines()
        .skip_while(|l| !l.starts_with(&format!("{}: htcondor warn: ", condor.alias)))
        .take(2)
        .collect::<Vec<_>>();
    assert!(
        said.len() == 2
            && said[0].ends_with(&format!(
                " slots run containers; job {job} idle (no slot matches Machine == \"nosuch\")"
            ))
            && said[1].starts_with("    fix: no slot can run it: change htcondor in "),
        "{}",
        describe(&doctor)
    );
    condor.condor("condor_rm", job);
    let screen = tmux.wait_for("CSSH-EXITED-255");
    assert!(
        screen.contains(&format!("cssh: {}: job {job} ", condor.alias))
            && screen.contains(" (the next connection submits a new one)"),
        "{screen}"
    );
    assert!(
        !screen.contains(" idle, "),
        "the waiting line is cleared: {screen}"
    );
}

#[test]
fn allocate_returns_once_the_job_runs_and_the_next_command_lands_in_it() {
    for user in ["tcshuser", "fishuser"] {
        let condor = Host::new(user, &[]);
        let out = run(Command::new(CSSH)
            .env("CSSH_CONFIG", condor.config.path("config.toml"))
            .args(["--allocate", "-F"])
            .arg(&host().ssh_config)
            .args(["-l", condor.user, &condor.alias]));
        assert_eq!(out.status.code(), Some(0), "{user}: {}", describe(&out));
        let jobs = condor.jobs();
        assert_eq!(jobs.len(), 1, "{user}: {jobs:?}");
        let (id, status) = jobs[0].split_once(' ').unwrap();
        assert_eq!(status, "2", "{user}: it runs already: {jobs:?}");
        let stderr = said(&out.stderr);
        assert!(
            stderr.starts_with(&format!("cssh: {}: job {id} on ep", condor.alias))
                && stderr.ends_with(" left\n")
                && stderr.lines().count() == 1,
            "{user}: {stderr}"
        );
        let (_, job) = condor.landed(&run(condor.cssh().arg(WHERE)));
        assert_eq!(
            format!("{job}.0"),
            id,
            "{user}: the next command lands in it"
        );
    }
}

#[test]
fn a_refused_submission_is_one_line() {
    let condor = Host::with("bashuser", "htcondor = [\"universe = nosuch\"]");
    let out = run(condor.cssh().arg("true"));
    assert_eq!(out.status.code(), Some(255), "{}", describe(&out));
    let stderr = said(&out.stderr);
    assert!(
        stderr.starts_with(&format!(
            "cssh: {}: condor_submit refused the job (htcondor in {}:4): ",
            condor.alias,
            condor.config.path("config.toml").display()
        )) && stderr.lines().count() == 1,
        "{stderr}"
    );
    assert!(condor.jobs().is_empty());
}

#[test]
fn files_move_in_the_job() {
    // Transfers of an HTCondor host run in its job's container, as its commands do: what scp,
    // sftp, rsync, sshfs and git write there, the job sees.
    let data = DataDir::in_htcondor_job(FULL_SIF);
    every_client_round_trips(&data);
    for alias in ["th-bash", "th-tcsh", "th-fish"] {
        let out = run(cssh(&data.scratch).args([alias, WHERE]));
        let (ep, _, _) = where_(&out);
        assert!(ep.starts_with("ep"), "{alias}: {}", describe(&out));
        let out = run(Command::new(CSSH)
            .env("CSSH_CONFIG", data.config())
            .args(["--release", "-F"])
            .arg(&host().ssh_config)
            .arg(alias));
        assert!(out.status.success(), "{}", describe(&out));
    }
}

#[test]
fn attach_enters_a_job_the_user_submitted_and_sftp_reaches_its_tmp() {
    let secret = format!("secret-{}", rand_suffix());
    let id = condor_submit(
        "th-bash",
        "bashuser",
        &format!(
            "universe = container\ncontainer_image = {FULL_SIF}\ntransfer_container = false\n\
             should_transfer_files = NO\nexecutable = /bin/sh\nbatch_name = attach-{secret}\n\
             arguments = \"-c 'echo {secret} >/tmp/job-only; exec sleep 3003'\""
        ),
    );
    let config = Scratch::new("[[host]]\npattern = \"th-*\"\nhtcondor = []\n");
    let attach = |job: &str| {
        let mut command = Command::new(CSSH);
        command
            .env("CSSH_CONFIG", config.path("config.toml"))
            .args(["--attach", job, "-F"])
            .arg(&host().ssh_config)
            .arg("th-bash")
            .stdin(Stdio::null());
        command
    };
    let mut seen = String::new();
    wait_until(&format!("job {id}'s container"), || {
        let out =
            run(attach(&id).args(["cat /tmp/job-only; hostname; cat /etc/cssh-image-marker"]));
        seen = text(&out.stdout);
        if out.status.success() {
            Ok(())
        } else {
            Err(describe(&out))
        }
    });
    assert!(
        seen.starts_with(&format!("{secret}\nep")) && seen.ends_with(FULL_MARKER),
        "{seen}"
    );
    // By its batch name too, and sftp puts a file into the job's own /tmp.
    let by_name = run(attach(&format!("attach-{secret}")).arg("cat /tmp/job-only"));
    assert_eq!(
        text(&by_name.stdout),
        format!("{secret}\n"),
        "{}",
        describe(&by_name)
    );
    let attached = Scratch::new(&format!(
        "[[host]]\npattern = \"th-*\"\nhtcondor = []\nattach = \"{id}\"\n"
    ));
    std::fs::write(attached.path("up"), "uploaded\n").unwrap();
    let out = run_with_input(
        Command::new(CSFTP)
            .arg("-q")
            .arg("-F")
            .arg(&host().ssh_config)
            .args(["-b", "-", "th-bash"])
            .env("CSSH_CONFIG", attached.path("config.toml")),
        format!("put {} /tmp/up\n", attached.path("up").display()).as_bytes(),
    );
    assert!(out.status.success(), "sftp: {}", describe(&out));
    let out = run(attach(&id).arg("cat /tmp/up /tmp/job-only"));
    assert_eq!(
        text(&out.stdout),
        format!("uploaded\n{secret}\n"),
        "{}",
        describe(&out)
    );
    // Removed, it is gone from the queue but not unknown: its state is said, as Slurm's is.
    let removed = ssh("th-bash", &["condor_rm", &id]);
    assert!(removed.status.success(), "{}", describe(&removed));
    let mut said = String::new();
    wait_until(&format!("job {id} to leave the queue"), || {
        let out = run(attach(&id).arg("true"));
        said = crate::harness::said(&out.stderr);
        if out.status.code() == Some(255) && said.contains(" is removed") {
            Ok(())
        } else {
            Err(describe(&out))
        }
    });
    assert_eq!(
        said,
        format!(
            "cssh: th-bash: job {id} is removed: only a running job has a container to enter\n"
        )
    );
}

#[test]
fn the_doctor_reads_the_pool_and_the_job_without_submitting() {
    let condor = Host::new("bashuser", &[]);
    let doctor = || {
        let out = run(Command::new(CSSH)
            .env("CSSH_CONFIG", condor.config.path("config.toml"))
            .args(["--doctor", "--json", "-F"])
            .arg(&host().ssh_config)
            .args(["-l", condor.user, &condor.alias]));
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let report = doctor();
    assert_eq!(status(&report, &condor.alias, "htcondor"), "pass");
    assert_eq!(status(&report, &condor.alias, "slurm"), "skip");
    let pool = value(&report, &condor.alias, "htcondor");
    assert!(
        pool.ends_with(" slots run containers; no job (the next session submits one)"),
        "{pool}"
    );
    assert!(condor.jobs().is_empty(), "the doctor submits nothing");
    let (ep, job) = condor.landed(&run(condor.cssh().arg(WHERE)));
    let report = doctor();
    let found = value(&report, &condor.alias, "htcondor");
    assert!(
        found.ends_with(&format!("; job {job}.0 running on {ep}")),
        "{found}"
    );
}

#[test]
fn configured_variables_and_the_sessions_come_into_the_job() {
    let condor = Host::new("tcshuser", &[]);
    let config = condor_config(&format!(
        "env = {{ LANG = \"C.configured\", CONFIGURED = \"a  b'c $x\" }}\n{}",
        job_writing(&condor.secret, &[])
    ));
    let out = run(cssh(&config)
        .env("LC_TIME", "C.sent")
        .args([
            "-o",
            "SendEnv=LC_TIME",
            "-l",
            condor.user,
            &condor.alias,
            "printf '%s|' \"$LANG\" \"$CONFIGURED\" \"$LC_TIME\" \"$_CONDOR_JOB_IWD\" \"$SSH_CONNECTION\" \"$(cat /tmp/job-only)\"",
        ]));
    let seen = text(&out.stdout);
    let fields: Vec<&str> = seen.split('|').collect();
    assert_eq!(
        fields[..4],
        ["C.configured", "a  b'c $x", "C.sent", "/home/tcshuser"],
        "{}",
        describe(&out)
    );
    assert!(
        fields[4].starts_with("127.0.0.1 "),
        "the session's own: {seen}"
    );
    assert_eq!(fields[5], condor.secret);
}

#[test]
fn attach_list_shows_the_running_jobs_and_whether_each_can_be_entered() {
    let condor = Host::new("fishuser", &[]);
    let (ep, job) = condor.landed(&run(condor.cssh().arg(WHERE)));
    let out = run(Command::new(CSSH)
        .env("CSSH_CONFIG", condor.config.path("config.toml"))
        .args(["--attach", "list", "-F"])
        .arg(&host().ssh_config)
        .args(["-l", condor.user, &condor.alias]));
    assert!(out.status.success(), "{}", describe(&out));
    // A fish user attaches to it by its id.
    let attached = run(Command::new(CSSH)
        .env("CSSH_CONFIG", condor.config.path("config.toml"))
        .args(["--attach", &format!("{job}.0"), "-F"])
        .arg(&host().ssh_config)
        .args(["-l", condor.user, &condor.alias, "cat /tmp/job-only"])
        .stdin(Stdio::null()));
    assert_eq!(
        text(&attached.stdout),
        format!("{}\n", condor.secret),
        "{}",
        describe(&attached)
    );
    let listed = text(&out.stdout);
    let row = listed
        .lines()
        .find(|line| line.starts_with(&format!("{job}.0 ")))
        .unwrap_or_else(|| panic!("{listed}"));
    let columns: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        columns,
        [
            &format!("{job}.0")[..],
            &ep,
            FULL_SIF,
            "yes",
            &format!("cssh-{}", condor.alias)
        ],
        "{listed}"
    );
}

#[test]
fn attach_refuses_another_users_job_and_one_without_a_container_in_one_line() {
    let theirs = condor_submit(
        "th-tcsh",
        "tcshuser",
        &format!(
            "universe = container\ncontainer_image = {FULL_SIF}\ntransfer_container = false\n\
             should_transfer_files = NO\nexecutable = /bin/sleep\narguments = 3004"
        ),
    );
    let bare = condor_submit(
        "th-bash",
        "bashuser",
        "universe = vanilla\nshould_transfer_files = NO\nexecutable = /bin/sleep\narguments = 3005",
    );
    let config = Scratch::new("[[host]]\npattern = \"th-*\"\nhtcondor = []\n");
    let attach = |job: &str| {
        run(Command::new(CSSH)
            .env("CSSH_CONFIG", config.path("config.toml"))
            .args(["--attach", job, "-F"])
            .arg(&host().ssh_config)
            .args(["th-bash", "true"])
            .stdin(Stdio::null()))
    };
    for job in [&theirs, &bare] {
        wait_until(&format!("job {job} to run"), || {
            let out = ssh("th-bash", &["condor_q", job, "-af", "JobStatus"]);
            if text(&out.stdout).trim() == "2" {
                Ok(())
            } else {
                Err(describe(&out))
            }
        });
    }
    let out = attach(&theirs);
    assert_eq!(
        (said(&out.stderr), out.status.code()),
        (
            format!("cssh: th-bash: job {theirs} is tcshuser's: cssh enters only your own jobs\n"),
            Some(255)
        )
    );
    // Its owner, a tcsh user, enters it.
    let out = run(Command::new(CSSH)
        .env("CSSH_CONFIG", config.path("config.toml"))
        .args(["--attach", &theirs, "-F"])
        .arg(&host().ssh_config)
        .args(["th-tcsh", "cat /etc/cssh-image-marker"])
        .stdin(Stdio::null()));
    assert_eq!(text(&out.stdout), FULL_MARKER, "{}", describe(&out));
    let out = attach(&bare);
    let stderr = said(&out.stderr);
    assert!(
        stderr.starts_with(&format!(
            "cssh: th-bash: job {bare} runs no container on ep"
        )) && stderr.ends_with(" (its execute point runs it without Apptainer)\n"),
        "{}",
        describe(&out)
    );
    assert_eq!(out.status.code(), Some(255));
    let _ = ssh("th-tcsh", &["condor_rm", &theirs]);
    let _ = ssh("th-bash", &["condor_rm", &bare]);
}

#[test]
fn ctrl_c_while_the_job_is_idle_removes_the_job_the_connection_submitted() {
    for user in ["bashuser", "tcshuser", "fishuser"] {
        let condor = Host::with(
            user,
            "htcondor = [\"requirements = Machine == \\\"nosuch\\\"\"]",
        );
        let tmux = Tmux::start(&format!(
            "trap true INT; env CSSH_CONFIG={} {CSSH} -F {} -l {user} {} true; echo CSSH-EXITED-$?; sleep 60",
            condor.config.path("config.toml").display(),
            host().ssh_config.display(),
            condor.alias
        ));
        let screen = tmux.wait_for(" idle (no slot matches Machine == \"nosuch\"), ");
        assert!(screen.contains("; Ctrl-C removes it"), "{user}: {screen}");
        let jobs = condor.jobs();
        assert_eq!(jobs.len(), 1, "{user}: {jobs:?}");
        tmux.press("C-c");
        tmux.wait_for("CSSH-EXITED-");
        wait_until("the job to be removed", || {
            let jobs = condor.jobs();
            jobs.iter()
                .all(|j| j.ends_with(" 3"))
                .then_some(())
                .ok_or(format!("{user}: {jobs:?}"))
        });
    }
}

/// A login node with both schedulers, a host that names neither: `--attach` finds an HTCondor
/// job by its id and its batch name, `--attach list` shows it beside the Slurm jobs, and a name
/// that both schedulers have is refused in one line naming both jobs.
#[test]
fn attach_on_a_host_that_names_no_scheduler_finds_the_job_on_either() {
    let untagged = Scratch::new("[[host]]\npattern = \"th-*\"\n");
    // One host name per user: the job's sshd's host key, pinned per name, is each user's own.
    let alias = |user: &str| format!("th-{}", user.trim_end_matches("user"));
    let attach = |user: &str, job: &str, args: &[&str]| {
        run(Command::new(CSSH)
            .env("CSSH_CONFIG", untagged.path("config.toml"))
            .args(["--attach", job, "-F"])
            .arg(&host().ssh_config)
            .args(["-l", user, &alias(user)])
            .args(args))
    };
    for user in ["bashuser", "tcshuser", "fishuser"] {
        let secret = format!("either-{}", rand_suffix());
        let id = condor_submit(
            &alias(user),
            user,
            &format!(
                "universe = container\ncontainer_image = {FULL_SIF}\ntransfer_container = false\n\
                 should_transfer_files = NO\nexecutable = /bin/sh\nbatch_name = {secret}\n\
                 arguments = \"-c 'echo {secret} >/tmp/job-only; exec sleep 3004'\""
            ),
        );
        let mut seen = String::new();
        wait_until(&format!("{user}: job {id}'s container"), || {
            let out = attach(user, &id, &["cat /tmp/job-only; hostname"]);
            seen = text(&out.stdout);
            out.status.success().then_some(()).ok_or(describe(&out))
        });
        assert!(seen.starts_with(&format!("{secret}\nep")), "{user}: {seen}");
        let by_name = attach(user, &secret, &["cat /tmp/job-only"]);
        assert_eq!(
            text(&by_name.stdout),
            format!("{secret}\n"),
            "{user}: {}",
            describe(&by_name)
        );
        let listed = run(Command::new(CSSH)
            .env("CSSH_CONFIG", untagged.path("config.toml"))
            .args(["--attach", "list", "-F"])
            .arg(&host().ssh_config)
            .args(["-l", user, &alias(user)]));
        let rows = text(&listed.stdout);
        assert!(
            rows.starts_with("JOB ")
                && rows.lines().any(|l| l.starts_with(&format!("{id} "))
                    && l.ends_with(&format!(" {secret}"))),
            "{user}: {}",
            describe(&listed)
        );
        // The doctor's attach check finds it the same way.
        let either = format!("{}-either", alias(user));
        let doctor = Scratch::new(&format!(
            "[[host]]\npattern = \"{either}\"\nattach = \"{id}\"\n"
        ));
        let report = crate::doctor::json_report(&doctor, &["-l", user, &either], 0);
        assert!(
            status(&report, &either, "attach") == "pass"
                && value(&report, &either, "attach").starts_with(&format!("job {id} on ep")),
            "{user}: {report}"
        );
        if user == "bashuser" {
            // A Slurm job of the same name: the name is refused, naming both.
            let slurm = ssh(
                "th-bash",
                &[
                    "sbatch",
                    "--parsable",
                    "--output=/dev/null",
                    &format!("--job-name={secret}"),
                    "--time=5",
                    "--wrap",
                    "'sleep 300'",
                ],
            );
            let slurm_id = text(&slurm.stdout).trim().to_string();
            assert!(slurm.status.success(), "{}", describe(&slurm));
            wait_until("the Slurm job to run", || {
                let state = ssh(
                    "th-bash",
                    &[
                        "squeue",
                        "--noheader",
                        "--format=%T",
                        &format!("--jobs={slurm_id}"),
                    ],
                );
                (text(&state.stdout).trim() == "RUNNING")
                    .then_some(())
                    .ok_or(describe(&state))
            });
            let both = attach(user, &secret, &["true"]);
            assert_eq!(
                (text(&both.stderr), both.status.code()),
                (
                    format!(
                        "cssh: th-bash: Slurm's job {slurm_id} and HTCondor's job {id} are both running jobs of yours named \"{secret}\": attach one by its id (cssh --attach list th-bash lists them)\n"
                    ),
                    Some(255)
                ),
                "{}",
                describe(&both)
            );
            let _ = ssh("th-bash", &["scancel", &slurm_id]);
        }
        let _ = run(Command::new("ssh").arg("-F").arg(&host().ssh_config).args([
            "-l",
            user,
            "th-bash",
            "condor_rm",
            &id,
        ]));
    }
}
