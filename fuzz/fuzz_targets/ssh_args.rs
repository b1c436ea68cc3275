//! The ssh grammar on any argv (words split at NUL bytes): no panic, for either arity of `-P`,
//! and an untagged host's exec argv is exactly the input.
#![no_main]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use cssh::plan::{self, Given, Request};
use cssh::ssh_args;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let args: Vec<OsString> = data
        .split(|&b| b == 0)
        .map(|w| OsString::from_vec(w.to_vec()))
        .collect();
    for grammar in [ssh_args::Grammar::of("OpenSSH_9.2p1"), ssh_args::Grammar::CURRENT] {
        if let Ok(invocation) = ssh_args::parse(args.clone(), &mut || grammar) {
            let _ = (
                invocation.session(),
                invocation.tty_request(),
                invocation.sets_multiplexing(),
            );
            let _ = invocation.args_without_subsystem_flag();
        }
        let request = Request {
            args: args.clone(),
            ..Request::default()
        };
        let mut local = Given {
            grammar,
            ..Given::default()
        };
        let plan = plan::make(&request, &mut local).expect("an untagged host is never refused");
        assert_eq!(plan.args, args, "an untagged host's argv is the input");
    }
});
