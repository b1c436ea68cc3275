//! Nothing from inside a container, or from another user, reaches the host side. An image's or a
//! job's `LD_PRELOAD` (a library that records the mount namespace and program of every process
//! that loads it) loads only into the container's processes, never into nsenter, setpriv or env
//! of the host, for the fast join into an instance and for attach; what an image's environment
//! scripts print is never run on the host; the join's record is written private under a site's
//! umask 002 and, made group-writable, is never sourced; a host name with a comma never reaches
//! another job; an agent's socket in /tmp brings no more of /tmp into a contained container.

use std::process::Command;

use crate::attach::{Job, attach, untagged};
use crate::harness::*;

/// The users whose login shells carry the remote script: sh-like, csh-like, fish.
const USERS: [&str; 3] = ["th-bash", "th-tcsh", "th-fish"];

/// A library that, loaded into a process, appends a line to the file beside it (its own path and
/// `.log`): the process's mount namespace and program.
const RECORDER: &str = r#"#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <unistd.h>

__attribute__((constructor)) static void record(void) {
    Dl_info self;
    char log[4096], ns[64] = "", exe[1024] = "";
    if (!dladdr((void *)record, &self) || !self.dli_fname) return;
    snprintf(log, sizeof log, "%s.log", self.dli_fname);
    if (readlink("/proc/self/ns/mnt", ns, sizeof ns - 1) < 0 || readlink("/proc/self/exe", exe, sizeof exe - 1) < 0) return;
    FILE *out = fopen(log, "a");
    if (out) { fprintf(out, "%s %s\n", ns, exe); fclose(out); }
}
"#;

/// The recorder, built here once (the test host runs the same Debian's C library or a newer
/// one), in `alias`'s home under a name of its own: its path there.
fn recorder(alias: &str) -> String {
    static BUILT: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let library = BUILT.get_or_init(|| {
        let scratch = Scratch::new("");
        std::fs::write(scratch.path("rec.c"), RECORDER).unwrap();
        let out = run(Command::new("cc")
            .args(["-shared", "-fPIC", "-o"])
            .arg(scratch.path("rec.so"))
            .arg(scratch.path("rec.c")));
        assert!(out.status.success(), "cc: {}", describe(&out));
        std::fs::read(scratch.path("rec.so")).unwrap()
    });
    let home = text(&ssh(alias, &["pwd"]).stdout).trim().to_string();
    assert!(home.starts_with('/'), "{alias}'s home: {home}");
    let path = format!("{home}/cssh-rec-{}.so", rand_suffix() % 1_000_000);
    let out = run_with_input(
        Command::new("ssh")
            .arg("-F")
            .arg(&host().ssh_config)
            .args([alias, &format!("cat >{path}")]),
        library,
    );
    assert!(out.status.success(), "{}", describe(&out));
    path
}

/// The recorder's lines, then its files gone: `(mount namespace, program)` each.
fn loaded_by(alias: &str, library: &str) -> Vec<(String, String)> {
    let out = ssh(
        alias,
        &[&format!("cat {library}.log; rm -f {library} {library}.log")],
    );
    text(&out.stdout)
        .lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(ns, exe)| (ns.to_string(), exe.to_string()))
        .collect()
}

/// Every process that loaded the library is in `container`'s mount namespace, and one did.
fn only_inside(what: &str, loaded: &[(String, String)], container: &str) {
    assert!(
        loaded.iter().any(|(ns, _)| ns == container),
        "{what}: the container's own processes load the library ({container}): {loaded:?}"
    );
    let outside: Vec<_> = loaded.iter().filter(|(ns, _)| ns != container).collect();
    assert!(
        outside.is_empty(),
        "{what}: programs of the host loaded the container's LD_PRELOAD: {outside:?}"
    );
}

