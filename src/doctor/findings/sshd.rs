//! The doctor's check of the way into a host's job by its own sshd: the sshd (on the login node:
//! a cluster's nodes run the same system, as a rule), the key directory on the cluster, which
//! sshd's StrictModes must accept, and the host key there against the one pinned here. Nothing
//! is made, pinned or entered.

use super::{Facts, Places, Status};
use crate::plan::Probe;
use crate::remote::KEY_DIR;
use crate::remote::facts::Fact;

/// The `sshd` check's status, value and fix.
pub(super) fn judge(
    facts: &Facts,
    probe: &Probe,
    places: &Places,
) -> (Status, String, Option<String>) {
    let Some(pin) = &probe.sshd else {
        return (Status::Skip, String::new(), None);
    };
    let (key, line) = match probe.settings.htcondor {
        Some(_) => ("htcondor_connect", probe.settings.lines.htcondor_connect),
        None => ("slurm_connect", probe.settings.lines.slurm_connect),
    };
    let channel = if key == "htcondor_connect" {
        "condor_ssh_to_job"
    } else {
        "srun"
    };
    let otherwise = format!(
        "or set {key} = \"{channel}\" in {} to enter jobs without it",
        places.at(line)
    );
    if let Some(error) = facts
        .get(Fact::SshdKeys)
        .filter(|_| facts.get(Fact::SshdPath).is_none())
    {
        return (Status::Fail, error.into(), None);
    }
    let Some(sshd) = facts.get(Fact::SshdPath) else {
        return (Status::Skip, String::new(), None);
    };
    if sshd.is_empty() {
        return (
            Status::Fail,
            "no sshd on the login node: the job's own sshd is OpenSSH's, started as you on the job's node".into(),
            Some(format!("install openssh-server on the cluster's nodes, {otherwise}")),
        );
    }
    let keys = facts.get(Fact::SshdKeys).unwrap_or_default();
    if let Some(path) = keys.strip_prefix("writable ") {
        return (
            Status::Fail,
            format!(
                "{path} is writable by others or not yours: sshd refuses keys under it (StrictModes)"
            ),
            Some(format!("chmod go-w {path}, {otherwise}")),
        );
    }
    if let Some(path) = keys.strip_prefix("notyours ") {
        return (
            Status::Fail,
            format!("{path} is not a directory of yours"),
            Some(format!(
                "remove it; the next connection makes {KEY_DIR} anew"
            )),
        );
    }
    let cluster = facts.get(Fact::SshdHostKey);
    let admitted = facts.get(Fact::SshdAdmits).is_some();
    match (&pin.pinned, cluster) {
        (Some((pinned, line)), Some(key)) if pinned == key => (
            Status::Pass,
            format!(
                "{sshd}; host key pinned ({}:{line}){}",
                pin.known_hosts,
                if admitted {
                    ", your key admitted"
                } else {
                    "; the next connection admits your key"
                }
            ),
            None,
        ),
        (Some((_, line)), Some(_)) => (
            Status::Fail,
            format!(
                "the host key in {KEY_DIR} on the cluster is not the one pinned in {}:{line}: connections are refused",
                pin.known_hosts
            ),
            Some(format!(
                "if you reset {KEY_DIR} there, remove the pin: ssh-keygen -R {} -f {}",
                pin.alias, pin.known_hosts
            )),
        ),
        (Some((_, line)), None) => (
            Status::Fail,
            format!(
                "no host key in {KEY_DIR} on the cluster, but one pinned in {}:{line}: the next connection makes another, which is refused",
                pin.known_hosts
            ),
            Some(format!(
                "remove the pin, and the next connection pins the new key: ssh-keygen -R {} -f {}",
                pin.alias, pin.known_hosts
            )),
        ),
        (None, _) => (
            Status::Pass,
            format!(
                "{sshd}; no host key pinned yet (the next connection pins the one the login node shows)"
            ),
            None,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{HEALTHY, by_check, judged, probe};
    use super::super::{Check, Status};
    use crate::plan::SshdPin;
    use crate::settings::Settings;

    fn sshd_finding(pinned: Option<&str>, facts: &[(&str, &str)]) -> (Status, String, String) {
        let mut p = probe(Settings {
            slurm: Some(Vec::new()),
            ..Settings::default()
        });
        p.sshd = Some(SshdPin {
            alias: "cssh-job-hpc".into(),
            known_hosts: "/k/known_hosts".into(),
            pinned: pinned.map(|key| (key.to_string(), 4)),
        });
        let all: Vec<(&str, &str)> = HEALTHY.iter().chain(facts).copied().collect();
        let f = by_check(&judged(&p, &all), Check::Sshd).clone();
        (f.status, f.value, f.fix.unwrap_or_default())
    }

    #[test]
    fn the_way_in_is_judged_by_sshd_the_key_directory_and_the_pin() {
        let found = |pinned, facts: &[(&str, &str)]| sshd_finding(pinned, facts);
        let pinned = Some("ssh-ed25519 AAAA");
        let ok = [
            ("sshd_path", "/usr/sbin/sshd"),
            ("sshd_keys", "ok"),
            ("sshd_host_key", "ssh-ed25519 AAAA"),
            ("sshd_admits", "yes"),
        ];
        assert_eq!(
            found(pinned, &ok),
            (
                Status::Pass,
                "/usr/sbin/sshd; host key pinned (/k/known_hosts:4), your key admitted".into(),
                String::new()
            )
        );
        let (status, value, fix) = found(pinned, &[("sshd_path", ""), ("sshd_keys", "none")]);
        assert_eq!(status, Status::Fail);
        assert!(value.starts_with("no sshd on the login node"), "{value}");
        assert!(fix.contains("slurm_connect = \"srun\""), "{fix}");
        let (status, value, fix) = found(
            pinned,
            &[
                ("sshd_path", "/usr/sbin/sshd"),
                ("sshd_keys", "writable /home/u"),
            ],
        );
        assert_eq!(status, Status::Fail);
        assert!(value.contains("StrictModes") && fix.starts_with("chmod go-w /home/u"));
        let changed = [
            ("sshd_path", "/usr/sbin/sshd"),
            ("sshd_keys", "ok"),
            ("sshd_host_key", "ssh-ed25519 BBBB"),
        ];
        let (status, value, fix) = found(pinned, &changed);
        assert_eq!(status, Status::Fail);
        assert!(
            value.contains("not the one pinned in /k/known_hosts:4"),
            "{value}"
        );
        assert_eq!(
            fix,
            "if you reset ~/.ssh/cssh there, remove the pin: ssh-keygen -R cssh-job-hpc -f /k/known_hosts"
        );
        let (status, value, _) = found(
            None,
            &[("sshd_path", "/usr/sbin/sshd"), ("sshd_keys", "none")],
        );
        assert_eq!(status, Status::Pass);
        assert!(value.contains("no host key pinned yet"), "{value}");
    }
}
