//! Host patterns against OpenSSH itself: `ssh -G -F FILE NAME` resolves `Host` blocks without
//! connecting, so every (pattern list, name) pair must match in cssh exactly when it does there.
//! cssh ignores case where OpenSSH's `Host` does not (HPC-1 misses `hpc-*` in ssh 9.2), so
//! OpenSSH is asked with both sides in lower case; `pattern`'s unit tests cover case.

use std::process::Command;

use cssh::pattern::PatternList;

use crate::support::Scratch;

#[test]
fn pattern_lists_match_as_in_openssh() {
    let lists = [
        "*",
        "hpc-*",
        "hpc-* !hpc-login",
        "!hpc-login hpc-*",
        "h?c",
        "*.example.org",
        "a*b*c",
        "!only-negated",
        "node[1-3]",
        "*-gpu *-cpu",
        "x",
        "*login*",
        "??",
        "hpc-*,!hpc-9",
        "HPC-*",
        "*!*",
        "a*",
    ];
    let names = [
        "hpc-1",
        "hpc-login",
        "HPC-2",
        "hpc",
        "hac",
        "a.example.org",
        "example.org",
        "aXbYc",
        "abc",
        "ac",
        "node1",
        "node[1-3]",
        "n-gpu",
        "x",
        "X",
        "mylogin1",
        "ab",
        "a",
        "hpc-9",
        "only-negated",
    ];
    let scratch = Scratch::new("");
    for list in lists {
        // ssh_config separates a Host line's patterns with spaces; cssh also takes commas.
        let ssh_list = list.replace(',', " ").to_lowercase();
        let file = scratch.path("ssh_config");
        std::fs::write(
            &file,
            format!("Host {ssh_list}\n  User matched\nHost *\n  User unmatched\n"),
        )
        .unwrap();
        let ours = PatternList::parse(list).unwrap();
        for name in names {
            let out = Command::new("ssh")
                .arg("-G")
                .arg("-F")
                .arg(&file)
                .arg(name.to_lowercase())
                .stdin(std::process::Stdio::null())
                .output()
                .expect("ssh -G runs");
            assert!(
                out.status.success(),
                "ssh -G {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let theirs = String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| l == "user matched");
            assert_eq!(
                ours.matches(name.as_bytes()),
                theirs,
                "pattern {list:?}, name {name:?}"
            );
        }
    }
}
