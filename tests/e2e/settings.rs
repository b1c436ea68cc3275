//! Configuration settings reaching the real runtime: prelude, runtime, binds, env, options,
//! instances, and the one-line errors when a piece is missing on the remote.

use std::fmt::Write as _;
use std::process::Command;

use crate::harness::*;

#[test]
fn a_runtime_only_a_prelude_provides() {
    let without = tagging(FULL_SIF, "runtime = \"modtainer\"");
    let out = run(cssh(&without).args(["th-bash", "cat", &host().image_marker]));
    assert_eq!(out.status.code(), Some(127), "{}", describe(&out));
    assert_eq!(
        text(&out.stderr),
        format!(
            "cssh: th-bash: modtainer not on PATH (set prelude or runtime in {})\n",
            without.path("config.toml").display()
        )
    );
    assert_eq!(text(&out.stdout), "");
    // A path is not looked for on PATH: the line says what is wrong with it.
    let path = tagging(FULL_SIF, "runtime = \"/opt/nope/apptainer\"");
    let out = run(cssh(&path).args(["th-tcsh", "true"]));
    assert_eq!(
        (out.status.code(), text(&out.stderr)),
        (
            Some(127),
            format!(
                "cssh: th-tcsh: /opt/nope/apptainer not found or not executable (set prelude or runtime in {})\n",
                path.path("config.toml").display()
            )
        )
    );

    let with = tagging(
        FULL_SIF,
        &format!("runtime = \"modtainer\"\nprelude = {MODULE_PRELUDE:?}"),
    );
    for alias in ["th-bash", "th-tcsh", "th-fish"] {
        let out = run(cssh(&with).args([alias, "cat", &host().image_marker]));
        assert_eq!(
            text(&out.stdout),
            FULL_MARKER,
            "{alias}: {}",
            describe(&out)
        );
    }
}

#[test]
fn a_prelude_that_fails_stops_the_session_in_one_line_and_the_doctor_says_so() {
    // The module system's own line says why; cssh's names the prelude.
    for (prelude, stderr, said) in [
        ("false", "failed with status 1", ""),
        (
            "module load nosuch",
            "failed with status 1",
            ": ERROR: Unable to locate a modulefile for 'nosuch'",
        ),
        ("echo x; exit 3", "called exit, status 3", ""),
    ] {
        let config = tagging(FULL_SIF, &format!("prelude = {prelude:?}"));
        let file = config.path("config.toml").display().to_string();
        for alias in ["th-bash", "th-tcsh", "th-fish"] {
            let out = run(cssh(&config).args([alias, "echo RAN"]));
            let seen = text(&out.stderr);
            assert_eq!(
                (out.status.code(), text(&out.stdout)),
                (Some(255), String::new()),
                "{alias} {prelude:?}: {}",
                describe(&out)
            );
            assert!(
                seen.ends_with(&format!("cssh: {alias}: the prelude ({file}:4) {stderr}\n"))
                    && seen.lines().filter(|l| l.starts_with("cssh:")).count() == 1,
                "{alias} {prelude:?}: {seen}"
            );
        }
        let report = crate::doctor::json_report(&config, &["th-bash"], 1);
        let runtime = crate::doctor::finding(&report, "th-bash", "runtime");
        assert_eq!(runtime["status"], "fail", "{runtime}");
        assert_eq!(
            runtime["value"],
            format!("the prelude ({file}:4) {stderr}{said}"),
            "{runtime}"
        );
        let fix = if said.is_empty() {
            format!(
                "make the prelude at {file}:4 succeed on the host (its last command's status is the prelude's)"
            )
        } else {
            format!(
                "check the module's name in the prelude at {file}:4 (`module avail` in a login shell on the host lists them)"
            )
        };
        assert_eq!(runtime["fix"], fix);
    }
}

