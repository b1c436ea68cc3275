//! cssh: ssh into a container on the remote host, as if it were the host.
//!
//! cssh parses the OpenSSH command line exactly as ssh.c does (`ssh_args`), looks the host up in
//! its TOML configuration (`config`, `pattern`, `settings`), rewrites only the remote command or
//! the sftp subsystem request into a script that runs it inside `apptainer|singularity exec`
//! (`plan`, `remote`, `quote`), then execs the real ssh (`exec`). OpenSSH keeps doing the
//! networking, authentication, configuration and forwarding. cscp, csftp and crsync run the
//! real scp, sftp and rsync with cssh as their ssh (`wrapper`, `scp_sftp`, `rsync`).

pub mod cli;
pub mod config;
pub mod exec;
pub mod getopt;
pub mod pattern;
pub mod plan;
pub mod quote;
pub mod remote;
pub mod rsync;
pub mod scp_sftp;
pub mod settings;
pub mod ssh_args;
pub mod wrapper;
