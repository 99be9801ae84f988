//! Every lint rule against its fixtures: `tests/lint/<rule-name>/fail.yaml` must trigger it,
//! `pass.yaml` must not, and the rendered findings on `fail.yaml` must equal `expected.txt`
//! (`SPECGATE_BLESS=1 cargo test -p specgate-compiler --test lint_rules` rewrites the snapshots).

use std::path::{Path, PathBuf};

use specgate_compiler::lint::{Config, Finding, lint_file, registry, render};

fn fixtures(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/lint")
        .join(name)
}

fn findings_of(path: &Path, code: &str) -> (Vec<Finding>, String) {
    let (spec, findings) = lint_file(path, &Config::default())
        .unwrap_or_else(|e| panic!("{}: {}", path.display(), e[0]));
    let mine: Vec<Finding> = findings.into_iter().filter(|f| f.code == code).collect();
    let text = render::text(&mine, Some(&spec));
    (mine, text)
}

#[test]
fn every_rule_triggers_on_its_failing_fixture_only() {
    let bless = std::env::var_os("SPECGATE_BLESS").is_some();
    let mut problems = Vec::new();
    for rule in registry::RULES {
        let meta = rule.meta();
        let dir = fixtures(meta.name);
        let (fail, pass) = (dir.join("fail.yaml"), dir.join("pass.yaml"));
        if !fail.is_file() || !pass.is_file() {
            problems.push(format!(
                "{} {}: missing fixtures in {}",
                meta.code,
                meta.name,
                dir.display()
            ));
            continue;
        }
        let (found, rendered) = findings_of(&fail, meta.code);
        if found.is_empty() {
            problems.push(format!(
                "{} {}: fail.yaml does not trigger it",
                meta.code, meta.name
            ));
        }
        let (found, _) = findings_of(&pass, meta.code);
        if !found.is_empty() {
            problems.push(format!(
                "{} {}: pass.yaml triggers it:\n{}",
                meta.code,
                meta.name,
                found
                    .iter()
                    .map(|f| format!("  {}:{} {}", f.location.line, f.location.column, f.message))
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
        }
        // Snapshots name files relative to the fixture folder, wherever the tests run from.
        let rendered = rendered.replace(&format!("{}/", dir.display()), "");
        let snapshot = dir.join("expected.txt");
        if bless {
            std::fs::write(&snapshot, &rendered).unwrap();
        } else if std::fs::read_to_string(&snapshot).ok().as_deref() != Some(rendered.as_str()) {
            problems.push(format!("{} {}: rendered findings differ from expected.txt (SPECGATE_BLESS=1 to update):\n{rendered}", meta.code, meta.name));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn every_rule_is_documented_with_the_standard_headings() {
    for rule in registry::RULES {
        let meta = rule.meta();
        let docs = registry::documentation(meta.code).unwrap_or_default();
        for heading in [
            "## What it does",
            "## Why is this bad?",
            "## Example",
            "## Use instead",
            "## References",
        ] {
            assert!(
                docs.contains(heading),
                "{} {} lacks `{heading}`",
                meta.code,
                meta.name
            );
        }
        assert!(
            meta.code.starts_with("SG") && meta.code.len() == 5,
            "{}",
            meta.code
        );
        assert!(
            !meta.summary.is_empty() && meta.summary.len() < 120,
            "{}: summary must be one short line",
            meta.code
        );
        assert_eq!(
            registry::documentation(meta.name),
            registry::documentation(meta.code)
        );
    }
    let mut codes: Vec<_> = registry::RULES.iter().map(|r| r.meta().code).collect();
    let mut names: Vec<_> = registry::RULES.iter().map(|r| r.meta().name).collect();
    codes.sort();
    names.sort();
    let (n, c, m) = (
        codes.len(),
        {
            codes.dedup();
            codes.len()
        },
        {
            names.dedup();
            names.len()
        },
    );
    assert_eq!((c, m), (n, n), "codes and names are unique");
}