#[test]
fn a_configured_shell_the_image_lacks_is_said_with_the_shell_that_runs() {
    let config = tagging(FULL_SIF, "shell = \"/bin/nosuch-sh\"");
    let said = format!(
        "cssh: th-bash: no /bin/nosuch-sh in {FULL_SIF} (shell in {}:4): /bin/bash runs instead\n",
        config.path("config.toml").display()
    );
    let out = run(cssh(&config).args(["th-bash", "echo $SHELL"]));
    assert_eq!(
        (out.status.code(), text(&out.stdout), text(&out.stderr)),
        (Some(0), "/bin/bash\n".into(), said.clone()),
        "as a command's SHELL"
    );
    let out = run_with_input(cssh(&config).args(["-T", "th-bash"]), b"echo \"$SHELL\"\n");
    assert_eq!(
        (out.status.code(), text(&out.stdout), text(&out.stderr)),
        (Some(0), "/bin/bash\n".into(), said),
        "as the login shell"
    );
}

#[test]
fn neither_runtime_on_path_is_one_line() {
    let config = tagging(FULL_SIF, "prelude = \"PATH=/nonexistent\"");
    let out = run(cssh(&config).args(["th-dash", "true"]));
    assert_eq!(out.status.code(), Some(127));
    assert_eq!(
        text(&out.stderr),
        format!(
            "cssh: th-dash: neither apptainer nor singularity on PATH (set prelude or runtime in {})\n",
            config.path("config.toml").display()
        )
    );
}

#[test]
fn prelude_output_goes_to_stderr() {
    let config = tagging(FULL_SIF, "prelude = \"echo loading modules\"");
    let out = run(cssh(&config).args(["th-bash", "echo", "out"]));
    assert_eq!(
        (text(&out.stdout), text(&out.stderr)),
        ("out\n".into(), "loading modules\n".into())
    );
}

#[test]
fn singularity_as_the_runtime() {
    let config = tagging(FULL_SANDBOX, "runtime = \"singularity\"");
    let out = run(cssh(&config).args(["th-csh", "cat", &host().image_marker]));
    assert_eq!(text(&out.stdout), FULL_MARKER, "{}", describe(&out));
}

#[test]
fn a_missing_image_is_one_line() {
    let config = tagging("/opt/th/no such.sif", "");
    let out = run(cssh(&config).args(["th-bash", "true"]));
    assert_eq!(out.status.code(), Some(127));
    assert_eq!(
        text(&out.stderr),
        "cssh: th-bash: image /opt/th/no such.sif not found on the remote\n"
    );
}

#[test]
fn binds_env_and_options_reach_the_container() {
    let id = std::process::id();
    let source = host().root.join(format!("tmp/cssh-e2e-bind-{id}"));
    std::fs::create_dir_all(&source).unwrap();
    std::fs::write(source.join("file"), "bound\n").unwrap();
    let value = "a b 'c' \"d\" $(touch /tmp/cssh-env-canary) `x` \\ , e=f";
    let config = tagging(
        FULL_SIF,
        &format!(
            "binds = [\"/tmp/cssh-e2e-bind-{id}:/mnt/cssh-bind:ro\"]\nenv = {{ CSSH_E2E = {value:?} }}\noptions = [\"--cleanenv\"]"
        ),
    );
    let out = run(cssh(&config).args([
        "th-bash",
        "cat /mnt/cssh-bind/file; printf '%s\\n' \"$CSSH_E2E\" \"${MAIL-cleaned}\"; touch /mnt/cssh-bind/w 2>/dev/null || echo read-only",
    ]));
    assert_eq!(
        text(&out.stdout),
        format!("bound\n{value}\ncleaned\nread-only\n"),
        "{}",
        describe(&out)
    );
    let outside = ssh("th-bash", &["ls", "/mnt/cssh-bind"]);
    assert!(
        !outside.status.success(),
        "the bind target exists only inside the container"
    );
    assert!(!host().root.join("tmp/cssh-env-canary").exists());
    std::fs::remove_dir_all(source).unwrap();
}

#[test]
fn a_bind_whose_source_is_missing_is_one_line_and_127() {
    let config = tagging(FULL_SIF, "binds = [\"/tmp\", \"/nonexistent/src:/data\"]");
    for alias in ["th-bash", "th-tcsh", "th-fish"] {
        let out = run(cssh(&config).args([alias, "echo RAN"]));
        assert_eq!(
            (out.status.code(), text(&out.stdout), text(&out.stderr)),
            (
                Some(127),
                String::new(),
                format!(
                    "cssh: {alias}: bind source /nonexistent/src is not on the remote (binds in {}:4)\n",
                    config.path("config.toml").display()
                )
            ),
            "{alias}"
        );
    }
}

