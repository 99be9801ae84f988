//! ## What it does
//! Flags `servers` URLs (of the document, a path item or an operation) that use plain `http://` or
//! `ws://`, unless they point at the local machine (`localhost`, `*.localhost`, `127.0.0.0/8`, `[::1]`).
//! Server variables are expanded from their `default` and `enum`, so `{scheme}://api.example.com` with
//! `http` among its values is flagged too. Relative URLs (`/v1`) are not.
//!
//! ## Why is this bad?
//! Over plain HTTP every token, API key, cookie and payload crosses the network in clear text, readable
//! and changeable by anyone on the path. A spec that lists an `http://` server tells clients (and client
//! generators) that this is a fine way to call the API.
//!
//! ## Example
//! ```yaml
//! servers:
//!   - url: http://api.example.com/v1
//! ```
//!
//! ## Use instead
//! ```yaml
//! servers:
//!   - url: https://api.example.com/v1
//!   - url: http://localhost:8080/v1     # local development is fine
//! ```
//!
//! ## References
//! - OWASP API Security Top 10 2023, API8: Security Misconfiguration
//! - CWE-319: Cleartext Transmission of Sensitive Information

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use specgate_plan::Server;

use crate::compile::expand_server;
use crate::diagnostic::Severity;
use crate::lint::{Findings, LintContext, Rule, RuleMeta};
use crate::load::Node;

pub struct Check;

impl Rule for Check {
    fn meta(&self) -> RuleMeta {
        RuleMeta {
            code: "SG307",
            name: "insecure-server",
            severity: Severity::Error,
            summary: "A server URL uses plain http:// or ws:// for a host other than localhost.",
        }
    }

    fn check<'s>(&self, cx: &LintContext<'s>, out: &mut Findings<'s>) {
        // Each holder of `servers`, with the operations whose effective servers it gives.
        let mut holders: Vec<(Node, Vec<String>)> = Vec::new();
        let root = cx.spec.root();
        holders.push((
            root,
            cx.operations
                .iter()
                .filter(|v| !has_servers(&v.path_item) && !has_servers(&v.node))
                .map(|v| v.label.clone())
                .collect(),
        ));
        let mut seen = BTreeSet::new();
        for view in &cx.operations {
            let item = &view.path_item;
            if seen.insert((item.file_id, item.pointer.clone())) {
                let affected = cx
                    .operations
                    .iter()
                    .filter(|v| {
                        (v.path_item.file_id, &v.path_item.pointer) == (item.file_id, &item.pointer)
                            && !has_servers(&v.node)
                    })
                    .map(|v| v.label.clone())
                    .collect();
                holders.push((item.clone(), affected));
            }
            holders.push((view.node.clone(), vec![view.label.clone()]));
        }
        for (holder, operations) in holders {
            let list = holder.child("servers");
            let count = list.value().as_array().map_or(0, Vec::len);
            for i in 0..count {
                let server = list.child(&i.to_string());
                let Some(url) = server.value().get("url").and_then(Value::as_str) else {
                    continue;
                };
                let Some((plain, insecure)) = expanded(&server, url)
                    .into_iter()
                    .find_map(|u| insecure_scheme(&u).map(|s| (u, s)))
                else {
                    continue;
                };
                let shown = if plain == url {
                    format!("`{url}`")
                } else {
                    format!("`{url}` (as `{plain}`)")
                };
                let (what, fix) = match insecure {
                    "ws" => ("plain WebSocket (`ws://`)", "wss://"),
                    _ => ("plain HTTP", "https://"),
                };
                out.report(
                    &server.child("url"),
                    format!("server {shown} is {what}: tokens, keys and data cross the network in clear text"),
                    operations.clone(),
                )
                .hint(format!("use `{fix}`; plain URLs are fine only for localhost"));
            }
        }
    }
}

/// Whether a node declares a non-empty `servers` list (an empty one inherits, as in the compiler).
fn has_servers(node: &Node) -> bool {
    node.value()
        .get("servers")
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty())
}

/// Every URL a server object stands for, its variables expanded from `default` and `enum`.
fn expanded(server: &Node, url: &str) -> Vec<String> {
    let mut variables = BTreeMap::new();
    if let Some(Value::Object(vars)) = server.value().get("variables") {
        for (name, var) in vars {
            let mut values: Vec<String> = Vec::new();
            let listed = var.get("default").into_iter().chain(
                var.get("enum")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten(),
            );
            for value in listed.filter_map(Value::as_str) {
                if !values.iter().any(|v| v == value) {
                    values.push(value.to_owned());
                }
            }
            variables.insert(name.clone(), values);
        }
    }
    expand_server(&Server {
        url: url.to_owned(),
        variables,
    })
}

/// `Some("http")` or `Some("ws")` when the URL is plain and not for the local machine.
fn insecure_scheme(url: &str) -> Option<&'static str> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" => "http",
        "ws" => "ws",
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host.starts_with('[') {
        host.split_once(']').map_or(host, |(h, _)| &h[1..])
    } else {
        host.split(':').next().unwrap_or(host)
    }
    .to_ascii_lowercase();
    let local = host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    (!local).then_some(scheme)
}

#[cfg(test)]
mod tests {
    use super::insecure_scheme;

    #[test]
    fn plain_urls_are_insecure_unless_local() {
        assert_eq!(insecure_scheme("http://api.example.com/v1"), Some("http"));
        assert_eq!(insecure_scheme("WS://api.example.com"), Some("ws"));
        assert_eq!(
            insecure_scheme("http://user@localhost.evil.com:80"),
            Some("http")
        );
        assert_eq!(insecure_scheme("http://localhost:8080/v1"), None);
        assert_eq!(insecure_scheme("http://127.0.0.1"), None);
        assert_eq!(insecure_scheme("http://[::1]:8080"), None);
        assert_eq!(insecure_scheme("http://app.localhost"), None);
        assert_eq!(insecure_scheme("https://api.example.com"), None);
        assert_eq!(insecure_scheme("/v1"), None);
    }
}