#[test]
fn an_images_ld_preload_never_loads_into_a_host_program_on_the_join() {
    std::thread::scope(|scope| {
        for alias in USERS {
            scope.spawn(move || {
                let library = recorder(alias);
                // An environment script of the image's own (bound in: Apptainer sources it at
                // every command, as one built into the image).
                let script = format!("{library}.sh");
                let made = ssh(alias, &[&format!("echo 'export LD_PRELOAD={library}' >{script}")]);
                assert!(made.status.success(), "{}", describe(&made));
                let instance = Instance::new(alias, "rec");
                let config = tagging(
                    BARE_SIF,
                    &format!(
                        "instance = {:?}\noptions = [\"--bind\", \"{script}:/.singularity.d/env/95-preload.sh\"]",
                        instance.name
                    ),
                );
                let probe = format!("{CAPBND}; readlink /proc/self/ns/mnt");
                // The first command starts the instance and looks at it; the next ones join.
                let mut container = String::new();
                for _ in 0..3 {
                    let out = run(cssh(&config).args([alias, &probe]));
                    assert!(out.status.success(), "{alias}: {}", describe(&out));
                    let stdout = text(&out.stdout);
                    container = stdout.lines().last().unwrap_or_default().to_string();
                    assert!(container.starts_with("mnt:["), "{alias}: {stdout}");
                }
                let joined = run(cssh(&config).args([alias, &probe]));
                assert!(
                    joined_by_namespaces(&text(&joined.stdout)),
                    "{alias}: the fast join was taken: {}",
                    describe(&joined)
                );
                only_inside(alias, &loaded_by(alias, &library), &container);
            });
        }
    });
}

#[test]
fn a_jobs_ld_preload_never_loads_into_a_host_program_on_attach() {
    std::thread::scope(|scope| {
        for alias in USERS {
            scope.spawn(move || {
                let library = recorder(alias);
                let mut job = Job::submit(
                    alias,
                    &format!("rec-{}", rand_suffix() % 1_000_000),
                    &format!(
                        "#!/bin/sh\nexec apptainer exec --pid --env LD_PRELOAD={library} {FULL_SIF} sleep 3011\n"
                    ),
                );
                job.wait_until_entered("true");
                let out = run(attach(&untagged(), &job.id, alias).arg("readlink /proc/self/ns/mnt"));
                assert!(out.status.success(), "{alias}: {}", describe(&out));
                let container = text(&out.stdout).trim().to_string();
                assert!(container.starts_with("mnt:["), "{alias}: {container}");
                only_inside(alias, &loaded_by(alias, &library), &container);
            });
        }
    });
}

#[test]
fn what_an_images_environment_prints_never_runs_on_the_host() {
    std::thread::scope(|scope| {
        for alias in USERS {
            scope.spawn(move || {
                let id = rand_suffix() % 1_000_000;
                // A file of the host's /tmp, which the contained instance does not see.
                let canary = format!("/tmp/cssh-printed-{id}");
                let script = format!("/tmp/cssh-print-{id}.sh");
                let made = ssh(
                    alias,
                    &[&format!("echo 'echo touch {canary}' >{script}")],
                );
                assert!(made.status.success(), "{}", describe(&made));
                let instance = Instance::new(alias, "print");
                let config = tagging(
                    BARE_SIF,
                    &format!(
                        "instance = {:?}\noptions = [\"--contain\", \"--bind\", \"{script}:/.singularity.d/env/95-print.sh\"]",
                        instance.name
                    ),
                );
                for _ in 0..3 {
                    let out = run(cssh(&config).args([alias, "echo in"]));
                    // As Apptainer shows it at every command, and nothing more.
                    assert_eq!(
                        (out.status.code(), text(&out.stdout)),
                        (Some(0), format!("touch {canary}\nin\n")),
                        "{alias}: {}",
                        describe(&out)
                    );
                }
                let _ = ssh(alias, &["rm", "-f", &script]);
                assert!(
                    !host().root.join(canary.trim_start_matches('/')).exists(),
                    "{alias}: what the image's script printed ran on the host"
                );
            });
        }
    });
}

