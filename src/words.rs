//! Command-line words as bytes, on every system. ssh's grammar, host names and the remote
//! command are bytes: on Unix a word is its bytes; on Windows it is its WTF-8 encoding
//! (`OsStr::as_encoded_bytes`), the same as UTF-8 for every word that is valid Unicode, which
//! is all a Windows command line normally holds.

use std::ffi::{OsStr, OsString};

/// A word from bytes that are ASCII, UTF-8, or the bytes of other words cut at ASCII
/// characters (what getopt and the rewrites of a command line produce).
pub fn from_bytes(bytes: Vec<u8>) -> OsString {
    #[cfg(unix)]
    {
        std::os::unix::ffi::OsStringExt::from_vec(bytes)
    }
    #[cfg(not(unix))]
    {
        // SAFETY: as the doc says, the bytes are UTF-8 or WTF-8 from `as_encoded_bytes`
        // cut at ASCII characters, which is what the function requires.
        unsafe { OsString::from_encoded_bytes_unchecked(bytes) }
    }
}

/// [`from_bytes`] for a borrowed part of a word.
pub fn as_os_str(bytes: &[u8]) -> &OsStr {
    #[cfg(unix)]
    {
        std::os::unix::ffi::OsStrExt::from_bytes(bytes)
    }
    #[cfg(not(unix))]
    {
        // SAFETY: as for `from_bytes`.
        unsafe { OsStr::from_encoded_bytes_unchecked(bytes) }
    }
}
