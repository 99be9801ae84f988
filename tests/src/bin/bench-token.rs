//! Mints the RS256 token and the public JWK Set that `bench/run` uses for its full-policy load.
//!
//! `bench-token KEY.pem JWKS_OUT ISSUER AUDIENCE` reads an RSA private key (PKCS#1 PEM, as
//! `openssl genrsa -traditional` writes it), writes the public half as a JWK Set to `JWKS_OUT`, and
//! prints a token signed with it, valid for a day, on standard output. The key is made at bench time
//! so that no private key is ever committed for the benchmark.
#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

/// The `kid` of the one key in the set: the token names it, as identity providers' tokens do.
const KID: &str = "bench-1";
/// A day: long enough for a full benchmark run, and the scheme sets no `max-lifetime`.
const LIFETIME_SECONDS: u64 = 86_400;

fn main() -> ExitCode {
    match run() {
        Ok(token) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("bench-token: {message}");
            eprintln!("usage: bench-token KEY.pem JWKS_OUT ISSUER AUDIENCE");
            ExitCode::from(2)
        }
    }
}

/// Writes the JWK Set and returns the signed token.
fn run() -> Result<String, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [key_path, jwks_path, issuer, audience] = args.as_slice() else {
        return Err("expected four arguments".into());
    };
    let pem = std::fs::read_to_string(key_path)
        .map_err(|e| format!("cannot read the key file {key_path}: {e}"))?;
    if !pem.contains("BEGIN RSA PRIVATE KEY") {
        return Err(format!("{key_path} is not a PKCS#1 RSA private key"));
    }
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = STANDARD
        .decode(body.trim())
        .map_err(|_| format!("{key_path} is not valid PEM"))?;

    let provider = CryptoProvider::try_get_default()
        .ok_or("jsonwebtoken was built without a crypto provider")?;
    let (n, e) = (provider.key_utils.rsa_pub_components_from_private_key)(&der)
        .map_err(|_| format!("{key_path} does not hold a usable RSA key"))?;
    let jwks = json!({"keys": [{
        "kty": "RSA", "use": "sig", "alg": "RS256", "kid": KID,
        "n": URL_SAFE_NO_PAD.encode(n), "e": URL_SAFE_NO_PAD.encode(e),
    }]});
    std::fs::write(jwks_path, format!("{jwks:#}\n"))
        .map_err(|e| format!("cannot write {jwks_path}: {e}"))?;

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| "the clock is before 1970")?
        .as_secs();
    let claims = json!({
        "iss": issuer, "aud": audience, "sub": "bench-client",
        "scope": "orders:write", "iat": now, "exp": now + LIFETIME_SECONDS,
    });
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KID.into());
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_der(&der))
        .map_err(|e| format!("cannot sign: {e}"))
}