#[test]
fn the_joins_record_is_private_and_never_sourced_once_others_could_write_it() {
    std::thread::scope(|scope| {
        for alias in USERS {
            scope.spawn(move || {
                let instance = Instance::new(alias, "umask");
                // A site whose logins set umask 002 (users share a primary group).
                let config = tagging(
                    BARE_SIF,
                    &format!("instance = {:?}\nprelude = \"umask 002\"", instance.name),
                );
                let probe = format!("{CAPBND}; umask");
                for _ in 0..2 {
                    let out = run(cssh(&config).args([alias, &probe]));
                    assert!(out.status.success(), "{alias}: {}", describe(&out));
                    assert!(
                        text(&out.stdout).ends_with("\n0002\n"),
                        "{alias}: the user's umask: {}",
                        describe(&out)
                    );
                }
                let user = text(&ssh(alias, &["id", "-un"]).stdout).trim().to_string();
                let record = format!(
                    "$HOME/.apptainer/instances/app/th-remote/{user}/{}/cssh-join-2",
                    instance.name
                );
                let mode = |record: &str| {
                    let out = ssh(alias, &[&format!("stat -c %a {record}")]);
                    text(&out.stdout).trim().to_string()
                };
                assert_eq!(mode(&record), "600", "{alias}: the record under umask 002");
                // Made group-writable, with a line only a sourced record runs.
                let canary = format!("/tmp/cssh-sourced-{}", rand_suffix() % 1_000_000);
                let spoiled = ssh(
                    alias,
                    &[&format!(
                        "echo 'touch {canary}' >>{record} && chmod g+w {record}"
                    )],
                );
                assert!(spoiled.status.success(), "{}", describe(&spoiled));
                let out = run(cssh(&config).args([alias, &probe]));
                assert!(
                    out.status.success() && joined_by_namespaces(&text(&out.stdout)),
                    "{alias}: a new look, then the join: {}",
                    describe(&out)
                );
                assert!(
                    !host().root.join(canary.trim_start_matches('/')).exists(),
                    "{alias}: a group-writable record was sourced"
                );
                assert_eq!(mode(&record), "600", "{alias}: the record written anew");
            });
        }
    });
}

#[test]
fn a_host_name_with_a_comma_never_reaches_another_job() {
    let name = format!("train{}", rand_suffix() % 1_000_000);
    let job = Job::submit("th-bash", &name, "#!/bin/sh\nexec sleep 3012\n");
    let config = Scratch::new(&format!(
        "[[host]]\npattern = \"*\"\nimage = {FULL_SIF:?}\nslurm = []\n"
    ));
    for mode in [&["--release"][..], &["--allocate"], &[]] {
        let out = run(Command::new(CSSH)
            .env("CSSH_CONFIG", config.path("config.toml"))
            .args(mode)
            .arg("-F")
            .arg(&host().ssh_config)
            .arg(format!("th-bash,{name}"))
            .args(if mode.is_empty() { &["true"][..] } else { &[] }));
        assert_eq!(out.status.code(), Some(255), "{mode:?}: {}", describe(&out));
        let stderr = said(&out.stderr);
        assert_eq!(
            stderr,
            format!(
                "cssh: refusing host name \"th-bash,{name}\" for a Slurm allocation (slurm in {}:4): Slurm splits job names at commas, so its job would be found among others\n",
                config.path("config.toml").display()
            ),
            "{mode:?}"
        );
    }
    let out = ssh("th-bash", &["squeue", "-h", "-o", "%T", "-j", &job.id]);
    let state = text(&out.stdout).trim().to_string();
    assert!(
        state == "RUNNING" || state == "PENDING",
        "job {name} is still there: {state}"
    );
}

#[test]
fn an_agent_socket_in_tmp_brings_only_itself_into_a_contained_container() {
    std::thread::scope(|scope| {
        for alias in USERS {
            scope.spawn(move || {
                let id = rand_suffix() % 1_000_000;
                // An agent's socket directly in /tmp (not OpenSSH's private directory), and a
                // file of the host's /tmp that --contain keeps out.
                let socket = format!("/tmp/cssh-agent-{id}.sock");
                let canary = format!("/tmp/cssh-contained-{id}");
                let made = ssh(
                    alias,
                    &[&format!(
                        "python3 -c 'import socket; socket.socket(socket.AF_UNIX).bind(\"{socket}\")' && touch {canary}"
                    )],
                );
                assert!(made.status.success(), "{}", describe(&made));
                let config = tagging(
                    FULL_SIF,
                    &format!(
                        "options = [\"--contain\"]\nprelude = \"SSH_AUTH_SOCK={socket}; export SSH_AUTH_SOCK\""
                    ),
                );
                let out = run(cssh(&config).args([
                    alias,
                    &format!(
                        "test -S \"$SSH_AUTH_SOCK\" && echo agent; test -e {canary} && echo /tmp came in || echo /tmp stayed out"
                    ),
                ]));
                let _ = ssh(alias, &["rm", "-f", &socket, &canary]);
                assert_eq!(
                    text(&out.stdout),
                    "agent\n/tmp stayed out\n",
                    "{alias}: {}",
                    describe(&out)
                );
            });
        }
    });
}

