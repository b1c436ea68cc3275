//! The TOML configuration: where it lives, what it may say, and what a host gets from it.
//!
//! The file is a list of `[[host]]` entries, read like ssh_config: entries are tried in file
//! order and, for each setting, the first matching entry that sets it wins. So a trailing
//! `pattern = "*"` entry supplies defaults, and `image = "none"` in an early entry switches the
//! container off for a host that a later, broader entry would tag.
//!
//! Every error names the file, line and column, and is reported before anything runs.

pub mod cache;

use std::fmt;
use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::pattern::PatternList;
use crate::settings::{self, Settings};

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

/// One `[[host]]` entry: its pattern and the settings it sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The line of its `pattern`.
    pub line: usize,
    pub pattern_text: String,
    pub pattern: PatternList,
    pub settings: Settings,
    /// Where its text is in the file: from the start of its `[[host]]` line to the next entry.
    pub source: Source,
}

/// Where an entry's text is in the file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Source {
    /// The line of its `[[host]]` header.
    pub header_line: usize,
    /// Byte offsets: the start of that line, and the start of the next entry's.
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    /// The file, as messages name it.
    pub file: String,
    /// Whether the file exists; a missing default file tags no host.
    pub found: bool,
    pub entries: Vec<Entry>,
}

impl Config {
    /// The configured host names without wildcards, once each, in file order: for completion
    /// and the doctor.
    pub fn literal_hosts(&self) -> Vec<String> {
        let mut seen = std::collections::BTreeSet::new();
        self.entries
            .iter()
            .flat_map(|entry| entry.pattern.literals())
            .filter(|host| seen.insert(host.to_string()))
            .map(str::to_string)
            .collect()
    }
}

/// What one host gets from the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolution {
    pub settings: Settings,
    /// The matching entries, as (line, pattern), in file order.
    pub matched: Vec<(usize, String)>,
}

/// The settings of `host`: for each, the first matching entry that sets it, as ssh_config
/// resolves its options.
pub fn resolve(config: &Config, host: &[u8]) -> Resolution {
    let mut resolution = Resolution::default();
    let host = host.to_ascii_lowercase();
    for entry in config
        .entries
        .iter()
        .filter(|e| e.pattern.matches_lowercase(&host))
    {
        resolution
            .matched
            .push((entry.line, entry.pattern_text.clone()));
        resolution.settings.fill_from(&entry.settings);
    }
    resolution
}

/// The configuration cssh runs with, from the file [`locate`] finds. Given a `host`, it may
/// hold only the entries that match that host: enough to [`resolve`] it, and no more.
pub fn read(flag: Option<&Path>, host: Option<&[u8]>) -> Result<Config, ConfigError> {
    let Some((path, named)) = locate(flag, &|name| std::env::var(name).ok()) else {
        return Ok(Config {
            file: "~/.config/cssh/config.toml (no home directory)".into(),
            ..Config::default()
        });
    };
    Ok(load(&path, named, host)?.unwrap_or_else(|| Config {
        file: path.display().to_string(),
        ..Config::default()
    }))
}

/// The file to read: `--config`, else `$CSSH_CONFIG`, else `$XDG_CONFIG_HOME/cssh/config.toml`,
/// else [`standard_config_dir`]`/cssh/config.toml`. The flag is true when the user named the file, which
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
        .or_else(standard_config_dir)?;
    Some((base.join("cssh").join("config.toml"), false))
}

/// Where configuration lives without `$XDG_CONFIG_HOME`: `~/.config` (on macOS too, as for
/// most command-line tools), and on Windows the roaming application data, `%APPDATA%`.
fn standard_config_dir() -> Option<PathBuf> {
    if cfg!(windows) {
        dirs::config_dir()
    } else {
        dirs::home_dir().map(|home| home.join(".config"))
    }
}

