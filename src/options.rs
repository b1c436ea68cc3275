//! cssh's own options, declared once in [`OWN_OPTIONS`]: the table drives their parsing and
//! `--help`, and tests hold the man page and the completions to it.
//!
//! cssh's options are long options placed before ssh's. OpenSSH has no long options (its getopt
//! would reject `--config` as the illegal option `-`), so nothing collides, and everything from
//! the first other word on belongs to ssh and reaches it unchanged.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail};

use crate::settings::Attach;

/// One of cssh's options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnOption {
    pub name: &'static str,
    /// The value's name in `--help`, for an option that takes one.
    pub value: Option<&'static str>,
    /// `--help`'s text; a `\n` continues it on the next line.
    pub help: &'static str,
    effect: Effect,
}

/// What an option sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Config,
    Image,
    Attach,
    NoContainer,
    Jobs,
    Timeout,
    Json,
    Mode(Mode),
}

impl Effect {
    /// What the value of an option with this effect is, for the line that refuses a missing one.
    fn needs(self) -> &'static str {
        match self {
            Effect::Config => "a file",
            Effect::Image => "an image: a path or URI on the remote",
            Effect::Attach => "a job: ID, ID.STEP, NAME or list",
            Effect::Jobs => "a count of hosts",
            Effect::Timeout => "a number of seconds",
            Effect::NoContainer | Effect::Json | Effect::Mode(_) => "no value",
        }
    }
}

/// What cssh does: run ssh, or one of the things it does instead. One mode per call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    #[default]
    Run,
    DryRun,
    Explain,
    RsyncPath,
    SftpServerCommand,
    Release,
    /// `--allocate`: the host's allocation or job, submitted and waited for, no session.
    Allocate,
    /// `--attach list`: the running jobs that can be attached to.
    AttachList,
    Doctor,
    /// `--proxy`: a plain SSH client's ProxyCommand, into the destination's container.
    Proxy,
    /// `--ssh-config`: the ssh_config blocks for `--proxy`.
    SshConfig,
    ListHosts,
    Help,
    Version,
}

