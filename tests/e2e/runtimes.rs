//! Runtimes other than Apptainer on the same host entries: Charliecloud's ch-run (`runtime =
//! "charliecloud"`) of a directory image (and a SquashFS one), for the bash, tcsh and fish
//! users: the image's marker, the argument corpus byte for byte, the command's exit statuses,
//! binary data both ways, a pty shell in the home directory, every transfer client, and one
//! line with the documented status for a missing runtime, a missing image and ch-run's own
//! failure.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use crate::attach::{Job, attach, untagged};
use crate::commands::{
    binary_round_trips, corpus, expected_output, printf_command, statuses_are_the_commands,
};
use crate::harness::*;
use crate::transfer::{DataDir, every_client_round_trips};

/// The users whose login shells carry the remote script: sh-like, csh-like, fish.
const USERS: [&str; 3] = ["th-bash", "th-tcsh", "th-fish"];

/// The full image as a directory, which ch-run runs as it is.
const CHARLIECLOUD: &str = "runtime = \"charliecloud\"";

fn charliecloud(extra: &str) -> Scratch {
    tagging(FULL_SANDBOX, &format!("{CHARLIECLOUD}\n{extra}"))
}

#[test]
fn charliecloud_runs_commands_in_the_image_byte_exact_with_their_status() {
    let config = charliecloud("");
    let words = corpus();
    let command = OsString::from_vec(printf_command(&words));
    for alias in USERS {
        let out = run(cssh(&config).args([alias, "cat /etc/cssh-image-marker; echo $CH_RUNNING"]));
        assert_eq!(
            text(&out.stdout),
            format!("{FULL_MARKER}Weird Al Yankovic\n"),
            "{alias}: {}",
            describe(&out)
        );
        let out = run(cssh(&config).arg(alias).arg(&command));
        assert_eq!(
            out.stdout,
            expected_output(&words),
            "{alias}: {}",
            describe(&out)
        );
    }
    // 125, 126 and 127 are the command's here too.
    statuses_are_the_commands(&config, &[0, 1, 42, 125, 126, 127]);
    // A SquashFS image, which ch-run mounts and waits for: the same marker and statuses.
    let squashfs = tagging(FULL_SQUASHFS, CHARLIECLOUD);
    for alias in USERS {
        let out = run(cssh(&squashfs).args([alias, "cat /etc/cssh-image-marker; exit 42"]));
        assert_eq!(
            (text(&out.stdout), out.status.code()),
            (FULL_MARKER.to_string(), Some(42)),
            "{alias}: {}",
            describe(&out)
        );
    }
    assert!(
        !host().root.join("tmp/cssh-canary").exists(),
        "no argument may run as code"
    );
}

#[test]
fn charliecloud_carries_binary_data_both_ways() {
    binary_round_trips(&charliecloud(""), &USERS, 4);
}

#[test]
fn a_charliecloud_shell_has_a_terminal_in_the_home_directory() {
    let config = charliecloud("");
    for alias in USERS {
        let user = format!("{}user", alias.trim_start_matches("th-"));
        let tmux = Tmux::start(&format!(
            "CSSH_CONFIG={} {CSSH} -F {} {alias}; echo CSSH-EXITED-$?; sleep 60",
            config.path("config.toml").display(),
            host().ssh_config.display()
        ));
        tmux.wait_for_prompt();
        tmux.keys("echo \"[$(tty)] [$(pwd)] [$HOME] [$CH_RUNNING]\"; cat /etc/cssh-image-marker");
        let screen = tmux.wait_for(FULL_MARKER.trim_end());
        let line = format!("] [/home/{user}] [/home/{user}] [Weird Al Yankovic]");
        assert!(
            screen
                .lines()
                .any(|l| l.starts_with("[/dev/pts/") && l.trim_end().ends_with(&line)),
            "{alias}: no {line:?} in:\n{screen}"
        );
        tmux.keys("exit 3");
        tmux.wait_for("CSSH-EXITED-3");
    }
}

#[test]
fn every_transfer_client_round_trips_through_charliecloud() {
    every_client_round_trips(&DataDir::with(FULL_SANDBOX, CHARLIECLOUD));
}

