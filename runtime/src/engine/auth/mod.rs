//! Authentication: OpenAPI security requirements evaluated against the request's credentials.
//!
//! An operation's requirements are alternatives (any one may pass), each naming schemes that must all
//! pass with all their listed scopes. Every scheme named is evaluated once per request. A credential
//! that is presented but invalid refuses the request even when another alternative would pass; a
//! credential that several schemes read (two bearer schemes of different issuers) is invalid only
//! when none of them accepts it, so alternatives between such schemes work.

pub mod api_key;
mod cache;
mod credentials;
pub mod jwt;
pub mod keys;
pub mod mtls;
#[cfg(test)]
mod testkeys;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use http::request::Parts;
use http::{HeaderName, HeaderValue, StatusCode};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use specgate_plan::SecurityScheme;
use specgate_plan::json::parse_strict;
use specgate_plan::scheme::{
    ApiKey, ApiKeyForward, ApiKeyLocation, Jwt, MtlsForward, SchemeKind, Verification,
};
use specgate_plan::units;

pub use api_key::ApiKeys;
pub use jwt::{JwtError, MAX_TOKEN_BYTES, verify};
pub use keys::{JwtKeys, KeySlot};
pub use mtls::SubjectMatcher;

use super::context::Connection;
use credentials::{Found, KeyPlace};

/// Where the sidecar reads secrets from at start: the process environment and files. The engine
/// itself never reads either.
pub trait SecretSource {
    /// The value of environment variable `name`, if it is set.
    fn env(&self, name: &str) -> Option<String>;
    /// The contents of the file at `path` (as the plan gives it), or why it cannot be read.
    fn file(&self, path: &str) -> Result<String, String>;
}

/// Headers a scheme may never forward into: they frame, route or authenticate the upstream request,
/// and every incoming copy of a forwarded header is stripped.
const RESERVED_FORWARD_HEADERS: [&str; 12] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "proxy-authorization",
    "proxy-connection",
    "authorization",
    "cookie",
];

/// The security schemes of a plan, ready to authenticate requests.
#[derive(Debug)]
pub struct Authenticator {
    schemes: BTreeMap<String, Scheme>,
    /// Every header name some scheme forwards to, sorted, once each.
    forwarded: Vec<HeaderName>,
}

#[derive(Debug)]
struct Scheme {
    /// The HTTP authentication scheme named in `WWW-Authenticate`: `Bearer`, `ApiKey`, `MutualTLS`…
    auth_scheme: String,
    /// The challenge sent when the credential is missing.
    challenge: String,
    verifier: Verifier,
}

#[derive(Debug)]
enum Verifier {
    Jwt {
        cfg: Box<Jwt>,
        keys: Keys,
        forward: Vec<(String, HeaderName)>,
        /// Tokens whose signature was already verified.
        verified: cache::VerifiedTokens,
    },
    ApiKey {
        place: KeyPlace,
        keys: ApiKeys,
        forward: Option<HeaderName>,
    },
    Mtls {
        subjects: SubjectMatcher,
        forward: Option<HeaderName>,
    },
    /// No way to verify this scheme's credentials: it never passes (fail closed). Holds why, when
    /// a secret the plan names is not available to this process (an unset variable, a missing file).
    Refuse(Option<String>),
}

#[derive(Debug)]
enum Keys {
    Static(Arc<JwtKeys>),
    Remote(Arc<KeySlot>),
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFailure {
    /// 401 (missing or invalid credentials) or 403 (valid credentials without the required scopes
    /// or an accepted certificate subject).
    pub status: StatusCode,
    /// The `WWW-Authenticate` value to send, such as `Bearer error="invalid_token"`.
    pub www_authenticate: String,
    /// A short, stable reason for logs and metrics, such as `token-expired`.
    pub reason: &'static str,
    /// The scheme whose fetched keys should be refreshed (a token named a `kid` they lack, or they
    /// are missing or stale); the request may be authenticated again once after the refresh.
    pub refresh_keys: Option<String>,
}

/// Who passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// A stable key of the credential for rate limiting (`jwt:<iss>:<sub>`, `apikey:<name>`,
    /// `cert:<subject>`; several joined by `&` for an alternative of several schemes). No secret.
    pub credential: String,
    /// Who the caller is, for the access log.
    pub subject: String,
    /// Headers to set on the upstream request (the `forward` of each passing scheme).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// A credential as presented, to tell whether a scheme that refused it was just not its scheme.
#[derive(PartialEq, Eq)]
enum Presented {
    Token(String),
    Key(String),
}

impl std::fmt::Debug for Presented {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A secret: never printed, even in debug output.
        f.write_str(match self {
            Self::Token(_) => "Token(..)",
            Self::Key(_) => "Key(..)",
        })
    }
}

