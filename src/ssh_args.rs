//! OpenSSH's command-line grammar, parsed exactly as `ssh.c` parses it.
//!
//! ssh uses OpenBSD's getopt (see `getopt`). The first word that is not an option is the
//! destination; unless the first pass ended with `--`, ssh then parses options a second time
//! after the destination (parallel-ssh relies on it), and what remains is the command, joined
//! with single spaces.
//!
//! The parser only reads: it records where every option, the destination and the command words
//! sit in the original argv, so a plan can rebuild it while keeping every other byte unchanged.

use std::ffi::{OsStr, OsString};

use crate::getopt::{self, GetoptError, Opt};
use crate::words;

/// ssh's flags that take no argument (`ssh.c`, OpenSSH 8.0 to 10.5). `-Z` is missing: it is
/// 10.5's, unknown before (see [`Grammar`]).
const FLAGS: &[u8] = b"1246ACGKMNTVXYafgknqstvxy";
/// ssh's options that take an argument. `-P` is missing: it is a flag before 9.4 and takes a tag
/// from 9.4 on (see [`Grammar`]).
const WITH_ARGUMENT: &[u8] = b"BDEFIJLOQRSWbceilmopw";

/// What of ssh's grammar depends on its version, read from `ssh -V`'s banner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grammar {
    /// `-P` takes a tag (9.4 and later); before, it is a flag.
    pub p_takes_argument: bool,
    /// `-Z` is a flag (10.5 and later); before, ssh does not know it.
    pub z_is_flag: bool,
}

impl Default for Grammar {
    fn default() -> Self {
        Grammar::CURRENT
    }
}

impl Grammar {
    /// The newest OpenSSH this code knows, for an unreadable banner (an ssh newer than this code
    /// or not OpenSSH) and where only the destination matters.
    pub const CURRENT: Grammar = Grammar {
        p_takes_argument: true,
        z_is_flag: true,
    };

    /// `ssh -V` prints `OpenSSH_9.2p1 ...`.
    pub fn of(version_banner: &str) -> Grammar {
        let version = version_banner
            .split_whitespace()
            .find_map(|word| word.strip_prefix("OpenSSH_"))
            .unwrap_or("");
        if version.is_empty() {
            return Grammar::CURRENT;
        }
        let mut numbers = version
            .split(|c: char| !c.is_ascii_digit())
            .map(|n| n.parse::<u32>().unwrap_or(0));
        let release = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
        Grammar {
            p_takes_argument: release >= (9, 4),
            z_is_flag: release >= (10, 5),
        }
    }
}

/// A parsed ssh command line. Indexes refer to the argv without argv[0].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub args: Vec<OsString>,
    pub options: Vec<Opt>,
    /// Index of the destination word.
    pub destination: usize,
    /// The host part of the destination: after the last `@`, or from an `ssh://` URI.
    pub host: OsString,
    /// Index of the first command word; `args.len()` when there is no command.
    pub command_start: usize,
}

/// Why a command line has no meaning for ssh; ssh itself reports these, so cssh passes the argv
/// through untouched and lets ssh print its own usage or error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unparsable {
    IllegalOption(u8),
    MissingArgument(u8),
    NoDestination,
    BadDestination,
}

/// In the words ssh itself uses (OpenBSD getopt's messages, then ssh's usage).
impl std::fmt::Display for Unparsable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unparsable::IllegalOption(letter) => {
                write!(f, "unknown option -- {}", char::from(*letter))
            }
            Unparsable::MissingArgument(letter) => {
                write!(f, "option requires an argument -- {}", char::from(*letter))
            }
            Unparsable::NoDestination => write!(f, "no destination"),
            Unparsable::BadDestination => write!(f, "a destination ssh does not accept"),
        }
    }
}

impl From<GetoptError> for Unparsable {
    fn from(error: GetoptError) -> Unparsable {
        match error {
            GetoptError::Illegal(letter) => Unparsable::IllegalOption(letter),
            GetoptError::MissingArgument(letter) => Unparsable::MissingArgument(letter),
        }
    }
}

