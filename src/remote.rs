//! The script that runs on the remote host, in the same ssh session as the user's command (never
//! an extra round trip): prelude, runtime lookup, image check, instance start, then `exec` of
//! the runtime with the user's command, shell or sftp-server inside the image. This module is
//! only the order of the steps; each step is a module of its own: `runtime` (prelude, lookup,
//! image), `launch` (a new container, an instance started), `join` (into an instance by its
//! namespaces), `session` (environment, shell, payload), `scheduler` (a host's Slurm allocation
//! or HTCondor job: find or submit, wait, reach, release, attach), `container` (into a running
//! job's own container by its namespaces), `probe` (the doctor's), over `script` (writing sh), `facts` (what the probe
//! reports) and `target` (what a script is for).
//!
//! The script is POSIX sh and runs under the remote's `/bin/sh`; see `quote` for how it gets
//! past the login shell. Everything it writes before the `exec` goes to stderr, so stdout
//! carries only what the command inside the container writes (scp, rsync and sftp rely on it).
//! Failures to find a piece on the remote exit with [`MISSING_ON_REMOTE`] after one `cssh:` line.

mod container;
pub mod facts;
mod job_sshd;
mod join;
mod launch;
pub mod probe;
mod runtime;
pub mod scheduler;
mod script;
mod session;
mod sshd;
mod target;
pub mod values;

use crate::quote::sh;
use crate::settings::Attach;
pub use container::CONTAINER;
pub use job_sshd::{hop_script, proxy_script};
use launch::{batch_script, instance_start, launcher, stale_warning};
pub use runtime::drops_environment;
use runtime::{bind_check, image_check, option_check, prelude, runtime_lookup};
use scheduler::slurm::{self, Allocation, attach};
use scheduler::{either, htcondor};
use script::Script;
pub use script::fingerprint;
pub use session::is_transfer;
use session::{Inner, environment, payload_command};
pub use sshd::{KEY_DIR, Keys, REFUSAL_BANNER, pin_script};
pub use target::{
    CondorJob, HostJob, Job, MISSING_ON_REMOTE, Payload, Place, SFTP_SERVER_PATHS, Scheduler,
    Stored, Target, Way,
};

/// Builds the script text: each step writes its part, in the order the remote runs them.
pub fn script(target: &Target, payload: Payload) -> Vec<u8> {
    if let Place::Job(job, Way::Sshd) = &target.place {
        return job_sshd::session(target, job, payload);
    }
    let mut s = Script::default();
    prelude(&mut s, target);
    body(&mut s, target, payload);
    s.text
}

/// The script after the prelude.
fn body(s: &mut Script, target: &Target, payload: Payload) {
    let Place::Job(job, way) = &target.place else {
        runtime_lookup(s, target);
        image_check(s, target);
        container(s, target, payload);
        return;
    };
    let inner = || Inner::of(target, payload);
    match (job, way) {
        (Job::AttachedEither(job), _) => {
            either::decide(s, target, job);
            either::each(s, target, job, either::DECIDED, |s, on| {
                body(s, on, payload);
            });
        }
        // HTCondor's execute points run no sshd of the user's: its jobs are reached through
        // condor_ssh_to_job.
        (Job::Own(HostJob::Htcondor(job)), _) => {
            image_check(s, target);
            htcondor::job(s, target, job);
            announce(s, payload, |s| htcondor::time_left(s, target));
            htcondor::reach(s, target, &inner());
        }
        (Job::Attached(Scheduler::Htcondor, job), _) => {
            htcondor::find_job(s, target, job);
            htcondor::reachable(s, target);
            htcondor::reach(s, target, &inner());
        }
        (Job::Attached(Scheduler::Slurm, job), Way::Channel | Way::Sshd) => {
            attach::find_job(s, target, job);
            attach::step(s, target, job, &inner());
        }
        (Job::Attached(Scheduler::Slurm, job), Way::NodeSsh) => {
            attach::find_job(s, target, job);
            attach::enter(s, target, job, &inner());
        }
        (Job::Own(HostJob::Slurm(allocation)), Way::Channel | Way::Sshd) => {
            runtime_lookup(s, target);
            image_check(s, target);
            slurm::allocation(s, target, allocation, &batch_script(target, allocation));
            announce(s, payload, |s| slurm::time_left(s, target));
            slurm::connecting(s, allocation);
            // A step's runtime starts on the node, where its binds are the node's to check; its
            // options are the runtime's, whose version a cluster keeps the same on every node.
            if target.settings.instance.is_none() {
                option_check(s, target, false);
            }
            launch(s, target, payload);
        }
        (Job::Own(HostJob::Slurm(allocation)), Way::NodeSsh) => {
            runtime_lookup(s, target);
            image_check(s, target);
            slurm::join(s, allocation);
            announce(s, payload, |s| {
                s.raw("cssh_job=$SLURM_JOB_ID\n");
                slurm::time_left(s, target);
            });
            container(s, target, payload);
        }
    }
}

