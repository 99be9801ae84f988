//! Traffic and threat policy: the `x-security` object at document, path-item and operation level.
//!
//! The same type reads one level of a spec (unknown keys refused) and, after the compiler has merged the
//! levels over [`Policy::default`], holds the effective policy of an operation in the plan. Every field has
//! a default, so a plan always states the whole policy and the runtime never guesses.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::units::{ByteSize, Cidr, Duration, HeaderName, OriginPattern, RateKey, UaPattern};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Policy {
    /// `monitor` logs and counts violations but forwards the request anyway.
    pub mode: Mode,
    /// What happens to a request that matches no declared operation.
    pub unknown_routes: UnknownRoutes,
    /// Refuses the operation at the edge (403).
    pub deny: bool,
    pub request: RequestPolicy,
    /// Accepted `Host` / `:authority` values; absent means any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Hosts>,
    /// Every limit must hold; each is counted separately.
    pub rate_limits: Vec<RateLimit>,
    /// `false` hides `RateLimit*` / `X-RateLimit-*` from clients (a 429 keeps `Retry-After`).
    pub rate_limit_headers: bool,
    pub ip: IpPolicy,
    pub bots: BotPolicy,
    /// CORS is answered only when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cors: Option<CorsPolicy>,
    pub request_headers: RequestHeaders,
    pub response_headers: ResponseHeaders,
    pub threats: Threats,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            mode: Mode::Enforce,
            unknown_routes: UnknownRoutes::Reject,
            deny: false,
            request: RequestPolicy::default(),
            hosts: None,
            rate_limits: Vec::new(),
            rate_limit_headers: true,
            ip: IpPolicy::default(),
            bots: BotPolicy::default(),
            cors: None,
            request_headers: RequestHeaders::default(),
            response_headers: ResponseHeaders::default(),
            threats: Threats::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    #[default]
    Enforce,
    Monitor,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum UnknownRoutes {
    /// 404 for an undeclared path, 405 (with `Allow`) for an undeclared method.
    #[default]
    Reject,
    /// Forward undeclared routes unchecked, for gradual adoption.
    Allow,
}

