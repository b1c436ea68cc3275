//! rsync with cssh as its remote shell (`-e`), composed with the user's own `-e`.
//!
//! rsync parses options with popt, which permutes: options may follow operands, so every word
//! up to `--` is scanned, stepping over the values of the options that take one (rsync 3.x
//! `options.c`). A user's `-e 'ssh -p 2222 -i key'` (or `RSYNC_RSH`) becomes
//! `-e '<cssh> -p 2222 -i key'`, and a program other than plain `ssh` becomes cssh's ssh
//! (`CSSH_SSH`). rsync hands `-4`/`-6` only to a program named `ssh`, so crsync adds them to
//! the `-e` value itself rather than lose them.
//!
//! rsync splits the `-e` value on spaces, honouring '...' and "..." (a doubled quote inside
//! quotes is a literal one): it is not a shell (`main.c` `do_cmd`).

use std::ffi::OsString;
use std::path::Path;

use super::ClientPlan;
use crate::words;

/// Short options that take a value (`options.c` long_options).
const SHORT_WITH_VALUE: &[u8] = b"eBfMT@";
/// Long options that take a value.
const LONG_WITH_VALUE: &[&str] = &[
    "info",
    "debug",
    "stderr",
    "modify-window",
    "chmod",
    "max-size",
    "min-size",
    "max-alloc",
    "max-delete",
    "filter",
    "exclude",
    "include",
    "exclude-from",
    "include-from",
    "checksum-choice",
    "cc",
    "block-size",
    "compare-dest",
    "copy-dest",
    "link-dest",
    "compress-choice",
    "zc",
    "skip-compress",
    "compress-level",
    "zl",
    "partial-dir",
    "log-file",
    "log-file-format",
    "out-format",
    "log-format",
    "bwlimit",
    "backup-dir",
    "suffix",
    "read-batch",
    "write-batch",
    "only-write-batch",
    "files-from",
    "usermap",
    "groupmap",
    "chown",
    "timeout",
    "contimeout",
    "stop-after",
    "time-limit",
    "stop-at",
    "rsh",
    "rsync-path",
    "temp-dir",
    "iconv",
    "copy-as",
    "address",
    "port",
    "sockopts",
    "password-file",
    "early-input",
    "outbuf",
    "remote-option",
    "protocol",
    "checksum-seed",
    "config",
    "dparam",
];