/// One scheme's verdict on one request.
#[derive(Debug)]
enum Outcome {
    Absent,
    Invalid(Refusal),
    Valid(Grant),
}

/// Why a scheme refused a presented credential.
#[derive(Debug)]
struct Refusal {
    reason: &'static str,
    www_authenticate: String,
    /// The credential, when another scheme accepting it would make this refusal moot; `None` when
    /// the refusal stands regardless (two tokens, a malformed header).
    presented: Option<Presented>,
    /// Whether fresher fetched keys might accept it.
    refresh: bool,
    /// How far the credential got before it failed: the request's refusal reports the furthest (an
    /// expired token of one scheme over the wrong algorithm for another).
    rank: u8,
}

impl Refusal {
    /// A refusal that stands whatever other scheme reads the credential.
    fn new(auth_scheme: &str, reason: &'static str, error: &str) -> Self {
        Refusal {
            reason,
            www_authenticate: format!("{auth_scheme} error=\"{error}\""),
            presented: None,
            refresh: false,
            rank: jwt::FINAL_STAGE,
        }
    }
}

#[derive(Debug)]
struct Grant {
    credential: String,
    subject: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    scopes: Vec<String>,
    /// False for a certificate whose subject is not accepted.
    permitted: bool,
    presented: Option<Presented>,
}

impl Authenticator {
    /// Prepares every scheme: decodes embedded JWK Sets, reads HMAC secrets and API key lists through
    /// `secrets`, and makes an empty [`KeySlot`] for each scheme whose keys are fetched at run time
    /// (`jwks-uri` or OpenID Connect discovery, when no key is given in the plan). A scheme with no
    /// way to verify its credentials refuses every request that needs it.
    pub fn new(
        schemes: &BTreeMap<String, SecurityScheme>,
        secrets: &dyn SecretSource,
    ) -> Result<Authenticator, String> {
        let mut built = BTreeMap::new();
        for (name, scheme) in schemes {
            let scheme = Scheme::build(scheme, secrets)
                .map_err(|e| format!("security scheme `{name}`: {e}"))?;
            built.insert(name.clone(), scheme);
        }
        let mut forwarded = Vec::new();
        for (name, scheme) in schemes {
            forwarded.extend(
                forwarded_headers(scheme).map_err(|e| format!("security scheme `{name}`: {e}"))?,
            );
        }
        forwarded.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        forwarded.dedup();
        Ok(Authenticator {
            schemes: built,
            forwarded,
        })
    }

    /// The schemes whose keys the sidecar must fetch, with their settings and the slot to install
    /// fetched keys into.
    pub fn remote_key_slots(&self) -> Vec<(&str, &Jwt, Arc<KeySlot>)> {
        self.schemes
            .iter()
            .filter_map(|(name, scheme)| match &scheme.verifier {
                Verifier::Jwt {
                    cfg,
                    keys: Keys::Remote(slot),
                    ..
                } => Some((name.as_str(), &**cfg, Arc::clone(slot))),
                _ => None,
            })
            .collect()
    }

    /// Why schemes refuse every request in this process: a secret the plan names is not available
    /// (an unset environment variable, an unreadable file), one line per scheme.
    pub fn warnings(&self) -> Vec<String> {
        self.schemes
            .iter()
            .filter_map(|(name, scheme)| match &scheme.verifier {
                Verifier::Refuse(Some(why)) => Some(format!(
                    "security scheme `{name}`: {why}; requests that need it are refused"
                )),
                _ => None,
            })
            .collect()
    }

