//! Quoting, in two layers.
//!
//! Inside the remote script every value is quoted for POSIX sh (`sh`): the script always
//! runs under `/bin/sh`, on the remote host and in the image, so single quotes are exact.
//!
//! The script itself must first pass through the user's login shell, which sshd hands the
//! command string to with `-c`, and that shell may be bash, dash, zsh, tcsh, csh or fish. No
//! quoting survives all of them: tcsh and csh expand `!` inside single quotes and reject
//! newlines in them, fish treats `\\` and `\'` as escapes inside single quotes. So the script
//! travels base64-encoded as arguments of a fixed bootstrap whose text holds only characters
//! that every one of those shells reads literally inside single quotes (no `!`, `\` or newline).
//! The encoding is cut into words of at most [`CHUNK`] characters, since csh refuses longer
//! words ("Word too long."), and ends with a lone `.`: what follows it (rsync's arguments after
//! a `--rsync-path`) is the script's own `$@`.

use std::borrow::Cow;

/// The login shell runs this with the encoded script in words up to `.`; `/bin/sh` joins,
/// decodes and runs it with the words after `.` as its arguments.
const BOOTSTRAP: &[u8] =
    b"/bin/sh -c 'c=; for a; do shift; case $a in .) break ;; esac; c=$c$a; done; eval \"$(printf %s \"$c\" | base64 -d)\"' sh";

/// The longest base64 word: bsd-csh gives up between 5 and 11 KiB.
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
    let mut command = BOOTSTRAP.to_vec();
    for chunk in base64(script).chunks(CHUNK) {
        command.push(b' ');
        command.extend_from_slice(chunk);
    }
    command.extend_from_slice(b" .");
    command
}

fn base64(bytes: &[u8]) -> Vec<u8> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

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
    fn bootstrap_is_literal_in_every_login_shell() {
        // Inside its single quotes: nothing tcsh, csh or fish would interpret.
        let quoted = &BOOTSTRAP[12..BOOTSTRAP.len() - 4];
        assert!(
            !quoted.iter().any(|b| b"!\\\n'".contains(b)),
            "{}",
            String::from_utf8_lossy(quoted)
        );
        let command = for_login_shell(&[b'x'; 5000]);
        let words: Vec<&[u8]> = command[BOOTSTRAP.len()..].split(|&b| b == b' ').collect();
        assert_eq!(words[0], b"");
        assert_eq!(words[words.len() - 1], b".");
        let payload = &words[1..words.len() - 1];
        assert_eq!(payload.len(), 7, "6668 base64 characters in words of 1024");
        assert!(payload.iter().all(|w| w.len() <= CHUNK));
        assert!(
            payload
                .iter()
                .flat_map(|w| w.iter())
                .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(b))
        );
    }

    #[test]
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
                .arg(std::ffi::OsStr::from_bytes(&script))
                .output()
                .unwrap();
            assert_eq!(out.stdout, word, "{}", String::from_utf8_lossy(&script));
        }
        assert_eq!(&*sh(b"plain/path-1.sif"), b"plain/path-1.sif");
        assert_eq!(&*sh(b"it's"), b"'it'\\''s'");
    }
}
