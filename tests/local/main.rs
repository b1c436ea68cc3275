//! cssh's own surface, with no test host and no root: argument parsing through a recording fake
//! ssh, host patterns against `ssh -G`, configuration errors, `--help` and `--explain`, the man
//! pages, completions and README commands. `cargo test --test local` runs them anywhere.
//! They drive Unix programs (sh, a fake ssh): a Windows build runs the library's unit tests.
#![cfg(unix)]

#[path = "../support/mod.rs"]
mod support;

mod cli;
mod docs;
mod patterns;
