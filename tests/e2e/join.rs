//! The fast join into an instance against Apptainer's own `apptainer exec instance://`: the same
//! probes run both ways on the same instance and their outputs are compared, for images with an
//! environment of their own, instances started with the options that change what a joiner sees,
//! and the bash, tcsh and fish users. The fallbacks run through the runtime and still work.
//!
//! Both ways are cssh's: a session that exports a `SINGULARITY_` variable (in the prelude) takes
//! the runtime, since Apptainer reads such variables; it passes none of them into the container,
//! so the two environments can be compared whole.

use std::process::Output;

use crate::harness::*;

/// What the session exports besides ssh's own: variables the image's scripts read or set empty,
/// and one Apptainer replaces.
const SESSION: &str =
    "export HOSTOVERRIDE=host EMPTYVAR=host DOCKER_EMPTY=host LD_LIBRARY_PATH=/host/lib";

/// Makes cssh take the runtime for the session.
const TAKE_RUNTIME: &str = "export SINGULARITY_CSSH_RUNTIME=1";

/// Everything a command can see of where it runs. `ps` reads /proc (the image has no procps)
/// into a variable first, so no process of the probe's own pipeline is half started in it.
pub const PROBE: &str = "env | sort; echo ---; pwd; id; uname -n; cut -d' ' -f4-7 /proc/self/mountinfo; \
    umask; ulimit -a; readlink /proc/self/ns/*; \
    ps=$(for p in /proc/[0-9]*; do [ -r $p/cmdline ] && tr '\\0' ' ' <$p/cmdline; echo; done); \
    printf '%s\\n' \"$ps\" | sort; \
    while read -r k v; do case $k in NoNewPrivs:|Seccomp:|CapEff:|CapPrm:) echo $k $v;; esac; done </proc/self/status";

/// A configuration for `image` with `options` and the instance `name`, on the fast path or
/// through the runtime, its session in `cwd` (relative to home, or home).
pub fn config(image: &str, options: &str, name: &str, cwd: Option<&str>, runtime: bool) -> Scratch {
    let mut prelude = vec![SESSION.to_string()];
    if let Some(cwd) = cwd {
        prelude.push(format!("cd {cwd}"));
    }
    if runtime {
        prelude.push(TAKE_RUNTIME.into());
    }
    let prelude = prelude.join("; ");
    tagging(
        image,
        &format!("instance = {name:?}\noptions = [{options}]\nprelude = {prelude:?}"),
    )
}

