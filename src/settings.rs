//! Every per-host setting, declared once (`declare_settings!` below): its key, its value type
//! and its check. From that one declaration come the keys a `[[host]]` entry may hold, how a
//! value is read from TOML, the first-wins merge over the matching entries, and how `--explain`
//! writes a value back in the file's own syntax.
//!
//! A list is one value: [`Settings::fill_from`] takes it whole from the first entry that sets it.
//! Unlike ssh_config, which adds up `LocalForward` and `SendEnv` across Host blocks, a later
//! entry's `binds` never add to an earlier one's.

use toml::de::DeValue;

/// Declares the settings. Each line is `key: Type`, then optionally `, check = function` and
/// `, hint = "text"`; the type reads and writes itself ([`SettingValue`]), the check refuses
/// values the type allows, and the hint follows a value of the wrong type.
macro_rules! declare_settings {
    ($( $(#[doc = $doc:literal])* $key:ident: $ty:ty $(, check = $check:path)? $(, hint = $hint:literal)?; )*) => {
        /// The settings an entry sets, or a host resolves to; `None` where nothing sets one.
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct Settings {
            $( $(#[doc = $doc])* pub $key: Option<$ty>, )*
            /// The line of the file each set value was written on.
            pub lines: Lines,
        }

        /// A line number per setting (0 where unset).
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct Lines {
            $( pub $key: usize, )*
        }

        /// The keys a `[[host]]` entry may hold besides `pattern`, in the documentation's order.
        pub const KEYS: &[&str] = &[$(stringify!($key)),*];

        impl Settings {
            /// Sets `key` from its TOML value, written on `line`; `None` for an unknown key, else
            /// the reason the value is refused.
            pub fn set(&mut self, key: &str, value: &DeValue, line: usize) -> Option<Result<(), String>> {
                match key {
                    $( stringify!($key) => Some(
                        <$ty as SettingValue>::from_toml(value)
                            $( .map_err(|e| format!("{e} ({})", $hint)) )?
                            $( .and_then(|v| $check(&v).map(|()| v)) )?
                            .map(|v| {
                                self.$key = Some(v);
                                self.lines.$key = line;
                            }),
                    ), )*
                    _ => None,
                }
            }

            /// Takes each setting that is still unset here from `entry`.
            pub fn fill_from(&mut self, entry: &Settings) {
                $(
                    if self.$key.is_none() && entry.$key.is_some() {
                        self.$key.clone_from(&entry.$key);
                        self.lines.$key = entry.lines.$key;
                    }
                )*
            }

            /// Each set value as the configuration file writes it, with its line, in key order.
            pub fn written(&self) -> Vec<(&'static str, String, usize)> {
                let mut written = Vec::new();
                $(
                    if let Some(value) = &self.$key {
                        written.push((stringify!($key), value.to_toml().to_string(), self.lines.$key));
                    }
                )*
                written
            }
        }
    };
}

declare_settings! {
    /// The image on the remote, or `"none"` to switch the container off.
    image: Image, check = image_path;
    /// `auto`, or the program that runs containers.
    runtime: Runtime;
    /// Remote sh code run before the runtime is looked up. May be empty, which switches off the
    /// prelude of a later, broader entry.
    prelude: String;
    /// Each becomes `--bind VALUE`.
    binds: Vec<String>;
    /// Variables set inside the container.
    env: Vec<(String, String)>;
    /// What of the ssh session's environment comes in where the runtime would drop it.
    forward_env: ForwardEnv;
    /// Runtime arguments placed before the image.
    options: Vec<String>;
    /// The interactive shell inside the image.
    shell: String, check = non_empty;
    /// The image's sftp-server.
    sftp_server: String, check = non_empty;
    /// A persistent instance to join, started if it is not running.
    instance: String, check = instance_name;
    /// ControlPersist for connection reuse; unset, cssh leaves multiplexing alone.
    persist: String, check = persist_time, hint = "write \"yes\" or a time such as \"10m\"";
    /// sbatch options of the host's Slurm allocation; set, sessions run on its node.
    slurm: Vec<String>, check = sbatch_options;
    /// How long the allocation waits with no live session before it ends itself; unset, it
    /// lives to its time limit.
    slurm_idle: String, check = idle_time, hint = "write a time such as \"30m\", \"1h\" or \"90s\"";
    /// How sessions reach the allocation's node.
    slurm_connect: SlurmConnect;
    /// Where transfers run on a Slurm host.
    slurm_transfers: SlurmTransfers;
    /// Submit description lines of the host's HTCondor job; set, sessions run in it.
    htcondor: Vec<String>, check = submit_lines;
    /// How sessions reach the HTCondor job.
    htcondor_connect: HtcondorConnect;
    /// A running batch job of this user whose own container every session enters.
    attach: Attach;
}

/// Where the container runs: a path or URI on the remote, or none at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Image {
    None,
    Path(String),
}

/// What of the ssh session's environment comes into a container whose options drop the host's
/// (`--cleanenv`, `--containall`), and whether the agent's socket is bound in under `--contain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardEnv {
    /// What ssh set up for the session: its own variables, the terminal, the locale, the agent,
    /// X11, and what SendEnv and SetEnv send (`true`, the default).
    Session,
    /// Nothing (`false`).
    Off,
    /// Exactly these variables, where the session has them.
    Only(Vec<String>),
}

/// Which program runs containers on the remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runtime {
    /// apptainer, then singularity: whichever is first on PATH.
    Auto,
    /// Charliecloud's `ch-run`, on PATH (`charliecloud`).
    Charliecloud,
    /// A program, of Charliecloud's kind where it is named `ch-run`, else of Apptainer's (a
    /// module's apptainer, singularity).
    Program(String),
}

/// The kind of runtime a host's containers start with: how cssh writes the runtime's steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeKind {
    /// Apptainer or Singularity.
    Apptainer,
    /// Charliecloud's ch-run.
    Charliecloud,
}

