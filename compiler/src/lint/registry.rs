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

registry![open_request_object, string_max_length, no_security,];

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
