//! JWT verification keys: decoded once from a JWK Set or an HMAC secret, and the shared slot that
//! holds the keys a sidecar fetches at run time.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwapOption;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use serde_json::{Map, Value};
use specgate_plan::scheme::Algorithm;

/// A JWK Set with more keys than this is refused: real signing sets hold a handful, and a token
/// without `kid` is tried against every key that fits its algorithm, so the set bounds that work.
pub const MAX_JWKS_KEYS: usize = 64;

/// JWK members that only private (or symmetric) keys have; a verification set must not carry them.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// RSA moduli outside this range (in bits) are refused: below 2048 is too weak (RFC 7518 §3.3), and
/// the RSA backend refuses larger than 8192.
const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=8192;

/// The jsonwebtoken algorithm of a plan algorithm.
pub(crate) fn jwt_algorithm(alg: Algorithm) -> jsonwebtoken::Algorithm {
    use jsonwebtoken::Algorithm as J;
    match alg {
        Algorithm::HS256 => J::HS256,
        Algorithm::HS384 => J::HS384,
        Algorithm::HS512 => J::HS512,
        Algorithm::RS256 => J::RS256,
        Algorithm::RS384 => J::RS384,
        Algorithm::RS512 => J::RS512,
        Algorithm::PS256 => J::PS256,
        Algorithm::PS384 => J::PS384,
        Algorithm::PS512 => J::PS512,
        Algorithm::ES256 => J::ES256,
        Algorithm::ES384 => J::ES384,
        Algorithm::EdDSA => J::EdDSA,
    }
}

/// The plan algorithm named exactly `name` (JOSE spelling, case-sensitive).
pub(crate) fn algorithm_named(name: &str) -> Option<Algorithm> {
    Some(match name {
        "HS256" => Algorithm::HS256,
        "HS384" => Algorithm::HS384,
        "HS512" => Algorithm::HS512,
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        _ => return None,
    })
}

const RSA_ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

/// One verification key and the only algorithms it may verify: its family's, narrowed by the
/// JWK's `alg` or its curve. This is what keeps an HMAC algorithm away from a public key.
#[derive(Debug)]
pub(crate) struct Key {
    pub(crate) decoding: DecodingKey,
    algorithms: Vec<Algorithm>,
}

impl Key {
    fn allows(&self, alg: Algorithm) -> bool {
        self.algorithms.contains(&alg)
    }
}

/// What a token's `kid` and `alg` select from a key set.
#[derive(Debug)]
pub(crate) enum Lookup<'k> {
    /// Keys to try, in set order.
    Keys(Vec<&'k Key>),
    /// The token names a `kid` the set does not hold (a newer set may).
    UnknownKid,
    /// No key of the set may verify the token's algorithm.
    NoKeyForAlgorithm,
}

/// The decoded verification keys of one scheme.
#[derive(Debug)]
pub struct JwtKeys {
    /// Unique per key set made in this process: what a token was verified with, for the cache of
    /// verified tokens (a new set, rotated or fetched, never reuses an old set's verdicts).
    generation: u64,
    /// By `kid`, used only as a map key: never as a path, never interpolated anywhere.
    named: HashMap<String, Vec<Key>>,
    /// Keys without `kid`, tried for any token whose `kid` the set does not name.
    unnamed: Vec<Key>,
    count: usize,
}

impl Default for JwtKeys {
    fn default() -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        Self {
            generation: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            named: HashMap::new(),
            unnamed: Vec::new(),
            count: 0,
        }
    }
}