impl Runtime {
    pub fn kind(&self) -> RuntimeKind {
        match self {
            Runtime::Charliecloud => RuntimeKind::Charliecloud,
            Runtime::Program(program) if program.rsplit('/').next() == Some("ch-run") => {
                RuntimeKind::Charliecloud
            }
            Runtime::Auto | Runtime::Program(_) => RuntimeKind::Apptainer,
        }
    }
}

impl Settings {
    /// The kind of the host's runtime (Apptainer's where `runtime` is unset).
    pub fn runtime_kind(&self) -> RuntimeKind {
        self.runtime
            .as_ref()
            .map_or(RuntimeKind::Apptainer, Runtime::kind)
    }
}

/// How sessions reach a Slurm allocation's node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlurmConnect {
    /// By ssh to a private sshd in the job, started through a step: the job is ssh's
    /// destination, and forwards end there (the default).
    Sshd,
    /// As a step (`srun --jobid=J --overlap`) started from the login node, in the same ssh
    /// connection.
    Srun,
    /// By ssh to the node through the login node (`-J`), for sites that let a user reach the
    /// node of their own job; forwards then end on the node.
    Ssh,
}

/// How sessions reach an HTCondor job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HtcondorConnect {
    /// By ssh to a private sshd in the job, started through condor_ssh_to_job (the default).
    Sshd,
    /// Each session through condor_ssh_to_job itself.
    CondorSshToJob,
}

/// Where transfers (sftp-server, scp, rsync, git) run on a Slurm host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlurmTransfers {
    /// On the login node, in the same image: no queue wait and no step in the data path; the
    /// filesystem a cluster shares with its nodes is the same.
    Login,
    /// As steps of the allocation, like commands.
    Job,
}

/// A running batch job to enter, by its id or by its name, and the step whose container to
/// enter: `4242`, `4242.3`, `train` (this user's newest running job of that name), or in a
/// configuration file also `{ name = "train", step = "0" }` for a name made of digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attach {
    pub job: JobRef,
    /// A step id (digits); `None`: the batch step's container, else the job's oldest.
    pub step: Option<String>,
}

