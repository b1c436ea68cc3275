//! Other kinds of site than the test host's login node (Debian, Environment Modules,
//! unprivileged Apptainer): the login nodes of tests/testhost's `SITES`. `rhel-lmod` and
//! `rhel-modules` are RHEL-style (/bin/sh is bash; bash and csh read /etc/profile.d for every
//! shell), with Lmod or Environment Modules; `debian-lmod` is the Debian node with Lmod;
//! `setuid` runs Apptainer in setuid mode. The core of cssh runs on each as on the login node:
//! exact arguments for every login shell, a pty, sftp, scp and rsync, an instance, a Slurm step,
//! and the README's `module load` prelude for every login shell.

use std::process::Command;

use crate::harness::*;
use crate::property::random_vectors_round_trip;
use crate::sessions::interactive_command;
use crate::transfer::{DataDir, Route, round_trip_as, small_tree};
use crate::{doctor, join};

const SHELLS: [&str; 7] = ["bash", "sh", "dash", "zsh", "tcsh", "csh", "fish"];

/// Every site's login node, the test host's own (`th`) first.
fn every_site() -> Vec<&'static str> {
    std::iter::once("th")
        .chain(host().sites.iter().map(String::as_str))
        .collect()
}

/// A site's alias for each login shell.
fn aliases(site: &str) -> Vec<String> {
    SHELLS
        .iter()
        .map(|shell| format!("{site}-{shell}"))
        .collect()
}