/// The session in a container on the host the script runs on: into the instance, started
/// first where it does not run, else a new container of the image.
fn container(s: &mut Script, target: &Target, payload: Payload) {
    let Some(instance) = &target.settings.instance else {
        bind_check(s, target);
        option_check(s, target, false);
        launch(s, target, payload);
        return;
    };
    // The command's words first, while the session's variables are as ssh left them.
    s.raw("set --");
    environment(s, target);
    payload_command(s, target, payload);
    s.raw("\n");
    stale_warning(s, target, instance);
    join::enter(s, &String::from_utf8_lossy(&sh(instance.as_bytes())), |s| {
        bind_check(s, target);
        instance_start(s, target, instance);
    });
}

/// `exec` of the runtime (or, on a Slurm step, of the instance's joiner) with the payload.
fn launch(s: &mut Script, target: &Target, payload: Payload) {
    launcher(s, target);
    environment(s, target);
    payload_command(s, target, payload);
    s.raw("\n");
}

/// For an interactive login on a terminal (never a command: its stderr is the command's), the
/// line that `time_left` writes: the job, its node and the time it has left.
fn announce(s: &mut Script, payload: Payload, time_left: impl FnOnce(&mut Script)) {
    if payload == Payload::Shell {
        s.raw("if [ -t 0 ] && [ -t 2 ]; then\n");
        time_left(s);
        s.raw("fi\n");
    }
}

/// The script that finds or submits the host's Slurm allocation, waits for it and prints the
/// name of its first node, for a session that then reaches the node by ssh.
pub fn node_query_script(target: &Target, allocation: &Allocation) -> Vec<u8> {
    let mut s = running_allocation(target, allocation);
    slurm::connecting(&mut s, allocation);
    slurm::print_node(&mut s);
    s.text
}

/// The steps that end with `$cssh_job` the host's running allocation, found or submitted, where
/// no session runs on the login node.
fn running_allocation(target: &Target, allocation: &Allocation) -> Script {
    let mut s = Script::default();
    prelude(&mut s, target);
    runtime_lookup(&mut s, target);
    image_check(&mut s, target);
    slurm::allocation(
        &mut s,
        target,
        allocation,
        &batch_script(target, allocation),
    );
    s
}

/// The script that finds the running job a session attaches to and prints its node, for a
/// session that then reaches the node by ssh.
pub fn attached_node_query_script(target: &Target, job: &Attach) -> Vec<u8> {
    let mut s = Script::default();
    prelude(&mut s, target);
    attach::find_job(&mut s, target, job);
    attach::print_node(&mut s);
    s.text
}

/// The script that lists this user's running jobs on the host's cluster or pool and whether
/// their containers can be entered.
pub fn attach_list_script(target: &Target) -> Vec<u8> {
    let mut s = Script::default();
    prelude(&mut s, target);
    match (&target.settings.htcondor, &target.settings.slurm) {
        (Some(_), _) => scheduler::list(&mut s, &[Scheduler::Htcondor], false),
        (None, Some(_)) => scheduler::list(&mut s, &[Scheduler::Slurm], false),
        (None, None) => scheduler::list(&mut s, &[Scheduler::Slurm, Scheduler::Htcondor], true),
    }
    s.text
}

/// The script that cancels the host's Slurm allocation.
pub fn release_script(target: &Target, allocation: &Allocation) -> Vec<u8> {
    let mut s = Script::default();
    prelude(&mut s, target);
    slurm::release(&mut s, target, allocation);
    s.text
}

/// The script that finds or submits the host's Slurm allocation, waits for it and says its job,
/// node and time left: `--allocate`.
pub fn allocate_script(target: &Target, allocation: &Allocation) -> Vec<u8> {
    let mut s = running_allocation(target, allocation);
    slurm::time_left(&mut s, target);
    s.text
}

/// The same for the host's HTCondor job, which is also made reachable by condor_ssh_to_job.
pub fn condor_allocate_script(target: &Target, job: &CondorJob) -> Vec<u8> {
    let mut s = Script::default();
    prelude(&mut s, target);
    image_check(&mut s, target);
    htcondor::job(&mut s, target, job);
    htcondor::reachable(&mut s, target);
    htcondor::time_left(&mut s, target);
    s.text
}

/// The script that removes the host's HTCondor job.
pub fn condor_release_script(target: &Target, job: &CondorJob) -> Vec<u8> {
    let mut s = Script::default();
    prelude(&mut s, target);
    htcondor::release(&mut s, target, job);
    s.text
}

#[cfg(all(test, unix))]
mod tests {
    //! The scripts run here under the real `/bin/sh`, with a fake runtime on PATH that records
    //! its argv and then runs what follows the image, so the tests check what the remote would
    //! do rather than how the text is quoted.
    use super::*;
    use crate::settings::{ForwardEnv, Runtime, Settings};
    use std::ffi::OsStr;
    use std::io::Write;
    use std::os::unix::ffi::OsStrExt;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Output};

    /// A fake `apptainer`: logs argv (NUL-separated) to $LOG, answers `instance list` from
    /// $INSTANCES, and for `exec` runs what follows the image or `instance://` word. Named
    /// `ch-run`, it answers `--help` as argp does and runs what follows `--`.
    const FAKE_RUNTIME: &str = r#"#!/bin/sh