impl JwtKeys {
    /// Which key set this is (see [`super::cache::VerifiedTokens`]).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Decodes the public signing keys of a JWK Set (RFC 7517): RSA, EC P-256 and P-384, OKP Ed25519.
    ///
    /// Keys for another use than `sig`, of another type or curve, or malformed are skipped; a key with
    /// private members refuses the whole set, and so does a set with no usable key.
    pub fn from_jwks(jwks: &Value) -> Result<JwtKeys, String> {
        let Some(list) = jwks.get("keys").and_then(Value::as_array) else {
            return Err("not a JWK Set: no `keys` list".into());
        };
        if list.len() > MAX_JWKS_KEYS {
            return Err(format!(
                "the JWK Set holds {} keys, more than the {MAX_JWKS_KEYS} accepted",
                list.len()
            ));
        }
        let mut keys = JwtKeys::default();
        for (index, entry) in list.iter().enumerate() {
            let Some(jwk) = entry.as_object() else {
                continue;
            };
            if let Some(member) = PRIVATE_MEMBERS.iter().find(|m| jwk.contains_key(**m)) {
                return Err(format!(
                    "key #{index} of the JWK Set holds private key material (`{member}`); only public keys are accepted"
                ));
            }
            let kid = match jwk.get("kid") {
                None => None,
                Some(Value::String(kid)) => Some(kid.clone()),
                Some(_) => continue,
            };
            if let Some(key) = public_key(jwk) {
                keys.insert(kid, key);
            }
        }
        if keys.count == 0 {
            return Err(
                "the JWK Set holds no usable signing key (RSA of 2048 to 8192 bits, EC P-256 or P-384, or Ed25519, with `use` sig or none)"
                    .into(),
            );
        }
        Ok(keys)
    }

    /// An HMAC secret of at least 32 bytes (RFC 7518 §3.2: no shorter than the hash). It verifies
    /// HS256, and HS384 and HS512 only when it is as long as their hash.
    pub fn from_hmac_secret(secret: &[u8]) -> Result<JwtKeys, String> {
        if secret.len() < 32 {
            return Err("the HMAC secret is shorter than 32 bytes (256 bits)".into());
        }
        let decoding = DecodingKey::from_secret(secret)
            .map_err(|_| "the HMAC secret is unusable".to_owned())?;
        let algorithms = [
            (Algorithm::HS256, 32),
            (Algorithm::HS384, 48),
            (Algorithm::HS512, 64),
        ]
        .into_iter()
        .filter(|(_, min)| secret.len() >= *min)
        .map(|(alg, _)| alg)
        .collect();
        let mut keys = JwtKeys::default();
        keys.insert(
            None,
            Key {
                decoding,
                algorithms,
            },
        );
        Ok(keys)
    }

    /// How many usable keys the set holds.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the set holds no key.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Whether some key of the set may verify `alg`.
    pub fn supports(&self, alg: Algorithm) -> bool {
        self.all().any(|k| k.allows(alg))
    }

    fn insert(&mut self, kid: Option<String>, key: Key) {
        match kid {
            Some(kid) => self.named.entry(kid).or_default().push(key),
            None => self.unnamed.push(key),
        }
        self.count += 1;
    }

    fn all(&self) -> impl Iterator<Item = &Key> {
        self.named.values().flatten().chain(&self.unnamed)
    }

    /// The keys that may verify a token with this `kid` and `alg`.
    pub(crate) fn lookup(&self, kid: Option<&str>, alg: Algorithm) -> Lookup<'_> {
        let allowed = |key: &&Key| key.allows(alg);
        let (keys, kid_known): (Vec<&Key>, bool) = match kid {
            Some(kid) => match self.named.get(kid) {
                Some(named) => (named.iter().filter(allowed).collect(), true),
                None => (self.unnamed.iter().filter(allowed).collect(), false),
            },
            None => (self.all().filter(allowed).collect(), true),
        };
        match (keys.is_empty(), kid_known) {
            (false, _) => Lookup::Keys(keys),
            (true, true) => Lookup::NoKeyForAlgorithm,
            (true, false) => Lookup::UnknownKid,
        }
    }
}

