//! A cache of a large configuration's index, so that a call reads each entry's settings only
//! when its pattern matches the host: with 10,000 entries, parsing and checking the whole file
//! on every call would cost tens of milliseconds.
//!
//! The cache is keyed by the file's text itself (its length and a hash of every byte), not by
//! its timestamps: an edit in the same second that keeps the size still changes the key. It is
//! written only for a file that parsed without error, so an entry read from it later parses too.
//! It lives in `$XDG_CACHE_HOME/cssh/` (else `~/.cache/cssh/`), one file per configuration path
//! and user, written to a temporary file and renamed into place, readable by its owner only;
//! a cache file that is not the user's own and private, or that does not read back whole, is
//! ignored and written again.

use std::fmt::Write as _;
use std::hash::Hasher;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::{Config, Entry, Source};
use crate::pattern::PatternList;

/// Files smaller than this are parsed on every call: that costs less than the cache's own reads.
pub const MIN_LEN: usize = 32 * 1024;

const FORMAT: &str = "cssh-config-cache 1";

/// Where the cache is kept, and from what size a configuration uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cache {
    pub dir: PathBuf,
    pub min_len: usize,
}

impl Cache {
    /// The user's cache directory, for files of [`MIN_LEN`] and more.
    pub fn standard() -> Option<Cache> {
        Some(Cache {
            dir: dirs::cache_dir()?.join("cssh"),
            min_len: MIN_LEN,
        })
    }

    /// The cache file of the configuration at `path`, for this user.
    fn file(&self, path: &Path) -> PathBuf {
        let mut hasher = std::hash::DefaultHasher::new();
        hasher.write(path.as_os_str().as_encoded_bytes());
        self.dir
            .join(format!("config-{}-{:016x}", euid(), hasher.finish()))
    }

    /// The entries of the configuration at `path`, their settings unread, if the cache holds
    /// this very `text`.
    pub fn lookup(&self, path: &Path, text: &str) -> Option<Vec<Entry>> {
        if text.len() < self.min_len {
            return None;
        }
        let cached = read_private(&self.file(path))?;
        let mut lines = cached.lines();
        let (count, key) = lines.next()?.split_once(' ')?;
        if key != header(text) {
            return None;
        }
        let mut entries = Vec::with_capacity(count.parse().ok()?);
        let mut last_end = 0;
        for line in lines {
            // The last line counts the entries: a cut file never reads back as a shorter list.
            if let Some(count) = line.strip_prefix("end ") {
                if count.parse::<usize>().ok()? != entries.len() {
                    return None;
                }
                return Some(entries);
            }
            let mut fields = line.splitn(5, ' ');
            let mut number = || fields.next()?.parse::<usize>().ok();
            let (header_line, start, end, pattern_line) =
                (number()?, number()?, number()?, number()?);
            let pattern_text = fields.next()?;
            if start < last_end || end < start || end > text.len() || !text.is_char_boundary(start)
            {
                return None;
            }
            last_end = end;
            let pattern = PatternList::parse(pattern_text).ok()?;
            let source = Source {
                header_line,
                start,
                end,
            };
            entries.push(Entry::unread(
                pattern_line,
                pattern_text.to_string(),
                pattern,
                source,
            ));
        }
        None
    }

    /// Keeps `config`, just read from `text`, for the next calls; quietly does nothing where it
    /// cannot (a full disk, a read-only home): the cache only saves time.
    pub fn store(&self, path: &Path, text: &str, config: &Config) {
        if text.len() < self.min_len {
            return;
        }
        let mut index = format!("{} {}", config.entries.len(), header(text));
        for entry in &config.entries {
            let Source {
                header_line,
                start,
                end,
            } = entry.source;
            // Only `[[host]]` tables read back alone; a pattern must fit on its line.
            let table = text.get(start..end).unwrap_or_default().trim_start();
            if !table.starts_with("[[") || entry.pattern_text.contains(['\n', '\r']) {
                return;
            }
            let _ = write!(
                index,
                "\n{header_line} {start} {end} {} {}",
                entry.line, entry.pattern_text
            );
        }
        let _ = writeln!(index, "\nend {}", config.entries.len());
        let _ = write_private(&self.dir, &self.file(path), index.as_bytes());
    }
}

/// The first line: the format, cssh's version (a new version may read entries differently) and
/// the text's length and hash.
fn header(text: &str) -> String {
    let mut hasher = std::hash::DefaultHasher::new();
    hasher.write(text.as_bytes());
    format!(
        "{FORMAT} {} {} {:016x}",
        env!("CARGO_PKG_VERSION"),
        text.len(),
        hasher.finish()
    )
}

/// The file's text, if it is a regular file of this user's that only they can read or write.
#[cfg(unix)]
fn read_private(file: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(file).ok()?;
    if !meta.is_file() || meta.uid() != euid() || meta.mode() & 0o077 != 0 {
        return None;
    }
    std::fs::read_to_string(file).ok()
}

#[cfg(not(unix))]
fn read_private(file: &Path) -> Option<String> {
    std::fs::read_to_string(file).ok()
}

