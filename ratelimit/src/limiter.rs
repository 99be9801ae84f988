//! The front the sidecar uses: an in-process or Redis-backed limiter with a fallback for Redis outages.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::local::LocalStore;
use crate::redis_store::{RedisStore, SetupError};
use crate::spec::LimitSpec;
use crate::verdict::Verdict;

/// While Redis is down, at most one check per this interval tries it again.
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// What checks get while Redis is unreachable or slower than the timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fallback {
    /// Count in this process instead: limits hold per replica, not across replicas.
    #[default]
    Open,
    /// Answer [`Verdict::Unavailable`] (the sidecar answers 503).
    Closed,
}

/// Settings of a Redis-backed [`Limiter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// Longest wait for Redis per check; slower counts as an outage.
    pub timeout: Duration,
    /// Prepended to every key (without `{` or `}`).
    pub prefix: String,
    /// What checks get during an outage.
    pub fallback: Fallback,
    /// Key bound of the in-process store used with [`Fallback::Open`].
    pub fallback_max_keys: usize,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_millis(100),
            prefix: "specgate:rl:".to_owned(),
            fallback: Fallback::Open,
            fallback_max_keys: 100_000,
        }
    }
}

/// Counters for metrics, read with [`Limiter::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Checks answered by Redis.
    pub redis_checks: u64,
    /// Redis calls that failed or timed out.
    pub redis_errors: u64,
    /// Outages begun: times Redis was marked down.
    pub outages: u64,
    /// Checks decided in process because Redis was down (fallback open).
    pub fallback_local: u64,
    /// Checks answered unavailable because Redis was down (fallback closed).
    pub fallback_unavailable: u64,
    /// Live keys evicted from the in-process store to keep within its key bound.
    pub local_evictions: u64,
    /// 1 while Redis is marked down, else 0.
    pub redis_down: u64,
}

/// Checks requests against their rate limits, in process or shared through Redis.
///
/// With Redis, a failed or timed-out call marks Redis down (one line on stderr, `outages` + 1); from then
/// on checks go straight to the fallback without waiting, except one check per second that tries Redis
/// again. The first answer marks it up (one line on stderr) and shared limiting resumes.
#[derive(Debug)]
pub struct Limiter {
    backend: Backend,
    /// The in-process store: the only one, or the fallback of Redis.
    local: LocalStore,
    /// Origin of the in-process clock (monotonic).
    started: Instant,
    stats: Counters,
}

#[derive(Debug)]
enum Backend {
    Local,
    Redis(Box<Shared>),
}

/// A Redis store and what the limiter knows of its health.
#[derive(Debug)]
struct Shared {
    store: RedisStore,
    fallback: Fallback,
    down: AtomicBool,
    /// In-process µs before which no check probes Redis while it is down.
    next_probe_us: AtomicU64,
    /// In-process µs when the current outage began.
    down_since_us: AtomicU64,
}

#[derive(Debug, Default)]
struct Counters {
    redis_checks: AtomicU64,
    redis_errors: AtomicU64,
    outages: AtomicU64,
    fallback_local: AtomicU64,
    fallback_unavailable: AtomicU64,
}

impl Limiter {
    /// Limits counted in this process, tracking at most about `max_keys` keys.
    pub fn local(max_keys: usize) -> Self {
        Self {
            backend: Backend::Local,
            local: LocalStore::new(max_keys),
            started: Instant::now(),
            stats: Counters::default(),
        }
    }

    /// Limits shared through the Redis server at `url` (`redis://[user:password@]host[:port][/db]`).
    /// Connects on first use, so a server down at start is an outage like any other.
    pub fn redis(url: &str, settings: RedisSettings) -> Result<Self, SetupError> {
        Ok(Self {
            backend: Backend::Redis(Box::new(Shared {
                store: RedisStore::new(url, &settings.prefix, settings.timeout)?,
                fallback: settings.fallback,
                down: AtomicBool::new(false),
                next_probe_us: AtomicU64::new(0),
                down_since_us: AtomicU64::new(0),
            })),
            local: LocalStore::new(settings.fallback_max_keys),
            started: Instant::now(),
            stats: Counters::default(),
        })
    }