/// How a job is named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobRef {
    /// The job id: digits.
    Id(String),
    /// This user's newest running job of this name.
    Name(String),
}

impl Attach {
    /// `JOB`, `JOB.STEP` or a job name, as `--attach` and `attach = "..."` take them.
    pub fn parse(text: &str) -> Result<Attach, String> {
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        match text.split_once('.') {
            _ if digits(text) => Ok(Attach {
                job: JobRef::Id(text.to_string()),
                step: None,
            }),
            Some((job, step)) if digits(job) && digits(step) => Ok(Attach {
                job: JobRef::Id(job.to_string()),
                step: Some(step.to_string()),
            }),
            Some((job, _)) if digits(job) => Err(format!(
                "{text:?}: a step is its number, as in \"{job}.0\" (the default is the batch step's container)"
            )),
            _ => Attach::by_name(text, None),
        }
    }

    fn by_name(name: &str, step: Option<String>) -> Result<Attach, String> {
        // The name travels into squeue's --name, which splits at commas.
        if name.is_empty() || name.contains(',') || name.chars().any(char::is_control) {
            return Err(format!(
                "{name:?}: a job id (4242), a step (4242.0) or a job name without commas or control characters"
            ));
        }
        Ok(Attach {
            job: JobRef::Name(name.to_string()),
            step,
        })
    }
}

impl SettingValue for Attach {
    fn from_toml(value: &DeValue) -> Result<Attach, String> {
        let DeValue::Table(table) = value else {
            return Attach::parse(&String::from_toml(value)?);
        };
        let mut name = None;
        let mut step = None;
        for (key, value) in table {
            let text = String::from_toml(value.get_ref())
                .map_err(|why| format!("{}: {why}", key.get_ref()))?;
            match key.get_ref().as_ref() {
                "name" => name = Some(text),
                "step" if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
                    step = Some(text);
                }
                "step" => return Err(format!("step {text:?}: a step is its number, as in \"0\"")),
                other => {
                    return Err(format!(
                        "unknown key {other:?} in attach: use name and step"
                    ));
                }
            }
        }
        let name = name.ok_or("a table names the job: { name = \"train\" }")?;
        Attach::by_name(&name, step)
    }

    fn to_toml(&self) -> toml::Value {
        match (&self.job, &self.step) {
            (JobRef::Id(id), None) => toml::Value::from(id.as_str()),
            (JobRef::Id(id), Some(step)) => toml::Value::from(format!("{id}.{step}")),
            (JobRef::Name(name), step) => {
                let mut table = toml::Table::new();
                table.insert("name".into(), toml::Value::from(name.as_str()));
                if let Some(step) = step {
                    table.insert("step".into(), toml::Value::from(step.as_str()));
                }
                toml::Value::Table(table)
            }
        }
    }
}

/// A setting's value type: how it reads from TOML (a refusal is a message for the user) and how
/// it is written back.
pub trait SettingValue: Sized + Clone {
    fn from_toml(value: &DeValue) -> Result<Self, String>;
    fn to_toml(&self) -> toml::Value;
}

/// A string that the remote can receive: anything but a NUL byte.
impl SettingValue for String {
    fn from_toml(value: &DeValue) -> Result<String, String> {
        let DeValue::String(text) = value else {
            return Err(format!("expected a string, found {}", value.type_str()));
        };
        if text.contains('\0') {
            return Err("contains a NUL byte, which nothing can carry to the remote".into());
        }
        Ok(text.to_string())
    }

    fn to_toml(&self) -> toml::Value {
        toml::Value::String(self.clone())
    }
}

/// A list of non-empty strings.
impl SettingValue for Vec<String> {
    fn from_toml(value: &DeValue) -> Result<Vec<String>, String> {
        let DeValue::Array(items) = value else {
            return Err(format!(
                "expected a list of strings, found {}",
                value.type_str()
            ));
        };
        items
            .iter()
            .map(|item| {
                let text = String::from_toml(item.get_ref())?;
                non_empty(&text).map(|()| text)
            })
            .collect()
    }

