//! The `specgate` binary: exit codes, output files and messages, as a user sees them.

use std::process::Command;

use specgate_tests::{repo_root, specgate};

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(specgate())
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("specgate runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn compile_prints_the_plan_or_writes_it_and_exits_0() {
    let (code, stdout, stderr) = run(&["compile", "specs/petstore-3.0.yaml"]);
    assert_eq!(code, 0, "{stderr}");
    let plan = specgate_plan::Plan::from_json(&stdout).expect("stdout is a plan");
    assert!(plan.operations.len() >= 10);
    let out = std::env::temp_dir().join(format!("specgate-cli-{}.json", std::process::id()));
    let (code, stdout_with_file, _) = run(&[
        "compile",
        "specs/petstore-3.0.yaml",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert!(stdout_with_file.is_empty());
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        stdout,
        "same spec, same bytes"
    );
    // From another working directory, the plan is still byte-identical.
    let elsewhere = Command::new(specgate())
        .args([
            "compile",
            repo_root()
                .join("specs/petstore-3.0.yaml")
                .to_str()
                .unwrap(),
        ])
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&elsewhere.stdout), stdout);
}

#[test]
fn compile_errors_exit_2_with_file_line_column_pointer_and_hint() {
    let (code, stdout, stderr) = run(&[
        "compile",
        "compiler/tests/malformed/unknown-x-security-key.yaml",
    ]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("error[unknown-key]: unknown key `rate-limit` in x-security"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "compiler/tests/malformed/unknown-x-security-key.yaml:6:3 at #/x-security/rate-limit"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: did you mean `rate-limits`?"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&["compile", "no/such/spec.yaml"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot read"), "{stderr}");
}

#[test]
fn inspect_shows_routes_and_their_policies_from_a_plan_or_a_spec() {
    let (code, stdout, stderr) = run(&["inspect", "specs/petstore-3.0.yaml"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("POST    /admin/reindex"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("/admin/reindex") && l.contains("DENY")),
        "{stdout}"
    );
    let plan_file =
        std::env::temp_dir().join(format!("specgate-inspect-{}.json", std::process::id()));
    assert_eq!(
        run(&[
            "compile",
            "specs/users-3.1.yaml",
            "-o",
            plan_file.to_str().unwrap()
        ])
        .0,
        0
    );
    let (code, stdout, _) = run(&["inspect", plan_file.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(stdout.contains("OpenAPI 3.1.0"), "{stdout}");
    std::fs::write(&plan_file, "{\"format-version\": 99}").unwrap();
    let (code, _, stderr) = run(&["inspect", plan_file.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("format version 99 is not supported"),
        "{stderr}"
    );
}
