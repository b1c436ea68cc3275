//! `cssh --doctor` against hosts made broken on purpose, next to healthy ones for every login
//! shell: each broken host gets its finding, a hanging one a timeout without holding the others,
//! and the exit status says whether anything failed.

use std::process::{Command, Output};

use serde_json::Value;

use crate::harness::*;

/// The doctor's own ssh configuration: broken hosts first (ssh takes the first value it
/// finds), then the test host's, whose `th-*` entry reaches the login node; and the hanging
/// host's ProxyCommand, which sets a variable of its own (returned, `NAME=VALUE`), so a test
/// finds its own process by that marker and no one else's.
fn ssh_config(scratch: &Scratch, closed_port: &str) -> (std::path::PathBuf, String) {
    let path = scratch.path("ssh_config");
    let mark = format!("CSSH_HANGING_PROXY={}", rand_suffix());
    let text = format!(
        "Host th-hang\n  ProxyCommand env {mark} sleep 600\nHost th-closed\n  Port {closed_port}\n\
         Host th-hang th-closed th-noimage th-noprelude th-prelude th-nosftp th-nobind\n  User bashuser\n\
         Host *\nInclude {}\n",
        host().ssh_config.display()
    );
    std::fs::write(&path, text).unwrap();
    (path, mark)
}

const BROKEN: &str = r#"
[[host]]
pattern = "th-noimage"
image = "/opt/th/nosuch.sif"

[[host]]
pattern = "th-noprelude th-prelude"
runtime = "modtainer"

[[host]]
pattern = "th-prelude"
prelude = "PRELUDE"

[[host]]
pattern = "th-nosftp"
image = "BARE"

[[host]]
pattern = "th-nobind"
binds = ["/nonexistent/src:/data", "/tmp"]

[[host]]
pattern = "th-*"
image = "FULL"
"#;

fn doctor(config: &Scratch, ssh_config: &std::path::Path, args: &[&str]) -> Output {
    run(Command::new(CSSH)
        .env("CSSH_CONFIG", config.path("config.toml"))
        .arg("--doctor")
        .args(args.iter().take_while(|a| a.starts_with("--")))
        .arg("-F")
        .arg(ssh_config)
        .args(args.iter().skip_while(|a| a.starts_with("--"))))
}

/// `cssh --doctor --json` with `config`, against the test host, for `args` (ssh options and
/// hosts): its report, once its exit status is checked to be `status`.
pub fn json_report(config: &Scratch, args: &[&str], status: i32) -> Value {
    let out = doctor(config, &host().ssh_config, &[&["--json"], args].concat());
    assert_eq!(out.status.code(), Some(status), "{}", describe(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", describe(&out)))
}

/// The finding of `check` for `host` in the JSON report.
pub fn finding<'a>(report: &'a Value, host: &str, check: &str) -> &'a Value {
    let host_report = report["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["host"] == host)
        .unwrap_or_else(|| panic!("no {host} in {report:#}"));
    host_report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == check)
        .unwrap_or_else(|| panic!("no {check} for {host}"))
}

pub fn status<'a>(report: &'a Value, host: &str, check: &str) -> &'a str {
    finding(report, host, check)["status"].as_str().unwrap()
}

