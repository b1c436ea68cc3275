//! The TOML configuration: where it lives, what it may say, and what a host gets from it.
//!
//! The file is a list of `[[host]]` entries, read like ssh_config: entries are tried in file
//! order and, for each setting, the first matching entry that sets it wins. So a trailing
//! `pattern = "*"` entry supplies defaults, and `image = "none"` in an early entry switches the
//! container off for a host that a later, broader entry would tag.
//!
//! Every error names the file, line and column, and is reported before anything runs.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::pattern::PatternList;

/// The keys a `[[host]]` entry may hold, in the order the documentation lists them.
pub const HOST_KEYS: &[&str] = &[
    "pattern",
    "image",
    "runtime",
    "prelude",
    "binds",
    "env",
    "options",
    "shell",
    "sftp_server",
    "instance",
    "persist",
];

/// An error in a configuration file, with its position (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: PathBuf,
    pub position: Option<(usize, usize)>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, column)) => {
                write!(
                    f,
                    "{}:{line}:{column}: {}",
                    self.path.display(),
                    self.message
                )
            }
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileModel {
    #[serde(default)]
    host: Vec<EntryModel>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryModel {
    pattern: Spanned<String>,
    image: Option<Spanned<String>>,
    runtime: Option<Spanned<String>>,
    prelude: Option<Spanned<String>>,
    binds: Option<Spanned<Vec<String>>>,
    env: Option<Spanned<BTreeMap<String, String>>>,
    options: Option<Spanned<Vec<String>>>,
    shell: Option<Spanned<String>>,
    sftp_server: Option<Spanned<String>>,
    instance: Option<Spanned<String>>,
    persist: Option<Spanned<String>>,
}

/// Where the container runs: a path or URI on the remote, or none at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Image {
    None,
    Path(String),
}

/// Which program runs containers on the remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runtime {
    /// apptainer, then singularity: whichever is first on PATH.
    Auto,
    Program(String),
}

/// One `[[host]]` entry, validated. Each setting keeps the line it came from for `--explain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub line: usize,
    pub pattern_text: String,
    pub pattern: PatternList,
    pub image: Option<Image>,
    pub runtime: Option<Runtime>,
    pub prelude: Option<String>,
    pub binds: Option<Vec<String>>,
    pub env: Option<Vec<(String, String)>>,
    pub options: Option<Vec<String>>,
    pub shell: Option<String>,
    pub sftp_server: Option<String>,
    pub instance: Option<String>,
    pub persist: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    pub path: Option<PathBuf>,
    pub entries: Vec<Entry>,
}

/// The file to read: `--config`, else `$CSSH_CONFIG`, else `$XDG_CONFIG_HOME/cssh/config.toml`,
/// else `~/.config/cssh/config.toml`. The flag is true when the user named the file, which
/// then must exist; a missing default file just means no host is tagged.
pub fn locate(
    flag: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<(PathBuf, bool)> {
    if let Some(path) = flag {
        return Some((path.to_path_buf(), true));
    }
    if let Some(path) = env("CSSH_CONFIG").filter(|p| !p.is_empty()) {
        return Some((PathBuf::from(path), true));
    }
    let base = env("XDG_CONFIG_HOME")
        .filter(|p| Path::new(p).is_absolute())
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|home| home.join(".config")))?;
    Some((base.join("cssh").join("config.toml"), false))
}

/// Reads and validates the file; `Ok(None)` for a missing file that the user did not name.
pub fn load(path: &Path, named: bool) -> Result<Option<Config>, ConfigError> {
    let error = |message: String| ConfigError {
        path: path.to_path_buf(),
        position: None,
        message,
    };
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !named => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => {
            return Err(error("is a directory, not a configuration file".into()));
        }
        Err(e) => return Err(error(format!("cannot read: {}", io_reason(&e)))),
    };
    let text = String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let text = String::from_utf8_lossy(&e.as_bytes()[..offset]).into_owned();
        ConfigError {
            path: path.to_path_buf(),
            position: Some(Lines::new(&text).position(offset)),
            message: "not valid UTF-8".into(),
        }
    })?;
    parse(&text, path).map(Some)
}

