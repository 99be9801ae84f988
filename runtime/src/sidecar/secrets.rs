//! Secrets the plan names, read from the process environment and from files at start.

use std::path::PathBuf;

use crate::engine::auth::SecretSource;

/// Reads `secret-env` / `keys-env` variables from the environment and `keys-file` paths relative to
/// the folder of the spec or plan the sidecar runs.
#[derive(Debug, Clone)]
pub struct ProcessSecrets {
    base: PathBuf,
}

impl ProcessSecrets {
    /// `base` is the folder relative paths in the plan are resolved against.
    pub fn new(base: impl Into<PathBuf>) -> Self {
        Self { base: base.into() }
    }
}

impl SecretSource for ProcessSecrets {
    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn file(&self, path: &str) -> Result<String, String> {
        let full = self.base.join(path);
        std::fs::read_to_string(&full).map_err(|e| format!("{}: {e}", full.display()))
    }
}