#[test]
fn an_instance_that_cannot_start_says_the_runtimes_reason_at_once() {
    // The runtime's own first error line, not its last, and no wait: no other session is
    // starting this instance.
    let name = format!("nostart{}", rand_suffix() % 1_000_000);
    let config = tagging(
        BARE_SIF,
        &format!("instance = {name:?}\noptions = [\"--overlay\", \"/nonexistent.img\"]"),
    );
    for alias in ["th-bash", "th-tcsh"] {
        let out = run(cssh(&config).args([alias, "echo", "RAN"]));
        assert_eq!(out.status.code(), Some(127), "{alias}: {}", describe(&out));
        assert_eq!(
            text(&out.stderr),
            format!(
                "cssh: {alias}: could not start instance {name} of {BARE_SIF}: FATAL:   while loading overlay images: failed to open overlay image /nonexistent.img: failed to retrieve path for /nonexistent.img: lstat /nonexistent.img: no such file or directory\n"
            ),
            "{alias}"
        );
        assert_eq!(text(&out.stdout), "", "{alias}");
    }
}

#[test]
fn options_the_runtime_does_not_know_are_its_line_and_csshs() {
    // For a new container and for an instance's start (whose flags are not exec's): the
    // runtime's flag parser answers before anything starts, and its usage text stays out.
    let name = format!("bogus{}", rand_suffix() % 1_000_000);
    for (extra, subcommand) in [
        (String::new(), "exec"),
        (format!("\ninstance = {name:?}"), "start"),
    ] {
        let config = tagging(BARE_SIF, &format!("options = [\"--bogus-opt\"]{extra}"));
        for alias in ["th-bash", "th-tcsh", "th-fish"] {
            let out = run(cssh(&config).args([alias, "echo", "RAN"]));
            assert_eq!(
                (out.status.code(), text(&out.stdout), text(&out.stderr)),
                (
                    Some(255),
                    String::new(),
                    format!(
                        "Error for command \"{subcommand}\": unknown flag: --bogus-opt\ncssh: {alias}: the runtime refuses the options in {}:4\n",
                        config.path("config.toml").display()
                    )
                ),
                "{alias} {subcommand}"
            );
        }
    }
    // Options it knows pass, and leave the mark that answers for the next session.
    let config = tagging(FULL_SIF, "options = [\"--cleanenv\", \"--pwd\", \"/\"]");
    for _ in 0..2 {
        let out = run(cssh(&config).args(["th-zsh", "pwd; ls ~/.cache/cssh | grep -c options-"]));
        assert!(text(&out.stdout).starts_with("/\n"), "{}", describe(&out));
        assert_ne!(text(&out.stdout), "/\n0\n", "{}", describe(&out));
    }
}

