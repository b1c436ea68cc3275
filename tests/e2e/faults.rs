//! Faults and size: a server that dies mid-stream gives ssh's own error and status, and nothing
//! looks complete that is not; a large file goes through cscp and rsync -e cssh unchanged.
//!
//! The fault tests start a spare sshd of their own inside the test host (the shared one serves
//! the other tests) and kill it, with every session it forked, in the middle of a transfer.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::*;

/// An sshd of this test's own in the test host's namespaces, on a free port of 127.0.0.1.
struct SpareSshd {
    sshd: Child,
    port: String,
}

impl SpareSshd {
    fn start() -> SpareSshd {
        let host_sshd =
            std::fs::read_to_string(host().root.join("var/lib/testhost/sshd.pid")).unwrap();
        let port = free_port();
        let child = Command::new("nsenter")
            .args([
                "-t",
                host_sshd.trim(),
                "-m",
                "-u",
                "/usr/sbin/sshd",
                "-D",
                "-p",
                &port,
                "-o",
                "PidFile=none",
            ])
            .args(["-E", "/var/log/sshd-spare.log"])
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err() {
            assert!(
                Instant::now() < deadline,
                "the spare sshd did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        SpareSshd { sshd: child, port }
    }

    /// Kills the sshd and every process it forked (the sessions), as a crashing server would.
    fn kill_all(&self) {
        let mut doomed = vec![self.sshd.id()];
        let mut index = 0;
        while index < doomed.len() {
            let parent = doomed[index];
            for entry in std::fs::read_dir("/proc").unwrap().flatten() {
                let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                    continue;
                };
                let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
                // The field after the parenthesised command name, then the parent's pid.
                let parent_of_entry = stat
                    .rsplit(')')
                    .next()
                    .and_then(|rest| rest.split_whitespace().nth(1));
                if parent_of_entry == Some(parent.to_string().as_str()) && !doomed.contains(&pid) {
                    doomed.push(pid);
                }
            }
            index += 1;
        }
        for pid in doomed {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for SpareSshd {
    fn drop(&mut self) {
        self.kill_all();
        let _ = self.sshd.wait();
    }
}

/// Waits until `path` holds at least `bytes`, so the kill lands mid-transfer.
fn wait_until_growing(path: &Path, bytes: u64, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::metadata(path).map_or(0, |m| m.len()) < bytes {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the transfer ended before the fault"
        );
        assert!(Instant::now() < deadline, "the transfer did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn big_file(dir: &Path, mib: u64) -> PathBuf {
    let path = dir.join(format!("{mib}MiB.bin"));
    let status = Command::new("head")
        .args(["-c", &format!("{mib}M"), "/dev/urandom"])
        .stdout(std::fs::File::create(&path).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    path
}

#[test]
fn a_server_killed_mid_stream_gives_sshs_error_and_status() {
    let config = tagging(FULL_SIF, "");
    let spare = SpareSshd::start();
    let received = config.path("received");
    // 2 GiB of zeros, seconds of streaming: the kill lands after the first MiB, mid-stream.
    let mut child = cssh(&config)
        .args([
            "-o",
            "LogLevel=INFO",
            "-p",
            &spare.port,
            "th-bash",
            "head",
            "-c",
            "2G",
            "/dev/zero",
        ])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&received).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until_growing(&received, 1 << 20, &mut child);
    spare.kill_all();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(255), "{}", describe(&out));
    // ssh's own words for a dead peer (normally "Connection to 127.0.0.1 closed by remote
    // host.", which the test host's LogLevel ERROR would sometimes hide), none of cssh's.
    let stderr = text(&out.stderr);
    assert!(
        ["closed by remote host", "reset by", "Broken pipe"]
            .iter()
            .any(|said| stderr.contains(said))
            && !stderr.contains("cssh:"),
        "{stderr}"
    );
    assert!(
        std::fs::metadata(&received).unwrap().len() < 2 << 30,
        "the stream cannot look complete"
    );
}

#[test]
fn a_transfer_cut_by_the_server_is_not_reported_complete() {
    let config = tagging(FULL_SIF, "");
    let source = big_file(&config.dir, 512);
    for (name, legacy) in [("cscp", false), ("cscp -O", true)] {
        let spare = SpareSshd::start();
        let target = format!("/tmp/cssh-fault-{}-{legacy}", std::process::id());
        let arrived = host().root.join(target.trim_start_matches('/'));
        let mut command = Command::new(env!("CARGO_BIN_EXE_cscp"));
        command
            .args(["-q", "-l", "400000", "-P", &spare.port, "-F"])
            .arg(&host().ssh_config);
        if legacy {
            command.arg("-O");
        }
        let mut child = command
            .arg(&source)
            .arg(format!("th-bash:{target}"))
            .env("CSSH_CONFIG", config.path("config.toml"))
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_until_growing(&arrived, 1 << 20, &mut child);
        spare.kill_all();
        let out = child.wait_with_output().unwrap();
        assert!(
            !out.status.success(),
            "{name}: a cut transfer must fail: {}",
            describe(&out)
        );
        assert!(
            std::fs::metadata(&arrived).unwrap().len() < 512 << 20,
            "{name}"
        );
        std::fs::remove_file(arrived).unwrap();
    }
}

/// `CSSH_LARGE_MIB` sets the size (CI: 1024; the long form, tests/long: 4096).
#[test]
fn a_large_file_goes_through_cscp_and_rsync_unchanged() {
    let mib: u64 = std::env::var("CSSH_LARGE_MIB")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(1024);
    let config = tagging(FULL_SIF, "");
    let source = big_file(&config.dir, mib);
    let digest = |path: &Path| {
        let out = run(Command::new("sha256sum").arg(path));
        text(&out.stdout).split(' ').next().unwrap().to_string()
    };
    let expected = digest(&source);
    let remote = format!("/tmp/cssh-large-{}", std::process::id());
    let arrived = host().root.join(remote.trim_start_matches('/'));
    let back = config.path("back");
    let rsync_e = format!("{CSSH} -F {}", host().ssh_config.display());
    let cscp = env!("CARGO_BIN_EXE_cscp").to_string();
    let ssh_config = host().ssh_config.display().to_string();
    for (name, program) in [
        ("cscp", vec![cscp, "-q".into(), "-F".into(), ssh_config]),
        ("rsync -e cssh", vec!["rsync".into(), "-e".into(), rsync_e]),
    ] {
        let start = std::time::Instant::now();
        let remote_path = format!("th-tcsh:{remote}");
        let copy = |from: &std::ffi::OsStr, to: &std::ffi::OsStr, what: &str| {
            let out = run(Command::new(&program[0])
                .args(&program[1..])
                .args([from, to])
                .env("CSSH_CONFIG", config.path("config.toml")));
            assert!(out.status.success(), "{name} {what}: {}", describe(&out));
        };
        copy(source.as_os_str(), remote_path.as_ref(), "push");
        assert_eq!(digest(&arrived), expected, "{name} push");
        copy(remote_path.as_ref(), back.as_os_str(), "pull");
        assert_eq!(digest(&back), expected, "{name} pull");
        println!(
            "large: {mib} MiB up and down through {name}, equal by sha256, in {:.1} s",
            start.elapsed().as_secs_f64()
        );
        std::fs::remove_file(&arrived).unwrap();
        std::fs::remove_file(&back).unwrap();
    }
}