/// stdout with what differs by design masked: the session's client port, pids and the
/// capability bounding set (checked on its own, as the sign of the way taken).
fn masked(out: &Output) -> String {
    text(&out.stdout)
        .lines()
        .map(|line| {
            if let Some((name, _)) = line
                .split_once('=')
                .filter(|(name, _)| ["SSH_CLIENT", "SSH_CONNECTION"].contains(name))
            {
                format!("{name}=(the session's)")
            } else if line.starts_with("capbnd=") {
                "capbnd=(checked)".into()
            } else {
                match line.split_once(' ') {
                    Some((pid, rest)) if pid.parse::<u32>().is_ok() => format!("PID {rest}"),
                    _ => line.to_string(),
                }
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `command` both ways and asserts the same output, stderr and status, and that each took
/// its way.
pub fn same_both_ways(fast: &Scratch, runtime: &Scratch, alias: &str, command: &str, what: &str) {
    let with_capbnd = format!("{CAPBND}; {command}");
    let joined = run(cssh(fast).args([alias, &with_capbnd]));
    let through = run(cssh(runtime).args([alias, &with_capbnd]));
    assert!(
        joined_by_namespaces(&text(&joined.stdout)),
        "{what}: the fast join was taken: {}",
        describe(&joined)
    );
    assert!(
        !joined_by_namespaces(&text(&through.stdout)),
        "{what}: the runtime was taken: {}",
        describe(&through)
    );
    assert_eq!(masked(&joined), masked(&through), "{what}: stdout");
    assert_eq!(
        text(&joined.stderr),
        text(&through.stderr),
        "{what}: stderr"
    );
    assert_eq!(
        joined.status.code(),
        through.status.code(),
        "{what}: status"
    );
}

#[test]
fn the_fast_join_gives_what_apptainer_exec_instance_gives() {
    let options = [
        "",
        "\"--cleanenv\"",
        "\"--contain\"",
        "\"--env\", \"FOO=bar\"",
        "\"--bind\", \"/tmp:/mnt\"",
    ];
    let users = ["th-bash", "th-tcsh", "th-fish"];
    std::thread::scope(|scope| {
        for alias in users {
            scope.spawn(move || {
                let made = ssh(alias, &["mkdir", "-p", "sub/deeper"]);
                assert!(made.status.success(), "{}", describe(&made));
                for image in [ENV_SIF, DOCKER_SIF] {
                    for option in options {
                        let instance = Instance::new(alias, "diff");
                        let name = &instance.name;
                        // From home, and from a subdirectory that --contain's home lacks.
                        let places: &[Option<&str>] = match option {
                            "" | "\"--contain\"" => &[None, Some("sub/deeper")],
                            _ => &[None],
                        };
                        for &cwd in places {
                            let fast = config(image, option, name, cwd, false);
                            let runtime = config(image, option, name, cwd, true);
                            let what = format!("{alias} {image} [{option}] in {cwd:?}");
                            // The first command starts the instance and looks at it.
                            let first = run(cssh(&fast).args([alias, "true"]));
                            assert!(first.status.success(), "{what}: {}", describe(&first));
                            same_both_ways(&fast, &runtime, alias, PROBE, &what);
                            if option.is_empty() && cwd.is_none() {
                                same_both_ways(&fast, &runtime, alias, "exit 7", &what);
                                same_both_ways(&fast, &runtime, alias, "kill -TERM $$", &what);
                            }
                        }
                    }
                }
            });
        }
    });
}

#[test]
fn a_terminal_session_is_the_same_both_ways() {
    // With a /dev of its own (--contain), Apptainer replaces a terminal's descriptors with the
    // container's /dev/console, which a join from outside cannot: such a session takes the
    // runtime.
    for (option, joins) in [("", true), ("\"--contain\"", false)] {
        let instance = Instance::new("th-bash", "pty");
        let mut screens = Vec::new();
        for runtime in [false, true] {
            let config = config(ENV_SIF, option, &instance.name, None, runtime);
            let q =
                |s: &str| String::from_utf8(cssh::quote::sh(s.as_bytes()).into_owned()).unwrap();
            let tmux = Tmux::start(&format!(
                "env CSSH_CONFIG={} {} -F {} th-bash; echo CSSH-EXITED-$?; sleep 60",
                q(&config.path("config.toml").display().to_string()),
                q(CSSH),
                q(&host().ssh_config.display().to_string())
            ));
            tmux.wait_for_prompt();
            tmux.keys(&format!(
                "tty; stty size; echo \"$0 $PS1\"; {CAPBND}; echo end-$((6*7))"
            ));
            let screen = tmux.wait_until("end-42", |s| s.contains("\nend-42"));
            assert!(
                screen.contains("40 160"),
                "[{option}] the window's size: {screen}"
            );
            assert_eq!(
                joined_by_namespaces(&screen),
                joins && !runtime,
                "[{option}] {screen}"
            );
            tmux.keys("exit 5");
            // Through the runtime, Apptainer 1.4.5 leaves the shell's process group outside the
            // instance's pid namespace: dash cannot give the terminal back and exits 2 ("Cannot
            // set tty process group"). The join makes it a foreground job the namespace sees.
            let end = tmux.wait_for("CSSH-EXITED-");
            if joins && !runtime {
                assert!(end.contains("CSSH-EXITED-5"), "{end}");
            }
            // Up to the probe's last line: the next prompt may be drawn by then, or not yet.
            screens.push(
                screen
                    .lines()
                    .take_while(|l| *l != "end-42")
                    .filter(|l| !l.starts_with("capbnd=") && !l.contains("end-$"))
                    // Which pseudo-terminal is free depends on what else runs at the moment.
                    .map(|l| match l.strip_prefix("/dev/pts/") {
                        Some(n) if n.bytes().all(|b| b.is_ascii_digit()) => "/dev/pts/N".into(),
                        _ => l.to_string(),
                    })
                    .collect::<Vec<_>>(),
            );
        }
        assert_eq!(screens[0], screens[1], "[{option}]");
        // Apptainer's /dev/console for a contained /dev is no terminal `tty` can name.
        let tty = if joins { "/dev/pts/" } else { "not a tty" };
        assert!(
            screens[0].iter().any(|l| l.starts_with(tty)),
            "{:?}",
            screens[0]
        );
    }
}

#[test]
fn instances_the_join_cannot_reproduce_run_through_the_runtime() {
    // A seccomp filter and --fakeroot live in the starter's process, not in the instance's
    // namespaces: their commands take `apptainer exec instance://` and still run.
    let profile = format!("/tmp/cssh-e2e-seccomp-{}.json", rand_suffix());
    std::fs::write(
        host().root.join(profile.trim_start_matches('/')),
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mknod"],"action":"SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    for (options, reason, uid) in [
        (
            format!("\"--security\", \"seccomp:{profile}\""),
            "it has seccomp, AppArmor or SELinux settings",
            "2001",
        ),
        ("\"--fakeroot\"".to_string(), "it runs with --fakeroot", "0"),
    ] {
        let instance = Instance::new("th-bash", "nofast");
        let name = &instance.name;
        let config = tagging(
            BARE_SIF,
            &format!("instance = {name:?}\noptions = [{options}]"),
        );
        for _ in 0..2 {
            let out = run(cssh(&config).args([
                "th-bash",
                &format!("cat {}; id -u; {CAPBND}", host().image_marker),
            ]));
            let stdout = text(&out.stdout);
            assert!(
                stdout.starts_with(&format!("{BARE_MARKER}{uid}\n")),
                "{options}: {}",
                describe(&out)
            );
            if uid != "0" {
                assert!(!joined_by_namespaces(&stdout), "{options}: {stdout}");
            }
        }
        let record = ssh(
            "th-bash",
            &[&format!(
                "cat ~/.apptainer/instances/app/th-remote/bashuser/{name}/cssh-join-2"
            )],
        );
        assert!(
            text(&record.stdout).contains(&format!("cssh_j_slow='{reason}'")),
            "{options}: {}",
            describe(&record)
        );
    }
    std::fs::remove_file(host().root.join(profile.trim_start_matches('/'))).unwrap();
}