/// The verification key of one public JWK, or `None` when it is not a usable signing key.
fn public_key(jwk: &Map<String, Value>) -> Option<Key> {
    let text = |name: &str| jwk.get(name).and_then(Value::as_str);
    let bytes = |name: &str| text(name).and_then(|t| URL_SAFE_NO_PAD.decode(t).ok());
    if text("use").is_some_and(|u| u != "sig") || jwk.get("use").is_some_and(|u| !u.is_string()) {
        return None;
    }
    if let Some(ops) = jwk.get("key_ops") {
        let verifies = ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|op| op == "verify"));
        if !verifies {
            return None;
        }
    }
    // The JWK's own `alg` narrows the key to that one algorithm; an unknown one makes it unusable.
    let declared = match jwk.get("alg") {
        None => None,
        Some(Value::String(name)) => Some(algorithm_named(name)?),
        Some(_) => return None,
    };
    let narrow = |family: &[Algorithm]| -> Option<Vec<Algorithm>> {
        match declared {
            None => Some(family.to_vec()),
            Some(alg) if family.contains(&alg) => Some(vec![alg]),
            Some(_) => None,
        }
    };
    let (decoding, algorithms) = match text("kty")? {
        "RSA" => {
            let n = bytes("n")?;
            let e = bytes("e")?;
            let n = strip_leading_zeros(&n);
            let e = strip_leading_zeros(&e);
            let bits = n.first().map_or(0, |top| {
                (n.len() - 1) * 8 + (8 - top.leading_zeros() as usize)
            });
            // e: odd, at least 3, and below 2^33 (larger ones only slow verification down).
            let e_value =
                (e.len() <= 5).then(|| e.iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b)));
            let e_ok = e_value.is_some_and(|v| (3..1 << 33).contains(&v) && v & 1 == 1);
            if !RSA_BITS.contains(&bits) || !e_ok {
                return None;
            }
            (
                DecodingKey::from_rsa_raw_components(n, e),
                narrow(RSA_ALGORITHMS)?,
            )
        }
        "EC" => {
            let (alg, size) = match text("crv")? {
                "P-256" => (Algorithm::ES256, 32),
                "P-384" => (Algorithm::ES384, 48),
                _ => return None,
            };
            let x = bytes("x")?;
            let y = bytes("y")?;
            if x.len() != size || y.len() != size {
                return None;
            }
            let mut point = Vec::with_capacity(1 + 2 * size);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            (DecodingKey::from_ec_der(&point), narrow(&[alg])?)
        }
        "OKP" => {
            if text("crv")? != "Ed25519" {
                return None;
            }
            let x = bytes("x")?;
            if x.len() != 32 {
                return None;
            }
            (DecodingKey::from_ed_der(&x), narrow(&[Algorithm::EdDSA])?)
        }
        _ => return None,
    };
    // The verifier decodes EC points and Ed25519 keys when it is built: an invalid point (not on
    // the curve) fails here, once, instead of on every token.
    let probe =
        jsonwebtoken::crypto::verify("", b"", &decoding, jwt_algorithm(*algorithms.first()?));
    probe.is_ok().then_some(Key {
        decoding,
        algorithms,
    })
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    &bytes[zeros..]
}

/// The keys of one scheme whose JWK Set is fetched at run time: swapped in by the sidecar's fetcher,
/// read lock-free by every request. Keys older than the scheme's `jwks-cache` are no longer trusted,
/// so a fetcher that keeps failing makes the scheme fail closed instead of trusting stale keys.
#[derive(Debug)]
pub struct KeySlot {
    installed: ArcSwapOption<Installed>,
    ttl: Duration,
}

#[derive(Debug)]
struct Installed {
    keys: Arc<JwtKeys>,
    fetched_at: SystemTime,
}

impl KeySlot {
    /// An empty slot whose keys, once installed, are trusted for `ttl` after they were fetched.
    pub fn new(ttl: Duration) -> Self {
        Self {
            installed: ArcSwapOption::empty(),
            ttl,
        }
    }

    /// Replaces the keys with a set fetched at `fetched_at`.
    pub fn install(&self, keys: JwtKeys, fetched_at: SystemTime) {
        self.installed.store(Some(Arc::new(Installed {
            keys: Arc::new(keys),
            fetched_at,
        })));
    }

    /// The keys, while `now` is before their fetch time plus the slot's ttl; `None` when none were
    /// installed or they are too old.
    pub fn current(&self, now: SystemTime) -> Option<Arc<JwtKeys>> {
        let installed = self.installed.load_full()?;
        let fresh = match now.duration_since(installed.fetched_at) {
            Ok(age) => age < self.ttl,
            // Fetched "after" now: the clock stepped back; the keys are as fresh as can be.
            Err(_) => true,
        };
        fresh.then(|| Arc::clone(&installed.keys))
    }

