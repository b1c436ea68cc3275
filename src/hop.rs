//! The ProxyCommand by which ssh reaches a job's own sshd: cssh itself, given the hop's whole
//! command line (the real ssh, the user's ways to the login node, the login node's script) as
//! one word, `cssh --hop=WORD`, which then execs it, so cssh is never in the data path. ssh runs a
//! ProxyCommand with the user's `$SHELL -c` (sh, bash, zsh, fish, tcsh: each quotes otherwise)
//! after expanding its `%` tokens, so the word is base64 of the NUL-separated words, which every
//! one of those shells reads literally and in which no `%` occurs; cssh's own path is quoted only
//! where it must be. Windows' OpenSSH starts the ProxyCommand itself, without a shell, splitting
//! it as Windows programs do.

use std::ffi::OsString;
use std::path::Path;

use crate::quote::base64;
use crate::words;

/// cssh's argument that carries the hop.
pub const OPTION: &str = "--hop=";

/// The ProxyCommand for a hop of `argv` (the program first), run by `cssh`; `Err` says why
/// cssh's path cannot be named in one.
pub fn proxy_command(cssh: &Path, argv: &[OsString]) -> Result<OsString, String> {
    let mut joined = Vec::new();
    for word in argv {
        joined.extend_from_slice(word.as_encoded_bytes());
        joined.push(0);
    }
    joined.pop();
    let mut command = program(cssh)?.into_bytes();
    command.push(b' ');
    command.extend_from_slice(OPTION.as_bytes());
    command.extend_from_slice(&base64(&joined));
    Ok(words::from_bytes(command))
}

/// cssh's path as the ProxyCommand's first word: as it is where every shell reads it literally,
/// else in single quotes (double quotes on Windows), `%` doubled for ssh.
pub fn program(cssh: &Path) -> Result<String, String> {
    let path = cssh
        .to_str()
        .ok_or_else(|| format!("cssh's path {} is not UTF-8", cssh.display()))?;
    let plain = |c: char| {
        c.is_ascii_alphanumeric() || "_@%+:,./-".contains(c) || cfg!(windows) && c == '\\'
    };
    let unquotable = |c: char| c.is_control() || "'\"!".contains(c) || cfg!(unix) && c == '\\';
    let named = if path.chars().all(plain) {
        path.to_string()
    } else if path.chars().any(unquotable) {
        return Err(format!(
            "cssh is installed at {path:?}, which a ProxyCommand cannot name in every shell (a quote, `!`, a backslash or a control character): install it elsewhere"
        ));
    } else if cfg!(windows) {
        format!("\"{path}\"")
    } else {
        format!("'{path}'")
    };
    Ok(named.replace('%', "%%"))
}

/// The hop's command line from the word after [`OPTION`], if it is one cssh wrote.
pub fn decode(word: &str) -> Option<Vec<OsString>> {
    let bytes = unbase64(word.as_bytes())?;
    let argv: Vec<OsString> = bytes
        .split(|&b| b == 0)
        .map(|part| {
            // Windows words are WTF-8: only UTF-8, which every word cssh writes there is, is
            // taken back.
            if cfg!(windows) {
                std::str::from_utf8(part).ok().map(OsString::from)
            } else {
                Some(words::from_bytes(part.to_vec()))
            }
        })
        .collect::<Option<_>>()?;
    (!argv.is_empty() && !argv[0].is_empty()).then_some(argv)
}

/// Standard base64 (RFC 4648) back to bytes; `None` for anything else.
fn unbase64(text: &[u8]) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let value = |c: u8| -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    };
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    for (index, chunk) in text.chunks(4).enumerate() {
        let last = index == text.len() / 4 - 1;
        let padding = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if padding > 2 || (padding > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - padding] {
            n = n << 6 | value(c)?;
        }
        n <<= 6 * padding;
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..4 - padding]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hop_comes_back_word_for_word() {
        let argv: Vec<OsString> = ["/usr/bin/ssh", "-F", "my cfg", "h", "it's %h $x\n", ""]
            .map(OsString::from)
            .to_vec();
        let command = proxy_command(Path::new("/opt/cssh 1/bin/cssh"), &argv)
            .unwrap()
            .into_string()
            .unwrap();
        let word = command.strip_prefix(if cfg!(windows) {
            "\"/opt/cssh 1/bin/cssh\" --hop="
        } else {
            "'/opt/cssh 1/bin/cssh' --hop="
        });
        let word = word.unwrap();
        assert!(!word.contains('%'));
        assert_eq!(decode(word).unwrap(), argv);
        assert_eq!(decode("!"), None);
        assert_eq!(decode("Zm9v="), None);
        assert_eq!(decode(""), None);
    }

    #[test]
    fn base64_round_trips() {
        for len in 0..40u8 {
            let bytes: Vec<u8> = (0..len).map(|i| i.wrapping_mul(97)).collect();
            assert_eq!(unbase64(&base64(&bytes)), Some(bytes));
        }
    }

    #[test]
    #[cfg(unix)]
    fn cssh_s_path_is_named_for_every_shell_or_refused() {
        assert_eq!(
            program(Path::new("/usr/bin/cssh")).unwrap(),
            "/usr/bin/cssh"
        );
        assert_eq!(program(Path::new("/a%b/cssh")).unwrap(), "/a%%b/cssh");
        for bad in ["/it's/cssh", "/a!b/cssh", "/a\\b/cssh", "/a\nb/cssh"] {
            assert!(program(Path::new(bad)).is_err(), "{bad:?}");
        }
    }
}