/// How one part of a request is checked against the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    #[default]
    Enforce,
    /// Log and count violations, forward anyway.
    Monitor,
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum AcceptOrReject {
    #[default]
    Reject,
    Allow,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct RequestPolicy {
    pub validate: Validate,
    pub max_body: ByteSize,
    pub max_json_depth: u32,
    /// A JSON body with a repeated key is refused: a validator and a service could read different copies.
    pub duplicate_json_keys: AcceptOrReject,
    pub unknown_query_params: AcceptOrReject,
    /// Adds field-level detail to problem+json answers (never the submitted values).
    pub verbose_errors: bool,
    pub validate_formats: bool,
}

impl Default for RequestPolicy {
    fn default() -> Self {
        Self {
            validate: Validate::default(),
            max_body: ByteSize(1 << 20),
            max_json_depth: 64,
            duplicate_json_keys: AcceptOrReject::Reject,
            unknown_query_params: AcceptOrReject::Reject,
            verbose_errors: false,
            validate_formats: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Validate {
    pub parameters: Check,
    pub body: Check,
}

/// Accepted hosts: a list of names (`*.example.com` matches one or more leading labels), or the hosts of
/// the spec's `servers` (`from-servers`, resolved by the compiler into a list).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Hosts {
    List(Vec<HostPattern>),
    Derived(FromServers),
}

impl<'de> Deserialize<'de> for Hosts {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Hosts;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of host names, or `from-servers`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Hosts, E> {
                match v {
                    "from-servers" => Ok(Hosts::Derived(FromServers::FromServers)),
                    _ => Err(E::custom(format!(
                        "`{v}`: write a list of host names, or `from-servers`"
                    ))),
                }
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Hosts, A::Error> {
                let mut hosts = Vec::new();
                while let Some(host) = seq.next_element()? {
                    hosts.push(host);
                }
                Ok(Hosts::List(hosts))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FromServers {
    FromServers,
}

/// A host name, optionally with a port, optionally starting with `*.`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HostPattern(String);

impl HostPattern {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for HostPattern {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let name = s.strip_prefix("*.").unwrap_or(&s);
        let host = match name.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') => {
                port.parse::<u16>()
                    .map_err(|_| format!("`{s}` has an invalid port"))?;
                host
            }
            _ => name,
        };
        let valid_label = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        let is_ip = host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok();
        if !is_ip && !host.split('.').all(valid_label) {
            return Err(format!(
                "`{s}` is not a host name; write api.example.com, *.example.com or api.example.com:8443"
            ));
        }
        Ok(Self(s.to_ascii_lowercase()))
    }
}

impl From<HostPattern> for String {
    fn from(h: HostPattern) -> String {
        h.0
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RateLimit {
    /// Names the limit in `RateLimit-Policy` headers and metrics; defaults to `<limit>-per-<window>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Requests admitted per window (sustained rate when `burst` is set).
    #[serde(deserialize_with = "positive")]
    pub limit: u64,
    pub window: Duration,
    /// Token bucket: up to `burst` requests at once, refilled at `limit` per `window`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "some_positive"
    )]
    pub burst: Option<u64>,
    #[serde(default)]
    pub key: RateKey,
}

impl RateLimit {
    /// The name used in headers and metrics.
    pub fn display_name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("{}-per-{}", self.limit, self.window))
    }
}

fn positive<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let n = u64::deserialize(d)?;
    if n == 0 {
        return Err(serde::de::Error::custom(
            "must be at least 1 (to refuse every request, use `deny: true`)",
        ));
    }
    Ok(n)
}

fn some_positive<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    positive(d).map(Some)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct IpPolicy {
    /// When non-empty, only these networks may call.
    pub allow: Vec<Cidr>,
    /// Always refused; deny wins over allow.
    pub deny: Vec<Cidr>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct BotPolicy {
    pub deny: Vec<UaPattern>,
    /// Adds specgate's maintained list of scanners and attack tools.
    pub builtin: bool,
}

impl Default for BotPolicy {
    fn default() -> Self {
        Self {
            deny: Vec::new(),
            builtin: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CorsPolicy {
    /// Required once the levels are merged; an inner level may change other keys only.
    #[serde(default)]
    pub origins: Vec<OriginPattern>,
    /// Defaults to the methods the path declares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub methods: Option<Vec<HttpMethod>>,
    #[serde(default)]
    pub headers: Vec<HeaderName>,
    #[serde(default)]
    pub expose: Vec<HeaderName>,
    #[serde(default)]
    pub credentials: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<Duration>,
}

/// An HTTP method, written in upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Put,
    Post,
    Delete,
    Options,
    Head,
    Patch,
    Trace,
    Query,
}

impl HttpMethod {
    pub const ALL: [HttpMethod; 9] = [
        Self::Get,
        Self::Put,
        Self::Post,
        Self::Delete,
        Self::Options,
        Self::Head,
        Self::Patch,
        Self::Trace,
        Self::Query,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Put => "PUT",
            Self::Post => "POST",
            Self::Delete => "DELETE",
            Self::Options => "OPTIONS",
            Self::Head => "HEAD",
            Self::Patch => "PATCH",
            Self::Trace => "TRACE",
            Self::Query => "QUERY",
        }
    }

    /// The key of this method in an OpenAPI path item.
    pub fn openapi_key(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::Put => "put",
            Self::Post => "post",
            Self::Delete => "delete",
            Self::Options => "options",
            Self::Head => "head",
            Self::Patch => "patch",
            Self::Trace => "trace",
            Self::Query => "query",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct RequestHeaders {
    /// Stripped before forwarding (besides the identity headers specgate sets itself).
    pub remove: Vec<HeaderName>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct ResponseHeaders {
    pub remove: Vec<HeaderName>,
    /// Headers set on every answer; a `null` value cancels one set at an outer level or by default.
    /// `Strict-Transport-Security` is sent only over TLS.
    pub set: BTreeMap<HeaderName, Option<String>>,
}

impl Default for ResponseHeaders {
    /// Secure defaults for JSON APIs (OWASP REST Security Cheat Sheet).
    fn default() -> Self {
        let set = [
            ("X-Content-Type-Options", "nosniff"),
            ("X-Frame-Options", "DENY"),
            (
                "Content-Security-Policy",
                "default-src 'none'; frame-ancestors 'none'",
            ),
            ("Referrer-Policy", "no-referrer"),
            (
                "Strict-Transport-Security",
                "max-age=31536000; includeSubDomains",
            ),
        ];
        Self {
            remove: vec![header("Server"), header("X-Powered-By")],
            set: set
                .into_iter()
                .map(|(k, v)| (header(k), Some(v.to_owned())))
                .collect(),
        }
    }
}

fn header(name: &str) -> HeaderName {
    name.parse()
        .unwrap_or_else(|e| panic!("built-in header name: {e}"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ThreatAction {
    #[default]
    Block,
    Log,
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Threats {
    pub sql_injection: ThreatAction,
    pub xss: ThreatAction,
    pub path_traversal: ThreatAction,
    pub command_injection: ThreatAction,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_empty_object_is_the_default_policy() {
        let p: Policy = serde_json::from_value(json!({})).unwrap();
        assert_eq!(p, Policy::default());
        let round: Policy = serde_json::from_value(serde_json::to_value(&p).unwrap()).unwrap();
        assert_eq!(round, p);
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = serde_json::from_value::<Policy>(json!({"rate-limit": []})).unwrap_err();
        assert!(
            err.to_string().contains("unknown field `rate-limit`"),
            "{err}"
        );
    }

    #[test]
    fn rate_limits_refuse_zero() {
        let err = serde_json::from_value::<Policy>(
            json!({"rate-limits": [{"limit": 0, "window": "1m"}]}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("at least 1"), "{err}");
    }

    #[test]
    fn hosts_take_a_list_or_from_servers() {
        let p: Policy = serde_json::from_value(json!({"hosts": "from-servers"})).unwrap();
        assert_eq!(p.hosts, Some(Hosts::Derived(FromServers::FromServers)));
        let p: Policy =
            serde_json::from_value(json!({"hosts": ["*.Example.com", "api.example.com:8443"]}))
                .unwrap();
        let Some(Hosts::List(list)) = p.hosts else {
            panic!("a list")
        };
        assert_eq!(list[0].as_str(), "*.example.com");
        assert!(serde_json::from_value::<Policy>(json!({"hosts": ["not a host"]})).is_err());
    }
}