    /// When the installed keys were fetched, if any were.
    pub fn fetched_at(&self) -> Option<SystemTime> {
        self.installed.load().as_ref().map(|i| i.fetched_at)
    }

    /// How long installed keys are trusted after their fetch.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::auth::testkeys;
    use serde_json::json;

    fn set(keys: Vec<Value>) -> Value {
        json!({ "keys": keys })
    }

    #[test]
    fn decodes_rsa_ec_and_ed25519_public_keys() {
        let keys = JwtKeys::from_jwks(&set(vec![
            testkeys::rsa().jwk("r1"),
            testkeys::p256().jwk("e1"),
            testkeys::ed25519().jwk("o1"),
        ]))
        .unwrap();
        assert_eq!(keys.len(), 3);
        assert!(
            matches!(keys.lookup(Some("r1"), Algorithm::RS256), Lookup::Keys(k) if k.len() == 1)
        );
        assert!(
            matches!(keys.lookup(Some("r1"), Algorithm::PS256), Lookup::Keys(k) if k.len() == 1)
        );
        assert!(
            matches!(keys.lookup(Some("e1"), Algorithm::ES256), Lookup::Keys(k) if k.len() == 1)
        );
        assert!(
            matches!(keys.lookup(Some("o1"), Algorithm::EdDSA), Lookup::Keys(k) if k.len() == 1)
        );
        assert!(matches!(keys.lookup(None, Algorithm::ES256), Lookup::Keys(k) if k.len() == 1));
    }

