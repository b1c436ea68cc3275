//! What a remote script is written for: the host and its settings, where the session runs (and
//! the Slurm allocation or HTCondor job it may run in, as plain data), what runs inside the container, and the
//! exit status of a piece missing on the remote. A leaf: every step of the script reads it.

use crate::settings::{Attach, Settings};

/// Exit status when the runtime, the image, a shell or sftp-server is missing on the remote:
/// 127, the shell's "command not found".
pub const MISSING_ON_REMOTE: u8 = 127;

/// Where the OpenSSH packages of the common distributions install sftp-server.
pub const SFTP_SERVER_PATHS: &[&str] = &[
    "/usr/lib/openssh/sftp-server",
    "/usr/libexec/openssh/sftp-server",
    "/usr/lib/ssh/sftp-server",
    "/usr/libexec/sftp-server",
    "/usr/lib/sftp-server",
];

/// What runs inside the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload<'a> {
    /// The command string exactly as ssh would have sent it, run by the image's `/bin/sh -c`.
    Command(&'a [u8]),
    /// An interactive login shell.
    Shell,
    /// The image's sftp-server, for the `sftp` subsystem.
    Sftp,
    /// A program of the image with the arguments that follow the script on the remote command
    /// line, as the remote login shell split them: what `rsync --rsync-path` appends to.
    Arguments(&'a str),
    /// What a plain SSH client asked the sshd that cssh starts for it (`cssh --proxy`): a
    /// command, a login shell or sftp, told at run time by `$cssh_oc` (see `sshd::CLIENT`).
    Client,
}

/// The host and settings a script is written for.
#[derive(Clone)]
pub struct Target<'a> {
    /// The host as the user typed it, for messages.
    pub host: &'a str,
    pub image: &'a str,
    pub settings: &'a Settings,
    /// Where a user would fix a missing runtime, for messages.
    pub config_file: &'a str,
    /// Where the session runs.
    pub place: Place,
    /// The variables ssh sends for the session besides [`SESSION_VARIABLES`] (SendEnv, SetEnv).
    pub sent: &'a [String],
    /// The file on the remote that holds the prelude and `env`'s values (see `values`), where
    /// the host sets either.
    pub values: Option<Stored<'a>>,
}

/// The host's values on the remote: the file's name there, and the name of this machine's
/// record that they went (a session that does not find them names it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored<'a> {
    pub name: &'a str,
    pub record: &'a str,
}

/// Where a session runs: on the host ssh reaches, or in a batch job, reached one way. The two
/// axes are apart: which job (the scheduler, and the host's own job or one attached to) and
/// how a session gets there ([`Way`]), so that a new way in, or a new scheduler, is one module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// On the host ssh reaches.
    Here,
    /// In a batch job.
    Job(Job, Way),
}

/// Which batch job a session runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// The host's own job, found or submitted: a Slurm allocation or an HTCondor job.
    Own(HostJob),
    /// A running job of this user's, attached to: its own container is entered.
    Attached(Scheduler, Attach),
    /// A running job of this user's, attached to on whichever of the login node's schedulers
    /// has it (the host names neither, and both reach their jobs the same way): the script
    /// asks both (`scheduler::either`), then goes on as for that one.
    AttachedEither(Attach),
}

/// The batch schedulers a job can be under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheduler {
    Slurm,
    Htcondor,
}

/// How a session gets into its job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    /// Through the scheduler's own channel from the login node, in the same ssh connection: a
    /// step (`srun --jobid=J --overlap`), or `condor_ssh_to_job`.
    Channel,
    /// By ssh to the job's node through the login node (`-J`), to the node's own sshd: a first
    /// connection finds the job and names its node (Slurm).
    NodeSsh,
    /// By ssh to a private sshd in the job, started as the user through the scheduler's channel
    /// by ssh's ProxyCommand: the job is the ssh destination.
    Sshd,
}

impl Job {
    /// The job's scheduler, where it is known before the script runs.
    pub fn scheduler(&self) -> Option<Scheduler> {
        match self {
            Job::Own(HostJob::Slurm(_)) => Some(Scheduler::Slurm),
            Job::Own(HostJob::Htcondor(_)) => Some(Scheduler::Htcondor),
            Job::Attached(scheduler, _) => Some(*scheduler),
            Job::AttachedEither(_) => None,
        }
    }
}

impl Place {
    /// A step of the host's own Slurm allocation, started from the login node: where the
    /// runtime itself is what `srun` starts.
    pub fn is_step(&self) -> bool {
        matches!(self, Place::Job(Job::Own(HostJob::Slurm(_)), Way::Channel))
    }
}

