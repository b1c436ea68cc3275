//! The tools that ride on ssh, each named the way its documentation says to name its ssh (the
//! README's "Tools that ride on ssh" runs each of these lines): GNU parallel, borg, restic,
//! rclone both ways, unison, mosh and Ansible. Their data lives in the container's `/data`, a
//! directory that only the container sees on the remote, so arriving there proves the image
//! served it; the remote host itself has none of borg, unison, mosh-server or python3's tools.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::harness::*;
use crate::transfer::{DataDir, assert_same_tree};

/// A program the tests drive: on PATH, or in the virtual environment tests/check makes for the
/// tools that come from PyPI.
fn tool(name: &str) -> Command {
    let venv = std::env::var_os("CSSH_TOOLS_DIR")
        .map(PathBuf::from)
        .or_else(|| dirs_home().map(|home| home.join(".cache/cssh-tools")))
        .map(|dir| dir.join("venv/bin").join(name));
    let program = which(name)
        .or(venv.filter(|p| p.is_file()))
        .unwrap_or_else(|| panic!("no {name}: tests/check installs it"));
    Command::new(program)
}

fn dirs_home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

/// cssh's ssh options for the test host, as one word list for a tool's "ssh command".
fn cssh_command() -> String {
    format!("{CSSH} -F {}", host().ssh_config.display())
}

/// Runs a tool with the data directory's configuration; it must succeed.
fn ok(command: &mut Command, data: &DataDir) -> Output {
    let out = command
        .env("CSSH_CONFIG", data.config())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{command:?}: {}", describe(&out));
    out
}

/// A small tree with names that need quoting and a binary file.
fn source(data: &DataDir) -> PathBuf {
    let root = data.local("source");
    std::fs::create_dir_all(root.join("sub dir")).unwrap();
    std::fs::write(root.join("it's \"quoted\" $x"), "quoted\n").unwrap();
    std::fs::write(root.join("sub dir/ünïcødé"), "unicode\n").unwrap();
    let binary: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    std::fs::write(root.join("sub dir/binary"), binary).unwrap();
    root
}

/// The data directory as the client sees it on the remote host.
fn remote(data: &DataDir, path: &str) -> PathBuf {
    data.remote_path().join(path)
}

#[test]
fn gnu_parallel_runs_every_job_in_the_image_also_for_a_user_whose_shell_it_lacks() {
    let data = DataDir::with(FULL_SIF, "");
    let args = ["a b", "it's", "$HOME x", "semi;colon"];
    let out = ok(
        tool("parallel")
            .args([
                "--will-cite",
                "--ssh",
                &cssh_command(),
                "-S",
                "1/th-bash,1/th-tcsh",
                "-k",
            ])
            .args(["echo {}; cat /etc/cssh-image-marker", ":::"])
            .args(args),
        &data,
    );
    let expected = args.map(|a| [a, "\n", FULL_MARKER].concat()).concat();
    assert_eq!(text(&out.stdout), expected, "{}", describe(&out));
}

#[test]
fn borg_backs_up_into_the_container_and_extracts_back() {
    let data = DataDir::with(FULL_SIF, "");
    let source = source(&data);
    let repo = "th-bash:/data/borg";
    let borg = || {
        let mut borg = tool("borg");
        borg.env("BORG_RSH", cssh_command())
            .env("BORG_BASE_DIR", data.local("borg-base"))
            .env("BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK", "yes")
            .current_dir(data.local(""));
        borg
    };
    ok(borg().args(["init", "-e", "none", repo]), &data);
    ok(
        borg().args(["create", &format!("{repo}::one"), "source"]),
        &data,
    );
    assert!(
        remote(&data, "borg/config").is_file(),
        "the repository is in /data"
    );
    let out_dir = data.local("extracted");
    std::fs::create_dir_all(&out_dir).unwrap();
    ok(
        borg()
            .args(["extract", &format!("{repo}::one")])
            .current_dir(&out_dir),
        &data,
    );
    assert_same_tree("borg", &source, &out_dir.join("source"));
}

#[test]
fn restic_backs_up_over_the_images_sftp_server_and_restores() {
    let data = DataDir::with(FULL_SIF, "");
    let source = source(&data);
    let restic = || {
        let mut restic = tool("restic");
        restic
            .args(["-r", "sftp:th-bash:/data/restic", "-o"])
            .arg(format!("sftp.command={} th-bash -s sftp", cssh_command()))
            .env("RESTIC_PASSWORD", "test password")
            .env("RESTIC_CACHE_DIR", data.local("restic-cache"))
            .current_dir(data.local(""));
        restic
    };
    ok(restic().args(["init", "-q"]), &data);
    ok(restic().args(["backup", "-q", "source"]), &data);
    assert!(
        remote(&data, "restic/config").is_file(),
        "the repository is in /data"
    );
    let target = data.local("restored");
    ok(
        restic()
            .args(["restore", "-q", "latest", "--target"])
            .arg(&target),
        &data,
    );
    assert_same_tree("restic", &source, &target.join("source"));
}

