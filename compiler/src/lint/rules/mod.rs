//! One rule per file. Each file's `//!` comment is the rule's documentation, with the headings
//! What it does / Why is this bad? / Example / Use instead / References.

pub mod no_security;
pub mod open_request_object;
pub mod string_max_length;