    #[test]
    fn a_key_never_verifies_another_family() {
        let keys = JwtKeys::from_jwks(&set(vec![
            testkeys::rsa().jwk("r1"),
            testkeys::p256().jwk("e1"),
        ]))
        .unwrap();
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            assert!(!keys.supports(alg));
            assert!(matches!(
                keys.lookup(Some("r1"), alg),
                Lookup::NoKeyForAlgorithm
            ));
        }
        assert!(matches!(
            keys.lookup(Some("e1"), Algorithm::RS256),
            Lookup::NoKeyForAlgorithm
        ));
        assert!(matches!(
            keys.lookup(Some("r1"), Algorithm::ES256),
            Lookup::NoKeyForAlgorithm
        ));
        assert!(matches!(
            keys.lookup(Some("e1"), Algorithm::ES384),
            Lookup::NoKeyForAlgorithm
        ));
        assert!(matches!(
            keys.lookup(None, Algorithm::EdDSA),
            Lookup::NoKeyForAlgorithm
        ));
    }

    #[test]
    fn a_jwk_alg_narrows_the_key() {
        let mut jwk = testkeys::rsa().jwk("r1");
        jwk["alg"] = json!("PS256");
        let keys = JwtKeys::from_jwks(&set(vec![jwk])).unwrap();
        assert!(keys.supports(Algorithm::PS256));
        assert!(!keys.supports(Algorithm::RS256));
        let mut mismatched = testkeys::p256().jwk("e1");
        mismatched["alg"] = json!("RS256");
        assert!(JwtKeys::from_jwks(&set(vec![mismatched])).is_err());
    }

    #[test]
    fn unknown_kid_only_when_no_unnamed_key_fits() {
        let keys = JwtKeys::from_jwks(&set(vec![testkeys::p256().jwk("e1")])).unwrap();
        assert!(matches!(
            keys.lookup(Some("other"), Algorithm::ES256),
            Lookup::UnknownKid
        ));
        assert!(matches!(
            keys.lookup(Some("../../dev/null"), Algorithm::ES256),
            Lookup::UnknownKid
        ));
        let mut unnamed = testkeys::p256().jwk("x");
        unnamed.as_object_mut().unwrap().remove("kid");
        let keys = JwtKeys::from_jwks(&set(vec![unnamed])).unwrap();
        assert!(
            matches!(keys.lookup(Some("other"), Algorithm::ES256), Lookup::Keys(k) if k.len() == 1)
        );
    }

    #[test]
    fn private_members_refuse_the_set() {
        for member in PRIVATE_MEMBERS {
            let mut jwk = testkeys::p256().jwk("e1");
            jwk[member] = json!("AAAA");
            let err = JwtKeys::from_jwks(&set(vec![testkeys::rsa().jwk("r1"), jwk])).unwrap_err();
            assert!(err.contains("private key material"), "{err}");
            assert!(err.contains(&format!("`{member}`")), "{err}");
        }
    }

    #[test]
    fn unusable_keys_are_skipped_and_none_usable_is_an_error() {
        let mut enc = testkeys::rsa().jwk("enc");
        enc["use"] = json!("enc");
        let mut wrap = testkeys::p256().jwk("wrap");
        wrap["key_ops"] = json!(["wrapKey"]);
        let mut p521 = testkeys::p256().jwk("p521");
        p521["crv"] = json!("P-521");
        let mut short_ed = testkeys::ed25519().jwk("short");
        short_ed["x"] = json!("AAAA");
        let mut off_curve = testkeys::p256().jwk("off");
        off_curve["y"] = json!(URL_SAFE_NO_PAD.encode([7u8; 32]));
        let mut weak_rsa = testkeys::rsa().jwk("weak");
        weak_rsa["n"] = json!(URL_SAFE_NO_PAD.encode([0xffu8; 128]));
        let mut even_e = testkeys::rsa().jwk("even");
        even_e["e"] = json!(URL_SAFE_NO_PAD.encode([2u8]));
        let mut numeric_kid = testkeys::p256().jwk("k");
        numeric_kid["kid"] = json!(7);
        let unusable = vec![
            enc,
            wrap,
            p521,
            short_ed,
            off_curve,
            weak_rsa,
            even_e,
            numeric_kid,
            json!({"kty": "oct-like"}),
            json!("not an object"),
        ];
        let err = JwtKeys::from_jwks(&set(unusable.clone())).unwrap_err();
        assert!(err.contains("no usable signing key"), "{err}");
        let mut with_one = unusable;
        with_one.push(testkeys::p256().jwk("good"));
        let keys = JwtKeys::from_jwks(&set(with_one)).unwrap();
        assert_eq!(keys.len(), 1);
        assert!(JwtKeys::from_jwks(&json!({"no": "keys"})).is_err());
    }

    #[test]
    fn oversized_sets_are_refused() {
        let jwk = testkeys::p256().jwk("e");
        let err = JwtKeys::from_jwks(&set(vec![jwk; MAX_JWKS_KEYS + 1])).unwrap_err();
        assert!(err.contains("more than"), "{err}");
    }

    #[test]
    fn hmac_secrets_verify_hmac_only_and_by_length() {
        assert!(JwtKeys::from_hmac_secret(&[1; 31]).is_err());
        let keys = JwtKeys::from_hmac_secret(&[1; 32]).unwrap();
        assert!(keys.supports(Algorithm::HS256));
        assert!(!keys.supports(Algorithm::HS384));
        assert!(!keys.supports(Algorithm::RS256));
        let keys = JwtKeys::from_hmac_secret(&[1; 64]).unwrap();
        assert!(keys.supports(Algorithm::HS512));
        assert!(matches!(
            keys.lookup(None, Algorithm::ES256),
            Lookup::NoKeyForAlgorithm
        ));
    }

    #[test]
    fn slot_keys_expire_after_the_cache_time() {
        let slot = KeySlot::new(Duration::from_secs(600));
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert!(slot.current(t0).is_none());
        slot.install(JwtKeys::from_hmac_secret(&[1; 32]).unwrap(), t0);
        assert_eq!(slot.fetched_at(), Some(t0));
        assert!(slot.current(t0).is_some());
        assert!(slot.current(t0 + Duration::from_secs(599)).is_some());
        assert!(slot.current(t0 + Duration::from_secs(600)).is_none());
        assert!(slot.current(t0 - Duration::from_secs(5)).is_some());
        let t1 = t0 + Duration::from_secs(700);
        slot.install(JwtKeys::from_hmac_secret(&[2; 32]).unwrap(), t1);
        assert!(slot.current(t1 + Duration::from_secs(10)).is_some());
    }
}