    /// Every header some scheme may set upstream. The sidecar strips incoming copies of these from
    /// every request, public operations included, so a client can never supply them itself.
    pub fn forwarded_header_names(&self) -> &[HeaderName] {
        &self.forwarded
    }

    /// Evaluates an operation's security requirements against a request.
    ///
    /// `Ok(None)`: the operation is public, or an anonymous alternative (`{}`) passed and no other
    /// did. `Ok(Some(identity))`: the first alternative that passed completely.
    pub fn authenticate(
        &self,
        requirements: &[BTreeMap<String, Vec<String>>],
        head: &Parts,
        conn: &Connection,
        now_unix_secs: u64,
    ) -> Result<Option<Identity>, AuthFailure> {
        if requirements.is_empty() {
            return Ok(None);
        }
        let mut outcomes: BTreeMap<&str, Outcome> = BTreeMap::new();
        for name in requirements
            .iter()
            .flat_map(|alternative| alternative.keys())
        {
            if !outcomes.contains_key(name.as_str()) {
                let outcome = self.evaluate(name, head, conn, now_unix_secs);
                outcomes.insert(name, outcome);
            }
        }

        if let Some(failure) = refusal(&outcomes) {
            return Err(failure);
        }

        let mut anonymous = false;
        let mut forbidden = None;
        for alternative in requirements {
            if alternative.is_empty() {
                anonymous = true;
                continue;
            }
            let mut grants = Vec::with_capacity(alternative.len());
            for (name, scopes) in alternative {
                match outcomes.get(name.as_str()) {
                    Some(Outcome::Valid(grant)) => grants.push((name.as_str(), grant, scopes)),
                    _ => break,
                }
            }
            if grants.len() < alternative.len() {
                continue;
            }
            let lacking = grants.iter().find(|(_, grant, scopes)| {
                !grant.permitted || !scopes.iter().all(|s| grant.scopes.contains(s))
            });
            match lacking {
                None => return Ok(Some(identity(&grants))),
                Some((name, grant, scopes)) => {
                    if forbidden.is_none() {
                        forbidden = Some(self.insufficient(name, grant, scopes));
                    }
                }
            }
        }
        if anonymous {
            return Ok(None);
        }
        Err(forbidden.unwrap_or_else(|| self.missing(requirements)))
    }

    fn evaluate(&self, name: &str, head: &Parts, conn: &Connection, now: u64) -> Outcome {
        let Some(scheme) = self.schemes.get(name) else {
            // A requirement naming no declared scheme cannot be met (the compiler refuses those).
            return Outcome::Absent;
        };
        let auth_scheme = &scheme.auth_scheme;
        match &scheme.verifier {
            Verifier::Jwt {
                cfg,
                keys,
                forward,
                verified,
            } => evaluate_jwt(name, auth_scheme, cfg, keys, verified, forward, head, now),
            Verifier::ApiKey {
                place,
                keys,
                forward,
            } => match credentials::api_key(head, place) {
                Found::Nothing => Outcome::Absent,
                Found::Several => invalid(auth_scheme, "multiple-api-keys", "invalid_request"),
                Found::Malformed => invalid(auth_scheme, "malformed-credential", "invalid_request"),
                Found::One(key) => match keys.find(&key) {
                    None => Outcome::Invalid(Refusal {
                        presented: Some(Presented::Key(key)),
                        ..Refusal::new(auth_scheme, "unknown-api-key", "invalid_key")
                    }),
                    Some(key_name) => Outcome::Valid(Grant {
                        credential: format!("apikey:{key_name}"),
                        subject: key_name.to_owned(),
                        // Key names are printable ASCII (checked when the list is read).
                        headers: forward
                            .iter()
                            .filter_map(|h| {
                                Some((h.clone(), HeaderValue::from_str(key_name).ok()?))
                            })
                            .collect(),
                        scopes: Vec::new(),
                        permitted: true,
                        presented: Some(Presented::Key(key)),
                    }),
                },
            },
            Verifier::Mtls { subjects, forward } => {
                let Some(cert) = &conn.client_cert else {
                    return Outcome::Absent;
                };
                let mut headers = Vec::new();
                if let Some(header) = forward {
                    let Ok(value) = HeaderValue::from_bytes(cert.subject.as_bytes()) else {
                        return invalid(
                            auth_scheme,
                            "unforwardable-subject",
                            "invalid_certificate",
                        );
                    };
                    headers.push((header.clone(), value));
                }
                let subject = match (cert.subject.is_empty(), cert.dns_names.first()) {
                    (true, Some(dns)) => printable(&format!("dns:{dns}")),
                    _ => printable(&cert.subject),
                };
                Outcome::Valid(Grant {
                    credential: format!("cert:{subject}"),
                    subject,
                    headers,
                    scopes: Vec::new(),
                    permitted: subjects.matches(cert),
                    presented: None,
                })
            }
            Verifier::Refuse(_) => Outcome::Absent,
        }
    }

