//! Test-only key pairs and token signing: EC and Ed25519 keys are generated per test run, RSA comes
//! from a fixed test-only key (no RSA key generator is available to the tests).

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::EncodingKey;
use jsonwebtoken::crypto::CryptoProvider;
use serde_json::{Value, json};
use specgate_plan::scheme::Algorithm;

use super::keys::jwt_algorithm;

/// A TEST-ONLY RSA private key (PKCS#1), made with `openssl genrsa -traditional 2048`.
pub const RSA_PRIVATE_PEM: &str = include_str!("testdata/test-only-rsa.pem");
/// Its public key (SPKI PEM), as an attacker would find it published.
pub const RSA_PUBLIC_PEM: &str = include_str!("testdata/test-only-rsa.pub.pem");

/// A signing key and its public JWK.
#[derive(Debug)]
pub struct TestKey {
    pub encoding: EncodingKey,
    pub alg: Algorithm,
    /// The public JWK without `kid`.
    public: Value,
}

impl TestKey {
    /// The public JWK with this `kid`.
    pub fn jwk(&self, kid: &str) -> Value {
        let mut jwk = self.public.clone();
        jwk["kid"] = json!(kid);
        jwk
    }

    /// A token with this header and claims, signed with this key and `alg` (which the header should
    /// name; tests of mismatches pass another).
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        sign_with(&self.encoding, self.alg, header, claims)
    }
}

/// Signs `header.claims` (both serialized as given) with `key` under `alg`.
pub fn sign_with(key: &EncodingKey, alg: Algorithm, header: &Value, claims: &Value) -> String {
    let message = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, jwt_algorithm(alg))
        .expect("test key signs");
    format!("{message}.{signature}")
}

/// Base64url without padding.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The DER body of a PEM text.
pub fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).expect("PEM body is base64")
}

/// The test-only RSA key (RS256).
pub fn rsa() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let der = pem_der(RSA_PRIVATE_PEM);
        let provider = CryptoProvider::try_get_default().expect("rust_crypto provider");
        let (n, e) = (provider.key_utils.rsa_pub_components_from_private_key)(&der)
            .expect("test RSA key decodes");
        TestKey {
            encoding: EncodingKey::from_rsa_der(&der),
            alg: Algorithm::RS256,
            public: json!({"kty": "RSA", "use": "sig", "n": b64(n), "e": b64(e)}),
        }
    })
}

/// An EC P-256 key (ES256), generated once per test run.
pub fn p256() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(new_p256)
}

/// A second P-256 key, for "signed by someone else".
pub fn other_p256() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(new_p256)
}

fn new_p256() -> TestKey {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("P-256");
    // Uncompressed SEC1 point: 0x04, then x and y of 32 bytes each.
    let point = pair.public_key_raw();
    TestKey {
        encoding: EncodingKey::from_ec_der(&pair.serialize_der()),
        alg: Algorithm::ES256,
        public: json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65])}),
    }
}

/// An Ed25519 key (EdDSA), generated once per test run.
pub fn ed25519() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("Ed25519");
        TestKey {
            encoding: EncodingKey::from_ed_der(&pair.serialize_der()),
            alg: Algorithm::EdDSA,
            public: json!({"kty": "OKP", "crv": "Ed25519", "x": b64(pair.public_key_raw())}),
        }
    })
}

/// An HMAC secret of 32 bytes (HS256).
pub const HMAC_SECRET: &[u8] = b"test-only-hmac-secret-of-32bytes";

/// The HMAC key for [`HMAC_SECRET`].
pub fn hmac() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| TestKey {
        encoding: EncodingKey::from_secret(HMAC_SECRET).expect("secret"),
        alg: Algorithm::HS256,
        public: Value::Null,
    })
}
