//! What cssh reads of OpenSSH's own configuration files without running ssh: only whether they
//! could set a keyword at all. `ssh -G` answers exactly what a host gets, but it is a process
//! (about 5 ms); this answers "no" for certain when no file that ssh would read mentions the
//! keyword, so `ssh -G` runs only when the answer could be "yes".
//!
//! The files are those of `ssh.c`'s process_config_files: the `-F` file alone (nothing for
//! `-F none`), else `~/.ssh/config` and the system's ssh_config. Each is followed through
//! `Include` as `readconf.c` does: `~` is the home directory of the password database (ssh's,
//! not `$HOME`), a relative path starts in `~/.ssh` (in the `-F` file too) or, in the system's
//! file, in its directory, and the last component may hold wildcards; 16 levels at most. Any
//! doubt (an unreadable file, a deeper chain, an `Include` written in a way this does not follow)
//! answers "could".

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::pattern::glob_match;

/// How deep `Include` may nest (`readconf.c`'s READCONF_MAX_DEPTH).
const MAX_DEPTH: usize = 16;

/// Where ssh looks for its configuration files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Places {
    /// The user's home directory, as the password database gives it.
    pub home: Option<PathBuf>,
    /// The system-wide ssh_config files the real ssh may read: `/etc/ssh/ssh_config`, and for
    /// an ssh installed under another prefix (Homebrew, /usr/local), the prefix's, where
    /// packagers (`etc/ssh/`) and OpenSSH's own default (`etc/`) put it; on Windows, also
    /// `%ProgramData%\ssh\ssh_config`, Windows' OpenSSH's. An ssh built with a sysconfdir
    /// elsewhere has a system file this does not read.
    pub system: Vec<PathBuf>,
}

impl Places {
    /// The places for the real ssh at `ssh`.
    pub fn of(ssh: &Path) -> Places {
        let mut system = vec![PathBuf::from("/etc/ssh/ssh_config")];
        // `<prefix>/bin/ssh` reads its prefix's; /usr's is /etc's.
        if let Some(prefix) = ssh.parent().and_then(Path::parent)
            && prefix != Path::new("/usr")
            && prefix != Path::new("/")
        {
            system.push(prefix.join("etc/ssh/ssh_config"));
            system.push(prefix.join("etc/ssh_config"));
        }
        if cfg!(windows)
            && let Some(data) = std::env::var_os("ProgramData")
        {
            system.push(Path::new(&data).join("ssh").join("ssh_config"));
        }
        Places {
            home: home_directory(),
            system,
        }
    }
}

/// Whether the ssh_config files that a command line with `-F config_file` (if any) reads could
/// set one of `keywords` (in lower case).
pub fn may_set(places: &Places, config_file: Option<&OsStr>, keywords: &[&str]) -> bool {
    let Some(home) = &places.home else {
        return true;
    };
    let user_dir = home.join(".ssh");
    let reads = |file: &Path, relative_to: &Path| {
        mentions(file, relative_to, home, keywords, 0).unwrap_or(true)
    };
    match config_file {
        Some(file) if file.eq_ignore_ascii_case("none") => false,
        // A missing -F file is ssh's error to report; whatever cssh decides does not matter.
        Some(file) => reads(Path::new(file), &user_dir),
        None => {
            reads(&user_dir.join("config"), &user_dir)
                || places
                    .system
                    .iter()
                    .any(|system| reads(system, system.parent().unwrap_or(Path::new("/"))))
        }
    }
}

/// Whether `file` or a file it includes mentions one of `keywords`; `None` for "cannot tell".
/// A missing file mentions nothing: ssh skips it too.
fn mentions(
    file: &Path,
    relative_to: &Path,
    home: &Path,
    keywords: &[&str],
    depth: usize,
) -> Option<bool> {
    if depth > MAX_DEPTH {
        return None;
    }
    let text = match std::fs::read(file) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some(false),
        Err(_) => return None,
    };
    let lower = text.to_ascii_lowercase();
    let contains = |word: &[u8]| lower.windows(word.len()).any(|w| w == word);
    if keywords.iter().any(|k| contains(k.as_bytes())) {
        return Some(true);
    }
    if !contains(b"include") {
        return Some(false);
    }
    for line in text.split(|&b| b == b'\n') {
        for included in include_arguments(line)? {
            for path in expand(included, relative_to, home)? {
                if mentions(&path, relative_to, home, keywords, depth + 1)? {
                    return Some(true);
                }
            }
        }
    }
    Some(false)
}

