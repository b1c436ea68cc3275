//! The whole decision on any configuration and argv (the input is TOML, a NUL, then argv words
//! split at NUL bytes): a plan or a refusal, never a panic; a container plan keeps every word
//! before the command and ends with one encoded command that fits the remote's limit.
#![no_main]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

use cssh::plan::{self, Decision, Given, Request};
use cssh::{config, quote};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(2, |&b| b == 0);
    let Ok(text) = std::str::from_utf8(parts.next().unwrap_or_default()) else {
        return;
    };
    let Ok(config) = config::parse(text, Path::new("config.toml")) else {
        return;
    };
    let args: Vec<OsString> = parts
        .next()
        .unwrap_or_default()
        .split(|&b| b == 0)
        .map(|w| OsString::from_vec(w.to_vec()))
        .collect();
    let request = Request {
        args,
        ..Request::default()
    };
    let mut local = Given {
        config,
        ..Given::default()
    };
    if let Ok(plan) = plan::make(&request, &mut local)
        && let Decision::Container { .. } = plan.decision
    {
        let command = plan
            .args
            .last()
            .expect("a container plan ends with its command");
        assert!(command.len() <= quote::MAX_REMOTE_COMMAND);
    }
    let _ = plan::rsync_path(&request, &local.config);
});
