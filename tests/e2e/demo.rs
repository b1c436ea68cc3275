//! The demo a newcomer runs first: the host's OS, then the container's, then a shell inside it.

use std::process::Command;

use crate::harness::*;

#[test]
fn the_demo_shows_the_host_and_the_container() {
    host();
    let out = run(Command::new(repo("tests/demo")).env("CSSH_DEMO_BIN", CSSH));
    let shown = text(&out.stdout);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(shown.contains("$ cssh th-plain grep PRETTY_NAME /etc/os-release\nPRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\n"), "{shown}");
    assert!(shown.contains("$ cssh th-bash grep PRETTY_NAME /etc/os-release\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"), "{shown}");
    let out = run_with_input(
        Command::new(repo("tests/demo"))
            .arg("shell")
            .env("CSSH_DEMO_BIN", CSSH),
        b"cat /etc/cssh-image-marker\n",
    );
    assert_eq!(text(&out.stdout), FULL_MARKER);
}
