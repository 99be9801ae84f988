//! ## What it does
//! Flags properties marked `readOnly: true`, on the property itself or on the schema its `$ref`
//! points to, in schemas reachable from a request (parameters and bodies, through `$ref`, `allOf`,
//! `anyOf`/`oneOf`, nested objects and array items). Each property is reported once, with the
//! operations whose requests reach it.
//!
//! ## Why is this bad?
//! `readOnly` fields (`id`, `createdAt`, `ownerId`, `balance`…) are set by the server. specgate refuses
//! them in requests, but a schema shared by requests and responses still tells clients, SDK generators
//! and mock servers that the field belongs in the request: generated models send it, and a service
//! reached without the gateway (or with it in monitor mode) may bind it, which is mass assignment.
//!
//! ## Example
//! ```yaml
//! User:
//!   type: object
//!   properties:
//!     id: {type: string, format: uuid, readOnly: true}
//!     name: {type: string, maxLength: 100}
//! # used by both `POST /users` (request) and `GET /users/{id}` (response)
//! ```
//!
//! ## Use instead
//! ```yaml
//! UserCreate:                # the request model
//!   type: object
//!   additionalProperties: false
//!   properties:
//!     name: {type: string, maxLength: 100}
//! User:                      # the response model
//!   type: object
//!   properties:
//!     id: {type: string, format: uuid, readOnly: true}
//!     name: {type: string, maxLength: 100}
//! ```
//!
//! ## References
//! - OWASP API Security Top 10 2023, API3: Broken Object Property Level Authorization
//! - CWE-915: Improperly Controlled Modification of Dynamically-Determined Object Attributes

use serde_json::Value;

use crate::diagnostic::Severity;
use crate::lint::{Findings, LintContext, Rule, RuleMeta, labels};

pub struct Check;

impl Rule for Check {
    fn meta(&self) -> RuleMeta {
        RuleMeta {
            code: "SG102",
            name: "readonly-in-request",
            severity: Severity::Warning,
            summary: "A readOnly property is reachable from a request schema.",
        }
    }

    fn reads_schemas(&self) -> bool {
        true
    }

    fn check<'s>(&self, cx: &LintContext<'s>, out: &mut Findings<'s>) {
        // Properties are found through the schema that declares them: a property that is only a
        // `$ref` is not a site of its own, and each declaring schema is a site once.
        for site in cx.request_schemas() {
            let Some(Value::Object(properties)) = site.value().get("properties") else {
                continue;
            };
            for (name, value) in properties {
                let property = || site.node.child("properties").child(name);
                // As the compiler reads `readOnly`: the property's own flag, else its `$ref` target's.
                let read_only = match value.get("readOnly") {
                    Some(flag) => flag == &Value::Bool(true),
                    None if value.get("$ref").is_some() => {
                        cx.deref(&property()).is_some_and(|target| {
                            target.value().get("readOnly") == Some(&Value::Bool(true))
                        })
                    }
                    None => false,
                };
                if !read_only {
                    continue;
                }
                out.report(
                    &property(),
                    format!("`{name}` is `readOnly` but part of a request schema: specgate refuses it at run time, yet clients and code generators may still send it"),
                    labels(cx, &site.operations),
                )
                .hint("split read and write models: give requests a schema without this property (and mark request-only fields `writeOnly`)");
            }
        }
    }
}
