//! One rule per file. Each file's `//!` comment is the rule's documentation, with the headings
//! What it does / Why is this bad? / Example / Use instead / References.

pub mod admin_shared_security;
pub mod api_key_in_url;
pub mod array_max_items;
pub mod body_size_unset;
pub mod cors_undefined;
pub mod credentials_in_url;
pub mod deprecated_operation;
pub mod insecure_auth_scheme;
pub mod insecure_server;
pub mod integer_format;
pub mod jwt_unverifiable;
pub mod missing_400;
pub mod missing_413;
pub mod missing_429;
pub mod missing_500;
pub mod missing_auth_responses;
pub mod no_security;
pub mod no_servers;
pub mod number_bounds;
pub mod numeric_id;
pub mod open_request_object;
pub mod rate_limit_headers_undocumented;
pub mod rate_limit_missing;
pub mod readonly_in_request;
pub mod ssrf_url_parameter;
pub mod string_max_length;
pub mod string_restricted;
pub mod token_lifetime_unbounded;
pub mod unbounded_map;
pub mod unknown_format;
