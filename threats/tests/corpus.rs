//! Detection and false-positive rates of the detectors on the corpus in `corpus/`.
//!
//! Prints a table (run with `--nocapture`) and holds the targets: at least 90% of each kind's
//! attacks detected, at most 2% of benign values flagged overall and per kind.

use specgate_threats::{Detector, Kind, Kinds};
use std::fs;
use std::path::{Path, PathBuf};

const MIN_DETECTION: f64 = 0.90;
const MAX_FALSE_POSITIVES: f64 = 0.02;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

/// The values of one corpus file, per the line format in `corpus/README.md`.
fn values(path: &Path) -> Vec<String> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with("## "))
        .map(|l| match l.strip_prefix("esc:") {
            Some(escaped) => unescape(escaped),
            None => l.to_owned(),
        })
        .collect()
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let replacement = match (c, chars.peek()) {
            ('\\', Some('n')) => Some('\n'),
            ('\\', Some('r')) => Some('\r'),
            ('\\', Some('t')) => Some('\t'),
            ('\\', Some('0')) => Some('\0'),
            ('\\', Some('\\')) => Some('\\'),
            _ => None,
        };
        match replacement {
            Some(r) => {
                out.push(r);
                chars.next();
            }
            None => out.push(c),
        }
    }
    out
}

fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

#[test]
fn escapes_follow_the_readme() {
    assert_eq!(unescape(r"a\nb\r\t\0\\n\x"), "a\nb\r\t\0\\n\\x");
}

#[test]
fn corpus_rates_meet_the_targets() {
    let detector = Detector::new();
    let dir = corpus_dir();

    let mut failures = Vec::new();
    println!(
        "\n{:<20} {:>8} {:>9} {:>10}",
        "attacks", "values", "detected", "rate"
    );
    let mut attack_total = 0;
    for kind in Kind::ALL {
        let attacks = values(&dir.join("attacks").join(format!("{}.txt", kind.as_str())));
        assert!(
            attacks.len() >= 60,
            "{kind}: only {} attacks",
            attacks.len()
        );
        attack_total += attacks.len();
        let missed: Vec<&String> = attacks
            .iter()
            .filter(|v| detector.scan(v, Kinds::only(kind)) != Some(kind))
            .collect();
        let rate = percent(attacks.len() - missed.len(), attacks.len());
        println!(
            "{:<20} {:>8} {:>9} {:>9.1}%",
            kind.as_str(),
            attacks.len(),
            attacks.len() - missed.len(),
            rate * 100.0
        );
        for m in &missed {
            println!("    missed: {m:?}");
        }
        if rate < MIN_DETECTION {
            failures.push(format!("{kind}: detection {:.1}%", rate * 100.0));
        }
    }
    assert!(attack_total >= 300, "only {attack_total} attacks");

    let mut benign = Vec::new();
    let mut files: Vec<PathBuf> = fs::read_dir(dir.join("benign"))
        .unwrap_or_else(|e| panic!("corpus/benign: {e}"))
        .map(|e| {
            e.map(|e| e.path())
                .unwrap_or_else(|e| panic!("corpus/benign: {e}"))
        })
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    for f in &files {
        benign.extend(values(f));
    }
    assert!(benign.len() >= 300, "only {} benign values", benign.len());

    println!(
        "\n{:<20} {:>8} {:>9} {:>10}",
        "benign", "values", "flagged", "rate"
    );
    for kind in Kind::ALL {
        let flagged: Vec<&String> = benign
            .iter()
            .filter(|v| detector.scan(v, Kinds::only(kind)).is_some())
            .collect();
        let rate = percent(flagged.len(), benign.len());
        println!(
            "{:<20} {:>8} {:>9} {:>9.1}%",
            kind.as_str(),
            benign.len(),
            flagged.len(),
            rate * 100.0
        );
        for f in &flagged {
            println!("    flagged: {f:?}");
        }
        if rate > MAX_FALSE_POSITIVES {
            failures.push(format!("{kind}: false positives {:.1}%", rate * 100.0));
        }
    }
    let overall = benign
        .iter()
        .filter(|v| detector.scan(v, Kinds::ALL).is_some())
        .count();
    let rate = percent(overall, benign.len());
    println!(
        "{:<20} {:>8} {:>9} {:>9.1}%\n",
        "any kind",
        benign.len(),
        overall,
        rate * 100.0
    );
    if rate > MAX_FALSE_POSITIVES {
        failures.push(format!("overall false positives {:.1}%", rate * 100.0));
    }
    assert!(failures.is_empty(), "targets missed: {failures:?}");
}
