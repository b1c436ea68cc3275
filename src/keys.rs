//! The keys of the job's own sshd on this machine, in cssh's data directory (on Linux
//! `~/.local/share/cssh`), private to the user: the client key that cssh makes once with the
//! system's `ssh-keygen` and keeps (`key/id_ed25519`), whose public half the job's sshd admits,
//! and the host keys pinned per host (`known_hosts`, one `ALIAS TYPE BASE64` line each, as
//! OpenSSH writes known_hosts), which ssh checks the job's sshd against with
//! StrictHostKeyChecking on. A host is pinned once, with the key its login node shows through the
//! user's own authenticated ssh; a key that later differs is refused, as ssh refuses one.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};

use crate::private;

/// cssh's key store on this machine.
#[derive(Debug, Clone)]
pub struct Store {
    pub dir: PathBuf,
}

/// The name a host's job sshd's key is pinned under (ssh's HostKeyAlias): the host in lower
/// case, as cssh names its jobs.
pub fn alias(host: &str) -> String {
    format!("cssh-job-{}", host.to_ascii_lowercase())
}

impl Store {
    /// The store in cssh's data directory, made where it is missing and checked to be private.
    pub fn open() -> anyhow::Result<Store> {
        let dir = dirs::data_local_dir()
            .context("no data directory for the job sshd's keys (set XDG_DATA_HOME or HOME)")?
            .join("cssh");
        private::make_dir(&dir).with_context(|| format!("cannot make {}", dir.display()))?;
        if let Some(why) = private::not_private(&dir) {
            bail!(
                "{}: {why}: it holds the key of your jobs' sshd",
                dir.display()
            );
        }
        Ok(Store { dir })
    }

    /// The file of pinned host keys.
    pub fn known_hosts(&self) -> PathBuf {
        self.dir.join("known_hosts")
    }

    /// The client key's private file and its public line, made with `keygen` (the system's
    /// ssh-keygen) the first time: into a directory of its own, renamed into place whole, so
    /// that two calls that make one at once keep the same one.
    pub fn client_key(&self, keygen: &Path) -> anyhow::Result<(PathBuf, String)> {
        let dir = self.dir.join("key");
        let identity = dir.join("id_ed25519");
        if !identity.exists() {
            let fresh = self.dir.join(format!("key.tmp{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&fresh);
            private::make_dir(&fresh)?;
            let made = Command::new(keygen)
                .args(["-q", "-t", "ed25519", "-N", "", "-C", "cssh job key", "-f"])
                .arg(fresh.join("id_ed25519"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .output()
                .with_context(|| format!("cannot run {}", keygen.display()))?;
            if !made.status.success() {
                let _ = std::fs::remove_dir_all(&fresh);
                bail!(
                    "{} could not make the key of your jobs' sshd: {}",
                    keygen.display(),
                    String::from_utf8_lossy(&made.stderr).trim()
                );
            }
            // Another call's key, renamed into place first, stays.
            if std::fs::rename(&fresh, &dir).is_err() {
                let _ = std::fs::remove_dir_all(&fresh);
            }
        }
        if let Some(why) = private::not_private(&identity) {
            bail!(
                "{}: {why}: it is the key of your jobs' sshd",
                identity.display()
            );
        }
        let public = std::fs::read_to_string(dir.join("id_ed25519.pub"))
            .with_context(|| format!("cannot read {}.pub", identity.display()))?;
        Ok((identity, public.trim().to_string()))
    }

    /// The key pinned for `alias` (`TYPE BASE64`) and its line in the file, if any.
    pub fn pinned(&self, alias: &str) -> anyhow::Result<Option<(String, usize)>> {
        let file = self.known_hosts();
        if !file.exists() {
            return Ok(None);
        }
        let text = private::read(&file).with_context(|| {
            format!(
                "{}: not a private file of yours ({}): it holds the pinned keys of your jobs' sshd",
                file.display(),
                private::not_private(&file).unwrap_or_else(|| "unreadable".into())
            )
        })?;
        Ok(text.lines().enumerate().find_map(|(index, line)| {
            let mut fields = line.split_whitespace();
            (fields.next() == Some(alias)).then(|| {
                let key: Vec<&str> = fields.take(2).collect();
                (key.join(" "), index + 1)
            })
        }))
    }

    /// Pins `key` (`TYPE BASE64`, as a login node printed it) for `alias`, after checking it reads
    /// as one; its line in the file.
    pub fn pin(&self, alias: &str, key: &str) -> anyhow::Result<usize> {
        let key = key.trim();
        let mut fields = key.split(' ');
        let (Some(kind), Some(base64), None) = (fields.next(), fields.next(), fields.next()) else {
            bail!("the login node gave no host key for {alias} (it printed {key:?})");
        };
        let well_formed = kind.starts_with("ssh-") || kind.starts_with("ecdsa-");
        if !well_formed
            || base64.is_empty()
            || !base64
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
        {
            bail!("the login node gave no host key for {alias} (it printed {key:?})");
        }
        let file = self.known_hosts();
        if file.exists()
            && let Some(why) = private::not_private(&file)
        {
            bail!(
                "{}: {why}: it holds the pinned keys of your jobs' sshd",
                file.display()
            );
        }
        let mut options = std::fs::OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options
            .open(&file)
            .and_then(|mut out| out.write_all(format!("{alias} {kind} {base64}\n").as_bytes()))
            .with_context(|| format!("cannot write {}", file.display()))?;
        Ok(self.pinned(alias)?.map_or(0, |(_, line)| line))
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn store(name: &str) -> Store {
        let dir = std::env::temp_dir().join(format!("cssh-keys-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        private::make_dir(&dir).unwrap();
        Store { dir }
    }

    #[test]
    fn a_key_is_pinned_once_read_back_and_refused_when_malformed() {
        use std::os::unix::fs::PermissionsExt;
        let store = store("pin");
        assert_eq!(store.pinned("cssh-job-h").unwrap(), None);
        assert_eq!(
            store
                .pin("cssh-job-h", "ssh-ed25519 AAAAC3Nz+/=\n")
                .unwrap(),
            1
        );
        assert_eq!(store.pin("cssh-job-g", "ssh-ed25519 BBBB").unwrap(), 2);
        assert_eq!(
            store.pinned("cssh-job-h").unwrap(),
            Some(("ssh-ed25519 AAAAC3Nz+/=".into(), 1))
        );
        for bad in [
            "",
            "ssh-ed25519",
            "ssh-ed25519 AA AA",
            "rm -rf",
            "ssh-ed25519 A;B",
        ] {
            assert!(store.pin("cssh-job-x", bad).is_err(), "{bad:?}");
        }
        // A file others could write is not read.
        std::fs::set_permissions(store.known_hosts(), std::fs::Permissions::from_mode(0o622))
            .unwrap();
        assert!(
            store
                .pinned("cssh-job-h")
                .unwrap_err()
                .to_string()
                .contains("mode 0622")
        );
        let _ = std::fs::remove_dir_all(&store.dir);
    }

    #[test]
    fn the_client_key_is_made_once_and_kept() {
        let store = store("client");
        let (identity, public) = store.client_key(Path::new("ssh-keygen")).unwrap();
        assert!(public.starts_with("ssh-ed25519 ") && public.ends_with(" cssh job key"));
        assert_eq!(
            store.client_key(Path::new("ssh-keygen")).unwrap(),
            (identity.clone(), public)
        );
        assert_eq!(private::not_private(&identity), None);
        let _ = std::fs::remove_dir_all(&store.dir);
    }
}
