//! What comes along into the container besides the agent and the variables (settings.rs):
//! X11 to a real X server on the client, the terminal and locale of a pty session, and port
//! forwards to a server in the container and back to the client, under every runtime option
//! that keeps the host out.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::*;

/// The runtime options of each column of the README's table.
const OPTIONS: [&str; 4] = ["", "\"--cleanenv\"", "\"--contain\"", "\"--containall\""];

/// Xvfb on a display of its own, killed when dropped.
struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    fn start() -> Xvfb {
        let number = 60 + std::process::id() % 30;
        let child = Command::new("Xvfb")
            .arg(format!(":{number}"))
            .args(["-nolisten", "tcp", "-screen", "0", "640x480x24"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb runs (tests/check installs xvfb)");
        let socket = format!("/tmp/.X11-unix/X{number}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !Path::new(&socket).exists() {
            assert!(Instant::now() < deadline, "Xvfb made no {socket}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Xvfb {
            child,
            display: format!(":{number}"),
        }
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_x_client_in_the_image_draws_on_the_users_display() {
    let x = Xvfb::start();
    for options in OPTIONS {
        let config = tagging(FULL_SIF, &format!("options = [{options}]"));
        for alias in ["th-bash", "th-tcsh", "th-fish"] {
            // Untrusted (-X) and trusted (-Y) forwarding.
            for forwarding in ["-X", "-Y"] {
                let out = run(cssh(&config)
                    .args([
                        forwarding,
                        alias,
                        "xdpyinfo | grep -o '640x480 pixels'; cat /etc/cssh-image-marker",
                    ])
                    .env("DISPLAY", &x.display));
                assert_eq!(
                    text(&out.stdout),
                    format!("640x480 pixels\n{FULL_MARKER}"),
                    "{alias} {forwarding} with options [{options}]: {}",
                    describe(&out)
                );
            }
        }
    }
}

#[test]
fn a_pty_session_gets_the_terminal_and_the_locale() {
    // One tmux pane runs every combination in turn, each printing one line.
    let mut script = String::from("echo client-term=$TERM; ");
    let mut configs = Vec::new();
    for options in OPTIONS {
        let config = tagging(FULL_SIF, &format!("options = [{options}]"));
        for alias in ["th-bash", "th-tcsh", "th-fish"] {
            let _ = write!(
                script,
                "CSSH_CONFIG={} LANG=C.UTF-8 {CSSH} -F {} -o SendEnv=LANG -t {alias} 'echo \"[{}] {alias}: term=$TERM lang=$LANG tty=${{SSH_TTY:+yes}}\"'; ",
                config.path("config.toml").display(),
                host().ssh_config.display(),
                label(options)
            );
        }
        configs.push(config);
    }
    script += "echo all-done; sleep 60";
    let tmux = Tmux::start(&format!("sh -c {}", shell_quote(&script)));
    let screen = tmux.wait_for("all-done");
    let term = screen
        .lines()
        .find_map(|l| l.strip_prefix("client-term="))
        .unwrap_or_else(|| panic!("{screen}"))
        .trim()
        .to_string();
    assert!(!term.is_empty(), "{screen}");
    for options in OPTIONS {
        for alias in ["th-bash", "th-tcsh", "th-fish"] {
            let line = format!(
                "[{}] {alias}: term={term} lang=C.UTF-8 tty=yes",
                label(options)
            );
            assert!(
                screen.lines().any(|l| l.trim_end() == line),
                "no {line:?} in:\n{screen}"
            );
        }
    }
}

/// The options as the pane prints them.
fn label(options: &str) -> String {
    options.replace('"', "")
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// A free port of 127.0.0.1, as a number.
fn port() -> u16 {
    free_port().parse().unwrap()
}

/// Connects to 127.0.0.1:`port`, retrying while the forward is being set up.
fn connect(port: u16, server: &mut Child) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) {
            // ssh accepts before the far end answers: a request shows whether it does.
            return stream;
        }
        if let Ok(Some(status)) = server.try_wait() {
            panic!("cssh ended ({status}) before the forward was up");
        }
        assert!(Instant::now() < deadline, "no forward on port {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn local_forwards_reach_a_server_in_the_container_and_remote_ones_the_client() {
    for options in OPTIONS {
        let config = tagging(FULL_SIF, &format!("options = [{options}]"));
        // -L: a web server started in the image serves the image's /etc (one request).
        let (local, remote) = (port(), port());
        let serve = format!(
            "cd /etc && exec python3 -c 'import http.server as h; h.HTTPServer((\"127.0.0.1\", {remote}), h.SimpleHTTPRequestHandler).handle_request()' 2>/dev/null"
        );
        let mut server = cssh(&config)
            .args(["-o", "ExitOnForwardFailure=yes", "-L"])
            .arg(format!("{local}:127.0.0.1:{remote}"))
            .args(["th-bash", &serve])
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let body = loop {
            let mut stream = connect(local, &mut server);
            let _ = stream.write_all(b"GET /cssh-image-marker HTTP/1.0\r\n\r\n");
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer);
            // Until the server listens in the container, ssh closes the forwarded connection.
            if let Some((_, body)) = answer.split_once("\r\n\r\n") {
                break body.to_string();
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        assert_eq!(body, FULL_MARKER, "[{options}]");
        assert!(server.wait().unwrap().success(), "[{options}]");

        // -R: a program in the image reaches a server on the client.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client_port = listener.local_addr().unwrap().port();
        let answer = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            stream.write_all(b"hello from the client\n").unwrap();
        });
        let remote = port();
        let fetch = format!(
            "python3 -c 'import socket; print(socket.create_connection((\"127.0.0.1\", {remote})).makefile().readline(), end=\"\")'; cat /etc/cssh-image-marker"
        );
        let out = run(cssh(&config)
            .args(["-o", "ExitOnForwardFailure=yes", "-R"])
            .arg(format!("{remote}:127.0.0.1:{client_port}"))
            .args(["th-bash", &fetch]));
        assert_eq!(
            text(&out.stdout),
            format!("hello from the client\n{FULL_MARKER}"),
            "[{options}]: {}",
            describe(&out)
        );
        answer.join().unwrap();
    }
}
