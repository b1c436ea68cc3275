//! scp and sftp with cssh as their ssh (`-S`).
//!
//! Both hard-code `/usr/bin/ssh` unless given `-S program`, so neither an alias nor a link named
//! ssh reaches them: cscp and csftp put `-S <cssh>` first. A user's own `-S prog` is not
//! dropped: it is removed from the line and becomes cssh's ssh for the run (`CSSH_SSH`). Both use
//! OpenBSD getopt, like ssh; the option strings are those of OpenSSH 9.x `scp.c` and `sftp.c`.

use std::ffi::OsString;
use std::path::Path;

use super::ClientPlan;
use crate::getopt;

pub const SCP_OPTSTRING: &str = "12346ABCTdfOpqRrstvD:F:J:M:P:S:c:i:l:o:X:";
pub const SFTP_OPTSTRING: &str = "1246AafhNpqrvCc:D:i:l:o:s:S:b:B:F:J:P:R:X:";

pub fn plan(optstring: &'static str, args: Vec<OsString>, cssh: &Path) -> ClientPlan {
    let mut options = Vec::new();
    // A line the client would reject keeps its words: the client prints its own usage.
    let parsed = getopt::getopt(&args, 0, &mut getopt::arity(optstring), &mut options).is_ok();
    // As in scp.c and sftp.c, the last -S wins.
    let user_ssh = options
        .iter()
        .rev()
        .find(|o| o.letter == b'S')
        .and_then(|o| o.value.clone());
    let rest = match &user_ssh {
        Some(_) if parsed => getopt::remove(&args, &options, b"S"),
        _ => args,
    };
    let mut new_args = vec![OsString::from("-S"), cssh.as_os_str().to_owned()];
    new_args.extend(rest);
    ClientPlan {
        args: new_args,
        env: user_ssh
            .filter(|_| parsed)
            .map(|p| ("CSSH_SSH", p))
            .into_iter()
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn cssh_becomes_the_ssh_program() {
        let p = plan(
            SCP_OPTSTRING,
            os(&["-r", "-P", "2222", "a", "h:b"]),
            Path::new("/bin/cssh"),
        );
        assert_eq!(
            p.args,
            os(&["-S", "/bin/cssh", "-r", "-P", "2222", "a", "h:b"])
        );
        assert!(p.env.is_empty());
    }

    #[test]
    fn a_users_own_ssh_program_is_kept_for_cssh() {
        let p = plan(
            SCP_OPTSTRING,
            os(&["-q", "-S", "/opt/ssh", "-OS/x/ssh", "a", "h:b"]),
            Path::new("/c"),
        );
        assert_eq!(p.args, os(&["-S", "/c", "-q", "-O", "a", "h:b"]));
        assert_eq!(p.env, vec![("CSSH_SSH", OsString::from("/x/ssh"))]);
        let p = plan(
            SFTP_OPTSTRING,
            os(&["-b", "-", "-Sprog", "h"]),
            Path::new("/c"),
        );
        assert_eq!(p.args, os(&["-S", "/c", "-b", "-", "h"]));
        assert_eq!(p.env, vec![("CSSH_SSH", OsString::from("prog"))]);
    }

    #[test]
    fn operands_that_look_like_options_stay() {
        let p = plan(SCP_OPTSTRING, os(&["a", "-S", "h:b"]), Path::new("/c"));
        assert_eq!(p.args, os(&["-S", "/c", "a", "-S", "h:b"]));
    }
}
