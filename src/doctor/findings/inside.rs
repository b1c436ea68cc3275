//! The doctor's checks of what a session meets inside: the job attached to (found, running,
//! its container enterable) and the image's own programs (the login shell, sftp-server, the
//! transfer tools, a C library an editor's server can run on), judged from the probe's facts.

use super::{Check, Facts, Places, Status, VSCODE_GLIBC, glibc_version, without_prefix};
use crate::plan::Probe;
use crate::remote::facts::Fact;

/// The attach check: the job found and running on the login node, its container found by a
/// step on its node, and whether a session can enter it.
pub(super) fn judge_attach(
    facts: &Facts,
    probe: &Probe,
    places: &Places,
) -> (Status, String, Option<String>) {
    let at = places.at(probe.settings.lines.attach);
    let list = format!(
        "`cssh --attach list {}` lists your running jobs",
        probe.host
    );
    if let Some(error) = facts.get(Fact::AttachError) {
        return (
            Status::Fail,
            without_prefix(error, &probe.host),
            Some(format!("{list}; change attach in {at}")),
        );
    }
    let (Some(job), Some(found)) = (facts.get(Fact::AttachJob), facts.get(Fact::AttachContainer))
    else {
        return (Status::Fail, "the probe did not finish".into(), Some(list));
    };
    let (id, node) = job.split_once(' ').unwrap_or((job, "?"));
    let (image, enter) = found.split_once('\t').unwrap_or((found, ""));
    let value = format!("job {id} on {node}: {image}, {enter}");
    let fix = match enter {
        _ if enter.starts_with("yes") => return (Status::Pass, value, None),
        "no (no container)" => format!(
            "the job runs no container: name a job that does in attach in {at} ({list})"
        ),
        "no (setuid Apptainer)" => "the job's container has no user namespace: start it with --userns, or as an instance that apptainer exec instance:// joins".into(),
        "no (no nsenter)" => format!("install util-linux 2.26 or later on {node}"),
        _ => format!("a step of the job did not start on {node}: {list}"),
    };
    (Status::Fail, value, Some(fix))
}

/// The checks inside the image: the shell, what sftp, scp, rsync and git run, VS Code's server.
pub(super) fn judge_inside(
    facts: &Facts,
    probe: &Probe,
    places: &Places,
    login_shell: &str,
    add: &mut dyn FnMut(Check, Status, String, Option<String>),
) {
    let lines = &probe.settings.lines;
    let shell = facts.get(Fact::Shell).unwrap_or_default();
    let runs = facts.get(Fact::ShellRuns) == Some("yes");
    match (&probe.settings.shell, runs) {
        (Some(_), true) => add(Check::Shell, Status::Pass, shell.into(), None),
        (Some(configured), false) => add(
            Check::Shell,
            Status::Fail,
            format!("no {configured} in the image"),
            Some(format!(
                "set shell in {} to a shell the image has",
                places.at(lines.shell)
            )),
        ),
        (None, _) if shell == login_shell => {
            add(
                Check::Shell,
                Status::Pass,
                format!("{shell} (the login shell)"),
                None,
            );
        }
        (None, _) => add(
            Check::Shell,
            Status::Warn,
            format!("the login shell {login_shell} is not in the image: sessions run {shell}"),
            Some(format!(
                "install it in the image, or set shell = \"{shell}\" in {}",
                places.at(0)
            )),
        ),
    }
    match facts.get(Fact::SftpServer).filter(|p| !p.is_empty()) {
        Some(path) => add(Check::SftpServer, Status::Pass, path.into(), None),
        None => add(
            Check::SftpServer,
            Status::Fail,
            match &probe.settings.sftp_server {
                Some(path) => format!("no {path} in the image"),
                None => "no sftp-server in the image".into(),
            },
            Some(format!(
                "set sftp_server = \"/path/in/the/image\" in {}, or install openssh-sftp-server in the image (sftp, sshfs and scp without -O need it)",
                places.at(lines.sftp_server)
            )),
        ),
    }
    for (check, fact, what, fix) in [
        (
            Check::Scp,
            Fact::Scp,
            "scp",
            "only scp -O needs it: install openssh-client in the image",
        ),
        (
            Check::Rsync,
            Fact::Rsync,
            "rsync",
            "install rsync in the image: rsync over cssh runs the image's rsync",
        ),
        (
            Check::Git,
            Fact::Git,
            "git",
            "install git in the image: git over cssh runs the image's git-upload-pack",
        ),
    ] {
        match facts.get(fact).filter(|p| !p.is_empty()) {
            Some(path) => add(check, Status::Pass, path.into(), None),
            None => add(
                check,
                Status::Warn,
                format!("no {what} in the image"),
                Some(fix.into()),
            ),
        }
    }
    let glibc = facts.get(Fact::Glibc).unwrap_or_default();
    let mut lacks = Vec::new();
    match glibc_version(glibc) {
        Some(version) if version >= VSCODE_GLIBC => {}
        Some(_) => lacks.push(format!("{glibc} is older than 2.28")),
        None => lacks.push("no glibc".into()),
    }
    for (fact, what) in [(Fact::Bash, "bash"), (Fact::Tar, "tar")] {
        if facts.get(fact).is_none_or(str::is_empty) {
            lacks.push(format!("no {what}"));
        }
    }
    if let Some(stays) = &probe.forwards_stay {
        // VS Code's server runs, but its tunnel (-D) ends on the login node, not in the job.
        add(
            Check::Vscode,
            Status::Warn,
            format!("its forwards end on the login node, not in the job ({stays})"),
            Some(
                "set it to \"sshd\" (the default), or \"ssh\" where you may ssh to your job's node"
                    .into(),
            ),
        );
    } else if lacks.is_empty() {
        add(
            Check::Vscode,
            Status::Pass,
            format!("{glibc}, bash, tar"),
            None,
        );
    } else {
        add(
            Check::Vscode,
            Status::Warn,
            lacks.join(", "),
            Some("VS Code's server needs glibc 2.28 or later, bash and tar in the image".into()),
        );
    }
}
