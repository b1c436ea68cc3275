//! Quoting, in two layers.
//!
//! Inside the remote script every value is quoted for POSIX sh (`sh`): the script always
//! runs under `/bin/sh`, on the remote host and in the image, so single quotes are exact.
//!
//! The script itself must first pass through the user's login shell, which sshd hands the
//! command string to with `-c`, and that shell may be bash, dash, zsh, tcsh, csh or fish. No
//! quoting survives all of them: tcsh and csh expand `!` inside single quotes and reject
//! newlines in them, fish treats `\\` and `\'` as escapes inside single quotes. So the script
//! travels as arguments of a fixed bootstrap whose text holds only characters that every one of
//! those shells reads literally inside single quotes (no `!`, `\` or newline), encoded as a
//! printf format: printable ASCII as itself, every other byte and `'`, `!`, `\` and `%` as an
//! octal escape, in single-quoted words where a backslash is only ever followed by a digit. The
//! image's `/bin/sh` joins the words and prints the format with its builtin printf, in a
//! command substitution (a fork, no other program). A script whose format would not fit in one
//! remote command (mostly bytes that need escapes, 4 characters each) travels base64-encoded
//! instead (4 characters for 3 bytes), decoded by the remote's `base64`.
//!
//! The words are at most [`CHUNK`] characters, since csh refuses longer ones ("Word too
//! long."), and end with a lone `.`: what follows it (rsync's arguments after a
//! `--rsync-path`) is the script's own `$@`.

use std::borrow::Cow;

/// The login shell runs this with the encoded script in words up to `.`; `/bin/sh` joins them,
/// prints the format and runs the result with the words after `.` as its arguments.
const BOOTSTRAP: &[u8] =
    b"/bin/sh -c 'c=; for a; do shift; case $a in .) break ;; esac; c=$c$a; done; eval \"$(printf \"$c\")\"' sh";

/// [`BOOTSTRAP`] for a script that travels in base64.
const BOOTSTRAP_BASE64: &[u8] =
    b"/bin/sh -c 'c=; for a; do shift; case $a in .) break ;; esac; c=$c$a; done; eval \"$(printf %s \"$c\" | base64 -d)\"' sh";

/// The longest word: bsd-csh gives up between 5 and 11 KiB.
const CHUNK: usize = 1024;

/// sshd runs `shell -c COMMAND`: the kernel refuses a single argument longer than
/// MAX_ARG_STRLEN (32 pages, 128 KiB, including its terminating NUL).
pub const MAX_REMOTE_COMMAND: usize = 128 * 1024 - 1;

/// One word quoted for POSIX sh: as it is when every byte is one sh reads literally (never `=`,
/// which could make a word an assignment), else in
/// single quotes, each `'` written as `'\\''`. Exact for every byte but NUL, which no argv word
/// and no configuration value can hold (config values are checked when loaded).
pub fn sh(word: &[u8]) -> Cow<'_, [u8]> {
    let literal = |b: &u8| b.is_ascii_alphanumeric() || b"_@%+:,./-".contains(b);
    if !word.is_empty() && word.iter().all(literal) {
        return Cow::Borrowed(word);
    }
    let mut quoted = Vec::with_capacity(word.len() + 2);
    quoted.push(b'\'');
    for &b in word {
        if b == b'\'' {
            quoted.extend_from_slice(b"'\\''");
        } else {
            quoted.push(b);
        }
    }
    quoted.push(b'\'');
    Cow::Owned(quoted)
}

/// The command string to send for a remote script: readable by every login shell alike.
pub fn for_login_shell(script: &[u8]) -> Vec<u8> {
    let literal = |b: u8| (0x20..=0x7e).contains(&b) && !b"'!\\%".contains(&b);
    let mut command = BOOTSTRAP.to_vec();
    let mut word = Vec::with_capacity(CHUNK);
    for (i, &b) in script.iter().enumerate() {
        // A format that starts with `-` would be an option to some printf builtins.
        let literal = literal(b) && !(i == 0 && b == b'-');
        if word.len() + if literal { 1 } else { 4 } > CHUNK {
            push_word(&mut command, &word);
            word.clear();
        }
        push_format_byte(&mut word, b, literal);
    }
    if !word.is_empty() {
        push_word(&mut command, &word);
    }
    command.extend_from_slice(b" .");
    if command.len() <= MAX_REMOTE_COMMAND {
        return command;
    }
    let mut command = BOOTSTRAP_BASE64.to_vec();
    for chunk in base64(script).chunks(CHUNK) {
        command.push(b' ');
        command.extend_from_slice(chunk);
    }
    command.extend_from_slice(b" .");
    command
}

