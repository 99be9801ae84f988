//! Authentication through a running sidecar: JWTs verified with keys fetched from a real JWKS server
//! on loopback (rotation, removal, the IdP going down), and API keys from the example spec.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use specgate_tests::pki::TempDir;
use specgate_tests::process::*;

/// An ES256 signing key and its public JWK.
struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    jwk: Value,
}

impl SigningKey {
    fn new(kid: &str) -> Self {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("P-256 key");
        let point = pair.public_key_raw();
        assert_eq!(point.len(), 65, "an uncompressed P-256 point");
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        Self {
            kid: kid.to_owned(),
            encoding: EncodingKey::from_ec_der(&pair.serialize_der()),
            jwk: json!({
                "kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
                "x": b64(&point[1..33]), "y": b64(&point[33..]),
            }),
        }
    }

    fn token(&self, subject: &str, lifetime: i64) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        let claims = json!({
            "iss": "https://idp.test/", "aud": "orders-api", "sub": subject,
            "iat": now, "exp": now + lifetime, "scope": "orders:read",
        });
        jsonwebtoken::encode(&header, &claims, &self.encoding).expect("signed")
    }
}

/// A JWKS endpoint on loopback whose key set the test changes, and which can go down.
struct Idp {
    address: String,
    keys: Arc<Mutex<Vec<Value>>>,
    up: Arc<AtomicBool>,
    fetches: Arc<Mutex<u32>>,
}

