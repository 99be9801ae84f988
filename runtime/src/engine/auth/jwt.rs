//! JWT verification: a compact JWS checked against one scheme's pinned algorithms, keys and claim rules.
//!
//! The header is read here, strictly, before any key is touched; jsonwebtoken only checks the
//! signature with the key and algorithm chosen here. Claims are checked here too, in one place,
//! rather than through jsonwebtoken's `Validation` (whose defaults differ: `nbf` unchecked, leeway
//! 60 s, `exp` required always).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use specgate_plan::json::parse_strict;
use specgate_plan::scheme::Jwt;

use super::keys::{JwtKeys, Lookup, algorithm_named, jwt_algorithm};

/// Tokens longer than this are refused before any decoding. Access tokens are well under 2 KiB even
/// with many claims and an RSA-4096 signature, while decoding, strict parsing and trying keys cost
/// work that grows with the input; 8 KiB is also the usual limit of one request header line.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Nesting allowed in the header and the claims: real tokens nest two or three levels.
const MAX_JSON_DEPTH: u32 = 16;

/// Header parameters that carry key material or point to it. A token may not choose the key that
/// verifies it, so these are never used; tokens that carry them are refused outright (rather than
/// the parameter ignored) because no issuer of ours sends them: their presence is an attack or a
/// misconfigured issuer, and either should be seen in the logs as such.
const KEY_PARAMETERS: [&str; 4] = ["jwk", "jku", "x5u", "x5c"];

/// Why a token was refused. Never holds any part of the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtError {
    /// Longer than [`MAX_TOKEN_BYTES`].
    TooLarge,
    /// Not three base64url parts, a header or claims that are not a strict JSON object, a non-string
    /// `alg` or `kid`, or a time claim that is not a number.
    Malformed,
    /// `alg` is not one of the scheme's pinned algorithms (`none` never is).
    AlgorithmNotAllowed,
    /// The header has `crit`: no extension is understood, so the token must be refused (RFC 7515 §4.1.11).
    CriticalHeader,
    /// The header carries `jwk`, `jku`, `x5u` or `x5c`.
    EmbeddedKey,
    /// The `kid` is not in the key set; a fresher set may hold it.
    UnknownKid,
    /// No key of the set may verify the token's algorithm.
    NoKey,
    /// The signature does not verify with any fitting key.
    BadSignature,
    /// `exp` has passed (beyond the leeway).
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    IssuedInFuture,
    /// `exp - iat` (or `exp - now`) exceeds `max-lifetime`, or there is no `exp` to bound it.
    LifetimeTooLong,
    /// A required claim, or a claim with accepted values, is absent. Holds the configured claim name.
    MissingClaim(String),
    /// `iss` is not an accepted issuer.
    WrongIssuer,
    /// `aud` names none of the accepted audiences.
    WrongAudience,
    /// A claim has none of its accepted values. Holds the configured claim name.
    ClaimNotAccepted(String),
}

/// The rank of failures found once the credential is known to be genuine (see [`JwtError::stage`]).
pub(crate) const FINAL_STAGE: u8 = 4;

impl JwtError {
    /// How far verification got: 0 unreadable, 1 header refused, 2 no key, 3 bad signature,
    /// [`FINAL_STAGE`] genuine but refused claims. Among schemes that all refused one token, the
    /// furthest failure is the one worth reporting.
    pub(crate) fn stage(&self) -> u8 {
        match self {
            Self::TooLarge | Self::Malformed => 0,
            Self::AlgorithmNotAllowed | Self::CriticalHeader | Self::EmbeddedKey => 1,
            Self::UnknownKid | Self::NoKey => 2,
            Self::BadSignature => 3,
            _ => FINAL_STAGE,
        }
    }

