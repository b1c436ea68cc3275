//! The names of what the doctor's probe finds: one line `cssh-doctor<TAB>KEY<TAB>VALUE` per
//! fact. A leaf: the probe and each scheduler's steps write facts, the doctor reads them.

/// The first word of every fact line.
pub const MARK: &str = "cssh-doctor";

/// What the probe reports, by the key it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fact {
    /// The script started (value empty).
    Begin,
    /// `$SHELL` of the ssh session: the login shell.
    LoginShell,
    /// The session's line where the runtime lookup failed.
    RuntimeError,
    /// Where the prelude failed: its own first error line (a module system's `unknown`, a
    /// shell's `not found`), or empty.
    PreludeSaid,
    RuntimePath,
    /// The runtime's `--version`, first line.
    RuntimeVersion,
    /// `running`, `stale` (running, started with another image, binds or options) or `stopped`.
    Instance,
    /// After the session: how commands enter the instance, `namespaces` or `runtime (WHY)`.
    InstanceJoin,
    /// The session's line where the image check failed.
    ImageError,
    /// A bind source that does not exist on the remote (one fact each).
    BindMissing,
    SbatchPath,
    SrunPath,
    /// The partitions sinfo lists, separated by spaces.
    Partitions,
    /// The allocation's job: `ID STATE NODES TIME_LEFT REASON`, or empty.
    Job,
    /// The last stderr line of the Slurm stage, where it failed.
    SlurmError,
    CondorSubmitPath,
    CondorSshToJobPath,
    /// What condor_status lists: `SLOTS CONTAINER_SLOTS`, or its error line after `error `.
    Pool,
    /// The host's HTCondor job: `ID STATUS SLOT`, or empty.
    CondorJob,
    /// Why the host's idle HTCondor job does not run (`cssh_idle_why`), or empty.
    CondorIdle,
    /// The last stderr line of the HTCondor stage, where it failed.
    HtcondorError,
    /// The session's last stderr line when it did not run the inside probe.
    StartError,
    /// Milliseconds from the session's start to its end.
    StartMs,
    /// Inside the image: the shell a session runs (`$SHELL` as the session set it).
    Shell,
    /// `yes` when that shell is executable in the image.
    ShellRuns,
    /// The image's sftp-server, or empty.
    SftpServer,
    Scp,
    Rsync,
    Git,
    Bash,
    Tar,
    /// `getconf GNU_LIBC_VERSION` in the image, e.g. `glibc 2.36`.
    Glibc,
    /// Inside the image: how many user ids the container's user namespace maps (the third
    /// field of /proc/self/uid_map); all of them (4294967295) where the runtime made none, as
    /// setuid Apptainer does.
    UidsMapped,
    /// The inside probe finished (value empty).
    End,
    /// The job an attached host enters and its node: `ID NODE`.
    AttachJob,
    /// What a step of that job found on its node: `IMAGE<TAB>ENTER` (`yes`, `yes (instance
    /// NAME)` or `no (WHY)`).
    AttachContainer,
    /// The session's line where the job could not be had.
    AttachError,
    /// The sshd a job's sshd would be, found on the login node, or empty.
    SshdPath,
    /// The job sshd's key directory: `ok`, `none` (not made yet), `writable PATH` (a directory
    /// up to it that others could write, where sshd refuses keys) or `notyours PATH`.
    SshdKeys,
    /// The job sshd's host key there (`TYPE BASE64`).
    SshdHostKey,
    /// `yes` where it admits this machine's key.
    SshdAdmits,
}

const KEYS: &[(Fact, &str)] = &[
    (Fact::Begin, "begin"),
    (Fact::LoginShell, "login_shell"),
    (Fact::RuntimeError, "runtime_error"),
    (Fact::PreludeSaid, "prelude_said"),
    (Fact::RuntimePath, "runtime_path"),
    (Fact::RuntimeVersion, "runtime_version"),
    (Fact::Instance, "instance"),
    (Fact::InstanceJoin, "instance_join"),
    (Fact::ImageError, "image_error"),
    (Fact::BindMissing, "bind_missing"),
    (Fact::SbatchPath, "sbatch"),
    (Fact::SrunPath, "srun"),
    (Fact::Partitions, "partitions"),
    (Fact::Job, "job"),
    (Fact::SlurmError, "slurm_error"),
    (Fact::CondorSubmitPath, "condor_submit"),
    (Fact::CondorSshToJobPath, "condor_ssh_to_job"),
    (Fact::Pool, "pool"),
    (Fact::CondorJob, "condor_job"),
    (Fact::CondorIdle, "condor_idle"),
    (Fact::HtcondorError, "htcondor_error"),
    (Fact::StartError, "start_error"),
    (Fact::StartMs, "start_ms"),
    (Fact::Shell, "shell"),
    (Fact::ShellRuns, "shell_runs"),
    (Fact::SftpServer, "sftp_server"),
    (Fact::Scp, "scp"),
    (Fact::Rsync, "rsync"),
    (Fact::Git, "git"),
    (Fact::Bash, "bash"),
    (Fact::Tar, "tar"),
    (Fact::Glibc, "glibc"),
    (Fact::UidsMapped, "uids_mapped"),
    (Fact::End, "end"),
    (Fact::AttachJob, "attach_job"),
    (Fact::AttachContainer, "attach_container"),
    (Fact::AttachError, "attach_error"),
    (Fact::SshdPath, "sshd_path"),
    (Fact::SshdKeys, "sshd_keys"),
    (Fact::SshdHostKey, "sshd_host_key"),
    (Fact::SshdAdmits, "sshd_admits"),
];

impl Fact {
    pub fn key(self) -> &'static str {
        KEYS.iter()
            .find(|(fact, _)| *fact == self)
            .map_or("", |(_, key)| key)
    }

    /// A fact line's key and value, where the line is one.
    pub fn parse(line: &str) -> Option<(Fact, &str)> {
        let mut fields = line.strip_prefix(MARK)?.strip_prefix('\t')?.splitn(2, '\t');
        let key = fields.next()?;
        let fact = KEYS.iter().find(|(_, k)| *k == key)?.0;
        Some((fact, fields.next().unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fact_has_one_key() {
        for (fact, key) in KEYS {
            assert_eq!(fact.key(), *key);
            assert_eq!(KEYS.iter().filter(|(_, k)| k == key).count(), 1, "{key}");
            let line = format!("{MARK}\t{key}\tsome value");
            assert_eq!(Fact::parse(&line), Some((*fact, "some value")));
        }
        assert_eq!(Fact::parse("cssh-doctor\tbegin"), Some((Fact::Begin, "")));
        assert_eq!(Fact::parse("cssh-doctor\tnosuch\tx"), None);
        assert_eq!(Fact::parse("hello from .bashrc"), None);
    }
}
