//! The benchmark: cssh against plain OpenSSH, measured side by side (interleaved) in one run on
//! the project's test host, and written to docs/benchmarks.md. Run with `cargo bench`.
//!
//! Timings are figures for people, never assertions: the machines are shared and noisy, so
//! every figure is a ratio or a difference against its plain counterpart from the same run.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CSSH: &str = env!("CARGO_BIN_EXE_cssh");
const CSCP: &str = env!("CARGO_BIN_EXE_cscp");
const IMAGE: &str = "/opt/th/full.sif";

struct Host {
    ssh_config: String,
    root: PathBuf,
}

fn main() {
    let host = bring_up();
    let work = std::env::temp_dir().join(format!("cssh-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let mut report = Report::default();
    wrapper_cost(&work, &mut report);
    end_to_end(&host, &work, &mut report);
    runtimes(&host, &work, &mut report);
    values(&host, &work, &mut report);
    throughput(&host, &work, &mut report);
    repeated(&host, &work, &mut report);
    slurm(&host, &work, &mut report);
    attach(&host, &work, &mut report);
    htcondor(&host, &work, &mut report);
    job_sshd(&host, &work, &mut report);
    any_client(&host, &work, &mut report);
    doctor(&host, &work, &mut report);
    let page = report.page(&host);
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/benchmarks.md");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    std::fs::write(&out, &page).unwrap();
    print!("{page}");
    let _ = std::fs::remove_dir_all(&work);
}

fn bring_up() -> Host {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testhost/testhost");
    let up = Command::new(&script)
        .arg("up")
        .status()
        .expect("runs testhost");
    assert!(up.success(), "the test host is not available");
    let env = Command::new(&script).arg("env").output().unwrap();
    let vars: HashMap<String, String> = String::from_utf8_lossy(&env.stdout)
        .lines()
        .filter_map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    Host {
        ssh_config: vars["CSSH_TESTHOST_SSH_CONFIG"].clone(),
        root: vars["CSSH_TESTHOST_ROOT"].clone().into(),
    }
}

/// Runs a command to completion, quietly; panics if it fails.
fn time(command: &mut Command) -> Duration {
    let start = Instant::now();
    let status = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .expect("runs");
    let elapsed = start.elapsed();
    assert!(status.success(), "{command:?} failed");
    elapsed
}

#[derive(Clone, Copy)]
struct Stats {
    median: Duration,
    min: Duration,
    max: Duration,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    Stats {
        median: samples[samples.len() / 2],
        min: samples[0],
        max: samples[samples.len() - 1],
    }
}

/// Runs `a` and `b` alternately, `n` times each.
fn interleaved(
    n: usize,
    a: &mut dyn FnMut() -> Duration,
    b: &mut dyn FnMut() -> Duration,
) -> (Stats, Stats) {
    let (plain, cssh, _) = paired(n, a, b);
    (plain, cssh)
}

/// [`interleaved`], and the ratio b/a over the pairs, each `b` against the `a` run just before
/// it, which a machine whose speed drifts during the run moves less than the medians' ratio: its
/// median and middle half (25th to 75th percentile).
fn paired(
    n: usize,
    a: &mut dyn FnMut() -> Duration,
    b: &mut dyn FnMut() -> Duration,
) -> (Stats, Stats, String) {
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for _ in 0..n {
        xs.push(a());
        ys.push(b());
    }
    let mut ratios: Vec<f64> = xs
        .iter()
        .zip(&ys)
        .map(|(x, y)| y.as_secs_f64() / x.as_secs_f64())
        .collect();
    ratios.sort_by(f64::total_cmp);
    let spread = format!(
        "{:.3}x, middle half {:.3}x-{:.3}x",
        ratios[n / 2],
        ratios[n / 4],
        ratios[n * 3 / 4]
    );
    (stats(xs), stats(ys), spread)
}

struct Row {
    figure: String,
    plain: Stats,
    cssh: Stats,
    /// How to compare: Difference (cssh minus plain) or a ratio of medians.
    comparison: String,
    target: String,
}

#[derive(Default)]
struct Report {
    rows: Vec<(String, Row)>,
}

impl Report {
    fn add(&mut self, section: &str, row: Row) {
        println!("{} / {}: {}", section, row.figure, row.comparison);
        self.rows.push((section.to_string(), row));
    }

    fn page(&self, host: &Host) -> String {
        let mut page = String::from(
            "# Benchmarks\n\nWritten by `cargo bench` (benches/bench.rs) on the project's test host; every figure is\nmeasured against its plain OpenSSH counterpart in the same run, interleaved. Times are\nmedian (min-max).\n\n",
        );
        let _ = writeln!(page, "## Machine\n");
        for line in machine(host) {
            let _ = writeln!(page, "- {line}");
        }
        let mut section = "";
        for (name, row) in &self.rows {
            if name != section {
                section = name;
                let _ = writeln!(
                    page,
                    "\n## {name}\n\n| figure | plain | cssh | comparison | target |\n|---|---|---|---|---|"
                );
            }
            let _ = writeln!(
                page,
                "| {} | {} | {} | {} | {} |",
                row.figure,
                show(row.plain),
                show(row.cssh),
                row.comparison,
                row.target
            );
        }
        page
    }
}

fn show(s: Stats) -> String {
    format!("{} ({}-{})", ms(s.median), ms(s.min), ms(s.max))
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 10_000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

fn ratio(cssh: Stats, plain: Stats) -> f64 {
    cssh.median.as_secs_f64() / plain.median.as_secs_f64()
}

fn machine(host: &Host) -> Vec<String> {
    let sh = |cmd: &str| {
        let out = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
            + String::from_utf8_lossy(&out.stderr).trim()
    };
    let remote = |cmd: &str| sh(&format!("ssh -F {} th-bash '{cmd}' 2>&1", host.ssh_config));
    vec![
        format!(
            "CPU: {}, {} cores",
            sh("sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1"),
            sh("nproc")
        ),
        format!("kernel: {}", sh("uname -r")),
        format!(
            "client: {}, {}",
            sh("ssh -V"),
            sh("rsync --version | head -1")
        ),
        format!(
            "remote: {}",
            remote("dpkg-query -W -f \"openssh-server \\${Version}\" openssh-server")
        ),
        format!("runtime: {}", remote("apptainer --version")),
        format!("cssh {}", env!("CARGO_PKG_VERSION")),
    ]
}

fn config(work: &Path, name: &str, text: &str) -> PathBuf {
    let path = work.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A configuration that tags th-bash with the image and `extra`.
fn th_bash(work: &Path, name: &str, extra: &str) -> PathBuf {
    config(
        work,
        name,
        &format!("[[host]]\npattern = \"th-bash\"\nimage = \"{IMAGE}\"\n{extra}\n"),
    )
}

/// The static build of cssh (x86_64-unknown-linux-musl), built here in a target directory of its
/// own (the one `cargo bench` runs from stays locked): it starts faster than the C library's
/// dynamic one that cargo builds by default.
fn static_cssh() -> PathBuf {
    let target_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-static");
    let built = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--release", "--bin", "cssh"])
        .args(["--target", "x86_64-unknown-linux-musl", "--target-dir"])
        .arg(&target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("runs cargo");
    assert!(
        built.success(),
        "the static build failed (rustup target add x86_64-unknown-linux-musl)"
    );
    target_dir.join("x86_64-unknown-linux-musl/release/cssh")
}

/// cssh's own cost: cssh with a real ssh that exits at once, against that program alone.
fn wrapper_cost(work: &Path, report: &mut Report) {
    let small = config(
        work,
        "small.toml",
        &format!("[[host]]\npattern = \"tagged\"\nimage = \"{IMAGE}\"\n"),
    );
    let mut big = String::new();
    for i in 0..9_999 {
        let _ = writeln!(
            big,
            "[[host]]\npattern = \"node-{i} node-{i}.cluster\"\nimage = \"/images/{i}.sif\"\n"
        );
    }
    let _ = writeln!(big, "[[host]]\npattern = \"tagged\"\nimage = \"{IMAGE}\"");
    let big = config(work, "big.toml", &big);
    // The index of a large file is kept once the file has not changed for 2 seconds.
    std::thread::sleep(cssh::config::cache::SETTLE);
    let direct = || time(Command::new("/bin/true").args(["tagged", "true"]));
    let through = |cssh: &Path, config: &Path, host: &str| {
        time(
            Command::new(cssh)
                .arg("--config")
                .arg(config)
                .args([host, "true"])
                .env("CSSH_SSH", "/bin/true"),
        )
    };
    let static_build = static_cssh();
    for (figure, cssh, config, host, target) in [
        (
            "untagged host",
            Path::new(CSSH),
            &small,
            "other",
            "< 1 ms added",
        ),
        (
            "tagged host",
            Path::new(CSSH),
            &small,
            "tagged",
            "< 1 ms added",
        ),
        (
            "tagged host, 10,000 entries, the last one matches",
            Path::new(CSSH),
            &big,
            "tagged",
            "< 5 ms added",
        ),
        (
            "the static build (musl, as the .deb has it), untagged host",
            &static_build,
            &small,
            "other",
            "< 1 ms added",
        ),
        (
            "the static build, tagged host",
            &static_build,
            &small,
            "tagged",
            "< 1 ms added",
        ),
    ] {
        let (plain, cssh) = interleaved(300, &mut || direct(), &mut || through(cssh, config, host));
        let added = cssh.median.saturating_sub(plain.median);
        report.add(
            "Wrapper cost (300 runs, ssh replaced by /bin/true)",
            Row {
                figure: figure.into(),
                plain,
                cssh,
                comparison: format!("+{} per call", ms(added)),
                target: target.into(),
            },
        );
    }
    // A changed comment makes the index stale: calls within 2 s of an edit read the whole file.
    let mut edits = 0;
    let mut edited_first_call = || {
        edits += 1;
        let mut text = std::fs::read_to_string(&big).unwrap();
        let _ = writeln!(text, "# edit {edits}");
        std::fs::write(&big, text).unwrap();
        through(Path::new(CSSH), &big, "tagged")
    };
    let (plain, cssh) = interleaved(20, &mut || direct(), &mut edited_first_call);
    report.add(
        "Wrapper cost (300 runs, ssh replaced by /bin/true)",
        Row {
            figure: "tagged host, 10,000 entries, a call just after an edit (the whole file is read), 20 runs".into(),
            plain,
            cssh,
            comparison: format!("+{} per call", ms(cssh.median.saturating_sub(plain.median))),
            target: String::new(),
        },
    );
}

/// `cssh host true` against the same typed by hand, interleaved: on a new connection each time,
/// and on a connection that is kept (`persist`), also into a running instance.
fn end_to_end(host: &Host, work: &Path, report: &mut Report) {
    const SECTION: &str = "End to end (`true` in the image; the comparison: cssh against plain in each interleaved pair)";
    let tagged = |name: &str, extra: &str| th_bash(work, name, extra);
    let runtime = work.join("e2e-run");
    std::fs::create_dir_all(&runtime).unwrap();
    let master = format!("{}/by-hand-%C", work.display());
    let by_hand = |reuse: bool, command: &[&str]| {
        let mut ssh = if reuse {
            over_master(host, &master)
        } else {
            let mut ssh = Command::new("ssh");
            ssh.args(["-F", &host.ssh_config, "th-bash"]);
            ssh
        };
        ssh.args(command);
        ssh
    };
    let through_cssh = |config: &Path| {
        let mut cssh = Command::new(CSSH);
        cssh.arg("--config")
            .arg(config)
            .env("XDG_RUNTIME_DIR", &runtime)
            .args(["-F", &host.ssh_config, "th-bash", "true"]);
        cssh
    };
    let in_image = ["apptainer", "exec", IMAGE, "true"];
    let in_instance = ["apptainer", "exec", "instance://e2e", "true"];
    let instance = "persist = \"2m\"\ninstance = \"e2e\"";
    for (figure, pairs, reuse, hand, extra, target) in [
        (
            "`cssh host true` against `ssh host apptainer exec IMG true`, a new connection each",
            30,
            false,
            &in_image[..],
            "",
            "<= 1.02x",
        ),
        (
            "`persist`: the same on a kept connection (`ssh -S master host apptainer exec IMG true`)",
            50,
            true,
            &in_image[..],
            "persist = \"2m\"",
            "<= 1.05x",
        ),
        (
            "`persist` and `instance`: the same into a running instance (`... apptainer exec instance://NAME true`), joined by its namespaces",
            50,
            true,
            &in_instance[..],
            instance,
            "<= 0.3x",
        ),
        (
            "`persist` and `instance` against no container at all (`ssh -S master host true`)",
            50,
            true,
            &["true"][..],
            instance,
            "within +10 ms",
        ),
    ] {
        let config = tagged(&format!("e2e-{pairs}-{}.toml", extra.len()), extra);
        // The first call of each makes the master connection and starts the instance.
        time(&mut through_cssh(&config));
        time(&mut by_hand(reuse, hand));
        let (plain, cssh, spread) =
            paired(pairs, &mut || time(&mut by_hand(reuse, hand)), &mut || {
                time(&mut through_cssh(&config))
            });
        let comparison = if target.starts_with("within") {
            format!(
                "+{} (medians)",
                ms(cssh.median.saturating_sub(plain.median))
            )
        } else {
            format!("pairs: {spread}")
        };
        report.add(
            SECTION,
            Row {
                figure: format!("{figure}, {pairs} pairs"),
                plain,
                cssh,
                comparison,
                target: target.into(),
            },
        );
    }
    cold_start(
        host,
        "e2e",
        &[&format!("{}/cssh/%C", runtime.display()), &master],
    );
}

/// Plain ssh to th-bash over the master connection at `master` (made by the first call, kept for
/// two minutes); the caller adds the remote command.
fn over_master(host: &Host, master: &str) -> Command {
    let mut ssh = Command::new("ssh");
    ssh.args([
        "-F",
        &host.ssh_config,
        "-o",
        "ControlMaster=auto",
        "-S",
        master,
    ])
    .args(["-o", "ControlPersist=2m", "th-bash"]);
    ssh
}

/// Ends the master connections at `control_paths`.
fn close_masters(host: &Host, control_paths: &[&str]) {
    for path in control_paths {
        let _ = Command::new("ssh")
            .args(["-F", &host.ssh_config, "-O", "exit", "-S", path, "th-bash"])
            .stderr(Stdio::null())
            .status();
    }
}

/// Each runtime other than Apptainer against its own command typed by hand, both over one kept
/// connection (`persist`), so that the figure is what cssh adds to the runtime.
fn runtimes(host: &Host, work: &Path, report: &mut Report) {
    const SECTION: &str = "Runtimes (`true` in the image over a kept connection; the comparison: cssh against the runtime's own command by hand in each interleaved pair)";
    const PAIRS: usize = 50;
    let runtime = work.join("runtimes-run");
    std::fs::create_dir_all(&runtime).unwrap();
    let master = format!("{}/runtimes-%C", work.display());
    let sandbox = "/opt/th/full-sandbox";
    let config = config(
        work,
        "charliecloud.toml",
        &format!(
            "[[host]]\npattern = \"th-bash\"\nimage = \"{sandbox}\"\nruntime = \"charliecloud\"\npersist = \"2m\"\n"
        ),
    );
    let by_hand = || {
        let mut ssh = over_master(host, &master);
        ssh.args(["ch-run", "--home", sandbox, "--", "true"]);
        ssh
    };
    let through_cssh = || {
        let mut cssh = Command::new(CSSH);
        cssh.arg("--config")
            .arg(&config)
            .env("XDG_RUNTIME_DIR", &runtime)
            .args(["-F", &host.ssh_config, "th-bash", "true"]);
        cssh
    };
    time(&mut through_cssh());
    time(&mut by_hand());
    let (plain, cssh, spread) = paired(PAIRS, &mut || time(&mut by_hand()), &mut || {
        time(&mut through_cssh())
    });
    report.add(
        SECTION,
        Row {
            figure: format!(
                "Charliecloud: `cssh host true` against `ssh -S master host ch-run --home DIR -- true`, {PAIRS} pairs"
            ),
            plain,
            cssh,
            comparison: format!(
                "+{} (medians); pairs: {spread}",
                ms(cssh.median.saturating_sub(plain.median))
            ),
            // ch-run itself takes a few ms: what cssh adds is the figure, not the ratio.
            target: "within +5 ms".into(),
        },
    );
    close_masters(host, &[&format!("{}/cssh/%C", runtime.display()), &master]);
}

/// What keeping the host's values (`prelude`, `env`) off command lines costs: a session reads
/// them from their file on the login node; the first connection after they change sends them
/// first, on a call of its own (over the master with `persist`).
fn values(host: &Host, work: &Path, report: &mut Report) {
    const SECTION: &str = "The host's values (`prelude` and `env`, never on a command line)";
    let cache = work.join("values-cache");
    let runtime = work.join("values-run");
    std::fs::create_dir_all(&runtime).unwrap();
    let tagged = |name: &str, extra: &str| th_bash(work, name, extra);
    let run = |config: &Path| {
        let mut cssh = Command::new(CSSH);
        cssh.arg("--config")
            .arg(config)
            .env("XDG_CACHE_HOME", &cache)
            .env("XDG_RUNTIME_DIR", &runtime)
            .args(["-F", &host.ssh_config, "th-bash", "true"]);
        cssh
    };
    let values = "env = { HF_TOKEN = \"hf_0123456789abcdef\" }\nprelude = \"export A=1\"";
    let forget = || {
        let _ = std::fs::remove_dir_all(cache.join("cssh/sent"));
    };
    let none = tagged("values-none.toml", "");
    let set = tagged("values-set.toml", values);
    let persist = tagged(
        "values-persist.toml",
        &format!("{values}\npersist = \"2m\""),
    );
    for (figure, pairs, plain, with) in [
        (
            "a session of a host with values (sent) against the same host without, `cssh host true`, a new connection each",
            20,
            &none,
            &set,
        ),
        (
            "the first connection after the values change (they are sent first) against one after they went, a new connection each",
            10,
            &set,
            &set,
        ),
        (
            "the same with `persist` (the values go over the master the session then uses)",
            20,
            &persist,
            &persist,
        ),
    ] {
        let first_after_change = !figure.starts_with("a session");
        time(&mut run(with));
        time(&mut run(plain));
        let (plain, cssh, spread) = paired(pairs, &mut || time(&mut run(plain)), &mut || {
            if first_after_change {
                forget();
            }
            time(&mut run(with))
        });
        report.add(
            SECTION,
            Row {
                figure: format!("{figure}, {pairs} pairs"),
                plain,
                cssh,
                comparison: format!(
                    "+{} (medians); pairs: {spread}",
                    ms(cssh.median.saturating_sub(plain.median))
                ),
                target: "(reported)".into(),
            },
        );
    }
}

/// Back to a cold start on th-bash: the instance `instance` stopped and the master connections
/// at `control_paths` closed, where they exist.
fn cold_start(host: &Host, instance: &str, control_paths: &[&str]) {
    close_masters(host, control_paths);
    let _ = Command::new("ssh")
        .args([
            "-F",
            &host.ssh_config,
            "th-bash",
            "apptainer",
            "instance",
            "stop",
        ])
        .arg(instance)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn throughput(host: &Host, work: &Path, report: &mut Report) {
    let tagged = config(
        work,
        "xfer.toml",
        &format!("[[host]]\npattern = \"th-bash\"\nimage = \"{IMAGE}\"\n"),
    );
    let file = work.join("1GiB.bin");
    let status = Command::new("head")
        .args(["-c", "1G", "/dev/urandom"])
        .stdout(std::fs::File::create(&file).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    // What a user would write by hand for scp: a -S program that asks for the image's
    // sftp-server instead of the sftp subsystem.
    let shim = config(
        work,
        "scp-shim",
        &format!(
            "#!/bin/sh\nfor a; do shift; case $a in -s) ;; sftp) set -- \"$@\" \"apptainer exec {IMAGE} /usr/lib/openssh/sftp-server\" ;; *) set -- \"$@\" \"$a\" ;; esac; done\nexec ssh \"$@\"\n"
        ),
    );
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    let remote_file = host.root.join("tmp/cssh-bench-1GiB.bin");
    let local_copy = work.join("copy.bin");
    // No file left from the run before, nor its writeback still going on.
    let fresh = |path: &Path| {
        let _ = std::fs::remove_file(path);
        let _ = Command::new("sync").status();
    };
    let ssh_e = format!("ssh -F {}", host.ssh_config);
    let cssh_e = format!("{CSSH} -F {}", host.ssh_config);
    let rsync_path = format!("apptainer exec {IMAGE} rsync");
    let up = |program: &str, extra: &[&str]| {
        fresh(&remote_file);
        let mut command = Command::new(program);
        command
            .args(extra)
            .arg(&file)
            .arg("th-bash:/tmp/cssh-bench-1GiB.bin")
            .env("CSSH_CONFIG", &tagged);
        time(&mut command)
    };
    let down = |program: &str, extra: &[&str]| {
        fresh(&local_copy);
        let mut command = Command::new(program);
        command
            .args(extra)
            .arg("th-bash:/tmp/cssh-bench-1GiB.bin")
            .arg(&local_copy)
            .env("CSSH_CONFIG", &tagged);
        time(&mut command)
    };
    let shim_text = shim.display().to_string();
    let scp_plain = ["-q", "-F", &host.ssh_config, "-S", &shim_text];
    let scp_cssh = ["-q", "-F", &host.ssh_config];
    let rsync_plain = ["-a", "-e", &ssh_e, "--rsync-path", &rsync_path];
    let rsync_cssh = ["-a", "-e", &cssh_e];
    let section = "Throughput (1 GiB, 5 runs each)";
    let routes = [
        (
            "cscp",
            "`scp -S` hand-written",
            "scp",
            &scp_plain[..],
            CSCP,
            &scp_cssh[..],
        ),
        (
            "`rsync -e cssh`",
            "`--rsync-path` hand-written",
            "rsync",
            &rsync_plain[..],
            "rsync",
            &rsync_cssh[..],
        ),
    ];
    for (name, against, plain_program, plain_args, cssh_program, cssh_args) in routes {
        for upload in [true, false] {
            let transfer = |program: &str, args: &[&str]| {
                if upload {
                    up(program, args)
                } else {
                    down(program, args)
                }
            };
            let (plain, cssh) =
                interleaved(5, &mut || transfer(plain_program, plain_args), &mut || {
                    transfer(cssh_program, cssh_args)
                });
            let mib_s = |s: Stats| 1024.0 / s.median.as_secs_f64();
            let direction = if upload { "upload" } else { "download" };
            report.add(
                section,
                Row {
                    figure: format!("{name} {direction} against {against}"),
                    plain,
                    cssh,
                    comparison: format!(
                        "{:.0} against {:.0} MiB/s: {:.3}x",
                        mib_s(cssh),
                        mib_s(plain),
                        1.0 / ratio(cssh, plain)
                    ),
                    target: ">= 0.98x".into(),
                },
            );
        }
    }
    fresh(&remote_file);
}

/// 20 sequential commands, each variant from a cold start (no master, no instance).
fn repeated(host: &Host, work: &Path, report: &mut Report) {
    let runtime = work.join("run");
    std::fs::create_dir_all(&runtime).unwrap();
    let variant = |name: &str, extra: &str| th_bash(work, name, extra);
    let naive = variant("naive.toml", "");
    let control_path = format!("{}/cssh/%C", runtime.display());
    let cold_start = || cold_start(host, "bench", &[&control_path]);
    let twenty = |config: &Path| {
        cold_start();
        let start = Instant::now();
        for _ in 0..20 {
            time(
                Command::new(CSSH)
                    .arg("--config")
                    .arg(config)
                    .env("XDG_RUNTIME_DIR", &runtime)
                    .args(["-F", &host.ssh_config, "th-bash", "true"]),
            );
        }
        start.elapsed()
    };
    for (figure, extra) in [
        ("with connection reuse (persist)", "persist = \"1m\""),
        ("with an instance", "instance = \"bench\""),
        ("with both", "persist = \"1m\"\ninstance = \"bench\""),
    ] {
        let config = variant(&format!("{}.toml", figure.len()), extra);
        let (plain, cssh) = interleaved(3, &mut || twenty(&naive), &mut || twenty(&config));
        report.add(
            "Repeated commands (20 sequential `cssh host true`, 3 runs each, from a cold start)",
            Row {
                figure: format!("naive against {figure}"),
                plain,
                cssh,
                comparison: format!("{:.2}x faster", 1.0 / ratio(cssh, plain)),
                target: if extra.contains('\n') {
                    ">= 3x faster".into()
                } else {
                    String::new()
                },
            },
        );
    }
    cold_start();
}

/// `script` run by plain ssh on the login node as the bash user; its output, trimmed.
fn on_login_node(host: &Host, script: &str) -> String {
    let out = Command::new("ssh")
        .args(["-F", &host.ssh_config, "th-bash", script])
        .stdin(Stdio::null())
        .output()
        .expect("runs ssh");
    assert!(out.status.success(), "{script}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `cssh --release` of `alias`, as the bash user, with the configuration `config`.
fn release(host: &Host, config: &Path, alias: &str) -> Duration {
    time(Command::new(CSSH).arg("--config").arg(config).args([
        "--release",
        "-F",
        &host.ssh_config,
        "-l",
        "bashuser",
        alias,
    ]))
}

/// The time of `ssh login srun --jobid=JOB --overlap COMMAND...` typed by hand.
fn by_hand_step(host: &Host, job: &str, command: &[&str]) -> Duration {
    time(
        Command::new("ssh")
            .args(["-F", &host.ssh_config, "th-bash", "srun"])
            .arg(format!("--jobid={job}"))
            .arg("--overlap")
            .args(command),
    )
}

/// A compute node behind Slurm: a command in an allocation that runs already, and the first
/// connection that submits it and waits for it, against the same typed by hand over ssh.
fn slurm(host: &Host, work: &Path, report: &mut Report) {
    let config = config(
        work,
        "slurm.toml",
        &format!(
            "[[host]]\npattern = \"th-*\"\nimage = \"{IMAGE}\"\nslurm = [\"--time=10\"]\nslurm_connect = \"srun\"\n"
        ),
    );
    let ssh = |script: &str| on_login_node(host, script);
    let cssh = |args: &[&str]| {
        time(
            Command::new(CSSH)
                .arg("--config")
                .arg(&config)
                .args(["-F", &host.ssh_config])
                .args(args),
        )
    };
    let release_here = |alias: &str| release(host, &config, alias);
    // By hand: submit, poll until it runs, then the step.
    let by_hand = format!(
        "J=$(sbatch --parsable --time=10 --output=/dev/null --wrap 'exec sleep 600'); \
         until [ \"$(squeue -h -j $J -o %T)\" = RUNNING ]; do sleep 1; done; \
         srun --jobid=$J --overlap apptainer exec {IMAGE} true; echo $J"
    );
    let mut hand_jobs = Vec::new();
    let mut run = 0;
    let (plain, first) = interleaved(
        5,
        &mut || {
            let start = Instant::now();
            hand_jobs.push(ssh(&by_hand));
            start.elapsed()
        },
        &mut || {
            run += 1;
            let alias = format!("th-bench-{run}");
            let elapsed = cssh(&["-l", "bashuser", &alias, "true"]);
            release_here(&alias);
            elapsed
        },
    );
    ssh(&format!("scancel {}", hand_jobs.join(" ")));
    let section = "Compute nodes (Slurm: a real slurmctld and slurmd on the test host; steps, `slurm_connect = \"srun\"`)";
    report.add(
        section,
        Row {
            figure: "first connection: submit, wait until the job runs, run `true` in the image (5 runs each)".into(),
            plain,
            cssh: first,
            comparison: format!("{:.3}x", ratio(first, plain)),
            target: "<= 1.05x".into(),
        },
    );
    cssh(&["-l", "bashuser", "th-bench-reused", "true"]);
    let job = ssh("squeue --me -h --name=cssh-th-bench-reused -o %i");
    let (plain, reused) = interleaved(
        20,
        &mut || by_hand_step(host, &job, &["apptainer", "exec", IMAGE, "true"]),
        &mut || cssh(&["-l", "bashuser", "th-bench-reused", "true"]),
    );
    release_here("th-bench-reused");
    report.add(
        section,
        Row {
            figure: "reused allocation: `cssh host true` against `ssh login srun --jobid=J --overlap apptainer exec IMG true` (20 runs each)".into(),
            plain,
            cssh: reused,
            comparison: format!("{:.3}x", ratio(reused, plain)),
            target: "<= 1.05x".into(),
        },
    );
    // Node mode with an instance: each session asks the login node for the node, then reaches
    // it by ssh through the login node and joins the allocation's instance there; by hand, the
    // node and the instance already known.
    let node_mode = self::config(
        work,
        "slurm-node.toml",
        &format!(
            "[[host]]\npattern = \"th-*\"\nimage = \"{IMAGE}\"\nslurm = [\"--time=10\"]\nslurm_connect = \"ssh\"\ninstance = \"bench\"\n"
        ),
    );
    let on_node = |args: &[&str]| {
        time(
            Command::new(CSSH)
                .arg("--config")
                .arg(&node_mode)
                .args(["-F", &host.ssh_config])
                .args(args),
        )
    };
    on_node(&["-l", "bashuser", "th-bench-node", "true"]);
    let (plain, joined) = interleaved(
        20,
        &mut || {
            let start = Instant::now();
            let node = ssh("squeue --me -h --name=cssh-th-bench-node -o %N");
            time(
                Command::new("ssh")
                    .args(["-F", &host.ssh_config, "-J", "th-bash", "-l", "bashuser"])
                    .arg(&node)
                    .args(["apptainer", "exec", "instance://bench", "true"]),
            );
            start.elapsed()
        },
        &mut || on_node(&["-l", "bashuser", "th-bench-node", "true"]),
    );
    release(host, &node_mode, "th-bench-node");
    report.add(
        section,
        Row {
            figure: "node mode with an instance: `cssh host true` (a first connection for the node, then ssh to it) against `ssh login squeue` for the node, then `ssh -J login NODE apptainer exec instance://NAME true` (20 runs each)".into(),
            plain,
            cssh: joined,
            comparison: format!("{:.3}x", ratio(joined, plain)),
            target: String::new(),
        },
    );
}

/// Into a running batch job's own container: `cssh --attach J host true` against the join typed
/// by hand, with the container's pid already known (`ssh login srun --jobid=J --overlap nsenter
/// -t PID -U -m -p ... true`), which cssh finds on every call and checks after opening.
fn attach(host: &Host, work: &Path, report: &mut Report) {
    let ssh = |script: &str| on_login_node(host, script);
    let steps = config(
        work,
        "attach.toml",
        "[[host]]\npattern = \"th-*\"\nslurm_connect = \"srun\"\n",
    );
    let job = ssh(&format!(
        "J=$(sbatch --parsable --time=10 --output=/dev/null --wrap 'exec apptainer exec --contain --pid {IMAGE} sleep 600'); \
         until [ \"$(squeue -h -j $J -o %T)\" = RUNNING ]; do sleep 1; done; echo $J"
    ));
    // The container's init among the job's own processes, as Slurm lists them.
    let pid = loop {
        let pid = ssh(&format!(
            "srun --jobid={job} --overlap sh -c 'for p in $(scontrol listpids {job} | awk \"NR > 1 {{ print \\$1 }}\"); do [ \"$(cat /proc/$p/comm 2>/dev/null)\" = appinit ] && echo $p; done; true'"
        ));
        if !pid.is_empty() {
            break pid;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    let (plain, attached) = interleaved(
        20,
        &mut || {
            by_hand_step(
                host,
                &job,
                &[
                    "nsenter",
                    "-t",
                    &pid,
                    "-U",
                    "-m",
                    "-p",
                    "--preserve-credentials",
                    "-r",
                    "-w",
                    "true",
                ],
            )
        },
        &mut || {
            time(Command::new(CSSH).arg("--config").arg(&steps).args([
                "--attach",
                &job,
                "-F",
                &host.ssh_config,
                "th-bash",
                "true",
            ]))
        },
    );
    ssh(&format!("scancel {job}"));
    report.add(
        "Into a running job (Slurm, as a step: `slurm_connect = \"srun\"`)",
        Row {
            figure: "`cssh --attach J host true` against `ssh login srun --jobid=J --overlap nsenter -t PID -U -m -p --preserve-credentials -r -w true` (20 runs each)".into(),
            plain,
            cssh: attached,
            comparison: format!("{:.3}x", ratio(attached, plain)),
            target: "(reported)".into(),
        },
    );
}

/// An HTCondor pool: a command in the host's job that runs already, and the first connection
/// that submits it and waits for it, against the same typed by hand on the access point with
/// `condor_submit` and `condor_ssh_to_job`.
fn htcondor(host: &Host, work: &Path, report: &mut Report) {
    let config = config(
        work,
        "htcondor.toml",
        &format!(
            "[[host]]\npattern = \"th-*\"\nimage = \"{IMAGE}\"\nhtcondor = []\nhtcondor_connect = \"condor_ssh_to_job\"\n"
        ),
    );
    let ssh = |script: &str| on_login_node(host, script);
    let cssh = |args: &[&str]| {
        time(
            Command::new(CSSH)
                .arg("--config")
                .arg(&config)
                .args(["-F", &host.ssh_config, "-l", "bashuser"])
                .args(args),
        )
    };
    let release_here = |alias: &str| release(host, &config, alias);
    // By hand: submit, then condor_ssh_to_job until the starter answers (it cannot for a
    // moment after the job runs), as `-auto-retry` would but without its 10 s sleeps.
    let by_hand = format!(
        "J=$(printf '%s\\n' 'universe = container' 'container_image = {IMAGE}' 'transfer_container = false' \
         'should_transfer_files = NO' 'executable = /bin/sleep' 'arguments = 600' queue | condor_submit -terse | cut -d' ' -f1); \
         until condor_ssh_to_job $J true 2>/dev/null; do sleep 0.5; done; echo $J"
    );
    let mut hand_jobs = Vec::new();
    let mut run = 0;
    let (plain, first) = interleaved(
        5,
        &mut || {
            let start = Instant::now();
            hand_jobs.push(ssh(&by_hand));
            start.elapsed()
        },
        &mut || {
            run += 1;
            let alias = format!("th-condor-bench-{run}");
            let elapsed = cssh(&[&alias, "true"]);
            release_here(&alias);
            elapsed
        },
    );
    ssh(&format!("condor_rm {}", hand_jobs.join(" ")));
    let section = "HTCondor pools (a real central manager, schedd and two execute points on the test host; `htcondor_connect = \"condor_ssh_to_job\"`)";
    report.add(
        section,
        Row {
            figure: "first connection: submit, wait until the job runs and its starter answers, run `true` (5 runs each)".into(),
            plain,
            cssh: first,
            comparison: format!("{:.3}x", ratio(first, plain)),
            target: "(reported)".into(),
        },
    );
    cssh(&["th-condor-bench-reused", "true"]);
    let job = ssh(
        "condor_q -constraint 'JobBatchName == \"cssh-th-condor-bench-reused\"' -format '%d.' ClusterId -format '%d' ProcId",
    );
    // The container's init: the child of the runtime's starter, which the job's pids name.
    let init = ssh(&format!(
        "condor_ssh_to_job {job} 'cat /proc/$_CONDOR_JOB_PIDS/task/*/children'"
    ));
    let init = init.split_whitespace().next().unwrap().to_string();
    let by_hand_in = |command: &[&str]| {
        time(
            Command::new("ssh")
                .args(["-F", &host.ssh_config, "th-bash", "condor_ssh_to_job", &job])
                .args(command),
        )
    };
    let (plain, reused) = interleaved(
        20,
        &mut || {
            by_hand_in(&[
                "nsenter",
                "-t",
                &init,
                "-U",
                "-m",
                "-p",
                "--preserve-credentials",
                "-r",
                "-w",
                "true",
            ])
        },
        &mut || cssh(&["th-condor-bench-reused", "true"]),
    );
    report.add(
        section,
        Row {
            figure: "reused job: `cssh host true` against `ssh ap condor_ssh_to_job J nsenter -t PID -U -m -p --preserve-credentials -r -w true`, the container's pid known (20 runs each)".into(),
            plain,
            cssh: reused,
            comparison: format!("{:.3}x", ratio(reused, plain)),
            target: "<= 1.1x".into(),
        },
    );
    let (plain, reused) = interleaved(20, &mut || by_hand_in(&["true"]), &mut || {
        cssh(&["th-condor-bench-reused", "true"])
    });
    release_here("th-condor-bench-reused");
    report.add(
        section,
        Row {
            figure: "reused job: `cssh host true` (in the job's container) against `ssh ap condor_ssh_to_job J true` (on the execute point, outside it) (20 runs each)".into(),
            plain,
            cssh: reused,
            comparison: format!("{:.3}x", ratio(reused, plain)),
            target: "(reported)".into(),
        },
    );
}

/// Into a running job by its own sshd (the default way): with `persist`, a command rides on the
/// job's master, against the scheduler's own channel typed by hand over a master to the login
/// node; a new connection against a step; 1 GiB through the job.
fn job_sshd(host: &Host, work: &Path, report: &mut Report) {
    const SECTION: &str = "The job's own sshd (the default way into a job: a master on the job's connection with `persist`)";
    let runtime = work.join("sshd-run");
    std::fs::create_dir_all(&runtime).unwrap();
    let ssh = |script: &str| on_login_node(host, script);
    let host_config = |name: &str, settings: &str| {
        config(
            work,
            name,
            &format!("[[host]]\npattern = \"th-*\"\nimage = \"{IMAGE}\"\n{settings}\n"),
        )
    };
    let cssh = |config: &Path, alias: &str, command: &str| {
        time(
            Command::new(CSSH)
                .arg("--config")
                .arg(config)
                .env("XDG_RUNTIME_DIR", &runtime)
                .args(["-F", &host.ssh_config, "-l", "bashuser", alias, command]),
        )
    };
    let master = format!("{}/hand-%C", work.display());
    let by_hand = |command: &str| time(over_master(host, &master).arg(command));
    // Slurm: a command, then a command into the allocation's instance.
    for (figure, settings, hand, target) in [
        (
            "Slurm, `persist`: `cssh host true` against `ssh -S master login srun --jobid=J --overlap apptainer exec IMG true` (20 pairs)",
            "slurm = [\"--time=10\"]\npersist = \"2m\"",
            format!("apptainer exec {IMAGE} true"),
            "<= 0.4x",
        ),
        (
            "Slurm, `persist` and `instance`: the same against `... apptainer exec instance://NAME true` (20 pairs)",
            "slurm = [\"--time=10\"]\npersist = \"2m\"\ninstance = \"benchsshd\"",
            "apptainer exec instance://benchsshd true".to_string(),
            "<= 0.1x",
        ),
    ] {
        let config = host_config("sshd-slurm.toml", settings);
        let alias = "th-bench-sshd";
        cssh(&config, alias, "true");
        let job = ssh(&format!("squeue --me -h --name=cssh-{alias} -o %i"));
        let hand = format!("srun --jobid={job} --overlap {hand}");
        by_hand(&hand);
        let (plain, mine, spread) = paired(20, &mut || by_hand(&hand), &mut || {
            cssh(&config, alias, "true")
        });
        release(host, &config, alias);
        report.add(
            SECTION,
            Row {
                figure: figure.into(),
                plain,
                cssh: mine,
                comparison: format!("pairs: {spread}"),
                target: target.into(),
            },
        );
    }
    // HTCondor: a command in the job's container.
    let condor = host_config("sshd-condor.toml", "htcondor = []\npersist = \"2m\"");
    let alias = "th-bench-sshd-condor";
    cssh(&condor, alias, "true");
    let job = ssh(&format!(
        "condor_q -constraint 'JobBatchName == \"cssh-{alias}\"' -format '%d.' ClusterId -format '%d' ProcId"
    ));
    let hand = format!("condor_ssh_to_job {job} true");
    by_hand(&hand);
    let (plain, mine, spread) = paired(20, &mut || by_hand(&hand), &mut || {
        cssh(&condor, alias, "true")
    });
    release(host, &condor, alias);
    report.add(
        SECTION,
        Row {
            figure: "HTCondor, `persist`: `cssh host true` (in the job's container) against `ssh -S master ap condor_ssh_to_job J true` (on the execute point, outside it) (20 pairs)".into(),
            plain,
            cssh: mine,
            comparison: format!("pairs: {spread}"),
            target: "<= 0.1x".into(),
        },
    );
    // A new connection, no master: the job's sshd against a step, both cssh's.
    let sshd = host_config("sshd-new.toml", "slurm = [\"--time=10\"]");
    let steps = host_config(
        "steps-new.toml",
        "slurm = [\"--time=10\"]\nslurm_connect = \"srun\"",
    );
    let alias = "th-bench-sshd-new";
    cssh(&sshd, alias, "true");
    let (plain, mine) = interleaved(10, &mut || cssh(&steps, alias, "true"), &mut || {
        cssh(&sshd, alias, "true")
    });
    report.add(
        SECTION,
        Row {
            figure: "a new connection into a running allocation, no `persist`: the job's sshd against a step (`slurm_connect = \"srun\"`), `cssh host true` both (10 runs each)".into(),
            plain,
            cssh: mine,
            comparison: format!("{:.3}x", ratio(mine, plain)),
            target: "(reported)".into(),
        },
    );
    // 1 GiB through the job, up and down, against the same through a step.
    let file = work.join("1GiB-job.bin");
    let status = Command::new("head")
        .args(["-c", "1G", "/dev/urandom"])
        .stdout(std::fs::File::create(&file).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    let through = |config: &Path, upload: bool| {
        let mut command = Command::new(CSSH);
        command
            .arg("--config")
            .arg(config)
            .args(["-F", &host.ssh_config, "-l", "bashuser", alias]);
        if upload {
            command
                .arg("cat >/dev/null")
                .stdin(std::fs::File::open(&file).unwrap());
        } else {
            command.arg("head -c 1073741824 /dev/zero");
        }
        let start = Instant::now();
        let status = command.stdout(Stdio::null()).status().unwrap();
        assert!(status.success());
        start.elapsed()
    };
    for upload in [true, false] {
        let (plain, mine) = interleaved(3, &mut || through(&steps, upload), &mut || {
            through(&sshd, upload)
        });
        let mib_s = |s: Stats| 1024.0 / s.median.as_secs_f64();
        report.add(
            SECTION,
            Row {
                figure: format!(
                    "1 GiB {} the job: the job's sshd against a step (3 runs each)",
                    if upload { "into" } else { "out of" }
                ),
                plain,
                cssh: mine,
                comparison: format!("{:.0} against {:.0} MiB/s", mib_s(mine), mib_s(plain)),
                target: "(reported)".into(),
            },
        );
    }
    release(host, &sshd, alias);
    let _ = std::fs::remove_file(&file);
}

/// Any SSH client through `ProxyCommand cssh --proxy` (the login node's container): a first
/// connection against the wrapper and against plain ssh; a command on the client's own master
/// against the same by hand on a master to the login node; 1 GiB by sftp against the wrapper
/// (the second layer of encryption).
fn any_client(host: &Host, work: &Path, report: &mut Report) {
    const SECTION: &str =
        "Any SSH client (`ProxyCommand cssh --proxy`, the login node's container)";
    let alias = "th-bench-px";
    let settings = config(
        work,
        "proxy.toml",
        &format!("[[host]]\npattern = \"{alias}\"\nimage = \"{IMAGE}\"\n"),
    );
    let blocks = Command::new(CSSH)
        .arg("--config")
        .arg(&settings)
        .args([
            "--ssh-config",
            "-F",
            &host.ssh_config,
            "-l",
            "bashuser",
            alias,
        ])
        .output()
        .unwrap();
    assert!(blocks.status.success(), "--ssh-config failed");
    let client_config = work.join("proxy_ssh_config");
    std::fs::write(&client_config, &blocks.stdout).unwrap();
    let name = format!("cssh.{alias}");
    let client = |options: &[&str], command: &str| {
        let mut ssh = Command::new("ssh");
        ssh.arg("-F")
            .arg(&client_config)
            .args(options)
            .args([&name, command]);
        ssh
    };
    let wrapper = |command: &str| {
        let mut cssh = Command::new(CSSH);
        cssh.arg("--config").arg(&settings).args([
            "-F",
            &host.ssh_config,
            "-l",
            "bashuser",
            alias,
            command,
        ]);
        cssh
    };
    let plain = || time(Command::new("ssh").args(["-F", &host.ssh_config, "th-bash", "true"]));
    time(&mut client(&[], "true"));
    let (by_wrapper, by_proxy, spread) =
        paired(10, &mut || time(&mut wrapper("true")), &mut || {
            time(&mut client(&[], "true"))
        });
    report.add(
        SECTION,
        Row {
            figure: "a first connection: `ssh cssh.HOST true` against `cssh HOST true` (10 pairs)"
                .into(),
            plain: by_wrapper,
            cssh: by_proxy,
            comparison: format!("pairs: {spread}"),
            target: "(reported)".into(),
        },
    );
    let (by_ssh, by_proxy, spread) =
        paired(10, &mut || plain(), &mut || time(&mut client(&[], "true")));
    report.add(
        SECTION,
        Row {
            figure: "a first connection: `ssh cssh.HOST true` (in the container) against `ssh host true` (no container) (10 pairs)".into(),
            plain: by_ssh,
            cssh: by_proxy,
            comparison: format!("pairs: {spread}"),
            target: "(reported)".into(),
        },
    );
    // On masters: the client's own, and one to the login node by hand.
    let client_master = format!("ControlPath={}/px-%C", work.display());
    let mastered = [
        "-o",
        "ControlMaster=auto",
        "-o",
        &client_master,
        "-o",
        "ControlPersist=2m",
    ];
    let hand_master = format!("{}/px-hand-%C", work.display());
    let by_hand =
        || time(over_master(host, &hand_master).arg(format!("apptainer exec {IMAGE} true")));
    time(&mut client(&mastered, "true"));
    by_hand();
    let (hand, proxied, spread) = paired(20, &mut || by_hand(), &mut || {
        time(&mut client(&mastered, "true"))
    });
    report.add(
        SECTION,
        Row {
            figure: "on the client's master: `ssh cssh.HOST true` against `ssh -S master host apptainer exec IMG true` (20 pairs)".into(),
            plain: hand,
            cssh: proxied,
            comparison: format!("pairs: {spread}"),
            target: "(reported)".into(),
        },
    );
    for master in [
        client_master.as_str(),
        &format!("ControlPath={hand_master}"),
    ] {
        let _ = Command::new("ssh")
            .args([
                "-F",
                &host.ssh_config,
                "-o",
                master,
                "-O",
                "exit",
                "th-bash",
            ])
            .stderr(Stdio::null())
            .status();
    }
    // 1 GiB up by sftp: plain sftp through the ProxyCommand against sftp with cssh as its ssh.
    let file = work.join("1GiB-px.bin");
    let status = Command::new("head")
        .args(["-c", "1G", "/dev/urandom"])
        .stdout(std::fs::File::create(&file).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    let batch = config(
        work,
        "px-batch",
        &format!("put {} /dev/null\n", file.display()),
    );
    let sftp_proxied = || {
        time(
            Command::new("sftp")
                .arg("-F")
                .arg(&client_config)
                .arg("-b")
                .arg(&batch)
                .arg(&name),
        )
    };
    let sftp_wrapped = || {
        time(
            Command::new("sftp")
                .env("CSSH_CONFIG", &settings)
                .args([
                    "-S",
                    CSSH,
                    "-F",
                    &host.ssh_config,
                    "-o",
                    "User=bashuser",
                    "-b",
                ])
                .arg(&batch)
                .arg(alias),
        )
    };
    let (with_cssh, through_proxy) = interleaved(3, &mut || sftp_wrapped(), &mut || sftp_proxied());
    let mib_s = |s: Stats| 1024.0 / s.median.as_secs_f64();
    report.add(
        SECTION,
        Row {
            figure:
                "1 GiB up by sftp: through the ProxyCommand against `sftp -S cssh` (3 runs each)"
                    .into(),
            plain: with_cssh,
            cssh: through_proxy,
            comparison: format!(
                "{:.0} against {:.0} MiB/s",
                mib_s(through_proxy),
                mib_s(with_cssh)
            ),
            target: "(reported)".into(),
        },
    );
    let _ = std::fs::remove_file(&file);
}

/// `cssh --doctor` on 50 names of the test host: at once, one after another, and against 50
/// sessions started at once by hand; then with one host that hangs.
fn doctor(host: &Host, work: &Path, report: &mut Report) {
    const HOSTS: usize = 50;
    // The doctor's default: 50 hosts at once on 2 cores each take most of the whole run.
    const TIMEOUT: u64 = 20;
    let ssh_config = config(
        work,
        "doctor_ssh_config",
        &format!(
            "Host th-doc-hang\n  ProxyCommand sleep 600\nHost th-doc-*\n  User bashuser\nHost *\nInclude {}\n",
            host.ssh_config
        ),
    );
    let cssh_config = config(
        work,
        "doctor.toml",
        &format!("[[host]]\npattern = \"th-doc-*\"\nimage = \"{IMAGE}\"\n"),
    );
    let names: Vec<String> = (1..=HOSTS).map(|i| format!("th-doc-{i}")).collect();
    let cssh = || {
        let mut command = Command::new(CSSH);
        command
            .arg("--config")
            .arg(&cssh_config)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        command
    };
    let doctor = |jobs: usize, hosts: &[String], status: i32| {
        let start = Instant::now();
        let out = cssh()
            .args([
                "--doctor",
                &format!("--jobs={jobs}"),
                &format!("--timeout={TIMEOUT}"),
                "-F",
            ])
            .arg(&ssh_config)
            .args(hosts)
            .status()
            .expect("runs cssh --doctor");
        assert_eq!(out.code(), Some(status), "cssh --doctor");
        start.elapsed()
    };
    let by_hand = |at_once: bool| {
        let start = Instant::now();
        let mut children = Vec::new();
        for name in &names {
            let mut child = cssh()
                .arg("-F")
                .arg(&ssh_config)
                .args([name, "true"])
                .spawn()
                .expect("runs cssh");
            if at_once {
                children.push(child);
            } else {
                assert!(child.wait().unwrap().success());
            }
        }
        for mut child in children {
            assert!(child.wait().unwrap().success());
        }
        start.elapsed()
    };
    let section = "Doctor (50 names of the test host, 3 runs each)";
    let (one_by_one, at_once) = interleaved(3, &mut || doctor(1, &names, 0), &mut || {
        doctor(HOSTS, &names, 0)
    });
    report.add(
        section,
        Row {
            figure: "`cssh --doctor --jobs 1` (one after another) against `--jobs 50` (at once)"
                .into(),
            plain: one_by_one,
            cssh: at_once,
            comparison: format!("{:.2}x faster", 1.0 / ratio(at_once, one_by_one)),
            target: ">= 2.5x faster".into(),
        },
    );
    let (sessions_one_by_one, sessions_at_once) =
        interleaved(3, &mut || by_hand(false), &mut || by_hand(true));
    report.add(
        section,
        Row {
            figure:
                "the machine's own bound: 50 `cssh host true` one after another against all at once"
                    .into(),
            plain: sessions_one_by_one,
            cssh: sessions_at_once,
            comparison: format!(
                "{:.2}x faster",
                1.0 / ratio(sessions_at_once, sessions_one_by_one)
            ),
            target: String::new(),
        },
    );
    let (hand, checked) = interleaved(3, &mut || by_hand(true), &mut || doctor(HOSTS, &names, 0));
    report.add(
        section,
        Row {
            figure: "50 `cssh host true` started at once by hand against `--doctor --jobs 50`"
                .into(),
            plain: hand,
            cssh: checked,
            comparison: format!("{:.3}x", ratio(checked, hand)),
            target: "<= 1.3x".into(),
        },
    );
    let (hand, checked) = interleaved(3, &mut || by_hand(true), &mut || doctor(16, &names, 0));
    report.add(
        section,
        Row {
            figure: "the same with the doctor's default bound (16 at once)".into(),
            plain: hand,
            cssh: checked,
            comparison: format!("{:.3}x", ratio(checked, hand)),
            target: String::new(),
        },
    );
    let mut with_hang = names[1..].to_vec();
    with_hang.push("th-doc-hang".into());
    let (healthy, hanging) = interleaved(3, &mut || doctor(HOSTS, &names, 0), &mut || {
        doctor(HOSTS, &with_hang, 1)
    });
    report.add(
        section,
        Row {
            figure: format!(
                "49 hosts and one that hangs (`--timeout {TIMEOUT}`) against 50 healthy hosts"
            ),
            plain: healthy,
            cssh: hanging,
            comparison: format!(
                "{:+.1} s",
                hanging.median.as_secs_f64() - healthy.median.as_secs_f64()
            ),
            target: format!("<= +{TIMEOUT} s (the timeout)"),
        },
    );
}