pub const OWN_OPTIONS: &[OwnOption] = &[
    OwnOption {
        name: "--config",
        value: Some("FILE"),
        help: "read FILE (default: $CSSH_CONFIG, else $XDG_CONFIG_HOME/cssh/config.toml,\nwhose default is ~/.config/cssh/config.toml; on Windows %APPDATA%\\cssh\\config.toml)",
        effect: Effect::Config,
    },
    OwnOption {
        name: "--image",
        value: Some("IMAGE"),
        help: "run in IMAGE on this host for this call, configured or not",
        effect: Effect::Image,
    },
    OwnOption {
        name: "--attach",
        value: Some("JOB"),
        help: "enter the container of your running batch job JOB (an id, ID.STEP or a\njob name) on this host's cluster; --attach list: your running jobs",
        effect: Effect::Attach,
    },
    OwnOption {
        name: "--no-container",
        value: None,
        help: "run ssh exactly as given",
        effect: Effect::NoContainer,
    },
    OwnOption {
        name: "--dry-run",
        value: None,
        help: "print the ssh command line cssh would run, then exit",
        effect: Effect::Mode(Mode::DryRun),
    },
    OwnOption {
        name: "--explain",
        value: None,
        help: "show the matching entries, the settings and the remote script",
        effect: Effect::Mode(Mode::Explain),
    },
    OwnOption {
        name: "--rsync-path",
        value: None,
        help: "print a value for rsync --rsync-path that runs rsync in the\ndestination's image (cssh --rsync-path [ssh options] destination)",
        effect: Effect::Mode(Mode::RsyncPath),
    },
    OwnOption {
        name: "--sftp-server-command",
        value: None,
        help: "print a remote command that runs sftp-server in the destination's\nimage, for tools with an ssh of their own\n(cssh --sftp-server-command [ssh options] destination)",
        effect: Effect::Mode(Mode::SftpServerCommand),
    },
    OwnOption {
        name: "--release",
        value: None,
        help: "cancel the destination's Slurm allocation or HTCondor job\n(cssh --release [ssh options] destination)",
        effect: Effect::Mode(Mode::Release),
    },
    OwnOption {
        name: "--allocate",
        value: None,
        help: "find or submit the destination's Slurm allocation or HTCondor job, wait\nuntil it runs, say its job, node and time left, and open no session\n(cssh --allocate [ssh options] destination)",
        effect: Effect::Mode(Mode::Allocate),
    },
    OwnOption {
        name: "--doctor",
        value: None,
        help: "check each host's ssh, runtime, image and what clients need in it,\nall hosts at once (cssh --doctor [ssh options] [host ...]; no host:\nevery configured host name without wildcards)",
        effect: Effect::Mode(Mode::Doctor),
    },
    OwnOption {
        name: "--jobs",
        value: Some("N"),
        help: "--doctor: check at most N hosts at once (default 16)",
        effect: Effect::Jobs,
    },
    OwnOption {
        name: "--timeout",
        value: Some("SECONDS"),
        help: "--doctor: give up on a host after SECONDS (default 20)",
        effect: Effect::Timeout,
    },
    OwnOption {
        name: "--json",
        value: None,
        help: "--doctor: print the findings as JSON",
        effect: Effect::Json,
    },
    OwnOption {
        name: "--proxy",
        value: None,
        help: "be an SSH client's ProxyCommand: its session runs where cssh destination\nwould run it (cssh --proxy [ssh options] destination; see --ssh-config)",
        effect: Effect::Mode(Mode::Proxy),
    },
    OwnOption {
        name: "--ssh-config",
        value: None,
        help: "pin each host's key and print ssh_config blocks that let any SSH client\nreach its container as cssh.HOST (cssh --ssh-config [host ...]; no host:\nevery configured host name without wildcards)",
        effect: Effect::Mode(Mode::SshConfig),
    },
    OwnOption {
        name: "--list-hosts",
        value: None,
        help: "print the configured host names that have no wildcard",
        effect: Effect::Mode(Mode::ListHosts),
    },
    OwnOption {
        name: "--help",
        value: None,
        help: "this text",
        effect: Effect::Mode(Mode::Help),
    },
    OwnOption {
        name: "--version",
        value: None,
        help: "cssh's version",
        effect: Effect::Mode(Mode::Version),
    },
];

/// cssh's options as given.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct OwnOptions {
    pub config: Option<PathBuf>,
    pub image: Option<String>,
    /// `--attach JOB`.
    pub attach: Option<Attach>,
    pub no_container: bool,
    pub mode: Mode,
    /// `--jobs`: hosts the doctor checks at once.
    pub jobs: Option<usize>,
    /// `--timeout`: how long the doctor waits for one host.
    pub timeout: Option<Duration>,
    /// `--json`: the doctor's findings as JSON.
    pub json: bool,
}

