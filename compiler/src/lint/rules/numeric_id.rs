//! ## What it does
//! Flags path parameters named like identifiers (`id`, or a name whose last word is `id`: `petId`,
//! `pet_id`, `pet-id`, `userID`) whose schema is `type: integer`. The finding sits on the schema's
//! `type`, once per schema, listing every operation that uses it.
//!
//! ## Why is this bad?
//! Sequential integer ids are guessable: `/invoices/1001` invites a look at `/invoices/1002`. Whenever the
//! service forgets to check that the caller owns the object, anyone can walk the whole table (broken
//! object level authorization), and even when it checks, the ids reveal how many objects exist.
//! Random, unguessable ids do not replace ownership checks, but they make enumeration impractical.
//!
//! ## Example
//! ```yaml
//! /invoices/{invoiceId}:
//!   parameters:
//!     - {name: invoiceId, in: path, required: true, schema: {type: integer, minimum: 1}}
//! ```
//!
//! ## Use instead
//! ```yaml
//!     - {name: invoiceId, in: path, required: true, schema: {type: string, format: uuid}}
//! ```
//!
//! ## References
//! - OWASP API Security Top 10 2023, API1: Broken Object Level Authorization
//! - CWE-639: Authorization Bypass Through User-Controlled Key

use std::collections::BTreeSet;

use serde_json::Value;

use crate::diagnostic::Severity;
use crate::lint::rules::credentials_in_url::{Places, words};
use crate::lint::{Findings, LintContext, Rule, RuleMeta, labels};

pub struct Check;

impl Rule for Check {
    fn meta(&self) -> RuleMeta {
        RuleMeta {
            code: "SG501",
            name: "numeric-id",
            severity: Severity::Info,
            summary: "A path parameter holds an integer id, which callers can guess by counting.",
        }
    }

    fn check<'s>(&self, cx: &LintContext<'s>, out: &mut Findings<'s>) {
        let mut places = Places::new();
        for op in 0..cx.operations.len() {
            for (parameter, name, location) in cx.named_parameters(op) {
                if location != "path" || words(name).last().map(String::as_str) != Some("id") {
                    continue;
                }
                let Some(schema) = cx.deref(&parameter.child("schema")) else {
                    continue;
                };
                let integer = match schema.value().get("type") {
                    Some(Value::String(t)) => t == "integer",
                    Some(Value::Array(types)) => types.iter().any(|t| t == "integer"),
                    _ => false,
                };
                if integer {
                    places
                        .add(schema.child("type"), op, BTreeSet::new)
                        .insert(name.to_owned());
                }
            }
        }
        for (node, names, operations) in places.into_items() {
            let names: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
            let message = match names.as_slice() {
                [one] => format!(
                    "path parameter {one} is an integer id, which callers can guess by counting"
                ),
                _ => format!(
                    "path parameters {} are integer ids, which callers can guess by counting",
                    names.join(", ")
                ),
            };
            out.report(
                &node,
                message,
                labels(cx, &operations),
            )
            .hint("use unguessable ids (`type: string, format: uuid`), and check ownership of every object in the service");
        }
    }
}
