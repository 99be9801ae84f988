//! CORS: preflight answers and the headers of actual requests, from an operation's `cors` policy.

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, VARY,
};
use http::{HeaderName, HeaderValue};
use specgate_plan::HttpMethod;
use specgate_plan::policy::CorsPolicy;

/// Why a preflight is refused (for logs; the answer itself carries no CORS headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreflightRefusal {
    /// The origin is not allowed (or is `null`).
    Origin,
    /// `Access-Control-Request-Method` names a method that is not allowed.
    Method,
    /// `Access-Control-Request-Headers` names a header that is not allowed.
    Header,
}

impl PreflightRefusal {
    /// A short, stable name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Origin => "origin not allowed",
            Self::Method => "method not allowed",
            Self::Header => "header not allowed",
        }
    }
}

impl std::fmt::Display for PreflightRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for PreflightRefusal {}

/// An operation's `cors` policy with its constant header values built once.
#[derive(Debug, Clone)]
pub struct Cors {
    origins: Origins,
    methods: Vec<HttpMethod>,
    allow_methods: Option<HeaderValue>,
    /// Header names as written; requests name them in any case.
    headers: Vec<String>,
    allow_headers: Option<HeaderValue>,
    expose: Option<HeaderValue>,
    /// Never on together with [`Origins::Any`].
    credentials: bool,
    max_age: Option<HeaderValue>,
}

#[derive(Debug, Clone)]
enum Origins {
    Any,
    List(Vec<OriginRule>),
}

#[derive(Debug, Clone)]
enum OriginRule {
    /// `scheme://host[:port]`, lower case.
    Exact(String),
    /// `scheme://*.domain[:port]`: `prefix` is `scheme://`, `suffix` is `.domain[:port]`.
    Subdomains { prefix: String, suffix: String },
}

const PREFLIGHT_VARY: &str =
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

impl Cors {
    /// Compiles the policy; without `methods`, the methods the path declares are allowed.
    ///
    /// A `*` anywhere in `origins` allows every origin and is answered with `*`. Credentials are then
    /// switched off: the compiler refuses that combination, and a wildcard with credentials would let any
    /// site read answers made with the user's cookies.
    pub fn new(policy: &CorsPolicy, declared_methods: &[HttpMethod]) -> Self {
        let origins = if policy.origins.iter().any(|o| o.is_any()) {
            Origins::Any
        } else {
            Origins::List(
                policy
                    .origins
                    .iter()
                    .map(|o| OriginRule::new(o.as_str()))
                    .collect(),
            )
        };
        let mut methods: Vec<HttpMethod> = Vec::new();
        for m in policy.methods.as_deref().unwrap_or(declared_methods) {
            if !methods.contains(m) {
                methods.push(*m);
            }
        }
        let headers: Vec<String> = policy
            .headers
            .iter()
            .map(|h| h.as_str().to_owned())
            .collect();
        Self {
            allow_methods: joined(methods.iter().map(|m| m.as_str())),
            methods,
            allow_headers: joined(headers.iter().map(String::as_str)),
            headers,
            expose: joined(policy.expose.iter().map(|h| h.as_str())),
            credentials: policy.credentials && !matches!(origins, Origins::Any),
            max_age: policy.max_age.map(|d| HeaderValue::from(d.get().as_secs())),
            origins,
        }
    }