/// What the session would run, as ssh decides it from its command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Session {
    /// An interactive login shell: no command words.
    Shell,
    /// A command: the words after the destination, joined with single spaces.
    Command(Vec<u8>),
    /// A subsystem request (`-s`, `SessionType subsystem`): the words name the subsystem.
    Subsystem(Vec<u8>),
    /// Nothing runs on the remote: `-G -V -Q -O -N -W`, `SessionType none`, or options ssh
    /// refuses in combination (it then reports the conflict itself).
    None,
}

/// How the command line asks for a terminal (`-t`, `-tt`, `-T`, `-o RequestTTY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtyRequest {
    /// Nothing said: ssh allocates a pty for a login shell when stdin is a terminal.
    Auto,
    /// `-t`, `-tt`, `-T` or a `RequestTTY` value: whatever it asks, ssh does it unchanged.
    Explicit,
}

/// Parses ssh's arguments (argv without argv[0]). `grammar` is asked only when `-P` or `-Z`
/// appears, because answering it means asking the real ssh for its version.
pub fn parse(
    args: Vec<OsString>,
    grammar: &mut dyn FnMut() -> Grammar,
) -> Result<Invocation, Unparsable> {
    let mut known: Option<Grammar> = None;
    let mut arity = |letter: u8| {
        if letter == b'P' {
            Some(known.get_or_insert_with(&mut *grammar).p_takes_argument)
        } else if letter == b'Z' {
            known
                .get_or_insert_with(&mut *grammar)
                .z_is_flag
                .then_some(false)
        } else if WITH_ARGUMENT.contains(&letter) {
            Some(true)
        } else {
            FLAGS.contains(&letter).then_some(false)
        }
    };
    let mut options = Vec::new();
    let first = getopt::getopt(&args, 0, &mut arity, &mut options)?;
    let destination = first.next;
    let word = args.get(destination).ok_or(Unparsable::NoDestination)?;
    let host = host_of(word.as_encoded_bytes()).ok_or(Unparsable::BadDestination)?;
    let command_start = if first.terminated || destination + 1 >= args.len() {
        destination + 1
    } else {
        getopt::getopt(&args, destination + 1, &mut arity, &mut options)?.next
    };
    Ok(Invocation {
        host: words::from_bytes(host.to_vec()),
        args,
        options,
        destination,
        command_start,
    })
}

/// The host part of a destination, as `ssh.c` takes it: an `ssh://[user[;params]@]host[:port]`
/// URI (no path allowed), else everything after the last `@`. `None` where ssh prints usage.
fn host_of(destination: &[u8]) -> Option<&[u8]> {
    if let Some(rest) = destination.strip_prefix(b"ssh://") {
        let authority = match rest.iter().rposition(|&b| b == b'@') {
            Some(at) => &rest[at + 1..],
            None => rest,
        };
        if authority.contains(&b'/') {
            return None;
        }
        let host = if let Some(bracketed) = authority.strip_prefix(b"[") {
            let end = bracketed.iter().position(|&b| b == b']')?;
            &bracketed[..end]
        } else {
            match authority.iter().position(|&b| b == b':') {
                Some(colon) => &authority[..colon],
                None => authority,
            }
        };
        return (!host.is_empty()).then_some(host);
    }
    match destination.iter().rposition(|&b| b == b'@') {
        Some(0) => None,
        Some(at) => Some(&destination[at + 1..]),
        None => Some(destination),
    }
}

impl Invocation {
    /// The remote words as ssh sends them: joined with single spaces, no quoting added.
    pub fn command_words(&self) -> Vec<u8> {
        self.args[self.command_start..]
            .join(OsStr::new(" "))
            .into_encoded_bytes()
    }

    fn has(&self, letter: u8) -> bool {
        self.options.iter().any(|o| o.letter == letter)
    }