#[test]
fn rclone_copies_both_ways_with_cssh_as_its_ssh_and_with_its_own() {
    let data = DataDir::with(FULL_SIF, "");
    let source = source(&data);
    // rclone 1.64+: cssh as the ssh program.
    let by_cssh = ["--sftp-ssh", &format!("{} th-bash", cssh_command())];
    ok(
        tool("rclone")
            .args(["copy", "-q"])
            .arg(&source)
            .arg(":sftp:/data/rclone-ssh")
            .args(by_cssh),
        &data,
    );
    assert_same_tree("rclone up", &source, &remote(&data, "rclone-ssh"));
    let back = data.local("back-ssh");
    ok(
        tool("rclone")
            .args(["copy", "-q", ":sftp:/data/rclone-ssh"])
            .arg(&back)
            .args(by_cssh),
        &data,
    );
    assert_same_tree("rclone down", &source, &back);

    // rclone's own ssh, sending the command that cssh prints for the image's sftp-server.
    let server = ok(
        Command::new(CSSH)
            .args(["--sftp-server-command", "-F"])
            .arg(&host().ssh_config)
            .arg("th-bash"),
        &data,
    );
    let server = text(&server.stdout).trim_end().to_string();
    let key = host().ssh_config.with_file_name("id_ed25519");
    let own_ssh = |from: &Path, to: &str| {
        let mut rclone = tool("rclone");
        rclone
            .args(["copy", "-q"])
            .arg(from)
            .arg(to)
            .args(["--sftp-host", "127.0.0.1", "--sftp-port", &host().port])
            .args(["--sftp-user", "bashuser", "--sftp-known-hosts-file", "none"])
            .arg("--sftp-key-file")
            .arg(&key)
            .args([
                "--sftp-server-command",
                &server,
                "--sftp-shell-type",
                "none",
            ]);
        rclone
    };
    ok(&mut own_ssh(&source, ":sftp:/data/rclone-own"), &data);
    assert_same_tree("rclone's ssh up", &source, &remote(&data, "rclone-own"));
}

#[test]
fn unison_synchronizes_both_ways_with_the_images_unison() {
    let data = DataDir::with(FULL_SIF, "");
    let source = source(&data);
    let unison = || {
        let mut unison = tool("unison");
        unison
            .args(["-batch", "-silent", "-sshcmd", CSSH, "-sshargs"])
            .arg(format!("-F {}", host().ssh_config.display()))
            .arg(&source)
            .arg("ssh://th-bash//data/unison")
            .env("UNISON", data.local("unison-archives"));
        unison
    };
    ok(&mut unison(), &data);
    assert_same_tree("unison to the container", &source, &remote(&data, "unison"));
    std::fs::write(remote(&data, "unison/made in the container"), "new\n").unwrap();
    ok(&mut unison(), &data);
    assert_eq!(
        std::fs::read_to_string(source.join("made in the container")).unwrap(),
        "new\n"
    );
}

#[test]
fn mosh_lands_in_the_image_through_an_instance() {
    // mosh-server outlives the ssh session that starts it; a container ends with its first
    // process, an instance does not.
    for alias in ["th-bash", "th-tcsh", "th-fish"] {
        let name = format!("mosh{}", rand_suffix() % 1_000_000);
        let config = tagging(FULL_SIF, &format!("instance = {name:?}"));
        let tmux = Tmux::start(&format!(
            "CSSH_CONFIG={} LANG=C.UTF-8 mosh --ssh='{}' {alias}; sleep 60",
            config.path("config.toml").display(),
            cssh_command()
        ));
        // The image's bash prompt (its /etc/bash.bashrc), not Apptainer's.
        tmux.wait_for(&format!("{}user@", alias.trim_start_matches("th-")));
        tmux.keys("echo shell=$SHELL; cat /etc/cssh-image-marker");
        tmux.wait_for(&format!("shell=/bin/bash\n{FULL_MARKER}"));
        // mosh-server was started by the join's terminal way (mosh's ssh has -tt).
        tmux.keys(CAPBND);
        let screen = tmux.wait_until("capbnd=", |s| s.lines().any(|l| l.starts_with("capbnd=")));
        assert!(joined_by_namespaces(&screen), "{alias}: {screen}");
        tmux.keys("exit");
        tmux.wait_for("[mosh is exiting.]");
        let stop = ssh(alias, &["apptainer", "instance", "stop", &name]);
        assert!(stop.status.success(), "{alias}: {}", describe(&stop));
    }
}

