//! A cache of a large configuration's index, so that a call reads only the entries whose
//! pattern matches its host: with 10,000 entries, parsing and checking the whole file on every
//! call would cost tens of milliseconds.
//!
//! The index is keyed by the file's identity, as `stat` gives it: device, inode, size, and the
//! times of its last modification and last change, to the nanosecond, with cssh's version. It
//! is written only for a file that parsed without error, and only once the file's last change
//! is [`SETTLE`] old: any later edit, even of the same size within the same second, then sets a
//! change time that differs from the one kept, on a file system with coarse timestamps too
//! (git's "racy clean" problem, solved by waiting instead of rehashing). It lives in
//! `$XDG_CACHE_HOME/cssh/` (else `~/.cache/cssh/`), one file per configuration path and user,
//! written to a temporary file and renamed into place, readable by its owner only; an index
//! that is not the user's own and private, that does not read back whole, or whose entries no
//! longer parse alone, is ignored, and the file is parsed and indexed again.

use std::fmt::Write as _;
use std::fs::{File, Metadata};
use std::hash::Hasher;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Config, Entry, parse_from};
use crate::pattern::text_matches_lowercase;
use crate::private;

/// Files smaller than this are parsed on every call: that costs less than the cache's own reads.
pub const MIN_LEN: u64 = 32 * 1024;

/// How long ago a file must have last changed for its index to be kept.
pub const SETTLE: Duration = Duration::from_secs(2);

#[cfg(unix)]
const FORMAT: &str = "cssh-config-cache 2";

/// Where the cache is kept, from what size a configuration uses it, and how settled it must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cache {
    pub dir: PathBuf,
    pub min_len: u64,
    pub settle: Duration,
}

impl Cache {
    /// The user's cache directory, for files of [`MIN_LEN`] and more, settled for [`SETTLE`].
    pub fn standard() -> Option<Cache> {
        Some(Cache {
            dir: dirs::cache_dir()?.join("cssh"),
            min_len: MIN_LEN,
            settle: SETTLE,
        })
    }

    /// The cache file of the configuration at `path`, for this user.
    fn file(&self, path: &Path) -> PathBuf {
        let mut hasher = std::hash::DefaultHasher::new();
        hasher.write(path.as_os_str().as_encoded_bytes());
        self.dir.join(format!(
            "config-{}-{:016x}",
            private::euid(),
            hasher.finish()
        ))
    }

    /// The entries of the configuration `file`, open at `path`, whose patterns match `host`
    /// (in lower case), read alone, if the cache holds the index of this very file.
    pub fn lookup(&self, path: &Path, file: &File, host: &[u8]) -> Option<Vec<Entry>> {
        let meta = file.metadata().ok()?;
        if meta.len() < self.min_len {
            return None;
        }
        let key = identity(&meta)?;
        let index = private::read(&self.file(path))?;
        let (kept, lines) = index.split_once('\n')?;
        if kept != key {
            return None;
        }
        let (mut matched, mut count, mut last_end) = (Vec::new(), 0, 0);
        for line in lines.lines() {
            // The last line counts the entries: a cut index never reads back as a shorter list.
            if let Some(total) = line.strip_prefix("end ") {
                return (total.parse::<usize>().ok()? == count).then_some(matched);
            }
            let mut fields = line.splitn(4, ' ');
            let mut number = || fields.next()?.parse::<u64>().ok();
            let (start, end, header_line) = (number()?, number()?, number()?);
            let pattern = fields.next()?;
            if start < last_end || end < start || end > meta.len() {
                return None;
            }
            (count, last_end) = (count + 1, end);
            if text_matches_lowercase(pattern, host) {
                matched.push(read_entry(path, file, start, end, header_line)?);
            }
        }
        None
    }

    /// Keeps the index of `config`, just read from `text`, the contents of a file with `meta`,
    /// for the next calls; quietly does nothing where it cannot (a full disk, a read-only home,
    /// a file changed too recently): the cache only saves time.
    pub fn store(&self, path: &Path, meta: &Metadata, text: &str, config: &Config) {
        if meta.len() < self.min_len || !settled(meta, self.settle) {
            return;
        }
        let Some(mut index) = identity(meta) else {
            return;
        };
        for entry in &config.entries {
            let source = entry.source;
            // Only `[[host]]` tables read back alone; a pattern must fit on its line.
            let table = text.get(source.start..source.end).unwrap_or_default();
            if !table.trim_start().starts_with("[[") || entry.pattern_text.contains(['\n', '\r']) {
                return;
            }
            let _ = write!(
                index,
                "\n{} {} {} {}",
                source.start,
                source.end,
                source.header_line,
                entry.pattern_text.to_ascii_lowercase()
            );
        }
        let _ = writeln!(index, "\nend {}", config.entries.len());
        let _ = private::write(&self.dir, &self.file(path), index.as_bytes());
    }
}

