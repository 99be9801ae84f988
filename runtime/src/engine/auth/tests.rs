//! Requirement evaluation: alternatives, schemes, scopes, presented-but-invalid credentials, 401 and 403.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr};

use serde_json::json;
use specgate_plan::scheme::{Algorithm, ApiKey, ApiKeyForward, Mtls, MtlsForward, TokenSource};

use super::testkeys::{self, TestKey};
use super::*;
use crate::engine::context::ClientCert;

const NOW: u64 = 1_700_000_000;
const ISS: &str = "https://idp.example.com/";
/// `printf %s demo-key-123 | sha256sum`
const DEMO_KEYS: &str = "demo:a52782e3a2d4dd2f95f640b9abfb3b2a6b8e722c65f55be830f6e5f619f7f873\n";

#[derive(Default)]
struct Secrets {
    env: HashMap<String, String>,
    files: HashMap<String, String>,
}

impl SecretSource for Secrets {
    fn env(&self, name: &str) -> Option<String> {
        self.env.get(name).cloned()
    }
    fn file(&self, path: &str) -> Result<String, String> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| "no such file".into())
    }
}

fn secrets() -> Secrets {
    Secrets {
        env: HashMap::from([
            ("API_KEYS".into(), DEMO_KEYS.into()),
            (
                "HMAC".into(),
                String::from_utf8(testkeys::HMAC_SECRET.to_vec()).unwrap(),
            ),
        ]),
        files: HashMap::from([(
            "keys/partners.txt".into(),
            format!("# partners\n{}", entry("partner", "partner-key-1")),
        )]),
    }
}

fn entry(name: &str, key: &str) -> String {
    let hex: String = Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{name}:{hex}\n")
}

fn jwt_cfg(issuer: &str, kid: &str, key: &TestKey) -> Jwt {
    Jwt {
        issuer: vec![issuer.into()],
        audiences: vec!["api".into()],
        jwks: Some(json!({"keys": [key.jwk(kid)]})),
        algorithms: vec![key.alg],
        forward: BTreeMap::from([
            ("sub".into(), "X-Auth-Subject".parse().unwrap()),
            ("scope".into(), "X-Auth-Scopes".parse().unwrap()),
            ("roles".into(), "X-Auth-Roles".parse().unwrap()),
        ]),
        ..Jwt::default()
    }
}

fn bearer_scheme(cfg: Jwt) -> SecurityScheme {
    SecurityScheme {
        kind: SchemeKind::Http {
            scheme: "bearer".into(),
        },
        verify: Some(Verification::Jwt(Box::new(cfg))),
    }
}

fn api_key_scheme(location: ApiKeyLocation, name: &str, settings: ApiKey) -> SecurityScheme {
    SecurityScheme {
        kind: SchemeKind::ApiKey {
            location,
            name: name.into(),
        },
        verify: Some(Verification::ApiKey(settings)),
    }
}

fn env_keys() -> ApiKey {
    ApiKey {
        keys_env: Some("API_KEYS".into()),
        forward: BTreeMap::from([(ApiKeyForward::Name, "X-Api-Key-Name".parse().unwrap())]),
        ..ApiKey::default()
    }
}

/// The schemes most tests use.
fn schemes() -> BTreeMap<String, SecurityScheme> {
    let mut oauth = jwt_cfg(ISS, "ec", testkeys::p256());
    oauth.token_sources = vec![
        TokenSource::Header,
        TokenSource::Query("access_token".into()),
    ];
    BTreeMap::from([
        ("oauth".into(), bearer_scheme(oauth)),
        (
            "internal".into(),
            bearer_scheme(Jwt {
                scopes_claim: "roles".into(),
                forward: BTreeMap::new(),
                ..jwt_cfg("https://internal.example.com/", "ed", testkeys::ed25519())
            }),
        ),
        (
            "apiKey".into(),
            api_key_scheme(ApiKeyLocation::Header, "X-API-Key", env_keys()),
        ),
        (
            "queryKey".into(),
            api_key_scheme(
                ApiKeyLocation::Query,
                "api_key",
                ApiKey {
                    keys_file: Some("keys/partners.txt".into()),
                    ..ApiKey::default()
                },
            ),
        ),
        (
            "cookieKey".into(),
            api_key_scheme(ApiKeyLocation::Cookie, "key", env_keys()),
        ),
        (
            "partnerCert".into(),
            SecurityScheme {
                kind: SchemeKind::MutualTls,
                verify: Some(Verification::Mtls(Mtls {
                    subjects: vec![
                        "CN=billing-service,O=Example".into(),
                        "reports.example.com".into(),
                    ],
                    forward: BTreeMap::from([(
                        MtlsForward::Subject,
                        "X-Client-Subject".parse().unwrap(),
                    )]),
                })),
            },
        ),
        (
            "basic".into(),
            SecurityScheme {
                kind: SchemeKind::Http {
                    scheme: "basic".into(),
                },
                verify: None,
            },
        ),
    ])
}