    /// A short, stable name for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge => "token-too-large",
            Self::Malformed => "malformed-token",
            Self::AlgorithmNotAllowed => "algorithm-not-allowed",
            Self::CriticalHeader => "critical-header",
            Self::EmbeddedKey => "embedded-key",
            Self::UnknownKid => "unknown-key",
            Self::NoKey => "no-key-for-algorithm",
            Self::BadSignature => "bad-signature",
            Self::Expired => "token-expired",
            Self::NotYetValid => "token-not-yet-valid",
            Self::IssuedInFuture => "issued-in-future",
            Self::LifetimeTooLong => "lifetime-too-long",
            Self::MissingClaim(_) => "missing-claim",
            Self::WrongIssuer => "wrong-issuer",
            Self::WrongAudience => "wrong-audience",
            Self::ClaimNotAccepted(_) => "claim-not-accepted",
        }
    }
}

impl std::fmt::Display for JwtError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MissingClaim(name) => write!(f, "missing-claim `{name}`"),
            Self::ClaimNotAccepted(name) => write!(f, "claim-not-accepted `{name}`"),
            other => f.write_str(other.reason()),
        }
    }
}

impl std::error::Error for JwtError {}

/// Verifies a compact JWS against a scheme: header, signature, then claims. Returns the claims.
///
/// `now_unix_secs` is the current time; `exp`, `nbf` and `iat` are compared to it with the scheme's
/// leeway L: a token is accepted while `now < exp + L`, from `now >= nbf - L`, and while
/// `iat <= now + L`.
pub fn verify(
    token: &str,
    cfg: &Jwt,
    keys: &JwtKeys,
    now_unix_secs: u64,
) -> Result<Map<String, Value>, JwtError> {
    let claims = verify_signature(token, cfg, keys)?;
    check_claims(&claims, cfg, now_unix_secs)?;
    Ok(claims)
}

/// What [`verify`] checks that does not depend on the time: size, header, algorithm, key and
/// signature. Returns the claims, not yet checked.
pub fn verify_signature(
    token: &str,
    cfg: &Jwt,
    keys: &JwtKeys,
) -> Result<Map<String, Value>, JwtError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(JwtError::TooLarge);
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let header = json_object(header_b64)?;

    let alg = match header.get("alg") {
        Some(Value::String(name)) => algorithm_named(name)
            .filter(|alg| cfg.algorithms.contains(alg))
            .ok_or(JwtError::AlgorithmNotAllowed)?,
        _ => return Err(JwtError::Malformed),
    };
    if header.contains_key("crit") {
        return Err(JwtError::CriticalHeader);
    }
    if KEY_PARAMETERS.iter().any(|p| header.contains_key(*p)) {
        return Err(JwtError::EmbeddedKey);
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.as_str()),
        Some(_) => return Err(JwtError::Malformed),
    };

    let candidates = match keys.lookup(kid, alg) {
        Lookup::Keys(keys) => keys,
        Lookup::UnknownKid => return Err(JwtError::UnknownKid),
        Lookup::NoKeyForAlgorithm => return Err(JwtError::NoKey),
    };
    let message = &token[..header_b64.len() + 1 + payload_b64.len()];
    let algorithm = jwt_algorithm(alg);
    let verified = candidates.iter().any(|key| {
        jsonwebtoken::crypto::verify(signature_b64, message.as_bytes(), &key.decoding, algorithm)
            .unwrap_or(false)
    });
    if !verified {
        return Err(JwtError::BadSignature);
    }

    json_object(payload_b64)
}

/// One base64url part decoded and parsed as a strict JSON object (no repeated key at any level).
fn json_object(part: &str) -> Result<Map<String, Value>, JwtError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError::Malformed)?;
    match parse_strict(&bytes, MAX_JSON_DEPTH) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(JwtError::Malformed),
    }
}

/// A NumericDate claim (RFC 7519 §2: seconds, possibly fractional), if present.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<f64>, JwtError> {
    match claims.get(name) {
        None => Ok(None),
        Some(value) => value.as_f64().map(Some).ok_or(JwtError::Malformed),
    }
}

