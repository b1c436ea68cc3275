//! OpenBSD getopt(3), which OpenSSH's ssh, scp and sftp are built with on every platform
//! (openssh-portable's `BSDgetopt`): it never permutes, so options stop at the first word that
//! is not an option, at a lone `-`, or at `--`, which is consumed. Flags cluster (`-tt`),
//! arguments attach (`-p2222`) or take the next word.
//!
//! Options are recorded with their position in argv, so a caller can remove one and keep every
//! other byte of the command line.

use std::ffi::OsString;

use crate::words;

/// One option as getopt returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opt {
    pub letter: u8,
    pub value: Option<OsString>,
    /// Index in argv of the word that holds the letter, and the letter's offset in that word.
    pub word: usize,
    pub at: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetoptError {
    Illegal(u8),
    MissingArgument(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    /// The first word after the options (after a consumed `--`).
    pub next: usize,
    /// The options ended at `--`.
    pub terminated: bool,
}

/// Whether each letter of `optstring` takes an argument (`None`: not an option).
pub fn arity(optstring: &'static str) -> impl Fn(u8) -> Option<bool> {
    move |letter| {
        let bytes = optstring.as_bytes();
        let at = bytes.iter().position(|&b| b == letter && b != b':')?;
        Some(bytes.get(at + 1) == Some(&b':'))
    }
}

/// Parses options from `args[start..]`, appending them to `options`.
pub fn getopt(
    args: &[OsString],
    start: usize,
    arity: &mut dyn FnMut(u8) -> Option<bool>,
    options: &mut Vec<Opt>,
) -> Result<Pass, GetoptError> {
    let mut index = start;
    while let Some(word) = args.get(index) {
        let bytes = word.as_encoded_bytes();
        if bytes == b"--" {
            return Ok(Pass {
                next: index + 1,
                terminated: true,
            });
        }
        if bytes.len() < 2 || bytes[0] != b'-' {
            break;
        }
        let word_index = index;
        index += 1;
        let mut at = 1;
        while at < bytes.len() {
            let letter = bytes[at];
            let takes_argument = arity(letter).ok_or(GetoptError::Illegal(letter))?;
            let value = if !takes_argument {
                None
            } else if at + 1 < bytes.len() {
                Some(words::as_os_str(&bytes[at + 1..]).to_owned())
            } else {
                let next = args
                    .get(index)
                    .ok_or(GetoptError::MissingArgument(letter))?;
                index += 1;
                Some(next.clone())
            };
            options.push(Opt {
                letter,
                value: value.clone(),
                word: word_index,
                at,
            });
            at = if value.is_some() { bytes.len() } else { at + 1 };
        }
    }
    Ok(Pass {
        next: index,
        terminated: false,
    })
}

/// `args` without every option whose letter is one of `letters`, and its value: a word left as
/// a lone `-` disappears, as does a value that stood in the next word. All other bytes stay.
pub fn remove(args: &[OsString], options: &[Opt], letters: &[u8]) -> Vec<OsString> {
    remove_where(args, options, |o| letters.contains(&o.letter))
}

/// `args` without every option that `doomed` picks, and its value, as [`remove`] does.
pub fn remove_where(
    args: &[OsString],
    options: &[Opt],
    doomed: impl Fn(&Opt) -> bool,
) -> Vec<OsString> {
    let mut words: Vec<Option<Vec<u8>>> = args
        .iter()
        .map(|w| Some(w.as_encoded_bytes().to_vec()))
        .collect();
    // Right to left within a word, so earlier offsets stay valid.
    let mut doomed: Vec<&Opt> = options.iter().filter(|o| doomed(o)).collect();
    doomed.sort_by_key(|o| std::cmp::Reverse((o.word, o.at)));
    for opt in doomed {
        let Some(word) = words[opt.word].as_mut() else {
            continue;
        };
        if opt.value.is_none() {
            word.remove(opt.at);
        } else {
            let separate = opt.at + 1 == word.len();
            word.truncate(opt.at);
            if separate {
                words[opt.word + 1] = None;
            }
        }
        if words[opt.word].as_deref() == Some(b"-") {
            words[opt.word] = None;
        }
    }
    words.into_iter().flatten().map(words::from_bytes).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    const SCP: &str = "12346ABCTdfOpqRrstvD:F:J:M:P:S:c:i:l:o:X:";

    fn parse(words: &[&str]) -> (Vec<Opt>, Result<Pass, GetoptError>) {
        let mut options = Vec::new();
        let pass = getopt(&os(words), 0, &mut arity(SCP), &mut options);
        (options, pass)
    }

    #[test]
    fn clusters_attached_and_separate_values() {
        let (options, pass) = parse(&["-rpP2222", "-S", "prog", "-q", "a", "-v"]);
        let letters: Vec<(u8, Option<&str>)> = options
            .iter()
            .map(|o| (o.letter, o.value.as_ref().map(|v| v.to_str().unwrap())))
            .collect();
        assert_eq!(
            letters,
            vec![
                (b'r', None),
                (b'p', None),
                (b'P', Some("2222")),
                (b'S', Some("prog")),
                (b'q', None)
            ]
        );
        assert_eq!(
            pass,
            Ok(Pass {
                next: 4,
                terminated: false
            })
        );
        assert_eq!(
            parse(&["-q", "--", "-v"]).1,
            Ok(Pass {
                next: 2,
                terminated: true
            })
        );
        assert_eq!(
            parse(&["-", "x"]).1,
            Ok(Pass {
                next: 0,
                terminated: false
            })
        );
        assert_eq!(parse(&["-Z"]).1, Err(GetoptError::Illegal(b'Z')));
        assert_eq!(parse(&["-rS"]).1, Err(GetoptError::MissingArgument(b'S')));
    }

    #[test]
    fn removing_keeps_every_other_byte() {
        let removed = |words: &[&str], letter| {
            let (options, _) = parse(words);
            remove(&os(words), &options, &[letter])
        };
        assert_eq!(removed(&["-S", "p", "a", "b"], b'S'), os(&["a", "b"]));
        assert_eq!(removed(&["-qSp", "a"], b'S'), os(&["-q", "a"]));
        assert_eq!(removed(&["-qS", "p", "-S/x", "a"], b'S'), os(&["-q", "a"]));
        assert_eq!(removed(&["-rqr", "a"], b'r'), os(&["-q", "a"]));
        assert_eq!(removed(&["-rqr", "a"], b'v'), os(&["-rqr", "a"]));
    }
}
