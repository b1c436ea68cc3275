//! Where a connection is held, told by the processes, not by a server that answers (the test
//! host's nodes share the login node's network and pid namespaces): the process that holds a
//! socket, its user and its ancestors; and what forwards are tested with (a SOCKS5 connect, an
//! HTTP status line, a child killed when dropped).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::harness::*;

/// A port of 127.0.0.1 nothing listens on now.
pub fn port() -> u16 {
    free_port().parse().unwrap()
}

/// The pid of the process that holds the TCP socket of 127.0.0.1 matching `wanted` (local and
/// remote ports, as /proc/net/tcp has them), if any.
pub fn holder(wanted: impl Fn(u16, u16, &str) -> bool) -> Option<u32> {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let port = |field: &str| u16::from_str_radix(field.rsplit(':').next().unwrap(), 16).unwrap();
    let inode = table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        wanted(port(fields[1]), port(fields[2]), fields[3]).then(|| fields[9].to_string())
    })?;
    let socket = format!("socket:[{inode}]");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            std::fs::read_dir(entry.path().join("fd"))
                .ok()?
                .flatten()
                .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.to_str() == Some(&socket)))
                .then_some(pid)
        })
}

/// A process that holds a socket: its pid, its user and the names of it and its ancestors
/// (itself first), read while it held the socket.
#[derive(Debug)]
pub struct Held {
    pub pid: u32,
    pub uid: u32,
    pub names: Vec<String>,
}

impl Held {
    /// Process `pid` as it is now, if it still runs.
    pub fn of(pid: u32) -> Option<Held> {
        let (uid, names) = lineage(pid)?;
        Some(Held { pid, uid, names })
    }
}

/// What holds the TCP socket matching `wanted` (see [`holder`]), read while it holds it: a
/// process that ends or lets the socket go between the reads (a child that inherited it for a
/// moment) is not the answer.
pub fn held(wanted: impl Fn(u16, u16, &str) -> bool) -> Option<Held> {
    let held = Held::of(holder(&wanted)?)?;
    (holder(&wanted) == Some(held.pid)).then_some(held)
}

/// What holds an open connection to 127.0.0.1:`port` (not the server's side), once there is
/// one (a forward connects a moment after its client does).
pub fn connected_to(port: u16) -> Option<Held> {
    let mut found = None;
    wait_until(&format!("a connection to port {port}"), || {
        found = held(|_, remote, state| remote == port && state == "01");
        found
            .as_ref()
            .map(|_| ())
            .ok_or_else(|| "none yet".to_string())
    });
    found
}

/// A process and its ancestors, itself first (pid 1 left out).
pub fn ancestors(pid: u32) -> Vec<u32> {
    let mut pids = Vec::new();
    let mut current = pid;
    while current > 1 {
        pids.push(current);
        let stat = std::fs::read_to_string(format!("/proc/{current}/stat")).unwrap_or_default();
        // The parent is the second field after the name, which may hold spaces and parentheses.
        current = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.split(' ').nth(1))
            .and_then(|p| p.parse().ok())
            .unwrap_or(1);
    }
    pids
}

/// A process's file under /proc, empty once it is gone.
pub fn proc_file(pid: u32, name: &str) -> String {
    String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/{name}")).unwrap_or_default())
        .into_owned()
}

/// A process's user id and the names of it and its ancestors, itself first; none once it is
/// gone.
pub fn lineage(pid: u32) -> Option<(u32, Vec<String>)> {
    let uid = proc_file(pid, "status")
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|u| u.parse().ok())?;
    let names = ancestors(pid)
        .into_iter()
        .map(|p| proc_file(p, "comm").trim_end().to_string())
        .collect();
    Some((uid, names))
}

/// The processes whose environment holds `entry` (`NAME=VALUE`).
pub fn with_variable(entry: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|&pid| proc_file(pid, "environ").split('\0').any(|v| v == entry))
        .collect()
}

/// The user id of a test host user.
pub fn uid_of(user: &str) -> u32 {
    let passwd = std::fs::read_to_string(host().root.join("etc/passwd")).unwrap();
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f[0] == user).then(|| f[2].parse().unwrap())
        })
        .unwrap()
}

/// A SOCKS5 CONNECT to 127.0.0.1:`to` through ssh's `-D` on `socks`; the open stream.
pub fn socks(socks: u16, to: u16) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", socks)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(&[5, 1, 0]).unwrap();
    let mut reply = [0u8; 2];
    stream.read_exact(&mut reply).unwrap();
    assert_eq!(reply, [5, 0]);
    let [hi, lo] = to.to_be_bytes();
    stream
        .write_all(&[5, 1, 0, 1, 127, 0, 0, 1, hi, lo])
        .unwrap();
    let mut reply = [0u8; 10];
    stream.read_exact(&mut reply).unwrap();
    assert_eq!(reply[1], 0, "the SOCKS connect succeeded");
    stream
}

/// Sends an HTTP request on `stream` and gives the status line, leaving it open.
pub fn http_status(stream: &mut TcpStream) -> String {
    stream.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut line = String::new();
    BufReader::new(stream.try_clone().unwrap())
        .read_line(&mut line)
        .unwrap();
    line.trim_end().to_string()
}

/// A child killed when dropped.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// VS Code Remote-SSH's shape: `command` is `ssh -T -D PORT ... host bash`, whose bash gets
/// VS Code's kind of script on stdin: a web server on 127.0.0.1:`server` started in the
/// background, waited for, its port said on stdout (read here), then a wait. Running while the
/// result lives.
pub fn vscode_server(command: &mut Command, server: u16, what: &str) -> Running {
    let mut vscode = Running(
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    vscode
        .0
        .stdin
        .as_mut()
        .unwrap()
        .write_all(
            format!(
                "cd /tmp; nohup timeout 120 python3 -m http.server {server} --bind 127.0.0.1 >/dev/null 2>&1 &\nwhile ! (echo >/dev/tcp/127.0.0.1/{server}) 2>/dev/null; do sleep 0.2; done\necho listeningOn==127.0.0.1:{server}==\nexec sleep 120\n"
            )
            .as_bytes(),
        )
        .unwrap();
    let mut said = String::new();
    BufReader::new(vscode.0.stdout.as_mut().unwrap())
        .read_line(&mut said)
        .unwrap();
    assert_eq!(
        said.trim_end(),
        format!("listeningOn==127.0.0.1:{server}=="),
        "{what}"
    );
    vscode
}