/// The arguments of a line if it is an `Include`; `None` for arguments
/// written with quotes, escapes or expansions, which this does not follow.
fn include_arguments(line: &[u8]) -> Option<Vec<&[u8]>> {
    let is_space = |b: &u8| b" \t\r".contains(b);
    let line = &line[line.iter().take_while(|b| is_space(b)).count()..];
    let end = line
        .iter()
        .position(|b| is_space(b) || *b == b'=')
        .unwrap_or(line.len());
    if !line[..end].eq_ignore_ascii_case(b"include") {
        return Some(Vec::new());
    }
    let rest = line[end..].trim_ascii_start();
    let rest = rest.strip_prefix(b"=").unwrap_or(rest);
    if rest.iter().any(|b| b"\"'\\$%{[".contains(b)) {
        return None;
    }
    Some(
        rest.split(is_space)
            .filter(|word| !word.is_empty() && !word.starts_with(b"#"))
            .collect(),
    )
}

/// The files an `Include` argument names: `~/` expanded, a relative path from `relative_to`,
/// wildcards in the last component matched against that directory's names.
fn expand(argument: &[u8], relative_to: &Path, home: &Path) -> Option<Vec<PathBuf>> {
    let text = std::str::from_utf8(argument).ok()?;
    let path = if let Some(rest) = text.strip_prefix("~/") {
        home.join(rest)
    } else if text.starts_with('~') {
        return None; // another user's home
    } else {
        relative_to.join(text)
    };
    let name = path.file_name()?.to_str()?.to_string();
    let parent = path.parent()?;
    let wild = |s: &str| s.contains(['*', '?']);
    if parent.to_str().is_none_or(wild) {
        return None;
    }
    if !wild(&name) {
        return Some(vec![path]);
    }
    let entries = match std::fs::read_dir(parent) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some(Vec::new()),
        Err(_) => return None,
    };
    Some(
        entries
            .filter_map(Result::ok)
            .filter(|entry| glob_match(name.as_bytes(), entry.file_name().as_encoded_bytes()))
            .map(|entry| entry.path())
            .collect(),
    )
}

/// The home directory of the password database, where ssh finds `~/.ssh/config`.
#[cfg(unix)]
fn home_directory() -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let mut buffer = vec![0_u8; 16 * 1024];
    // SAFETY: an all-zero passwd is a valid value for getpwuid_r to fill in.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call, the buffer's length is given, and the
    // strings read afterwards point into `buffer`, which outlives them.
    unsafe {
        let status = libc::getpwuid_r(
            libc::getuid(),
            &raw mut entry,
            buffer.as_mut_ptr().cast(),
            buffer.len(),
            &raw mut found,
        );
        if status != 0 || found.is_null() || entry.pw_dir.is_null() {
            return None;
        }
        let dir = std::ffi::CStr::from_ptr(entry.pw_dir);
        Some(PathBuf::from(OsStr::from_bytes(dir.to_bytes())))
    }
}