    /// The values given with `-o KEY=VALUE` (or `-o "KEY VALUE"`) for one keyword, in order.
    pub fn config_values<'a>(&'a self, keyword: &'a str) -> impl Iterator<Item = Vec<u8>> + 'a {
        self.options
            .iter()
            .filter(|o| o.letter == b'o')
            .filter_map(|o| {
                o.value
                    .as_deref()
                    .and_then(|v| split_config_option(v.as_encoded_bytes()))
            })
            .filter(move |(key, _)| key.eq_ignore_ascii_case(keyword.as_bytes()))
            .map(|(_, value)| value.to_vec())
    }

    /// What ssh would run on the remote for this command line (`ssh.c` main and
    /// `clientloop.c` `client_session2_setup`).
    pub fn session(&self) -> Session {
        // Print-and-exit modes, multiplexer control and stdio forwarding run no session.
        if [b'G', b'V', b'Q', b'O', b'W'].iter().any(|&l| self.has(l)) {
            return Session::None;
        }
        let session_type = self
            .config_values("SessionType")
            .next()
            .map(|v| v.to_ascii_lowercase());
        let subsystem = self.has(b's') || session_type.as_deref() == Some(b"subsystem");
        let none = self.has(b'N') || session_type.as_deref() == Some(b"none");
        let words = self.command_words();
        match (subsystem, none) {
            (false, false) if self.command_start == self.args.len() => Session::Shell,
            (false, false) => Session::Command(words),
            (true, false) if !words.is_empty() => Session::Subsystem(words),
            _ => Session::None,
        }
    }

    pub fn tty_request(&self) -> TtyRequest {
        if self.has(b't') || self.has(b'T') || self.config_values("RequestTTY").next().is_some() {
            TtyRequest::Explicit
        } else {
            TtyRequest::Auto
        }
    }

    /// `-O ctl_cmd`: a command to a connection-sharing master (check, exit, stop, forward,
    /// cancel, proxy), no session of its own.
    pub fn controls_master(&self) -> bool {
        self.has(b'O')
    }

    /// The command line already decides multiplexing: `-M`, `-S ctl_path`, or `-o` with
    /// ControlMaster, ControlPath or ControlPersist.
    pub fn sets_multiplexing(&self) -> bool {
        self.has(b'M')
            || self.has(b'S')
            || ["ControlMaster", "ControlPath", "ControlPersist"]
                .iter()
                .any(|k| self.config_values(k).next().is_some())
    }

    /// `-f` without a command: ssh refuses ("Cannot fork into background without a command").
    pub fn forks_without_command(&self) -> bool {
        self.has(b'f') && self.command_start == self.args.len()
    }

    /// argv with every `-s` flag removed, keeping all other bytes: a word that held only `-s`
    /// disappears, a cluster such as `-Ts` loses its `s`.
    pub fn args_without_subsystem_flag(&self) -> Vec<OsString> {
        self.args_without(b"s")
    }

    /// argv without the options of `letters` and their values, keeping all other bytes.
    pub fn args_without(&self, letters: &[u8]) -> Vec<OsString> {
        getopt::remove(&self.args, &self.options, letters)
    }

    /// argv without the options of `letters`, and without the `-o` options that set one of
    /// `keywords` (any case), keeping all other bytes.
    pub fn args_without_settings(&self, letters: &[u8], keywords: &[&str]) -> Vec<OsString> {
        getopt::remove_where(&self.args, &self.options, |o| {
            letters.contains(&o.letter)
                || (o.letter == b'o'
                    && o.value
                        .as_deref()
                        .and_then(|v| split_config_option(v.as_encoded_bytes()))
                        .is_some_and(|(key, _)| {
                            keywords
                                .iter()
                                .any(|k| key.eq_ignore_ascii_case(k.as_bytes()))
                        }))
        })
    }