fn authenticator() -> Authenticator {
    Authenticator::new(&schemes(), &secrets()).unwrap()
}

/// Requirements written as `[("oauth", &["read"]), …]` per alternative.
fn req(alternatives: &[&[(&str, &[&str])]]) -> Vec<BTreeMap<String, Vec<String>>> {
    alternatives
        .iter()
        .map(|alt| {
            alt.iter()
                .map(|(name, scopes)| {
                    (
                        name.to_string(),
                        scopes.iter().map(|s| s.to_string()).collect(),
                    )
                })
                .collect()
        })
        .collect()
}

fn head(uri: &str, headers: &[(&str, &str)]) -> Parts {
    let mut builder = http::Request::builder().uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap().into_parts().0
}

fn conn(cert: Option<ClientCert>) -> Connection {
    Connection {
        client_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        tls: cert.is_some(),
        client_cert: cert.map(std::sync::Arc::new),
    }
}

fn billing_cert() -> ClientCert {
    ClientCert {
        subject: "CN=billing-service,O=Example".into(),
        dns_names: vec![],
    }
}

fn claims(scope: &str) -> Value {
    json!({"iss": ISS, "aud": "api", "sub": "alice", "exp": NOW + 300, "scope": scope})
}

fn oauth_token(claims: &Value) -> String {
    testkeys::p256().sign(&json!({"alg": "ES256", "kid": "ec"}), claims)
}

fn internal_token(roles: Value) -> String {
    testkeys::ed25519().sign(
        &json!({"alg": "EdDSA", "kid": "ed"}),
        &json!({"iss": "https://internal.example.com/", "aud": "api", "sub": "svc-batch", "exp": NOW + 300, "roles": roles}),
    )
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn run(
    auth: &Authenticator,
    requirements: &[BTreeMap<String, Vec<String>>],
    head: &Parts,
    conn: &Connection,
) -> Result<Option<Identity>, AuthFailure> {
    auth.authenticate(requirements, head, conn, NOW)
}

fn header<'i>(identity: &'i Identity, name: &str) -> Option<&'i str> {
    identity
        .headers
        .iter()
        .find(|(n, _)| n.as_str() == name)
        .and_then(|(_, v)| v.to_str().ok())
}

#[test]
fn public_operations_need_nothing_and_ignore_credentials() {
    let auth = authenticator();
    let garbage = head(
        "/",
        &[
            ("authorization", "Bearer not.a.token"),
            ("x-api-key", "wrong"),
        ],
    );
    assert_eq!(run(&auth, &[], &garbage, &conn(None)), Ok(None));
}