/// Where an `-e` value sits: word index and the byte offset where the value starts.
#[derive(Debug, PartialEq, Eq)]
struct RshValue {
    word: usize,
    start: usize,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Scan {
    rsh: Vec<RshValue>,
    /// The last of `-4`/`--ipv4` and `-6`/`--ipv6`.
    family: Option<&'static str>,
}

fn scan(args: &[OsString]) -> Scan {
    let mut found = Scan::default();
    let mut index = 0;
    while let Some(word) = args.get(index) {
        let bytes = word.as_encoded_bytes();
        index += 1;
        if bytes == b"--" {
            break;
        }
        if let Some(long) = bytes.strip_prefix(b"--") {
            let (name, attached) = match long.iter().position(|&b| b == b'=') {
                Some(eq) => (&long[..eq], true),
                None => (long, false),
            };
            match name {
                b"rsh" if attached => found.rsh.push(RshValue {
                    word: index - 1,
                    start: 6,
                }),
                b"rsh" => found.rsh.push(RshValue {
                    word: index,
                    start: 0,
                }),
                b"ipv4" => found.family = Some("-4"),
                b"ipv6" => found.family = Some("-6"),
                _ => {}
            }
            if !attached && LONG_WITH_VALUE.iter().any(|l| l.as_bytes() == name) {
                index += 1;
            }
        } else if bytes.len() > 1 && bytes[0] == b'-' {
            for (at, &letter) in bytes.iter().enumerate().skip(1) {
                match letter {
                    b'4' => found.family = Some("-4"),
                    b'6' => found.family = Some("-6"),
                    _ => {}
                }
                if SHORT_WITH_VALUE.contains(&letter) {
                    let attached = at + 1 < bytes.len();
                    if letter == b'e' {
                        found.rsh.push(if attached {
                            RshValue {
                                word: index - 1,
                                start: at + 1,
                            }
                        } else {
                            RshValue {
                                word: index,
                                start: 0,
                            }
                        });
                    }
                    if !attached {
                        index += 1;
                    }
                    break;
                }
            }
        }
    }
    found.rsh.retain(|v| v.word < args.len());
    found
}

/// The first word of an `-e` value as rsync splits it (unquoted), and where it ends.
fn first_word(value: &[u8]) -> (Vec<u8>, usize) {
    let mut at = value.iter().take_while(|&&b| b == b' ').count();
    let mut word = Vec::new();
    let mut quote: Option<u8> = None;
    while at < value.len() && (value[at] != b' ' || quote.is_some()) {
        let b = value[at];
        at += 1;
        match quote {
            None if b == b'\'' || b == b'"' => quote = Some(b),
            Some(q) if b == q && value.get(at) == Some(&q) => {
                word.push(q);
                at += 1;
            }
            Some(q) if b == q => quote = None,
            _ => word.push(b),
        }
    }
    (word, at)
}

/// `value` with its program replaced by cssh (plus `-4`/`-6`), and the program it replaced
/// when cssh should run that one instead of the default ssh.
fn rewrite(value: &[u8], cssh: &Path, family: Option<&str>) -> (Vec<u8>, Option<OsString>) {
    let (program, end) = first_word(value);
    let separator = |b: &u8| *b == b'/' || (cfg!(windows) && *b == b'\\');
    let base = program.rsplit(separator).next().unwrap_or_default();
    if base == b"cssh" || (cfg!(windows) && base.eq_ignore_ascii_case(b"cssh.exe")) {
        return (value.to_vec(), None);
    }
    let path = cssh.as_os_str().as_encoded_bytes();
    let mut new = if path.iter().any(|b| b" '\"".contains(b)) {
        let mut quoted = vec![b'"'];
        for &b in path {
            quoted.extend_from_slice(if b == b'"' {
                b"\"\""
            } else {
                std::slice::from_ref(&b)
            });
        }
        quoted.push(b'"');
        quoted
    } else {
        path.to_vec()
    };
    if let Some(flag) = family {
        new.push(b' ');
        new.extend_from_slice(flag.as_bytes());
    }
    new.extend_from_slice(&value[end..]);
    let user_program =
        (!program.is_empty() && program != b"ssh").then(|| words::from_bytes(program));
    (new, user_program)
}

pub fn plan(mut args: Vec<OsString>, cssh: &Path, rsync_rsh: Option<OsString>) -> ClientPlan {
    let found = scan(&args);
    let mut user_program = None;
    for value in &found.rsh {
        let word = args[value.word].as_encoded_bytes();
        let (new, program) = rewrite(&word[value.start..], cssh, found.family);
        let mut replaced = word[..value.start].to_vec();
        replaced.extend(new);
        args[value.word] = words::from_bytes(replaced);
        user_program = program;
    }
    if found.rsh.is_empty() {
        // No -e: rsync would use RSYNC_RSH, else ssh.
        let base = rsync_rsh
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| OsString::from("ssh"));
        let (new, program) = rewrite(base.as_encoded_bytes(), cssh, found.family);
        user_program = program;
        args.splice(0..0, [OsString::from("-e"), words::from_bytes(new)]);
    }
    ClientPlan {
        args,
        env: user_program.map(|p| ("CSSH_SSH", p)).into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    fn plan_of(words: &[&str], rsync_rsh: Option<&str>) -> ClientPlan {
        plan(
            os(words),
            Path::new("/b/cssh"),
            rsync_rsh.map(OsString::from),
        )
    }

    #[test]
    fn cssh_is_injected_when_no_shell_is_named() {
        let p = plan_of(&["-a", "src/", "h:dst/"], None);
        assert_eq!(
            (p.args, p.env),
            (os(&["-e", "/b/cssh", "-a", "src/", "h:dst/"]), vec![])
        );
    }

    #[test]
    fn a_users_shell_command_keeps_its_options() {
        let p = plan_of(&["-av", "-e", "ssh -p 2222 -i 'my key'", "src", "h:"], None);
        assert_eq!(
            p.args,
            os(&["-av", "-e", "/b/cssh -p 2222 -i 'my key'", "src", "h:"])
        );
        assert!(p.env.is_empty());
        let p = plan_of(&["--rsh=/opt/ssh -v", "src", "h:"], None);
        assert_eq!(p.args, os(&["--rsh=/b/cssh -v", "src", "h:"]));
        assert_eq!(p.env, vec![("CSSH_SSH", OsString::from("/opt/ssh"))]);
        let p = plan_of(&["-avze", "\"/my ssh\" -C", "src", "h:"], None);
        assert_eq!(p.args, os(&["-avze", "/b/cssh -C", "src", "h:"]));
        assert_eq!(p.env, vec![("CSSH_SSH", OsString::from("/my ssh"))]);
        let p = plan_of(&["-essh", "src", "h:"], None);
        assert_eq!(p.args, os(&["-e/b/cssh", "src", "h:"]));
        let p = plan_of(&["src", "h:", "--rsh", "cssh -v"], None);
        assert_eq!(
            p.args,
            os(&["src", "h:", "--rsh", "cssh -v"]),
            "already cssh"
        );
    }

    #[test]
    fn rsync_rsh_is_composed_too() {
        let p = plan_of(&["src", "h:"], Some("ssh -p 2200"));
        assert_eq!(p.args, os(&["-e", "/b/cssh -p 2200", "src", "h:"]));
    }

    #[test]
    fn values_of_other_options_are_not_mistaken_for_e() {
        let p = plan_of(&["--exclude", "-e", "-T", "-e", "src", "h:"], None);
        assert_eq!(
            p.args,
            os(&["-e", "/b/cssh", "--exclude", "-e", "-T", "-e", "src", "h:"])
        );
        let p = plan_of(&["--", "-e", "x"], None);
        assert_eq!(p.args[..2], os(&["-e", "/b/cssh"]));
    }

    #[test]
    fn address_family_is_kept() {
        let p = plan_of(&["-4", "src", "h:"], None);
        assert_eq!(p.args, os(&["-e", "/b/cssh -4", "-4", "src", "h:"]));
        let p = plan_of(&["--ipv6", "-e", "ssh -p 1", "src", "h:"], None);
        assert_eq!(
            p.args,
            os(&["--ipv6", "-e", "/b/cssh -6 -p 1", "src", "h:"])
        );
    }

    #[test]
    fn rsync_splitting_of_the_program() {
        assert_eq!(
            first_word(b"  'a b'c\"d\"\"e\" rest"),
            (b"a bcd\"e".to_vec(), 14)
        );
        assert_eq!(first_word(b"ssh"), (b"ssh".to_vec(), 3));
    }
}