    /// A tunnel alone: `-N` (or `SessionType none`) opens no session, but forwards and the
    /// agent act where the connection ends.
    pub fn tunnel_only(&self) -> bool {
        ![b'G', b'V', b'Q', b'O', b'W'].iter().any(|&l| self.has(l))
            && self.session() == Session::None
    }

    /// Whether the command line decides how much ssh says: `-v`, `-q` or `LogLevel`.
    pub fn sets_log_level(&self) -> bool {
        self.has(b'v') || self.has(b'q') || self.config_values("LogLevel").next().is_some()
    }

    /// The ssh_config file ssh reads instead of the standard ones: the last `-F`.
    pub fn config_file(&self) -> Option<&OsStr> {
        self.options
            .iter()
            .rev()
            .find(|o| o.letter == b'F')
            .and_then(|o| o.value.as_deref())
    }

    /// The value of the first option `letter`, the one ssh uses (`-l`, `-p`, `-J`).
    pub fn first_value(&self, letter: u8) -> Option<&OsString> {
        self.options
            .iter()
            .find(|o| o.letter == letter)
            .and_then(|o| o.value.as_ref())
    }
}

/// Splits an `-o` value the way `readconf.c` does: the keyword ends at whitespace or `=`, then
/// an optional `=` between optional whitespace; a value in double quotes loses its quotes.
fn split_config_option(option: &[u8]) -> Option<(&[u8], &[u8])> {
    let is_space = |b: &u8| b" \t".contains(b);
    let option = &option[option.iter().take_while(|b| is_space(b)).count()..];
    let end = option.iter().position(|b| is_space(b) || *b == b'=')?;
    let (key, mut value) = option.split_at(end);
    value = &value[value.iter().take_while(|b| is_space(b)).count()..];
    if let Some(after_equals) = value.strip_prefix(b"=") {
        value = &after_equals[after_equals.iter().take_while(|b| is_space(b)).count()..];
    }
    let value = value
        .strip_prefix(b"\"")
        .and_then(|v| v.strip_suffix(b"\""))
        .unwrap_or(value);
    Some((key, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    fn parse_new(words: &[&str]) -> Result<Invocation, Unparsable> {
        parse(os(words), &mut || Grammar::CURRENT)
    }

    fn summary(words: &[&str]) -> (String, String, Session) {
        let inv = parse_new(words).expect("parses");
        let host = inv.host.to_string_lossy().into_owned();
        let dest = inv.args[inv.destination].to_string_lossy().into_owned();
        (dest, host, inv.session())
    }

    fn cmd(s: &str) -> Session {
        Session::Command(s.as_bytes().to_vec())
    }

    #[test]
    fn grammar_table() {
        let cases: &[(&[&str], &str, &str, Session)] = &[
            (&["h"], "h", "h", Session::Shell),
            (
                &["h", "echo", "a  b", "c'd"],
                "h",
                "h",
                cmd("echo a  b c'd"),
            ),
            (&["-p", "2222", "h", "ls"], "h", "h", cmd("ls")),
            (&["-p2222", "-tt", "h", "ls"], "h", "h", cmd("ls")),
            (&["-vvv", "-oUser=x", "h", "ls"], "h", "h", cmd("ls")),
            (
                &["h", "-p", "2222", "-o", "LogLevel=ERROR", "echo", "x"],
                "h",
                "h",
                cmd("echo x"),
            ),
            (&["--", "h", "-v", "echo"], "h", "h", cmd("-v echo")),
            (&["h", "--", "-v"], "h", "h", cmd("-v")),
            (&["h", "echo", "-v", "x"], "h", "h", cmd("echo -v x")),
            (&["h", "echo", "--", "x"], "h", "h", cmd("echo -- x")),
            (&["bob@h"], "bob@h", "h", Session::Shell),
            (&["a@b@h", "id"], "a@b@h", "h", cmd("id")),
            (
                &["ssh://alice@h:2200"],
                "ssh://alice@h:2200",
                "h",
                Session::Shell,
            ),
            (
                &["ssh://[::1]:22", "id"],
                "ssh://[::1]:22",
                "::1",
                cmd("id"),
            ),
            (
                &["-s", "h", "sftp"],
                "h",
                "h",
                Session::Subsystem(b"sftp".to_vec()),
            ),
            (&["-G", "h"], "h", "h", Session::None),
            (&["-N", "-L", "1:h:2", "h"], "h", "h", Session::None),
            (&["-W", "h:22", "j"], "j", "j", Session::None),
            (&["-O", "check", "h"], "h", "h", Session::None),
            (&["-o", "SessionType=none", "h"], "h", "h", Session::None),
            (
                &["-oSessionType subsystem", "h", "sftp"],
                "h",
                "h",
                Session::Subsystem(b"sftp".to_vec()),
            ),
            (&["-s", "-N", "h", "sftp"], "h", "h", Session::None),
            (&["h", "-"], "h", "h", cmd("-")),
            (&["-", "h"], "-", "-", cmd("h")),
            (
                &["-T", "-D", "1080", "-o", "RemoteCommand=none", "h", "bash"],
                "h",
                "h",
                cmd("bash"),
            ),
            (
                &[
                    "-x",
                    "-a",
                    "-oClearAllForwardings=yes",
                    "-2",
                    "-s",
                    "--",
                    "u@h",
                    "sftp",
                ],
                "u@h",
                "h",
                Session::Subsystem(b"sftp".to_vec()),
            ),
            (
                &[
                    "-T",
                    "h",
                    "-o",
                    "NumberOfPasswordPrompts=1",
                    "-l",
                    "bob",
                    "-p",
                    "2222",
                    "uptime",
                ],
                "h",
                "h",
                cmd("uptime"),
            ),
            (
                &[
                    "-oConnectTimeout=10",
                    "-2",
                    "-a",
                    "-x",
                    "-lbob",
                    "h",
                    "echo \"a b\" $HOME",
                ],
                "h",
                "h",
                cmd("echo \"a b\" $HOME"),
            ),
        ];
        for (words, dest, host, session) in cases {
            assert_eq!(
                summary(words),
                (dest.to_string(), host.to_string(), session.clone()),
                "{words:?}"
            );
        }
    }

    #[test]
    fn unparsable_lines_are_reported() {
        assert_eq!(
            parse_new(&["-j", "h"]),
            Err(Unparsable::IllegalOption(b'j'))
        );
        assert_eq!(
            parse_new(&["--foo", "h"]),
            Err(Unparsable::IllegalOption(b'-'))
        );
        assert_eq!(parse_new(&["-p"]), Err(Unparsable::MissingArgument(b'p')));
        assert_eq!(
            parse_new(&["h", "-p"]),
            Err(Unparsable::MissingArgument(b'p'))
        );
        assert_eq!(parse_new(&["-v"]), Err(Unparsable::NoDestination));
        assert_eq!(parse_new(&["@h"]), Err(Unparsable::BadDestination));
        assert_eq!(
            parse_new(&["ssh://h/path"]),
            Err(Unparsable::BadDestination)
        );
    }

    #[test]
    fn p_arity_follows_the_version_and_is_asked_only_when_needed() {
        let mut asked = 0;
        parse(os(&["-v", "h", "ls"]), &mut || {
            asked += 1;
            Grammar::CURRENT
        })
        .unwrap();
        assert_eq!(asked, 0);
        // 9.4 and later: `-P tag` takes the tag.
        let new = parse(os(&["-P", "tag", "h", "ls"]), &mut || Grammar::CURRENT).unwrap();
        assert_eq!((new.host.to_str(), new.session()), (Some("h"), cmd("ls")));
        // 9.3 and earlier: `-P` is a flag, so `tag` is the destination.
        let old = parse(os(&["-P", "tag", "h", "ls"]), &mut || {
            Grammar::of("OpenSSH_9.2p1")
        })
        .unwrap();
        assert_eq!(
            (old.host.to_str(), old.session()),
            (Some("tag"), cmd("h ls"))
        );
        // -Z is a flag from 10.5 on; before, ssh does not know it (and prints its usage).
        let z = |banner: &str| parse(os(&["-Z", "h", "ls"]), &mut || Grammar::of(banner));
        assert_eq!(z("OpenSSH_10.5p1").map(|i| i.session()), Ok(cmd("ls")));
        assert_eq!(
            z("OpenSSH_10.0p2 Debian-7").map(|i| i.session()),
            Err(Unparsable::IllegalOption(b'Z'))
        );
        for (banner, p, z) in [
            (
                "OpenSSH_9.2p1 Debian-2+deb12u6, OpenSSL 3.0.19",
                false,
                false,
            ),
            ("OpenSSH_9.4p1, LibreSSL", true, false),
            ("OpenSSH_10.0p2 Debian-7", true, false),
            ("OpenSSH_8.4p1 Debian-5+deb11u3", false, false),
            ("OpenSSH_10.5p1", true, true),
            ("something else", true, true),
        ] {
            assert_eq!(
                Grammar::of(banner),
                Grammar {
                    p_takes_argument: p,
                    z_is_flag: z
                },
                "{banner}"
            );
        }
    }

    #[test]
    #[cfg(unix)] // Windows' words are Unicode
    fn invalid_utf8_survives_in_words() {
        let args = vec![
            OsString::from("h"),
            words::from_bytes(vec![b'a', 0xff, b'b']),
        ];
        let inv = parse(args, &mut || Grammar::CURRENT).unwrap();
        assert_eq!(inv.session(), Session::Command(vec![b'a', 0xff, b'b']));
    }

    #[test]
    fn tty_requests() {
        let tty = |w: &[&str]| parse_new(w).unwrap().tty_request();
        assert_eq!(tty(&["h"]), TtyRequest::Auto);
        assert_eq!(tty(&["-t", "h"]), TtyRequest::Explicit);
        assert_eq!(tty(&["h", "-T"]), TtyRequest::Explicit);
        assert_eq!(tty(&["-o", "requesttty no", "h"]), TtyRequest::Explicit);
    }

    #[test]
    fn subsystem_flag_is_removed_byte_exactly() {
        let strip = |w: &[&str]| {
            let inv = parse_new(w).unwrap();
            inv.args_without_subsystem_flag()
        };
        assert_eq!(
            strip(&["-x", "-s", "--", "h", "sftp"]),
            os(&["-x", "--", "h", "sftp"])
        );
        assert_eq!(strip(&["-Tsv", "h", "sftp"]), os(&["-Tv", "h", "sftp"]));
        assert_eq!(strip(&["-sp22", "h", "sftp"]), os(&["-p22", "h", "sftp"]));
        assert_eq!(
            strip(&["-p", "-s", "h", "sftp"]),
            os(&["-p", "-s", "h", "sftp"])
        );
        assert_eq!(strip(&["h", "-s", "sftp"]), os(&["h", "sftp"]));
    }

    #[test]
    fn multiplexing_on_the_command_line() {
        let sets = |w: &[&str]| parse_new(w).unwrap().sets_multiplexing();
        assert!(!sets(&["-v", "h", "id"]));
        assert!(sets(&["-M", "h"]));
        assert!(sets(&["-S", "/tmp/s", "h"]));
        assert!(sets(&["-o", "controlpath none", "h"]));
        assert!(sets(&["h", "-oControlPersist=no", "id"]));
    }

    #[test]
    fn config_option_forms() {
        let inv = parse_new(&[
            "-oRequestTTY=no",
            "-o",
            "requesttty  yes",
            "-o",
            "RequestTTY = \"force\"",
            "h",
        ])
        .unwrap();
        let values: Vec<Vec<u8>> = inv.config_values("RequestTTY").collect();
        assert_eq!(
            values,
            vec![b"no".to_vec(), b"yes".to_vec(), b"force".to_vec()]
        );
    }
}