    /// Answers a preflight (`OPTIONS` with `Access-Control-Request-Method`): the headers of a 204, or why
    /// it is refused. `request_headers` is the `Access-Control-Request-Headers` value, if any.
    pub fn preflight(
        &self,
        origin: &str,
        request_method: &str,
        request_headers: Option<&str>,
    ) -> Result<Vec<(HeaderName, HeaderValue)>, PreflightRefusal> {
        let allow_origin = self.allow_origin(origin).ok_or(PreflightRefusal::Origin)?;
        // Methods are case-sensitive: browsers upper-case only the standard ones, and `patch` is not PATCH.
        if !self.methods.iter().any(|m| m.as_str() == request_method) {
            return Err(PreflightRefusal::Method);
        }
        let requested = request_headers
            .into_iter()
            .flat_map(|list| list.split(','))
            .map(|name| name.trim_matches([' ', '\t']))
            .filter(|name| !name.is_empty());
        for name in requested {
            if !self.headers.iter().any(|h| h.eq_ignore_ascii_case(name)) {
                return Err(PreflightRefusal::Header);
            }
        }
        let mut out = Vec::with_capacity(6);
        out.push((ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin));
        if let Some(methods) = &self.allow_methods {
            out.push((ACCESS_CONTROL_ALLOW_METHODS, methods.clone()));
        }
        if let Some(headers) = &self.allow_headers {
            out.push((ACCESS_CONTROL_ALLOW_HEADERS, headers.clone()));
        }
        if self.credentials {
            out.push((
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            ));
        }
        if let Some(max_age) = &self.max_age {
            out.push((ACCESS_CONTROL_MAX_AGE, max_age.clone()));
        }
        out.push((VARY, HeaderValue::from_static(PREFLIGHT_VARY)));
        Ok(out)
    }

    /// The CORS headers of any other answer, the upstream's or specgate's own refusals. `Vary: Origin` is
    /// always there, since the answer differs by origin and caches must not mix them.
    pub fn actual(&self, origin: Option<&str>) -> Vec<(HeaderName, HeaderValue)> {
        let vary = (VARY, HeaderValue::from_static("Origin"));
        let Some(allow_origin) = origin.and_then(|o| self.allow_origin(o)) else {
            return vec![vary];
        };
        let mut out = Vec::with_capacity(4);
        out.push((ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin));
        if self.credentials {
            out.push((
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            ));
        }
        if let Some(expose) = &self.expose {
            out.push((ACCESS_CONTROL_EXPOSE_HEADERS, expose.clone()));
        }
        out.push(vary);
        out
    }

    /// The `Access-Control-Allow-Origin` value for an allowed origin: `*`, or the origin echoed.
    fn allow_origin(&self, origin: &str) -> Option<HeaderValue> {
        // Sandboxed frames, `file:` pages and redirects all send `null`: allowing it allows them all.
        if origin.eq_ignore_ascii_case("null") {
            return None;
        }
        match &self.origins {
            Origins::Any => Some(HeaderValue::from_static("*")),
            Origins::List(rules) => rules
                .iter()
                .any(|r| r.matches(origin.as_bytes()))
                .then(|| HeaderValue::from_str(origin).ok())
                .flatten(),
        }
    }
}

impl OriginRule {
    /// From an `OriginPattern` (already checked and lower-cased by the plan).
    fn new(pattern: &str) -> Self {
        let wildcard = pattern
            .split_once("://")
            .and_then(|(scheme, rest)| Some((scheme, rest.strip_prefix("*.")?)));
        match wildcard {
            Some((scheme, domain)) => Self::Subdomains {
                prefix: format!("{scheme}://"),
                suffix: format!(".{domain}"),
            },
            None => Self::Exact(pattern.to_owned()),
        }
    }

    /// Anchored at both ends, so `https://*.example.com` matches neither `https://example.com.evil.com`
    /// nor `https://evil.com/.example.com`. Scheme and host compare case-insensitively.
    fn matches(&self, origin: &[u8]) -> bool {
        match self {
            Self::Exact(exact) => origin.eq_ignore_ascii_case(exact.as_bytes()),
            Self::Subdomains { prefix, suffix } => {
                if origin.len() < prefix.len() + suffix.len() {
                    return false;
                }
                let (scheme, rest) = origin.split_at(prefix.len());
                let (labels, domain) = rest.split_at(rest.len() - suffix.len());
                scheme.eq_ignore_ascii_case(prefix.as_bytes())
                    && domain.eq_ignore_ascii_case(suffix.as_bytes())
                    && labels.split(|b| *b == b'.').all(|label| {
                        !label.is_empty()
                            && label
                                .iter()
                                .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
                    })
            }
        }
    }
}