#[test]
fn sessions_that_start_one_instance_at_once_all_join_it() {
    // All but one start fails with the runtime's `already exists`: those wait for the instance.
    let name = format!("race{}", rand_suffix() % 1_000_000);
    let config = tagging(BARE_SIF, &format!("instance = {name:?}"));
    let sessions: Vec<_> = (0..4)
        .map(|_| {
            cssh(&config)
                .args(["th-fish", "cat", &host().image_marker])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<_> = sessions
        .into_iter()
        .map(|s| s.wait_with_output().unwrap())
        .collect();
    let list = ssh("th-fish", &["apptainer", "instance", "list"]);
    let stop = ssh("th-fish", &["apptainer", "instance", "stop", &name]);
    for out in &outs {
        assert_eq!(text(&out.stdout), BARE_MARKER, "{}", describe(out));
    }
    let running = text(&list.stdout)
        .lines()
        .filter(|l| l.split_whitespace().next() == Some(&name))
        .count();
    assert_eq!(running, 1, "{}", text(&list.stdout));
    assert!(stop.status.success(), "{}", describe(&stop));
}

#[test]
fn an_instance_is_started_once_and_reused() {
    // The join runs in the session's own script: for bash, tcsh and fish users alike (each user
    // has instances of their own).
    let name = format!("e2e{}", std::process::id());
    let config = tagging(FULL_SIF, &format!("instance = {name:?}"));
    for alias in ["th-bash", "th-tcsh", "th-fish"] {
        for _ in 0..2 {
            let out =
                run(cssh(&config).args([alias, &format!("cat {}; {CAPBND}", host().image_marker)]));
            let stdout = text(&out.stdout);
            assert!(
                stdout.starts_with(FULL_MARKER),
                "{alias}: {}",
                describe(&out)
            );
            // The first command starts the instance and looks at it: each joins it by its
            // namespaces.
            assert!(joined_by_namespaces(&stdout), "{alias}: {stdout}");
        }
        let list = ssh(alias, &["apptainer", "instance", "list"]);
        let running: Vec<String> = text(&list.stdout)
            .lines()
            .filter(|l| l.split_whitespace().next() == Some(&name))
            .map(String::from)
            .collect();
        let stop = ssh(alias, &["apptainer", "instance", "stop", &name]);
        assert_eq!(running.len(), 1, "{alias}: {}", text(&list.stdout));
        assert!(stop.status.success(), "{alias}: {}", describe(&stop));
    }
}

#[test]
fn an_instance_started_with_other_binds_is_said_and_the_doctor_warns() {
    // The bash, tcsh and fish users each have an instance of their own.
    for alias in ["th-bash", "th-tcsh", "th-fish"] {
        let instance = Instance::new(alias, "stale");
        let with = |binds: &str| {
            tagging(
                FULL_SIF,
                &format!("instance = {:?}\nbinds = {binds}", instance.name),
            )
        };
        let started = with("[\"/tmp\"]");
        let out = run(cssh(&started).args([alias, "true"]));
        assert_eq!(
            (out.status.code(), text(&out.stderr)),
            (Some(0), String::new()),
            "{alias}: {}",
            describe(&out)
        );
        let changed = with("[\"/tmp\", \"/tmp:/mnt/other\"]");
        let out = run(cssh(&changed).args([alias, "echo RAN"]));
        assert_eq!(
            (text(&out.stdout), text(&out.stderr)),
            (
                "RAN\n".into(),
                format!(
                    "cssh: {alias}: instance {0} runs with the image, binds and options it was started with, not those {1}:4 gives now (to start it anew: ssh {alias} apptainer instance stop {0})\n",
                    instance.name,
                    changed.path("config.toml").display()
                )
            )
        );
        let out = run(Command::new(CSSH)
            .env("CSSH_CONFIG", changed.path("config.toml"))
            .args(["--doctor", "--json", "-F"])
            .arg(&host().ssh_config)
            .arg(alias));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let found = crate::doctor::finding(&report, alias, "instance");
        assert_eq!(found["status"], "warn", "{alias}: {found}");
        // The same settings again: nothing to say.
        let out = run(cssh(&started).args([alias, "true"]));
        assert_eq!(text(&out.stderr), "", "{alias}");
    }
}

#[test]
fn persist_reuses_one_connection() {
    let config = tagging(FULL_SIF, "persist = \"1m\"");
    let runtime_dir = config.path("run");
    std::fs::create_dir(&runtime_dir).unwrap();
    // SSH_CONNECTION names the client's port: one TCP connection, one port.
    let connection = || {
        let out = run(cssh(&config)
            .env("XDG_RUNTIME_DIR", &runtime_dir)
            .args(["th-bash", "echo $SSH_CONNECTION"]));
        assert!(out.status.success(), "{}", describe(&out));
        text(&out.stdout)
    };
    let first = connection();
    let second = connection();
    let sockets: Vec<_> = std::fs::read_dir(runtime_dir.join("cssh"))
        .unwrap()
        .collect();
    // `-O` reaches the master through cssh, as it would through ssh with the same ControlPath.
    let control = |command: &str| {
        run(cssh(&config)
            .env("XDG_RUNTIME_DIR", &runtime_dir)
            .args(["-O", command, "th-bash"]))
    };
    let check = control("check");
    assert!(
        check.status.success() && text(&check.stderr).starts_with("Master running (pid="),
        "{}",
        describe(&check)
    );
    let stop = control("exit");
    assert_eq!(
        first, second,
        "the second command rides on the first one's connection"
    );
    assert_eq!(sockets.len(), 1);
    assert!(
        text(&stop.stderr).contains("Exit request sent"),
        "{}",
        describe(&stop)
    );
    // Without persist, each command has a connection of its own.
    let plain = tagging(FULL_SIF, "");
    let ports: Vec<String> = (0..2)
        .map(|_| text(&run(cssh(&plain).args(["th-bash", "echo $SSH_CONNECTION"])).stdout))
        .collect();
    assert_ne!(ports[0], ports[1]);
}

#[test]
fn persist_leaves_multiplexing_the_user_decided_alone() {
    let config = tagging(FULL_SIF, "persist = \"1m\"");
    let dry_run = |ssh_config: &std::path::Path, args: &[&str]| {
        let out = run(Command::new(CSSH)
            .env("CSSH_CONFIG", config.path("config.toml"))
            .args(["--dry-run", "-F"])
            .arg(ssh_config)
            .args(args));
        assert!(out.status.success(), "{}", describe(&out));
        text(&out.stdout)
    };
    assert!(dry_run(&host().ssh_config, &["th-bash", "true"]).contains("-o 'ControlPersist=1m'"));
    for args in [
        &["-o", "ControlMaster=no", "th-bash", "true"][..],
        &["-S", "/tmp/mine", "th-bash", "true"],
        &["-M", "th-bash"],
    ] {
        assert!(
            !dry_run(&host().ssh_config, args).contains("ControlPersist"),
            "{args:?}"
        );
    }
    // The user's multiplexing sits in a file that the -F file includes: cssh follows the
    // Include, sees it mentioned, and `ssh -G` says it applies to th-bash.
    let mux = config.path("mux.conf");
    std::fs::write(
        &mux,
        "Host th-bash\n  ControlMaster auto\n  ControlPath /tmp/%C\n",
    )
    .unwrap();
    let ssh_config = config.path("ssh_config");
    std::fs::write(
        &ssh_config,
        format!(
            "Include {}\nInclude {}\n",
            mux.display(),
            host().ssh_config.display()
        ),
    )
    .unwrap();
    assert!(
        !dry_run(&ssh_config, &["th-bash", "true"]).contains("ControlPersist"),
        "ssh_config decides"
    );
}

/// An ssh-agent holding the test host's key, killed when dropped.
struct Agent {
    socket: String,
    pid: String,
}

impl Agent {
    fn start() -> Agent {
        let out = run(Command::new("ssh-agent").arg("-s"));
        let said = text(&out.stdout);
        let value = |name: &str| {
            said.split(';')
                .find_map(|part| part.trim().strip_prefix(&format!("{name}=")))
                .unwrap_or_else(|| panic!("ssh-agent says no {name}: {said}"))
                .to_string()
        };
        let agent = Agent {
            socket: value("SSH_AUTH_SOCK"),
            pid: value("SSH_AGENT_PID"),
        };
        let key = host().ssh_config.with_file_name("id_ed25519");
        let add = run(Command::new("ssh-add")
            .arg("-q")
            .arg(&key)
            .env("SSH_AUTH_SOCK", &agent.socket));
        assert!(add.status.success(), "{}", describe(&add));
        agent
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(&self.pid).status();
    }
}

#[test]
fn the_sessions_agent_and_variables_survive_cleanenv_and_contain() {
    let agent = Agent::start();
    // The agent works inside, also for ssh onward from the container to the test host.
    let onward = format!(
        "ssh -p {} -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR bashuser@127.0.0.1 cat {}",
        host().port,
        host().remote_marker
    );
    let check = format!(
        "echo conn=${{SSH_CONNECTION:+set}} client=${{SSH_CLIENT:+set}} lc=$LC_TIME sent=${{CSSH_TEST_SENT-}} set=${{CSSH_TEST_SET-}} mail=${{MAIL-unset}}; ssh-add -l >/dev/null && echo agent=usable; {onward}"
    );
    for (options, host_variables) in [
        ("", true),
        ("\"--cleanenv\"", false),
        ("\"--contain\"", true),
        ("\"--containall\"", false),
    ] {
        let config = tagging(FULL_SIF, &format!("options = [{options}]"));
        for alias in ["th-bash", "th-tcsh", "th-fish"] {
            let out = run(cssh(&config)
                .args(["-A", "-o", "SendEnv=LC_TIME", "-o", "SendEnv=CSSH_TEST_*"])
                .args(["-o", "SetEnv=CSSH_TEST_SET=by-setenv", alias, &check])
                .env("SSH_AUTH_SOCK", &agent.socket)
                .env("LC_TIME", "C.UTF-8")
                .env("CSSH_TEST_SENT", "by sendenv"));
            let mail = if host_variables {
                format!("/var/mail/{}user", alias.trim_start_matches("th-"))
            } else {
                "unset".to_string()
            };
            assert_eq!(
                text(&out.stdout),
                format!(
                    "conn=set client=set lc=C.UTF-8 sent=by sendenv set=by-setenv mail={mail}\nagent=usable\n{REMOTE_MARKER}"
                ),
                "{alias} with options [{options}]: {}",
                describe(&out)
            );
        }
        // Without -A there is no agent, and nothing stands in for one.
        let out = run(cssh(&config)
            .args(["th-bash", "echo ${SSH_AUTH_SOCK-none}"])
            .env("SSH_AUTH_SOCK", &agent.socket));
        assert_eq!(
            text(&out.stdout),
            "none\n",
            "[{options}]: {}",
            describe(&out)
        );
    }
}

#[test]
fn forward_env_switches_the_session_off_or_names_what_comes() {
    let agent = Agent::start();
    let check = "echo lc=${LC_TIME-unset} lang=${LANG-unset}; ssh-add -l >/dev/null 2>&1 && echo agent=usable";
    let seen = |settings: &str| {
        let config = tagging(FULL_SIF, settings);
        let out = run(cssh(&config)
            .args(["-A", "-o", "SendEnv=LC_TIME LANG", "th-bash", check])
            .env("SSH_AUTH_SOCK", &agent.socket)
            .env("LC_TIME", "C.UTF-8")
            .env("LANG", "C.UTF-8"));
        text(&out.stdout)
    };
    let all = "options = [\"--containall\"]\n";
    assert_eq!(seen(all), "lc=C.UTF-8 lang=C.UTF-8\nagent=usable\n");
    // Apptainer sets LANG=C in a clean environment; the session's LANG stays out.
    assert_eq!(
        seen(&format!("{all}forward_env = false")),
        "lc=unset lang=C\n"
    );
    assert_eq!(
        seen(&format!("{all}forward_env = [\"LANG\"]")),
        "lc=unset lang=C.UTF-8\n"
    );
}

#[test]
fn a_large_configuration_is_read_through_its_index_and_an_edit_is_seen_at_once() {
    // 1,000 entries (over the 32 KiB from which the index is kept), th-bash tagged by the last.
    let entries = |image: &str| {
        let mut text = String::new();
        for i in 0..999 {
            let _ = write!(
                text,
                "[[host]]\npattern = \"node-{i} node-{i}.cluster\"\nimage = \"/img/{i}.sif\"\n\n"
            );
        }
        let _ = write!(
            text,
            "[[host]]\npattern = \"th-bash\"\nimage = \"{image}\"\n"
        );
        text
    };
    let config = Scratch::new(&entries(FULL_SIF));
    let cache = config.path("cache");
    let in_image = |config: &Scratch| {
        let out = run(cssh(config).env("XDG_CACHE_HOME", &cache).args([
            "th-bash",
            "cat",
            &host().image_marker,
        ]));
        assert!(out.status.success(), "{}", describe(&out));
        text(&out.stdout)
    };
    // The index is kept once the file has not changed for SETTLE: that wait is the mechanism
    // under test, not a readiness check.
    std::thread::sleep(cssh::config::cache::SETTLE + std::time::Duration::from_millis(100));
    assert_eq!(in_image(&config), FULL_MARKER, "the call that indexes it");
    let index = std::fs::read_dir(cache.join("cssh")).unwrap().count();
    assert_eq!(index, 1, "one index file");
    assert_eq!(in_image(&config), FULL_MARKER, "a call through the index");
    // The same size, at once: th-bash now runs in the bare image.
    let edited = entries(BARE_SIF);
    assert_eq!(edited.len(), entries(FULL_SIF).len());
    std::fs::write(config.path("config.toml"), &edited).unwrap();
    assert_eq!(in_image(&config), BARE_MARKER, "the edit is seen");
}