/// `std::io::Error`'s text without the "(os error N)" suffix.
fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(end) => text[..end].to_string(),
        None => text,
    }
}

/// Parses a configuration text; `path` is only used in messages.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let lines = Lines::new(text);
    let at = |offset: usize, message: String| ConfigError {
        path: path.to_path_buf(),
        position: Some(lines.position(offset)),
        message,
    };
    // A file of nothing but white space is most likely a truncated one (a full disk, a crashed
    // editor, a stray `>`): tagging nothing silently would send every command to the bare host.
    if text.trim().is_empty() {
        return Err(ConfigError {
            path: path.to_path_buf(),
            position: None,
            message: "empty file; give it [[host]] entries, or a comment if it is meant to tag \
                      nothing"
                .into(),
        });
    }
    let model: FileModel = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        at(offset, describe_toml_error(e.message()))
    })?;
    let entries = model
        .host
        .into_iter()
        .map(|entry| validate(entry, &at, &lines))
        .collect::<Result<_, _>>()?;
    Ok(Config {
        path: Some(path.to_path_buf()),
        entries,
    })
}

fn validate(
    model: EntryModel,
    at: &dyn Fn(usize, String) -> ConfigError,
    lines: &Lines,
) -> Result<Entry, ConfigError> {
    let pattern_start = model.pattern.span().start;
    let pattern = PatternList::parse(model.pattern.get_ref()).map_err(|e| {
        at(
            pattern_start,
            format!("invalid pattern {:?}: {e}", model.pattern.get_ref()),
        )
    })?;
    // No value may hold a NUL byte: nothing can carry it to the remote.
    let checked =
        |value: Option<Spanned<String>>, key: &str| -> Result<Option<String>, ConfigError> {
            match value {
                Some(v) if v.get_ref().contains('\0') => {
                    Err(at(v.span().start, format!("{key} contains a NUL byte")))
                }
                Some(v) if v.get_ref().is_empty() && key != "prelude" => {
                    Err(at(v.span().start, format!("{key} is empty")))
                }
                Some(v) => Ok(Some(v.into_inner())),
                None => Ok(None),
            }
        };
    let checked_list = |value: Option<Spanned<Vec<String>>>,
                        key: &str|
     -> Result<Option<Vec<String>>, ConfigError> {
        match value {
            Some(v) if v.get_ref().iter().any(|s| s.contains('\0') || s.is_empty()) => Err(at(
                v.span().start,
                format!("{key} holds an empty value or a NUL byte"),
            )),
            Some(v) => Ok(Some(v.into_inner())),
            None => Ok(None),
        }
    };
    let env = match model.env {
        Some(env) => {
            let start = env.span().start;
            for (key, value) in env.get_ref() {
                if !is_env_name(key) {
                    return Err(at(
                        start,
                        format!("env: {key:?} is not a valid variable name"),
                    ));
                }
                if value.contains('\0') {
                    return Err(at(
                        start,
                        format!("env: the value of {key} contains a NUL byte"),
                    ));
                }
            }
            Some(env.into_inner().into_iter().collect())
        }
        None => None,
    };
    let instance_span = model.instance.as_ref().map(|i| i.span().start);
    let instance = checked(model.instance, "instance")?;
    if let (Some(name), Some(start)) = (&instance, instance_span)
        && !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err(at(
            start,
            format!("instance {name:?}: use only letters, digits, '.', '_' and '-'"),
        ));
    }
    let persist_span = model.persist.as_ref().map(|p| p.span().start);
    let persist = checked(model.persist, "persist")?;
    if let (Some(value), Some(start)) = (&persist, persist_span)
        && !is_persist_time(value)
    {
        return Err(at(
            start,
            format!(
                "persist {value:?}: use \"yes\" or a time such as \"10m\", \"1h30m\" or \"600\""
            ),
        ));
    }
    Ok(Entry {
        line: lines.position(pattern_start).0,
        pattern_text: model.pattern.into_inner(),
        pattern,
        image: checked(model.image, "image")?.map(|i| {
            if i == "none" {
                Image::None
            } else {
                Image::Path(i)
            }
        }),
        runtime: checked(model.runtime, "runtime")?.map(|r| {
            if r == "auto" {
                Runtime::Auto
            } else {
                Runtime::Program(r)
            }
        }),
        prelude: checked(model.prelude, "prelude")?,
        binds: checked_list(model.binds, "binds")?,
        env,
        options: checked_list(model.options, "options")?,
        shell: checked(model.shell, "shell")?,
        sftp_server: checked(model.sftp_server, "sftp_server")?,
        instance,
        persist,
    })
}