    fn to_toml(&self) -> toml::Value {
        toml::Value::Array(self.iter().map(String::to_toml).collect())
    }
}

/// A table of environment variables, in name order.
impl SettingValue for Vec<(String, String)> {
    fn from_toml(value: &DeValue) -> Result<Vec<(String, String)>, String> {
        let DeValue::Table(table) = value else {
            return Err(format!(
                "expected a table such as {{ NAME = \"value\" }}, found {}",
                value.type_str()
            ));
        };
        let mut variables = Vec::new();
        for (name, value) in table {
            let name = name.get_ref();
            if !is_env_name(name) {
                return Err(format!("{name:?} is not a valid variable name"));
            }
            let value =
                String::from_toml(value.get_ref()).map_err(|why| format!("{name}: {why}"))?;
            variables.push((name.to_string(), value));
        }
        variables.sort();
        Ok(variables)
    }

    fn to_toml(&self) -> toml::Value {
        toml::Value::Table(
            self.iter()
                .map(|(name, value)| (name.clone(), value.to_toml()))
                .collect(),
        )
    }
}

impl SettingValue for ForwardEnv {
    fn from_toml(value: &DeValue) -> Result<ForwardEnv, String> {
        match value {
            DeValue::Boolean(true) => Ok(ForwardEnv::Session),
            DeValue::Boolean(false) => Ok(ForwardEnv::Off),
            DeValue::Array(_) => {
                let names = Vec::<String>::from_toml(value)?;
                match names.iter().find(|name| !is_env_name(name)) {
                    Some(name) => Err(format!("{name:?} is not a valid variable name")),
                    None => Ok(ForwardEnv::Only(names)),
                }
            }
            _ => Err(format!(
                "expected true, false or a list of variable names, found {}",
                value.type_str()
            )),
        }
    }

    fn to_toml(&self) -> toml::Value {
        match self {
            ForwardEnv::Session => toml::Value::Boolean(true),
            ForwardEnv::Off => toml::Value::Boolean(false),
            ForwardEnv::Only(names) => names.to_toml(),
        }
    }
}

impl SettingValue for Image {
    fn from_toml(value: &DeValue) -> Result<Image, String> {
        Ok(text_or_keyword(value, "none")?.map_or(Image::None, Image::Path))
    }

    fn to_toml(&self) -> toml::Value {
        match self {
            Image::None => toml::Value::from("none"),
            Image::Path(path) => path.to_toml(),
        }
    }
}

impl SettingValue for Runtime {
    fn from_toml(value: &DeValue) -> Result<Runtime, String> {
        Ok(match text_or_keyword(value, "auto")? {
            None => Runtime::Auto,
            Some(keyword) if keyword == "charliecloud" => Runtime::Charliecloud,
            Some(program) => Runtime::Program(program),
        })
    }

    fn to_toml(&self) -> toml::Value {
        match self {
            Runtime::Auto => toml::Value::from("auto"),
            Runtime::Charliecloud => toml::Value::from("charliecloud"),
            Runtime::Program(program) => program.to_toml(),
        }
    }
}

impl SettingValue for SlurmConnect {
    fn from_toml(value: &DeValue) -> Result<SlurmConnect, String> {
        one_of(
            value,
            &[
                ("sshd", SlurmConnect::Sshd),
                ("srun", SlurmConnect::Srun),
                ("ssh", SlurmConnect::Ssh),
            ],
        )
    }

    fn to_toml(&self) -> toml::Value {
        toml::Value::from(match self {
            SlurmConnect::Sshd => "sshd",
            SlurmConnect::Srun => "srun",
            SlurmConnect::Ssh => "ssh",
        })
    }
}

