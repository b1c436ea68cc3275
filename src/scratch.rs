//! A scratch directory for the unit tests that read and write files, removed when dropped.

use std::path::PathBuf;

pub struct Scratch {
    pub dir: PathBuf,
}

impl Scratch {
    /// An empty directory of its own for the test `name`.
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("cssh-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch { dir }
    }

    /// Writes `text` to the file at `path` under the directory, making its parents.
    pub fn write(&self, path: &str, text: &str) -> PathBuf {
        let path = self.dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