/// Takes cssh's long options off the front of argv (without argv[0]); the rest is ssh's.
pub fn split(mut args: Vec<OsString>) -> anyhow::Result<(OwnOptions, Vec<OsString>)> {
    let mut own = OwnOptions::default();
    let mut mode_given: Option<&str> = None;
    let mut taken = 0;
    while let Some(word) = args.get(taken) {
        let bytes = word.as_encoded_bytes();
        if bytes.len() <= 2 || !bytes.starts_with(b"--") {
            break;
        }
        let text = word
            .to_str()
            .ok_or_else(|| anyhow!("unknown option {}", word.to_string_lossy()))?;
        let (name, attached) = match text.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (text, None),
        };
        let option = OWN_OPTIONS.iter().find(|o| o.name == name).ok_or_else(|| {
            let names: Vec<&str> = OWN_OPTIONS.iter().map(|o| &o.name[2..]).collect();
            match crate::config::nearest(&name[2..], &names).map(|near| format!("--{near}")) {
                Some(near) => anyhow!("unknown option {name} (did you mean {near}?)"),
                None => anyhow!(
                    "unknown option {name} (cssh's options come before ssh's; see cssh --help)"
                ),
            }
        })?;
        taken += 1;
        let value = match (option.value, attached) {
            (None, Some(_)) => bail!("{name} takes no value"),
            (None, None) => String::new(),
            (Some(_), Some(value)) => value,
            (Some(_), None) => {
                // The next word, unless it is an option: `--attach -p 2222 host` is a missing
                // job, not the job `-p`.
                let needs = format!("{name} needs {}", option.effect.needs());
                let next = args.get(taken).ok_or_else(|| anyhow!("{needs}"))?;
                if next.as_encoded_bytes().starts_with(b"-") {
                    bail!("{needs} ({} is an option)", next.to_string_lossy());
                }
                taken += 1;
                next.to_str()
                    .map(str::to_string)
                    .ok_or_else(|| anyhow!("{name}: the value is not valid UTF-8"))?
            }
        };
        match option.effect {
            Effect::Config => own.config = Some(PathBuf::from(value)),
            Effect::Image if value.chars().any(char::is_control) => {
                bail!("--image {value:?}: a control character in an image")
            }
            Effect::Image => own.image = Some(value).filter(|i| !i.is_empty()),
            Effect::Attach if value == "list" => {
                if let Some(first) = mode_given {
                    bail!("{first} and --attach list cannot be combined: each says what cssh does");
                }
                mode_given = Some("--attach list");
                own.mode = Mode::AttachList;
            }
            Effect::Attach => {
                own.attach = Some(Attach::parse(&value).map_err(|why| anyhow!("--attach {why}"))?);
            }
            Effect::NoContainer => own.no_container = true,
            Effect::Jobs => {
                own.jobs = Some(
                    value
                        .parse()
                        .ok()
                        .filter(|&n: &usize| n > 0)
                        .ok_or_else(|| anyhow!("--jobs {value}: not a count of hosts"))?,
                );
            }
            Effect::Timeout => {
                own.timeout = Some(
                    value
                        .parse()
                        .ok()
                        .and_then(|s: f64| Duration::try_from_secs_f64(s).ok())
                        .filter(|d| !d.is_zero())
                        .ok_or_else(|| anyhow!("--timeout {value}: not a number of seconds"))?,
                );
            }
            Effect::Json => own.json = true,
            Effect::Mode(mode) => {
                if let Some(first) = mode_given.filter(|first| *first != name) {
                    bail!("{first} and {name} cannot be combined: each says what cssh does");
                }
                mode_given = Some(option.name);
                own.mode = mode;
            }
        }
    }
    if own.no_container && own.image.is_some() {
        bail!("--image and --no-container cannot be combined");
    }
    if own.attach.is_some() && (own.no_container || own.image.is_some()) {
        let other = if own.no_container {
            "--no-container"
        } else {
            "--image"
        };
        bail!(
            "--attach and {other} cannot be combined: the job's container is what the session enters"
        );
    }
    if own.mode == Mode::Doctor && own.no_container {
        bail!("--no-container and --doctor cannot be combined: the doctor checks containers");
    }
    if own.mode != Mode::Doctor {
        let doctors = [
            ("--jobs", own.jobs.is_some()),
            ("--timeout", own.timeout.is_some()),
            ("--json", own.json),
        ];
        if let Some((name, _)) = doctors.iter().find(|(_, given)| *given) {
            bail!("{name} goes with --doctor");
        }
    }
    args.drain(..taken);
    let alone = match own.mode {
        Mode::ListHosts => Some("--list-hosts"),
        Mode::Help => Some("--help"),
        Mode::Version => Some("--version"),
        _ => None,
    };
    if let (Some(name), Some(extra)) = (alone, args.first()) {
        bail!(
            "{name} takes nothing after it (found {:?})",
            extra.to_string_lossy()
        );
    }
    Ok((own, args))
}

