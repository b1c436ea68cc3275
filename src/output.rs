//! What cssh and its wrappers write: whole lines to stdout, with a closed or full stdout
//! reported as an error rather than a panic; command lines shell-quoted so that they run as
//! printed; and their own failures, one line on stderr and ssh's own exit status.

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::plan::Plan;
use crate::quote;

/// A command line, shell-quoted (for `--dry-run` and `--explain`).
pub fn command_line(program: &Path, args: &[OsString]) -> Vec<u8> {
    let mut line = quote::sh(program.as_os_str().as_encoded_bytes()).into_owned();
    for arg in args {
        line.push(b' ');
        line.extend_from_slice(&quote::sh(arg.as_encoded_bytes()));
    }
    line
}

/// The command line of a plan: with a first hop, its output takes the node's place, so the
/// line still runs as printed.
pub fn plan_line(program: &Path, plan: &Plan) -> Vec<u8> {
    if let Some(send) = &plan.send {
        // The values themselves are not printed: the line says where they go.
        let mut line = b"# first, the host's prelude and env values on the stdin of: ".to_vec();
        line.extend(command_line(program, &send.args));
        line.push(b'\n');
        line.extend(plan_line(
            program,
            &Plan {
                send: None,
                ..plan.clone()
            },
        ));
        return line;
    }
    if let Some(pin) = &plan.pin {
        let mut line = command_line(program, &pin.args);
        line.extend_from_slice(
            format!(
                "\n# cssh pins the host key this prints for {} (the job's sshd), then runs the session",
                pin.alias
            )
            .as_bytes(),
        );
        return line;
    }
    let Some(hop) = &plan.first_hop else {
        return command_line(program, &plan.args);
    };
    let mut line = command_line(program, &plan.args[..hop.node_at]);
    line.extend_from_slice(b" \"$(");
    line.extend(command_line(program, &hop.args));
    line.extend_from_slice(b")\"");
    for arg in &plan.args[hop.node_at + 1..] {
        line.push(b' ');
        line.extend_from_slice(&quote::sh(arg.as_encoded_bytes()));
    }
    line
}

/// `bytes` and a newline.
pub fn write_line(bytes: &[u8]) -> anyhow::Result<()> {
    write_out(&[bytes, b"\n"].concat())
}

pub fn write_out(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .context("writing to stdout")
}

/// cssh's own failures exit like ssh's own: 255.
pub const EXIT_CSSH_ERROR: u8 = 255;

/// Reports a failure of `program` in one line and gives its exit status.
pub fn fail(program: &str, error: &anyhow::Error) -> ExitCode {
    eprintln!("{program}: {error:#}");
    ExitCode::from(EXIT_CSSH_ERROR)
}