#[test]
fn the_readmes_module_prelude_works_on_every_site_for_every_login_shell() {
    // `modtainer` is on PATH only once `module load modtainer` ran: Environment Modules reads
    // its Tcl modulefile, Lmod its Lua one. Nothing of the module system's start is said.
    let config = tagging(
        FULL_SIF,
        "runtime = \"modtainer\"\nprelude = \"module load modtainer\"",
    );
    let mut wrong = Vec::new();
    for site in every_site() {
        for alias in aliases(site) {
            let out = run(cssh(&config).args([&alias, "cat", &host().image_marker]));
            if (out.status.code(), text(&out.stdout), text(&out.stderr))
                != (Some(0), FULL_MARKER.to_string(), String::new())
            {
                wrong.push(format!("{alias}: {}", describe(&out)));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_doctor_names_a_module_the_site_does_not_have() {
    let config = tagging(FULL_SIF, "prelude = \"module load nosuch\"");
    let file = config.path("config.toml").display().to_string();
    for (alias, said) in [
        (
            "th-bash",
            "ERROR: Unable to locate a modulefile for 'nosuch'",
        ),
        (
            "rhel-lmod-tcsh",
            "Lmod has detected the following error: The following module(s) are unknown: \"nosuch\"",
        ),
    ] {
        let report = doctor::json_report(&config, &[alias], 1);
        let runtime = doctor::finding(&report, alias, "runtime");
        assert_eq!(runtime["status"], "fail", "{runtime}");
        let value = runtime["value"].as_str().unwrap_or_default();
        assert!(
            value.starts_with(&format!("the prelude ({file}:4) failed with status 1: "))
                && value.contains(said),
            "{alias}: {runtime}"
        );
        assert_eq!(
            runtime["fix"],
            format!(
                "check the module's name in the prelude at {file}:4 (`module avail` in a login shell on the host lists them)"
            ),
            "{alias}"
        );
    }
}

#[test]
fn arguments_survive_every_login_shell_on_every_site() {
    for site in &host().sites {
        random_vectors_round_trip(&aliases(site), 40);
    }
}

#[test]
fn an_interactive_login_gets_a_pty_inside_the_image_on_every_site() {
    let config = tagging(FULL_SIF, "");
    for site in &host().sites {
        let tmux = Tmux::start(&interactive_command(&config, &format!("{site}-bash")));
        tmux.wait_for_prompt();
        tmux.keys(&format!(
            "cat {}; tty; echo end-$((6*7))",
            host().image_marker
        ));
        let screen = tmux.wait_for("end-42");
        assert!(screen.contains(FULL_MARKER.trim_end()), "{site}: {screen}");
        assert!(screen.contains("/dev/pts/"), "{site}: a pty: {screen}");
        tmux.keys("exit 3");
        tmux.wait_for("CSSH-EXITED-3");
    }
}

#[test]
fn files_move_through_every_client_on_every_site() {
    let data = DataDir::with(FULL_SIF, "");
    for site in &host().sites {
        let (bash, tcsh) = (format!("{site}-bash"), format!("{site}-tcsh"));
        for route in [
            Route::ScpSftp,
            Route::Csftp,
            Route::RsyncE,
            Route::RsyncPath,
        ] {
            round_trip_as(route, &data, small_tree(), &[&bash, &tcsh]);
        }
    }
}

#[test]
fn an_instance_is_joined_on_every_site_and_through_the_runtime_in_setuid_mode() {
    // Setuid Apptainer's instances belong to root's namespaces: only its starter enters.
    let aliases = host().sites.iter().flat_map(|s| {
        [
            format!("{s}-bash"),
            format!("{s}-tcsh"),
            format!("{s}-fish"),
        ]
    });
    for alias in aliases {
        let alias: &'static str = Box::leak(alias.into_boxed_str());
        let instance = Instance::new(alias, "site");
        let config = tagging(FULL_SIF, &format!("instance = {:?}", instance.name));
        for _ in 0..2 {
            let out =
                run(cssh(&config).args([alias, &format!("cat {}; {CAPBND}", host().image_marker)]));
            let stdout = text(&out.stdout);
            assert!(
                stdout.starts_with(FULL_MARKER),
                "{alias}: {}",
                describe(&out)
            );
            assert_eq!(
                joined_by_namespaces(&stdout),
                !alias.starts_with("setuid-"),
                "{alias}: {}",
                describe(&out)
            );
        }
    }
}

#[test]
fn the_join_gives_what_the_runtime_gives_where_sh_is_bash_and_lmod_exports_module() {
    // A bash user on an EL site: /bin/sh is bash, and the session exports Lmod's `module` and
    // `ml` functions, which Apptainer keeps out of the container.
    for alias in ["rhel-lmod-bash", "rhel-modules-bash"] {
        let instance = Instance::new(alias, "elj");
        let (fast, runtime) = (
            join::config(FULL_SIF, "", &instance.name, None, false),
            join::config(FULL_SIF, "", &instance.name, None, true),
        );
        join::same_both_ways(&fast, &runtime, alias, join::PROBE, alias);
    }
}

#[test]
fn the_doctor_reports_the_runtimes_mode() {
    let config = tagging(FULL_SIF, "");
    for (alias, mode) in [
        ("th-bash", "in a user namespace"),
        ("setuid-bash", "setuid mode (no user namespace)"),
    ] {
        let report = doctor::json_report(&config, &[alias], 0);
        let start = doctor::finding(&report, alias, "start");
        assert!(
            start["value"].as_str().unwrap_or_default().ends_with(mode),
            "{alias}: {start}"
        );
    }
}

#[test]
fn slurm_steps_and_their_instance_run_in_setuid_mode_on_a_setuid_node() {
    // The test host's node3 runs setuid Apptainer, alone in partition `setuid`.
    let instance = Instance::new("setuid-bash", "suidjob");
    for extra in [String::new(), format!("instance = {:?}", instance.name)] {
        let config = Scratch::new(&format!(
            "[[host]]\npattern = \"setuid-*\"\nimage = \"{FULL_SIF}\"\nslurm = [\"--time=30\", \"--partition=setuid\"]\n{extra}\n"
        ));
        for alias in ["setuid-bash", "setuid-tcsh", "setuid-fish"] {
            let out = run(cssh(&config).args([
                alias,
                &format!(
                    "read -r _ _ n </proc/self/uid_map; echo host=$(hostname) uids=$n; cat {}",
                    host().image_marker
                ),
            ]));
            let field = reported(&out);
            assert_eq!(
                (field("host"), field("uids")),
                ("node3".to_string(), "4294967295".to_string()),
                "{alias} {extra}: a setuid container on node3: {}",
                describe(&out)
            );
            let release = run(Command::new(CSSH)
                .env("CSSH_CONFIG", config.path("config.toml"))
                .args(["--release", "-F"])
                .arg(&host().ssh_config)
                .arg(alias));
            assert!(release.status.success(), "{}", describe(&release));
        }
    }
}

#[test]
fn a_slurm_step_starts_from_every_site() {
    let config = Scratch::new(&format!(
        "[[host]]\npattern = \"{}\"\nimage = \"{FULL_SIF}\"\nslurm = []\n",
        host()
            .sites
            .iter()
            .map(|site| format!("{site}-*"))
            .collect::<Vec<_>>()
            .join(" ")
    ));
    for site in &host().sites {
        let alias = format!("{site}-fish");
        let out = run(cssh(&config).args([
            &alias,
            "echo host=$(hostname) job=$SLURM_JOB_ID; cat /etc/cssh-image-marker",
        ]));
        let field = reported(&out);
        assert!(
            field("host").starts_with("node") && !field("job").is_empty(),
            "{site}: {}",
            describe(&out)
        );
        let release = run(Command::new(CSSH)
            .env("CSSH_CONFIG", config.path("config.toml"))
            .args(["--release", "-F"])
            .arg(&host().ssh_config)
            .arg(&alias));
        assert!(release.status.success(), "{site}: {}", describe(&release));
    }
}