/// One entry's text, bytes `start..end` of the file, parsed alone as the file numbers its lines.
fn read_entry(path: &Path, mut file: &File, start: u64, end: u64, line: u64) -> Option<Entry> {
    file.seek(SeekFrom::Start(start)).ok()?;
    let mut text = String::new();
    file.take(end - start).read_to_string(&mut text).ok()?;
    let mut read = parse_from(&text, path, usize::try_from(line).ok()?).ok()?;
    match (read.entries.pop(), read.entries.is_empty()) {
        (Some(entry), true) => Some(entry),
        _ => None,
    }
}

/// The index's first line: its format, cssh's version (a new version may read entries
/// differently) and the file's identity. None where the system gives no stable identity.
#[cfg(unix)]
#[allow(
    clippy::unnecessary_wraps,
    reason = "the same signature as elsewhere, where it is None"
)]
fn identity(meta: &Metadata) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    Some(format!(
        "{FORMAT} {} {} {} {} {}.{} {}.{}",
        env!("CARGO_PKG_VERSION"),
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec()
    ))
}

#[cfg(not(unix))]
fn identity(_: &Metadata) -> Option<String> {
    None
}

/// Whether the file last changed at least `settle` ago.
#[cfg(unix)]
fn settled(meta: &Metadata, settle: Duration) -> bool {
    use std::os::unix::fs::MetadataExt;
    let changed = Duration::new(
        u64::try_from(meta.ctime()).unwrap_or(0),
        u32::try_from(meta.ctime_nsec()).unwrap_or(0),
    );
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .is_ok_and(|now| now.saturating_sub(changed) >= settle)
}

