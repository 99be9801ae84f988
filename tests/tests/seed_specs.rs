//! End-to-end tests of `specs/seed-kong.yaml` and `specs/seed-aws.yaml`, the seed's two gateways.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rcgen::DnType;
use serde_json::{Value, json};
use specgate_tests::pki::{Ca, TempDir, http1_client, send_tls_raw};
use specgate_tests::process::*;
use specgate_tests::redis::RedisServer;
use specgate_tests::repo_root;

const KONG: &str = "specs/seed-kong.yaml";
const AWS: &str = "specs/seed-aws.yaml";
/// The host of both specs' `servers`.
const HOST: &str = "api.example.com";
const KONG_ISSUER: &str = "https://auth.example.com/";
const COGNITO_POOL: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_xxxxx";
const USER: &str = "/api/v1/users/0f8fad5b-d9cb-469f-a165-70867728950e";
const NEW_USER: &[u8] = br#"{"name": "Ada Lovelace", "email": "ada@example.com"}"#;

fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures/seed").join(name)
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The end of a problem's `type` (`ip-denied`, `threat-sql-injection`, …).
fn problem(answer: &Answer) -> String {
    answer.json()["type"]
        .as_str()
        .and_then(|t| t.rsplit('/').next())
        .unwrap_or_default()
        .to_owned()
}

/// The access log so far, once the sidecar has had a moment to write it.
fn access_log(sidecar: &Sidecar) -> String {
    std::thread::sleep(Duration::from_millis(100));
    sidecar.stdout.lock().unwrap().join("\n")
}

/// Signs RS256 tokens with a test-only private key whose public half is in a JWK Set file.
struct Signer {
    key: EncodingKey,
    kid: String,
}

impl Signer {
    fn new(private_key: &str, jwks: PathBuf) -> Self {
        // The fixtures are PKCS#1 PEM: jsonwebtoken without its `use_pem` feature takes PKCS#1 DER.
        let pem = std::fs::read_to_string(fixture(private_key)).expect("test-only private key");
        let base64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(base64)
            .expect("PEM body");
        let jwks: Value =
            serde_json::from_str(&std::fs::read_to_string(&jwks).expect("JWK Set")).unwrap();
        Self {
            key: EncodingKey::from_rsa_der(&der),
            kid: jwks["keys"][0]["kid"].as_str().expect("kid").to_owned(),
        }
    }

    /// The key whose public half is the Kong spec's `jwks-file`.
    fn kong() -> Self {
        Self::new(
            "kong-test-only-private-key.pem",
            repo_root().join("specs/keys/seed-kong-jwks.json"),
        )
    }

    /// The key the fake Cognito user pool publishes.
    fn cognito() -> Self {
        Self::new(
            "cognito-test-only-private-key.pem",
            fixture("cognito-test-jwks.json"),
        )
    }

    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key).expect("signed")
    }
}

/// A token with `alg: none` and no signature.
fn unsigned(claims: &Value) -> String {
    let b64 = |text: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text);
    format!(
        "{}.{}.",
        b64(r#"{"alg":"none","typ":"JWT"}"#),
        b64(&claims.to_string())
    )
}

// ---------------------------------------------------------------------------------------------
// Kong: plain HTTP, tokens signed with the demo key of specs/keys/seed-kong-jwks.json.
// ---------------------------------------------------------------------------------------------

/// Claims of a valid token for the Kong spec: 15 minutes, `scope` as given.
fn kong_claims(subject: &str, scope: &str) -> Value {
    let now = now();
    json!({
        "iss": KONG_ISSUER, "aud": "user-service", "sub": subject,
        "iat": now, "exp": now + 900, "scope": scope,
    })
}

fn kong(sidecar: &Sidecar, method: &str, target: &str, headers: &[(&str, &str)]) -> Answer {
    send_to_host(&sidecar.address, HOST, method, target, headers, b"")
}

fn kong_with_body(
    sidecar: &Sidecar,
    method: &str,
    target: &str,
    token: &str,
    body: &[u8],
) -> Answer {
    let auth = bearer(token);
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    send_to_host(&sidecar.address, HOST, method, target, &headers, body)
}

