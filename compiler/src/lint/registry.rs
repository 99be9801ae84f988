//! Every lint rule, one line each. A rule's documentation is the `//!` comment of its file.

use super::Rule;
use super::rules::*;

macro_rules! registry {
    ($($module:ident),* $(,)?) => {
        /// Every rule, in code order.
        pub static RULES: &[&dyn Rule] = &[$(&$module::Check),*];

        /// The full documentation of a rule (its file's `//!` comment), by code or name.
        pub fn documentation(code_or_name: &str) -> Option<String> {
            $(
                let meta = $module::Check.meta();
                if meta.code.eq_ignore_ascii_case(code_or_name) || meta.name == code_or_name {
                    return Some(doc_comment(include_str!(concat!("rules/", stringify!($module), ".rs"))));
                }
            )*
            None
        }
    };
}

registry![
    open_request_object,
    readonly_in_request,
    unbounded_map,
    string_max_length,
    array_max_items,
    number_bounds,
    body_size_unset,
    rate_limit_missing,
    string_restricted,
    integer_format,
    unknown_format,
    no_security,
    insecure_auth_scheme,
    api_key_in_url,
    credentials_in_url,
    jwt_unverifiable,
    admin_shared_security,
    insecure_server,
    no_servers,
    token_lifetime_unbounded,
    missing_auth_responses,
    missing_429,
    missing_400,
    missing_413,
    missing_500,
    rate_limit_headers_undocumented,
    numeric_id,
    ssrf_url_parameter,
    cors_undefined,
    deprecated_operation,
];

/// The leading `//!` lines of a source file, without their markers.
fn doc_comment(source: &str) -> String {
    source
        .lines()
        .take_while(|l| l.starts_with("//!"))
        .map(|l| {
            l.strip_prefix("//! ")
                .or_else(|| l.strip_prefix("//!"))
                .unwrap_or(l)
        })
        .collect::<Vec<_>>()
        .join("\n")
}