/// Reads and validates the file; `Ok(None)` for a missing file that the user did not name.
/// Given a `host`, entries may come from the cache, only those that match it.
pub fn load(path: &Path, named: bool, host: Option<&[u8]>) -> Result<Option<Config>, ConfigError> {
    load_with(path, named, host, cache::Cache::standard().as_ref())
}

/// [`load`], with the cache to use, if any.
pub fn load_with(
    path: &Path,
    named: bool,
    host: Option<&[u8]>,
    cache: Option<&cache::Cache>,
) -> Result<Option<Config>, ConfigError> {
    let error = |e: &std::io::Error| ConfigError {
        path: path.to_path_buf(),
        position: None,
        message: match e.kind() {
            std::io::ErrorKind::IsADirectory => "is a directory, not a configuration file".into(),
            _ => format!("cannot read: {}", io_reason(e)),
        },
    };
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !named => return Ok(None),
        Err(e) => return Err(error(&e)),
    };
    // The file that was opened is the one checked (Windows has no such owner and mode bits).
    #[cfg(unix)]
    if let Err(why) = check_ownership(&file) {
        return Err(ConfigError {
            path: path.to_path_buf(),
            position: None,
            message: why,
        });
    }
    if let (Some(cache), Some(host)) = (cache, host)
        && let Some(entries) = cache.lookup(path, &file, &host.to_ascii_lowercase())
    {
        return Ok(Some(Config {
            file: path.display().to_string(),
            found: true,
            entries,
        }));
    }
    let mut bytes = Vec::new();
    // From the start: the cache may have read entries from the file before giving up.
    std::io::Seek::rewind(&mut &file)
        .and_then(|()| std::io::Read::read_to_end(&mut &file, &mut bytes))
        .map_err(|e| error(&e))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let text = String::from_utf8_lossy(&e.as_bytes()[..offset]).into_owned();
        ConfigError {
            path: path.to_path_buf(),
            position: Some(Lines::starting_at(&text, 1).position(offset)),
            message: "not valid UTF-8".into(),
        }
    })?;
    let config = parse(&text, path)?;
    if let (Some(cache), Ok(meta)) = (cache, file.metadata()) {
        cache.store(path, &meta, &text, &config);
    }
    Ok(Some(config))
}

/// Refuses a file that someone else could have written, as OpenSSH refuses such an ssh_config
/// (`secure_permissions`): its prelude is code that runs as you on every tagged host. The file
/// must be owned by you or root and writable by neither its group nor others.
#[cfg(unix)]
fn check_ownership(file: &std::fs::File) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = file.metadata() else {
        return Ok(()); // reading it says why
    };
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    ownership_problem(meta.uid(), meta.mode(), me).map_or(Ok(()), Err)
}

/// What is wrong with a file of this owner and mode for user `me`, if anything.
#[cfg(any(unix, test))]
fn ownership_problem(owner: u32, mode: u32, me: u32) -> Option<String> {
    if owner != me && owner != 0 {
        return Some(format!(
            "owned by uid {owner}, not by you (uid {me}) or root, so its code would run as you; \
             chown it to yourself"
        ));
    }
    if mode & 0o022 != 0 {
        let by = if mode & 0o002 != 0 {
            "anyone"
        } else {
            "its group"
        };
        return Some(format!(
            "writable by {by}, who could make you run code on every tagged host; chmod go-w it"
        ));
    }
    None
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
    parse_from(text, path, 1)
}

/// [`parse`] for a text that starts on line `first_line` of the file.
fn parse_from(text: &str, path: &Path, first_line: usize) -> Result<Config, ConfigError> {
    let lines = Lines::starting_at(text, first_line);
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
    let root = DeTable::parse(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        at(offset, e.message().trim().to_string())
    })?;
    let mut entries = Vec::new();
    for (key, value) in in_file_order(root.get_ref()) {
        if key.get_ref() != "host" {
            return Err(at(key.span().start, unknown_key(key.get_ref(), &["host"])));
        }
        let DeValue::Array(tables) = value.get_ref() else {
            return Err(at(
                value.span().start,
                "`host` holds entries written as [[host]] tables".into(),
            ));
        };
        for table in tables {
            entries.push(entry(table, &at, &lines)?);
        }
    }
    // Each entry's text runs from its header's line to the next entry's (the file holds only
    // [[host]] tables, so whatever lies between belongs to the one before).
    let ends: Vec<usize> = entries
        .iter()
        .skip(1)
        .map(|e| e.source.start)
        .chain([text.len()])
        .collect();
    for (entry, end) in entries.iter_mut().zip(ends) {
        entry.source.end = end;
    }
    Ok(Config {
        file: path.display().to_string(),
        found: true,
        entries,
    })
}

