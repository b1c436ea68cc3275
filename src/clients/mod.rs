//! Client adapters: each rewrites a file-transfer client's command line so that cssh is the ssh
//! it runs (`-S` for scp and sftp, `-e` for rsync), keeping the user's own ssh program for cssh
//! to run. Pure: argv in, a [`ClientPlan`] out.

pub mod rsync;
pub mod scp_sftp;

use std::ffi::OsString;

/// A client's command line, and the environment cssh gets through it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientPlan {
    pub args: Vec<OsString>,
    pub env: Vec<(&'static str, OsString)>,
}