/// Writes `bytes` to `file` whole or not at all: a private temporary file, then a rename.
fn write_private(dir: &Path, file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    let temporary = file.with_extension(format!("tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options
        .open(&temporary)
        .and_then(|mut out| out.write_all(bytes))
        .and_then(|()| std::fs::rename(&temporary, file));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

#[cfg(unix)]
fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

#[cfg(not(unix))]
fn euid() -> u32 {
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load_with, parse, resolve};
    use std::os::unix::fs::PermissionsExt;

    /// A scratch directory with a configuration file and a cache directory.
    struct Scratch {
        dir: PathBuf,
    }

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir =
                std::env::temp_dir().join(format!("cssh-cache-test-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Scratch { dir }
        }

        fn config(&self) -> PathBuf {
            self.dir.join("config.toml")
        }

        fn cache(&self) -> Cache {
            Cache {
                dir: self.dir.join("cache"),
                min_len: 0,
            }
        }

        fn cache_file(&self) -> PathBuf {
            self.cache().file(&self.config())
        }

        /// Loads the configuration through the cache.
        fn load(&self) -> Config {
            load_with(&self.config(), true, Some(&self.cache()))
                .unwrap()
                .unwrap()
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// `n` entries with comments, a multi-line prelude and a list between them.
    fn many(n: usize, image: &str) -> String {
        let mut text = String::from("# many hosts\n");
        for i in 0..n {
            let _ = write!(
                text,
                "\n[[host]]\npattern = \"node{i} node{i}-*\"\nimage = \"{image}{i}.sif\"\nprelude = \"\"\"\n[[ -d /x ]] || true\n\"\"\"\nbinds = [\"/a{i}\",\n  \"/b\"]   # two\n"
            );
        }
        text + "\n[[host]]\npattern = \"*\"\nruntime = \"singularity\"\n"
    }

    const HOSTS: &[&[u8]] = &[b"node0", b"node7-gpu", b"NODE42", b"elsewhere"];

    fn resolutions(config: &Config) -> Vec<crate::config::Resolution> {
        HOSTS.iter().map(|h| resolve(config, h).unwrap()).collect()
    }

    #[test]
    fn a_file_read_back_from_the_cache_resolves_as_the_file_does() {
        let scratch = Scratch::new("same");
        let text = many(50, "/img/");
        std::fs::write(scratch.config(), &text).unwrap();
        let parsed = parse(&text, &scratch.config()).unwrap();
        let first = scratch.load();
        assert!(first.text.is_empty(), "the first call parses the file");
        let mode = std::fs::metadata(scratch.cache_file())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the cache is private");
        let cached = scratch.load();
        assert_eq!(
            cached.text.len(),
            text.len(),
            "the second call reads the cache"
        );
        // Settings hold their lines: entries read from the cache give the file's.
        assert_eq!(resolutions(&cached), resolutions(&parsed));
        assert_eq!(cached.literal_hosts(), parsed.literal_hosts());
    }

    #[test]
    fn an_edit_of_the_same_size_in_the_same_second_is_seen() {
        let scratch = Scratch::new("edit");
        std::fs::write(scratch.config(), many(20, "/old/")).unwrap();
        let _ = scratch.load();
        assert!(!scratch.load().text.is_empty(), "cached");
        let edited = many(20, "/new/");
        assert_eq!(edited.len(), many(20, "/old/").len());
        std::fs::write(scratch.config(), &edited).unwrap();
        let config = scratch.load();
        let image = &resolve(&config, b"node3").unwrap().settings.image;
        assert_eq!(
            image,
            &Some(crate::settings::Image::Path("/new/3.sif".into()))
        );
    }

    #[test]
    fn a_cut_corrupt_or_shared_cache_is_ignored_and_written_again() {
        let scratch = Scratch::new("bad");
        let text = many(20, "/img/");
        std::fs::write(scratch.config(), &text).unwrap();
        let parsed = parse(&text, &scratch.config()).unwrap();
        let _ = scratch.load();
        let whole = std::fs::read_to_string(scratch.cache_file()).unwrap();
        let cut = whole.lines().take(10).collect::<Vec<_>>().join("\n");
        let garbage = whole.replace(' ', "x");
        for (what, bytes) in [
            ("cut", cut.as_str()),
            ("garbage", garbage.as_str()),
            ("empty", ""),
        ] {
            std::fs::write(scratch.cache_file(), bytes).unwrap();
            let config = scratch.load();
            assert!(config.text.is_empty(), "{what}: the file was parsed");
            assert_eq!(resolutions(&config), resolutions(&parsed), "{what}");
            assert_eq!(
                std::fs::read_to_string(scratch.cache_file()).unwrap(),
                whole,
                "{what}: written again"
            );
        }
        // Readable by others: not trusted (whoever could write it could change what runs).
        std::fs::set_permissions(scratch.cache_file(), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        assert!(scratch.load().text.is_empty(), "a shared cache is not read");
        // A link to a cache is not one.
        let elsewhere = scratch.dir.join("elsewhere");
        std::fs::rename(scratch.cache_file(), &elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, scratch.cache_file()).unwrap();
        assert!(scratch.cache().lookup(&scratch.config(), &text).is_none());
    }

    #[test]
    fn what_cannot_be_read_back_alone_is_not_cached() {
        let scratch = Scratch::new("inline");
        std::fs::write(
            scratch.config(),
            "host = [{ pattern = \"a\", image = \"/a.sif\" }]\n",
        )
        .unwrap();
        let config = scratch.load();
        assert!(resolve(&config, b"a").unwrap().settings.image.is_some());
        assert!(!scratch.cache_file().exists());
        // Nor a small file with the standard threshold.
        let small = Cache {
            min_len: MIN_LEN,
            ..scratch.cache()
        };
        std::fs::write(scratch.config(), many(2, "/i/")).unwrap();
        let _ = load_with(&scratch.config(), true, Some(&small)).unwrap();
        assert!(!small.file(&scratch.config()).exists());
    }
}
