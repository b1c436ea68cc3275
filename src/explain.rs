//! `cssh --explain`: how a plan came about, written for a person, values in the configuration
//! file's own syntax: the file, the destination, the matching entries, each setting with the line
//! it was written on, the decision, the remote script and the command line cssh would exec.

use std::fmt::Write as _;
use std::path::Path;

use crate::output;
use crate::plan::{Decision, Plan};

/// The report, ending with the exec'd command line.
pub fn render(plan: &Plan, ssh: &Path) -> Vec<u8> {
    let report = &plan.report;
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = match &report.config {
        Some((file, true)) => writeln!(out, "config: {file}"),
        Some((file, false)) => writeln!(out, "config: {file} (not found: no host is tagged)"),
        None => writeln!(out, "config: not read"),
    };
    let _ = match &report.destination {
        Some((destination, host)) => writeln!(out, "destination: {destination} (host {host})"),
        None => writeln!(out, "destination: none that ssh would accept"),
    };
    for (line, pattern) in &report.resolution.matched {
        let _ = writeln!(
            out,
            "matched: line {line}: pattern = {}",
            toml_string(pattern)
        );
    }
    for (key, value, line) in report.resolution.settings.written() {
        let _ = writeln!(out, "setting: {key} = {value} (line {line})");
    }
    match &plan.decision {
        Decision::Passthrough(why) => {
            let _ = writeln!(out, "decision: plain ssh: {why}");
            if let Some(notice) = &plan.notice {
                let _ = writeln!(out, "notice: {notice}");
            }
        }
        Decision::Container { script } => {
            out += "decision: container\n";
            if let Some(instance) = &report.resolution.settings.instance {
                let _ = writeln!(
                    out,
                    "instance: commands join {instance} by its namespaces where it runs in a user namespace with no cgroup, seccomp, AppArmor, SELinux, capability, fakeroot or checkpoint settings and the session sets no APPTAINER_ or SINGULARITY_ variable; else by apptainer exec instance:// (cssh --doctor says which)"
                );
            }
            let settings = &report.resolution.settings;
            if settings.htcondor.is_some() {
                let ignored: Vec<&str> = [
                    ("binds", settings.binds.is_some()),
                    ("options", settings.options.is_some()),
                    ("instance", settings.instance.is_some()),
                ]
                .iter()
                .filter_map(|(key, set)| set.then_some(*key))
                .collect();
                let _ = writeln!(
                    out,
                    "htcondor: sessions and transfers enter the container of the host's HTCondor job on its execute point, through condor_ssh_to_job{}",
                    if ignored.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "; {} do not apply there (HTCondor starts that container)",
                            ignored.join(", ")
                        )
                    }
                );
            }
            out += "remote script (run by the remote /bin/sh):\n";
            for line in String::from_utf8_lossy(script).lines() {
                let _ = writeln!(out, "  {line}");
            }
        }
    }
    if let Some(hop) = &plan.hop {
        out += "way: the job's own sshd, started on its node for this connection: ssh's ProxyCommand (cssh --hop=...) execs the hop, whose script the login node runs; the remote script above runs in the job\n";
        let words = &hop.args[..hop.args.len().saturating_sub(1)];
        let _ = writeln!(
            out,
            "hop: {} SCRIPT",
            String::from_utf8_lossy(&output::command_line(ssh, words))
        );
        out += "hop script (run by the login node's /bin/sh):\n";
        for line in String::from_utf8_lossy(&hop.script).lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    if let Some(pin) = &plan.pin {
        let _ = writeln!(
            out,
            "first: a connection to the login node makes the job's sshd a host key where it has none, admits this machine's key ({}) and prints the host key, which cssh pins for {}; the session is planned then",
            crate::remote::KEY_DIR,
            pin.alias
        );
    }
    if let Some(send) = &plan.send {
        let words = &send.args[..send.args.len().saturating_sub(1)];
        let _ = writeln!(
            out,
            "first: the host's prelude and env values go to the login node once, on the stdin of {} SCRIPT (never on a command line), into ~/.cache/cssh/values-{} there; this machine records that they went (sent/{} in cssh's cache directory)",
            String::from_utf8_lossy(&output::command_line(ssh, words)),
            send.name,
            send.key
        );
    }
    if plan.first_hop.is_some() {
        out += "first: a connection to the login node finds the job (the host's allocation, waited for, or the job attached to) and prints its node\n";
    }
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(b"exec: ");
    bytes.extend(output::plan_line(ssh, plan));
    bytes
}

/// A string as TOML writes it.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}