#[test]
fn the_batch_environment_is_quoted_private_and_never_sourced_once_others_could_write_it() {
    std::thread::scope(|scope| {
        for user in ["bashuser", "tcshuser", "fishuser"] {
            scope.spawn(move || {
                let id = rand_suffix() % 1_000_000;
                // An allocation of its own (the host name is the job's), in node mode: its
                // sessions read the batch step's SLURM_ variables from the batch environment file.
                let alias = format!("th-benv{id}");
                let smuggled = format!("cssh-smuggled-{id}");
                let sourced = format!("cssh-sourced-{id}");
                // On the login node, where sbatch passes them into the job: a variable whose value
                // holds a line of its own that looks like a SLURM_ one, and a SLURM_ one with a
                // line break.
                let prelude = format!(
                    "case $(hostname) in node*) ;; *) CSSH_OTHER='x\nexport SLURM_EVIL=$(touch $HOME/{smuggled})\n'; SLURM_CSSH_TEST='a\nb'; export CSSH_OTHER SLURM_CSSH_TEST ;; esac"
                );
                let config = Scratch::new(&format!(
                    "[[host]]\npattern = \"th-*\"\nimage = {FULL_SIF:?}\nslurm = [\"--time=30\"]\nslurm_connect = \"ssh\"\nprelude = {prelude:?}\n"
                ));
                let _released = Released {
                    config: &config,
                    user,
                    alias: &alias,
                };
                let session = |command: &str| {
                    run(cssh(&config).args(["-l", user, &alias, command]))
                };
                let out = session("printf '%s|' \"$SLURM_CSSH_TEST\" \"$SLURM_JOB_NAME\"");
                assert_eq!(
                    text(&out.stdout),
                    format!("a\nb|cssh-{alias}|"),
                    "{user}: {}",
                    describe(&out)
                );
                let file = format!("$HOME/.cache/cssh/slurm-$(squeue --me -h -O Cluster:-,JobID: -n cssh-{alias}).env");
                let spoiled = ssh(
                    &format!("th-{}", &user[..user.len() - 4]),
                    &[&format!(
                        "sh -c 'f={file}; echo \"touch \\$HOME/{sourced}\" >>\"$f\" && chmod g+w \"$f\" && stat -c %a \"$f\"'"
                    )],
                );
                assert_eq!(text(&spoiled.stdout), "620\n", "{user}: {}", describe(&spoiled));
                let out = session("printf '%s|' \"${SLURM_CSSH_TEST-unset}\" \"${SLURM_JOB_NAME-unset}\"");
                assert!(
                    text(&out.stdout) == "unset|unset|",
                    "{user}: a group-writable batch environment is not read: {}",
                    describe(&out)
                );
                let left = ssh(
                    &format!("th-{}", &user[..user.len() - 4]),
                    &[&format!("sh -c 'ls $HOME/{smuggled} $HOME/{sourced} 2>/dev/null; rm -f $HOME/{smuggled} $HOME/{sourced}'")],
                );
                assert_eq!(
                    text(&left.stdout),
                    "",
                    "{user}: a line of the batch environment ran"
                );
            });
        }
    });
}

#[test]
fn another_clusters_job_of_the_same_id_in_a_shared_home_is_never_this_ones() {
    // A home that two clusters share: the other cluster's job, of this job's id, runs cssh's
    // own batch script as its slurmstepd would, with its own SLURM_ variables (here on the
    // login node, outside any Slurm job). It leaves its marks (its batch environment, its
    // server's record) in the same cache; this job's sessions, by the job's sshd and in node
    // mode, still reach this job, never the other's.
    for (user, login) in [
        ("bashuser", "th-bash"),
        ("tcshuser", "th-tcsh"),
        ("fishuser", "th-fish"),
    ] {
        same_id_on_another_cluster(user, login);
    }
}