/// Every claim rule of the scheme, in one place. Times are compared as f64 seconds: exact for every
/// whole second up to 2^53, and fractional NumericDates are taken as they are.
pub fn check_claims(
    claims: &Map<String, Value>,
    cfg: &Jwt,
    now_unix_secs: u64,
) -> Result<(), JwtError> {
    for name in &cfg.required_claims {
        if claims.get(name).is_none_or(Value::is_null) {
            return Err(JwtError::MissingClaim(name.clone()));
        }
    }
    let now = now_unix_secs as f64;
    let leeway = cfg.leeway.get().as_secs_f64();
    let exp = numeric_date(claims, "exp")?;
    let nbf = numeric_date(claims, "nbf")?;
    let iat = numeric_date(claims, "iat")?;
    if exp.is_some_and(|exp| now >= exp + leeway) {
        return Err(JwtError::Expired);
    }
    if nbf.is_some_and(|nbf| now < nbf - leeway) {
        return Err(JwtError::NotYetValid);
    }
    if iat.is_some_and(|iat| iat > now + leeway) {
        return Err(JwtError::IssuedInFuture);
    }
    if let Some(max) = cfg.max_lifetime {
        let lifetime = exp.map(|exp| exp - iat.unwrap_or(now));
        if lifetime.is_none_or(|lifetime| lifetime > max.get().as_secs_f64()) {
            return Err(JwtError::LifetimeTooLong);
        }
    }
    if !cfg.issuer.is_empty() {
        let iss = claims.get("iss").and_then(Value::as_str);
        if !iss.is_some_and(|iss| cfg.issuer.iter().any(|accepted| accepted == iss)) {
            return Err(JwtError::WrongIssuer);
        }
    }
    if !cfg.audiences.is_empty() {
        let accepted = |aud: &Value| {
            aud.as_str()
                .is_some_and(|a| cfg.audiences.iter().any(|x| x == a))
        };
        let ok = match claims.get("aud") {
            Some(Value::Array(auds)) => auds.iter().any(accepted),
            Some(aud) => accepted(aud),
            None => false,
        };
        if !ok {
            return Err(JwtError::WrongAudience);
        }
    }
    for (name, values) in &cfg.claims {
        let ok = match claims.get(name) {
            None | Some(Value::Null) => return Err(JwtError::MissingClaim(name.clone())),
            Some(Value::Array(items)) => items.iter().any(|item| values.contains(item)),
            Some(value) => values.contains(value),
        };
        if !ok {
            return Err(JwtError::ClaimNotAccepted(name.clone()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;
    use specgate_plan::scheme::Algorithm;
    use specgate_plan::units::Duration;

    use super::*;
    use crate::engine::auth::testkeys::{self, TestKey, b64, pem_der, sign_with};

    const NOW: u64 = 1_700_000_000;
    const ISS: &str = "https://idp.example.com/";

    fn cfg(algorithms: &[Algorithm]) -> Jwt {
        Jwt {
            issuer: vec![ISS.into()],
            audiences: vec!["api".into()],
            algorithms: algorithms.to_vec(),
            leeway: Duration::from_secs(30),
            ..Jwt::default()
        }
    }

    fn claims() -> Value {
        json!({"iss": ISS, "aud": "api", "sub": "alice", "iat": NOW - 10, "exp": NOW + 300})
    }

    fn keyset() -> JwtKeys {
        JwtKeys::from_jwks(&json!({"keys": [
            testkeys::rsa().jwk("rsa"),
            testkeys::p256().jwk("ec"),
            testkeys::ed25519().jwk("ed"),
        ]}))
        .unwrap()
    }

    fn header(key: &TestKey, kid: &str) -> Value {
        json!({"alg": key.alg, "typ": "JWT", "kid": kid})
    }

    fn rs256() -> Jwt {
        cfg(&[Algorithm::RS256])
    }

    fn rsa_token(claims: &Value) -> String {
        testkeys::rsa().sign(&header(testkeys::rsa(), "rsa"), claims)
    }

    fn check(token: &str, cfg: &Jwt) -> Result<Map<String, Value>, JwtError> {
        verify(token, cfg, &keyset(), NOW)
    }

    fn with(claims: Value, f: impl FnOnce(&mut Map<String, Value>)) -> Value {
        let mut claims = claims;
        f(claims.as_object_mut().unwrap());
        claims
    }

    #[test]
    fn valid_rs256_es256_eddsa_and_hs256_are_accepted() {
        let all = cfg(&[Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA]);
        for (key, kid) in [
            (testkeys::rsa(), "rsa"),
            (testkeys::p256(), "ec"),
            (testkeys::ed25519(), "ed"),
        ] {
            let got = check(&key.sign(&header(key, kid), &claims()), &all).unwrap();
            assert_eq!(got["sub"], "alice", "{:?}", key.alg);
        }
        // Without kid, every key of the algorithm's family is tried.
        let token = testkeys::p256().sign(&json!({"alg": "ES256"}), &claims());
        assert!(check(&token, &all).is_ok());

        let hmac = JwtKeys::from_hmac_secret(testkeys::HMAC_SECRET).unwrap();
        let token = testkeys::hmac().sign(&json!({"alg": "HS256", "typ": "JWT"}), &claims());
        assert!(verify(&token, &cfg(&[Algorithm::HS256]), &hmac, NOW).is_ok());
    }

    #[test]
    fn every_algorithm_is_accepted_up_to_the_leeway_edges() {
        let hmac = JwtKeys::from_hmac_secret(testkeys::HMAC_SECRET).unwrap();
        let keys = keyset();
        for (key, kid, keys) in [
            (testkeys::rsa(), "rsa", &keys),
            (testkeys::p256(), "ec", &keys),
            (testkeys::ed25519(), "ed", &keys),
            (testkeys::hmac(), "hs", &hmac),
        ] {
            let cfg = cfg(&[key.alg]);
            let token = |exp: u64, nbf: u64| {
                key.sign(
                    &header(key, kid),
                    &json!({"iss": ISS, "aud": "api", "exp": exp, "nbf": nbf}),
                )
            };
            let ok = |t: &str| verify(t, &cfg, keys, NOW);
            assert!(ok(&token(NOW - 29, NOW + 30)).is_ok(), "{:?}", key.alg);
            assert_eq!(
                ok(&token(NOW - 30, NOW)),
                Err(JwtError::Expired),
                "{:?}",
                key.alg
            );
            assert_eq!(
                ok(&token(NOW + 60, NOW + 31)),
                Err(JwtError::NotYetValid),
                "{:?}",
                key.alg
            );
        }
    }

    #[test]
    fn alg_none_in_any_casing_is_rejected() {
        let keys = keyset();
        for none in ["none", "None", "NONE", "nOnE"] {
            let unsigned = format!(
                "{}.{}.",
                b64(json!({"alg": none}).to_string()),
                b64(claims().to_string())
            );
            assert_eq!(
                verify(&unsigned, &rs256(), &keys, NOW),
                Err(JwtError::AlgorithmNotAllowed)
            );
            let with_sig = format!("{unsigned}c2ln");
            assert_eq!(
                verify(&with_sig, &rs256(), &keys, NOW),
                Err(JwtError::AlgorithmNotAllowed)
            );
        }
    }

    #[test]
    fn alg_is_compared_exactly_and_only_pinned_ones_pass() {
        let token = testkeys::p256().sign(&header(testkeys::p256(), "ec"), &claims());
        assert_eq!(check(&token, &rs256()), Err(JwtError::AlgorithmNotAllowed));
        let lower = testkeys::rsa().sign(&json!({"alg": "rs256", "kid": "rsa"}), &claims());
        assert_eq!(check(&lower, &rs256()), Err(JwtError::AlgorithmNotAllowed));
        let numeric = testkeys::rsa().sign(&json!({"alg": 256, "kid": "rsa"}), &claims());
        assert_eq!(check(&numeric, &rs256()), Err(JwtError::Malformed));
    }

    #[test]
    fn rs256_to_hs256_confusion_with_the_public_key_as_secret_is_rejected() {
        let der = pem_der(testkeys::RSA_PUBLIC_PEM);
        for secret in [testkeys::RSA_PUBLIC_PEM.as_bytes(), &der] {
            let forged_key = jsonwebtoken::EncodingKey::from_secret(secret).unwrap();
            let forged = sign_with(
                &forged_key,
                Algorithm::HS256,
                &json!({"alg": "HS256", "kid": "rsa"}),
                &claims(),
            );
            // Pinned to RS256: the algorithm alone refuses it.
            assert_eq!(check(&forged, &rs256()), Err(JwtError::AlgorithmNotAllowed));
            // Even a scheme that (wrongly) pins HS256 next to RS256 never uses a public key as a secret.
            let both = cfg(&[Algorithm::RS256, Algorithm::HS256]);
            assert_eq!(check(&forged, &both), Err(JwtError::NoKey));
        }
    }

    #[test]
    fn embedded_jwk_is_rejected() {
        let attacker = testkeys::other_p256();
        let token = attacker.sign(
            &json!({"alg": "ES256", "jwk": attacker.jwk("ec")}),
            &claims(),
        );
        assert_eq!(
            check(&token, &cfg(&[Algorithm::ES256])),
            Err(JwtError::EmbeddedKey)
        );
        // Even with a kid of ours and a valid signature, the header may not carry a key.
        let ours = testkeys::p256();
        let token = ours.sign(
            &json!({"alg": "ES256", "kid": "ec", "jwk": ours.jwk("ec")}),
            &claims(),
        );
        assert_eq!(
            check(&token, &cfg(&[Algorithm::ES256])),
            Err(JwtError::EmbeddedKey)
        );
    }

    #[test]
    fn jku_x5u_and_x5c_are_rejected() {
        let key = testkeys::p256();
        for (name, value) in [
            ("jku", json!("https://attacker.example/jwks.json")),
            ("x5u", json!("https://attacker.example/cert.pem")),
            ("x5c", json!(["MIIB"])),
        ] {
            let mut h = header(key, "ec");
            h[name] = value;
            let token = key.sign(&h, &claims());
            assert_eq!(
                check(&token, &cfg(&[Algorithm::ES256])),
                Err(JwtError::EmbeddedKey),
                "{name}"
            );
        }
    }

    #[test]
    fn kid_traversal_and_injection_are_only_unknown_keys() {
        let key = testkeys::p256();
        for kid in [
            "../../dev/null",
            "/dev/null",
            "' OR 1=1 --",
            "ec\0",
            "ec' --",
            "%2e%2e%2f",
        ] {
            let token = key.sign(&header(key, kid), &claims());
            assert_eq!(
                check(&token, &cfg(&[Algorithm::ES256])),
                Err(JwtError::UnknownKid),
                "{kid:?}"
            );
        }
        let token = key.sign(&json!({"alg": "ES256", "kid": {"$ne": ""}}), &claims());
        assert_eq!(
            check(&token, &cfg(&[Algorithm::ES256])),
            Err(JwtError::Malformed)
        );
    }

    #[test]
    fn expired_is_rejected_and_leeway_edges_are_exact() {
        // Accepted while now < exp + leeway.
        let at = |exp: u64| {
            rsa_token(&with(claims(), |c| {
                c.insert("exp".into(), json!(exp));
                c.remove("iat");
            }))
        };
        assert_eq!(check(&at(NOW - 30), &rs256()), Err(JwtError::Expired));
        assert!(check(&at(NOW - 29), &rs256()).is_ok());
        assert_eq!(check(&at(NOW - 3600), &rs256()), Err(JwtError::Expired));
        let fractional = rsa_token(&with(claims(), |c| {
            c.insert("exp".into(), json!(NOW as f64 - 29.5));
        }));
        assert!(check(&fractional, &rs256()).is_ok());
    }

    #[test]
    fn not_yet_valid_is_rejected_and_leeway_edges_are_exact() {
        // Accepted from now >= nbf - leeway.
        let at = |nbf: u64| {
            rsa_token(&with(claims(), |c| {
                c.insert("nbf".into(), json!(nbf));
            }))
        };
        assert!(check(&at(NOW + 30), &rs256()).is_ok());
        assert_eq!(check(&at(NOW + 31), &rs256()), Err(JwtError::NotYetValid));
    }

    #[test]
    fn issued_in_the_future_is_rejected_beyond_leeway() {
        let at = |iat: u64| {
            rsa_token(&with(claims(), |c| {
                c.insert("iat".into(), json!(iat));
            }))
        };
        assert!(check(&at(NOW + 30), &rs256()).is_ok());
        assert_eq!(
            check(&at(NOW + 31), &rs256()),
            Err(JwtError::IssuedInFuture)
        );
    }

    #[test]
    fn missing_exp_is_rejected_unless_no_longer_required() {
        let token = rsa_token(&with(claims(), |c| {
            c.remove("exp");
        }));
        assert_eq!(
            check(&token, &rs256()),
            Err(JwtError::MissingClaim("exp".into()))
        );
        let lenient = Jwt {
            required_claims: vec![],
            ..rs256()
        };
        assert!(check(&token, &lenient).is_ok());
        // Still checked when present.
        let expired = rsa_token(&with(claims(), |c| {
            c.insert("exp".into(), json!(NOW - 100));
        }));
        assert_eq!(check(&expired, &lenient), Err(JwtError::Expired));
        let null_exp = rsa_token(&with(claims(), |c| {
            c.insert("exp".into(), Value::Null);
        }));
        assert_eq!(
            check(&null_exp, &rs256()),
            Err(JwtError::MissingClaim("exp".into()))
        );
        let text_exp = rsa_token(&with(claims(), |c| {
            c.insert("exp".into(), json!("tomorrow"));
        }));
        assert_eq!(check(&text_exp, &lenient), Err(JwtError::Malformed));
    }

    #[test]
    fn other_required_claims_must_be_present() {
        let strict = Jwt {
            required_claims: vec!["exp".into(), "jti".into()],
            ..rs256()
        };
        assert_eq!(
            check(&rsa_token(&claims()), &strict),
            Err(JwtError::MissingClaim("jti".into()))
        );
        let token = rsa_token(&with(claims(), |c| {
            c.insert("jti".into(), json!("1"));
        }));
        assert!(check(&token, &strict).is_ok());
    }

    #[test]
    fn lifetime_over_max_lifetime_is_rejected() {
        let capped = Jwt {
            max_lifetime: Some(Duration::from_secs(3600)),
            ..rs256()
        };
        let token = |iat: Option<u64>, exp: u64| {
            rsa_token(&with(claims(), |c| {
                c.remove("iat");
                if let Some(iat) = iat {
                    c.insert("iat".into(), json!(iat));
                }
                c.insert("exp".into(), json!(exp));
            }))
        };
        assert!(check(&token(Some(NOW), NOW + 3600), &capped).is_ok());
        assert_eq!(
            check(&token(Some(NOW), NOW + 3601), &capped),
            Err(JwtError::LifetimeTooLong)
        );
        // Without iat, the remaining lifetime counts.
        assert!(check(&token(None, NOW + 3600), &capped).is_ok());
        assert_eq!(
            check(&token(None, NOW + 3601), &capped),
            Err(JwtError::LifetimeTooLong)
        );
        // Without exp nothing bounds the lifetime.
        let no_exp = Jwt {
            required_claims: vec![],
            ..capped
        };
        let unbounded = rsa_token(&with(claims(), |c| {
            c.remove("exp");
        }));
        assert_eq!(check(&unbounded, &no_exp), Err(JwtError::LifetimeTooLong));
    }

    #[test]
    fn wrong_issuer_is_rejected() {
        for iss in [
            json!("https://evil.example.com/"),
            json!(["https://idp.example.com/"]),
            json!(null),
        ] {
            let token = rsa_token(&with(claims(), |c| {
                c.insert("iss".into(), iss.clone());
            }));
            assert_eq!(check(&token, &rs256()), Err(JwtError::WrongIssuer), "{iss}");
        }
        let no_iss = rsa_token(&with(claims(), |c| {
            c.remove("iss");
        }));
        assert_eq!(check(&no_iss, &rs256()), Err(JwtError::WrongIssuer));
        let several = Jwt {
            issuer: vec!["https://a.example/".into(), ISS.into()],
            ..rs256()
        };
        assert!(check(&rsa_token(&claims()), &several).is_ok());
        let any = Jwt {
            issuer: vec![],
            ..rs256()
        };
        assert!(check(&no_iss, &any).is_ok());
    }

    #[test]
    fn wrong_audience_is_rejected() {
        for aud in [json!("other"), json!(["other", "x"]), json!([]), json!(5)] {
            let token = rsa_token(&with(claims(), |c| {
                c.insert("aud".into(), aud.clone());
            }));
            assert_eq!(
                check(&token, &rs256()),
                Err(JwtError::WrongAudience),
                "{aud}"
            );
        }
        let in_list = rsa_token(&with(claims(), |c| {
            c.insert("aud".into(), json!(["other", "api"]));
        }));
        assert!(check(&in_list, &rs256()).is_ok());
        let no_aud = rsa_token(&with(claims(), |c| {
            c.remove("aud");
        }));
        assert_eq!(check(&no_aud, &rs256()), Err(JwtError::WrongAudience));
        let any = Jwt {
            audiences: vec![],
            ..rs256()
        };
        assert!(check(&no_aud, &any).is_ok());
    }

    #[test]
    fn claim_rules_need_one_accepted_value() {
        let ruled = Jwt {
            claims: BTreeMap::from([("role".to_owned(), vec![json!("admin"), json!("support")])]),
            ..rs256()
        };
        let with_role = |role: Value| {
            rsa_token(&with(claims(), |c| {
                c.insert("role".into(), role);
            }))
        };
        assert!(check(&with_role(json!("admin")), &ruled).is_ok());
        assert!(check(&with_role(json!(["user", "support"])), &ruled).is_ok());
        assert_eq!(
            check(&with_role(json!("user")), &ruled),
            Err(JwtError::ClaimNotAccepted("role".into()))
        );
        assert_eq!(
            check(&with_role(json!(["user"])), &ruled),
            Err(JwtError::ClaimNotAccepted("role".into()))
        );
        assert_eq!(
            check(&with_role(json!("Admin")), &ruled),
            Err(JwtError::ClaimNotAccepted("role".into()))
        );
        assert_eq!(
            check(&rsa_token(&claims()), &ruled),
            Err(JwtError::MissingClaim("role".into()))
        );
    }

    #[test]
    fn tampered_payload_is_rejected() {
        let token = rsa_token(&claims());
        let mut parts: Vec<&str> = token.split('.').collect();
        let admin = b64(with(claims(), |c| {
            c.insert("sub".into(), json!("admin"));
        })
        .to_string());
        parts[1] = &admin;
        assert_eq!(
            check(&parts.join("."), &rs256()),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn stripped_signature_is_rejected() {
        for (key, kid, alg) in [
            (testkeys::rsa(), "rsa", Algorithm::RS256),
            (testkeys::p256(), "ec", Algorithm::ES256),
            (testkeys::ed25519(), "ed", Algorithm::EdDSA),
        ] {
            let token = key.sign(&header(key, kid), &claims());
            let stripped = &token[..token.rfind('.').unwrap() + 1];
            assert_eq!(
                check(stripped, &cfg(&[alg])),
                Err(JwtError::BadSignature),
                "{alg:?}"
            );
            let no_dot = &token[..token.rfind('.').unwrap()];
            assert_eq!(
                check(no_dot, &cfg(&[alg])),
                Err(JwtError::Malformed),
                "{alg:?}"
            );
        }
    }

    #[test]
    fn ecdsa_all_zero_signature_is_rejected() {
        let key = testkeys::p256();
        let token = key.sign(&header(key, "ec"), &claims());
        let message = &token[..token.rfind('.').unwrap()];
        for zeros in [vec![0u8; 64], vec![0u8; 0], vec![0u8; 1]] {
            let psychic = format!("{message}.{}", b64(&zeros));
            assert_eq!(
                check(&psychic, &cfg(&[Algorithm::ES256])),
                Err(JwtError::BadSignature)
            );
        }
        // r = s = 0 in DER form too.
        let der_zeros = format!(
            "{message}.{}",
            b64([0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00])
        );
        assert_eq!(
            check(&der_zeros, &cfg(&[Algorithm::ES256])),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn signature_by_another_key_is_rejected() {
        let token = testkeys::other_p256().sign(&header(testkeys::p256(), "ec"), &claims());
        assert_eq!(
            check(&token, &cfg(&[Algorithm::ES256])),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn unknown_crit_is_rejected() {
        let key = testkeys::p256();
        for crit in [json!(["exp"]), json!(["b64"]), json!([]), json!("x")] {
            let token = key.sign(
                &json!({"alg": "ES256", "kid": "ec", "crit": crit, "exp": 1}),
                &claims(),
            );
            assert_eq!(
                check(&token, &cfg(&[Algorithm::ES256])),
                Err(JwtError::CriticalHeader)
            );
        }
    }

    #[test]
    fn duplicate_keys_in_header_or_claims_are_rejected() {
        let key = testkeys::rsa();
        let header_json = r#"{"alg":"HS256","alg":"RS256","kid":"rsa"}"#;
        let claims_json = claims().to_string();
        let message = format!("{}.{}", b64(header_json), b64(&claims_json));
        let sig = jsonwebtoken::crypto::sign(
            message.as_bytes(),
            &key.encoding,
            jsonwebtoken::Algorithm::RS256,
        )
        .unwrap();
        assert_eq!(
            check(&format!("{message}.{sig}"), &rs256()),
            Err(JwtError::Malformed)
        );

        let dup_claims = format!(r#"{{"sub":"alice","sub":"admin","exp":{}}}"#, NOW + 60);
        let message = format!(
            "{}.{}",
            b64(json!({"alg": "RS256", "kid": "rsa"}).to_string()),
            b64(dup_claims)
        );
        let sig = jsonwebtoken::crypto::sign(
            message.as_bytes(),
            &key.encoding,
            jsonwebtoken::Algorithm::RS256,
        )
        .unwrap();
        let any = Jwt {
            issuer: vec![],
            audiences: vec![],
            ..rs256()
        };
        assert_eq!(
            check(&format!("{message}.{sig}"), &any),
            Err(JwtError::Malformed)
        );
    }

    #[test]
    fn oversized_token_is_rejected() {
        let big = with(claims(), |c| {
            c.insert("pad".into(), json!("x".repeat(MAX_TOKEN_BYTES)));
        });
        assert_eq!(check(&rsa_token(&big), &rs256()), Err(JwtError::TooLarge));
        let just_under = with(claims(), |c| {
            c.insert("pad".into(), json!("x".repeat(4000)));
        });
        let token = rsa_token(&just_under);
        assert!(token.len() <= MAX_TOKEN_BYTES);
        assert!(check(&token, &rs256()).is_ok());
    }

    #[test]
    fn malformed_structures_are_rejected() {
        let token = rsa_token(&claims());
        let parts: Vec<&str> = token.split('.').collect();
        let cases = [
            String::new(),
            "a.b".into(),
            format!("{token}.extra"),
            format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
            format!("{}.{}.{}", b64("[1]"), parts[1], parts[2]),
            format!("{}.{}.{}", b64("{\"alg\":\"RS256\""), parts[1], parts[2]),
        ];
        for case in cases {
            assert_eq!(check(&case, &rs256()), Err(JwtError::Malformed), "{case}");
        }
        // Claims that are not an object, signed properly.
        let array = format!("{}.{}", parts[0], b64("[]"));
        let sig = jsonwebtoken::crypto::sign(
            array.as_bytes(),
            &testkeys::rsa().encoding,
            jsonwebtoken::Algorithm::RS256,
        )
        .unwrap();
        assert_eq!(
            check(&format!("{array}.{sig}"), &rs256()),
            Err(JwtError::Malformed)
        );
    }

    #[test]
    fn errors_never_show_the_token() {
        let token = rsa_token(&with(claims(), |c| {
            c.insert("exp".into(), json!(1));
        }));
        let err = check(&token, &rs256()).unwrap_err();
        assert_eq!(err.to_string(), "token-expired");
        assert!(!format!("{err:?}").contains(&token[..10]));
    }
}
