//! JWT verification per request: header checks, signature, claims, for RS256 (2048-bit) and ES256.
//!
//! `cargo bench -p specgate-runtime --bench jwt`

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::EncodingKey;
use jsonwebtoken::crypto::CryptoProvider;
use serde_json::{Value, json};
use specgate_plan::scheme::{Algorithm, Jwt};
use std::collections::BTreeMap;

use specgate_plan::SecurityScheme;
use specgate_plan::scheme::{SchemeKind, Verification};
use specgate_runtime::engine::auth::{Authenticator, JwtKeys, verify};
use specgate_runtime::engine::{Connection, NoSecrets};

/// The TEST-ONLY RSA key of the auth tests (PKCS#1 PEM).
const RSA_PEM: &str = include_str!("../src/engine/auth/testdata/test-only-rsa.pem");
const NOW: u64 = 1_700_000_000;

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn sign(key: &EncodingKey, alg: jsonwebtoken::Algorithm, header: &Value, claims: &Value) -> String {
    let message = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).expect("signs");
    format!("{message}.{signature}")
}

fn claims() -> Value {
    json!({
        "iss": "https://idp.example.com/",
        "aud": ["api", "other"],
        "sub": "248289761001",
        "iat": NOW - 60,
        "exp": NOW + 3600,
        "scope": "pets:read pets:write",
        "email": "alice@example.com",
    })
}

fn cfg(alg: Algorithm) -> Jwt {
    Jwt {
        issuer: vec!["https://idp.example.com/".into()],
        audiences: vec!["api".into()],
        algorithms: vec![alg],
        ..Jwt::default()
    }
}

fn bench(c: &mut Criterion) {
    let body: String = RSA_PEM
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let rsa_der = STANDARD.decode(body).expect("PEM body");
    let provider = CryptoProvider::try_get_default().expect("rust_crypto provider");
    let (n, e) =
        (provider.key_utils.rsa_pub_components_from_private_key)(&rsa_der).expect("RSA key");
    let ec = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("P-256");
    let point = ec.public_key_raw();
    let jwks = json!({"keys": [
        {"kty": "RSA", "kid": "rsa", "n": b64(n), "e": b64(e)},
        {"kty": "EC", "kid": "ec", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65])},
    ]});
    let keys = JwtKeys::from_jwks(&jwks).expect("JWKS");

    let rs256 = sign(
        &EncodingKey::from_rsa_der(&rsa_der),
        jsonwebtoken::Algorithm::RS256,
        &json!({"alg": "RS256", "typ": "JWT", "kid": "rsa"}),
        &claims(),
    );
    let es256 = sign(
        &EncodingKey::from_ec_der(&ec.serialize_der()),
        jsonwebtoken::Algorithm::ES256,
        &json!({"alg": "ES256", "typ": "JWT", "kid": "ec"}),
        &claims(),
    );
    let (rs_cfg, es_cfg) = (cfg(Algorithm::RS256), cfg(Algorithm::ES256));
    assert!(verify(&rs256, &rs_cfg, &keys, NOW).is_ok());
    assert!(verify(&es256, &es_cfg, &keys, NOW).is_ok());

    let mut group = c.benchmark_group("jwt");
    group.bench_function("verify RS256", |b| {
        b.iter(|| verify(&rs256, &rs_cfg, &keys, NOW))
    });
    group.bench_function("verify ES256", |b| {
        b.iter(|| verify(&es256, &es_cfg, &keys, NOW))
    });
    let expired_now = NOW + 7200;
    group.bench_function("refuse ES256 (expired, after the signature)", |b| {
        b.iter(|| verify(&es256, &es_cfg, &keys, expired_now))
    });

    // The path of a request: a client reusing its token skips the signature check (claims are still
    // checked every time).
    let scheme = SecurityScheme {
        kind: SchemeKind::Http {
            scheme: "bearer".into(),
        },
        verify: Some(Verification::Jwt(Box::new(Jwt {
            jwks: Some(jwks),
            ..rs_cfg.clone()
        }))),
    };
    let authenticator =
        Authenticator::new(&BTreeMap::from([("idp".to_owned(), scheme)]), &NoSecrets)
            .expect("authenticator");
    let head = http::Request::builder()
        .header("authorization", format!("Bearer {rs256}"))
        .body(())
        .expect("request")
        .into_parts()
        .0;
    let requirements = vec![BTreeMap::from([("idp".to_owned(), Vec::new())])];
    let connection = Connection::plain(std::net::Ipv4Addr::LOCALHOST.into());
    group.bench_function("authenticate RS256, token seen before", |b| {
        b.iter(|| {
            authenticator
                .authenticate(&requirements, &head, &connection, NOW)
                .is_ok()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