/// Items joined into one list-valued header value; `None` when there are none.
fn joined<'a>(items: impl Iterator<Item = &'a str>) -> Option<HeaderValue> {
    let list = items.collect::<Vec<_>>().join(", ");
    if list.is_empty() {
        return None;
    }
    HeaderValue::from_str(&list).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use specgate_plan::units::Duration;

    fn policy(origins: &[&str]) -> CorsPolicy {
        CorsPolicy {
            origins: origins.iter().map(|o| o.parse().unwrap()).collect(),
            methods: None,
            headers: Vec::new(),
            expose: Vec::new(),
            credentials: false,
            max_age: None,
        }
    }

    const GET_POST: &[HttpMethod] = &[HttpMethod::Get, HttpMethod::Post];

    fn header<'a>(headers: &'a [(HeaderName, HeaderValue)], name: &HeaderName) -> Option<&'a str> {
        let mut values = headers.iter().filter(|(n, _)| n == name);
        let value = values.next().map(|(_, v)| v.to_str().unwrap());
        assert!(values.next().is_none(), "{name} twice");
        value
    }

    fn allowed(cors: &Cors, origin: &str) -> bool {
        let preflight = cors.preflight(origin, "GET", None);
        let actual = cors.actual(Some(origin));
        let by_actual = header(&actual, &ACCESS_CONTROL_ALLOW_ORIGIN).is_some();
        assert_eq!(preflight.is_ok(), by_actual, "{origin}");
        by_actual
    }

    #[test]
    fn listed_origins_are_echoed() {
        let cors = Cors::new(
            &policy(&["https://app.example.com", "http://localhost:3000"]),
            GET_POST,
        );
        let h = cors
            .preflight("https://app.example.com", "GET", None)
            .unwrap();
        assert_eq!(
            header(&h, &ACCESS_CONTROL_ALLOW_ORIGIN),
            Some("https://app.example.com")
        );
        assert_eq!(header(&h, &VARY), Some(PREFLIGHT_VARY));
        assert!(allowed(&cors, "http://localhost:3000"));
        // Case-insensitive, and echoed as sent.
        let h = cors.actual(Some("HTTPS://App.Example.COM"));
        assert_eq!(
            header(&h, &ACCESS_CONTROL_ALLOW_ORIGIN),
            Some("HTTPS://App.Example.COM")
        );
    }

    #[test]
    fn other_origins_are_refused() {
        let cors = Cors::new(
            &policy(&["https://app.example.com", "http://localhost:3000"]),
            GET_POST,
        );
        for origin in [
            "https://evil.com",
            "http://app.example.com",
            "https://app.example.com:8443",
            "https://app.example.com.evil.com",
            "https://xapp.example.com",
            "https://app.example.com/",
            "http://localhost:3001",
            "http://localhost",
            "null",
            "",
            "https://app.example.co",
        ] {
            assert!(!allowed(&cors, origin), "{origin}");
            assert_eq!(
                cors.preflight(origin, "GET", None).unwrap_err(),
                PreflightRefusal::Origin
            );
            assert_eq!(
                cors.actual(Some(origin)),
                vec![(VARY, HeaderValue::from_static("Origin"))]
            );
        }
        assert_eq!(
            cors.actual(None),
            vec![(VARY, HeaderValue::from_static("Origin"))]
        );
    }

    #[test]
    fn subdomain_patterns_are_anchored() {
        let cors = Cors::new(
            &policy(&["https://*.example.com", "http://*.dev.test:8080"]),
            GET_POST,
        );
        for origin in [
            "https://app.example.com",
            "https://a.b.c.example.com",
            "https://API-2.Example.Com",
            "HTTPS://app.example.com",
            "http://x.dev.test:8080",
        ] {
            assert!(allowed(&cors, origin), "{origin}");
        }
        for origin in [
            "https://example.com",
            "https://.example.com",
            "https://a..example.com",
            "https://evil.com/.example.com",
            "https://evil.com?.example.com",
            "https://evil.com#.example.com",
            "https://user@evil.com.example.com@x",
            "https://example.com.evil.com",
            "https://app.example.com.evil.com",
            "https://evilexample.com",
            "http://app.example.com",
            "https://app.example.com:443",
            "http://x.dev.test",
            "http://x.dev.test:80800",
            "https://app_1.example.com",
            "https://*.example.com",
            "null",
        ] {
            assert!(!allowed(&cors, origin), "{origin}");
        }
    }

    #[test]
    fn any_origin_is_answered_with_a_star_except_null() {
        let cors = Cors::new(&policy(&["*"]), GET_POST);
        let h = cors
            .preflight("https://anything.example", "POST", None)
            .unwrap();
        assert_eq!(header(&h, &ACCESS_CONTROL_ALLOW_ORIGIN), Some("*"));
        let h = cors.actual(Some("https://anything.example"));
        assert_eq!(header(&h, &ACCESS_CONTROL_ALLOW_ORIGIN), Some("*"));
        assert_eq!(header(&h, &VARY), Some("Origin"));
        assert!(!allowed(&cors, "null"));
        assert!(!allowed(&cors, "NULL"));
    }

    #[test]
    fn credentials_are_sent_only_with_listed_origins() {
        let mut p = policy(&["https://*.example.com"]);
        p.credentials = true;
        let cors = Cors::new(&p, GET_POST);
        let h = cors
            .preflight("https://app.example.com", "GET", None)
            .unwrap();
        assert_eq!(header(&h, &ACCESS_CONTROL_ALLOW_CREDENTIALS), Some("true"));
        assert_eq!(
            header(&h, &ACCESS_CONTROL_ALLOW_ORIGIN),
            Some("https://app.example.com")
        );
        let h = cors.actual(Some("https://app.example.com"));
        assert_eq!(header(&h, &ACCESS_CONTROL_ALLOW_CREDENTIALS), Some("true"));
        let h = cors.actual(Some("https://evil.com"));
        assert_eq!(header(&h, &ACCESS_CONTROL_ALLOW_CREDENTIALS), None);

        // A wildcard with credentials (which the compiler refuses) never sends them.
        for origins in [&["*"][..], &["https://app.example.com", "*"]] {
            let mut p = policy(origins);
            p.credentials = true;
            let cors = Cors::new(&p, GET_POST);
            let h = cors.preflight("https://evil.com", "GET", None).unwrap();
            assert_eq!(header(&h, &ACCESS_CONTROL_ALLOW_ORIGIN), Some("*"));
            assert_eq!(header(&h, &ACCESS_CONTROL_ALLOW_CREDENTIALS), None);
            let h = cors.actual(Some("https://app.example.com"));
            assert_eq!(header(&h, &ACCESS_CONTROL_ALLOW_ORIGIN), Some("*"));
            assert_eq!(header(&h, &ACCESS_CONTROL_ALLOW_CREDENTIALS), None);
        }

        let cors = Cors::new(&policy(&["https://app.example.com"]), GET_POST);
        let h = cors
            .preflight("https://app.example.com", "GET", None)
            .unwrap();
        assert_eq!(header(&h, &ACCESS_CONTROL_ALLOW_CREDENTIALS), None);
    }

    #[test]
    fn methods_default_to_the_declared_ones() {
        let cors = Cors::new(
            &policy(&["https://app.example.com"]),
            &[HttpMethod::Get, HttpMethod::Delete, HttpMethod::Get],
        );
        let h = cors
            .preflight("https://app.example.com", "DELETE", None)
            .unwrap();
        assert_eq!(
            header(&h, &ACCESS_CONTROL_ALLOW_METHODS),
            Some("GET, DELETE")
        );
        assert_eq!(
            cors.preflight("https://app.example.com", "PUT", None),
            Err(PreflightRefusal::Method)
        );
        assert_eq!(
            cors.preflight("https://app.example.com", "delete", None),
            Err(PreflightRefusal::Method)
        );
        assert_eq!(
            cors.preflight("https://app.example.com", "", None),
            Err(PreflightRefusal::Method)
        );
    }

    #[test]
    fn listed_methods_replace_the_declared_ones() {
        let mut p = policy(&["https://app.example.com"]);
        p.methods = Some(vec![HttpMethod::Put]);
        let cors = Cors::new(&p, GET_POST);
        let h = cors
            .preflight("https://app.example.com", "PUT", None)
            .unwrap();
        assert_eq!(header(&h, &ACCESS_CONTROL_ALLOW_METHODS), Some("PUT"));
        assert_eq!(
            cors.preflight("https://app.example.com", "GET", None),
            Err(PreflightRefusal::Method)
        );
        p.methods = Some(Vec::new());
        let cors = Cors::new(&p, GET_POST);
        assert_eq!(
            cors.preflight("https://app.example.com", "GET", None),
            Err(PreflightRefusal::Method)
        );
    }

    #[test]
    fn request_headers_are_compared_case_insensitively() {
        let mut p = policy(&["https://app.example.com"]);
        p.headers = vec![
            "Content-Type".parse().unwrap(),
            "X-Request-Id".parse().unwrap(),
        ];
        let cors = Cors::new(&p, GET_POST);
        let o = "https://app.example.com";
        let h = cors
            .preflight(o, "POST", Some("content-type,x-request-id"))
            .unwrap();
        assert_eq!(
            header(&h, &ACCESS_CONTROL_ALLOW_HEADERS),
            Some("Content-Type, X-Request-Id")
        );
        assert!(
            cors.preflight(o, "POST", Some(" X-REQUEST-ID , Content-Type "))
                .is_ok()
        );
        assert!(cors.preflight(o, "POST", Some("")).is_ok());
        assert!(cors.preflight(o, "POST", Some("content-type,,")).is_ok());
        assert_eq!(
            cors.preflight(o, "POST", Some("content-type, authorization")),
            Err(PreflightRefusal::Header)
        );
        assert_eq!(
            cors.preflight(o, "POST", Some("content-type-x")),
            Err(PreflightRefusal::Header)
        );

        // No headers configured: none may be requested, and the header is not sent.
        let cors = Cors::new(&policy(&[o]), GET_POST);
        let h = cors.preflight(o, "GET", None).unwrap();
        assert_eq!(header(&h, &ACCESS_CONTROL_ALLOW_HEADERS), None);
        assert_eq!(
            cors.preflight(o, "GET", Some("authorization")),
            Err(PreflightRefusal::Header)
        );
    }

    #[test]
    fn max_age_and_expose() {
        let mut p = policy(&["https://app.example.com"]);
        p.max_age = Some("10m".parse::<Duration>().unwrap());
        p.expose = vec!["X-Total-Count".parse().unwrap(), "ETag".parse().unwrap()];
        let cors = Cors::new(&p, GET_POST);
        let h = cors
            .preflight("https://app.example.com", "GET", None)
            .unwrap();
        assert_eq!(header(&h, &ACCESS_CONTROL_MAX_AGE), Some("600"));
        assert_eq!(header(&h, &ACCESS_CONTROL_EXPOSE_HEADERS), None);
        let h = cors.actual(Some("https://app.example.com"));
        assert_eq!(
            header(&h, &ACCESS_CONTROL_EXPOSE_HEADERS),
            Some("X-Total-Count, ETag")
        );
        assert_eq!(header(&h, &ACCESS_CONTROL_MAX_AGE), None);
        assert_eq!(header(&h, &VARY), Some("Origin"));

        let cors = Cors::new(&policy(&["https://app.example.com"]), GET_POST);
        let h = cors
            .preflight("https://app.example.com", "GET", None)
            .unwrap();
        assert_eq!(header(&h, &ACCESS_CONTROL_MAX_AGE), None);
        let h = cors.actual(Some("https://app.example.com"));
        assert_eq!(header(&h, &ACCESS_CONTROL_EXPOSE_HEADERS), None);
    }

    #[test]
    fn no_origins_allow_none() {
        let cors = Cors::new(&policy(&[]), GET_POST);
        assert!(!allowed(&cors, "https://app.example.com"));
    }

    #[test]
    fn a_refused_preflight_checks_the_origin_first() {
        let cors = Cors::new(&policy(&["https://app.example.com"]), GET_POST);
        assert_eq!(
            cors.preflight("https://evil.com", "PUT", Some("x-evil")),
            Err(PreflightRefusal::Origin)
        );
        assert_eq!(
            cors.preflight("https://app.example.com", "PUT", Some("x-evil")),
            Err(PreflightRefusal::Method)
        );
    }
}
