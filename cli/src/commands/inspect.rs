//! `specgate inspect PLAN`: routes by policies, for people.

use std::fmt::Write as _;
use std::path::Path;

use specgate_plan::policy::{Check, Hosts, Mode, ThreatAction};
use specgate_plan::{Operation, Plan, Policy};

use super::{Outcome, load_plan};

pub fn run(path: &Path) -> Outcome {
    match load_plan(path) {
        Ok(plan) => {
            print!("{}", render(&plan));
            Outcome::Success
        }
        Err(outcome) => outcome,
    }
}

fn render(plan: &Plan) -> String {
    let mut out = String::new();
    let s = &plan.source;
    let _ = writeln!(
        out,
        "{} {} (OpenAPI {}) from {}",
        s.title, s.version, s.openapi, s.file
    );
    let _ = writeln!(
        out,
        "{} operations, {} shared schemas, {} security schemes, source sha256 {}",
        plan.operations.len(),
        plan.schemas.len(),
        plan.security_schemes.len(),
        &s.sha256[..s.sha256.len().min(12)]
    );
    let _ = writeln!(
        out,
        "defaults: {}\n",
        summary(&plan.defaults, &Policy::default())
    );
    let rows: Vec<[String; 5]> = plan
        .operations
        .iter()
        .map(|op| {
            [
                op.method.as_str().to_owned(),
                op.path.clone(),
                op.id.clone(),
                security(op),
                summary(&op.policy, &plan.defaults),
            ]
        })
        .collect();
    let header = [
        "METHOD",
        "PATH",
        "OPERATION",
        "SECURITY",
        "POLICY (beyond defaults)",
    ]
    .map(str::to_owned);
    let mut widths = [0usize; 4];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let _ = writeln!(
            out,
            "{:w0$}  {:w1$}  {:w2$}  {:w3$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3]
        );
    }
    out
}

/// `bearer[read write] + apiKey | public`.
fn security(op: &Operation) -> String {
    if op.security.is_empty() {
        return "public".into();
    }
    op.security
        .iter()
        .map(|alternative| {
            if alternative.is_empty() {
                return "anonymous".to_owned();
            }
            alternative
                .iter()
                .map(|(scheme, scopes)| {
                    if scopes.is_empty() {
                        scheme.clone()
                    } else {
                        format!("{scheme}[{}]", scopes.join(" "))
                    }
                })
                .collect::<Vec<_>>()
                .join(" + ")
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The parts of `policy` that differ from `base`, tersely.
fn summary(policy: &Policy, base: &Policy) -> String {
    let mut parts = Vec::new();
    if policy.deny {
        parts.push("DENY".to_owned());
    }
    if policy.mode == Mode::Monitor && base.mode != Mode::Monitor {
        parts.push("monitor".into());
    }
    if policy.unknown_routes != base.unknown_routes {
        parts.push(format!("unknown-routes {:?}", policy.unknown_routes).to_lowercase());
    }
    let r = &policy.request;
    if r.max_body != base.request.max_body {
        parts.push(format!("body<={}", r.max_body));
    }
    for (name, check, base_check) in [
        (
            "params",
            r.validate.parameters,
            base.request.validate.parameters,
        ),
        ("body", r.validate.body, base.request.validate.body),
    ] {
        if check != base_check {
            parts.push(format!(
                "{name} {}",
                match check {
                    Check::Enforce => "enforce",
                    Check::Monitor => "monitor",
                    Check::Off => "off",
                }
            ));
        }
    }
    if policy.rate_limits != base.rate_limits {
        for limit in &policy.rate_limits {
            let burst = limit
                .burst
                .map(|b| format!(" burst {b}"))
                .unwrap_or_default();
            parts.push(format!(
                "{}/{}{burst} by {}",
                limit.limit, limit.window, limit.key
            ));
        }
    }
    if policy.ip != base.ip {
        parts.push(format!(
            "ip allow {} deny {}",
            policy.ip.allow.len(),
            policy.ip.deny.len()
        ));
    }
    if policy.hosts != base.hosts
        && let Some(Hosts::List(hosts)) = &policy.hosts
    {
        parts.push(format!(
            "hosts {}",
            hosts
                .iter()
                .map(|h| h.as_str())
                .collect::<Vec<_>>()
                .join(",")
        ));
    }
    if policy.cors != base.cors
        && let Some(cors) = &policy.cors
    {
        parts.push(format!(
            "cors {}",
            cors.origins
                .iter()
                .map(|o| o.as_str())
                .collect::<Vec<_>>()
                .join(",")
        ));
    }
    if policy.bots != base.bots {
        parts.push(format!(
            "bots +{}{}",
            policy.bots.deny.len(),
            if policy.bots.builtin {
                ""
            } else {
                " (no built-in list)"
            }
        ));
    }
    if policy.threats != base.threats {
        let t = &policy.threats;
        let off = [
            ("sqli", t.sql_injection),
            ("xss", t.xss),
            ("traversal", t.path_traversal),
            ("cmd", t.command_injection),
        ]
        .iter()
        .filter(|(_, a)| *a != ThreatAction::Block)
        .map(|(n, a)| format!("{n} {a:?}").to_lowercase())
        .collect::<Vec<_>>();
        if !off.is_empty() {
            parts.push(format!("threats {}", off.join(",")));
        }
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(", ")
    }
}