/// For a command line that ssh will refuse: the line that says what cssh's part in it is, where
/// one of cssh's own options stands after ssh's (only the front of the line is cssh's), or
/// where there is nothing at all.
pub fn misplaced_hint(ssh_args: &[OsString]) -> Option<String> {
    if ssh_args.is_empty() {
        return Some(
            "usage: cssh [cssh options] [ssh options] destination [command]; cssh --help lists cssh's options, ssh's usage follows".into(),
        );
    }
    let misplaced = ssh_args.iter().find_map(|word| {
        let text = word.to_str()?;
        let name = text.split_once('=').map_or(text, |(name, _)| name);
        OWN_OPTIONS.iter().find(|o| o.name == name)
    })?;
    Some(format!(
        "{} is cssh's own option: cssh's options come before ssh's (cssh {} [ssh options] destination)",
        misplaced.name, misplaced.name
    ))
}

/// `cssh --help`.
pub fn help() -> String {
    let mut text = String::from(
        "cssh: ssh into the container image configured for a host\n\n\
         usage: cssh [cssh options] [ssh options] destination [command [argument ...]]\n\n\
         cssh's options come first; everything else is ssh's and reaches it unchanged.\n",
    );
    for option in OWN_OPTIONS {
        let usage = match option.value {
            Some(value) => format!("{} {value}", option.name),
            None => option.name.to_string(),
        };
        let mut lines = option.help.lines();
        let first = lines.next().unwrap_or_default();
        if usage.len() > 15 {
            let _ = writeln!(text, "  {usage}\n  {:<15} {first}", "");
        } else {
            let _ = writeln!(text, "  {usage:<15} {first}");
        }
        for more in lines {
            let _ = writeln!(text, "  {:<15} {more}", "");
        }
    }
    // `--attach list` is a mode too (the list instead of a session).
    let mut modes: Vec<&str> = OWN_OPTIONS
        .iter()
        .filter(|o| matches!(o.effect, Effect::Mode(_)))
        .map(|o| o.name)
        .collect();
    modes.insert(0, "--attach list");
    let _ = write!(
        text,
        "\nAt most one of {} per call.\n\
         Environment: CSSH_CONFIG (configuration file), CSSH_SSH (the real ssh).\n\
         See cssh(1) and cssh-config(5).\n",
        modes.join(", ")
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn options_that_stand_alone_take_nothing_after_them() {
        let e = |words: &[&str]| split(os(words)).unwrap_err().to_string();
        assert_eq!(
            e(&["--list-hosts", "extra"]),
            "--list-hosts takes nothing after it (found \"extra\")"
        );
        assert_eq!(
            e(&["--version", "-v"]),
            "--version takes nothing after it (found \"-v\")"
        );
        assert!(split(os(&["--config", "c.toml", "--list-hosts"])).is_ok());
    }

    #[test]
    fn a_misplaced_own_option_or_an_empty_line_gets_a_hint() {
        assert_eq!(
            misplaced_hint(&os(&["-F", "x", "--dry-run", "rig"])).as_deref(),
            Some(
                "--dry-run is cssh's own option: cssh's options come before ssh's (cssh --dry-run [ssh options] destination)"
            )
        );
        assert!(misplaced_hint(&os(&["--config=c.toml"])).is_some());
        assert!(misplaced_hint(&[]).unwrap().starts_with("usage: cssh "));
        assert_eq!(misplaced_hint(&os(&["-Q", "rig"])), None);
    }

    #[test]
    fn own_options_come_first_and_stop_at_sshs() {
        let (own, rest) = split(os(&[
            "--config",
            "c.toml",
            "--image=/i.sif",
            "--dry-run",
            "-p",
            "2",
            "h",
            "--explain",
        ]))
        .unwrap();
        assert_eq!(own.config, Some(PathBuf::from("c.toml")));
        assert_eq!(own.image.as_deref(), Some("/i.sif"));
        assert_eq!(own.mode, Mode::DryRun);
        assert_eq!(rest, os(&["-p", "2", "h", "--explain"]));
        let (own, rest) = split(os(&["--", "h"])).unwrap();
        assert_eq!((own, rest), (OwnOptions::default(), os(&["--", "h"])));
    }

    #[test]
    fn attach_names_a_job_or_lists_them() {
        let (own, rest) = split(os(&["--attach", "4242.1", "h", "cmd"])).unwrap();
        assert_eq!(own.attach, Some(Attach::parse("4242.1").unwrap()));
        assert_eq!((own.mode, rest), (Mode::Run, os(&["h", "cmd"])));
        let (own, _) = split(os(&["--attach=list", "h"])).unwrap();
        assert_eq!((own.mode, own.attach), (Mode::AttachList, None));
        let e = |w: &[&str]| split(os(w)).unwrap_err().to_string();
        assert_eq!(
            e(&["--dry-run", "--attach", "list", "h"]),
            "--dry-run and --attach list cannot be combined: each says what cssh does"
        );
        assert_eq!(
            e(&["--attach", "42", "--no-container", "h"]),
            "--attach and --no-container cannot be combined: the job's container is what the session enters"
        );
        assert!(
            e(&["--attach", "42.x", "h"]).starts_with("--attach \"42.x\": a step is its number")
        );
    }

    #[test]
    fn own_option_errors() {
        let e = |w: &[&str]| split(os(w)).unwrap_err().to_string();
        assert_eq!(
            e(&["--confg", "x"]),
            "unknown option --confg (did you mean --config?)"
        );
        assert_eq!(
            e(&["--frobnicate", "x"]),
            "unknown option --frobnicate (cssh's options come before ssh's; see cssh --help)"
        );
        assert_eq!(e(&["--config"]), "--config needs a file");
        assert_eq!(
            e(&["--atach", "42", "h"]),
            "unknown option --atach (did you mean --attach?)"
        );
        for (option, needs) in [
            ("--attach", "a job: ID, ID.STEP, NAME or list"),
            ("--image", "an image: a path or URI on the remote"),
            ("--config", "a file"),
            ("--jobs", "a count of hosts"),
            ("--timeout", "a number of seconds"),
        ] {
            let line = format!("{option} needs {needs}");
            assert_eq!(e(&[option]), line);
            for value in ["-p", "-F", "--", "-"] {
                assert_eq!(
                    e(&[option, value, "2222", "h"]),
                    format!("{line} ({value} is an option)")
                );
            }
        }
        assert_eq!(e(&["--dry-run=yes", "h"]), "--dry-run takes no value");
        assert_eq!(
            e(&["--help", "--list-hosts"]),
            "--help and --list-hosts cannot be combined: each says what cssh does"
        );
        assert_eq!(
            e(&["--dry-run", "--explain", "h"]),
            "--dry-run and --explain cannot be combined: each says what cssh does"
        );
        assert_eq!(
            e(&["--image", "/a\nqueue 50", "h"]),
            "--image \"/a\\nqueue 50\": a control character in an image"
        );
        assert_eq!(
            e(&["--no-container", "--image", "/i.sif", "h"]),
            "--image and --no-container cannot be combined"
        );
        assert!(split(os(&["--explain", "--explain", "h"])).is_ok());
        assert_eq!(e(&["--json", "h"]), "--json goes with --doctor");
        assert_eq!(
            e(&["--no-container", "--doctor"]),
            "--no-container and --doctor cannot be combined: the doctor checks containers"
        );
        assert_eq!(
            e(&["--doctor", "--jobs", "0"]),
            "--jobs 0: not a count of hosts"
        );
        assert_eq!(
            e(&["--doctor", "--timeout=-1"]),
            "--timeout -1: not a number of seconds"
        );
        let (own, rest) = split(os(&[
            "--doctor",
            "--jobs=3",
            "--timeout",
            "2.5",
            "--json",
            "-p",
            "2",
        ]))
        .unwrap();
        assert_eq!(
            (own.jobs, own.timeout, own.json),
            (Some(3), Some(Duration::from_millis(2500)), true)
        );
        assert_eq!(rest, os(&["-p", "2"]));
    }

    #[test]
    fn help_lists_every_option_once() {
        let help = help();
        for option in OWN_OPTIONS {
            let listed = help
                .lines()
                .filter(|line| line.split_whitespace().next() == Some(option.name))
                .count();
            assert_eq!(listed, 1, "{}", option.name);
        }
    }
}
