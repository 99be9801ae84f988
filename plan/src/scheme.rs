//! Security schemes: what the spec's `securitySchemes` declare, and how each is verified (its
//! `x-security` object). Secrets never appear here: only the names of the environment variables or
//! files the sidecar reads them from at start.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::units::{Duration, HeaderName};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SecurityScheme {
    pub kind: SchemeKind,
    /// How credentials of this scheme are verified; `None` when the spec gives no way to verify them,
    /// in which case every request that needs this scheme is refused (fail closed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<Verification>,
}

/// The scheme as OpenAPI declares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum SchemeKind {
    Http {
        /// Lower-cased: `bearer`, `basic`, `digest`…
        scheme: String,
    },
    ApiKey {
        #[serde(rename = "in")]
        location: ApiKeyLocation,
        name: String,
    },
    Oauth2,
    OpenIdConnect {
        url: String,
    },
    MutualTls,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApiKeyLocation {
    Header,
    Query,
    Cookie,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Verification {
    Jwt(Box<Jwt>),
    ApiKey(ApiKey),
    Mtls(Mtls),
}

/// JWT verification for `http: bearer`, `oauth2` and `openIdConnect` schemes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Jwt {
    /// Accepted `iss` values; empty accepts any issuer (lint warns).
    #[serde(deserialize_with = "one_or_many")]
    pub issuer: Vec<String>,
    /// Accepted `aud` values; empty accepts any audience (lint warns).
    pub audiences: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// Public keys read from a file next to the spec; the compiler embeds them as `jwks`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_file: Option<String>,
    /// A public JWK Set, embedded in the plan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    /// OpenID Connect discovery document (from `openIdConnectUrl`); gives the issuer and `jwks_uri`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discovery_url: Option<String>,
    /// Environment variable holding the HMAC secret (HS* algorithms only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
    pub jwks_cache: Duration,
    /// Pinned algorithms; a token's own `alg` never widens them.
    pub algorithms: Vec<Algorithm>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_lifetime: Option<Duration>,
    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    pub required_claims: Vec<String>,
    /// A claim must equal (or, for arrays, contain) one of the listed values.
    pub claims: BTreeMap<String, Vec<serde_json::Value>>,
    pub scopes_claim: String,
    pub token_sources: Vec<TokenSource>,
    /// Verified claims copied into upstream headers; incoming copies are always stripped.
    pub forward: BTreeMap<String, HeaderName>,
}

impl Default for Jwt {
    fn default() -> Self {
        Self {
            issuer: Vec::new(),
            audiences: Vec::new(),
            jwks_uri: None,
            jwks_file: None,
            jwks: None,
            discovery_url: None,
            secret_env: None,
            jwks_cache: Duration::from_secs(600),
            algorithms: vec![Algorithm::RS256],
            max_lifetime: None,
            leeway: Duration::from_secs(30),
            required_claims: vec!["exp".into()],
            claims: BTreeMap::new(),
            scopes_claim: "scope".into(),
            token_sources: vec![TokenSource::Header],
            forward: BTreeMap::new(),
        }
    }
}

impl Jwt {
    /// Whether some source of keys is configured.
    pub fn has_key_source(&self) -> bool {
        self.jwks_uri.is_some()
            || self.jwks.is_some()
            || self.jwks_file.is_some()
            || self.discovery_url.is_some()
            || self.secret_env.is_some()
    }
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged, expecting = "an issuer URL or a list of them")]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

/// JWS algorithms a scheme may pin. `none` is not one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Algorithm {
    HS256,
    HS384,
    HS512,
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    EdDSA,
}

impl Algorithm {
    pub fn is_hmac(self) -> bool {
        matches!(self, Self::HS256 | Self::HS384 | Self::HS512)
    }
}

/// Where a bearer token may be read from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TokenSource {
    /// `Authorization: Bearer …`
    Header,
    Query(String),
    Cookie(String),
}

impl std::str::FromStr for TokenSource {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once(':') {
            None if s == "header" => Ok(Self::Header),
            Some(("query", name)) if !name.is_empty() => Ok(Self::Query(name.into())),
            Some(("cookie", name)) if !name.is_empty() => Ok(Self::Cookie(name.into())),
            _ => Err(format!(
                "`{s}` is not a token source; write header, query:NAME or cookie:NAME"
            )),
        }
    }
}

impl std::fmt::Display for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Header => f.write_str("header"),
            Self::Query(n) => write!(f, "query:{n}"),
            Self::Cookie(n) => write!(f, "cookie:{n}"),
        }
    }
}

impl Serialize for TokenSource {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TokenSource {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// API keys, checked against `name:sha256-hex` lines from an environment variable or a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct ApiKey {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys_env: Option<String>,
    /// Read by the sidecar at start; relative to the root spec file's folder (or the plan file's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys_file: Option<String>,
    /// `name: HEADER` forwards the matched key's name.
    pub forward: BTreeMap<ApiKeyForward, HeaderName>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApiKeyForward {
    Name,
}

/// Mutual TLS: a client certificate verified against `--client-ca`, optionally from listed subjects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Mtls {
    /// Subject DNs (`CN=billing-service`) or SAN DNS names; empty accepts any verified certificate.
    pub subjects: Vec<String>,
    pub forward: BTreeMap<MtlsForward, HeaderName>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MtlsForward {
    Subject,
}
