//! Refusals as types, mapped to HTTP in this one place: status, RFC 9457 problem+json body, headers.

use serde_json::{Value, json};
use specgate_plan::HttpMethod;

/// One field-level problem, shown only with `verbose-errors`. Never holds a submitted value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// `path`, `query`, `header`, `cookie` or `body`.
    pub location: &'static str,
    /// The parameter name (empty for a body).
    pub name: String,
    /// JSON pointer inside the value.
    pub pointer: String,
    pub reason: String,
}

/// The kinds of injection `threats` detects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreatKind {
    SqlInjection,
    Xss,
    PathTraversal,
    CommandInjection,
}

impl ThreatKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SqlInjection => "sql-injection",
            Self::Xss => "xss",
            Self::PathTraversal => "path-traversal",
            Self::CommandInjection => "command-injection",
        }
    }
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Denial {
    /// No declared path matches.
    NotFound,
    /// The path exists with other methods.
    MethodNotAllowed { allowed: Vec<HttpMethod> },
    /// The operation is closed at the edge (`deny: true`).
    Denied,
    /// Credentials are missing or cannot be verified (401).
    Unauthenticated {
        /// The `WWW-Authenticate` challenge.
        challenge: String,
        /// Which check failed, for the log only (never in the answer unless verbose).
        detail: &'static str,
    },
    /// A valid identity lacks a scope or an accepted certificate subject (403).
    InsufficientScope {
        challenge: String,
        detail: &'static str,
    },
    /// The request names a host the policy does not accept (`hosts`).
    MisdirectedRequest,
    /// The client address is not allowed (`ip`).
    IpDenied,
    /// The User-Agent is a denied bot or attack tool (`bots`).
    BotDenied,
    /// A CORS preflight from an origin, or for a method or header, that is not allowed.
    CorsRefused,
    /// A rate limit is exhausted; retry after this many seconds.
    TooManyRequests { retry_after: u64 },
    /// The shared rate-limit store is unreachable and `--rate-limit-fallback closed` is set.
    RateLimitUnavailable,
    /// A parameter or body value looks like an injection attack (`threats`).
    Threat { kind: ThreatKind },
    /// Parameters do not match the spec.
    InvalidParameters { errors: Vec<FieldError> },
    /// The body does not match the spec.
    InvalidBody { errors: Vec<FieldError> },
    /// The operation requires a body and none came.
    MissingBody,
    /// The body's media type is not one the operation accepts.
    UnsupportedMediaType,
    /// The body is larger than `request.max-body`.
    PayloadTooLarge { limit: u64 },
    /// The request line's target is longer than the sidecar accepts.
    UriTooLong,
    /// The request's headers are larger than the sidecar accepts.
    HeadersTooLarge,
    /// The upstream could not be reached.
    BadGateway,
    /// The upstream did not answer in time.
    GatewayTimeout,
    /// The client did not send the whole body within `--body-read-timeout`.
    RequestTimeout,
    /// The request is malformed (two Host headers, a dot segment), or reading its body failed.
    BadRequest,
}

impl Denial {
    pub fn status(&self) -> u16 {
        match self {
            Self::NotFound => 404,
            Self::MethodNotAllowed { .. } => 405,
            Self::Denied
            | Self::InsufficientScope { .. }
            | Self::IpDenied
            | Self::BotDenied
            | Self::CorsRefused
            | Self::Threat { .. } => 403,
            Self::Unauthenticated { .. } => 401,
            Self::TooManyRequests { .. } => 429,
            Self::RateLimitUnavailable => 503,
            Self::InvalidParameters { .. }
            | Self::InvalidBody { .. }
            | Self::MissingBody
            | Self::BadRequest => 400,
            Self::UnsupportedMediaType => 415,
            Self::MisdirectedRequest => 421,
            Self::PayloadTooLarge { .. } => 413,
            Self::UriTooLong => 414,
            Self::HeadersTooLarge => 431,
            Self::BadGateway => 502,
            Self::GatewayTimeout => 504,
            Self::RequestTimeout => 408,
        }
    }