#[cfg(not(unix))]
fn home_directory() -> Option<PathBuf> {
    dirs::home_dir()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::scratch::Scratch;

    /// A home directory and a system directory in a scratch place.
    fn scratch(name: &str) -> Scratch {
        let scratch = Scratch::new(&format!("ssh-config-{name}"));
        std::fs::create_dir_all(scratch.dir.join("home/.ssh")).unwrap();
        std::fs::create_dir_all(scratch.dir.join("etc/ssh")).unwrap();
        scratch
    }

    /// Whether the files in `scratch` could set multiplexing, with `-F config_file` if any.
    fn may_set_in(scratch: &Scratch, config_file: Option<&str>) -> bool {
        let places = Places {
            home: Some(scratch.dir.join("home")),
            system: vec![scratch.dir.join("etc/ssh/ssh_config")],
        };
        let file = match config_file {
            Some("none") => Some("none".into()),
            other => other.map(|f| scratch.dir.join(f).into_os_string()),
        };
        may_set(&places, file.as_deref(), &["controlmaster", "controlpath"])
    }

    const DEBIAN: &str = "Include /etc/ssh/ssh_config.d/*.conf\nHost *\n    SendEnv LANG LC_*\n    HashKnownHosts yes\n    GSSAPIAuthentication yes\n";

    #[test]
    fn files_that_never_mention_a_keyword_cannot_set_it() {
        let scratch = scratch("silent");
        assert!(!may_set_in(&scratch, None), "no files at all");
        scratch.write("etc/ssh/ssh_config", DEBIAN);
        scratch.write("home/.ssh/config", "Host hpc\n  User me\n  ProxyJump gw\n");
        assert!(!may_set_in(&scratch, None));
        scratch.write("home/.ssh/config", "Host hpc\n  CONTROLMASTER auto\n");
        assert!(may_set_in(&scratch, None), "keywords are read without case");
        assert!(!may_set_in(&scratch, Some("none")), "-F none reads nothing");
        scratch.write("mine", "Host *\n  User me\n");
        assert!(
            !may_set_in(&scratch, Some("mine")),
            "-F replaces both files"
        );
    }

    #[test]
    #[cfg(unix)] // Windows paths hold backslashes, which this leaves to ssh -G
    fn includes_are_followed_as_ssh_follows_them() {
        let scratch = scratch("include");
        let system = scratch.dir.join("etc/ssh");
        scratch.write(
            "etc/ssh/ssh_config",
            &format!("Include {}/ssh_config.d/*.conf\n", system.display()),
        );
        scratch.write("etc/ssh/ssh_config.d/10-cluster.conf", "Host *\n  User x\n");
        assert!(!may_set_in(&scratch, None));
        scratch.write(
            "etc/ssh/ssh_config.d/20-mux.conf",
            "Host *\n  ControlPath /tmp/%C\n",
        );
        assert!(may_set_in(&scratch, None), "through a wildcard");
        scratch.write("etc/ssh/ssh_config.d/20-mux.conf", "");
        // The user's relative Include starts in ~/.ssh, also from an -F file; `~/` is home.
        scratch.write("home/.ssh/config", "Host a\n  Include=conf.d/*\n");
        scratch.write("home/.ssh/conf.d/mux", "ControlMaster auto\n");
        assert!(may_set_in(&scratch, None));
        scratch.write("mine", "Include conf.d/mux\n");
        assert!(may_set_in(&scratch, Some("mine")));
        scratch.write("mine", "Include ~/.ssh/conf.d/none-here\n");
        assert!(
            !may_set_in(&scratch, Some("mine")),
            "a missing file is skipped"
        );
        // A loop ends at ssh's depth, in doubt.
        scratch.write("mine", &format!("Include {}/mine\n", scratch.dir.display()));
        assert!(may_set_in(&scratch, Some("mine")));
        // What this does not follow is a doubt.
        for line in [
            "Include \"conf.d/x\"",
            "Include ~other/x",
            "Include ${HOME}/x",
            "Include */x",
        ] {
            scratch.write("mine", line);
            assert!(may_set_in(&scratch, Some("mine")), "{line}");
        }
    }

    #[test]
    fn an_unreadable_file_is_a_doubt() {
        let scratch = scratch("unreadable");
        std::fs::create_dir_all(scratch.dir.join("home/.ssh/config")).unwrap();
        assert!(
            may_set_in(&scratch, None),
            "a directory cannot be read as a file"
        );
        let nowhere = Places {
            home: None,
            system: Vec::new(),
        };
        assert!(may_set(&nowhere, None, &["controlpath"]));
    }

    #[test]
    fn the_system_file_is_found_beside_the_installed_ssh() {
        let mut places = Places::of(Path::new("/opt/homebrew/bin/ssh"));
        if cfg!(windows) {
            let windows = places.system.pop().unwrap();
            assert!(
                windows.ends_with(r"ssh\ssh_config"),
                "{}",
                windows.display()
            );
        }
        assert_eq!(
            places.system,
            [
                "/etc/ssh/ssh_config",
                "/opt/homebrew/etc/ssh/ssh_config",
                "/opt/homebrew/etc/ssh_config"
            ]
            .map(PathBuf::from)
        );
        let usr = Places::of(Path::new("/usr/bin/ssh")).system;
        assert_eq!(usr[0], PathBuf::from("/etc/ssh/ssh_config"));
        assert_eq!(usr.len(), if cfg!(windows) { 2 } else { 1 });
    }
}