impl SettingValue for HtcondorConnect {
    fn from_toml(value: &DeValue) -> Result<HtcondorConnect, String> {
        one_of(
            value,
            &[
                ("sshd", HtcondorConnect::Sshd),
                ("condor_ssh_to_job", HtcondorConnect::CondorSshToJob),
            ],
        )
    }

    fn to_toml(&self) -> toml::Value {
        toml::Value::from(match self {
            HtcondorConnect::Sshd => "sshd",
            HtcondorConnect::CondorSshToJob => "condor_ssh_to_job",
        })
    }
}

impl SettingValue for SlurmTransfers {
    fn from_toml(value: &DeValue) -> Result<SlurmTransfers, String> {
        one_of(
            value,
            &[
                ("login", SlurmTransfers::Login),
                ("job", SlurmTransfers::Job),
            ],
        )
    }

    fn to_toml(&self) -> toml::Value {
        toml::Value::from(match self {
            SlurmTransfers::Login => "login",
            SlurmTransfers::Job => "job",
        })
    }
}

/// The choice a string names.
fn one_of<T: Copy>(value: &DeValue, choices: &[(&str, T)]) -> Result<T, String> {
    let text = String::from_toml(value)?;
    let names: Vec<String> = choices
        .iter()
        .map(|(name, _)| format!("{name:?}"))
        .collect();
    choices
        .iter()
        .find(|(name, _)| *name == text)
        .map(|(_, choice)| *choice)
        .ok_or_else(|| format!("{text:?}: use {}", names.join(" or ")))
}

/// A non-empty string, or `None` for the one that is `keyword`.
fn text_or_keyword(value: &DeValue, keyword: &str) -> Result<Option<String>, String> {
    let text = String::from_toml(value)?;
    non_empty(&text)?;
    Ok((text != keyword).then_some(text))
}

fn non_empty(text: &str) -> Result<(), String> {
    if text.is_empty() {
        return Err("is empty".into());
    }
    Ok(())
}

/// An image path is used as written on the remote, where no shell expands a `~` in it.
fn image_path(image: &Image) -> Result<(), String> {
    match image {
        Image::Path(path) if path.starts_with('~') => Err(format!(
            "{path:?}: the remote takes the path as written and does not expand ~; write it in full (\"/home/you/{}\")",
            path.split_once('/').map_or("", |(_, rest)| rest)
        )),
        Image::Path(path) if path.chars().any(char::is_control) => Err(format!(
            "{path:?}: a control character in an image (a line break would add lines to an HTCondor job's description)"
        )),
        _ => Ok(()),
    }
}

/// sbatch's short options that take a value (`-p gpu`, `-pgpu`): a letter after one of them
/// in the same word is the value's.
const SBATCH_VALUED: &str = "AabBcCdDeFGiJkLmMnNopqStwx";

/// sbatch options, which come after cssh's own: none may rename the job (`-J`, `--job-name`),
/// or cssh would never find or release it again.
fn sbatch_options(options: &[String]) -> Result<(), String> {
    for option in options {
        let renames = match option.strip_prefix("--") {
            Some(long) => {
                let name = long.split_once('=').map_or(long, |(name, _)| name);
                name.len() >= 2 && "job-name".starts_with(name)
            }
            None => option.strip_prefix('-').is_some_and(|short| {
                short
                    .chars()
                    .find(|c| SBATCH_VALUED.contains(*c))
                    .is_some_and(|c| c == 'J')
            }),
        };
        if renames {
            return Err(format!(
                "{option:?}: cssh names the job itself (cssh-HOST, how it finds and releases it); leave the job name out"
            ));
        }
    }
    Ok(())
}

/// The attributes of an HTCondor job that cssh sets and finds it by: its batch name and the
/// mark of a job whose container is ready.
const CONDOR_OWN: &[&str] = &[
    "batch_name",
    "+jobbatchname",
    "my.jobbatchname",
    "+csshready",
    "my.csshready",
];