/// ` 'word'`: a word of the format in single quotes, which it never holds.
fn push_word(command: &mut Vec<u8>, word: &[u8]) {
    command.extend_from_slice(b" '");
    command.extend_from_slice(word);
    command.push(b'\'');
}

/// A printf format that prints `bytes`: each byte as itself where `literal` says so (never for
/// `%` or `\\`), else as its octal escape, which POSIX printf decodes in a format.
pub fn printf_format(bytes: &[u8], literal: impl Fn(u8) -> bool) -> Vec<u8> {
    let mut format = Vec::with_capacity(bytes.len() * 2);
    for &b in bytes {
        push_format_byte(&mut format, b, literal(b));
    }
    format
}

/// One byte of a printf format: itself, or `\\` and three octal digits (always three, so a digit
/// that follows is never taken into the escape).
fn push_format_byte(format: &mut Vec<u8>, b: u8, literal: bool) {
    if literal {
        format.push(b);
    } else {
        format.extend_from_slice(&[b'\\', b'0' + (b >> 6), b'0' + (b >> 3 & 7), b'0' + (b & 7)]);
    }
}

/// Standard base64 with padding (RFC 4648), as `base64 -d` reads it.
pub(crate) fn base64(bytes: &[u8]) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
    out
}

/// The script that a command of [`for_login_shell`] carries, in either form, if it is one: for
/// tests that look at every word of a command line.
#[cfg(test)]
pub(crate) fn any_carried(command: &[u8]) -> Option<Vec<u8>> {
    if command.starts_with(BOOTSTRAP) {
        return Some(carried(command));
    }
    let encoded = command.strip_prefix(BOOTSTRAP_BASE64)?;
    let text: Vec<u8> = encoded
        .iter()
        .copied()
        .filter(|b| b.is_ascii_alphanumeric() || b"+/=".contains(b))
        .collect();
    let decoded = std::process::Command::new("base64")
        .arg("-d")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            std::io::Write::write_all(&mut child.stdin.take().unwrap(), &text)?;
            child.wait_with_output()
        })
        .ok()?;
    Some(decoded.stdout)
}