/// One user's part of [`another_clusters_job_of_the_same_id_in_a_shared_home_is_never_this_ones`].
fn same_id_on_another_cluster(user: &str, login: &str) {
    let alias = format!("th-twin-{}", rand_suffix() % 1_000_000);
    let config = |connect: &str| {
        Scratch::new(&format!(
            "[[host]]\npattern = \"th-*\"\nimage = {FULL_SIF:?}\nslurm = [\"--time=30\"]\n{connect}\n"
        ))
    };
    let (by_sshd, by_node) = (config(""), config("slurm_connect = \"ssh\""));
    let _released = Released {
        config: &by_sshd,
        user,
        alias: &alias,
    };
    let probe = "echo cluster=$SLURM_CLUSTER_NAME job=$SLURM_JOB_ID";
    let session = |config: &Scratch| run(cssh(config).args(["-l", user, &alias, probe]));
    let out = session(&by_sshd);
    let job = text(
        &ssh(
            login,
            &["squeue", "-h", "-o", "%i", "-n", &format!("cssh-{alias}")],
        )
        .stdout,
    )
    .trim()
    .to_string();
    let this = format!("cluster={SLURM_CLUSTER} job={job}\n");
    assert_eq!(text(&out.stdout), this, "{user}: {}", describe(&out));
    // The other cluster's job: this job's batch script, as Slurm keeps it, started in the
    // background by a launcher that any login shell runs as `sh FILE`.
    let mut twin = Twin {
        mark: format!("CSSH_TWIN={}", rand_suffix()),
        script: format!("/home/{user}/cssh-twin-{}.sh", rand_suffix() % 1_000_000),
        pid: String::new(),
    };
    let batch = admin(&["scontrol", "write", "batch_script", &job, "-"]).stdout;
    let launcher = format!(
        "env {} SLURM_JOB_ID={job} SLURM_JOBID={job} SLURM_CLUSTER_NAME=twin CSSH_RT=apptainer setsid sh {} </dev/null >/dev/null 2>&1 & echo $!\n",
        twin.mark, twin.script
    );
    for (file, text) in [
        (twin.script.clone(), batch),
        (twin.launcher(), launcher.into_bytes()),
    ] {
        let out = run_with_input(
            Command::new("ssh")
                .arg("-F")
                .arg(&host().ssh_config)
                .args([login, &format!("cat >{file}")]),
            &text,
        );
        assert!(out.status.success(), "{user}: {}", describe(&out));
    }
    let out = ssh(login, &["sh", &twin.launcher()]);
    twin.pid = text(&out.stdout).trim().to_string();
    assert!(!twin.pid.is_empty(), "{user}: {}", describe(&out));
    // Until its server has written its record.
    let cache = host().root.join(format!("home/{user}/.cache/cssh"));
    wait_until("the other cluster's job to serve", || {
        std::fs::read_dir(&cache)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".sshd"))
            .any(|e| {
                std::fs::read_to_string(e.path())
                    .is_ok_and(|r| r.starts_with(&format!("{} ", twin.pid)))
            })
            .then_some(())
            .ok_or_else(|| "no record yet".into())
    });
    for (how, config) in [("the job's sshd", &by_sshd), ("node mode", &by_node)] {
        let out = session(config);
        assert_eq!(text(&out.stdout), this, "{user}, {how}: {}", describe(&out));
    }
}

/// The other cluster's job of [`another_clusters_job_of_the_same_id_in_a_shared_home_is_never_this_ones`]:
/// its processes (those with its variable `mark`), killed so that no exit trap runs, and what
/// it left (its batch environment, its server's record and directory, its script and
/// launcher), removed when the test ends.
struct Twin {
    mark: String,
    script: String,
    /// Its batch script's pid, which its server's record starts with.
    pid: String,
}

impl Twin {
    /// The file that starts it.
    fn launcher(&self) -> String {
        format!("{}.run", self.script)
    }
}

