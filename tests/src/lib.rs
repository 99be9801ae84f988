//! Shared helpers for the end-to-end tests: where things are, and the `specgate` binary.
#![forbid(unsafe_code)]

pub mod pki;
pub mod process;
pub mod redis;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The workspace root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The folder of real public specs beside the project (`../shared/specs`, or `SPECGATE_SHARED_SPECS`).
///
/// `None` (with a message saying why) when it is absent, except under CI, where its absence fails.
pub fn shared_specs() -> Option<PathBuf> {
    let dir = std::env::var_os("SPECGATE_SHARED_SPECS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/specs"));
    if dir.is_dir() {
        return Some(dir);
    }
    let message = format!(
        "the shared specs folder {} is absent: tests over real public specs are skipped (set SPECGATE_SHARED_SPECS to its path)",
        dir.display()
    );
    assert!(std::env::var_os("CI").is_none(), "{message}");
    eprintln!("NOTE: {message}");
    None
}

/// The real public specs (YAML and JSON files), sorted by name.
pub fn shared_spec_files() -> Vec<PathBuf> {
    let Some(dir) = shared_specs() else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            )
        })
        .collect();
    files.sort();
    files
}

/// Every YAML or JSON file under `dir`, recursively, sorted.
pub fn spec_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            ) {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The root files of the example specs in `specs/` (fragments of multi-file specs excluded).
pub fn example_specs() -> Vec<PathBuf> {
    spec_files(&repo_root().join("specs"))
        .into_iter()
        .filter(|path| {
            std::fs::read_to_string(path).is_ok_and(|t| {
                t.lines()
                    .any(|l| l.starts_with("openapi:") || l.trim_start().starts_with("\"openapi\""))
            })
        })
        .collect()
}

/// The `specgate` binary. `cargo test --workspace` builds it (the `cli` crate has integration tests);
/// when it is missing (say, `cargo test -p specgate-tests` on a fresh checkout), it is built here.
pub fn specgate() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            // Tests run from target/<profile>/deps; the binary sits in target/<profile>.
            let exe = std::env::current_exe().unwrap_or_default();
            let profile_dir = exe
                .parent()
                .and_then(Path::parent)
                .map(Path::to_path_buf)
                .unwrap_or_default();
            let binary = profile_dir.join("specgate");
            if binary.is_file() && !sources_newer_than(&binary) {
                return binary;
            }
            let profile = profile_dir
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("debug")
                .to_owned();
            let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
            build
                .args(["build", "--quiet", "-p", "specgate", "--bin", "specgate"])
                .current_dir(repo_root());
            if profile == "release" {
                build.arg("--release");
            }
            let status = build.status().expect("cargo build runs");
            assert!(status.success(), "building the specgate binary failed");
            profile_dir.join("specgate")
        })
        .clone()
}

/// Whether any source of the binary changed after it was built (a `cargo test -p specgate-tests`
/// run does not rebuild the binary itself).
fn sources_newer_than(binary: &Path) -> bool {
    let Ok(built) = std::fs::metadata(binary).and_then(|m| m.modified()) else {
        return true;
    };
    let mut stack: Vec<PathBuf> = ["plan", "compiler", "runtime", "cli"]
        .iter()
        .map(|c| repo_root().join(c).join("src"))
        .collect();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|m| m > built)
            {
                return true;
            }
        }
    }
    false
}
