//! Host pattern lists, matched as ssh_config's `Host` matches them (OpenSSH `match.c`).
//!
//! A list holds patterns separated by spaces or commas. `*` matches any run of characters and
//! `?` exactly one; there are no character classes. A pattern that starts with `!` negates: a
//! host that matches any negated pattern is out, whatever else matches, and a list of only
//! negated patterns matches nothing.
//!
//! One deliberate difference: matching ignores ASCII case. OpenSSH compares a `Host` pattern
//! with the name as typed, case for case (`ssh -G HPC-1` misses `Host hpc-*`); host names are
//! case-insensitive, and a user who types HPC-1 means the host that `hpc-*` tags.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternList {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    negated: bool,
    glob: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternError {
    Empty,
    LoneNegation,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PatternError::Empty => write!(f, "empty host pattern"),
            PatternError::LoneNegation => write!(f, "`!` must be followed by a pattern"),
        }
    }
}

impl PatternList {
    pub fn parse(list: &str) -> Result<PatternList, PatternError> {
        let patterns = words(list)
            .map(|(negated, glob)| {
                if glob.is_empty() {
                    return Err(PatternError::LoneNegation);
                }
                Ok(Pattern {
                    negated,
                    glob: glob.to_ascii_lowercase().into_bytes(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if patterns.is_empty() {
            return Err(PatternError::Empty);
        }
        Ok(PatternList { patterns })
    }

    /// The positive patterns without wildcards: names a user can type, for completion.
    pub fn literals(&self) -> impl Iterator<Item = &str> {
        self.patterns
            .iter()
            .filter(|p| !p.negated && !p.glob.iter().any(|b| b"*?".contains(b)))
            .filter_map(|p| std::str::from_utf8(&p.glob).ok())
    }

    pub fn matches(&self, host: &[u8]) -> bool {
        self.matches_lowercase(&host.to_ascii_lowercase())
    }

    /// [`PatternList::matches`] for a host already in lower case, to match one host against
    /// many lists without lowering it each time.
    pub fn matches_lowercase(&self, host: &[u8]) -> bool {
        list_matches(
            self.patterns.iter().map(|p| (p.negated, p.glob.as_slice())),
            host,
        )
    }
}

/// [`PatternList::matches_lowercase`] for a valid list already in lower case, kept as text:
/// matches without building the list, as the configuration cache does for thousands per call.
pub fn text_matches_lowercase(list: &str, host: &[u8]) -> bool {
    list_matches(words(list).map(|(n, glob)| (n, glob.as_bytes())), host)
}

/// A list's words as (negated, glob): spaces, tabs and commas separate them, `!` negates.
fn words(list: &str) -> impl Iterator<Item = (bool, &str)> {
    list.split([' ', '\t', ','])
        .filter(|word| !word.is_empty())
        .map(|word| match word.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, word),
        })
}

/// Whether `host` matches a list: some positive pattern matches and no negated one does.
fn list_matches<'a>(patterns: impl Iterator<Item = (bool, &'a [u8])>, host: &[u8]) -> bool {
    let mut positive = false;
    for (negated, glob) in patterns {
        if glob_match(glob, host) {
            if negated {
                return false;
            }
            positive = true;
        }
    }
    positive
}

/// `*` and `?` globbing with backtracking to the last `*`, linear in practice.
pub fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Matches both ways, built and as text, and checks they agree.
    fn m(list: &str, host: &str) -> bool {
        let built = PatternList::parse(list).unwrap().matches(host.as_bytes());
        let text = text_matches_lowercase(
            &list.to_ascii_lowercase(),
            &host.to_ascii_lowercase().into_bytes(),
        );
        assert_eq!(built, text, "{list} against {host}");
        built
    }

    #[test]
    fn globbing() {
        assert!(m("*", "anything"));
        assert!(m("*", ""));
        assert!(m("hpc-*", "hpc-login"));
        assert!(!m("hpc-*", "hpc"));
        assert!(m("h?c", "hpc"));
        assert!(!m("h?c", "hc"));
        assert!(m("*.example.org", "a.b.example.org"));
        assert!(m("a*b*c", "aXXbYYbZc"));
        assert!(!m("a*b*c", "aXXbYYbZ"));
        assert!(m("[a]", "[a]"), "brackets are literal, as in OpenSSH");
        assert!(!m("[a]", "a"));
    }

    #[test]
    fn lists_negation_and_case() {
        assert!(m("hpc-* !hpc-login", "hpc-node1"));
        assert!(!m("hpc-* !hpc-login", "hpc-login"));
        assert!(!m("!hpc-login hpc-*", "hpc-login"), "order does not matter");
        assert!(!m("!foo", "bar"), "only negations never match");
        assert!(m("a,b, c", "c"));
        assert!(m("HPC-*", "hpc-X"));
        assert!(m("hpc-*", "HPC-x"));
    }

    #[test]
    fn literals_for_completion() {
        let list = PatternList::parse("hpc-login, gpu? !old Node7 *.org").unwrap();
        assert_eq!(
            list.literals().collect::<Vec<_>>(),
            vec!["hpc-login", "node7"]
        );
    }

    #[test]
    fn invalid_lists() {
        assert_eq!(PatternList::parse(""), Err(PatternError::Empty));
        assert_eq!(PatternList::parse(" , "), Err(PatternError::Empty));
        assert_eq!(PatternList::parse("a !"), Err(PatternError::LoneNegation));
    }
}