impl Drop for Twin {
    fn drop(&mut self) {
        for pid in crate::held::with_variable(&self.mark) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
        let _ = admin(&[
            "sh",
            "-c",
            "rm -f \"$0\" \"$0.run\"; cd \"${0%/*}/.cache/cssh\" && for f in slurm-*.sshd; do read -r p _ d <\"$f\" && [ \"$p\" = \"$1\" ] && rm -rf \"$d\" \"$f\"; done; for f in slurm-*.env; do grep -qs twin \"$f\" && rm -f \"$f\"; done; rm -rf slurm-twin-*; true",
            &self.script,
            &self.pid,
        ]);
    }
}

/// Releases a test's own allocation when the test ends, passed or failed.
struct Released<'a> {
    config: &'a Scratch,
    user: &'a str,
    alias: &'a str,
}

impl Drop for Released<'_> {
    fn drop(&mut self) {
        let _ = release(self.config, self.user, self.alias);
    }
}

/// The configured values: a token in `env` and one the prelude exports, neither of which any
/// process's command line on the test host may hold while a session runs.
const TOKEN: &str = "tok-e2e-7f3a1 x'y \"q\" $(id) `id` $HOME \\z";
const PRELUDE_TOKEN: &str = "tok-e2e-prelude-52c9";

/// Every command line on this machine (the test host's login node, Slurm nodes and HTCondor
/// execute points share its pid namespace) that holds a token.
fn lines_with_tokens() -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(line) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let line = String::from_utf8_lossy(&line).replace('\0', " ");
        if ["tok-e2e-7f3a1", "tok-e2e-prelude"]
            .iter()
            .any(|token| line.contains(token))
        {
            found.push(line);
        }
    }
    found
}

/// Runs `command` (a session that prints the tokens it sees in the container and waits a
/// second) while every process's command line is looked at, over and over: its output, and the
/// command lines that held a token.
fn watched(command: &mut Command) -> (std::process::Output, Vec<String>) {
    let child = command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let watcher = scope.spawn(|| {
            let mut seen = Vec::new();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                seen.extend(lines_with_tokens());
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            seen
        });
        let out = child.wait_with_output().unwrap();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        (out, watcher.join().unwrap())
    })
}

