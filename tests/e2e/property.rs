//! Property: any argument vector (bytes 1-255, 0 to 64 arguments of 0 to 200 bytes), quoted for
//! POSIX sh into `printf '%s\0' ...`, comes back byte for byte through cssh, for every login
//! shell, with the SIF image.
//!
//! CI runs 300 cases per shell; `CSSH_PROPERTY_CASES=10000 cargo test --test e2e property`
//! runs the long form. The seed is printed, and `CSSH_PROPERTY_SEED` replays a run. Cases
//! travel in batches (one ssh connection carries many), so a failing batch is replayed case by
//! case to name the culprit.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::time::Instant;

use crate::harness::*;

/// A small xorshift generator: reproducible from its seed, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn case(rng: &mut Rng) -> Vec<Vec<u8>> {
    let count = rng.below(65) as usize;
    (0..count)
        .map(|_| {
            let len = rng.below(201) as usize;
            (0..len).map(|_| 1 + rng.below(255) as u8).collect()
        })
        .collect()
}

/// One case as a command, and what it prints.
fn command_and_output(words: &[Vec<u8>]) -> (Vec<u8>, Vec<u8>) {
    let mut command = b"printf '%s\\0'".to_vec();
    let mut output = Vec::new();
    for word in words {
        command.push(b' ');
        command.extend_from_slice(&cssh::quote::sh(word));
        output.extend_from_slice(word);
        output.push(0);
    }
    // With no arguments printf prints its format once: an empty word and its NUL.
    if words.is_empty() {
        output.push(0);
    }
    command.extend_from_slice(b"; printf '\\n'");
    output.push(b'\n');
    (command, output)
}

/// Runs cases joined by `;` as one remote command; true when the output is exact.
fn batch_round_trips(config: &Scratch, alias: &str, cases: &[Vec<Vec<u8>>]) -> bool {
    let (mut command, mut expected) = (Vec::new(), Vec::new());
    for words in cases {
        let (c, o) = command_and_output(words);
        if !command.is_empty() {
            command.extend_from_slice(b"; ");
        }
        command.extend(c);
        expected.extend(o);
    }
    let out = run(cssh(config).arg(alias).arg(OsString::from_vec(command)));
    out.status.success() && out.stdout == expected
}

#[test]
fn random_argument_vectors_round_trip_for_every_login_shell() {
    let cases: usize = std::env::var("CSSH_PROPERTY_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    random_vectors_round_trip(&host().aliases, cases);
}

/// `cases` random argument vectors per alias (each alias one login shell) come back byte for
/// byte through cssh.
pub fn random_vectors_round_trip(aliases: &[String], cases: usize) {
    let seed: u64 = std::env::var("CSSH_PROPERTY_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    println!(
        "property: {cases} cases per shell ({}), CSSH_PROPERTY_SEED={seed}",
        aliases.join(" ")
    );
    let config = tagging(FULL_SIF, "");
    let start = Instant::now();
    let mut failures = Vec::new();
    let mut mismatches = 0;
    std::thread::scope(|scope| {
        let handles: Vec<_> = aliases
            .iter()
            .enumerate()
            .map(|(n, alias)| {
                let config = &config;
                scope.spawn(move || {
                    let mut rng =
                        Rng(seed.wrapping_add((n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1);
                    let all: Vec<_> = (0..cases).map(|_| case(&mut rng)).collect();
                    let mut failed = Vec::new();
                    let mut mismatches = 0;
                    // About 16 KiB of quoted arguments a batch: encoded, far below the remote's 128 KiB.
                    let mut at = 0;
                    while at < all.len() {
                        let mut end = at;
                        let mut size = 0;
                        while end < all.len() && (end == at || size < 16 * 1024) {
                            size += command_and_output(&all[end]).0.len();
                            end += 1;
                        }
                        if !batch_round_trips(config, alias, &all[at..end]) {
                            let culprits: Vec<String> = (at..end)
                                .filter(|&i| {
                                    !batch_round_trips(config, alias, std::slice::from_ref(&all[i]))
                                })
                                .map(|i| i.to_string())
                                .collect();
                            // A batch that fails while each of its cases passes alone still fails.
                            mismatches += culprits.len().max(1);
                            failed.push(if culprits.is_empty() {
                                format!("batch {at}..{end}")
                            } else {
                                culprits.join(",")
                            });
                        }
                        at = end;
                    }
                    (alias.clone(), failed, mismatches)
                })
            })
            .collect();
        for handle in handles {
            let (alias, failed, count) = handle.join().unwrap();
            mismatches += count;
            if !failed.is_empty() {
                failures.push(format!("{alias}: cases {failed:?}"));
            }
        }
    });
    println!(
        "property: {} cases in {:.1} s, {} mismatches",
        cases * aliases.len(),
        start.elapsed().as_secs_f64(),
        mismatches
    );
    assert!(failures.is_empty(), "seed {seed}: {failures:?}");
}
