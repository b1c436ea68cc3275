//! Files that only this user can read or write: cssh's own state on this machine (the
//! configuration's index, the job sshd's client key and pins). A directory is made 0700, a file
//! is written whole or not at all (a private temporary file, then a rename), and one is only
//! read when it is a regular file of this user's that nobody else can read or write. Windows
//! keeps a user's profile directories private already: there the checks are the system's.

use std::io::Write as _;
use std::path::Path;

/// Makes `dir` (and its parents), mode 0700 where made.
pub fn make_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Why `path` (a directory or a file) is not private to this user, if it is not: another's,
/// or readable or writable by its group or others.
#[cfg(unix)]
pub fn not_private(path: &Path) -> Option<String> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) => why_not_private(&meta),
        Err(e) => Some(e.to_string()),
    }
}

/// Why a file or directory with `meta` (not followed, if a link) is not private to this user.
#[cfg(unix)]
fn why_not_private(meta: &std::fs::Metadata) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    if meta.file_type().is_symlink() {
        return Some("a symbolic link".into());
    }
    if meta.uid() != euid() {
        return Some(format!(
            "owned by uid {}, not by you (uid {})",
            meta.uid(),
            euid()
        ));
    }
    (meta.mode() & 0o077 != 0).then(|| {
        format!(
            "mode {:04o}: others can read or write it (chmod go= it)",
            meta.mode() & 0o7777
        )
    })
}

#[cfg(not(unix))]
pub fn not_private(path: &Path) -> Option<String> {
    std::fs::symlink_metadata(path).err().map(|e| e.to_string())
}

/// The file's text, if it is a regular file of this user's that only they can read or write,
/// in a directory of this user's that nobody else can write (so nobody else could have put it
/// there). What is checked is what was opened (not following a link), not a path looked up again.
pub fn read(file: &Path) -> Option<String> {
    if file.parent().is_none_or(|dir| !safe_directory(dir)) {
        return None;
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
    let mut opened = options.open(file).ok()?;
    let meta = opened.metadata().ok()?;
    if !meta.is_file() || !private_metadata(&meta) {
        return None;
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut opened, &mut text).ok()?;
    Some(text)
}

/// A directory of this user's that neither its group nor others can write.
#[cfg(unix)]
fn safe_directory(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(dir).is_ok_and(|meta| meta.uid() == euid() && meta.mode() & 0o022 == 0)
}

#[cfg(not(unix))]
fn safe_directory(dir: &Path) -> bool {
    dir.is_dir()
}

/// This user's, and neither readable nor writable by its group or others.
#[cfg(unix)]
fn private_metadata(meta: &std::fs::Metadata) -> bool {
    why_not_private(meta).is_none()
}

#[cfg(not(unix))]
fn private_metadata(_: &std::fs::Metadata) -> bool {
    true
}

/// Writes `bytes` to `file` in `dir` (made private where missing) whole or not at all.
pub fn write(dir: &Path, file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    make_dir(dir)?;
    let temporary = file.with_extension(format!("tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options
        .open(&temporary)
        .and_then(|mut out| out.write_all(bytes))
        .and_then(|()| std::fs::rename(&temporary, file));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// The effective user id: whose files cssh's own are.
#[cfg(unix)]
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

#[cfg(not(unix))]
pub fn euid() -> u32 {
    0
}