printf '%s\0' "$@" >> "$LOG"; printf '\n' >> "$LOG"
if [ "${0##*/}" = ch-run ]; then
  for a; do case $a in --help) exit 0 ;; --bogus) printf "ch-run: unrecognized option '%s'\n" "$a" >&2; exit 64 ;; esac; done
  while [ "$1" != -- ]; do shift; done; shift; exec "$@"
fi
[ "$1" = -s ] && shift
case "$1 $2" in
"instance list") printf 'INSTANCE NAME PID IP IMAGE\n'; cat "$INSTANCES" 2>/dev/null; exit 0 ;;
"instance start") shift $(($# - 1)); printf '%s 1 - img\n' "$1" >> "$INSTANCES"; exit 0 ;;
esac
shift
while [ $# -gt 0 ]; do case "$1" in
--bogus) printf 'Error for command "exec": unknown flag: %s\n\nOptions for exec command:\n' "$1" >&2; exit 1 ;;
--help) exit 0 ;; --bind) shift 2 ;; -*) shift ;; *) shift; break ;;
esac; done
exec "$@"
"#;

    struct Remote {
        dir: PathBuf,
        /// The ssh session's variables, besides those every run has.
        session: Vec<(&'static str, &'static str)>,
        /// What ssh's SendEnv and SetEnv send.
        sent: Vec<String>,
    }

    impl Remote {
        fn new(name: &str, runtime_name: &str) -> Remote {
            let dir = std::env::temp_dir()
                .join(format!("cssh-remote-test-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("bin")).unwrap();
            let runtime = dir.join("bin").join(runtime_name);
            std::fs::write(&runtime, FAKE_RUNTIME).unwrap();
            make_executable(&runtime);
            std::fs::write(dir.join("img.sif"), "").unwrap();
            Remote {
                dir,
                session: Vec::new(),
                sent: Vec::new(),
            }
        }

        fn image(&self) -> String {
            self.dir.join("img.sif").display().to_string()
        }

        /// Where Apptainer keeps instance `name`'s state file on this host, made.
        fn instance_state_dir(&self, name: &str) -> PathBuf {
            let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
            let dir = self.dir.join(format!(
                "home/.apptainer/instances/app/{}/tester/{name}",
                hostname.trim()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            dir
        }

        fn run(&self, settings: &Settings, image: &str, payload: Payload, stdin: &[u8]) -> Output {
            let path = format!("{}:/usr/bin:/bin", self.dir.join("bin").display());
            self.run_with(settings, image, payload, stdin, &path, &[])
        }

        /// Runs `echo in` in the test image, which must print `in`.
        fn echo_in(&self, settings: &Settings) {
            let out = self.run(settings, &self.image(), Payload::Command(b"echo in"), b"");
            assert_eq!(text(&out.stdout), "in\n", "{out:?}");
        }

        /// Runs the script as the bootstrap does: `$@` is what followed it on the command line.
        fn run_with(
            &self,
            settings: &Settings,
            image: &str,
            payload: Payload,
            stdin: &[u8],
            path: &str,
            args: &[&str],
        ) -> Output {
            // The values where cssh's call would have sent them.
            let values = values::content(settings).map(|content| {
                let dir = self.dir.join("home/.cache/cssh");
                crate::private::write(&dir, &dir.join("values-test"), &content).unwrap();
                Stored {
                    name: "test",
                    record: "r",
                }
            });
            let target = Target {
                host: "hpc1",
                image,
                settings,
                config_file: "/c.toml",
                place: Place::Here,
                sent: &self.sent,
                values,
            };
            let text = script(&target, payload);
            let mut child = Command::new("/bin/sh")
                .env_clear()
                .arg("-c")
                .arg(OsStr::from_bytes(&text))
                .arg("sh")
                .args(args)
                .env("PATH", path)
                .env("LOG", self.dir.join("log"))
                .env("INSTANCES", self.dir.join("instances"))
                .env("SHELL", "/nonexistent/shell")
                .env("HOME", self.dir.join("home"))
                .env("USER", "tester")
                .envs(self.session.iter().copied())
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(stdin).unwrap();
            child.wait_with_output().unwrap()
        }

        /// The runtime's argv of each call, in order.
        fn calls(&self) -> Vec<Vec<String>> {
            let log = std::fs::read(self.dir.join("log")).unwrap_or_default();
            log.split(|&b| b == b'\n')
                .filter(|call| !call.is_empty())
                .map(|call| {
                    call.split(|&b| b == 0)
                        .filter(|w| !w.is_empty())
                        .map(|w| String::from_utf8_lossy(w).into_owned())
                        .collect()
                })
                .collect()
        }
    }

    impl Drop for Remote {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// The words after the image that run `command`: SHELL is chosen, then the command runs
    /// under a `/bin/sh -c` of its own.
    fn in_sh(command: &str) -> Vec<&str> {
        // The prompt's fix first (see `session`), then the shell's choice.
        let snippet = format!(
            "{}for cssh_p in \"$SHELL\" /bin/bash /bin/sh; do [ -x \"$cssh_p\" ] && break; done; SHELL=$cssh_p; export SHELL; exec /bin/sh -c \"$1\"",
            text(session::OWN_PROMPT)
        );
        vec![
            "/bin/sh",
            "-c",
            Box::leak(snippet.into_boxed_str()),
            "sh",
            command,
        ]
    }

    fn make_executable(path: &Path) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }

    #[test]
    fn command_runs_in_the_image_with_stdin_and_status() {
        let remote = Remote::new("command", "singularity");
        let out = remote.run(
            &Settings::default(),
            &remote.image(),
            Payload::Command(b"printf '[%s]' \"$(cat)\"; exit 42"),
            b"in put",
        );
        assert_eq!(
            (text(&out.stdout), out.status.code(), text(&out.stderr)),
            ("[in put]".into(), Some(42), String::new())
        );
        let image = remote.image();
        assert_eq!(
            remote.calls(),
            vec![
                [
                    vec!["exec", &image],
                    in_sh("printf '[%s]' \"$(cat)\"; exit 42")
                ]
                .concat()
            ]
        );
    }

    #[test]
    fn charliecloud_starts_a_new_container_of_ch_run_with_the_home_and_the_values() {
        let remote = Remote::new("charliecloud", "ch-run");
        let image = remote.image();
        let settings = Settings {
            runtime: Some(Runtime::Charliecloud),
            binds: Some(vec!["/usr,/bin:/mnt/b".into()]),
            options: Some(vec!["--private-tmp".into()]),
            env: Some(vec![("TOKEN".into(), "x 'y' $HOME".into())]),
            ..Settings::default()
        };
        let command = "printf '%s|' \"$TOKEN\" \"${APPTAINERENV_CSSH_VALUES-none}\" \"${CSSH_VALUES-none}\"; exit 42";
        let out = remote.run(&settings, &image, Payload::Command(command.as_bytes()), b"");
        assert_eq!(
            (text(&out.stdout), out.status.code(), text(&out.stderr)),
            ("x 'y' $HOME|none|none|".into(), Some(42), String::new())
        );
        let calls = remote.calls();
        assert_eq!(calls[0], ["--private-tmp", "--help"], "the options' check");
        let started = &calls[1][..=calls[1].iter().position(|w| w == "--").unwrap()];
        assert_eq!(
            started,
            [
                "--private-tmp",
                "-b",
                "/usr",
                "-b",
                "/bin:/mnt/b",
                "--home",
                &image,
                "--"
            ]
        );
        assert_eq!(calls[1][calls[1].len() - 1], command);
        // Options ch-run does not know: its own line, and where they are configured.
        let bogus = Settings {
            options: Some(vec!["--bogus".into()]),
            ..settings
        };
        let out = remote.run(&bogus, &image, Payload::Command(b"true"), b"");
        assert_eq!(
            (out.status.code(), text(&out.stderr)),
            (
                Some(255),
                "ch-run: unrecognized option '--bogus'\ncssh: hpc1: the runtime refuses the options in /c.toml:0\n".into()
            )
        );
    }

    #[test]
    fn transfer_tools_missing_from_the_image_are_named() {
        let remote = Remote::new("tools", "apptainer");
        let only_the_runtime = remote.dir.join("bin").display().to_string();
        let image = remote.image();
        for (command, message) in [
            (
                &b"scp -t /x"[..],
                "no scp in IMG (scp -O runs the image's scp; without -O scp uses its sftp-server)",
            ),
            (
                b"rsync --server -logDtpre.iLsfxCIvu . /x",
                "no rsync in IMG",
            ),
            (b"git-upload-pack '/r.git'", "no git in IMG"),
        ] {
            let out = remote.run_with(
                &Settings::default(),
                &image,
                Payload::Command(command),
                b"",
                &only_the_runtime,
                &[],
            );
            assert_eq!(out.status.code(), Some(127));
            assert_eq!(
                text(&out.stderr),
                format!("cssh: hpc1: {}\n", message.replace("IMG", &image))
            );
        }
        // Present, the tool runs the command string unchanged.
        let out = remote.run(
            &Settings::default(),
            &image,
            Payload::Command(b"rsync --version >/dev/null && echo \"$0\""),
            b"",
        );
        assert_eq!(text(&out.stdout), "/bin/sh\n", "{out:?}");
    }

    #[test]
    fn arguments_follow_the_script_unchanged() {
        let remote = Remote::new("arguments", "apptainer");
        let fake = remote.dir.join("bin").join("rsync");
        std::fs::write(&fake, "#!/bin/sh\nprintf '[%s]' \"$@\"\n").unwrap();
        make_executable(&fake);
        let path = format!("{}:/usr/bin:/bin", remote.dir.join("bin").display());
        let args = ["--server", "-e.LsfxC", ".", "a b", "$x'"];
        let out = remote.run_with(
            &Settings::default(),
            &remote.image(),
            Payload::Arguments("rsync"),
            b"",
            &path,
            &args,
        );
        assert_eq!(
            text(&out.stdout),
            "[--server][-e.LsfxC][.][a b][$x']",
            "{out:?}"
        );
        let only_the_runtime = remote.dir.join("bin").display().to_string();
        std::fs::remove_file(&fake).unwrap();
        let missing = remote.run_with(
            &Settings::default(),
            &remote.image(),
            Payload::Arguments("rsync"),
            b"",
            &only_the_runtime,
            &args,
        );
        assert_eq!(missing.status.code(), Some(127));
        assert_eq!(
            text(&missing.stderr),
            format!("cssh: hpc1: no rsync in {}\n", remote.image())
        );
    }

    #[test]
    fn invalid_utf8_commands_reach_the_image_as_ascii() {
        let remote = Remote::new("utf8", "apptainer");
        let command = b"printf '%s|' '\xff\x80' 'a\\b%' '\n\t'\n\n";
        let out = remote.run(
            &Settings::default(),
            &remote.image(),
            Payload::Command(command),
            b"",
        );
        assert_eq!(out.stdout, b"\xff\x80|a\\b%|\n\t|", "{out:?}");
        let calls = remote.calls();
        assert!(calls[0].iter().all(|w| w.is_ascii()), "{calls:?}");
    }

    #[test]
    fn settings_become_runtime_arguments_exactly() {
        let remote = Remote::new("settings", "my runtime");
        // A bind source with a space, and a target with a `$`: both exact.
        let source = remote.dir.join("d d");
        std::fs::create_dir(&source).unwrap();
        let spaced = format!("{}:/mnt/$x:ro", source.display());
        let settings = Settings {
            runtime: Some(Runtime::Program("my runtime".into())),
            prelude: Some("echo prelude says hi; read x || true".into()),
            binds: Some(vec!["/tmp".into(), spaced.clone()]),
            env: Some(vec![("A".into(), "x, y'z $(id)".into())]),
            options: Some(vec!["--nv".into(), "--cleanenv".into()]),
            ..Settings::default()
        };
        let out = remote.run(
            &settings,
            "docker://alpine",
            Payload::Command(b"printf %s \"$A\"; cat"),
            b"stdin",
        );
        assert_eq!(
            text(&out.stdout),
            "x, y'z $(id)stdin",
            "the prelude neither writes stdout nor reads stdin"
        );
        assert_eq!(text(&out.stderr), "prelude says hi\n");
        assert_eq!(
            remote.calls(),
            vec![
                // The options, vetted by the runtime's flag parser first (once).
                vec!["exec", "--nv", "--cleanenv", "--help"],
                vec![
                    "exec",
                    "--nv",
                    "--cleanenv",
                    "--bind",
                    "/tmp",
                    "--bind",
                    &spaced,
                    "docker://alpine",
                    "env",
                ]
                .into_iter()
                .chain(with_values(in_sh("printf %s \"$A\"; cat")))
                .collect::<Vec<_>>()
            ]
        );
        // The values reached the image in the environment, never as a word (`ps` shows words).
        assert!(
            !remote.calls().concat().iter().any(|w| w.contains("y'z")),
            "{:?}",
            remote.calls()
        );
    }

    /// The image's sh runs `env`'s values first.
    fn with_values(mut words: Vec<&str>) -> Vec<&str> {
        let snippet = format!("{}{}", text(values::INSIDE), words[2]);
        words[2] = Box::leak(snippet.into_boxed_str());
        words
    }

    #[test]
    fn a_prelude_that_fails_or_exits_ends_the_session_in_one_line() {
        let remote = Remote::new("prelude", "apptainer");
        let with = |prelude: &str| {
            let mut settings = Settings {
                prelude: Some(prelude.into()),
                ..Settings::default()
            };
            settings.lines.prelude = 7;
            let out = remote.run(
                &settings,
                &remote.image(),
                Payload::Command(b"echo RAN"),
                b"",
            );
            (out.status.code(), text(&out.stdout), text(&out.stderr))
        };
        assert_eq!(
            with("false"),
            (
                Some(255),
                String::new(),
                "cssh: hpc1: the prelude (/c.toml:7) failed with status 1\n".into()
            )
        );
        assert_eq!(
            with("echo x; exit 3"),
            (
                Some(255),
                String::new(),
                "x\ncssh: hpc1: the prelude (/c.toml:7) called exit, status 3\n".into()
            )
        );
        assert_eq!(with("X=1; true"), (Some(0), "RAN\n".into(), String::new()));
    }

    #[test]
    fn under_cleanenv_the_session_comes_in_as_forward_env_says() {
        let mut remote = Remote::new("forward", "apptainer");
        remote.session = vec![
            ("LANG", "C.UTF-8"),
            ("GIT_AUTHOR_NAME", "A 'quoted' name"),
            ("SSH_AUTH_SOCK", "/tmp/ssh-x/agent.1"),
            ("HOST_ONLY", "stays out"),
        ];
        remote.sent = vec!["GIT_AUTHOR_NAME".into(), "UNSET_ONE".into()];
        let seen = |forward_env: Option<ForwardEnv>| {
            let settings = Settings {
                options: Some(vec!["--cleanenv".into()]),
                forward_env,
                ..Settings::default()
            };
            let out = remote.run(&settings, &remote.image(), Payload::Command(b"true"), b"");
            assert!(out.status.success(), "{out:?}");
            let calls = remote.calls();
            let call = calls.last().unwrap();
            let start = call
                .iter()
                .position(|w| w == "env")
                .map_or(call.len(), |i| i + 1);
            call[start..]
                .iter()
                .take_while(|w| *w != "/bin/sh")
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(
            seen(None),
            [
                "SSH_AUTH_SOCK=/tmp/ssh-x/agent.1",
                "LANG=C.UTF-8",
                "GIT_AUTHOR_NAME=A 'quoted' name"
            ]
        );
        assert_eq!(seen(Some(ForwardEnv::Session)), seen(None));
        assert_eq!(seen(Some(ForwardEnv::Off)), Vec::<String>::new());
        assert_eq!(
            seen(Some(ForwardEnv::Only(vec![
                "LANG".into(),
                "HOST_ONLY".into()
            ]))),
            ["LANG=C.UTF-8", "HOST_ONLY=stays out"]
        );
    }

    #[test]
    fn missing_pieces_fail_with_one_line() {
        let remote = Remote::new("missing", "unused");
        let out = remote.run(
            &Settings::default(),
            &remote.image(),
            Payload::Command(b"true"),
            b"",
        );
        assert_eq!(out.status.code(), Some(127));
        assert_eq!(
            text(&out.stderr),
            "cssh: hpc1: neither apptainer nor singularity on PATH (set prelude or runtime in /c.toml)\n"
        );
        let explicit = Settings {
            runtime: Some(Runtime::Program("unused".into())),
            ..Settings::default()
        };
        let out = remote.run(
            &explicit,
            "/no/such image.sif",
            Payload::Command(b"true"),
            b"",
        );
        assert_eq!(
            (out.status.code(), text(&out.stderr)),
            (
                Some(127),
                "cssh: hpc1: image /no/such image.sif not found on the remote\n".into()
            )
        );
        let path = Settings {
            runtime: Some(Runtime::Program("/opt/nope/apptainer".into())),
            ..Settings::default()
        };
        let out = remote.run(&path, &remote.image(), Payload::Command(b"true"), b"");
        assert_eq!(
            (out.status.code(), text(&out.stderr)),
            (
                Some(127),
                "cssh: hpc1: /opt/nope/apptainer not found or not executable (set prelude or runtime in /c.toml)\n".into()
            )
        );
        let sftp = Settings {
            sftp_server: Some("/no/sftp-server".into()),
            ..explicit.clone()
        };
        let out = remote.run(&sftp, &remote.image(), Payload::Sftp, b"");
        assert_eq!(out.status.code(), Some(127));
        assert_eq!(
            text(&out.stderr),
            format!(
                "cssh: hpc1: no /no/sftp-server in {} (sftp_server in /c.toml:0; or use scp -O)\n",
                remote.image()
            )
        );
        // A configured shell the image lacks is said, and the login shell runs instead, for a
        // shell and as a command's SHELL.
        let mut zsh = Settings {
            shell: Some("/no/zsh".into()),
            ..explicit
        };
        zsh.lines.shell = 9;
        let said = format!(
            "cssh: hpc1: no /no/zsh in {} (shell in /c.toml:9): /bin/bash runs instead\n",
            remote.image()
        );
        let out = remote.run(&zsh, &remote.image(), Payload::Shell, b"echo \"$SHELL\"\n");
        assert_eq!(
            (out.status.code(), text(&out.stdout), text(&out.stderr)),
            (Some(0), "/bin/bash\n".into(), said.clone())
        );
        let out = remote.run(
            &zsh,
            &remote.image(),
            Payload::Command(b"echo \"$SHELL\""),
            b"",
        );
        assert_eq!(
            (text(&out.stdout), text(&out.stderr)),
            ("/bin/bash\n".into(), said)
        );
    }

    #[test]
    fn a_missing_bind_source_is_one_line_before_the_runtime_runs() {
        let remote = Remote::new("binds", "apptainer");
        let mut settings = Settings {
            binds: Some(vec!["/tmp".into(), "/no/src:/data,/also/no:/x".into()]),
            ..Settings::default()
        };
        settings.lines.binds = 6;
        let out = remote.run(&settings, &remote.image(), Payload::Command(b"true"), b"");
        assert_eq!(
            (out.status.code(), text(&out.stderr)),
            (
                Some(127),
                "cssh: hpc1: bind source /no/src is not on the remote (binds in /c.toml:6)\n"
                    .into()
            )
        );
        assert!(remote.calls().is_empty(), "the runtime never ran");
    }

    #[test]
    fn a_prelude_that_uses_module_gets_it_from_the_module_system_the_login_set_up() {
        let mut remote = Remote::new("modules", "apptainer");
        // The login shell's startup set up a module system (its MODULESHOME came along), but
        // the script's sh has no `module`: its init for sh defines it.
        let home = remote.dir.join("modules");
        std::fs::create_dir_all(home.join("init")).unwrap();
        std::fs::write(
            home.join("init/sh"),
            "echo init noise\nmodule() { echo \"module $*\" >&2; export MODULE_LOADED=$2; }\n",
        )
        .unwrap();
        let home: &'static str = Box::leak(home.display().to_string().into_boxed_str());
        remote.session = vec![("MODULESHOME", home)];
        let settings = Settings {
            prelude: Some("module load gcc/12".into()),
            ..Settings::default()
        };
        let out = remote.run(
            &settings,
            &remote.image(),
            Payload::Command(b"echo \"$MODULE_LOADED\""),
            b"",
        );
        assert_eq!(
            (text(&out.stdout), text(&out.stderr)),
            ("gcc/12\n".into(), "module load gcc/12\n".into()),
            "defined quietly, then the prelude's own output on stderr"
        );
        // A prelude without module commands reads no module system's files.
        let settings = Settings {
            prelude: Some("echo modules=1 modulefile".into()),
            ..Settings::default()
        };
        let target = Target {
            host: "hpc1",
            image: "/i.sif",
            settings: &settings,
            config_file: "/c.toml",
            place: Place::Here,
            sent: &[],
            values: Some(Stored {
                name: "v",
                record: "r",
            }),
        };
        let text = String::from_utf8(script(&target, Payload::Shell)).unwrap();
        assert!(!text.contains("MODULESHOME"), "{text}");
        for prelude in ["ml gcc", "source x; module load a", "(module purge)"] {
            let settings = Settings {
                prelude: Some(prelude.into()),
                ..Settings::default()
            };
            let target = Target {
                settings: &settings,
                place: Place::Here,
                ..target
            };
            let text = String::from_utf8(script(&target, Payload::Shell)).unwrap();
            assert!(text.contains("MODULESHOME"), "{prelude}");
        }
    }

    #[test]
    fn options_the_runtime_refuses_are_its_line_and_one_of_csshs_once_vetted() {
        let remote = Remote::new("options", "apptainer");
        let mut settings = Settings {
            options: Some(vec!["--nv".into(), "--bogus".into()]),
            ..Settings::default()
        };
        settings.lines.options = 7;
        let out = remote.run(
            &settings,
            &remote.image(),
            Payload::Command(b"echo in"),
            b"",
        );
        assert_eq!(
            (out.status.code(), text(&out.stdout), text(&out.stderr)),
            (
                Some(255),
                String::new(),
                "Error for command \"exec\": unknown flag: --bogus\n\
                 cssh: hpc1: the runtime refuses the options in /c.toml:7\n"
                    .into()
            )
        );
        // Options it knows are asked about once: the mark answers for the next sessions.
        settings.options = Some(vec!["--nv".into()]);
        remote.echo_in(&settings);
        remote.echo_in(&settings);
        let vetted = remote
            .calls()
            .iter()
            .filter(|c| c.last().is_some_and(|w| w == "--help"))
            .count();
        assert_eq!(vetted, 2, "{:?}", remote.calls());
    }

    #[test]
    fn shell_and_sftp_server_are_the_first_that_exist() {
        let remote = Remote::new("shell", "apptainer");
        let fake = remote.dir.join("fake server");
        std::fs::write(&fake, "#!/bin/sh\necho \"ran $0 $#\"\n").unwrap();
        make_executable(&fake);
        let fake = fake.display().to_string();
        let settings = Settings {
            sftp_server: Some(fake.clone()),
            shell: Some(fake.clone()),
            ..Settings::default()
        };
        let out = remote.run(&settings, &remote.image(), Payload::Sftp, b"");
        assert_eq!(text(&out.stdout), format!("ran {fake} 0\n"));
        let out = remote.run(&settings, &remote.image(), Payload::Shell, b"");
        assert_eq!(
            text(&out.stdout),
            format!("ran {fake} 1\n"),
            "a login shell gets -l"
        );
        // Without a configured shell, $SHELL (here missing) gives way to bash, then sh.
        let out = remote.run(
            &Settings::default(),
            &remote.image(),
            Payload::Shell,
            b"echo $0",
        );
        assert!(
            text(&out.stdout).ends_with("bash\n") || text(&out.stdout).ends_with("sh\n"),
            "{out:?}"
        );
    }

    #[test]
    fn shell_is_the_shell_that_runs_in_the_image() {
        let remote = Remote::new("shellvar", "apptainer");
        // The login shell (here $SHELL, missing) gives way to bash; a configured one wins.
        for (configured, expected) in [(None, "/bin/bash\n"), (Some("/bin/sh"), "/bin/sh\n")] {
            let settings = Settings {
                shell: configured.map(String::from),
                ..Settings::default()
            };
            let out = remote.run(
                &settings,
                &remote.image(),
                Payload::Command(b"echo $SHELL"),
                b"",
            );
            assert_eq!(text(&out.stdout), expected, "{out:?}");
            let out = remote.run(&settings, &remote.image(), Payload::Shell, b"echo $SHELL\n");
            assert!(text(&out.stdout).ends_with(expected), "{out:?}");
        }
    }

    #[test]
    fn a_live_instance_state_file_spares_the_runtime() {
        let remote = Remote::new("state", "apptainer");
        let settings = Settings {
            instance: Some("dev".into()),
            ..Settings::default()
        };
        let dir = remote.instance_state_dir("dev");
        // A live pid (this test's own, with its parent) skips `instance list`; a dead one, or a
        // live one with another parent (a reused pid), falls back to it.
        let parent = std::os::unix::process::parent_id();
        for (pid, ppid, listed) in [
            (std::process::id(), parent, false),
            (999_999_999, parent, true),
            (std::process::id(), parent + 1, true),
        ] {
            std::fs::write(
                dir.join("dev.json"),
                format!("{{\"pid\":{pid},\"ppid\":{ppid},\"name\":\"dev\"}}"),
            )
            .unwrap();
            let _ = std::fs::remove_file(remote.dir.join("log"));
            remote.echo_in(&settings);
            let calls = remote.calls();
            assert_eq!(
                calls.iter().any(|c| c[..2] == ["instance", "list"]),
                listed,
                "pid {pid}: {calls:?}"
            );
        }
    }

    #[test]
    fn an_instance_in_this_user_namespace_is_joined_by_the_runtime() {
        // A setuid-mode instance shares the session's user namespace, which a join by
        // namespaces cannot enter: the look records why and the runtime joins it, even where
        // the state file claims a user namespace.
        let remote = Remote::new("setuid", "apptainer");
        let settings = Settings {
            instance: Some("dev".into()),
            ..Settings::default()
        };
        let dir = remote.instance_state_dir("dev");
        let mut init = Command::new("sleep").arg("60").spawn().unwrap();
        let config = "eyJlbmdpbmVDb25maWciOnsiaG9tZURlc3QiOiIvaCJ9fQ=="; // {"engineConfig":{"homeDest":"/h"}}
        std::fs::write(
            dir.join("dev.json"),
            format!(
                "{{\"pid\":{},\"ppid\":{},\"name\":\"dev\",\"user\":\"tester\",\"image\":\"/i.sif\",\"config\":\"{config}\",\"userns\":true,\"cgroup\":false,\"ip\":\"\",\"checkpoint\":\"\",\"sharensMode\":false}}",
                init.id(),
                std::process::id()
            ),
        )
        .unwrap();
        remote.echo_in(&settings);
        let record = std::fs::read_to_string(dir.join("cssh-join-2")).unwrap();
        let _ = init.kill();
        let _ = init.wait();
        assert!(
            record.contains("cssh_j_slow='it runs without a user namespace (setuid mode)'"),
            "{record}"
        );
        assert!(
            remote
                .calls()
                .iter()
                .any(|c| c[..2] == ["exec", "instance://dev"]),
            "{:?}",
            remote.calls()
        );
    }

    #[test]
    fn an_instance_started_with_other_settings_is_said() {
        let remote = Remote::new("stale", "apptainer");
        let dir = remote.instance_state_dir("dev");
        let with_binds = |binds: &[&str]| {
            let mut settings = Settings {
                instance: Some("dev".into()),
                binds: Some(binds.iter().map(ToString::to_string).collect()),
                ..Settings::default()
            };
            settings.lines.instance = 5;
            remote.run(
                &settings,
                &remote.image(),
                Payload::Command(b"echo in"),
                b"",
            )
        };
        let started = with_binds(&["/tmp"]);
        assert_eq!(text(&started.stdout), "in\n", "{started:?}");
        assert!(dir.join("cssh-started-1").exists());
        let same = with_binds(&["/tmp"]);
        assert_eq!(
            (text(&same.stdout), text(&same.stderr)),
            ("in\n".into(), String::new())
        );
        let other = with_binds(&["/tmp", "/tmp:/x"]);
        assert_eq!(
            (text(&other.stdout), text(&other.stderr)),
            (
                "in\n".into(),
                "cssh: hpc1: instance dev runs with the image, binds and options it was started with, not those /c.toml:5 gives now (to start it anew: ssh hpc1 apptainer instance stop dev)\n".into()
            )
        );
    }

    #[test]
    fn instance_is_started_once_then_joined() {
        let remote = Remote::new("instance", "apptainer");
        let settings = Settings {
            instance: Some("dev".into()),
            binds: Some(vec!["/tmp".into()]),
            ..Settings::default()
        };
        for _ in 0..2 {
            remote.echo_in(&settings);
        }
        let image = remote.image();
        // Without Apptainer's state file the fast join is not taken: the runtime joins.
        let mut joined = [vec!["exec", "instance://dev"], in_sh("echo in")].concat();
        let snippet = format!("{}{}", text(join::ENTERED), joined[4]);
        joined[4] = &snippet;
        assert_eq!(
            remote.calls(),
            vec![
                // Not running, and still not once the start's lock is had.
                vec!["instance", "list"],
                vec!["instance", "list"],
                vec!["-s", "instance", "start", "--bind", "/tmp", &image, "dev"],
                joined.clone(),
                vec!["instance", "list"],
                joined,
            ]
        );
    }
}