    /// 403 for an alternative whose credentials were all valid but not enough.
    fn insufficient(&self, name: &str, grant: &Grant, scopes: &[String]) -> AuthFailure {
        let auth_scheme = self
            .schemes
            .get(name)
            .map_or("Bearer", |s| s.auth_scheme.as_str());
        let (reason, www_authenticate) = if !grant.permitted {
            (
                "subject-not-allowed",
                format!("{auth_scheme} error=\"subject_not_allowed\""),
            )
        } else {
            (
                "insufficient-scope",
                format!(
                    "{auth_scheme} error=\"insufficient_scope\", scope=\"{}\"",
                    quoted(&scopes.join(" "))
                ),
            )
        };
        AuthFailure {
            status: StatusCode::FORBIDDEN,
            www_authenticate,
            reason,
            refresh_keys: None,
        }
    }

    /// 401 for requirements that no credential met: one challenge per kind of scheme they name.
    fn missing(&self, requirements: &[BTreeMap<String, Vec<String>>]) -> AuthFailure {
        let mut challenges: Vec<&str> = Vec::new();
        let mut verifiable = false;
        for name in requirements.iter().flat_map(|a| a.keys()) {
            if let Some(scheme) = self.schemes.get(name) {
                verifiable |= !matches!(scheme.verifier, Verifier::Refuse(_));
                if !challenges.contains(&scheme.challenge.as_str()) {
                    challenges.push(&scheme.challenge);
                }
            }
        }
        if challenges.is_empty() {
            challenges.push("Bearer");
        }
        AuthFailure {
            status: StatusCode::UNAUTHORIZED,
            www_authenticate: challenges.join(", "),
            // When only unverifiable schemes are named, no credential could have helped: say so.
            reason: if verifiable {
                "missing-credential"
            } else {
                "unverifiable-scheme"
            },
            refresh_keys: None,
        }
    }
}

/// The 401 for a credential that was presented but that no scheme reading it accepted, if any.
/// Among several, one whose scheme's keys should be refreshed is preferred, so that a retry after
/// the refresh can succeed; then the one that got furthest.
fn refusal(outcomes: &BTreeMap<&str, Outcome>) -> Option<AuthFailure> {
    let accepted: Vec<&Presented> = outcomes
        .values()
        .filter_map(|o| match o {
            Outcome::Valid(grant) => grant.presented.as_ref(),
            _ => None,
        })
        .collect();
    let standing = outcomes.iter().filter_map(|(name, outcome)| match outcome {
        Outcome::Invalid(refusal)
            if !refusal
                .presented
                .as_ref()
                .is_some_and(|p| accepted.contains(&p)) =>
        {
            Some((*name, refusal))
        }
        _ => None,
    });
    // `max_by_key` keeps the last of equals; reversed, that is the first scheme by name.
    let (name, refusal) = standing
        .rev()
        .max_by_key(|(_, refusal)| (refusal.refresh, refusal.rank))?;
    Some(AuthFailure {
        status: StatusCode::UNAUTHORIZED,
        www_authenticate: refusal.www_authenticate.clone(),
        reason: refusal.reason,
        refresh_keys: refusal.refresh.then(|| name.to_owned()),
    })
}