#[test]
fn a_valid_token_passes_with_its_identity_and_forwarded_claims() {
    let auth = authenticator();
    let mut c = claims("pets:read pets:write");
    c["roles"] = json!(["a", "b"]);
    let h = head("/", &[("authorization", &bearer(&oauth_token(&c)))]);
    let identity = run(
        &auth,
        &req(&[&[("oauth", &["pets:read"])]]),
        &h,
        &conn(None),
    )
    .unwrap()
    .unwrap();
    assert_eq!(identity.credential, format!("jwt:{ISS}:alice"));
    assert_eq!(identity.subject, "alice");
    assert_eq!(header(&identity, "x-auth-subject"), Some("alice"));
    assert_eq!(
        header(&identity, "x-auth-scopes"),
        Some("pets:read pets:write")
    );
    assert_eq!(header(&identity, "x-auth-roles"), Some(r#"["a","b"]"#));
}

#[test]
fn missing_credentials_are_401_with_challenges() {
    let auth = authenticator();
    let err = run(
        &auth,
        &req(&[&[("oauth", &[])], &[("apiKey", &[])]]),
        &head("/", &[]),
        &conn(None),
    )
    .unwrap_err();
    assert_eq!(err.status, StatusCode::UNAUTHORIZED);
    assert_eq!(err.reason, "missing-credential");
    assert_eq!(
        err.www_authenticate,
        r#"Bearer, ApiKey name="X-API-Key", in="header""#
    );
    assert_eq!(err.refresh_keys, None);
}

#[test]
fn alternatives_are_or() {
    let auth = authenticator();
    let requirements = req(&[&[("oauth", &["pets:read"])], &[("apiKey", &[])]]);
    let by_key = run(
        &auth,
        &requirements,
        &head("/", &[("x-api-key", "demo-key-123")]),
        &conn(None),
    )
    .unwrap()
    .unwrap();
    assert_eq!(by_key.credential, "apikey:demo");
    assert_eq!(header(&by_key, "x-api-key-name"), Some("demo"));
    let by_token = head(
        "/",
        &[("authorization", &bearer(&oauth_token(&claims("pets:read"))))],
    );
    let identity = run(&auth, &requirements, &by_token, &conn(None))
        .unwrap()
        .unwrap();
    assert_eq!(identity.subject, "alice");
}

#[test]
fn schemes_within_an_alternative_are_and() {
    let auth = authenticator();
    let requirements = req(&[&[("partnerCert", &[]), ("apiKey", &[])]]);
    let key_only = head("/", &[("x-api-key", "demo-key-123")]);
    let err = run(&auth, &requirements, &key_only, &conn(None)).unwrap_err();
    assert_eq!(
        (err.status, err.reason),
        (StatusCode::UNAUTHORIZED, "missing-credential")
    );
    let err = run(
        &auth,
        &requirements,
        &head("/", &[]),
        &conn(Some(billing_cert())),
    )
    .unwrap_err();
    assert_eq!(err.status, StatusCode::UNAUTHORIZED);
    let both = run(&auth, &requirements, &key_only, &conn(Some(billing_cert())))
        .unwrap()
        .unwrap();
    assert_eq!(
        both.credential,
        "apikey:demo&cert:CN=billing-service,O=Example"
    );
    assert_eq!(both.subject, "demo, CN=billing-service,O=Example");
    assert_eq!(
        header(&both, "x-client-subject"),
        Some("CN=billing-service,O=Example")
    );
    assert_eq!(header(&both, "x-api-key-name"), Some("demo"));
}

#[test]
fn every_listed_scope_is_required_and_lacking_ones_are_403() {
    let auth = authenticator();
    let requirements = req(&[&[("oauth", &["pets:read", "pets:write"])]]);
    let partial = head(
        "/",
        &[("authorization", &bearer(&oauth_token(&claims("pets:read"))))],
    );
    let err = run(&auth, &requirements, &partial, &conn(None)).unwrap_err();
    assert_eq!(err.status, StatusCode::FORBIDDEN);
    assert_eq!(err.reason, "insufficient-scope");
    assert_eq!(
        err.www_authenticate,
        r#"Bearer error="insufficient_scope", scope="pets:read pets:write""#
    );
    let full = head(
        "/",
        &[(
            "authorization",
            &bearer(&oauth_token(&claims("pets:write pets:read admin"))),
        )],
    );
    assert!(
        run(&auth, &requirements, &full, &conn(None))
            .unwrap()
            .is_some()
    );
}

#[test]
fn scopes_may_be_an_array_or_scp_and_roles_come_from_their_claim() {
    let auth = authenticator();
    let requirements = req(&[&[("oauth", &["a", "b"])]]);
    let mut array = claims("");
    array["scope"] = json!(["a", "b"]);
    let h = head("/", &[("authorization", &bearer(&oauth_token(&array)))]);
    assert!(
        run(&auth, &requirements, &h, &conn(None))
            .unwrap()
            .is_some()
    );
    let mut scp = claims("a");
    scp["scp"] = json!("b");
    let h = head("/", &[("authorization", &bearer(&oauth_token(&scp)))]);
    assert!(
        run(&auth, &requirements, &h, &conn(None))
            .unwrap()
            .is_some()
    );

    // `internal` reads roles from `roles` only: a `scope` claim grants nothing there.
    let roles = req(&[&[("internal", &["batch"])]]);
    let h = head(
        "/",
        &[("authorization", &bearer(&internal_token(json!(["batch"]))))],
    );
    assert!(run(&auth, &roles, &h, &conn(None)).unwrap().is_some());
    let h = head(
        "/",
        &[("authorization", &bearer(&internal_token(json!("other"))))],
    );
    assert_eq!(
        run(&auth, &roles, &h, &conn(None)).unwrap_err().status,
        StatusCode::FORBIDDEN
    );
}

#[test]
fn a_presented_invalid_token_refuses_even_when_an_api_key_passes() {
    let auth = authenticator();
    let requirements = req(&[&[("oauth", &[])], &[("apiKey", &[])]]);
    let mut expired = claims("");
    expired["exp"] = json!(NOW - 3600);
    let h = head(
        "/",
        &[
            ("authorization", &bearer(&oauth_token(&expired))),
            ("x-api-key", "demo-key-123"),
        ],
    );
    let err = run(&auth, &requirements, &h, &conn(None)).unwrap_err();
    assert_eq!(err.status, StatusCode::UNAUTHORIZED);
    assert_eq!(err.reason, "token-expired");
    assert_eq!(err.www_authenticate, r#"Bearer error="invalid_token""#);
}

#[test]
fn a_wrong_api_key_refuses_even_next_to_a_valid_token() {
    let auth = authenticator();
    let requirements = req(&[&[("oauth", &[])], &[("apiKey", &[])]]);
    let h = head(
        "/",
        &[
            ("authorization", &bearer(&oauth_token(&claims("")))),
            ("x-api-key", "guessed"),
        ],
    );
    let err = run(&auth, &requirements, &h, &conn(None)).unwrap_err();
    assert_eq!(
        (err.status, err.reason),
        (StatusCode::UNAUTHORIZED, "unknown-api-key")
    );
    assert_eq!(err.www_authenticate, r#"ApiKey error="invalid_key""#);
    assert!(!format!("{err:?}").contains("guessed"));
}

#[test]
fn a_token_for_one_of_two_bearer_schemes_is_not_invalid_for_the_other() {
    let auth = authenticator();
    let requirements = req(&[&[("oauth", &[])], &[("internal", &["batch"])]]);
    let internal = head(
        "/",
        &[("authorization", &bearer(&internal_token(json!(["batch"]))))],
    );
    let identity = run(&auth, &requirements, &internal, &conn(None))
        .unwrap()
        .unwrap();
    assert_eq!(
        identity.credential,
        "jwt:https://internal.example.com/:svc-batch"
    );
    // Accepted by neither: refused, whichever way each scheme failed.
    let stranger = testkeys::other_p256().sign(&json!({"alg": "ES256", "kid": "ec"}), &claims(""));
    let h = head("/", &[("authorization", &bearer(&stranger))]);
    let err = run(&auth, &requirements, &h, &conn(None)).unwrap_err();
    assert_eq!(err.status, StatusCode::UNAUTHORIZED);
    assert_eq!(err.reason, "bad-signature");
}

#[test]
fn an_anonymous_alternative_admits_without_credentials_but_not_with_bad_ones() {
    let auth = authenticator();
    let requirements = req(&[&[("oauth", &[])], &[]]);
    assert_eq!(
        run(&auth, &requirements, &head("/", &[]), &conn(None)),
        Ok(None)
    );
    let good = head(
        "/",
        &[("authorization", &bearer(&oauth_token(&claims(""))))],
    );
    assert!(
        run(&auth, &requirements, &good, &conn(None))
            .unwrap()
            .is_some()
    );
    let bad = head("/", &[("authorization", "Bearer a.b.c")]);
    assert_eq!(
        run(&auth, &requirements, &bad, &conn(None))
            .unwrap_err()
            .reason,
        "malformed-token"
    );
    // Not enough scopes on an optional-auth operation: still anonymous, not 403.
    let scoped = req(&[&[("oauth", &["admin"])], &[]]);
    assert_eq!(run(&auth, &scoped, &good, &conn(None)), Ok(None));
}

#[test]
fn two_tokens_are_refused() {
    let auth = authenticator();
    let requirements = req(&[&[("oauth", &[])]]);
    let first = oauth_token(&claims("a"));
    let second = oauth_token(&claims("b"));
    let h = head(
        &format!("/?access_token={second}"),
        &[("authorization", &bearer(&first))],
    );
    let err = run(&auth, &requirements, &h, &conn(None)).unwrap_err();
    assert_eq!(
        (err.status, err.reason),
        (StatusCode::UNAUTHORIZED, "multiple-tokens")
    );
    assert_eq!(err.www_authenticate, r#"Bearer error="invalid_request""#);
    // The same token in both places is one token.
    let h = head(
        &format!("/?access_token={first}"),
        &[("authorization", &bearer(&first))],
    );
    assert!(
        run(&auth, &requirements, &h, &conn(None))
            .unwrap()
            .is_some()
    );
}

#[test]
fn query_tokens_only_where_the_scheme_lists_them() {
    let auth = authenticator();
    let token = internal_token(json!([]));
    let h = head(&format!("/?access_token={token}"), &[]);
    let err = run(&auth, &req(&[&[("internal", &[])]]), &h, &conn(None)).unwrap_err();
    assert_eq!(err.reason, "missing-credential");
    let token = oauth_token(&claims(""));
    let h = head(&format!("/?access_token={token}"), &[]);
    assert!(
        run(&auth, &req(&[&[("oauth", &[])]]), &h, &conn(None))
            .unwrap()
            .is_some()
    );
}

#[test]
fn api_keys_in_each_location() {
    let auth = authenticator();
    let header_key = head("/", &[("X-Api-Key", "demo-key-123")]);
    assert!(
        run(&auth, &req(&[&[("apiKey", &[])]]), &header_key, &conn(None))
            .unwrap()
            .is_some()
    );
    let query_key = head("/?api_key=partner-key-1", &[]);
    let identity = run(
        &auth,
        &req(&[&[("queryKey", &[])]]),
        &query_key,
        &conn(None),
    )
    .unwrap()
    .unwrap();
    assert_eq!(identity.credential, "apikey:partner");
    let cookie_key = head("/", &[("cookie", "theme=dark; key=demo-key-123")]);
    assert!(
        run(
            &auth,
            &req(&[&[("cookieKey", &[])]]),
            &cookie_key,
            &conn(None)
        )
        .unwrap()
        .is_some()
    );
}

#[test]
fn an_api_key_in_another_place_than_declared_is_not_accepted() {
    let auth = authenticator();
    let requirements = req(&[&[("apiKey", &[])]]);
    for h in [
        head("/?X-API-Key=demo-key-123", &[]),
        head("/", &[("cookie", "X-API-Key=demo-key-123")]),
        head("/", &[("authorization", "Bearer demo-key-123")]),
    ] {
        let err = run(&auth, &requirements, &h, &conn(None)).unwrap_err();
        assert_eq!(
            (err.status, err.reason),
            (StatusCode::UNAUTHORIZED, "missing-credential")
        );
    }
}

#[test]
fn unknown_and_repeated_api_keys_are_refused() {
    let auth = authenticator();
    let requirements = req(&[&[("apiKey", &[])]]);
    let unknown = head("/", &[("x-api-key", "demo-key-124")]);
    assert_eq!(
        run(&auth, &requirements, &unknown, &conn(None))
            .unwrap_err()
            .reason,
        "unknown-api-key"
    );
    let twice = head(
        "/",
        &[("x-api-key", "demo-key-123"), ("x-api-key", "demo-key-123")],
    );
    let err = run(&auth, &requirements, &twice, &conn(None)).unwrap_err();
    assert_eq!(
        (err.status, err.reason),
        (StatusCode::UNAUTHORIZED, "multiple-api-keys")
    );
    let query_twice = head("/?api_key=partner-key-1&api_key=partner-key-1", &[]);
    let err = run(
        &auth,
        &req(&[&[("queryKey", &[])]]),
        &query_twice,
        &conn(None),
    )
    .unwrap_err();
    assert_eq!(err.reason, "multiple-api-keys");
}

#[test]
fn certificates_outside_the_subjects_are_403_and_no_certificate_is_401() {
    let auth = authenticator();
    let requirements = req(&[&[("partnerCert", &[])]]);
    let stranger = ClientCert {
        subject: "CN=intruder,O=Example".into(),
        dns_names: vec!["intruder.example.com".into()],
    };
    let err = run(&auth, &requirements, &head("/", &[]), &conn(Some(stranger))).unwrap_err();
    assert_eq!(
        (err.status, err.reason),
        (StatusCode::FORBIDDEN, "subject-not-allowed")
    );
    let err = run(&auth, &requirements, &head("/", &[]), &conn(None)).unwrap_err();
    assert_eq!(
        (err.status, err.reason),
        (StatusCode::UNAUTHORIZED, "missing-credential")
    );
    assert_eq!(err.www_authenticate, "MutualTLS");
    let by_san = ClientCert {
        subject: "CN=reports".into(),
        dns_names: vec!["Reports.Example.com".into()],
    };
    let identity = run(&auth, &requirements, &head("/", &[]), &conn(Some(by_san)))
        .unwrap()
        .unwrap();
    assert_eq!(identity.credential, "cert:CN=reports");
}

#[test]
fn a_non_matching_certificate_does_not_block_another_alternative() {
    let auth = authenticator();
    let requirements = req(&[&[("partnerCert", &[])], &[("apiKey", &[])]]);
    let stranger = ClientCert {
        subject: "CN=someone-else".into(),
        dns_names: vec![],
    };
    let h = head("/", &[("x-api-key", "demo-key-123")]);
    let identity = run(&auth, &requirements, &h, &conn(Some(stranger)))
        .unwrap()
        .unwrap();
    assert_eq!(identity.credential, "apikey:demo");
}

#[test]
fn unverifiable_schemes_refuse_but_other_alternatives_still_pass() {
    let auth = authenticator();
    let err = run(
        &auth,
        &req(&[&[("basic", &[])]]),
        &head("/", &[("authorization", "Basic dXNlcjpwYXNz")]),
        &conn(None),
    )
    .unwrap_err();
    assert_eq!(
        (err.status, err.reason),
        (StatusCode::UNAUTHORIZED, "unverifiable-scheme")
    );
    assert_eq!(err.www_authenticate, "Basic");
    let h = head("/", &[("x-api-key", "demo-key-123")]);
    assert!(
        run(
            &auth,
            &req(&[&[("basic", &[])], &[("apiKey", &[])]]),
            &h,
            &conn(None)
        )
        .unwrap()
        .is_some()
    );
    // A requirement naming an undeclared scheme cannot be met.
    let err = run(&auth, &req(&[&[("nowhere", &[])]]), &h, &conn(None)).unwrap_err();
    assert_eq!(err.status, StatusCode::UNAUTHORIZED);
}

#[test]
fn a_bearer_scheme_without_key_source_refuses_everyone() {
    let schemes = BTreeMap::from([(
        "bare".to_owned(),
        bearer_scheme(Jwt {
            forward: BTreeMap::from([("sub".into(), "X-Bare-Sub".parse().unwrap())]),
            ..Jwt::default()
        }),
    )]);
    let auth = Authenticator::new(&schemes, &secrets()).unwrap();
    let h = head(
        "/",
        &[("authorization", &bearer(&oauth_token(&claims(""))))],
    );
    let err = run(&auth, &req(&[&[("bare", &[])]]), &h, &conn(None)).unwrap_err();
    assert_eq!(
        (err.status, err.reason),
        (StatusCode::UNAUTHORIZED, "unverifiable-scheme")
    );
    // Its forward header is still stripped from every request.
    assert_eq!(
        auth.forwarded_header_names(),
        [HeaderName::from_static("x-bare-sub")]
    );
}

#[test]
fn hmac_schemes_read_their_secret_from_the_environment() {
    let cfg = Jwt {
        issuer: vec![ISS.into()],
        audiences: vec!["api".into()],
        secret_env: Some("HMAC".into()),
        algorithms: vec![Algorithm::HS256],
        ..Jwt::default()
    };
    let schemes = BTreeMap::from([("hmac".to_owned(), bearer_scheme(cfg.clone()))]);
    let auth = Authenticator::new(&schemes, &secrets()).unwrap();
    let token = testkeys::hmac().sign(&json!({"alg": "HS256"}), &claims(""));
    let h = head("/", &[("authorization", &bearer(&token))]);
    assert!(
        run(&auth, &req(&[&[("hmac", &[])]]), &h, &conn(None))
            .unwrap()
            .is_some()
    );

    // Without the secret the scheme refuses every token (fail closed) and says why at start.
    let without = Authenticator::new(&schemes, &Secrets::default()).unwrap();
    let warnings = without.warnings();
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].contains("`HMAC` (secret-env) is not set"),
        "{warnings:?}"
    );
    assert_eq!(
        run(&without, &req(&[&[("hmac", &[])]]), &h, &conn(None))
            .unwrap_err()
            .status,
        StatusCode::UNAUTHORIZED
    );
    let hs512 = BTreeMap::from([(
        "hmac".to_owned(),
        bearer_scheme(Jwt {
            algorithms: vec![Algorithm::HS512],
            ..cfg
        }),
    )]);
    let err = Authenticator::new(&hs512, &secrets()).unwrap_err();
    assert!(err.contains("too short for HS512"), "{err}");
    assert!(!err.contains("test-only-hmac"), "{err}");
}

#[test]
fn remote_keys_fail_closed_until_fetched_and_unknown_kids_ask_for_a_refresh() {
    let remote = Jwt {
        issuer: vec![ISS.into()],
        audiences: vec!["api".into()],
        jwks_uri: Some("https://idp.example.com/jwks.json".into()),
        algorithms: vec![Algorithm::ES256],
        ..Jwt::default()
    };
    let schemes = BTreeMap::from([("remote".to_owned(), bearer_scheme(remote))]);
    let auth = Authenticator::new(&schemes, &secrets()).unwrap();
    let slots = auth.remote_key_slots();
    assert_eq!(slots.len(), 1);
    let (name, cfg, slot) = &slots[0];
    assert_eq!(*name, "remote");
    assert_eq!(
        cfg.jwks_uri.as_deref(),
        Some("https://idp.example.com/jwks.json")
    );
    assert_eq!(slot.ttl(), Duration::from_secs(600));

    let requirements = req(&[&[("remote", &[])]]);
    let h = head(
        "/",
        &[("authorization", &bearer(&oauth_token(&claims(""))))],
    );
    let err = run(&auth, &requirements, &h, &conn(None)).unwrap_err();
    assert_eq!(err.reason, "keys-unavailable");
    assert_eq!(err.refresh_keys.as_deref(), Some("remote"));

    let fetched = UNIX_EPOCH + Duration::from_secs(NOW - 10);
    slot.install(
        JwtKeys::from_jwks(&json!({"keys": [testkeys::p256().jwk("old")]})).unwrap(),
        fetched,
    );
    let err = run(&auth, &requirements, &h, &conn(None)).unwrap_err();
    assert_eq!(err.reason, "unknown-key");
    assert_eq!(err.refresh_keys.as_deref(), Some("remote"));

    slot.install(
        JwtKeys::from_jwks(&json!({"keys": [testkeys::p256().jwk("ec")]})).unwrap(),
        fetched,
    );
    assert!(
        run(&auth, &requirements, &h, &conn(None))
            .unwrap()
            .is_some()
    );
    // Keys older than jwks-cache are no longer trusted.
    let stale = auth
        .authenticate(&requirements, &h, &conn(None), NOW + 600)
        .unwrap_err();
    assert_eq!(stale.reason, "keys-unavailable");
}

#[test]
fn static_key_schemes_never_ask_for_a_refresh() {
    let auth = authenticator();
    let token = testkeys::p256().sign(&json!({"alg": "ES256", "kid": "rotated"}), &claims(""));
    let h = head("/", &[("authorization", &bearer(&token))]);
    let err = run(&auth, &req(&[&[("oauth", &[])]]), &h, &conn(None)).unwrap_err();
    assert_eq!((err.reason, err.refresh_keys), ("unknown-key", None));
    assert!(auth.remote_key_slots().is_empty());
}

#[test]
fn forwarded_header_names_cover_every_scheme() {
    let auth = authenticator();
    let names: Vec<&str> = auth
        .forwarded_header_names()
        .iter()
        .map(|h| h.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "x-api-key-name",
            "x-auth-roles",
            "x-auth-scopes",
            "x-auth-subject",
            "x-client-subject"
        ]
    );
}

#[test]
fn forwarding_into_reserved_headers_is_refused() {
    for reserved in [
        "Host",
        "Content-Length",
        "Authorization",
        "Transfer-Encoding",
    ] {
        let cfg = Jwt {
            forward: BTreeMap::from([("sub".into(), reserved.parse().unwrap())]),
            ..jwt_cfg(ISS, "ec", testkeys::p256())
        };
        let schemes = BTreeMap::from([("s".to_owned(), bearer_scheme(cfg))]);
        let err = Authenticator::new(&schemes, &secrets()).unwrap_err();
        assert!(err.contains("cannot receive forwarded values"), "{err}");
    }
}

#[test]
fn claims_that_cannot_be_headers_refuse_the_request() {
    let auth = authenticator();
    let mut c = claims("");
    c["sub"] = json!("alice\r\nX-Admin: yes");
    let h = head("/", &[("authorization", &bearer(&oauth_token(&c)))]);
    let err = run(&auth, &req(&[&[("oauth", &[])]]), &h, &conn(None)).unwrap_err();
    assert_eq!(err.reason, "unforwardable-claim");
    // Non-ASCII text is forwarded as its UTF-8 bytes.
    c["sub"] = json!("José");
    let h = head("/", &[("authorization", &bearer(&oauth_token(&c)))]);
    let identity = run(&auth, &req(&[&[("oauth", &[])]]), &h, &conn(None))
        .unwrap()
        .unwrap();
    let value = identity
        .headers
        .iter()
        .find(|(n, _)| n == "x-auth-subject")
        .unwrap();
    assert_eq!(value.1.as_bytes(), "José".as_bytes());
}

#[test]
fn tokens_without_sub_get_a_digest_identity() {
    let auth = authenticator();
    let mut c = claims("");
    c.as_object_mut().unwrap().remove("sub");
    let token = oauth_token(&c);
    let h = head("/", &[("authorization", &bearer(&token))]);
    let identity = run(&auth, &req(&[&[("oauth", &[])]]), &h, &conn(None))
        .unwrap()
        .unwrap();
    assert!(
        identity
            .credential
            .starts_with(&format!("jwt:{ISS}:token-")),
        "{}",
        identity.credential
    );
    assert_eq!(
        identity.credential.len(),
        format!("jwt:{ISS}:token-").len() + 16
    );
    assert!(!identity.credential.contains(&token[..20]));
    assert!(header(&identity, "x-auth-subject").is_none());
}

#[test]
fn api_key_lists_are_read_at_start_and_errors_name_the_scheme() {
    let mut broken = secrets();
    broken
        .env
        .insert("API_KEYS".into(), "demo:not-hex\n".into());
    let err = Authenticator::new(&schemes(), &broken).unwrap_err();
    assert!(
        err.starts_with("security scheme `apiKey`: API key list: line 1"),
        "{err}"
    );
    let mut missing = secrets();
    missing.files.clear();
    let without = Authenticator::new(&schemes(), &missing).unwrap();
    let warnings = without.warnings();
    assert!(
        warnings.iter().any(|w| w
            .starts_with("security scheme `queryKey`: cannot read keys-file `keys/partners.txt`")),
        "{warnings:?}"
    );
}

#[test]
fn embedded_jwks_with_private_keys_are_refused() {
    let mut jwk = testkeys::p256().jwk("ec");
    jwk["d"] = json!("AAAA");
    let cfg = Jwt {
        jwks: Some(json!({"keys": [jwk]})),
        ..jwt_cfg(ISS, "ec", testkeys::p256())
    };
    let schemes = BTreeMap::from([("s".to_owned(), bearer_scheme(cfg))]);
    let err = Authenticator::new(&schemes, &secrets()).unwrap_err();
    assert!(err.contains("private key material"), "{err}");
}

#[test]
fn rs256_tokens_verify_through_the_authenticator() {
    let cfg = jwt_cfg(ISS, "rsa", testkeys::rsa());
    let schemes = BTreeMap::from([("rsa".to_owned(), bearer_scheme(cfg))]);
    let auth = Authenticator::new(&schemes, &secrets()).unwrap();
    let token = testkeys::rsa().sign(&json!({"alg": "RS256", "kid": "rsa"}), &claims(""));
    let h = head("/", &[("authorization", &bearer(&token))]);
    assert!(
        run(&auth, &req(&[&[("rsa", &[])]]), &h, &conn(None))
            .unwrap()
            .is_some()
    );
}