/// ControlPersist's values that keep a master: `yes`, or an ssh time (`600`, `10m`, `1h30m`).
fn is_persist_time(value: &str) -> bool {
    if value == "yes" {
        return true;
    }
    // Digits, each run optionally closed by one unit letter.
    let mut digits = 0;
    for c in value.chars() {
        if c.is_ascii_digit() {
            digits += 1;
        } else if digits > 0 && "smhdwSMHDW".contains(c) {
            digits = 0;
        } else {
            return false;
        }
    }
    value.starts_with(|c: char| c.is_ascii_digit())
}

fn is_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Where the lines of a text start, to turn byte offsets into positions without rescanning
/// the text for each one (a file may hold thousands of entries).
struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Lines<'a> {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Lines { text, starts }
    }

    /// 1-based line and column (in characters) of a byte offset.
    fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&start| start <= offset);
        let start = self.starts[line - 1];
        (line, self.text[start..offset].chars().count() + 1)
    }
}

/// Rewrites serde's "unknown field" message into one that names the key and suggests the
/// nearest known one; other messages pass unchanged.
fn describe_toml_error(message: &str) -> String {
    let message = message.trim();
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return message.to_string();
    };
    let key = rest.split('`').next().unwrap_or_default();
    let known: &[&str] = if message.contains("`pattern`") {
        HOST_KEYS
    } else {
        &["host"]
    };
    match nearest(key, known) {
        Some(suggestion) => format!("unknown key `{key}` (did you mean `{suggestion}`?)"),
        None => format!("unknown key `{key}` (known keys: {})", known.join(", ")),
    }
}