fn invalid(auth_scheme: &str, reason: &'static str, error: &str) -> Outcome {
    Outcome::Invalid(Refusal::new(auth_scheme, reason, error))
}

#[allow(clippy::too_many_arguments)]
fn evaluate_jwt(
    scheme_name: &str,
    auth_scheme: &str,
    cfg: &Jwt,
    keys: &Keys,
    verified: &cache::VerifiedTokens,
    forward: &[(String, HeaderName)],
    head: &Parts,
    now: u64,
) -> Outcome {
    // A refusal of this token by this scheme; another scheme may still accept the same token.
    let refused = |token: String, reason, refresh, rank| {
        Outcome::Invalid(Refusal {
            presented: Some(Presented::Token(token)),
            refresh,
            rank,
            ..Refusal::new(auth_scheme, reason, "invalid_token")
        })
    };
    let token = match credentials::bearer(head, &cfg.token_sources) {
        Found::Nothing => return Outcome::Absent,
        Found::Several => return invalid(auth_scheme, "multiple-tokens", "invalid_request"),
        Found::Malformed => {
            return Outcome::Invalid(Refusal {
                rank: 0,
                ..Refusal::new(auth_scheme, "malformed-credential", "invalid_request")
            });
        }
        Found::One(token) => token,
    };
    let (keys, remote) = match keys {
        Keys::Static(keys) => (Arc::clone(keys), false),
        Keys::Remote(slot) => {
            let now_time = UNIX_EPOCH.checked_add(Duration::from_secs(now));
            match now_time.and_then(|t| slot.current(t)) {
                Some(keys) => (keys, true),
                None => return refused(token, "keys-unavailable", true, jwt::FINAL_STAGE),
            }
        }
    };
    let claims = match verified.get_or_verify(&token, keys.generation(), || {
        jwt::verify_signature(&token, cfg, &keys)
    }) {
        Ok(claims) => claims,
        Err(e) => {
            let refresh = remote && e == JwtError::UnknownKid;
            return refused(token, e.reason(), refresh, e.stage());
        }
    };
    if let Err(e) = jwt::check_claims(&claims, cfg, now) {
        return refused(token, e.reason(), false, e.stage());
    }
    let mut headers = Vec::with_capacity(forward.len());
    for (claim, header) in forward {
        let value = match claims.get(claim) {
            None | Some(Value::Null) => continue,
            Some(Value::String(text)) => {
                HeaderValue::from_str(text).or_else(|_| HeaderValue::from_bytes(text.as_bytes()))
            }
            Some(other) => HeaderValue::from_str(&other.to_string()),
        };
        match value {
            Ok(value) => headers.push((header.clone(), value)),
            // A claim with control characters cannot be forwarded; leaving the header out could
            // read as "no such claim" upstream, so the request is refused instead.
            Err(_) => return refused(token, "unforwardable-claim", false, jwt::FINAL_STAGE),
        }
    }
    let issuer = claims
        .get("iss")
        .and_then(Value::as_str)
        .unwrap_or(scheme_name);
    let subject = match claims.get("sub") {
        Some(Value::String(sub)) => sub.clone(),
        Some(Value::Null) | None => {
            // No subject: the token itself identifies the caller, by a digest that reveals nothing.
            let digest = Sha256::digest(token.as_bytes());
            let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
            format!("token-{hex}")
        }
        Some(other) => other.to_string(),
    };
    Outcome::Valid(Grant {
        credential: format!("jwt:{}:{}", printable(issuer), printable(&subject)),
        subject: printable(&subject),
        headers,
        scopes: granted_scopes(&claims, &cfg.scopes_claim),
        permitted: true,
        presented: Some(Presented::Token(token)),
    })
}

/// Scopes from the scopes claim (a space-separated string or an array of strings); with the
/// default claim `scope`, also from `scp`, which several identity providers use instead.
fn granted_scopes(claims: &Map<String, Value>, claim: &str) -> Vec<String> {
    let mut scopes = Vec::new();
    let mut add = |value: Option<&Value>| match value {
        Some(Value::String(text)) => scopes.extend(text.split_whitespace().map(str::to_owned)),
        Some(Value::Array(items)) => {
            scopes.extend(items.iter().filter_map(Value::as_str).map(str::to_owned))
        }
        _ => {}
    };
    add(claims.get(claim));
    if claim == "scope" {
        add(claims.get("scp"));
    }
    scopes
}