/// A table's keys and values in the order the file writes them.
fn in_file_order<'t, 'i>(
    table: &'t DeTable<'i>,
) -> Vec<(
    &'t Spanned<std::borrow::Cow<'i, str>>,
    &'t Spanned<DeValue<'i>>,
)> {
    let mut fields: Vec<_> = table.iter().collect();
    fields.sort_by_key(|(key, _)| key.span().start);
    fields
}

fn entry(
    table: &Spanned<DeValue>,
    at: &dyn Fn(usize, String) -> ConfigError,
    lines: &Lines,
) -> Result<Entry, ConfigError> {
    let DeValue::Table(fields) = table.get_ref() else {
        return Err(at(
            table.span().start,
            "`host` holds entries written as [[host]] tables".into(),
        ));
    };
    let mut pattern = None;
    let mut settings = Settings::default();
    for (key, value) in in_file_order(fields) {
        let start = value.span().start;
        if key.get_ref() == "pattern" {
            let text = match value.get_ref() {
                DeValue::String(text) => text.to_string(),
                other => {
                    return Err(at(
                        start,
                        format!("pattern: expected a string, found {}", other.type_str()),
                    ));
                }
            };
            let list = PatternList::parse(&text)
                .map_err(|e| at(start, format!("invalid pattern {text:?}: {e}")))?;
            pattern = Some((text, list, start));
            continue;
        }
        match settings.set(key.get_ref(), value.get_ref(), lines.position(start).0) {
            None => {
                return Err(at(
                    key.span().start,
                    unknown_key(key.get_ref(), &host_keys()),
                ));
            }
            Some(Err(why)) => return Err(at(start, format!("{}: {why}", key.get_ref()))),
            Some(Ok(())) => {}
        }
    }
    let (pattern_text, pattern, start) = pattern.ok_or_else(|| {
        at(
            table.span().start,
            "this [[host]] entry has no `pattern`".into(),
        )
    })?;
    Ok(Entry {
        line: lines.position(start).0,
        pattern_text,
        pattern,
        settings,
        source: Source {
            header_line: lines.position(table.span().start).0,
            start: lines.line_start(table.span().start),
            end: 0,
        },
    })
}

/// The keys a `[[host]]` entry may hold, in the order the documentation lists them.
pub fn host_keys() -> Vec<&'static str> {
    std::iter::once("pattern")
        .chain(settings::KEYS.iter().copied())
        .collect()
}

/// Where the lines of a text start, to turn byte offsets into positions without rescanning
/// the text for each one (a file may hold thousands of entries).
struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
    /// The file's line number of the text's first line.
    first_line: usize,
}

impl<'a> Lines<'a> {
    fn starting_at(text: &'a str, first_line: usize) -> Lines<'a> {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Lines {
            text,
            starts,
            first_line,
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&start| start <= offset);
        let start = self.starts[line - 1];
        (
            line + self.first_line - 1,
            self.text[start..offset].chars().count() + 1,
        )
    }

    /// The byte offset where the text's line holding `offset` starts.
    fn line_start(&self, offset: usize) -> usize {
        let line = self.starts.partition_point(|&start| start <= offset);
        self.starts[line - 1]
    }
}

/// The message for an unknown key, suggesting the nearest known one.
fn unknown_key(key: &str, known: &[&str]) -> String {
    match nearest(key, known) {
        Some(suggestion) => format!("unknown key `{key}` (did you mean `{suggestion}`?)"),
        None => format!("unknown key `{key}` (known keys: {})", known.join(", ")),
    }
}

/// The known key closest to `key` by edit distance, if it is plausibly a typo of it.
pub(crate) fn nearest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
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
    use crate::settings::{Image, Runtime};