/// The script that a command of [`for_login_shell`] carries (its printf form), for tests.
#[cfg(test)]
pub(crate) fn carried(command: &[u8]) -> Vec<u8> {
    let mut rest = command
        .strip_prefix(BOOTSTRAP)
        .and_then(|r| r.split(|&b| b == b' ').next().map(|_| r))
        .expect("a bootstrap in printf form");
    let mut format = Vec::new();
    while let Some(quoted) = rest.strip_prefix(b" '") {
        let end = quoted.iter().position(|&b| b == b'\'').unwrap();
        format.extend_from_slice(&quoted[..end]);
        rest = &quoted[end + 1..];
    }
    let mut script = Vec::new();
    let mut i = 0;
    while i < format.len() {
        if format[i] == b'\\' {
            let digits = std::str::from_utf8(&format[i + 1..i + 4]).unwrap();
            script.push(u8::from_str_radix(digits, 8).unwrap());
            i += 4;
        } else {
            script.push(format[i]);
            i += 1;
        }
    }
    script
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"", b""),
            (b"f", b"Zg=="),
            (b"fo", b"Zm8="),
            (b"foo", b"Zm9v"),
            (b"foob", b"Zm9vYg=="),
            (b"fooba", b"Zm9vYmE="),
            (b"foobar", b"Zm9vYmFy"),
            (&[0xff, 0x00, 0xfe], b"/wD+"),
        ];
        for (input, expected) in cases {
            assert_eq!(base64(input), *expected);
        }
    }

    #[test]
    fn bootstraps_are_literal_in_every_login_shell() {
        for bootstrap in [BOOTSTRAP, BOOTSTRAP_BASE64] {
            // Inside its single quotes: nothing tcsh, csh or fish would interpret.
            let quoted = &bootstrap[b"/bin/sh -c '".len()..bootstrap.len() - b"' sh".len()];
            assert!(
                !quoted.iter().any(|b| b"!\\\n'".contains(b)),
                "{}",
                String::from_utf8_lossy(quoted)
            );
        }
    }

    /// The words between the bootstrap and the final `.`: in single quotes after [`BOOTSTRAP`],
    /// bare after [`BOOTSTRAP_BASE64`].
    #[cfg(unix)]
    fn words<'a>(command: &'a [u8], bootstrap: &[u8]) -> Vec<&'a [u8]> {
        assert!(command.starts_with(bootstrap));
        let mut rest = command[bootstrap.len()..].strip_suffix(b" .").unwrap();
        if bootstrap == BOOTSTRAP_BASE64 {
            return rest.split(|&b| b == b' ').skip(1).collect();
        }
        let mut words = Vec::new();
        while let Some(quoted) = rest.strip_prefix(b" '") {
            let end = quoted.iter().position(|&b| b == b'\'').unwrap();
            words.push(&quoted[..end]);
            rest = &quoted[end + 1..];
        }
        assert!(rest.is_empty(), "{}", String::from_utf8_lossy(rest));
        words
    }

    /// What `/bin/sh -c command` prints.
    #[cfg(unix)]
    fn run(command: &[u8]) -> Vec<u8> {
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(crate::words::as_os_str(command))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    #[test]
    #[cfg(unix)]
    fn the_format_travels_in_words_that_every_login_shell_reads_literally() {
        // Every byte but NUL, over several words, starting with `-`.
        let payload: Vec<u8> = (1..=255_u8).cycle().take(3000).collect();
        let mut script = b"-n= 2>/dev/null; printf %s ".to_vec();
        script.extend_from_slice(&sh(&payload));
        let command = for_login_shell(&script);
        let words = words(&command, BOOTSTRAP);
        assert!(words.len() > 3, "{} words", words.len());
        for inside in &words {
            assert!(inside.len() <= CHUNK);
            assert!(!inside.iter().any(|b| b"'!\n".contains(b)));
            // A backslash always starts an escape of three octal digits, within the word, so
            // fish never sees `\\` or `\'`.
            for (i, _) in inside.iter().enumerate().filter(|(_, b)| **b == b'\\') {
                let digits = inside.get(i + 1..i + 4).unwrap_or_default();
                assert!(digits.len() == 3 && digits.iter().all(|d| (b'0'..=b'7').contains(d)));
            }
        }
        assert_eq!(&words[0][..4], b"\\055", "a leading `-` is escaped");
        assert_eq!(run(&command), payload);
    }

    #[test]
    #[cfg(unix)]
    fn a_script_too_long_for_a_format_travels_in_base64() {
        // 40 KiB of `!`: 160 KiB as a format, 53 KiB in base64.
        let payload = vec![b'!'; 40 * 1024];
        let mut script = b"printf %s ".to_vec();
        script.extend_from_slice(&sh(&payload));
        let command = for_login_shell(&script);
        assert!(command.len() <= MAX_REMOTE_COMMAND);
        let words = words(&command, BOOTSTRAP_BASE64);
        assert!(words.iter().all(|w| w.len() <= CHUNK));
        assert!(
            words
                .iter()
                .flat_map(|w| w.iter())
                .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(b))
        );
        assert_eq!(run(&command), payload);
    }

    #[test]
    #[cfg(unix)]
    fn quoted_words_read_back_exactly_in_sh() {
        for word in [
            &b"plain/path-1.sif"[..],
            b"",
            b"it's $x `id` \\ \"q\"\n!*",
            &[0xff, b'\'', 0x80],
        ] {
            let mut script = b"printf %s ".to_vec();
            script.extend_from_slice(&sh(word));
            let out = std::process::Command::new("/bin/sh")
                .arg("-c")
                .arg(crate::words::as_os_str(&script))
                .output()
                .unwrap();
            assert_eq!(out.stdout, word, "{}", String::from_utf8_lossy(&script));
        }
        assert_eq!(&*sh(b"plain/path-1.sif"), b"plain/path-1.sif");
        assert_eq!(&*sh(b"it's"), b"'it'\\''s'");
    }
}
