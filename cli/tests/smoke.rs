//! The binary starts and answers. (Its presence also makes `cargo test --workspace` build the real
//! `specgate` binary, which the end-to-end tests in `tests/` run.)

use std::process::Command;

#[test]
fn prints_its_version_and_rules() {
    let version = Command::new(env!("CARGO_BIN_EXE_specgate"))
        .arg("--version")
        .output()
        .expect("runs");
    assert!(version.status.success());
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("specgate {}", env!("CARGO_PKG_VERSION"))
    );
    let rules = Command::new(env!("CARGO_BIN_EXE_specgate"))
        .arg("rules")
        .output()
        .expect("runs");
    assert!(rules.status.success());
    assert!(
        String::from_utf8_lossy(&rules.stdout)
            .lines()
            .filter(|l| l.starts_with("SG"))
            .count()
            >= 25
    );
}