/// The identity of a passing alternative: its schemes' credentials, subjects and headers together.
fn identity(grants: &[(&str, &Grant, &Vec<String>)]) -> Identity {
    let join = |part: fn(&Grant) -> &str, separator: &str| {
        grants
            .iter()
            .map(|(_, grant, _)| part(grant))
            .collect::<Vec<_>>()
            .join(separator)
    };
    Identity {
        credential: join(|g| &g.credential, "&"),
        subject: join(|g| &g.subject, ", "),
        headers: grants
            .iter()
            .flat_map(|(_, grant, _)| grant.headers.iter().cloned())
            .collect(),
    }
}

/// Control characters replaced, so that identities are safe to log and use as keys.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Text for inside a quoted-string: `"` and `\` escaped, control characters dropped.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().filter(|c| !c.is_control()) {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn header_name(name: &units::HeaderName) -> Result<HeaderName, String> {
    let header = HeaderName::from_bytes(name.as_str().as_bytes())
        .map_err(|_| format!("`{name}` is not a valid header name"))?;
    if RESERVED_FORWARD_HEADERS.contains(&header.as_str()) {
        return Err(format!(
            "`{name}` cannot receive forwarded values: it frames, routes or authenticates the request"
        ));
    }
    Ok(header)
}

impl Scheme {
    fn build(scheme: &SecurityScheme, secrets: &dyn SecretSource) -> Result<Scheme, String> {
        let (auth_scheme, challenge) = match &scheme.kind {
            SchemeKind::Http { scheme } if scheme == "mtls" => {
                ("MutualTLS".to_owned(), "MutualTLS".to_owned())
            }
            SchemeKind::Http { scheme } => {
                let mut name = scheme.clone();
                if let Some(first) = name.get_mut(..1) {
                    first.make_ascii_uppercase();
                }
                (name.clone(), name)
            }
            SchemeKind::Oauth2 | SchemeKind::OpenIdConnect { .. } => {
                ("Bearer".to_owned(), "Bearer".to_owned())
            }
            SchemeKind::ApiKey { location, name } => {
                let place = match location {
                    ApiKeyLocation::Header => "header",
                    ApiKeyLocation::Query => "query",
                    ApiKeyLocation::Cookie => "cookie",
                };
                (
                    "ApiKey".to_owned(),
                    format!("ApiKey name=\"{}\", in=\"{place}\"", quoted(name)),
                )
            }
            SchemeKind::MutualTls => ("MutualTLS".to_owned(), "MutualTLS".to_owned()),
        };
        let verifier = match &scheme.verify {
            None => Verifier::Refuse(None),
            Some(Verification::Jwt(cfg)) => Self::jwt(cfg, secrets)?,
            Some(Verification::ApiKey(settings)) => Self::api_key(&scheme.kind, settings, secrets)?,
            Some(Verification::Mtls(settings)) => Verifier::Mtls {
                subjects: SubjectMatcher::new(&settings.subjects)?,
                forward: settings
                    .forward
                    .get(&MtlsForward::Subject)
                    .map(header_name)
                    .transpose()?,
            },
        };
        Ok(Scheme {
            auth_scheme,
            challenge,
            verifier,
        })
    }

