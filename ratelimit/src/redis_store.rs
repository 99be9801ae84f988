//! Shared store: one atomic Lua script in Redis per check, one round trip, Redis `TIME` as the clock.

use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, RedisError, Script};

use crate::counter::Reading;
use crate::spec::{LimitSpec, Rule};
use crate::verdict::{Distinct, Verdict};

/// Rate-limit counters in Redis, shared by every replica using the same server and prefix.
///
/// Each check is one `EVALSHA` of one script (loaded on first use, and again after a server restart)
/// that reads, decides and counts all limits of the request atomically, taking the time from Redis `TIME`
/// so that replica clocks do not matter. Each limit is a small hash at
/// `<prefix>{rl}:<rule>:<caller key>` expiring a second after its count has decayed; `<rule>` carries the
/// limit's numbers, so changing a limit starts a new count rather than misreading the old one.
///
/// A check that timed out may still reach Redis and be counted there: a late check counts, never the
/// reverse, so limits stay conservative. Checks must run inside a Tokio runtime.
///
/// Redis Cluster: the keys of one check must sit in one slot, and one limit key can appear in checks
/// with different companions (a document-wide limit shared by operations), so every key carries the same
/// hash tag `{rl}`: the whole rate-limit state lives on one primary, which keeps checks single-slot and
/// counts exact.
pub struct RedisStore {
    client: Client,
    // Created on first use: it needs a Tokio runtime, and connects lazily.
    connection: OnceLock<ConnectionManager>,
    prefix: String,
    timeout: Duration,
    script: Script,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password: only the prefix and timeout are shown.
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Why a Redis check gave no answer.
#[derive(Debug)]
pub enum StoreError {
    /// No answer within the configured timeout.
    Timeout,
    /// The connection or the server failed.
    Redis(RedisError),
    /// The script answered something else than the expected list of integers.
    BadReply,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The category only: server messages can quote keys, which name clients.
        match self {
            Self::Timeout => f.write_str("timed out"),
            Self::Redis(e) => write!(f, "{}", e.category()),
            Self::BadReply => f.write_str("unexpected reply from the rate-limit script"),
        }
    }
}

impl std::error::Error for StoreError {}

/// A Redis store could not be set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetupError {
    /// The URL is not a Redis URL this build can use (`redis://[user:password@]host[:port][/db]`).
    Url(String),
    /// The key prefix contains `{` or `}`, which would change the keys' hash tag.
    Prefix,
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Url(category) => write!(
                f,
                "invalid Redis URL ({category}); expected redis://[user:password@]host[:port][/db]"
            ),
            Self::Prefix => f.write_str("the Redis key prefix must not contain `{` or `}`"),
        }
    }
}

impl std::error::Error for SetupError {}

impl RedisStore {
    /// A store for the server at `url`; nothing is connected until the first check.
    pub fn new(url: &str, prefix: &str, timeout: Duration) -> Result<Self, SetupError> {
        if prefix.contains(['{', '}']) {
            return Err(SetupError::Prefix);
        }
        // The error's category, not its text: the text can quote the URL and its password.
        let client = Client::open(url).map_err(|e| SetupError::Url(e.category().to_owned()))?;
        Ok(Self {
            client,
            connection: OnceLock::new(),
            prefix: prefix.to_owned(),
            timeout,
            script: Script::new(include_str!("check.lua")),
        })
    }

    /// Checks every limit of `request` with Redis's clock: all admit and count it, or none does.
    pub async fn check(&self, request: &[(LimitSpec, String)]) -> Result<Verdict, StoreError> {
        self.run(None, request).await
    }

    /// As [`check`](Self::check) at `now_us` microseconds instead of Redis `TIME` (for tests and replays;
    /// times must stay below 2^53).
    pub async fn check_at(
        &self,
        now_us: u64,
        request: &[(LimitSpec, String)],
    ) -> Result<Verdict, StoreError> {
        self.run(Some(now_us), request).await
    }

    /// The Redis key holding one limit's state.
    pub fn key(&self, spec: &LimitSpec, key: &str) -> String {
        self.redis_key(spec.rule(), key)
    }

    fn redis_key(&self, rule: Rule, key: &str) -> String {
        format!("{}{{rl}}:{}:{key}", self.prefix, rule.signature())
    }