    /// A short, stable name for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotFound => "route-not-found",
            Self::MethodNotAllowed { .. } => "method-not-allowed",
            Self::Denied => "operation-denied",
            Self::Unauthenticated { .. } => "unauthenticated",
            Self::InsufficientScope { .. } => "insufficient-scope",
            Self::IpDenied => "ip-denied",
            Self::MisdirectedRequest => "host-not-accepted",
            Self::BotDenied => "bot-denied",
            Self::CorsRefused => "cors-refused",
            Self::TooManyRequests { .. } => "rate-limited",
            Self::RateLimitUnavailable => "rate-limit-unavailable",
            Self::Threat { kind } => match kind {
                ThreatKind::SqlInjection => "threat-sql-injection",
                ThreatKind::Xss => "threat-xss",
                ThreatKind::PathTraversal => "threat-path-traversal",
                ThreatKind::CommandInjection => "threat-command-injection",
            },
            Self::InvalidParameters { .. } => "invalid-parameters",
            Self::InvalidBody { .. } => "invalid-body",
            Self::MissingBody => "missing-body",
            Self::UnsupportedMediaType => "unsupported-media-type",
            Self::PayloadTooLarge { .. } => "payload-too-large",
            Self::UriTooLong => "uri-too-long",
            Self::HeadersTooLarge => "headers-too-large",
            Self::BadGateway => "upstream-unreachable",
            Self::GatewayTimeout => "upstream-timeout",
            Self::RequestTimeout => "request-timeout",
            Self::BadRequest => "bad-request",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::NotFound => "Not Found",
            Self::MethodNotAllowed { .. } => "Method Not Allowed",
            Self::Denied => "Forbidden",
            Self::Unauthenticated { .. } => "Unauthorized",
            Self::InsufficientScope { .. }
            | Self::IpDenied
            | Self::BotDenied
            | Self::CorsRefused
            | Self::Threat { .. } => "Forbidden",
            Self::TooManyRequests { .. } => "Too Many Requests",
            Self::RateLimitUnavailable => "Service Unavailable",
            Self::InvalidParameters { .. } => "Invalid request parameters",
            Self::InvalidBody { .. } => "Invalid request body",
            Self::MissingBody => "Request body required",
            Self::UnsupportedMediaType => "Unsupported Media Type",
            Self::MisdirectedRequest => "Misdirected Request",
            Self::PayloadTooLarge { .. } => "Payload Too Large",
            Self::UriTooLong => "URI Too Long",
            Self::HeadersTooLarge => "Request Header Fields Too Large",
            Self::BadGateway => "Bad Gateway",
            Self::GatewayTimeout => "Gateway Timeout",
            Self::RequestTimeout => "Request Timeout",
            Self::BadRequest => "Bad Request",
        }
    }

    /// Headers the answer carries besides the problem's content type (`Allow` on a 405).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::MethodNotAllowed { allowed } => {
                vec![(
                    "allow",
                    allowed
                        .iter()
                        .map(|m| m.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                )]
            }
            Self::Unauthenticated { challenge, .. } | Self::InsufficientScope { challenge, .. } => {
                vec![("www-authenticate", challenge.clone())]
            }
            Self::TooManyRequests { retry_after } => {
                vec![("retry-after", retry_after.to_string())]
            }
            _ => Vec::new(),
        }
    }

    /// The RFC 9457 body. Field detail only when `verbose`; never a submitted value.
    pub fn problem(&self, request_id: &str, verbose: bool) -> Value {
        let mut problem = json!({
            "type": format!("https://specgate.dev/problems/{}", self.reason()),
            "title": self.title(),
            "status": self.status(),
            "request_id": request_id,
        });
        if verbose && let Self::InvalidParameters { errors } | Self::InvalidBody { errors } = self {
            problem["errors"] = errors
                    .iter()
                    .map(|e| json!({"location": e.location, "name": e.name, "pointer": e.pointer, "reason": e.reason}))
                    .collect();
        }
        if verbose {
            match self {
                Self::Unauthenticated { detail, .. } | Self::InsufficientScope { detail, .. } => {
                    problem["detail"] = Value::from(*detail);
                }
                Self::Threat { kind } => problem["detail"] = Value::from(kind.as_str()),
                _ => {}
            }
        }
        problem
    }

    /// Which check failed, for the access log (no values, no secrets).
    pub fn detail(&self) -> Option<&'static str> {
        match self {
            Self::Unauthenticated { detail, .. } | Self::InsufficientScope { detail, .. } => {
                Some(detail)
            }
            _ => None,
        }
    }
}

