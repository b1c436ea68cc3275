//! cssh: ssh into a container on the remote host, as if it were the host.
//!
//! cssh parses the OpenSSH command line exactly as ssh.c does (`ssh_args`, `getopt`), looks the
//! host up in its TOML configuration (`config`, `pattern`, `settings`), rewrites only the remote
//! command or the sftp subsystem request into a script that runs it inside
//! `apptainer|singularity exec` or Charliecloud's `ch-run` (`plan`, `remote`, `quote`; one module
//! per runtime, `remote::runtime`), into a running instance by its
//! namespaces (`remote::join`), on a Slurm compute node where the host has an allocation or in
//! an HTCondor job's container on an execute point (`remote::scheduler`), or into a running batch
//! job's own container by its namespaces (`remote::container`), then execs the real ssh (`exec`).
//! A session in a job reaches it, by default, through a private sshd of the user's in the job,
//! which ssh reaches by its ProxyCommand (`remote::job_sshd`, `remote::sshd`; on this machine the
//! ProxyCommand itself, `hop`, and the job sshd's client key and pinned host keys, `keys`).
//! OpenSSH keeps doing the networking, authentication, configuration and forwarding. cscp, csftp
//! and crsync run the real scp, sftp and rsync with cssh as their ssh (`wrapper`, `clients`).
//! `cssh --doctor` checks many hosts at once with a probe built from the session's own steps
//! (`doctor`, `remote::probe`).
//!
//! Dependencies point one way: the front doors (`cli` for cssh, with `doctor`, `wrapper` for the others) use
//! everything below them; `explain` and `output` use `plan`; `plan` uses `config`, `ssh_args`,
//! `settings`, `remote`, `quote`, `hop` and `keys`; `config` uses `settings` and `pattern`; the
//! leaves (`getopt`, `pattern`, `quote`, `settings`, `options`, `exec`, `clients`, `ssh_config`,
//! `words`, `private`, `hop`, `keys`) use nothing of the crate but each other. `private` keeps
//! cssh's own files on this machine private to the user. `words` turns command-line words into bytes and back
//! on Unix and Windows alike.

pub mod cli;
pub mod clients;
pub mod config;
pub mod doctor;
pub mod exec;
pub mod explain;
pub mod getopt;
pub mod hop;
pub mod keys;
pub mod options;
pub mod output;
pub mod pattern;
pub mod plan;
pub mod private;
pub mod quote;
pub mod remote;
#[cfg(test)]
mod scratch;
pub mod sent;
pub mod settings;
pub mod ssh_args;
pub mod ssh_config;
pub mod words;
pub mod wrapper;
