//! Tokens whose signature was verified, so that a client reusing its token does not pay for the
//! signature check on every request (as Envoy's `jwt_cache_config`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Tokens remembered per scheme; past it, the cache starts over (cheap, and bounded).
const CAPACITY: usize = 10_000;

/// How long a verdict is reused, whatever the token's `exp` (which is checked on every request).
const TTL: Duration = Duration::from_secs(300);

/// Verified tokens of one scheme, by SHA-256 of the token (collision-resistant: a forged token can
/// never take another's verdict). Only signatures are remembered: time claims, issuer, audience and
/// claim rules are checked on every request.
#[derive(Debug, Default)]
pub struct VerifiedTokens {
    entries: Mutex<HashMap<[u8; 32], Entry>>,
}

#[derive(Debug)]
struct Entry {
    /// The key set that verified the token: another set (rotated, refetched) must verify it again.
    generation: u64,
    claims: Arc<Map<String, Value>>,
    verified_at: Instant,
}

impl VerifiedTokens {
    /// The claims of `token` if it was verified with key set `generation` in the last [`TTL`], else
    /// the outcome of `verify`, remembered when it succeeds.
    pub fn get_or_verify<E>(
        &self,
        token: &str,
        generation: u64,
        verify: impl FnOnce() -> Result<Map<String, Value>, E>,
    ) -> Result<Arc<Map<String, Value>>, E> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Ok(entries) = self.entries.lock()
            && let Some(entry) = entries.get(&digest)
            && entry.generation == generation
            && entry.verified_at.elapsed() < TTL
        {
            return Ok(entry.claims.clone());
        }
        let claims = Arc::new(verify()?);
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CAPACITY {
                entries.clear();
            }
            entries.insert(
                digest,
                Entry {
                    generation,
                    claims: claims.clone(),
                    verified_at: Instant::now(),
                },
            );
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_are_reused_for_the_same_token_and_key_set_only() {
        let cache = VerifiedTokens::default();
        let calls = std::cell::Cell::new(0);
        let verify = || {
            calls.set(calls.get() + 1);
            Ok::<_, ()>(Map::new())
        };
        cache.get_or_verify("a.b.c", 1, verify).unwrap();
        cache.get_or_verify("a.b.c", 1, verify).unwrap();
        assert_eq!(calls.get(), 1, "the second time comes from the cache");
        cache.get_or_verify("a.b.c", 2, verify).unwrap();
        assert_eq!(calls.get(), 2, "another key set verifies again");
        cache.get_or_verify("a.b.d", 2, verify).unwrap();
        assert_eq!(calls.get(), 3, "another token verifies again");
    }

    #[test]
    fn failures_are_never_remembered() {
        let cache = VerifiedTokens::default();
        assert!(
            cache
                .get_or_verify("x", 1, || Err::<Map<_, _>, _>("bad"))
                .is_err()
        );
        let mut called = false;
        let _ = cache.get_or_verify("x", 1, || {
            called = true;
            Ok::<_, &str>(Map::new())
        });
        assert!(called);
    }
}