#[cfg(not(unix))]
fn settled(_: &Metadata, _: Duration) -> bool {
    false
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::config::{Resolution, load_with, parse, resolve};
    use std::os::unix::fs::PermissionsExt;

    /// A scratch directory with a configuration file and a cache directory.
    struct Files(crate::scratch::Scratch);

    impl Files {
        fn new(name: &str) -> Files {
            Files(crate::scratch::Scratch::new(&format!("cache-{name}")))
        }

        fn config(&self) -> PathBuf {
            self.0.dir.join("config.toml")
        }

        /// A cache for files of any size, that keeps a file's index at once.
        fn cache(&self) -> Cache {
            Cache {
                dir: self.0.dir.join("cache"),
                min_len: 0,
                settle: Duration::ZERO,
            }
        }

        fn cache_file(&self) -> PathBuf {
            self.cache().file(&self.config())
        }

        /// Loads the whole configuration, which indexes it.
        fn load(&self) -> Config {
            load_with(&self.config(), true, None, Some(&self.cache()))
                .unwrap()
                .unwrap()
        }

        /// What the index gives for `host`, if it is used.
        fn lookup(&self, host: &[u8]) -> Option<Vec<Entry>> {
            let file = File::open(self.config()).unwrap();
            self.cache().lookup(&self.config(), &file, host)
        }

        /// Each host's resolution, from a configuration loaded for that host.
        fn resolutions(&self) -> Vec<Resolution> {
            HOSTS
                .iter()
                .map(|host| {
                    let config = load_with(&self.config(), true, Some(host), Some(&self.cache()));
                    resolve(&config.unwrap().unwrap(), host)
                })
                .collect()
        }
    }

    /// `n` entries with comments, a multi-line prelude and a list between them.
    fn many(n: usize, image: &str) -> String {
        let mut text = String::from("# many hosts\n");
        for i in 0..n {
            let _ = write!(
                text,
                "\n[[host]]\npattern = \"node{i} Node{i}-*\"\nimage = \"{image}{i}.sif\"\nprelude = \"\"\"\n[[ -d /x ]] || true\n\"\"\"\nbinds = [\"/a{i}\",\n  \"/b\"]   # two\n"
            );
        }
        text + "\n[[host]]\npattern = \"*\"\nruntime = \"singularity\"\n"
    }

    const HOSTS: &[&[u8]] = &[b"node0", b"node7-gpu", b"NODE42", b"elsewhere"];

    fn parsed_resolutions(text: &str) -> Vec<Resolution> {
        let parsed = parse(text, Path::new("config.toml")).unwrap();
        HOSTS.iter().map(|host| resolve(&parsed, host)).collect()
    }

    #[test]
    fn a_host_resolves_from_the_index_as_from_the_file() {
        let scratch = Files::new("same");
        let text = many(50, "/img/");
        std::fs::write(scratch.config(), &text).unwrap();
        assert!(scratch.lookup(b"node0").is_none(), "nothing indexed yet");
        let whole = scratch.load();
        let mode = std::fs::metadata(scratch.cache_file())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the index is private");
        // Only the matching entries are read, with the lines the file gives them.
        let entries = scratch.lookup(b"node7-gpu").expect("the index is used");
        let lines: Vec<_> = entries.iter().map(|e| e.line).collect();
        let expected: Vec<_> = [7, 50].iter().map(|&i| whole.entries[i].line).collect();
        assert_eq!(lines, expected);
        assert_eq!(scratch.resolutions(), parsed_resolutions(&text));
    }

    #[test]
    fn an_edit_of_the_same_size_in_the_same_second_is_seen() {
        let scratch = Files::new("edit");
        std::fs::write(scratch.config(), many(20, "/old/")).unwrap();
        let _ = scratch.load();
        assert!(scratch.lookup(b"node3").is_some(), "indexed");
        let edited = many(20, "/new/");
        assert_eq!(edited.len(), many(20, "/old/").len());
        std::fs::write(scratch.config(), &edited).unwrap();
        assert!(scratch.lookup(b"node3").is_none(), "the file changed");
        assert_eq!(scratch.resolutions(), parsed_resolutions(&edited));
        // With the standard wait, a file that just changed is not indexed at all, so a file
        // system whose timestamps count whole seconds cannot hide the next edit either.
        let waiting = Cache {
            settle: SETTLE,
            ..scratch.cache()
        };
        std::fs::remove_file(scratch.cache_file()).unwrap();
        let _ = load_with(&scratch.config(), true, None, Some(&waiting)).unwrap();
        assert!(!scratch.cache_file().exists());
    }

    #[test]
    fn a_cut_corrupt_or_shared_index_is_ignored_and_written_again() {
        let scratch = Files::new("bad");
        let text = many(20, "/img/");
        std::fs::write(scratch.config(), &text).unwrap();
        let _ = scratch.load();
        let whole = std::fs::read_to_string(scratch.cache_file()).unwrap();
        let cut = whole.lines().take(10).collect::<Vec<_>>().join("\n");
        let garbage = whole.replace(' ', "x");
        // Offsets that no longer fall on entries: the entry read there does not parse alone.
        let shifted = whole.replacen("\n14 ", "\n15 ", 1);
        assert_ne!(shifted, whole);
        for (what, bytes) in [
            ("cut", cut.as_str()),
            ("garbage", garbage.as_str()),
            ("shifted", shifted.as_str()),
            ("empty", ""),
        ] {
            std::fs::write(scratch.cache_file(), bytes).unwrap();
            assert!(scratch.lookup(b"node0").is_none(), "{what}: not used");
            assert_eq!(scratch.resolutions(), parsed_resolutions(&text), "{what}");
            assert_eq!(
                std::fs::read_to_string(scratch.cache_file()).unwrap(),
                whole,
                "{what}: written again"
            );
        }
        // Readable by others: not trusted (whoever could write it could change what runs).
        std::fs::set_permissions(scratch.cache_file(), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        assert!(
            scratch.lookup(b"node0").is_none(),
            "a shared index is not read"
        );
        // A link to an index is not one.
        let elsewhere = scratch.0.dir.join("elsewhere");
        std::fs::rename(scratch.cache_file(), &elsewhere).unwrap();
        std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::symlink(&elsewhere, scratch.cache_file()).unwrap();
        assert!(scratch.lookup(b"node0").is_none(), "a link is not read");
        // A private index in a directory others can write (where they could have put it).
        std::fs::remove_file(scratch.cache_file()).unwrap();
        let _ = scratch.load();
        assert!(
            scratch.lookup(b"node0").is_some(),
            "written again, and read"
        );
        let dir = scratch.cache_file().parent().unwrap().to_path_buf();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o770)).unwrap();
        assert!(
            scratch.lookup(b"node0").is_none(),
            "an index in a directory others can write is not read"
        );
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    }

    #[test]
    fn what_cannot_be_read_back_alone_is_not_indexed() {
        let scratch = Files::new("inline");
        std::fs::write(
            scratch.config(),
            "host = [{ pattern = \"a\", image = \"/a.sif\" }]\n",
        )
        .unwrap();
        let config = scratch.load();
        assert!(resolve(&config, b"a").settings.image.is_some());
        assert!(!scratch.cache_file().exists());
        // Nor a small file with the standard threshold.
        let small = Cache {
            min_len: MIN_LEN,
            ..scratch.cache()
        };
        std::fs::write(scratch.config(), many(2, "/i/")).unwrap();
        let _ = load_with(&scratch.config(), true, None, Some(&small)).unwrap();
        assert!(!small.file(&scratch.config()).exists());
    }
}