#[test]
fn kong_tokens_come_from_the_header_or_the_jwt_parameter_and_bad_ones_are_refused() {
    let sidecar = start(KONG, "echo");
    let signer = Signer::kong();
    let good = signer.sign(&kong_claims("alice", ""));
    let with_token = |token: &str| {
        kong(
            &sidecar,
            "GET",
            "/api/v1/users",
            &[("Authorization", &bearer(token))],
        )
    };

    let ok = with_token(&good);
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(
        ok.json()["headers"]["x-consumer-username"],
        "alice",
        "the caller is forwarded as Kong's X-Consumer-Username"
    );
    // uri_param_names: [jwt]. The token parameter is a credential, not an unknown parameter; other
    // undeclared parameters still are.
    let query = kong(
        &sidecar,
        "GET",
        &format!("/api/v1/users?jwt={good}&limit=5"),
        &[],
    );
    assert_eq!(query.status, 200, "{}", query.body);
    assert_eq!(query.json()["headers"]["x-consumer-username"], "alice");
    let unknown = kong(
        &sidecar,
        "GET",
        &format!("/api/v1/users?jwt={good}&debug=1"),
        &[],
    );
    assert_eq!(unknown.status, 400);
    // Two different tokens in one request: refused, as Kong does.
    let other = signer.sign(&kong_claims("mallory", ""));
    let two = kong(
        &sidecar,
        "GET",
        &format!("/api/v1/users?jwt={good}"),
        &[("Authorization", &bearer(&other))],
    );
    assert_eq!(two.status, 401);

    let missing = kong(&sidecar, "GET", "/api/v1/users", &[]);
    assert_eq!(missing.status, 401);
    assert_eq!(missing.challenge(), Some("Bearer"));

    // exp with 30 s of leeway (Kong has none): 10 s late passes, 2 minutes late does not.
    let mut late = kong_claims("alice", "");
    late["exp"] = json!(now() - 10);
    assert_eq!(
        with_token(&signer.sign(&late)).status,
        200,
        "within the leeway"
    );
    let mut expired = kong_claims("alice", "");
    expired["exp"] = json!(now() - 120);
    let refused = with_token(&signer.sign(&expired));
    assert_eq!(refused.status, 401);
    assert!(
        refused
            .header("www-authenticate")
            .unwrap()
            .contains(r#"error="invalid_token""#)
    );

    // maximum_expiration: 3600: a token minted for two hours is refused, with or without iat.
    let mut long = kong_claims("alice", "");
    long["exp"] = json!(now() + 7200);
    assert_eq!(with_token(&signer.sign(&long)).status, 401);
    long.as_object_mut().unwrap().remove("iat");
    assert_eq!(with_token(&signer.sign(&long)).status, 401);

    // What Kong does not check: issuer and audience; and the claims the spec requires.
    let mut wrong_issuer = kong_claims("alice", "");
    wrong_issuer["iss"] = json!("https://evil.example.org/");
    assert_eq!(with_token(&signer.sign(&wrong_issuer)).status, 401);
    let mut wrong_audience = kong_claims("alice", "");
    wrong_audience["aud"] = json!("another-service");
    assert_eq!(with_token(&signer.sign(&wrong_audience)).status, 401);
    for claim in ["exp", "sub"] {
        let mut without = kong_claims("alice", "");
        without.as_object_mut().unwrap().remove(claim);
        assert_eq!(with_token(&signer.sign(&without)).status, 401, "no {claim}");
    }
    // Another key, no signature, a tampered payload.
    let stranger = Signer::cognito().sign(&kong_claims("alice", ""));
    assert_eq!(with_token(&stranger).status, 401);
    assert_eq!(with_token(&unsigned(&kong_claims("alice", ""))).status, 401);
    let (head, rest) = good.split_once('.').unwrap();
    let signature = rest.split_once('.').unwrap().1;
    let mut admin = kong_claims("alice", "admin");
    admin["exp"] = json!(now() + 600);
    let payload =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(admin.to_string().as_bytes());
    assert_eq!(
        with_token(&format!("{head}.{payload}.{signature}")).status,
        401
    );

    // The log says why, never with the token.
    let log = access_log(&sidecar);
    for detail in [
        "token-expired",
        "lifetime-too-long",
        "wrong-issuer",
        "wrong-audience",
        "missing-claim",
        "bad-signature",
    ] {
        assert!(
            log.contains(&format!(r#""detail":"{detail}""#)),
            "{detail}: {log}"
        );
    }
    assert!(!log.contains(&good), "a token reached the access log");
}

#[test]
fn kong_limits_count_60_a_minute_per_consumer_in_a_shared_redis() {
    // policy: redis, fault_tolerant: true: two replicas share one budget through Redis.
    let redis = RedisServer::start();
    let flags = ["--redis", &redis.url(), "--rate-limit-fallback", "open"];
    let first = start_with(KONG, "echo", &flags);
    let second = start_with(KONG, "echo", &flags);
    let signer = Signer::kong();
    let alice = bearer(&signer.sign(&kong_claims("alice", "")));
    let bob = bearer(&signer.sign(&kong_claims("bob", "")));
    let get = |sidecar: &Sidecar, auth: &str| {
        kong(sidecar, "GET", "/api/v1/users", &[("Authorization", auth)])
    };

    for n in 1..=60 {
        // Alternating replicas: one budget all the same.
        let replica = if n % 2 == 0 { &first } else { &second };
        let answer = get(replica, &alice);
        assert_eq!(answer.status, 200, "request {n}: {}", answer.body);
        // hide_client_headers: false.
        assert_eq!(
            answer.header("ratelimit-policy"),
            Some(r#""per-minute";q=60;w=60, "per-hour";q=1000;w=3600"#)
        );
        let state = answer.header("ratelimit").unwrap();
        assert!(
            state.starts_with(&format!(r#""per-minute";r={};"#, 60 - n))
                && state.contains(&format!(r#""per-hour";r={};"#, 1000 - n)),
            "request {n}: {state}"
        );
        assert_eq!(answer.header("x-ratelimit-limit"), Some("60"));
    }
    for replica in [&first, &second] {
        let refused = get(replica, &alice);
        assert_eq!(refused.status, 429);
        assert_eq!(problem(&refused), "rate-limited");
        // Limits over 16 count in 16 buckets: the wait may exceed the window by up to a 16th.
        let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=64).contains(&retry), "{retry}");
    }
    // limit_by: credential: another consumer has a budget of its own…
    let other = get(&first, &bob);
    assert_eq!(other.status, 200);
    assert!(
        other
            .header("ratelimit")
            .unwrap()
            .contains(r#""per-minute";r=59;"#)
    );
    // …and alice's refusals did not count against her hour.
    let after = get(&second, &bob);
    assert!(
        after
            .header("ratelimit")
            .unwrap()
            .contains(r#""per-hour";r=998;"#)
    );
}

#[test]
fn kong_admin_endpoints_answer_only_the_internal_networks() {
    // Behind a load balancer at 127.0.0.1 whose X-Forwarded-For is believed (Kong: trusted_ips).
    let sidecar = start_with(KONG, "echo", &["--trusted-proxy", "127.0.0.1/32"]);
    let signer = Signer::kong();
    let admin = bearer(&signer.sign(&kong_claims("root", "admin")));
    let user = bearer(&signer.sign(&kong_claims("alice", "users:read")));
    let audit = |from: Option<&str>, auth: Option<&str>| {
        let mut headers = Vec::new();
        if let Some(ip) = from {
            headers.push(("X-Forwarded-For", ip));
        }
        if let Some(auth) = auth {
            headers.push(("Authorization", auth));
        }
        kong(&sidecar, "GET", "/admin/audit-log", &headers)
    };

    for (client, status) in [
        ("10.20.30.40", 200),
        ("172.16.5.4", 200),
        ("172.31.255.254", 200),
        ("172.32.0.1", 403),   // just outside 172.16.0.0/12
        ("192.168.1.10", 403), // private, but not in the seed's allow list
        ("203.0.113.7", 403),
    ] {
        let answer = audit(Some(client), Some(&admin));
        assert_eq!(answer.status, status, "from {client}: {}", answer.body);
        if status == 403 {
            assert_eq!(problem(&answer), "ip-denied");
        }
    }
    // The proxy itself (no X-Forwarded-For) is not on the internal network either.
    assert_eq!(audit(None, Some(&admin)).status, 403);
    // The network is checked before any token: an outsider learns nothing about authentication.
    assert_eq!(problem(&audit(Some("203.0.113.7"), None)), "ip-denied");
    // Inside, a token is still needed, and it must carry the admin scope.
    assert_eq!(audit(Some("10.1.1.1"), None).status, 401);
    let scoped = audit(Some("10.1.1.1"), Some(&user));
    assert_eq!(scoped.status, 403);
    assert_eq!(problem(&scoped), "insufficient-scope");

    let revoke = "/admin/users/0f8fad5b-d9cb-469f-a165-70867728950e/sessions";
    let inside = [
        ("X-Forwarded-For", "10.9.8.7"),
        ("Authorization", admin.as_str()),
    ];
    assert_eq!(kong(&sidecar, "DELETE", revoke, &inside).status, 200);
    let outside = [
        ("X-Forwarded-For", "198.51.100.4"),
        ("Authorization", admin.as_str()),
    ];
    assert_eq!(kong(&sidecar, "DELETE", revoke, &outside).status, 403);
    // The users API has no IP rule.
    let public = [
        ("X-Forwarded-For", "203.0.113.7"),
        ("Authorization", user.as_str()),
    ];
    assert_eq!(kong(&sidecar, "GET", "/api/v1/users", &public).status, 200);
}

#[test]
fn kong_bodies_over_1_mib_and_off_the_step_3_schema_are_refused() {
    let sidecar = start(KONG, "echo");
    let token = Signer::kong().sign(&kong_claims("alice", ""));
    let post = |body: &[u8]| kong_with_body(&sidecar, "POST", "/api/v1/users", &token, body);

    let created = post(NEW_USER);
    assert_eq!(created.status, 200, "{}", created.body);
    // allowed_payload_size: 1 megabyte (1024-based): exactly 1 MiB passes…
    let mut full = NEW_USER.to_vec();
    full.resize(1024 * 1024, b' ');
    assert_eq!(post(&full).status, 200);
    // …one byte more is refused from Content-Length, before any of it is read.
    let head = format!(
        "POST /api/v1/users HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        1024 * 1024 + 1
    );
    let too_large = send_raw(&sidecar.address, head.as_bytes());
    assert_eq!(too_large.status, 413);

    // The oas-validation schema: required fields, the name pattern, email format and length,
    // additionalProperties: false against mass assignment; verbose_response: false.
    for (body, why) in [
        (r#"{"name": "Ada Lovelace"}"#, "no email"),
        (
            r#"{"name": "R2D2", "email": "r2@example.com"}"#,
            "digits in the name",
        ),
        (
            r#"{"name": "Ada", "email": "secret-not-an-email"}"#,
            "not an email",
        ),
        (
            r#"{"name": "Ada", "email": "ada@example.com", "role": "admin"}"#,
            "mass assignment",
        ),
        (
            r#"{"name": "Ada", "name": "Eve", "email": "ada@example.com"}"#,
            "duplicate key",
        ),
        (r#"{"name": "Ada", "email": "ada@example.com""#, "not JSON"),
    ] {
        let answer = post(body.as_bytes());
        assert_eq!(answer.status, 400, "{why}: {}", answer.body);
        assert!(
            !answer.body.contains("secret-not-an-email"),
            "values are never echoed"
        );
    }
    let long_email = format!(
        r#"{{"name": "Ada", "email": "{}@example.com"}}"#,
        "a".repeat(250)
    );
    assert_eq!(post(long_email.as_bytes()).status, 400, "maxLength 255");
    // PATCH: the same fields, none required, at least one.
    let patch = |body: &[u8]| kong_with_body(&sidecar, "PATCH", USER, &token, body);
    assert_eq!(patch(br#"{"name": "Ada King"}"#).status, 200);
    assert_eq!(patch(b"{}").status, 400);
    // Path parameters are validated too (validate_request_uri_params).
    let bad_id = kong_with_body(&sidecar, "PUT", "/api/v1/users/42", &token, NEW_USER);
    assert_eq!(bad_id.status, 400);

    // Kong's configuration has no WAF; the spec's free-text parameter is scanned all the same.
    let auth = bearer(&token);
    let search = |name: &str| {
        kong(
            &sidecar,
            "GET",
            &format!("/api/v1/users?name={name}"),
            &[("Authorization", &auth)],
        )
    };
    let injection = search("x%27%20OR%20%271%27%3D%271");
    assert_eq!(injection.status, 403);
    assert_eq!(problem(&injection), "threat-sql-injection");
    assert_eq!(search("O%27Brien").status, 200, "prose with a quote passes");
}

#[test]
fn kong_scanners_are_refused_cors_is_answered_and_responses_are_hardened() {
    let upstream = fixed_upstream(0);
    let sidecar = start(KONG, &format!("http://{}", upstream.address));
    let auth = bearer(&Signer::kong().sign(&kong_claims("alice", "")));

    // bot-detection: deny [sqlmap, nikto, nmap, masscan], plus the built-in scanner list.
    for agent in [
        "sqlmap/1.7.2#stable (https://sqlmap.org)",
        "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:Port Check)",
        "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
        "masscan/1.3 (https://github.com/robertdavidgraham/masscan)",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Nuclei",
    ] {
        let answer = kong(
            &sidecar,
            "GET",
            "/api/v1/users",
            &[("User-Agent", agent), ("Authorization", &auth)],
        );
        assert_eq!(answer.status, 403, "{agent}");
        assert_eq!(problem(&answer), "bot-denied");
    }
    let curl = kong(
        &sidecar,
        "GET",
        "/api/v1/users",
        &[("User-Agent", "curl/8.5.0"), ("Authorization", &auth)],
    );
    assert_eq!(curl.status, 200, "HTTP clients are not bots");

    // response-transformer: Server and X-Powered-By removed, the security headers added.
    assert_eq!(curl.header("server"), None);
    assert_eq!(curl.header("x-powered-by"), None);
    assert_eq!(curl.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(curl.header("x-frame-options"), Some("DENY"));
    assert_eq!(
        curl.header("content-security-policy"),
        Some("default-src 'none'; frame-ancestors 'none'")
    );
    assert_eq!(curl.header("cache-control"), Some("no-store"));
    assert_eq!(
        curl.header("strict-transport-security"),
        None,
        "only over TLS"
    );
    // On specgate's own refusals as well.
    let refusal = kong(&sidecar, "GET", "/api/v1/users", &[]);
    assert_eq!(refusal.status, 401);
    assert_eq!(refusal.header("x-frame-options"), Some("DENY"));

    // cors: the seed's origin, headers, credentials and max_age; each path's own methods.
    let preflight = |origin: &str, target: &str, method: &str| {
        kong(
            &sidecar,
            "OPTIONS",
            target,
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", method),
                (
                    "Access-Control-Request-Headers",
                    "authorization,content-type",
                ),
            ],
        )
    };
    let app = "https://app.example.com";
    let ok = preflight(app, "/api/v1/users", "POST");
    assert_eq!(ok.status, 204, "{}", ok.body);
    assert_eq!(ok.header("access-control-allow-origin"), Some(app));
    assert_eq!(ok.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(ok.header("access-control-max-age"), Some("3600"));
    let allowed = ok
        .header("access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        allowed.contains("authorization") && allowed.contains("content-type"),
        "{allowed}"
    );
    assert!(
        ok.header("server").is_none(),
        "a preflight never reaches the upstream"
    );
    assert_eq!(preflight(app, USER, "DELETE").status, 204);
    assert_eq!(
        preflight(app, "/api/v1/users", "DELETE").status,
        403,
        "DELETE is declared on items only"
    );
    let evil = preflight("https://evil.example.org", "/api/v1/users", "GET");
    assert_eq!(evil.status, 403);
    assert_eq!(evil.header("access-control-allow-origin"), None);
    // Actual requests from the app, refusals included, carry the CORS headers the browser needs.
    let actual = kong(
        &sidecar,
        "GET",
        "/api/v1/users",
        &[("Origin", app), ("Authorization", &auth)],
    );
    assert_eq!(actual.status, 200);
    assert_eq!(actual.header("access-control-allow-origin"), Some(app));
    let unauthorized = kong(&sidecar, "GET", "/api/v1/users", &[("Origin", app)]);
    assert_eq!(unauthorized.status, 401);
    assert_eq!(
        unauthorized.header("access-control-allow-origin"),
        Some(app)
    );
}

// ---------------------------------------------------------------------------------------------
// AWS: TLS with client certificates, a fake Cognito user pool on loopback.
// ---------------------------------------------------------------------------------------------

/// A Cognito user pool's discovery document and JWK Set, served over plain HTTP on loopback. The
/// discovery document names the real pool's issuer, which the spec pins.
fn fake_cognito() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    let jwks = std::fs::read_to_string(fixture("cognito-test-jwks.json")).expect("JWK Set");
    let discovery = json!({
        "issuer": COGNITO_POOL,
        "jwks_uri": format!("http://{address}/us-east-1_xxxxx/.well-known/jwks.json"),
    })
    .to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let (status, body) = if request_line.contains("/.well-known/openid-configuration ") {
                ("200 OK", discovery.as_str())
            } else if request_line.contains("/.well-known/jwks.json ") {
                ("200 OK", jwks.as_str())
            } else {
                ("404 Not Found", "{}")
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    address
}

/// One HTTP/1.1 request over TLS to `api.example.com` (SNI), with the `Host` given. A
/// `Content-Length` is added unless `headers` has one. `Err` when the handshake or exchange fails.
fn send_tls_to(
    address: &str,
    config: &Arc<rustls::ClientConfig>,
    host: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Answer, String> {
    let mut request =
        format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    let has_length = headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-length"));
    if !has_length && (!body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH")) {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    let mut raw = request.into_bytes();
    raw.extend_from_slice(body);
    send_tls_raw(address, config.clone(), HOST, &raw)
}

/// TLS 1.3 and 1.2, as the seed's API Gateway custom domain accepts.
const TLS_VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// The AWS spec running over TLS with the seed's CA as client CA, and what it takes to call it.
struct Aws {
    sidecar: Sidecar,
    ca: Ca,
    /// The seed's client certificate (`-subj "/CN=api-client/O=Example Corp"`).
    api_client: Arc<rustls::ClientConfig>,
    signer: Signer,
    _dir: TempDir,
}

/// Claims of a Cognito ID token of the app client: an hour, in these groups.
fn cognito_claims(subject: &str, groups: &[&str]) -> Value {
    let now = now();
    json!({
        "iss": COGNITO_POOL, "aud": "your-app-client-id", "sub": subject,
        "token_use": "id", "cognito:groups": groups, "email": format!("{subject}@example.com"),
        "iat": now, "exp": now + 3600,
    })
}

impl Aws {
    /// The spec as written, but for its discovery URL, which points at a fake user pool.
    fn start(extra: &[&str]) -> Self {
        let cognito = fake_cognito();
        let dir = TempDir::new("seed-aws");
        let text = std::fs::read_to_string(repo_root().join(AWS)).expect("the AWS spec");
        let real = format!("openIdConnectUrl: {COGNITO_POOL}/.well-known/openid-configuration");
        assert!(
            text.contains(&real),
            "the spec names the pool's discovery URL"
        );
        let local = text.replace(
            &real,
            &format!("openIdConnectUrl: http://{cognito}/us-east-1_xxxxx/.well-known/openid-configuration"),
        );
        let spec = dir.write("seed-aws.yaml", local);

        let ca = Ca::new("API Gateway CA");
        let server = ca.server_for(HOST, &[HOST]);
        let (cert, key) = dir.write_leaf("server", &server);
        let client_ca = dir.write("ca.crt", &ca.pem);
        let mut flags = vec![
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--client-ca",
            client_ca.to_str().unwrap(),
        ];
        flags.extend_from_slice(extra);
        let sidecar = start_with(spec.to_str().unwrap(), "echo", &flags);
        let identity = ca.client_with_subject(
            &[
                (DnType::CommonName, "api-client"),
                (DnType::OrganizationName, "Example Corp"),
            ],
            &[],
            false,
        );
        let aws = Self {
            api_client: http1_client(&ca, Some(&identity), TLS_VERSIONS),
            sidecar,
            ca,
            signer: Signer::cognito(),
            _dir: dir,
        };
        // The keys are fetched at start: wait for them (on an operation the tests do not count).
        let token = aws.signer.sign(&cognito_claims("warm-up", &[]));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let answer = aws.call(&aws.api_client, "GET", USER, &token, &[], b"");
            if answer.as_ref().is_ok_and(|a| a.status == 200) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the user pool's keys were never fetched: {answer:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        aws
    }

    /// A request to the custom domain with `token` (none when empty), over a new TLS connection.
    fn call(
        &self,
        client: &Arc<rustls::ClientConfig>,
        method: &str,
        target: &str,
        token: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Answer, String> {
        let auth = bearer(token);
        let mut all = headers.to_vec();
        if !token.is_empty() {
            all.push(("Authorization", &auth));
        }
        if !body.is_empty() {
            all.push(("Content-Type", "application/json"));
        }
        send_tls_to(
            &self.sidecar.address,
            client,
            HOST,
            method,
            target,
            &all,
            body,
        )
    }

    /// A request by the seed's api-client with `token`, which must be answered.
    fn send(&self, method: &str, target: &str, token: &str, body: &[u8]) -> Answer {
        self.call(&self.api_client, method, target, token, &[], body)
            .expect("answered")
    }
}

#[test]
fn aws_needs_a_cognito_id_token_and_the_api_client_certificate() {
    let aws = Aws::start(&[]);
    let token = aws.signer.sign(&cognito_claims("alice", &[]));

    let ok = aws.send("GET", "/api/v1/users", &token, b"");
    assert_eq!(ok.status, 200, "{}", ok.body);
    let forwarded = &ok.json()["headers"];
    assert_eq!(forwarded["x-auth-subject"], "alice");
    assert_eq!(
        forwarded["x-client-cert-subject"], "O=Example Corp,CN=api-client",
        "the seed's -subj order, printed as RFC 4514"
    );
    assert_eq!(forwarded["x-forwarded-proto"], "https");
    assert!(
        ok.header("strict-transport-security").is_some(),
        "HSTS over TLS"
    );

    // The same subject made in the usual order (/O=…/CN=…) is accepted too.
    let usual = aws.ca.client_with_subject(
        &[
            (DnType::OrganizationName, "Example Corp"),
            (DnType::CommonName, "api-client"),
        ],
        &[],
        false,
    );
    let usual = http1_client(&aws.ca, Some(&usual), TLS_VERSIONS);
    let answer = aws.call(&usual, "GET", "/api/v1/users", &token, &[], b"");
    assert_eq!(answer.expect("answered").status, 200);

    // Without a certificate the handshake succeeds, but no operation is served: 401.
    let anonymous = http1_client(&aws.ca, None, TLS_VERSIONS);
    let answer = aws.call(&anonymous, "GET", "/api/v1/users", &token, &[], b"");
    assert_eq!(answer.expect("answered").status, 401);
    // A certificate of the CA for another subject: 403.
    let intruder = aws.ca.client_with_subject(
        &[
            (DnType::CommonName, "intruder"),
            (DnType::OrganizationName, "Example Corp"),
        ],
        &[],
        false,
    );
    let intruder = http1_client(&aws.ca, Some(&intruder), TLS_VERSIONS);
    let answer = aws
        .call(&intruder, "GET", "/api/v1/users", &token, &[], b"")
        .expect("answered");
    assert_eq!(answer.status, 403, "{}", answer.body);
    // A certificate of another CA: the handshake fails.
    let other_ca = Ca::new("Another CA");
    let forged = other_ca.client_with_subject(
        &[
            (DnType::CommonName, "api-client"),
            (DnType::OrganizationName, "Example Corp"),
        ],
        &[],
        false,
    );
    let forged = http1_client(&aws.ca, Some(&forged), TLS_VERSIONS);
    assert!(
        aws.call(&forged, "GET", "/api/v1/users", &token, &[], b"")
            .is_err()
    );
    // The certificate alone is not enough either.
    assert_eq!(aws.send("GET", "/api/v1/users", "", b"").status, 401);

    // The authorizer's Issuer and Audience, and what the spec adds: ID tokens only, 1 h at most.
    let refused = |claims: &Value, why: &str| {
        let answer = aws.send("GET", "/api/v1/users", &aws.signer.sign(claims), b"");
        assert_eq!(answer.status, 401, "{why}: {}", answer.body);
    };
    let mut claims = cognito_claims("alice", &[]);
    claims["iss"] = json!("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other");
    refused(&claims, "another user pool");
    let mut claims = cognito_claims("alice", &[]);
    claims["aud"] = json!("another-app-client");
    refused(&claims, "another app client");
    let mut claims = cognito_claims("alice", &[]);
    claims["token_use"] = json!("access");
    refused(&claims, "an access token");
    let mut claims = cognito_claims("alice", &[]);
    claims["exp"] = json!(now() - 120);
    refused(&claims, "expired");
    let mut claims = cognito_claims("alice", &[]);
    claims["exp"] = json!(now() + 2 * 3600);
    refused(&claims, "minted for two hours");
    let stranger = Signer::kong().sign(&cognito_claims("alice", &[]));
    assert_eq!(aws.send("GET", "/api/v1/users", &stranger, b"").status, 401);

    // Groups from cognito:groups: all of those listed must be granted (AWS takes any one).
    let member = aws.signer.sign(&cognito_claims("bob", &["user-managers"]));
    let both = aws
        .signer
        .sign(&cognito_claims("carol", &["user-managers", "user-admins"]));
    assert_eq!(
        aws.send("POST", "/api/v1/users", &member, NEW_USER).status,
        200
    );
    let no_group = aws.send("POST", "/api/v1/users", &token, NEW_USER);
    assert_eq!(no_group.status, 403);
    assert_eq!(problem(&no_group), "insufficient-scope");
    assert_eq!(aws.send("DELETE", USER, &member, b"").status, 403);
    assert_eq!(aws.send("DELETE", USER, &both, b"").status, 200);
}

#[test]
fn aws_stage_throttle_admits_a_burst_of_100_then_50_a_second_per_route() {
    let aws = Arc::new(Aws::start(&[]));
    // Two callers share the route's budget (the stage throttles routes, not callers).
    let tokens = Arc::new([
        aws.signer.sign(&cognito_claims("alice", &[])),
        aws.signer.sign(&cognito_claims("bob", &[])),
    ]);
    let total = 400;
    let next = Arc::new(AtomicUsize::new(0));
    let began = Instant::now();
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let (aws, tokens, next) = (aws.clone(), tokens.clone(), next.clone());
            std::thread::spawn(move || {
                let mut answers = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= total {
                        return answers;
                    }
                    let answer = aws.send("GET", "/api/v1/users", &tokens[n % 2], b"");
                    answers.push((answer.status, answer.header("retry-after").is_some()));
                }
            })
        })
        .collect();
    let answers: Vec<(u16, bool)> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("load thread"))
        .collect();
    let elapsed = began.elapsed().as_secs_f64();
    let admitted = answers.iter().filter(|(s, _)| *s == 200).count();
    let throttled: Vec<_> = answers.iter().filter(|(s, _)| *s == 429).collect();
    assert_eq!(admitted + throttled.len(), total, "{answers:?}");
    // ThrottlingBurstLimit 100 at once; ThrottlingRateLimit 50 a second after that.
    assert!(admitted >= 100, "the burst: {admitted} admitted");
    let ceiling = 100 + (50.0 * elapsed).ceil() as usize + 1;
    assert!(
        admitted <= ceiling,
        "{admitted} admitted in {elapsed:.2}s, more than {ceiling}"
    );
    assert!(
        !throttled.is_empty(),
        "{total} requests in {elapsed:.2}s were all admitted"
    );
    assert!(
        throttled.iter().all(|(_, retry_after)| *retry_after),
        "every 429 says when to come back"
    );

    // Another route has a budget of its own.
    let token = &tokens[0];
    assert_eq!(aws.send("GET", USER, token, b"").status, 200);
    // Refilled at 50 a second: a quarter of a second later, requests pass again.
    std::thread::sleep(Duration::from_millis(250));
    assert_eq!(aws.send("GET", "/api/v1/users", token, b"").status, 200);
}

#[test]
fn aws_waf_rules_refuse_sql_injection_and_count_each_client_ip() {
    let aws = Aws::start(&["--trusted-proxy", "127.0.0.1/32"]);
    let token = aws.signer.sign(&cognito_claims("alice", &[]));
    let get = |target: &str, client: &str| {
        aws.call(
            &aws.api_client,
            "GET",
            target,
            &token,
            &[("X-Forwarded-For", client)],
            b"",
        )
        .expect("answered")
    };

    // AWSManagedRulesSQLiRuleSet: injections in a decoded parameter are refused with 403…
    for payload in [
        "x%27%20OR%20%271%27%3D%271",
        "1%20UNION%20SELECT%20password%20FROM%20users--",
        "a%27%3B%20DROP%20TABLE%20users%3B--",
    ] {
        let answer = get(&format!("/api/v1/users?name={payload}"), "198.51.100.9");
        assert_eq!(answer.status, 403, "{payload}");
        assert_eq!(problem(&answer), "threat-sql-injection");
    }
    // …and prose is not.
    assert_eq!(
        get("/api/v1/users?name=O%27Brien", "198.51.100.9").status,
        200
    );

    // RateBasedStatement {Limit: 2000, AggregateKeyType: IP}: one budget per client IP over five
    // minutes, across every route.
    let remaining = |answer: &Answer| {
        let state = answer.header("ratelimit").unwrap_or_default().to_owned();
        state
            .split(", ")
            .find_map(|item| item.strip_prefix(r#""waf-per-ip";r="#))
            .and_then(|rest| rest.split(';').next())
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or_else(|| panic!("no waf-per-ip state in {state:?}"))
    };
    let first = get(USER, "203.0.113.1");
    assert_eq!(first.status, 200);
    assert!(
        first
            .header("ratelimit-policy")
            .unwrap()
            .contains(r#""waf-per-ip";q=2000;w=300"#)
    );
    assert_eq!(remaining(&first), 1999);
    assert_eq!(remaining(&get("/api/v1/users", "203.0.113.1")), 1998);
    assert_eq!(remaining(&get(USER, "203.0.113.2")), 1999, "another IP");
    assert_eq!(remaining(&get(USER, "203.0.113.1")), 1997);
}

#[test]
fn aws_validates_the_step_3_schema_which_http_apis_cannot() {
    let aws = Aws::start(&[]);
    let token = aws.signer.sign(&cognito_claims("bob", &["user-managers"]));
    assert_eq!(
        aws.send("POST", "/api/v1/users", &token, NEW_USER).status,
        200
    );
    for body in [
        r#"{"name": "Ada", "email": "ada@example.com", "isAdmin": true}"#,
        r#"{"name": "Ada", "email": "not-an-email"}"#,
        r#"{"email": "ada@example.com"}"#,
        r#"{"name": "<script>", "email": "ada@example.com"}"#,
    ] {
        let answer = aws.send("POST", "/api/v1/users", &token, body.as_bytes());
        assert_eq!(answer.status, 400, "{body}: {}", answer.body);
    }
    // Larger than 64KiB: refused from Content-Length, before the body is read.
    let length = (64 * 1024 + 1).to_string();
    let answer = aws
        .call(
            &aws.api_client,
            "PUT",
            USER,
            &token,
            &[
                ("Content-Type", "application/json"),
                ("Content-Length", &length),
            ],
            b"",
        )
        .expect("answered");
    assert_eq!(answer.status, 413);
}

#[test]
fn aws_access_log_has_the_fields_of_the_stage_log_format() {
    let aws = Aws::start(&[]);
    let token = aws.signer.sign(&cognito_claims("alice", &[]));
    let answer = aws.send("GET", "/api/v1/users?limit=5", &token, b"");
    assert_eq!(answer.status, 200);
    let id = answer
        .header("x-request-id")
        .expect("a request id")
        .to_owned();
    let log = access_log(&aws.sidecar);
    let line: Value = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["request_id"] == id.as_str())
        .unwrap_or_else(|| panic!("no log line for {id}: {log}"));
    // requestId, ip, caller/user, requestTime, httpMethod, resourcePath, status, protocol,
    // responseLength.
    assert_eq!(line["client"], "127.0.0.1");
    // Who called: the client certificate's subject and the token's.
    assert_eq!(line["subject"], "O=Example Corp,CN=api-client, alice");
    assert!(line["time"].as_f64().is_some_and(|t| t > 1.0e9));
    assert_eq!(line["method"], "GET");
    assert_eq!(line["path"], "/api/v1/users");
    assert_eq!(line["operation"], "listUsers");
    assert_eq!(line["status"], 200);
    assert_eq!(line["protocol"], "HTTP/1.1");
    assert!(line["bytes_out"].as_u64().is_some_and(|n| n > 0));
    assert!(!log.contains(&token), "a token reached the access log");
}

/// `hosts: from-servers` (DisableExecuteApiEndpoint: the custom domain only).
#[test]
fn aws_answers_only_on_its_custom_domain() {
    let aws = Aws::start(&[]);
    let token = bearer(&aws.signer.sign(&cognito_claims("alice", &[])));
    let with_host = |host: &str| {
        send_tls_to(
            &aws.sidecar.address,
            &aws.api_client,
            host,
            "GET",
            "/api/v1/users",
            &[("Authorization", &token)],
            b"",
        )
        .expect("answered")
    };
    assert_eq!(with_host(HOST).status, 200);
    assert_eq!(
        with_host("API.Example.com").status,
        200,
        "hosts are case-insensitive"
    );
    for other in [
        "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
        "api.example.com.evil.org",
        "127.0.0.1",
    ] {
        let answer = with_host(other);
        assert_eq!(answer.status, 421, "Host: {other}: {}", answer.body);
    }
}