impl Idp {
    fn start(keys: Vec<Value>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().unwrap().to_string();
        let keys = Arc::new(Mutex::new(keys));
        let up = Arc::new(AtomicBool::new(true));
        let fetches = Arc::new(Mutex::new(0));
        let (served, alive, counted) = (keys.clone(), up.clone(), fetches.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                if !alive.load(Ordering::SeqCst) {
                    // Down: the connection is dropped without an answer.
                    continue;
                }
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                let _ = reader.read_line(&mut request_line);
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                *counted.lock().unwrap() += 1;
                let here = stream.local_addr().unwrap();
                let body = if request_line.contains("/.well-known/openid-configuration") {
                    json!({
                        "issuer": "https://idp.test/",
                        "jwks_uri": format!("http://{here}/jwks.json"),
                    })
                    .to_string()
                } else {
                    json!({"keys": *served.lock().unwrap()}).to_string()
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Self {
            address,
            keys,
            up,
            fetches,
        }
    }
}

fn spec(dir: &TempDir, idp: &Idp, cache: &str) -> String {
    let text = format!(
        r#"openapi: 3.1.0
info: {{title: Orders (JWT tests), version: "1"}}
security: [{{idp: [orders:read]}}]
components:
  securitySchemes:
    idp:
      type: http
      scheme: bearer
      x-security:
        issuer: https://idp.test/
        audiences: [orders-api]
        jwks-uri: http://{address}/jwks.json
        jwks-cache: {cache}
        algorithms: [ES256]
        token-sources: [header, "query:access_token"]
        forward: {{sub: X-Auth-Subject}}
paths:
  /orders:
    get:
      operationId: listOrders
      responses: {{"200": {{description: ok}}}}
"#,
        address = idp.address
    );
    dir.write("orders.yaml", text).display().to_string()
}

fn get(sidecar: &Sidecar, token: &str) -> Answer {
    send(
        sidecar,
        "GET",
        "/orders",
        &[("Authorization", &format!("Bearer {token}"))],
        b"",
    )
}

#[test]
fn keys_are_fetched_rotated_removed_and_outlive_an_idp_outage_for_their_cache_life() {
    let first = SigningKey::new("k1");
    let second = SigningKey::new("k2");
    let idp = Idp::start(vec![first.jwk.clone()]);
    let dir = TempDir::new("jwt");
    let sidecar = start(&spec(&dir, &idp, "4s"), "echo");

    let ok = get(&sidecar, &first.token("alice", 300));
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.json()["headers"]["x-auth-subject"], "alice");
    // A token in the query, where the scheme allows it: a credential, not an unknown parameter.
    let in_query = format!("/orders?access_token={}", first.token("carol", 300));
    let answer = send(&sidecar, "GET", &in_query, &[], b"");
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["headers"]["x-auth-subject"], "carol");
    let unknown = format!("{in_query}&debug=1");
    assert_eq!(send(&sidecar, "GET", &unknown, &[], b"").status, 400);
    // The same token twice (header and query) is fine; two different tokens are not.
    let two = send(
        &sidecar,
        "GET",
        &in_query,
        &[(
            "Authorization",
            &format!("Bearer {}", first.token("dave", 300)),
        )],
        b"",
    );
    assert_eq!(two.status, 401);
    let missing = send(&sidecar, "GET", "/orders", &[], b"");
    assert_eq!(missing.status, 401);
    assert_eq!(missing.challenge(), Some("Bearer"));
    let expired = get(&sidecar, &first.token("alice", -120));
    assert_eq!(expired.status, 401);
    assert!(
        expired
            .header("www-authenticate")
            .unwrap()
            .contains(r#"error="invalid_token""#)
    );

    // Rotation: a token signed with a new key is accepted as soon as the IdP publishes it (the unknown
    // `kid` makes the sidecar fetch again instead of waiting for the next refresh).
    idp.keys.lock().unwrap().push(second.jwk.clone());
    let deadline = Instant::now() + Duration::from_secs(12);
    while get(&sidecar, &second.token("bob", 300)).status != 200 {
        assert!(Instant::now() < deadline, "the new key was never picked up");
        std::thread::sleep(Duration::from_millis(200));
    }

    // Removal: once the IdP drops the old key, tokens signed with it stop working.
    *idp.keys.lock().unwrap() = vec![second.jwk.clone()];
    let deadline = Instant::now() + Duration::from_secs(12);
    while get(&sidecar, &first.token("alice", 300)).status != 401 {
        assert!(Instant::now() < deadline, "the removed key kept working");
        std::thread::sleep(Duration::from_millis(200));
    }

    // The IdP goes down: the keys last fetched keep working for their cache life, then no longer (fail
    // closed rather than trusting keys that may have been revoked).
    let before = *idp.fetches.lock().unwrap();
    idp.up.store(false, Ordering::SeqCst);
    assert_eq!(get(&sidecar, &second.token("bob", 300)).status, 200);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        get(&sidecar, &second.token("bob", 300)).status,
        200,
        "still inside the cache life while the IdP is down"
    );
    assert_eq!(
        *idp.fetches.lock().unwrap(),
        before,
        "nothing was served meanwhile"
    );
    let deadline = Instant::now() + Duration::from_secs(12);
    while get(&sidecar, &second.token("bob", 300)).status != 401 {
        assert!(
            Instant::now() < deadline,
            "keys were trusted past their cache life"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // And when it is back, tokens work again.
    idp.up.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(12);
    while get(&sidecar, &second.token("bob", 300)).status != 200 {
        assert!(
            Instant::now() < deadline,
            "no recovery after the IdP came back"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn api_keys_from_the_example_spec_are_checked_where_the_scheme_says() {
    let sidecar = start("specs/petstore-3.0.yaml", "echo");
    let with = |headers: &[(&str, &str)]| send(&sidecar, "GET", "/v1/pets/1", headers, b"");
    let ok = with(&[("X-API-Key", "demo-key-123")]);
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.json()["headers"]["x-auth-key-name"], "demo");
    assert!(
        ok.json()["headers"].get("x-api-key").is_some(),
        "the credential itself is forwarded unless request-headers removes it"
    );
    assert_eq!(with(&[]).status, 401);
    assert_eq!(with(&[("X-API-Key", "guess")]).status, 401);
    // In the wrong place: the scheme declares a header, a query parameter is not read.
    let misplaced = send(
        &sidecar,
        "GET",
        "/v1/pets/1?X-API-Key=demo-key-123",
        &[],
        b"",
    );
    assert_eq!(misplaced.status, 401);
    // Two copies of the header: refused, whichever one is right.
    assert_eq!(
        with(&[
            ("X-API-Key", "demo-key-123"),
            ("X-API-Key", "partner-key-456")
        ])
        .status,
        401
    );
    // A forged identity header never reaches the upstream.
    let forged = with(&[
        ("X-API-Key", "partner-key-456"),
        ("X-Auth-Key-Name", "admin"),
    ]);
    assert_eq!(forged.status, 200);
    assert_eq!(forged.json()["headers"]["x-auth-key-name"], "partner");
    // The key never appears in the access log.
    std::thread::sleep(Duration::from_millis(100));
    let log = sidecar.stdout.lock().unwrap().join("\n");
    assert!(log.contains(r#""subject":"partner""#), "{log}");
    assert!(
        !log.contains("demo-key-123") && !log.contains("partner-key-456"),
        "{log}"
    );
}

#[test]
fn openid_connect_discovery_gives_the_issuer_and_the_key_set() {
    let key = SigningKey::new("oidc-1");
    let idp = Idp::start(vec![key.jwk.clone()]);
    let dir = TempDir::new("oidc");
    let text = format!(
        r#"openapi: 3.1.0
info: {{title: Orders (OIDC tests), version: "1"}}
security: [{{oidc: []}}]
components:
  securitySchemes:
    oidc:
      type: openIdConnect
      openIdConnectUrl: http://{address}/.well-known/openid-configuration
      x-security:
        issuer: https://idp.test/
        audiences: [orders-api]
        algorithms: [ES256]
paths:
  /orders:
    get:
      operationId: listOrders
      responses: {{"200": {{description: ok}}}}
"#,
        address = idp.address
    );
    let spec = dir.write("oidc.yaml", text).display().to_string();
    let sidecar = start(&spec, "echo");
    assert_eq!(get(&sidecar, &key.token("erin", 300)).status, 200);
    let stranger = SigningKey::new("oidc-1");
    assert_eq!(
        get(&sidecar, &stranger.token("mallory", 300)).status,
        401,
        "same kid, another key: the signature decides"
    );
}
