//! End-to-end tests: cssh and the test host's own checks, against a real OpenSSH sshd and a real
//! Apptainer (tests/testhost). No test here is skipped: without the host, each one fails.

mod cli;
mod commands;
mod docs;
mod faults;
mod harness;
mod hostile;
mod patterns;
mod property;
mod sessions;
mod settings;
mod testhost;
mod transfer;