    #[test]
    fn literal_hosts_are_the_names_without_wildcards_once_each() {
        let config =
            parse_str("[[host]]\npattern = \"a gpu? !b\"\n[[host]]\npattern = \"A, c\"\n").unwrap();
        assert_eq!(config.literal_hosts(), ["a", "c"]);
    }

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
        let s = &first.settings;
        assert_eq!(s.image, Some(Image::Path("/shared/el9.sif".into())));
        assert_eq!(s.runtime, Some(Runtime::Auto));
        assert_eq!(s.env, Some(vec![("OMP_NUM_THREADS".into(), "8".into())]));
        assert_eq!(s.instance.as_deref(), Some("dev"));
        assert_eq!((s.lines.image, s.lines.instance), (4, 12));
        let second = &config.entries[1];
        assert_eq!(
            (second.line, &second.settings.image),
            (15, &Some(Image::None))
        );
        assert_eq!(
            second.settings.runtime,
            Some(Runtime::Program("singularity".into()))
        );
    }

    #[test]
    fn the_runtime_names_its_kind_by_keyword_or_by_its_programs_name() {
        use crate::settings::RuntimeKind::{Apptainer, Charliecloud};
        for (runtime, kind) in [
            ("auto", Apptainer),
            ("singularity", Apptainer),
            ("/opt/apptainer/1.3/bin/apptainer", Apptainer),
            ("charliecloud", Charliecloud),
            ("ch-run", Charliecloud),
            ("/opt/ch/0.38/bin/ch-run", Charliecloud),
        ] {
            let config = parse_str(&format!(
                "[[host]]\npattern = \"*\"\nimage = \"/i\"\nruntime = {runtime:?}\n"
            ))
            .unwrap();
            assert_eq!(config.entries[0].settings.runtime_kind(), kind, "{runtime}");
        }
        assert_eq!(
            parse_str("[[host]]\npattern = \"*\"\nruntime = \"charliecloud\"\n")
                .unwrap()
                .entries[0]
                .settings
                .runtime,
            Some(Runtime::Charliecloud)
        );
    }

    #[test]
    fn first_value_wins_per_setting() {
        let config = parse(
            r#"
[[host]]
pattern = "login"
image = "none"

[[host]]
pattern = "hpc-* !hpc-gpu"
image = "/a.sif"
binds = ["/a"]

[[host]]
pattern = "hpc-*"
image = "/b.sif"
runtime = "singularity"
binds = ["/b"]
env = { X = "1" }

[[host]]
pattern = "*"
image = "/default.sif"
prelude = "module load apptainer"
binds = []
"#,
            Path::new("c.toml"),
        )
        .unwrap();
        let node = resolve(&config, b"hpc-1");
        assert_eq!(
            node.matched.iter().map(|m| m.0).collect::<Vec<_>>(),
            vec![7, 12, 19]
        );
        assert_eq!(
            node.settings.written(),
            vec![
                ("image", "\"/a.sif\"".into(), 8),
                ("runtime", "\"singularity\"".into(), 14),
                ("prelude", "\"module load apptainer\"".into(), 21),
                ("binds", "[\"/a\"]".into(), 9),
                ("env", "{ X = \"1\" }".into(), 16),
            ]
        );
        let gpu = resolve(&config, b"HPC-GPU").settings;
        assert_eq!(gpu.image, Some(Image::Path("/b.sif".into())));
        assert_eq!(resolve(&config, b"login").settings.image, Some(Image::None));
        let other = resolve(&config, b"elsewhere").settings;
        assert_eq!(
            (other.image, other.runtime, other.binds),
            (Some(Image::Path("/default.sif".into())), None, Some(vec![]),),
            "an empty list is a value too: it wins over later entries"
        );
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
                host_keys().join(", ")
            )
        );
        assert!(
            err("[[host]]\npattern = \"a\n").starts_with("c.toml:2:"),
            "{}",
            err("[[host]]\npattern = \"a\n")
        );
        assert_eq!(
            err("\n[[host]]\nimage = \"x\"\n"),
            "c.toml:2:1: this [[host]] entry has no `pattern`"
        );
        assert_eq!(
            err("[[host]]\npattern = \"a !\"\n"),
            "c.toml:2:11: invalid pattern \"a !\": `!` must be followed by a pattern"
        );
        assert_eq!(
            err("[[host]]\npattern = \"\"\n"),
            "c.toml:2:11: invalid pattern \"\": empty host pattern"
        );
        assert_eq!(
            err("[[host]]\npattern = \"a\"\nenv = { \"A B\" = \"1\" }\n"),
            "c.toml:3:7: env: \"A B\" is not a valid variable name"
        );
        assert_eq!(
            err("[[host]]\npattern = \"a\"\nimage = \"a\\u0000b\"\n"),
            "c.toml:3:9: image: contains a NUL byte, which nothing can carry to the remote"
        );
        assert!(
            err("[[host]]\npattern = \"a\"\ninstance = \"x;y\"\n")
                .starts_with("c.toml:3:12: instance: \"x;y\": use only")
        );
        assert_eq!(
            err("[[host]]\npattern = \"a\"\nbinds = [\"/a\", \"\"]\n"),
            "c.toml:3:9: binds: is empty"
        );
        assert_eq!(
            err("[[host]]\npattern = 3\n"),
            "c.toml:2:11: pattern: expected a string, found integer"
        );
        assert_eq!(
            err("host = 1\n"),
            "c.toml:1:8: `host` holds entries written as [[host]] tables"
        );
        assert_eq!(
            err("[[host]]\npattern = \"a\"\npersist = \"soon\"\n"),
            "c.toml:3:11: persist: \"soon\": use \"yes\" or a time such as \"10m\", \"1h30m\" or \"600\""
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
    fn files_others_could_write_are_refused() {
        let me = 1000;
        assert_eq!(ownership_problem(me, 0o100_644, me), None);
        assert_eq!(ownership_problem(0, 0o100_600, me), None, "root's file");
        assert!(
            ownership_problem(1001, 0o100_644, me)
                .unwrap()
                .starts_with("owned by uid 1001")
        );
        assert!(
            ownership_problem(me, 0o100_664, me)
                .unwrap()
                .starts_with("writable by its group")
        );
        assert!(
            ownership_problem(me, 0o100_646, me)
                .unwrap()
                .starts_with("writable by anyone")
        );
    }

    #[test]
    fn located_in_order() {
        const ABSOLUTE: &str = if cfg!(windows) { r"C:\x" } else { "/x" };
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
            locate(None, &env(&[("XDG_CONFIG_HOME", ABSOLUTE)])),
            Some((Path::new(ABSOLUTE).join("cssh").join("config.toml"), false))
        );
        // A relative one is ignored: ~/.config, on Windows %APPDATA%.
        let (standard, named) = locate(None, &env(&[("XDG_CONFIG_HOME", "relative")])).unwrap();
        assert_eq!(
            standard,
            standard_config_dir()
                .unwrap()
                .join("cssh")
                .join("config.toml")
        );
        assert!(!named);
        if cfg!(windows) {
            assert_eq!(Some(standard_config_dir().unwrap()), dirs::config_dir());
        } else {
            assert!(standard.ends_with(".config/cssh/config.toml"));
        }
    }

    #[test]
    fn suggestions() {
        let keys = host_keys();
        assert_eq!(nearest("sftp-server", &keys), Some("sftp_server"));
        assert_eq!(nearest("bind", &keys), Some("binds"));
        assert_eq!(nearest("zzzzzz", &keys), None);
    }
}