#[test]
fn charliecloud_failures_are_one_line_with_their_status() {
    let missing_runtime = tagging(FULL_SANDBOX, "runtime = \"/opt/none/ch-run\"");
    let missing_image = tagging("/opt/th/no-such-image", CHARLIECLOUD);
    // A directory that is no image: ch-run's own error, its status 1.
    let not_an_image = tagging("/etc/ssh", CHARLIECLOUD);
    for alias in USERS {
        let out = run(cssh(&missing_runtime).args([alias, "true"]));
        assert_eq!(
            (out.status.code(), said(&out.stderr)),
            (
                Some(127),
                format!(
                    "cssh: {alias}: /opt/none/ch-run not found or not executable (set prelude or runtime in {})\n",
                    missing_runtime.path("config.toml").display()
                )
            ),
            "{alias}"
        );
        let out = run(cssh(&missing_image).args([alias, "true"]));
        assert_eq!(
            (out.status.code(), said(&out.stderr)),
            (
                Some(127),
                format!("cssh: {alias}: image /opt/th/no-such-image not found on the remote\n")
            ),
            "{alias}"
        );
        let out = run(cssh(&not_an_image).args([alias, "true"]));
        let stderr = said(&out.stderr);
        assert!(
            out.status.code() == Some(1)
                && stderr.lines().count() == 1
                && stderr.starts_with("ch-run[")
                && stderr.contains("error"),
            "{alias}: {}",
            describe(&out)
        );
    }
}

#[test]
fn charliecloud_runs_in_a_slurm_allocation_every_way_a_session_reaches_it() {
    for connect in ["sshd", "srun", "ssh"] {
        let config = Scratch::new(&format!(
            "[[host]]\npattern = \"th-*\"\nimage = \"{FULL_SANDBOX}\"\n{CHARLIECLOUD}\nslurm = [\"--time=10\"]\nslurm_connect = \"{connect}\"\n"
        ));
        for user in ["bashuser", "tcshuser", "fishuser"] {
            let alias = format!("th-ch-{connect}-{}", rand_suffix() % 1_000_000);
            let out = run(cssh(&config).args([
                "-l",
                user,
                &alias,
                "echo host=$(hostname) job=$SLURM_JOB_ID ch=\"$CH_RUNNING\" pwd=$(pwd); cat /etc/cssh-image-marker; exit 42",
            ]));
            let stdout = text(&out.stdout);
            let line = stdout.lines().next().unwrap_or_default();
            assert!(
                out.status.code() == Some(42)
                    && line.starts_with("host=node")
                    && line.contains(" job=")
                    && !line.contains(" job= ")
                    && line.ends_with(&format!(" ch=Weird Al Yankovic pwd=/home/{user}"))
                    && stdout.ends_with(FULL_MARKER),
                "{connect}, {user}: {}",
                describe(&out)
            );
            let released = release(&config, user, &alias);
            assert!(
                released.status.success(),
                "{connect}, {user}: {}",
                describe(&released)
            );
        }
    }
}

#[test]
fn the_doctor_checks_a_charliecloud_host_and_names_its_runtime() {
    use crate::doctor::{json_report, status, value};
    let config = Scratch::new(&format!(
        "[[host]]\npattern = \"th-tcsh\"\nimage = \"{FULL_SANDBOX}\"\nruntime = \"/opt/none/ch-run\"\n\n[[host]]\npattern = \"th-*\"\nimage = \"{FULL_SANDBOX}\"\n{CHARLIECLOUD}\n"
    ));
    let report = json_report(&config, &["th-bash", "th-tcsh"], 1);
    for check in [
        "runtime",
        "image",
        "start",
        "shell",
        "sftp_server",
        "scp",
        "rsync",
    ] {
        assert_eq!(
            status(&report, "th-bash", check),
            "pass",
            "{check}: {report:#}"
        );
    }
    assert_eq!(
        value(&report, "th-bash", "runtime"),
        "0.38 at /usr/bin/ch-run",
        "{report:#}"
    );
    assert_eq!(status(&report, "th-tcsh", "runtime"), "fail", "{report:#}");
}

#[test]
fn attach_enters_a_slurm_jobs_charliecloud_container() {
    // The job's own ch-run container, with a file that only its private /tmp holds.
    for alias in USERS {
        let secret = format!("secret-{}", rand_suffix());
        let mut job = Job::submit(
            alias,
            &format!("ch-attach-{}", rand_suffix() % 1_000_000),
            &format!(
                "#!/bin/sh\nexport JOBMARK=mark-{secret}\nexec ch-run --private-tmp {FULL_SANDBOX} -- sh -c 'echo {secret} >/tmp/job-only; exec sleep 3007'\n"
            ),
        );
        job.wait_until_entered("cat /tmp/job-only");
        let out = run(attach(&untagged(), &job.id, alias).arg(
            "cat /tmp/job-only /etc/cssh-image-marker; echo mark=$JOBMARK job=$SLURM_JOB_ID ch=\"$CH_RUNNING\"",
        ));
        assert_eq!(
            text(&out.stdout),
            format!(
                "{secret}\n{FULL_MARKER}mark=mark-{secret} job={} ch=Weird Al Yankovic\n",
                job.id
            ),
            "{alias}: {}",
            describe(&out)
        );
    }
}
