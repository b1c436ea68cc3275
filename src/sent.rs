//! This machine's record of the host values cssh sent (see `plan::values`), in cssh's cache
//! directory (on Linux `~/.cache/cssh/sent`), private to the user: one file per values and
//! login node (a fingerprint of both), holding the name of the file on the remote. A record is
//! written only once the values are there, and read only where nobody else could have put it.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;

use anyhow::Context as _;

use crate::private;

fn dir() -> anyhow::Result<PathBuf> {
    Ok(dirs::cache_dir()
        .context(
            "no cache directory for cssh's record of sent values (set XDG_CACHE_HOME or HOME)",
        )?
        .join("cssh")
        .join("sent"))
}

/// The remote name recorded under `key`, if the values went.
pub fn lookup(key: &str) -> anyhow::Result<Option<String>> {
    let name = private::read(&dir()?.join(key)).map(|text| text.trim().to_string());
    Ok(name.filter(|name| !name.is_empty() && name.bytes().all(|b| b.is_ascii_hexdigit())))
}

/// Records that the values under `key` are on the remote as `name`.
pub fn record(key: &str, name: &str) -> anyhow::Result<()> {
    let dir = dir()?;
    private::write(&dir, &dir.join(key), format!("{name}\n").as_bytes())
        .with_context(|| format!("cannot record sent values in {}", dir.display()))
}

/// A name that tells nothing of the values: 128 bits from the system's randomness (the keys of
/// two fresh SipHash states, which the standard library seeds from it).
pub fn fresh_name() -> String {
    let half = || {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        hasher.finish()
    };
    format!("{:016x}{:016x}", half(), half())
}