#[test]
fn ansible_pings_runs_copies_and_fetches_in_the_image() {
    let data = DataDir::with(FULL_SIF, "");
    let inventory = data.local("inventory.ini");
    std::fs::write(
        &inventory,
        format!(
            "[cluster]\nth-bash\nth-tcsh\n\n[cluster:vars]\n\
             ansible_ssh_executable={CSSH}\n\
             ansible_sftp_executable={}\n\
             ansible_scp_executable={}\n\
             ansible_ssh_common_args=-F {}\n\
             ansible_python_interpreter=/usr/bin/python3\n",
            env!("CARGO_BIN_EXE_csftp"),
            env!("CARGO_BIN_EXE_cscp"),
            host().ssh_config.display()
        ),
    )
    .unwrap();
    let ansible = |pipelining: bool, args: &[&str]| {
        let mut ansible = tool("ansible");
        ansible
            .args(["all", "-i"])
            .arg(&inventory)
            .args(args)
            .env(
                "ANSIBLE_PIPELINING",
                if pipelining { "True" } else { "False" },
            )
            .env("ANSIBLE_LOCAL_TEMP", data.local("ansible-tmp"))
            .env("ANSIBLE_HOME", data.local("ansible-home"));
        ok(&mut ansible, &data)
    };
    let file = data.local("payload");
    std::fs::write(&file, "from the controller\n").unwrap();
    for pipelining in [false, true] {
        let ping = ansible(pipelining, &["-m", "ping"]);
        assert_eq!(text(&ping.stdout).matches("\"ping\": \"pong\"").count(), 2);
        let command = ansible(
            pipelining,
            &["-m", "command", "-a", "cat /etc/cssh-image-marker"],
        );
        assert_eq!(text(&command.stdout).matches(FULL_MARKER).count(), 2);
        for method in ["sftp", "scp"] {
            let dest = format!("/data/{method}-{pipelining}-{{{{ inventory_hostname }}}}");
            ansible(
                pipelining,
                &[
                    "-e",
                    &format!("ansible_ssh_transfer_method={method}"),
                    "-m",
                    "copy",
                    "-a",
                    &format!("src={} dest={dest}", file.display()),
                ],
            );
            for alias in ["th-bash", "th-tcsh"] {
                let copied = remote(&data, &format!("{method}-{pipelining}-{alias}"));
                assert_eq!(
                    std::fs::read_to_string(&copied).unwrap_or_default(),
                    "from the controller\n",
                    "{method}, pipelining {pipelining}, {alias}"
                );
            }
            let fetched = data.local(&format!("fetched-{method}-{pipelining}"));
            ansible(
                pipelining,
                &[
                    "-e",
                    &format!("ansible_ssh_transfer_method={method}"),
                    "-m",
                    "fetch",
                    "-a",
                    &format!("src=/etc/cssh-image-marker dest={}/", fetched.display()),
                ],
            );
            for alias in ["th-bash", "th-tcsh"] {
                let marker = fetched.join(alias).join("etc/cssh-image-marker");
                assert_eq!(
                    std::fs::read_to_string(&marker).unwrap_or_default(),
                    FULL_MARKER,
                    "{method}, pipelining {pipelining}, {alias}"
                );
            }
        }
    }
}

#[test]
fn tar_streams_go_both_ways_through_the_containers_tar() {
    let data = DataDir::with(FULL_SIF, "");
    let source = source(&data);
    let up = format!(
        "tar cf - -C {} . | {} th-bash 'mkdir -p /data/tar && tar xf - -C /data/tar'",
        source.display(),
        cssh_command()
    );
    ok(Command::new("sh").args(["-c", &up]), &data);
    assert_same_tree("tar up", &source, &remote(&data, "tar"));
    let back = data.local("tar-back");
    std::fs::create_dir_all(&back).unwrap();
    let down = format!(
        "{} th-bash 'tar cf - -C /data/tar .' | tar xf - -C {}",
        cssh_command(),
        back.display()
    );
    ok(Command::new("sh").args(["-c", &down]), &data);
    assert_same_tree("tar down", &source, &back);
}