/// A validation failure in words that name the rule broken, never the value that broke it nor the
/// schema's internals (patterns, other branches).
pub fn reason(kind: &jsonschema::error::ValidationErrorKind) -> String {
    use jsonschema::error::ValidationErrorKind as K;
    match kind {
        K::Type { kind } => format!("must be of type {}", type_names(kind)),
        K::Required { property } => format!(
            "missing required property {}",
            property.as_str().unwrap_or_default()
        ),
        K::AdditionalProperties { unexpected } => {
            format!("unexpected properties: {}", unexpected.join(", "))
        }
        K::UnevaluatedProperties { unexpected } => {
            format!("unexpected properties: {}", unexpected.join(", "))
        }
        K::FalseSchema => "is not allowed here".into(),
        K::Enum { .. } | K::Constant { .. } => "is not one of the allowed values".into(),
        K::MaxLength { limit } => format!("is longer than {limit} characters"),
        K::MinLength { limit } => format!("is shorter than {limit} characters"),
        K::MaxItems { limit } => format!("has more than {limit} items"),
        K::MinItems { limit } => format!("has fewer than {limit} items"),
        K::MaxProperties { limit } => format!("has more than {limit} properties"),
        K::MinProperties { limit } => format!("has fewer than {limit} properties"),
        K::Maximum { .. } | K::ExclusiveMaximum { .. } => "is above the maximum".into(),
        K::Minimum { .. } | K::ExclusiveMinimum { .. } => "is below the minimum".into(),
        K::MultipleOf { .. } => "is not a multiple of the required step".into(),
        K::Pattern { .. } => "does not match the required pattern".into(),
        K::Format { format } => format!("is not a valid {format}"),
        K::UniqueItems => "has duplicate items".into(),
        K::OneOfNotValid { .. } | K::AnyOf { .. } => "matches none of the allowed forms".into(),
        K::OneOfMultipleValid { .. } => "matches more than one of the exclusive forms".into(),
        _ => "does not match the schema".into(),
    }
}

fn type_names(kind: &jsonschema::error::TypeKind) -> String {
    match kind {
        jsonschema::error::TypeKind::Single(t) => t.to_string(),
        jsonschema::error::TypeKind::Multiple(types) => {
            let names: Vec<String> = types.iter().map(|t| t.to_string()).collect();
            names.join(" or ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_hide_detail_unless_verbose() {
        let denial = Denial::InvalidBody {
            errors: vec![FieldError {
                location: "body",
                name: String::new(),
                pointer: "/age".into(),
                reason: "must be of type integer".into(),
            }],
        };
        let quiet = denial.problem("r1", false);
        assert_eq!(quiet["status"], 400);
        assert_eq!(quiet["request_id"], "r1");
        assert!(quiet.get("errors").is_none());
        let verbose = denial.problem("r1", true);
        assert_eq!(verbose["errors"][0]["pointer"], "/age");
    }

    #[test]
    fn method_not_allowed_lists_methods() {
        let d = Denial::MethodNotAllowed {
            allowed: vec![HttpMethod::Get, HttpMethod::Post],
        };
        assert_eq!(d.status(), 405);
        assert_eq!(d.headers(), vec![("allow", "GET, POST".to_owned())]);
    }
}