/// Submit description lines, one command each: cssh writes the job's own lines before them and
/// `queue` after, so a line may change any of cssh's but not add jobs or lines.
fn submit_lines(lines: &[String]) -> Result<(), String> {
    for line in lines {
        if line.contains(['\n', '\r']) {
            return Err(format!(
                "{line:?}: one submit command per string, without line breaks"
            ));
        }
        let command = line.trim_start().to_ascii_lowercase();
        let key = command
            .split_once('=')
            .map_or("", |(key, _)| key.trim_end());
        if CONDOR_OWN.contains(&key) {
            return Err(format!(
                "{line:?}: cssh sets the job's batch name (cssh-HOST) and CsshReady itself, to find and release it; leave them out"
            ));
        }
        if command == "queue" || command.starts_with("queue ") || command.starts_with("queue\t") {
            return Err(format!(
                "{line:?}: cssh queues the job itself; leave queue out"
            ));
        }
    }
    Ok(())
}

/// Instance names travel into `instance://NAME` and the runtime's state paths: Apptainer's own
/// characters, and a letter, digit or '_' first, since a leading '.' makes a path of its state
/// directory (`..` puts it outside the user's, where `instance list` never looks) and a leading
/// '-' is read as an option by `apptainer instance stop`.
fn instance_name(name: &str) -> Result<(), String> {
    non_empty(name)?;
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err(format!(
            "{name:?}: use only letters, digits, '.', '_' and '-'"
        ));
    }
    if name.starts_with(['.', '-']) {
        return Err(format!(
            "{name:?}: start with a letter, digit or '_' (Apptainer takes a leading '.' as a path and a leading '-' as an option)"
        ));
    }
    Ok(())
}

/// ControlPersist's values that keep a master: `yes`, or an ssh time (`600`, `10m`, `1h30m`).
fn persist_time(value: &str) -> Result<(), String> {
    if value == "yes" || seconds(value).is_some() {
        return Ok(());
    }
    Err(format!(
        "{value:?}: use \"yes\" or a time such as \"10m\", \"1h30m\" or \"600\""
    ))
}

fn idle_time(value: &str) -> Result<(), String> {
    match seconds(value) {
        Some(0) => Err(format!(
            "{value:?}: an idle time of 0 would end every allocation at once"
        )),
        Some(_) => Ok(()),
        None => Err(format!(
            "{value:?}: use a time such as \"30m\", \"1h30m\" or \"90s\" (a bare number is seconds)"
        )),
    }
}

/// A time as sshd_config(5) writes one (ControlPersist's): digits, each run closed by an
/// optional unit (s, m, h, d, w; none is seconds), summed: `1h30m` is 5400.
pub fn seconds(value: &str) -> Option<u64> {
    if !value.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let (mut total, mut run) = (0u64, 0u64);
    let mut digits = false;
    for c in value.chars() {
        if let Some(digit) = c.to_digit(10) {
            run = run.checked_mul(10)?.checked_add(u64::from(digit))?;
            digits = true;
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return None,
        };
        if !digits {
            return None;
        }
        total = total.checked_add(run.checked_mul(unit)?)?;
        (run, digits) = (0, false);
    }
    total.checked_add(run)
}

