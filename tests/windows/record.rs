//! A stand-in for ssh.exe or scp.exe in the Windows tests, built for Windows by the test itself:
//! writes its arguments, each followed by a NUL, to the file that RECORD_TO names, copies its
//! standard input to its standard output, and exits with RECORD_EXIT (default 0).

use std::io::{Read, Write};

fn main() {
    let mut record = Vec::new();
    for arg in std::env::args().skip(1) {
        record.extend_from_slice(arg.as_bytes());
        record.push(0);
    }
    let to = std::env::var_os("RECORD_TO").expect("RECORD_TO names the record file");
    std::fs::write(to, record).expect("writes the record");
    let mut input = Vec::new();
    std::io::stdin().read_to_end(&mut input).expect("reads stdin");
    std::io::stdout().write_all(&input).expect("writes stdout");
    let code = std::env::var("RECORD_EXIT").ok().and_then(|c| c.parse().ok());
    std::process::exit(code.unwrap_or(0));
}
