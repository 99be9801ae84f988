//! ## What it does
//! Flags query and path parameters whose name says they carry a credential. The name is split into words
//! (`access_token`, `accessToken`, `X-Access-Token` all give `access` `token`), and its **last** word
//! decides, so that names of things *about* a credential pass:
//! - `password`, `passwd`, `pwd`, `passphrase`, `secret`, `jwt`, `credential(s)`, `bearer`,
//!   `authorization`, `auth`, and joined forms such as `apikey`, `accesstoken`, `clientsecret`,
//!   `jsessionid`, are credentials;
//! - `token` is, except after a pagination word (`page_token`, `nextToken`, `continuation_token`, `sync`…);
//! - `key` is after `api`, `access`, `secret`, `private`, `client`, `app`, `auth`, `signing`,
//!   `subscription` or `master` (`api_key`, `X-API-Key`), not alone (`key` often names an object);
//! - `session` and `session_id` are, in the query only (`/sessions/{sessionId}` names a resource).
//!
//! Not flagged: `author`, `token_type`, `secret_name`, `api_key_id`, `password_policy`, `keyword`, and
//! `signature`/`code` (presigned URLs and OAuth redirects put those in URLs by design). Header and cookie
//! parameters are not checked: they are not part of the URL.
//!
//! ## Why is this bad?
//! URLs are written to access logs, proxy and CDN logs, browser history and `Referer` headers, so a
//! credential in one is disclosed to everyone who can read any of those.
//!
//! ## Example
//! ```yaml
//! parameters:
//!   - {name: access_token, in: query, schema: {type: string, maxLength: 2048}}
//! ```
//!
//! ## Use instead
//! ```yaml
//! components:
//!   securitySchemes:
//!     bearerAuth: {type: http, scheme: bearer}   # Authorization: Bearer …
//! ```
//!
//! ## References
//! - OWASP API Security Top 10 2023, API2: Broken Authentication
//! - CWE-598: Use of GET Request Method With Sensitive Query Strings

use std::collections::{BTreeSet, HashMap};

use crate::diagnostic::Severity;
use crate::lint::{Findings, LintContext, Rule, RuleMeta, labels};
use crate::load::{FileId, Node};

pub struct Check;

impl Rule for Check {
    fn meta(&self) -> RuleMeta {
        RuleMeta {
            code: "SG304",
            name: "credentials-in-url",
            severity: Severity::Error,
            summary: "A query or path parameter is named like a credential (token, password, api key…).",
        }
    }

    fn check<'s>(&self, cx: &LintContext<'s>, out: &mut Findings<'s>) {
        let mut places = Places::new();
        for op in 0..cx.operations.len() {
            for (parameter, name, location) in cx.named_parameters(op) {
                let in_query = match location {
                    "query" => true,
                    "path" => false,
                    _ => continue,
                };
                if is_credential_name(name, in_query) {
                    let data = (name.to_owned(), location.to_owned());
                    places.add(parameter.child("name"), op, || data);
                }
            }
        }
        for (node, (name, location), operations) in places.into_items() {
            out.report(
                &node,
                format!("{location} parameter `{name}` looks like a credential, and URLs are logged and leaked through `Referer`"),
                labels(cx, &operations),
            )
            .hint("send credentials in a header (a security scheme such as bearer or an `in: header` API key), never in the URL");
        }
    }
}

/// Pagination words: a token after one of them is a cursor, not a credential.
const PAGINATION: &[&str] = &[
    "page",
    "next",
    "prev",
    "previous",
    "continuation",
    "cursor",
    "sync",
    "skip",
    "start",
    "resume",
    "delta",
    "change",
    "changes",
    "marker",
    "pagination",
    "paging",
    "offset",
];

/// Words before `key` that make it a credential.
const KEY_OWNERS: &[&str] = &[
    "api",
    "access",
    "secret",
    "private",
    "client",
    "app",
    "auth",
    "signing",
    "subscription",
    "master",
];

/// Credential names written as one word.
const JOINED: &[&str] = &[
    "apikey",
    "apitoken",
    "accesstoken",
    "refreshtoken",
    "idtoken",
    "authtoken",
    "bearertoken",
    "sessiontoken",
    "clientsecret",
    "accesskey",
    "secretkey",
    "privatekey",
    "jsessionid",
    "phpsessid",
];

