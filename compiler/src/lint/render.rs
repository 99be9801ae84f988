//! Output formats of lint findings: text for people, JSON for tools, SARIF for code scanning, and
//! GitHub workflow annotations.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::Finding;
use super::registry::{RULES, documentation};
use crate::diagnostic::Severity;
use crate::load::Spec;

/// rustc-like text: the finding, its place, the source line with the spot marked, the operations it
/// affects, and a hint.
pub fn text(findings: &[Finding], spec: Option<&Spec>) -> String {
    let files = spec.map(Spec::files).unwrap_or_default();
    let mut out = String::new();
    for f in findings {
        let _ = writeln!(out, "{}[{}] {}: {}", f.severity, f.code, f.rule, f.message);
        let _ = writeln!(
            out,
            "  --> {}:{}:{} at #{}",
            f.location.file, f.location.line, f.location.column, f.location.pointer
        );
        let line = files
            .iter()
            .find(|s| s.display == f.location.file)
            .and_then(|s| {
                s.text
                    .lines()
                    .nth(f.location.line as usize - 1)
                    .map(str::to_owned)
            });
        if let Some(line) = line {
            let number = f.location.line.to_string();
            let pad = " ".repeat(number.len());
            let shown: String = line.chars().take(160).collect();
            let caret_at: String = shown
                .chars()
                .take(f.location.column as usize - 1)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let _ = writeln!(out, "{pad} |\n{number} | {shown}\n{pad} | {caret_at}^");
        }
        if !f.operations.is_empty() {
            let shown: Vec<&str> = f.operations.iter().take(5).map(String::as_str).collect();
            let more = if f.operations.len() > 5 {
                format!(" and {} more", f.operations.len() - 5)
            } else {
                String::new()
            };
            let _ = writeln!(out, "  = affects: {}{more}", shown.join(", "));
        }
        if let Some(hint) = &f.hint {
            let _ = writeln!(out, "  = hint: {hint}");
        }
        out.push('\n');
    }
    out
}

/// The one-line summary that ends text output.
pub fn summary(findings: &[Finding]) -> String {
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    format!(
        "{} errors, {} warnings, {} infos",
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info)
    )
}

/// The documented, stable JSON format: `{"version": 1, "findings": [...]}`; each finding has `code`,
/// `rule`, `severity`, `message`, `file`, `line`, `column`, `pointer`, `operations` and maybe `hint`.
pub fn json(findings: &[Finding]) -> String {
    #[derive(serde::Serialize)]
    struct Log<'f> {
        version: u32,
        findings: &'f [Finding],
    }
    let mut text = serde_json::to_string_pretty(&Log {
        version: 1,
        findings,
    })
    .unwrap_or_default();
    text.push('\n');
    text
}

/// GitHub Actions workflow commands, one annotation per finding.
pub fn github(findings: &[Finding]) -> String {
    let escape_data = |s: &str| {
        s.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    };
    let escape_property = |s: &str| escape_data(s).replace(':', "%3A").replace(',', "%2C");
    let mut out = String::new();
    for f in findings {
        let level = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let mut message = f.message.clone();
        if let Some(hint) = &f.hint {
            message.push_str(&format!(" ({hint})"));
        }
        let _ = writeln!(
            out,
            "::{level} file={},line={},col={},title={}::{}",
            escape_property(&f.location.file),
            f.location.line,
            f.location.column,
            escape_property(&format!("{} {}", f.code, f.rule)),
            escape_data(&message)
        );
    }
    out
}

/// SARIF 2.1.0, as GitHub code scanning accepts it: every rule with its metadata, every finding as a
/// result with a physical location and the JSON pointer as a logical location.
pub fn sarif(findings: &[Finding]) -> String {
    let level = |s: Severity| match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    };
    let rules: Vec<Value> = RULES
        .iter()
        .chain(std::iter::once(
            &(&super::InternalError as &dyn super::Rule),
        ))
        .map(|r| {
            let m = r.meta();
            let help = documentation(m.code).unwrap_or_else(|| m.summary.to_owned());
            json!({
                "id": m.code,
                "name": m.name,
                "shortDescription": {"text": m.summary},
                "fullDescription": {"text": m.summary},
                "help": {"text": help.clone(), "markdown": help},
                "defaultConfiguration": {"level": level(m.severity)},
                "properties": {"tags": ["security", "openapi"]}
            })
        })
        .collect();
    let index_of = |code: &str| {
        RULES
            .iter()
            .position(|r| r.meta().code == code)
            .unwrap_or(RULES.len())
    };
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let mut message = f.message.clone();
            if !f.operations.is_empty() {
                message.push_str(&format!(" (affects {})", f.operations.join(", ")));
            }
            json!({
                "ruleId": f.code,
                "ruleIndex": index_of(f.code),
                "level": level(f.severity),
                "message": {"text": message},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": f.location.file.trim_start_matches("./")},
                        "region": {"startLine": f.location.line, "startColumn": f.location.column}
                    },
                    "logicalLocations": [{"fullyQualifiedName": format!("#{}", f.location.pointer), "kind": "member"}]
                }],
                "partialFingerprints": {"specgate/v1": super::baseline::fingerprint(f)}
            })
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "specgate",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://example.invalid/specgate",
                "rules": rules
            }},
            "results": results
        }]
    });
    let mut text = serde_json::to_string_pretty(&log).unwrap_or_default();
    text.push('\n');
    text
}
