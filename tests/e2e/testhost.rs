//! The test host itself, through plain OpenSSH: every login-shell user reaches Apptainer under
//! both of its names, each image answers with its own marker, the remote does not have the
//! image's marker, the module-only runtime exists only after `module load`, and the HTCondor
//! pool runs Apptainer jobs on both execute points.

use crate::harness::*;

fn marker_through(alias: &str, runtime: &str, image: &str) -> std::process::Output {
    let host = host();
    ssh(
        alias,
        &[
            runtime,
            "exec",
            &format!("'{image}'"),
            "cat",
            &host.image_marker,
        ],
    )
}

#[test]
fn every_user_reaches_the_image_through_apptainer_and_singularity() {
    for alias in &host().aliases {
        for runtime in ["apptainer", "singularity"] {
            let mut out = marker_through(alias, runtime, FULL_SIF);
            // Apptainer's own race on a loaded machine: its FUSE mount of the image is torn
            // down before squashfuse_ll exits, and it says so at cleanup (once in a few hundred
            // runs). Once more; the second run's stderr must be clean.
            if text(&out.stderr).starts_with("INFO:    Cleanup error: while stopping driver") {
                out = marker_through(alias, runtime, FULL_SIF);
            }
            assert_eq!(
                text(&out.stdout),
                FULL_MARKER,
                "{alias} {runtime}: {}",
                describe(&out)
            );
            assert_eq!(
                text(&out.stderr),
                "",
                "{alias} {runtime}: stderr stays clean"
            );
        }
    }
}

#[test]
fn every_image_answers_with_its_marker() {
    for (image, marker) in [
        (FULL_SIF, FULL_MARKER),
        (FULL_SANDBOX, FULL_MARKER),
        (SPACE_SIF, FULL_MARKER),
        (BARE_SIF, BARE_MARKER),
    ] {
        let out = marker_through("th-tcsh", "apptainer", image);
        assert_eq!(text(&out.stdout), marker, "{image}: {}", describe(&out));
    }
    let os_release = ssh(
        "th-bash",
        &[
            "apptainer",
            "exec",
            FULL_SIF,
            "grep",
            "^VERSION_CODENAME=",
            "/etc/os-release",
        ],
    );
    assert_eq!(text(&os_release.stdout), "VERSION_CODENAME=bookworm\n");
    let remote_release = ssh(
        "th-bash",
        &["grep", "^VERSION_CODENAME=", "/etc/os-release"],
    );
    assert_eq!(text(&remote_release.stdout), "VERSION_CODENAME=trixie\n");
}

#[test]
fn full_image_has_the_tools_and_bare_image_has_only_sh_and_coreutils() {
    let tools = "for p in /bin/sh /bin/bash /usr/bin/base64 /usr/bin/scp /usr/lib/openssh/sftp-server /usr/bin/rsync /usr/bin/git; do test -x $p && echo $p; done";
    let full = ssh(
        "th-bash",
        &[
            "apptainer",
            "exec",
            FULL_SIF,
            "/bin/sh",
            "-c",
            &format!("'{tools}'"),
        ],
    );
    assert_eq!(
        text(&full.stdout),
        "/bin/sh\n/bin/bash\n/usr/bin/base64\n/usr/bin/scp\n/usr/lib/openssh/sftp-server\n/usr/bin/rsync\n/usr/bin/git\n"
    );
    let bare = ssh(
        "th-bash",
        &[
            "apptainer",
            "exec",
            BARE_SIF,
            "/bin/sh",
            "-c",
            &format!("'{tools}'"),
        ],
    );
    assert_eq!(
        text(&bare.stdout),
        "/bin/sh\n/usr/bin/base64\n",
        "{}",
        describe(&bare)
    );
}

#[test]
fn markers_tell_the_layers_apart() {
    let host = host();
    for alias in &host.aliases {
        let outside = ssh(alias, &["cat", &host.image_marker]);
        assert!(
            !outside.status.success(),
            "{alias}: the image marker must not exist on the remote"
        );
        assert_eq!(text(&outside.stdout), "");
        let remote = ssh(alias, &["cat", &host.remote_marker]);
        assert_eq!(
            text(&remote.stdout),
            REMOTE_MARKER,
            "{alias}: {}",
            describe(&remote)
        );
    }
    let inside = ssh(
        "th-bash",
        &["apptainer", "exec", FULL_SIF, "cat", &host.remote_marker],
    );
    assert!(
        !inside.status.success(),
        "the remote marker must not exist in the image"
    );
}

