//! Baselines: findings recorded once (`--write-baseline FILE`) and accepted afterwards
//! (`--baseline FILE`), so that a legacy spec can adopt the hook and only new findings fail it.

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Finding;

/// A stable identity for a finding: its rule, file and JSON pointer (not its line, which moves).
pub fn fingerprint(finding: &Finding) -> String {
    let mut hasher = Sha256::new();
    for part in [
        finding.code,
        finding.location.file.trim_start_matches("./"),
        finding.location.pointer.as_str(),
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher
        .finalize()
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u32,
    findings: Vec<Entry>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    fingerprint: String,
    code: String,
    file: String,
    pointer: String,
    message: String,
}

/// The findings a baseline accepts.
#[derive(Debug, Default)]
pub struct Baseline {
    accepted: HashSet<String>,
}

impl Baseline {
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read baseline `{}`: {e}", path.display()))?;
        let file: File = serde_json::from_str(&text)
            .map_err(|e| format!("`{}` is not a specgate baseline: {e}", path.display()))?;
        Ok(Self {
            accepted: file.findings.into_iter().map(|e| e.fingerprint).collect(),
        })
    }

    pub fn accepts(&self, finding: &Finding) -> bool {
        self.accepted.contains(&fingerprint(finding))
    }

    /// Writes every finding as accepted.
    pub fn write(path: &Path, findings: &[Finding]) -> Result<(), String> {
        let file = File {
            version: 1,
            findings: findings
                .iter()
                .map(|f| Entry {
                    fingerprint: fingerprint(f),
                    code: f.code.to_owned(),
                    file: f.location.file.clone(),
                    pointer: f.location.pointer.clone(),
                    message: f.message.clone(),
                })
                .collect(),
        };
        let mut text = serde_json::to_string_pretty(&file).unwrap_or_default();
        text.push('\n');
        std::fs::write(path, text)
            .map_err(|e| format!("cannot write baseline `{}`: {e}", path.display()))
    }
}
