//! End-to-end tests: cssh and the test host's own checks, against a real OpenSSH sshd and a real
//! Apptainer (tests/testhost). No test here is skipped: without the host, each one fails.
//! They drive Unix programs and servers: a Windows build runs the library's unit tests.
#![cfg(unix)]

#[path = "../support/mod.rs"]
mod support;

mod along;
mod attach;
mod boundaries;
mod clients;
mod commands;
mod demo;
mod doctor;
mod errors;
mod faults;
mod harness;
mod held;
mod hostile;
mod htcondor;
mod job_sshd;
mod join;
mod property;
mod proxy;
mod runtimes;
mod sessions;
mod settings;
mod sites;
mod slurm;
mod testhost;
mod tools;
mod transfer;