/// The known key closest to `key` by edit distance, if it is plausibly a typo of it.
fn nearest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|candidate| (edit_distance(key, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= candidate.len().max(3) / 2)
        .min()
        .map(|(_, candidate)| candidate)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Config, ConfigError> {
        parse(text, Path::new("c.toml"))
    }

    fn err(text: &str) -> String {
        parse_str(text).unwrap_err().to_string()
    }

    #[test]
    fn full_entry() {
        let config = parse_str(
            r#"
[[host]]
pattern = "hpc-* !hpc-login"
image = "/shared/el9.sif"
runtime = "auto"
prelude = "module load apptainer"
binds = ["/scratch", "/data:/mnt/data:ro"]
env = { OMP_NUM_THREADS = "8" }
options = ["--nv"]
shell = "/bin/bash"
sftp_server = "/usr/lib/openssh/sftp-server"
instance = "dev"

[[host]]
pattern = "*"
image = "none"
runtime = "singularity"
"#,
        )
        .unwrap();
        let first = &config.entries[0];
        assert_eq!(first.line, 3);
        assert_eq!(first.image, Some(Image::Path("/shared/el9.sif".into())));
        assert_eq!(first.runtime, Some(Runtime::Auto));
        assert_eq!(
            first.env,
            Some(vec![("OMP_NUM_THREADS".into(), "8".into())])
        );
        assert_eq!(first.instance.as_deref(), Some("dev"));
        let second = &config.entries[1];
        assert_eq!((second.line, &second.image), (15, &Some(Image::None)));
        assert_eq!(second.runtime, Some(Runtime::Program("singularity".into())));
    }

    #[test]
    fn errors_name_file_line_column() {
        assert_eq!(
            err("[[host]]\npattern = \"a\"\nimgae = \"x\"\n"),
            "c.toml:3:1: unknown key `imgae` (did you mean `image`?)"
        );
        assert_eq!(
            err("[[hosts]]\npattern = \"a\"\n"),
            "c.toml:1:3: unknown key `hosts` (did you mean `host`?)"
        );
        assert_eq!(
            err("[[host]]\npattern = \"a\"\nfrobnicate = 1\n"),
            format!(
                "c.toml:3:1: unknown key `frobnicate` (known keys: {})",
                HOST_KEYS.join(", ")
            )
        );
        assert!(
            err("[[host]]\npattern = \"a\n").starts_with("c.toml:2:"),
            "{}",
            err("[[host]]\npattern = \"a\n")
        );
        assert!(err("[[host]]\nimage = \"x\"\n").contains("missing field `pattern`"));
        assert_eq!(
            err("[[host]]\npattern = \"a !\"\n"),
            "c.toml:2:11: invalid pattern \"a !\": `!` must be followed by a pattern"
        );
        assert_eq!(
            err("[[host]]\npattern = \"\"\n"),
            "c.toml:2:11: invalid pattern \"\": empty host pattern"
        );
        assert!(
            err("[[host]]\npattern = \"a\"\nenv = { \"A B\" = \"1\" }\n")
                .contains("\"A B\" is not a valid variable name")
        );
        assert!(
            err("[[host]]\npattern = \"a\"\nimage = \"a\\u0000b\"\n")
                .contains("image contains a NUL byte")
        );
        assert!(
            err("[[host]]\npattern = \"a\"\ninstance = \"x;y\"\n")
                .starts_with("c.toml:3:12: instance")
        );
        assert!(
            err("[[host]]\npattern = \"a\"\nbinds = [\"\"]\n")
                .contains("binds holds an empty value")
        );
        assert!(err("[[host]]\npattern = 3\n").starts_with("c.toml:2:11: invalid type"));
    }

    #[test]
    fn persist_takes_ssh_times() {
        for good in ["yes", "600", "10m", "1h30m", "2D"] {
            assert!(is_persist_time(good), "{good}");
        }
        for bad in ["no", "", "m", "10x", "1hh", "-5", "10 m"] {
            assert!(!is_persist_time(bad), "{bad}");
        }
        assert!(
            err("[[host]]\npattern = \"a\"\npersist = \"soon\"\n")
                .starts_with("c.toml:3:11: persist \"soon\"")
        );
    }

    #[test]
    fn an_empty_text_is_refused_but_a_comment_tags_nothing() {
        for empty in ["", " \n\t\n"] {
            assert!(err(empty).starts_with("c.toml: empty file;"), "{empty:?}");
        }
        assert_eq!(parse_str("# nothing yet\n").unwrap().entries, vec![]);
    }

    #[test]
    fn located_in_order() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let flag = Path::new("/f.toml");
        assert_eq!(
            locate(Some(flag), &env(&[("CSSH_CONFIG", "/e")])),
            Some((flag.into(), true))
        );
        assert_eq!(
            locate(None, &env(&[("CSSH_CONFIG", "/e")])),
            Some(("/e".into(), true))
        );
        assert_eq!(
            locate(None, &env(&[("XDG_CONFIG_HOME", "/x")])),
            Some(("/x/cssh/config.toml".into(), false))
        );
        let home = locate(None, &env(&[("XDG_CONFIG_HOME", "relative")])).unwrap();
        assert!(home.0.ends_with(".config/cssh/config.toml"));
    }

    #[test]
    fn suggestions() {
        assert_eq!(nearest("sftp-server", HOST_KEYS), Some("sftp_server"));
        assert_eq!(nearest("bind", HOST_KEYS), Some("binds"));
        assert_eq!(nearest("zzzzzz", HOST_KEYS), None);
    }
}
