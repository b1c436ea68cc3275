//! What one host gets from the configuration: for each setting, the first value among the
//! matching entries in file order, as ssh_config resolves its options.

use crate::config::{Config, Entry, Image, Runtime};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostSettings {
    pub image: Option<Image>,
    pub runtime: Option<Runtime>,
    pub prelude: Option<String>,
    pub binds: Vec<String>,
    pub env: Vec<(String, String)>,
    pub options: Vec<String>,
    pub shell: Option<String>,
    pub sftp_server: Option<String>,
    pub instance: Option<String>,
    /// ControlPersist for connection reuse; unset, cssh leaves multiplexing alone.
    pub persist: Option<String>,
    /// The matching entries, as (line, pattern), in file order.
    pub matched: Vec<(usize, String)>,
    /// Which entry's line each setting came from, in key order.
    pub origins: Vec<(&'static str, usize)>,
}

impl HostSettings {
    pub fn runtime(&self) -> Runtime {
        self.runtime.clone().unwrap_or(Runtime::Auto)
    }
}

pub fn resolve(config: &Config, host: &[u8]) -> HostSettings {
    let mut settings = HostSettings::default();
    let host = host.to_ascii_lowercase();
    for entry in config
        .entries
        .iter()
        .filter(|e| e.pattern.matches_lowercase(&host))
    {
        settings
            .matched
            .push((entry.line, entry.pattern_text.clone()));
        apply(&mut settings, entry);
    }
    settings
        .origins
        .sort_by_key(|(key, _)| crate::config::HOST_KEYS.iter().position(|k| k == key));
    settings
}

fn apply(s: &mut HostSettings, e: &Entry) {
    let line = e.line;
    let origins = &mut s.origins;
    first(&mut s.image, &e.image, "image", line, origins);
    first(&mut s.runtime, &e.runtime, "runtime", line, origins);
    first(&mut s.prelude, &e.prelude, "prelude", line, origins);
    first(&mut s.shell, &e.shell, "shell", line, origins);
    first(
        &mut s.sftp_server,
        &e.sftp_server,
        "sftp_server",
        line,
        origins,
    );
    first(&mut s.instance, &e.instance, "instance", line, origins);
    first(&mut s.persist, &e.persist, "persist", line, origins);
    first_list(&mut s.binds, &e.binds, "binds", line, origins);
    first_list(&mut s.env, &e.env, "env", line, origins);
    first_list(&mut s.options, &e.options, "options", line, origins);
}

fn first<T: Clone>(
    slot: &mut Option<T>,
    value: &Option<T>,
    key: &'static str,
    line: usize,
    origins: &mut Vec<(&'static str, usize)>,
) {
    if slot.is_none() && value.is_some() {
        slot.clone_from(value);
        origins.push((key, line));
    }
}

/// Lists too take the first entry that sets them, whole: an entry's list is not merged with a
/// later one, as ssh_config does not merge `LocalForward` across Host blocks either.
fn first_list<T: Clone>(
    slot: &mut Vec<T>,
    value: &Option<Vec<T>>,
    key: &'static str,
    line: usize,
    origins: &mut Vec<(&'static str, usize)>,
) {
    if let Some(list) = value
        && !origins.iter().any(|(k, _)| *k == key)
    {
        slot.clone_from(list);
        origins.push((key, line));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn first_value_wins_per_setting() {
        let config = crate::config::parse(
            r#"
[[host]]
pattern = "login"
image = "none"

[[host]]
pattern = "hpc-* !hpc-gpu"
image = "/a.sif"
binds = ["/a"]

[[host]]
pattern = "hpc-*"
image = "/b.sif"
runtime = "singularity"
binds = ["/b"]
env = { X = "1" }

[[host]]
pattern = "*"
image = "/default.sif"
prelude = "module load apptainer"
"#,
            Path::new("c.toml"),
        )
        .unwrap();
        let node = resolve(&config, b"hpc-1");
        assert_eq!(node.image, Some(Image::Path("/a.sif".into())));
        assert_eq!(node.runtime(), Runtime::Program("singularity".into()));
        assert_eq!(node.binds, vec!["/a".to_string()]);
        assert_eq!(node.env, vec![("X".to_string(), "1".to_string())]);
        assert_eq!(node.prelude.as_deref(), Some("module load apptainer"));
        assert_eq!(
            node.matched.iter().map(|m| m.0).collect::<Vec<_>>(),
            vec![7, 12, 19]
        );
        assert_eq!(
            node.origins,
            vec![
                ("image", 7),
                ("runtime", 12),
                ("prelude", 19),
                ("binds", 7),
                ("env", 12)
            ]
        );

        let gpu = resolve(&config, b"HPC-GPU");
        assert_eq!(gpu.image, Some(Image::Path("/b.sif".into())));
        assert_eq!(resolve(&config, b"login").image, Some(Image::None));
        let other = resolve(&config, b"elsewhere");
        assert_eq!(
            (other.image.clone(), other.runtime()),
            (Some(Image::Path("/default.sif".into())), Runtime::Auto)
        );
    }
}