impl Target<'_> {
    /// A message for the user about this host.
    pub(super) fn say(&self, what: &str) -> String {
        format!("cssh: {}: {what}", self.host)
    }
}

/// The batch job a host's sessions run in, where its settings give it one: what the doctor
/// reads of the host's scheduler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostJob {
    Slurm(Allocation),
    Htcondor(CondorJob),
}

/// The time limit of an allocation whose options set none: never the partition's maximum.
pub const DEFAULT_TIME_LIMIT: &str = "1:00:00";

/// A host's Slurm allocation, as a script needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    /// The job's name: `cssh-` and the host in lower case.
    pub job_name: String,
    /// sbatch's options, with the default time limit where they set none.
    pub sbatch_options: Vec<String>,
    /// The options as configured, and where: `slurm = ["-p", "gpu"] in FILE:LINE`, for messages.
    pub configured: String,
    /// `slurm_idle` in seconds: the allocation ends itself after this long with no session.
    pub idle: Option<u64>,
    /// The user's stderr is a terminal: show one updating line while the job is pending.
    pub progress: bool,
}

impl Allocation {
    /// The partition the options ask for (`-p P`, `-pP`, `--partition=P`, `--partition P`).
    pub fn partition(&self) -> Option<&str> {
        let mut words = self.sbatch_options.iter();
        while let Some(word) = words.next() {
            if let Some(value) = word.strip_prefix("--partition=") {
                return Some(value);
            }
            if word == "--partition" || word == "-p" {
                return words.next().map(String::as_str);
            }
            if let Some(value) = word.strip_prefix("-p") {
                return Some(value);
            }
        }
        None
    }
}

/// How long a host's HTCondor job holds its slot where the submit lines set no
/// `allowed_job_duration`, in seconds: as long as a Slurm allocation's default.
pub const DEFAULT_JOB_DURATION: u32 = 3600;

/// A host's HTCondor job, as a script needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CondorJob {
    /// The job's batch name: `cssh-` and the host in lower case.
    pub batch_name: String,
    /// The submit description, `queue` last: cssh's lines, then the configured ones, which win.
    pub description: Vec<String>,
    /// Where the lines are configured (`FILE:LINE`), for messages.
    pub configured_at: String,
    /// The user's stderr is a terminal: show one updating line while the job is idle.
    pub progress: bool,
}

impl CondorJob {
    /// The job for `host` in `image`: a container-universe job whose program sleeps, so that
    /// the slot and the container stay while sessions come and go, for the time limit.
    pub fn new(
        host: &str,
        image: &str,
        lines: &[String],
        configured_at: String,
        progress: bool,
    ) -> Self {
        let batch_name = format!("cssh-{}", host.to_ascii_lowercase());
        let sets = |command: &str| {
            lines.iter().any(|line| {
                line.split_once('=')
                    .is_some_and(|(key, _)| key.trim().eq_ignore_ascii_case(command))
            })
        };
        let mut description: Vec<String> = [
            "universe = container".to_string(),
            format!("container_image = {image}"),
            // The image is on a shared filesystem, as the session's own: never copied.
            "transfer_container = false".into(),
            "should_transfer_files = NO".into(),
            "transfer_executable = false".into(),
            "executable = /bin/sleep".into(),
            "arguments = 2147483647".into(),
            format!("batch_name = {batch_name}"),
            "output = /dev/null".into(),
            "error = /dev/null".into(),
        ]
        .into();
        if !sets("allowed_job_duration") {
            description.push(format!("allowed_job_duration = {DEFAULT_JOB_DURATION}"));
        }
        description.extend(lines.iter().cloned());
        description.push("queue".into());
        CondorJob {
            batch_name,
            description,
            configured_at,
            progress,
        }
    }
}

impl Allocation {
    /// `configured_at`: where the options are configured (`FILE:LINE`).
    pub fn new(host: &str, options: &[String], configured_at: &str, progress: bool) -> Self {
        let sets_time = options
            .iter()
            .any(|o| o.starts_with("--time") || (o.starts_with("-t") && !o.starts_with("--")));
        let mut sbatch_options = options.to_vec();
        if !sets_time {
            sbatch_options.insert(0, format!("--time={DEFAULT_TIME_LIMIT}"));
        }
        let written: Vec<String> = options
            .iter()
            .map(|o| toml::Value::String(o.clone()).to_string())
            .collect();
        Allocation {
            job_name: format!("cssh-{}", host.to_ascii_lowercase()),
            sbatch_options,
            configured: format!("slurm = [{}] in {configured_at}", written.join(", ")),
            idle: None,
            progress,
        }
    }
}