#[test]
fn the_module_runtime_needs_its_prelude() {
    for alias in &host().aliases {
        let without = ssh(alias, &["modtainer", "--version"]);
        assert!(
            !without.status.success(),
            "{alias}: modtainer must not be on PATH by default"
        );
        let with = ssh(
            alias,
            &[
                "/bin/sh",
                "-c",
                &format!(
                    "'{MODULE_PRELUDE} && modtainer exec {FULL_SIF} cat {}'",
                    host().image_marker
                ),
            ],
        );
        assert_eq!(
            text(&with.stdout),
            FULL_MARKER,
            "{alias}: {}",
            describe(&with)
        );
    }
}

#[test]
fn login_shells_are_the_ones_named() {
    let expected = [
        "/bin/bash",
        "/bin/sh",
        "/bin/dash",
        "/bin/zsh",
        "/bin/tcsh",
        "/bin/bsd-csh",
        "/usr/bin/fish",
    ];
    for (alias, shell) in host().aliases.iter().zip(expected) {
        let out = ssh(alias, &["getent", "passwd", "$USER"]);
        assert!(
            text(&out.stdout).trim_end().ends_with(&format!(":{shell}")),
            "{alias}: {}",
            describe(&out)
        );
    }
}

#[test]
fn the_htcondor_pool_runs_apptainer_jobs_on_both_execute_points() {
    // Two container-universe jobs, one pinned to each execute point, each writing where it ran
    // and the image's marker to the shared home; then a job that stays, which condor_ssh_to_job
    // reaches on its execute point, outside the container (a command runs there, not inside).
    for (alias, user) in [("th-bash", "bashuser"), ("th-tcsh", "tcshuser")] {
        for ep in ["ep1", "ep2"] {
            let out = format!("cssh-e2e-{ep}-{}", rand_suffix());
            let id = condor_submit(
                alias,
                user,
                &format!(
                    "universe = container\ncontainer_image = {FULL_SIF}\ntransfer_container = false\n\
                     should_transfer_files = NO\nexecutable = /bin/sh\n\
                     arguments = \"-c 'hostname; cat {}' \"\noutput = {out}\nrequirements = Machine == \"{ep}\"",
                    host().image_marker
                ),
            );
            let path = host().root.join(format!("home/{user}/{out}"));
            wait_until(&format!("job {id} on {ep} to write {out}"), || {
                let seen = std::fs::read_to_string(&path).unwrap_or_default();
                if seen == format!("{ep}\n{FULL_MARKER}") {
                    Ok(())
                } else {
                    Err(format!(
                        "{seen:?}; {}",
                        text(
                            &ssh(alias, &["condor_q", &id, "-af", "JobStatus", "HoldReason"])
                                .stdout
                        )
                    ))
                }
            });
            std::fs::remove_file(&path).unwrap();
        }
        let id = condor_submit(
            alias,
            user,
            &format!(
                "universe = container\ncontainer_image = {FULL_SIF}\ntransfer_container = false\n\
                 should_transfer_files = NO\nexecutable = /bin/sleep\narguments = 600"
            ),
        );
        wait_until(&format!("job {id}'s execute point to answer"), || {
            let out = ssh(alias, &["condor_ssh_to_job", &id, "hostname"]);
            let seen = text(&out.stdout);
            if out.status.success() && seen.starts_with("ep") {
                Ok(())
            } else {
                Err(describe(&out))
            }
        });
        let out = ssh(
            alias,
            &["condor_ssh_to_job", &id, "cat", &host().image_marker],
        );
        assert!(
            !out.status.success(),
            "outside the container: {}",
            describe(&out)
        );
        let removed = ssh(alias, &["condor_rm", &id]);
        assert!(removed.status.success(), "{}", describe(&removed));
    }
}