/// A name sh takes as a variable's: a letter or `_`, then letters, digits and `_`.
pub fn is_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_sshd_config_writes_them() {
        for (value, expected) in [
            ("600", Some(600)),
            ("90s", Some(90)),
            ("30m", Some(1800)),
            ("1h30m", Some(5400)),
            ("1H5", Some(3605)),
            ("2d1w", Some(777_600)),
            ("m10", None),
            ("10mm", None),
            ("", None),
            ("10 m", None),
            ("99999999999999999999", None),
        ] {
            assert_eq!(seconds(value), expected, "{value:?}");
        }
        let set = |toml: &str| {
            let value = toml::de::DeValue::parse(toml).unwrap();
            Settings::default().set("slurm_idle", value.get_ref(), 1)
        };
        assert_eq!(set("\"30m\""), Some(Ok(())));
        assert!(set("\"0\"").unwrap().unwrap_err().contains("at once"));
        assert!(
            set("\"yes\"")
                .unwrap()
                .unwrap_err()
                .contains("a bare number is seconds")
        );
    }

    #[test]
    fn values_are_checked_by_their_type_and_key() {
        let set = |key: &str, toml: &str| {
            let value = toml::de::DeValue::parse(toml).unwrap();
            Settings::default().set(key, value.get_ref(), 1)
        };
        assert_eq!(set("imgae", "\"x\""), None);
        assert_eq!(set("image", "\"x\""), Some(Ok(())));
        assert_eq!(
            set("image", "3"),
            Some(Err("expected a string, found integer".into()))
        );
        assert_eq!(set("image", "\"\""), Some(Err("is empty".into())));
        assert_eq!(set("prelude", "\"\""), Some(Ok(())));
        assert!(set("binds", "[\"\"]").unwrap().is_err());
        assert!(
            set("binds", "[\"a\\u0000\"]")
                .unwrap()
                .unwrap_err()
                .contains("NUL")
        );
        assert!(
            set("env", "{ \"A B\" = \"1\" }")
                .unwrap()
                .unwrap_err()
                .contains("\"A B\" is not")
        );
        assert!(
            set("instance", "\"x;y\"")
                .unwrap()
                .unwrap_err()
                .starts_with("\"x;y\": use only")
        );
        for bad in ["..", ".", ".hidden", "-nt", "--x"] {
            assert!(
                set("instance", &format!("{bad:?}"))
                    .unwrap()
                    .unwrap_err()
                    .contains("start with a letter, digit or '_'"),
                "{bad}"
            );
        }
        for good in ["dev", "e2e1", "_x", "a.b-c_d", "9"] {
            assert_eq!(
                set("instance", &format!("{good:?}")),
                Some(Ok(())),
                "{good}"
            );
        }
        assert_eq!(
            set("persist", "true"),
            Some(Err(
                "expected a string, found boolean (write \"yes\" or a time such as \"10m\")".into()
            ))
        );
        for good in ["yes", "600", "10m", "1h30m", "2D"] {
            assert_eq!(set("persist", &format!("{good:?}")), Some(Ok(())), "{good}");
        }
        assert_eq!(
            set("image", "\"~/img/el9.sif\""),
            Some(Err("\"~/img/el9.sif\": the remote takes the path as written and does not expand ~; write it in full (\"/home/you/img/el9.sif\")".into()))
        );
        assert_eq!(set("image", "\"docker://alpine\""), Some(Ok(())));
        assert_eq!(set("slurm_connect", "\"ssh\""), Some(Ok(())));
        assert_eq!(
            set("htcondor", "[\"request_cpus = 4\", \"queue_x = 1\"]"),
            Some(Ok(()))
        );
        for bad in ["queue", " Queue 3", "a = 1\nqueue"] {
            assert!(
                set("htcondor", &format!("[{bad:?}]")).unwrap().is_err(),
                "{bad}"
            );
        }
        for bad in [
            "batch_name = x",
            " Batch_Name=x",
            "+JobBatchName = \"x\"",
            "MY.JobBatchName = \"x\"",
            "+CsshReady = true",
        ] {
            assert!(
                set("htcondor", &format!("[{bad:?}]"))
                    .unwrap()
                    .unwrap_err()
                    .contains("cssh sets the job's batch name"),
                "{bad}"
            );
        }
        assert_eq!(
            set("htcondor", "[\"+JobBatchNameX = 1\", \"batch_names = 2\"]"),
            Some(Ok(()))
        );
        for bad in [
            "-J",
            "-Jx",
            "-HJx",
            "--job-name=x",
            "--job-name",
            "--job-na=x",
            "--jo",
        ] {
            assert!(
                set("slurm", &format!("[{bad:?}]"))
                    .unwrap()
                    .unwrap_err()
                    .contains("cssh names the job itself"),
                "{bad}"
            );
        }
        for good in [
            "-pJ",
            "-t1:00:00",
            "--job-names",
            "--jobid=4",
            "-w",
            "--comment=-J",
            "J",
        ] {
            assert_eq!(set("slurm", &format!("[{good:?}]")), Some(Ok(())), "{good}");
        }
        for bad in [r"/a\nqueue 50", r"/a\r", r"/a\u0007b"] {
            assert!(
                set("image", &format!("\"{bad}\""))
                    .unwrap()
                    .unwrap_err()
                    .contains("a control character in an image"),
                "{bad}"
            );
        }
        assert_eq!(set("forward_env", "false"), Some(Ok(())));
        assert_eq!(
            set("forward_env", "[\"LANG\", \"A-B\"]"),
            Some(Err("\"A-B\" is not a valid variable name".into()))
        );
        assert_eq!(
            set("forward_env", "\"yes\""),
            Some(Err(
                "expected true, false or a list of variable names, found string".into()
            ))
        );
        assert_eq!(
            set("slurm_transfers", "\"node\""),
            Some(Err("\"node\": use \"login\" or \"job\"".into()))
        );
        for bad in ["no", "", "m", "10x", "1hh", "-5", "10 m"] {
            assert!(
                set("persist", &format!("{bad:?}")).unwrap().is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_job_is_named_by_id_step_or_name() {
        let id = |job: &str, step: Option<&str>| Attach {
            job: JobRef::Id(job.into()),
            step: step.map(String::from),
        };
        assert_eq!(Attach::parse("4242"), Ok(id("4242", None)));
        assert_eq!(Attach::parse("4242.0"), Ok(id("4242", Some("0"))));
        assert_eq!(
            Attach::parse("train.v2"),
            Ok(Attach {
                job: JobRef::Name("train.v2".into()),
                step: None
            })
        );
        for bad in ["", "a,b", "4242.batch", "42.", "x\ny"] {
            assert!(Attach::parse(bad).is_err(), "{bad:?}");
        }
        let set = |toml: &str| {
            let value = toml::de::DeValue::parse(toml).unwrap();
            let mut settings = Settings::default();
            settings
                .set("attach", value.get_ref(), 1)
                .unwrap()
                .map(|()| settings.attach.unwrap())
        };
        assert_eq!(
            set("{ name = \"123\", step = \"2\" }"),
            Ok(Attach {
                job: JobRef::Name("123".into()),
                step: Some("2".into())
            })
        );
        assert_eq!(set("\"7\""), Ok(id("7", None)));
        assert!(
            set("{ step = \"1\" }")
                .unwrap_err()
                .contains("names the job")
        );
        assert!(
            set("{ name = \"t\", node = \"n\" }")
                .unwrap_err()
                .contains("unknown key")
        );
        assert!(set("7").unwrap_err().contains("expected a string"));
    }

    #[test]
    fn written_values_read_back_as_the_same_setting() {
        let mut settings = Settings::default();
        for (key, toml) in [
            ("image", "\"it's \\\"q\\\"\""),
            ("runtime", "\"auto\""),
            ("binds", "[\"/a\", \"/b:/c\"]"),
            ("env", "{ B = \"x\\ny\", A = \"\" }"),
            ("slurm", "[\"--partition=gpu\", \"--time=8:00:00\"]"),
            ("slurm_connect", "\"ssh\""),
            ("slurm_transfers", "\"job\""),
            ("htcondor", "[\"request_cpus = 4\"]"),
            ("forward_env", "[\"LANG\", \"GIT_AUTHOR_NAME\"]"),
            ("attach", "{ name = \"42\", step = \"1\" }"),
        ] {
            let value = toml::de::DeValue::parse(toml).unwrap();
            settings.set(key, value.get_ref(), 1).unwrap().unwrap();
        }
        let mut again = Settings::default();
        for (key, written, line) in settings.written() {
            let value = toml::de::DeValue::parse(&written).unwrap();
            again.set(key, value.get_ref(), line).unwrap().unwrap();
        }
        assert_eq!(again, settings);
    }
}
