//! ## What it does
//! Flags administrative operations that accept exactly the same credentials as an ordinary one. A path
//! is administrative when one of its segments, as a whole, is `admin`, `admins`, `administration`,
//! `administrator`, `internal`, `manage`, `management`, `ops`, `superuser`, `sudo` or `backoffice`
//! (leading `_`, `-` or `.` ignored, case-insensitive): `/admin/users` and `/_internal/cache` are,
//! `/administrators-guide` and `/operations` are not. Security is compared as the set of effective
//! alternatives with their schemes and scopes, so requiring an admin scope is enough to pass.
//! Operations that are `deny: true` or restricted by `ip.allow` are not flagged; ordinary operations
//! that are `deny: true` do not count as peers.
//!
//! ## Why is this bad?
//! If the token every user holds also opens the admin endpoints, function-level authorization rests
//! entirely on the service's own checks; a single forgotten check hands administration to every user.
//!
//! ## Example
//! ```yaml
//! security: [{bearerAuth: []}]
//! paths:
//!   /pets: {get: …}
//!   /admin/users/{id}: {delete: …}      # same bearer token as GET /pets
//! ```
//!
//! ## Use instead
//! ```yaml
//!   /admin/users/{id}:
//!     delete:
//!       security: [{bearerAuth: [admin]}]   # or another scheme, or
//!       x-security:
//!         ip: {allow: [10.0.0.0/8]}          # reachable from the internal network only
//! ```
//!
//! ## References
//! - OWASP API Security Top 10 2023, API5: Broken Function Level Authorization
//! - CWE-285: Improper Authorization

use std::collections::{BTreeMap, BTreeSet};

use crate::diagnostic::Severity;
use crate::lint::context::OperationView;
use crate::lint::{Findings, LintContext, Rule, RuleMeta};

pub struct Check;

/// Path segments that mark an administrative operation.
const ADMIN_SEGMENTS: &[&str] = &[
    "admin",
    "admins",
    "administration",
    "administrator",
    "internal",
    "manage",
    "management",
    "ops",
    "superuser",
    "sudo",
    "backoffice",
];

/// Security alternatives without their order: schemes with their set of scopes.
type Alternatives = BTreeSet<BTreeMap<String, BTreeSet<String>>>;

impl Rule for Check {
    fn meta(&self) -> RuleMeta {
        RuleMeta {
            code: "SG306",
            name: "admin-shared-security",
            severity: Severity::Warning,
            summary: "An admin-looking operation accepts the same credentials as an ordinary one.",
        }
    }

    fn check<'s>(&self, cx: &LintContext<'s>, out: &mut Findings<'s>) {
        let ordinary: Vec<(&OperationView, Alternatives)> = cx
            .operations
            .iter()
            .filter(|view| !view.plan.policy.deny && !is_admin_path(&view.plan.path))
            .map(|view| (view, alternatives(view)))
            .collect();
        for view in &cx.operations {
            let policy = &view.plan.policy;
            if policy.deny || !policy.ip.allow.is_empty() || !is_admin_path(&view.plan.path) {
                continue;
            }
            let mine = alternatives(view);
            let Some((peer, _)) = ordinary.iter().find(|(_, theirs)| *theirs == mine) else {
                continue;
            };
            let message = if view.plan.security.is_empty() {
                format!(
                    "administrative operation `{}` is public, like `{}`",
                    view.label, peer.label
                )
            } else {
                format!(
                    "administrative operation `{}` accepts the same credentials as `{}`",
                    view.label, peer.label
                )
            };
            out.report_key(&view.node, message, vec![view.label.clone()])
                .hint("require an admin scope or a separate scheme, limit callers with `x-security.ip.allow`, or set `deny: true` if it must not be reachable through the gateway");
        }
    }
}

fn alternatives(view: &OperationView) -> Alternatives {
    view.plan
        .security
        .iter()
        .map(|alternative| {
            alternative
                .iter()
                .map(|(scheme, scopes)| (scheme.clone(), scopes.iter().cloned().collect()))
                .collect()
        })
        .collect()
}

fn is_admin_path(path: &str) -> bool {
    path.split('/').any(|segment| {
        let segment = segment.trim_start_matches(['_', '-', '.']);
        ADMIN_SEGMENTS
            .iter()
            .any(|admin| segment.eq_ignore_ascii_case(admin))
    })
}

#[cfg(test)]
mod tests {
    use super::is_admin_path;

    #[test]
    fn admin_paths_are_whole_segments() {
        assert!(is_admin_path("/admin/users"));
        assert!(is_admin_path("/v1/_internal/cache"));
        assert!(is_admin_path("/Management"));
        assert!(!is_admin_path("/administrators-guide"));
        assert!(!is_admin_path("/operations"));
        assert!(!is_admin_path("/users/{admin}"));
    }
}