    /// Checks every limit of `request`, each with the caller's key for it (for example
    /// `"per-minute:credential:alice"`): all admit and count the request, or none counts it.
    pub async fn check(&self, request: &[(LimitSpec, String)]) -> Verdict {
        let Backend::Redis(shared) = &self.backend else {
            return self.local.check_at(self.now_us(), request);
        };
        let Shared {
            store,
            fallback,
            down,
            next_probe_us,
            down_since_us,
        } = shared.as_ref();
        if down.load(Ordering::Acquire) {
            let now = self.now_us();
            let due = next_probe_us.load(Ordering::Acquire);
            let probe = now >= due
                && next_probe_us
                    .compare_exchange(
                        due,
                        now.saturating_add(micros(PROBE_EVERY)),
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    )
                    .is_ok();
            if !probe {
                return self.fallback(*fallback, request);
            }
        }
        match store.check(request).await {
            Ok(verdict) => {
                self.stats.redis_checks.fetch_add(1, Ordering::Relaxed);
                if down.swap(false, Ordering::AcqRel) {
                    let secs = self
                        .now_us()
                        .saturating_sub(down_since_us.load(Ordering::Acquire))
                        / 1_000_000;
                    eprintln!(
                        "specgate: rate limiting: Redis answers again after {secs} s; limits are shared across replicas again"
                    );
                }
                verdict
            }
            Err(error) => {
                self.stats.redis_errors.fetch_add(1, Ordering::Relaxed);
                let now = self.now_us();
                if !down.swap(true, Ordering::AcqRel) {
                    down_since_us.store(now, Ordering::Release);
                    next_probe_us.store(now.saturating_add(micros(PROBE_EVERY)), Ordering::Release);
                    self.stats.outages.fetch_add(1, Ordering::Relaxed);
                    let what = match fallback {
                        Fallback::Open => "limits are counted per replica until it answers",
                        Fallback::Closed => "rate-limited requests get 503 until it answers",
                    };
                    eprintln!("specgate: rate limiting: Redis unreachable ({error}); {what}");
                }
                self.fallback(*fallback, request)
            }
        }
    }

    /// Counters since start.
    pub fn stats(&self) -> Stats {
        let s = &self.stats;
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            redis_checks: load(&s.redis_checks),
            redis_errors: load(&s.redis_errors),
            outages: load(&s.outages),
            fallback_local: load(&s.fallback_local),
            fallback_unavailable: load(&s.fallback_unavailable),
            local_evictions: self.local.evictions(),
            redis_down: match &self.backend {
                Backend::Redis(shared) => u64::from(shared.down.load(Ordering::Relaxed)),
                Backend::Local => 0,
            },
        }
    }

    fn fallback(&self, fallback: Fallback, request: &[(LimitSpec, String)]) -> Verdict {
        match fallback {
            Fallback::Open => {
                self.stats.fallback_local.fetch_add(1, Ordering::Relaxed);
                self.local.check_at(self.now_us(), request)
            }
            Fallback::Closed => {
                self.stats
                    .fallback_unavailable
                    .fetch_add(1, Ordering::Relaxed);
                Verdict::Unavailable
            }
        }
    }

    fn now_us(&self) -> u64 {
        micros(self.started.elapsed())
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(limit: u64) -> Vec<(LimitSpec, String)> {
        let spec = LimitSpec::new("per-minute", limit, Duration::from_secs(60), None).unwrap();
        vec![(spec, "per-minute:ip:192.0.2.1".to_owned())]
    }

    #[tokio::test]
    async fn local_limiter_counts_in_process() {
        let limiter = Limiter::local(100);
        let request = request(2);
        assert!(limiter.check(&request).await.is_admitted());
        assert!(limiter.check(&request).await.is_admitted());
        let Verdict::Refused { retry_after, .. } = limiter.check(&request).await else {
            panic!("refused expected")
        };
        assert!((59..=60).contains(&retry_after));
        assert_eq!(limiter.stats(), Stats::default());
    }

    #[tokio::test]
    async fn unreachable_redis_falls_back_without_waiting_each_time() {
        // Port 1 on loopback: connections are refused at once.
        let settings = |fallback| RedisSettings {
            timeout: Duration::from_millis(300),
            fallback,
            ..RedisSettings::default()
        };
        let open = Limiter::redis("redis://127.0.0.1:1/", settings(Fallback::Open)).unwrap();
        let closed = Limiter::redis("redis://127.0.0.1:1/", settings(Fallback::Closed)).unwrap();
        let request = request(3);
        let started = Instant::now();
        let admitted = [
            open.check(&request).await,
            open.check(&request).await,
            open.check(&request).await,
            open.check(&request).await,
        ]
        .map(|v| v.is_admitted());
        assert_eq!(admitted, [true, true, true, false]);
        for _ in 0..50 {
            assert_eq!(closed.check(&request).await, Verdict::Unavailable);
        }
        assert!(started.elapsed() < Duration::from_millis(900));
        let stats = closed.stats();
        assert_eq!((stats.outages, stats.redis_down), (1, 1));
        assert_eq!(stats.fallback_unavailable, 50);
        assert_eq!(stats.redis_errors, 1);
        let stats = open.stats();
        assert_eq!(
            (stats.outages, stats.fallback_local, stats.redis_checks),
            (1, 4, 0)
        );
    }
}