    fn connection(&self) -> Result<ConnectionManager, StoreError> {
        if let Some(c) = self.connection.get() {
            return Ok(c.clone());
        }
        // No retries of its own: the limiter decides when to try again, without holding requests.
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(0)
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        let manager = ConnectionManager::new_lazy_with_config(self.client.clone(), config)
            .map_err(StoreError::Redis)?;
        Ok(self.connection.get_or_init(|| manager).clone())
    }

    async fn run(
        &self,
        now_us: Option<u64>,
        request: &[(LimitSpec, String)],
    ) -> Result<Verdict, StoreError> {
        let distinct = Distinct::new(request);
        if distinct.items.is_empty() {
            return Ok(distinct.verdict(request, &[], true));
        }
        let mut invocation = self.script.prepare_invoke();
        for &(rule, key) in &distinct.items {
            invocation.key(self.redis_key(rule, key));
        }
        match now_us {
            Some(now) => invocation.arg(now),
            None => invocation.arg(""),
        };
        for &(rule, _) in &distinct.items {
            match rule {
                Rule::Window(r) => invocation
                    .arg(0)
                    .arg(r.limit)
                    .arg(r.window_us)
                    .arg(r.granularity_us)
                    .arg(r.span),
                Rule::Gcra(r) => invocation
                    .arg(1)
                    .arg(r.limit)
                    .arg(r.window_us)
                    .arg(r.burst)
                    .arg(0),
            };
        }
        let mut connection = self.connection()?;
        let reply: Vec<i64> =
            tokio::time::timeout(self.timeout, invocation.invoke_async(&mut connection))
                .await
                .map_err(|_| StoreError::Timeout)?
                .map_err(StoreError::Redis)?;
        let (admitted, readings) =
            parse(&reply, distinct.items.len()).ok_or(StoreError::BadReply)?;
        Ok(distinct.verdict(request, &readings, admitted))
    }
}

/// `{admitted, then per limit: conforms, remaining, reset, wait}`.
fn parse(reply: &[i64], limits: usize) -> Option<(bool, Vec<Reading>)> {
    let (&admitted, rest) = reply.split_first()?;
    if rest.len() != limits * 4 {
        return None;
    }
    let n = |v: i64| u64::try_from(v).ok();
    let readings = rest
        .chunks_exact(4)
        .map(|c| {
            Some(Reading {
                conforms: c[0] == 1,
                remaining: n(c[1])?,
                reset_us: n(c[2])?,
                wait_us: n(c[3])?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some((admitted == 1, readings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_prefix_tag_and_rule() {
        let store =
            RedisStore::new("redis://127.0.0.1:1/", "app:", Duration::from_millis(5)).unwrap();
        let spec = LimitSpec::new("m", 60, Duration::from_secs(60), None).unwrap();
        assert_eq!(
            store.key(&spec, "m:ip:1.2.3.4"),
            "app:{rl}:w60/60000000:m:ip:1.2.3.4"
        );
        let spec = LimitSpec::new("b", 50, Duration::from_secs(1), Some(100)).unwrap();
        assert_eq!(store.key(&spec, "{x}"), "app:{rl}:b50/1000000/100:{x}");
    }

    #[test]
    fn bad_settings_are_refused_without_echoing_the_url() {
        let err =
            RedisStore::new("redis://127.0.0.1/", "a{b", Duration::from_millis(5)).unwrap_err();
        assert_eq!(err, SetupError::Prefix);
        let err = RedisStore::new("http://user:hunter2@host/", "", Duration::from_millis(5))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(err.starts_with("invalid Redis URL"), "{err}");
    }

    #[test]
    fn replies_of_the_wrong_shape_are_refused() {
        assert_eq!(
            parse(&[1, 1, 4, 10, 0], 1),
            Some((
                true,
                vec![Reading {
                    conforms: true,
                    remaining: 4,
                    reset_us: 10,
                    wait_us: 0
                }]
            ))
        );
        assert_eq!(parse(&[1, 1, 4, 10], 1), None);
        assert_eq!(parse(&[], 0), None);
        assert_eq!(parse(&[0, 0, -1, 0, 0], 1), None);
    }
}