/// Whether a parameter name says it carries a credential (see the rule's documentation).
fn is_credential_name(name: &str, in_query: bool) -> bool {
    let words = words(name);
    let Some(last) = words.last() else {
        return false;
    };
    let previous = words.len().checked_sub(2).map(|i| words[i].as_str());
    match last.as_str() {
        "password" | "passwd" | "pwd" | "passphrase" | "secret" | "jwt" | "credential"
        | "credentials" | "bearer" | "authorization" | "auth" => true,
        "token" => !previous.is_some_and(|p| PAGINATION.contains(&p)),
        "key" => previous.is_some_and(|p| KEY_OWNERS.contains(&p)),
        "session" | "sessionid" => in_query,
        "id" => in_query && previous == Some("session"),
        other => JOINED.contains(&other),
    }
}

/// The words of an identifier, lower-cased: split at anything not alphanumeric and at case changes
/// (`X-APIKey_value` gives `x` `api` `key` `value`; `userID` gives `user` `id`).
pub(crate) fn words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut out = Vec::new();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            continue;
        }
        if !current.is_empty() && c.is_uppercase() {
            let previous = chars[i - 1];
            let next_is_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if previous.is_lowercase()
                || previous.is_numeric()
                || (previous.is_uppercase() && next_is_lower)
            {
                out.push(std::mem::take(&mut current));
            }
        }
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Findings gathered by place: a node shared by several operations (through `$ref`) gives one finding
/// that lists them all. Places keep the order in which they were first met.
#[derive(Debug)]
pub(crate) struct Places<'s, T> {
    items: Vec<(Node<'s>, T, BTreeSet<usize>)>,
    index: HashMap<(FileId, String), usize>,
}

impl<'s, T> Places<'s, T> {
    pub(crate) fn new() -> Self {
        Self {
            items: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// Records that operation `op` reaches `node`, and gives the place's data (made by `data` the first
    /// time the place is met) for the caller to add to.
    pub(crate) fn add(&mut self, node: Node<'s>, op: usize, data: impl FnOnce() -> T) -> &mut T {
        let key = (node.file_id, node.pointer.clone());
        let i = match self.index.get(&key) {
            Some(&i) => {
                self.items[i].2.insert(op);
                i
            }
            None => {
                self.index.insert(key, self.items.len());
                self.items.push((node, data(), BTreeSet::from([op])));
                self.items.len() - 1
            }
        };
        &mut self.items[i].1
    }

    pub(crate) fn into_items(self) -> Vec<(Node<'s>, T, BTreeSet<usize>)> {
        self.items
    }
}

#[cfg(test)]
mod tests {
    use super::{is_credential_name, words};

    #[test]
    fn names_split_into_words() {
        assert_eq!(words("X-APIKey_value"), ["x", "api", "key", "value"]);
        assert_eq!(words("userID"), ["user", "id"]);
        assert_eq!(words("accessToken"), ["access", "token"]);
        assert_eq!(words("redirect_uri"), ["redirect", "uri"]);
        assert!(words("--").is_empty());
    }

    #[test]
    fn credential_names_are_recognised() {
        for name in [
            "token",
            "access_token",
            "accessToken",
            "api_key",
            "X-API-Key",
            "apikey",
            "api-key",
            "client_secret",
            "password",
            "userPassword",
            "passwd",
            "auth",
            "jwt",
            "reset_token",
            "JSESSIONID",
        ] {
            assert!(is_credential_name(name, true), "{name}");
        }
        assert!(is_credential_name("session_id", true));
        assert!(is_credential_name("token", false));
    }

    #[test]
    fn look_alikes_are_not_credentials() {
        for name in [
            "author",
            "authorId",
            "token_type",
            "pageToken",
            "next_token",
            "secret_name",
            "api_key_id",
            "password_policy",
            "keyword",
            "key",
            "sort_key",
            "monkey",
            "signature",
            "code",
            "oauth",
        ] {
            assert!(!is_credential_name(name, true), "{name}");
        }
        assert!(!is_credential_name("sessionId", false));
    }
}
