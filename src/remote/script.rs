//! Writing the remote script: text, quoted words, the one-line failures that end it, and the
//! small shell helpers several steps share. Every step writes through this.

use super::target::MISSING_ON_REMOTE;
use crate::quote::sh;

/// `cssh_stat PID`: `cssh_ppid`, `cssh_sid` and `cssh_start` (fields 4, 6 and 22 of
/// /proc/PID/stat; the name,
/// field 2, may hold spaces and parentheses), or false where PID is gone. The start time tells a
/// process from a later one that got its pid.
pub(super) fn proc_stat(s: &mut Script) {
    s.raw("cssh_stat() {\n  cssh_line=; read -r cssh_line 2>/dev/null <\"/proc/$1/stat\" || [ -n \"$cssh_line\" ] || return 1\n");
    s.raw("  set -- ${cssh_line##*\") \"}; cssh_ppid=$2; cssh_sid=$4; cssh_start=${20}\n}\n");
}

/// `cssh_private FILE`: true where FILE may be read as cssh's own state: it and its directory
/// are this user's, it is no symbolic link, and neither is writable by the group or others. A
/// file someone else could have written is never sourced, evaluated or passed into a container.
pub(super) fn private_file(s: &mut Script) {
    s.raw(
        "cssh_private() {\n  [ -O \"$1\" ] && [ -O \"${1%/*}\" ] && ! [ -h \"$1\" ] || return 1\n",
    );
    s.raw("  cssh_pw=$(find \"$1\" \"${1%/*}\" -maxdepth 0 -perm /022 -print 2>/dev/null) && [ -z \"$cssh_pw\" ]\n}\n");
}

/// `cssh_q VALUE`: `cssh_qv`, the value single-quoted for sh.
pub(super) fn define_quote(s: &mut Script) {
    s.raw("cssh_q() {\n  cssh_qv=; cssh_jv=$1\n  while :; do case $cssh_jv in *\\'*) cssh_qv=\"$cssh_qv${cssh_jv%%\\'*}'\\\\''\"; cssh_jv=${cssh_jv#*\\'} ;; *) break ;; esac; done\n  cssh_qv=\"'$cssh_qv$cssh_jv'\"\n}\n");
}

/// A fingerprint of `parts` (64-bit FNV-1a over each part and a NUL, in hex), for file names and
/// records the script compares with what a later session is given.
pub fn fingerprint<'a>(parts: impl Iterator<Item = &'a str>) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in parts.flat_map(|part| part.bytes().chain([0])) {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// A piece of a message the script writes: text as it is, or the value of a shell expression.
#[derive(Clone, Copy)]
pub(super) enum Part<'a> {
    Text(&'a str),
    Value(&'a str),
}

/// Script text under construction.
#[derive(Default)]
pub(super) struct Script {
    pub(super) text: Vec<u8>,
    /// What the script does whenever it exits (not when it execs): a step that sets an EXIT trap
    /// of its own for a while does this too, and restores it.
    pub(super) on_exit: Option<&'static str>,
}

impl Script {
    /// A script that does `on_exit` whenever it exits, from its first line.
    pub(super) fn exiting_with(on_exit: &'static str) -> Script {
        let mut s = Script {
            text: Vec::new(),
            on_exit: Some(on_exit),
        };
        s.restore_exit_trap();
        s.raw("\n");
        s
    }

    /// The script's own EXIT trap again, or none (a command, without its terminator).
    pub(super) fn restore_exit_trap(&mut self) {
        match self.on_exit {
            Some(on_exit) => {
                self.raw("trap");
                self.word(on_exit.as_bytes());
                self.raw(" EXIT");
            }
            None => self.raw("trap - EXIT"),
        }
    }

    pub(super) fn raw(&mut self, text: &str) {
        self.text.extend_from_slice(text.as_bytes());
    }

    /// A space, then one quoted word.
    pub(super) fn word(&mut self, word: &[u8]) {
        self.text.push(b' ');
        self.quoted(word);
    }

    /// A quoted string, joined to what precedes it.
    pub(super) fn quoted(&mut self, text: &[u8]) {
        self.text.extend_from_slice(&sh(text));
    }

    /// ` { printf ... >&2; exit 127; }` and a newline: the tail of a `test || ...` line.
    pub(super) fn fail(&mut self, message: &str) {
        self.fail_with(&[Part::Text(message)], MISSING_ON_REMOTE);
    }

    /// [`Script::fail`] with a message made of text and values found at run time.
    pub(super) fn fail_with(&mut self, parts: &[Part], status: u8) {
        self.raw(" { printf '");
        for _ in parts {
            self.raw("%s");
        }
        self.raw("\\n'");
        for part in parts {
            match part {
                Part::Text(text) => self.word(text.as_bytes()),
                Part::Value(expression) => self.raw(&format!(" \"{expression}\"")),
            }
        }
        self.raw(&format!(" >&2; exit {status}; }}\n"));
    }
}

/// For tests: runs `script` under the machine's sh with a PATH of stand-ins for remote programs
/// (`(name, its sh script)`) and the machine's own basic tools, nothing else (a scheduler this
/// machine has is not found), and returns its stdout, or its stderr where it failed.
#[cfg(all(test, unix))]
pub(super) fn run_with_stand_ins(script: &[u8], programs: &[(&str, &str)]) -> String {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::PermissionsExt;
    static DIRS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let bin = std::env::temp_dir().join(format!(
        "cssh-stand-ins-{}-{}",
        std::process::id(),
        DIRS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&bin).unwrap();
    for tool in [
        "cat", "cksum", "cut", "head", "id", "sed", "sort", "tail", "tr", "wc",
    ] {
        let found = ["/usr/bin", "/bin"]
            .iter()
            .map(|dir| std::path::Path::new(dir).join(tool))
            .find(|path| path.exists())
            .unwrap();
        std::os::unix::fs::symlink(found, bin.join(tool)).unwrap();
    }
    for (name, text) in programs {
        let path = bin.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{text}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(std::ffi::OsStr::from_bytes(script))
        .env("PATH", &bin)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&bin);
    let shown = if out.status.success() {
        out.stdout
    } else {
        out.stderr
    };
    String::from_utf8_lossy(&shown).trim_end().to_string()
}