#[test]
fn configured_values_never_appear_on_a_command_line_on_the_remote() {
    let id = rand_suffix() % 1_000_000;
    let values = format!(
        "env = {{ CSSH_TOKEN = {TOKEN:?} }}\nprelude = \"export CSSH_PRELUDE_TOKEN={PRELUDE_TOKEN}\"\n"
    );
    // Each way a session goes: the login node (with and without --cleanenv, for each login
    // shell), Slurm's job sshd, steps and node mode, HTCondor's job sshd and condor_ssh_to_job.
    let places: Vec<(String, &str, String)> = USERS
        .iter()
        .map(|alias| (format!("{alias}-v{id}"), user_of(alias), String::new()))
        .chain([
            (
                format!("th-v{id}-cleanenv"),
                "tcshuser",
                "options = [\"--cleanenv\"]".to_string(),
            ),
            (
                format!("th-v{id}-instance"),
                "fishuser",
                format!("instance = \"values-{id}\""),
            ),
            (
                format!("th-v{id}-sshd"),
                "bashuser",
                "slurm = [\"--time=10\"]".to_string(),
            ),
            (
                format!("th-v{id}-srun"),
                "fishuser",
                "slurm = [\"--time=10\"]\nslurm_connect = \"srun\"".to_string(),
            ),
            (
                format!("th-v{id}-node"),
                "tcshuser",
                "slurm = [\"--time=10\"]\nslurm_connect = \"ssh\"".to_string(),
            ),
            (
                format!("th-v{id}-condor"),
                "bashuser",
                "htcondor = [\"allowed_job_duration = 900\"]".to_string(),
            ),
            (
                format!("th-v{id}-condor-ssh"),
                "tcshuser",
                "htcondor = [\"allowed_job_duration = 900\"]\nhtcondor_connect = \"condor_ssh_to_job\""
                    .to_string(),
            ),
        ])
        .collect();
    // And a running job's container, attached to (entered by its namespaces).
    let attached = format!("th-v{id}-attach");
    let config = Scratch::new(
        &places
            .iter()
            .map(|(alias, _, settings)| {
                format!(
                    "[[host]]\npattern = \"{alias}\"\nimage = {FULL_SIF:?}\n{values}{settings}\n"
                )
            })
            .chain([
                format!("[[host]]\npattern = \"{attached}\"\n{values}"),
                format!("[[host]]\npattern = \"th-v{id}-px\"\nimage = {FULL_SIF:?}\n{values}"),
            ])
            .collect::<String>(),
    );
    let shown = "printf '[%s] [%s]\\n' \"$CSSH_TOKEN\" \"$CSSH_PRELUDE_TOKEN\"; sleep 1";
    std::thread::scope(|scope| {
        for (alias, user, _) in &places {
            let config = &config;
            scope.spawn(move || {
                let (out, lines) = watched(cssh(config).args(["-l", user, alias]).arg(shown));
                assert!(lines.is_empty(), "{alias}: on a command line: {lines:#?}");
                assert!(out.status.success(), "{alias}: {}", describe(&out));
                // What the prelude exports reaches a container the runtime starts with the
                // host's environment: not a --cleanenv one, nor HTCondor's (the prelude runs on
                // the access point).
                let exported = !(alias.contains("cleanenv") || alias.contains("condor"));
                assert_eq!(
                    text(&out.stdout),
                    format!(
                        "[{TOKEN}] [{}]\n",
                        if exported { PRELUDE_TOKEN } else { "" }
                    ),
                    "{alias}: the values reach the container"
                );
                if ["-sshd", "-srun", "-node", "condor"]
                    .iter()
                    .any(|k| alias.contains(k))
                {
                    let out = run(Command::new(CSSH)
                        .env("CSSH_CONFIG", config.path("config.toml"))
                        .args(["--release", "-F"])
                        .arg(&host().ssh_config)
                        .args(["-l", user, alias]));
                    assert!(out.status.success(), "{alias}: {}", describe(&out));
                }
            });
        }
    });
    let job = Job::container("th-bash");
    let (out, lines) = watched(
        Command::new(CSSH)
            .env("CSSH_CONFIG", config.path("config.toml"))
            .args(["--attach", &job.id, "-F"])
            .arg(&host().ssh_config)
            .args(["-l", "bashuser", &attached, shown]),
    );
    assert!(lines.is_empty(), "attached: on a command line: {lines:#?}");
    assert!(out.status.success(), "attached: {}", describe(&out));
    // The job's container keeps its own environment: `env` does not apply to it, and what the
    // prelude exports stays on the node.
    assert_eq!(text(&out.stdout), "[] []\n", "attached");
    // A plain client through `ProxyCommand cssh --proxy`: the values go before the hop.
    let proxied = format!("th-v{id}-px");
    let blocks = run(Command::new(CSSH)
        .env_remove("CSSH_CONFIG")
        .arg("--config")
        .arg(config.path("config.toml"))
        .args(["--ssh-config", "-F"])
        .arg(&host().ssh_config)
        .args(["-l", "bashuser", &proxied]));
    assert!(
        blocks.status.success(),
        "--ssh-config: {}",
        describe(&blocks)
    );
    std::fs::write(config.path("ssh_config"), &blocks.stdout).unwrap();
    let (out, lines) = watched(
        Command::new("ssh")
            .arg("-F")
            .arg(config.path("ssh_config"))
            .args([&format!("cssh.{proxied}"), shown]),
    );
    assert!(lines.is_empty(), "proxied: on a command line: {lines:#?}");
    assert!(out.status.success(), "proxied: {}", describe(&out));
    assert_eq!(
        text(&out.stdout),
        format!("[{TOKEN}] [{PRELUDE_TOKEN}]\n"),
        "proxied"
    );
    let _ = ssh(
        "th-fish",
        &["apptainer", "instance", "stop", &format!("values-{id}")],
    );
    // The file they are in is the user's alone, on the login node.
    let out = ssh(
        "th-bash",
        &["find ~/.cache/cssh -maxdepth 1 -name 'values-*' ! -perm 600 -o -maxdepth 0 ! -perm 700"],
    );
    assert_eq!(text(&out.stdout), "", "{}", describe(&out));
}

/// The user an alias of [`USERS`] logs in as.
fn user_of(alias: &str) -> &'static str {
    match alias {
        "th-bash" => "bashuser",
        "th-tcsh" => "tcshuser",
        _ => "fishuser",
    }
}