pub fn value(report: &Value, host: &str, check: &str) -> String {
    finding(report, host, check)["value"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn every_broken_host_gets_its_finding_and_the_healthy_ones_pass() {
    let config = Scratch::new(
        &BROKEN
            .replace("PRELUDE", MODULE_PRELUDE)
            .replace("BARE", BARE_SIF)
            .replace("FULL", FULL_SIF),
    );
    let (ssh_config, hanging_proxy) = ssh_config(&config, &free_port());
    let broken = [
        "th-noisy",
        "th-noimage",
        "th-noprelude",
        "th-prelude",
        "th-nosftp",
        "th-nobind",
        "th-hang",
        "th-closed",
    ];
    let mut args = vec!["--json", "--timeout=15"];
    let aliases: Vec<&str> = host().aliases.iter().map(String::as_str).collect();
    args.extend(&aliases);
    args.extend(broken);
    let out = doctor(&config, &ssh_config, &args);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(report["result"], "fail");
    assert_eq!(
        report["hosts"].as_array().unwrap().len(),
        aliases.len() + broken.len()
    );

    // Healthy hosts, one per login shell: a session starts in the image, with every tool.
    for alias in &aliases {
        for check in [
            "reach",
            "quiet",
            "script",
            "runtime",
            "image",
            "start",
            "sftp_server",
            "scp",
            "rsync",
            "git",
            "vscode",
        ] {
            assert_eq!(status(&report, alias, check), "pass", "{alias} {check}");
        }
        assert!(value(&report, alias, "runtime").contains("apptainer version"));
        assert!(value(&report, alias, "vscode").starts_with("glibc 2."));
        assert!(value(&report, alias, "start").ends_with(" ms, in a user namespace"));
        assert_eq!(status(&report, alias, "slurm"), "skip");
    }
    // The full image has bash but none of the other login shells: sessions run bash there.
    assert_eq!(
        value(&report, "th-bash", "shell"),
        "/bin/bash (the login shell)"
    );
    assert_eq!(status(&report, "th-fish", "shell"), "warn");
    assert_eq!(
        value(&report, "th-fish", "shell"),
        "the login shell /usr/bin/fish is not in the image: sessions run /bin/bash"
    );

    // Each broken host: its finding, and what it keeps from running.
    assert_eq!(status(&report, "th-noisy", "quiet"), "fail");
    assert!(
        value(&report, "th-noisy", "quiet").contains(&host().noise),
        "{}",
        value(&report, "th-noisy", "quiet")
    );
    assert!(
        finding(&report, "th-noisy", "quiet")["fix"]
            .as_str()
            .unwrap()
            .contains("~/.bashrc")
    );
    assert_eq!(status(&report, "th-noimage", "image"), "fail");
    assert_eq!(
        value(&report, "th-noimage", "image"),
        "image /opt/th/nosuch.sif not found on the remote"
    );
    assert_eq!(status(&report, "th-noimage", "start"), "skip");
    assert_eq!(status(&report, "th-noprelude", "runtime"), "fail");
    assert!(value(&report, "th-noprelude", "runtime").starts_with("modtainer not on PATH"));
    assert_eq!(status(&report, "th-prelude", "runtime"), "pass");
    assert!(
        value(&report, "th-prelude", "runtime").ends_with(" at /opt/modtainer/bin/modtainer"),
        "{}",
        value(&report, "th-prelude", "runtime")
    );
    assert_eq!(status(&report, "th-prelude", "start"), "pass");
    assert_eq!(status(&report, "th-nosftp", "sftp_server"), "fail");
    assert_eq!(status(&report, "th-nosftp", "start"), "pass");
    assert_eq!(status(&report, "th-nobind", "binds"), "fail");
    assert_eq!(
        value(&report, "th-nobind", "binds"),
        "missing on the remote: /nonexistent/src"
    );
    assert_eq!(status(&report, "th-closed", "reach"), "fail");
    assert!(value(&report, "th-closed", "reach").contains("Connection refused"));

    // The hanging host: a timeout of its own, while every other host completed.
    let hosts = report["hosts"].as_array().unwrap();
    for h in hosts {
        assert_eq!(h["timed_out"], h["host"] == "th-hang", "{h:#}");
    }
    assert_eq!(status(&report, "th-hang", "reach"), "fail");
    assert_eq!(
        value(&report, "th-hang", "reach"),
        "timeout: no answer within 15 s"
    );
    // Its ProxyCommand went with it: no process has the variable it set for itself.
    assert_eq!(
        crate::held::with_variable(&hanging_proxy),
        Vec::<u32>::new(),
        "the hanging host's ProxyCommand lives on"
    );
}

#[test]
fn the_table_shows_each_problem_with_its_fix() {
    let config = Scratch::new(&BROKEN.replace("BARE", BARE_SIF).replace("FULL", FULL_SIF));
    let (ssh_config, _) = ssh_config(&config, &free_port());
    let out = doctor(&config, &ssh_config, &["th-bash", "th-noisy", "th-noimage"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let table = text(&out.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("HOST        reach  quiet  script  runtime  image"),
        "{table}"
    );
    assert!(
        lines[1].starts_with("th-bash     ok     ok     ok      ok       ok"),
        "{table}"
    );
    assert!(
        lines[2].starts_with("th-noisy    ok     FAIL   ok      ok       ok"),
        "{table}"
    );
    assert!(
        lines[3].starts_with("th-noimage  ok     ok     ok      ok       FAIL   -      -"),
        "{table}"
    );
    let noise = format!("\"{}\"", host().noise);
    let problems = [
        format!(
            "th-noisy: quiet FAIL: the login shell wrote {} bytes to stdout before any command: {noise}",
            host().noise.len() + 1
        ),
        "    fix: something in ~/.bashrc (or the file $ENV names) prints to stdout: guard it with `[ -t 1 ]`".into(),
        "th-noimage: image FAIL: image /opt/th/nosuch.sif not found on the remote".into(),
        format!(
            "    fix: copy the image there, or set image in {}:4",
            config.path("config.toml").display()
        ),
    ];
    assert_eq!(&lines[5..9], &problems, "{table}");
    assert!(
        lines[10].starts_with("3 hosts: 1 passed, 0 with warnings, 2 failed ("),
        "{table}"
    );
    // Nothing but the report on stdout, nothing on stderr when it is no terminal.
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn without_hosts_every_configured_name_is_checked_and_all_passing_exits_0() {
    let config = Scratch::new(&format!(
        "[[host]]\npattern = \"th-dash th-csh th-*\"\nimage = \"{FULL_SIF}\"\npersist = \"30s\"\n"
    ));
    let out = doctor(&config, &host().ssh_config, &["--json", "--jobs=1"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let hosts: Vec<&str> = report["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["host"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["th-dash", "th-csh"]);
    // The login shells are sh-like or csh: neither is in the image, so sessions run bash and
    // warn, which does not fail.
    assert_eq!(report["result"], "warn");
    // The first check opened the shared connection that a second finds live.
    let again: Value =
        serde_json::from_slice(&doctor(&config, &host().ssh_config, &["--json", "th-dash"]).stdout)
            .unwrap();
    assert_eq!(status(&again, "th-dash", "persist"), "pass");
    assert_eq!(
        value(&again, "th-dash", "persist"),
        "a shared connection was live"
    );
}

#[test]
fn on_a_terminal_one_line_shows_the_progress_and_goes() {
    let config = Scratch::new(&format!(
        "[[host]]\npattern = \"th-*\"\nimage = \"{FULL_SIF}\"\n"
    ));
    let (ssh_config, _) = ssh_config(&config, &free_port());
    let tmux = Tmux::start(&format!(
        "CSSH_CONFIG={} {CSSH} --doctor --timeout=5 -F {} th-bash th-hang; sleep 60",
        config.path("config.toml").display(),
        ssh_config.display()
    ));
    tmux.wait_for("cssh --doctor: 1 of 2 done, slowest: th-hang (");
    let screen = tmux.wait_for("2 hosts: 1 passed, 0 with warnings, 1 failed");
    assert!(!screen.contains("cssh --doctor:"), "{screen}");
    assert!(screen.starts_with("HOST "), "{screen}");
}

#[test]
fn the_instance_is_reported_as_the_next_session_finds_it() {
    // One doctor run checks the bash, tcsh and fish users at once (each has its own instance).
    let users = ["th-bash", "th-tcsh", "th-fish"];
    let name = format!("doc{}", rand_suffix() % 1_000_000);
    let config = tagging(FULL_SIF, &format!("instance = {name:?}"));
    let instance = |config: &Scratch, aliases: &[&str]| -> Vec<String> {
        let out = doctor(config, &host().ssh_config, &[&["--json"], aliases].concat());
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        aliases
            .iter()
            .map(|alias| {
                assert_eq!(status(&report, alias, "start"), "pass", "{report:#}");
                value(&report, alias, "instance")
            })
            .collect()
    };
    assert_eq!(
        instance(&config, &users),
        vec![format!("{name} not running (the next session starts it)"); 3]
    );
    // The probe's session joined the instance as a session would, starting it, and looked at
    // it: the next commands join it by its namespaces.
    assert_eq!(
        instance(&config, &users),
        vec![format!("{name} running, commands join it by its namespaces"); 3]
    );
    for alias in users {
        let stop = ssh(alias, &["apptainer", "instance", "stop", &name]);
        assert!(stop.status.success(), "{}", describe(&stop));
    }
    // A session that sets a variable Apptainer reads takes the runtime, and the doctor says why.
    let config = tagging(
        FULL_SIF,
        &format!("instance = {name:?}\nprelude = \"export APPTAINER_CACHEDIR=/tmp\""),
    );
    let first = run(cssh(&config).args(["th-bash", "true"]));
    assert!(first.status.success(), "{}", describe(&first));
    let way = instance(&config, &["th-bash"]);
    let stop = ssh("th-bash", &["apptainer", "instance", "stop", &name]);
    assert!(stop.status.success(), "{}", describe(&stop));
    assert_eq!(
        way,
        [format!(
            "{name} running, commands join it by apptainer exec instance:// (the session sets a variable Apptainer reads (APPTAINER_*, SINGULARITY_*, PS1, PROMPT_COMMAND) or drops (a name that is not a shell name))"
        )]
    );
}

#[test]
fn fixes_carry_the_users_options_and_say_where_the_image_came_from() {
    let config = tagging(FULL_SIF, "");
    let port = free_port();
    let out = doctor(
        &config,
        &host().ssh_config,
        &["--json", "-p", &port, "th-bash"],
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let reach = finding(&report, "th-bash", "reach");
    assert_eq!(reach["status"], "fail", "{reach}");
    assert_eq!(
        reach["fix"],
        format!(
            "check with `ssh -v -F {} -p {port} th-bash true`",
            host().ssh_config.display()
        ),
        "{reach}"
    );
    // An image from --image is fixed there, not in the file; one host is "1 host".
    let out = run(Command::new(CSSH)
        .env("CSSH_CONFIG", config.path("config.toml"))
        .args(["--image", "/opt/th/nosuch.sif", "--doctor", "-F"])
        .arg(&host().ssh_config)
        .args(["-l", "bashuser", "th-plain"]));
    let table = text(&out.stdout);
    assert!(
        table.contains("    fix: copy the image there, or give --image its path on the remote\n"),
        "{table}"
    );
    assert!(
        table.contains("\n1 host: 0 passed, 0 with warnings, 1 failed ("),
        "{table}"
    );
}
