//! The configuration parser on any text: an error or a configuration, never a panic, and every
//! error names a position inside the text (an empty text has none: the whole file is at fault).
#![no_main]

use std::path::Path;

use cssh::config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match config::parse(text, Path::new("config.toml")) {
        Ok(config) => {
            for host in [&b"host"[..], b"HPC-1", b"", b"a.b.example.org"] {
                let _ = config::resolve(&config, host);
            }
        }
        Err(error) => match error.position {
            None => assert!(text.trim().is_empty(), "{error}"),
            Some((line, _)) => assert!(
                line >= 1 && line <= text.lines().count().max(1) + 1,
                "{error}"
            ),
        },
    }
});
