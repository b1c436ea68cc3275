//! The doctor's output: a table with a row per host and a column per check, under it each
//! host's job (its id, node and time left, as the check found it) and each problem with its
//! fix, and a summary line; or the same findings as JSON.

use std::fmt::Write as _;

use serde::Serialize;

use super::findings::{CHECKS, Check, Finding, Status};

/// One host's findings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostReport {
    pub host: String,
    /// The worst status of its checks (`skip` only when nothing ran).
    pub result: Status,
    /// How long its checks took.
    pub seconds: f64,
    pub timed_out: bool,
    pub checks: Vec<Finding>,
}

impl HostReport {
    pub fn new(host: String, seconds: f64, timed_out: bool, checks: Vec<Finding>) -> HostReport {
        let result = checks
            .iter()
            .map(|f| f.status)
            .max()
            .unwrap_or(Status::Skip);
        HostReport {
            host,
            result,
            seconds: (seconds * 1000.0).round() / 1000.0,
            timed_out,
            checks,
        }
    }
}

/// Every host's findings, in the order the hosts were given.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// `fail` when any check failed, else `warn` when any warned, else `pass`.
    pub result: Status,
    pub hosts: Vec<HostReport>,
}

impl Report {
    pub fn new(hosts: Vec<HostReport>) -> Report {
        let result = hosts
            .iter()
            .map(|h| h.result)
            .max()
            .unwrap_or(Status::Pass)
            .max(Status::Pass);
        Report { result, hosts }
    }
}

fn cell(status: Status) -> &'static str {
    match status {
        Status::Skip => "-",
        Status::Pass => "ok",
        Status::Warn => "warn",
        Status::Fail => "FAIL",
    }
}

/// A column's width: its name, or the widest cell.
fn column(check: Check) -> usize {
    check.name().len().max(4)
}

/// The table, the jobs and problems under it, and a summary line.
pub fn table(report: &Report, elapsed: f64) -> String {
    let width = report
        .hosts
        .iter()
        .map(|h| h.host.chars().count())
        .chain([4])
        .max()
        .unwrap_or(4);
    let mut text = format!("{:<width$}", "HOST");
    for check in CHECKS {
        let _ = write!(text, "  {:<w$}", check.name(), w = column(*check));
    }
    text.truncate(text.trim_end().len());
    text.push('\n');
    for host in &report.hosts {
        let _ = write!(text, "{:<width$}", host.host);
        for (check, finding) in CHECKS.iter().zip(&host.checks) {
            let _ = write!(text, "  {:<w$}", cell(finding.status), w = column(*check));
        }
        text.truncate(text.trim_end().len());
        text.push('\n');
    }
    let mut problems = String::new();
    for host in &report.hosts {
        for finding in host
            .checks
            .iter()
            .filter(|f| f.status == Status::Pass && f.check.names_a_job() && !f.value.is_empty())
        {
            let _ = writeln!(
                problems,
                "{}: {}: {}",
                host.host,
                finding.check.name(),
                printable(&finding.value)
            );
        }
    }
    for host in &report.hosts {
        for finding in host.checks.iter().filter(|f| f.status >= Status::Warn) {
            let _ = writeln!(
                problems,
                "{}: {} {}: {}",
                host.host,
                finding.check.name(),
                cell(finding.status),
                printable(&finding.value)
            );
            if let Some(fix) = &finding.fix {
                let _ = writeln!(problems, "    fix: {}", printable(fix));
            }
        }
    }
    if !problems.is_empty() {
        text.push('\n');
        text.push_str(&problems);
    }
    let count = |status: Status| report.hosts.iter().filter(|h| h.result == status).count();
    let hosts = report.hosts.len();
    let _ = writeln!(
        text,
        "\n{hosts} host{}: {} passed, {} with warnings, {} failed ({elapsed:.1} s)",
        if hosts == 1 { "" } else { "s" },
        count(Status::Pass) + count(Status::Skip),
        count(Status::Warn),
        count(Status::Fail)
    );
    text
}

/// `text` with its control characters (a remote's escape sequences, line breaks) written as
/// escapes, so that what a remote says can neither drive the terminal nor forge a line.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// The report as JSON, one document.
pub fn json(report: &Report) -> String {
    serde_json::to_string_pretty(report).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(check: Check, status: Status) -> Finding {
        Finding {
            check,
            status,
            value: format!("{} value", check.name()),
            fix: (status >= Status::Warn).then(|| format!("fix {}", check.name())),
        }
    }

    fn sample() -> Report {
        let all = |status_of: &dyn Fn(Check) -> Status| {
            CHECKS.iter().map(|&c| finding(c, status_of(c))).collect()
        };
        Report::new(vec![
            HostReport::new("good".into(), 0.4, false, all(&|_| Status::Pass)),
            HostReport::new(
                "noisy-host".into(),
                1.0,
                false,
                all(&|c| match c {
                    Check::Quiet => Status::Fail,
                    Check::Git => Status::Warn,
                    Check::Htcondor | Check::Attach | Check::Sshd => Status::Skip,
                    _ => Status::Pass,
                }),
            ),
        ])
    }

    #[test]
    fn table_has_a_row_per_host_and_the_problems_under_it() {
        let text = table(&sample(), 1.04);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("HOST        reach  quiet  script  runtime"),
            "{text}"
        );
        assert!(
            lines[1].starts_with("good        ok     ok     ok      ok"),
            "{text}"
        );
        assert!(
            lines[2].starts_with("noisy-host  ok     FAIL   ok      ok"),
            "{text}"
        );
        assert!(
            lines[2].ends_with("ok       ok     -         -       -"),
            "{text}"
        );
        assert_eq!(lines[3], "");
        // A passing check's job shows too; a skipped one's does not.
        assert_eq!(lines[4], "good: slurm: slurm value");
        assert_eq!(lines[5], "good: htcondor: htcondor value");
        assert_eq!(lines[6], "good: attach: attach value");
        assert_eq!(lines[7], "noisy-host: slurm: slurm value");
        assert_eq!(lines[8], "noisy-host: quiet FAIL: quiet value");
        assert_eq!(lines[9], "    fix: fix quiet");
        assert_eq!(lines[10], "noisy-host: git warn: git value");
        assert_eq!(
            lines.last().unwrap(),
            &"2 hosts: 1 passed, 0 with warnings, 1 failed (1.0 s)"
        );
        let mut hostile = sample();
        hostile.hosts[1].checks[1].value = "\u{1b}]0;owned\u{7}x\nfake: ok".into();
        let shown = table(&hostile, 1.0);
        assert!(
            shown.contains(": \\u{1b}]0;owned\\u{7}x\\nfake: ok\n"),
            "{shown}"
        );
        let mut one = sample();
        one.hosts.truncate(1);
        assert!(
            table(&one, 0.5).ends_with("\n1 host: 1 passed, 0 with warnings, 0 failed (0.5 s)\n")
        );
    }

    #[test]
    fn json_names_each_field() {
        let value: serde_json::Value = serde_json::from_str(&json(&sample())).unwrap();
        assert_eq!(value["result"], "fail");
        let host = &value["hosts"][1];
        assert_eq!(host["host"], "noisy-host");
        assert_eq!(host["result"], "fail");
        assert_eq!(host["timed_out"], false);
        assert_eq!(host["checks"][1]["check"], "quiet");
        assert_eq!(host["checks"][1]["status"], "fail");
        assert_eq!(host["checks"][1]["fix"], "fix quiet");
        assert_eq!(host["checks"][0]["fix"], serde_json::Value::Null);
        assert_eq!(host["checks"][8]["check"], "sftp_server");
    }
}