    /// Reads the accepted keys (`keys-env` or `keys-file`) and where the key is sent.
    fn api_key(
        kind: &SchemeKind,
        settings: &ApiKey,
        secrets: &dyn SecretSource,
    ) -> Result<Verifier, String> {
        let SchemeKind::ApiKey { location, name } = kind else {
            return Err("API key settings on a scheme that is not `apiKey`".into());
        };
        let text = match (&settings.keys_env, &settings.keys_file) {
            (Some(env), _) => match secrets.env(env) {
                Some(text) => text,
                None => {
                    return Ok(unavailable(format!(
                        "environment variable `{env}` (keys-env) is not set"
                    )));
                }
            },
            (None, Some(file)) => match secrets.file(file) {
                Ok(text) => text,
                Err(e) => return Ok(unavailable(format!("cannot read keys-file `{file}`: {e}"))),
            },
            (None, None) => return Err("no `keys-env` or `keys-file`".into()),
        };
        let keys = ApiKeys::parse(&text).map_err(|e| format!("API key list: {e}"))?;
        let place = match location {
            ApiKeyLocation::Header => KeyPlace::Header(
                HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| format!("`{name}` is not a valid header name"))?,
            ),
            ApiKeyLocation::Query => KeyPlace::Query(name.clone()),
            ApiKeyLocation::Cookie => KeyPlace::Cookie(name.clone()),
        };
        Ok(Verifier::ApiKey {
            place,
            keys,
            forward: settings
                .forward
                .get(&ApiKeyForward::Name)
                .map(header_name)
                .transpose()?,
        })
    }

    /// Key material in the plan (`jwks`) or given at start (`secret-env`, `jwks-file`) wins; else
    /// keys are fetched at run time (`jwks-uri`, discovery); else nothing can verify the scheme.
    fn jwt(cfg: &Jwt, secrets: &dyn SecretSource) -> Result<Verifier, String> {
        let keys = if let Some(jwks) = &cfg.jwks {
            Keys::Static(Arc::new(JwtKeys::from_jwks(jwks)?))
        } else if let Some(env) = &cfg.secret_env {
            let Some(secret) = secrets.env(env) else {
                return Ok(unavailable(format!(
                    "environment variable `{env}` (secret-env) is not set"
                )));
            };
            let keys = JwtKeys::from_hmac_secret(secret.as_bytes())
                .map_err(|e| format!("`{env}`: {e}"))?;
            if let Some(alg) = cfg
                .algorithms
                .iter()
                .find(|a| a.is_hmac() && !keys.supports(**a))
            {
                return Err(format!(
                    "the secret in `{env}` is too short for {alg:?} (HS384 needs 48 bytes, HS512 64)"
                ));
            }
            Keys::Static(Arc::new(keys))
        } else if let Some(file) = &cfg.jwks_file {
            let text = match secrets.file(file) {
                Ok(text) => text,
                Err(e) => return Ok(unavailable(format!("cannot read jwks-file `{file}`: {e}"))),
            };
            let jwks = parse_strict(text.as_bytes(), 16)
                .map_err(|e| format!("jwks-file `{file}` is not JSON: {e}"))?;
            Keys::Static(Arc::new(JwtKeys::from_jwks(&jwks)?))
        } else if cfg.jwks_uri.is_some() || cfg.discovery_url.is_some() {
            Keys::Remote(Arc::new(KeySlot::new(cfg.jwks_cache.get())))
        } else {
            return Ok(Verifier::Refuse(None));
        };
        let forward = cfg
            .forward
            .iter()
            .map(|(claim, header)| Ok((claim.clone(), header_name(header)?)))
            .collect::<Result<_, String>>()?;
        Ok(Verifier::Jwt {
            cfg: Box::new(cfg.clone()),
            keys,
            forward,
            verified: cache::VerifiedTokens::default(),
        })
    }
}

/// A scheme whose secret this process lacks: it refuses every request that needs it (fail closed),
/// and the sidecar says why at start.
fn unavailable(why: String) -> Verifier {
    Verifier::Refuse(Some(why))
}

/// The headers a scheme's settings forward to, whether or not the scheme can verify anything: a
/// header the upstream trusts must never come from the client.
fn forwarded_headers(scheme: &SecurityScheme) -> Result<Vec<HeaderName>, String> {
    let names: Vec<&units::HeaderName> = match &scheme.verify {
        None => Vec::new(),
        Some(Verification::Jwt(cfg)) => cfg.forward.values().collect(),
        Some(Verification::ApiKey(settings)) => settings.forward.values().collect(),
        Some(Verification::Mtls(settings)) => settings.forward.values().collect(),
    };
    names.into_iter().map(header_name).collect()
}

#[cfg(test)]
mod tests;
