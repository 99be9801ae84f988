//! What a limit is: the caller's [`LimitSpec`] and the counting rule derived from it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Buckets per window of a sliding window whose limit exceeds this many requests; limits up to it keep an
/// exact log instead (one entry per admitted request, never more than `LOG_MAX` entries).
pub(crate) const BUCKETS: u64 = 16;

/// Largest integer that the Redis script (Lua 5.1 numbers are doubles) represents exactly: every quantity the
/// script computes stays at or below it, so the script and the in-process store decide alike.
const EXACT: u64 = 1 << 53;

/// One rate limit: `limit` requests per `window`, or with `burst` a token bucket of `burst` requests refilled
/// at `limit` per `window`.
///
/// Two specs with the same numbers count the same way; the name only labels headers and metrics.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LimitSpec {
    name: Arc<str>,
    limit: u64,
    window: Duration,
    burst: Option<u64>,
    rule: Rule,
}

impl LimitSpec {
    /// A limit of `limit` requests per `window`; with `burst`, a token bucket holding up to `burst` requests.
    ///
    /// Refuses limits that cannot be counted exactly: a zero limit or burst, a window under one microsecond,
    /// or a window × burst (or limit) beyond 2^53 microseconds.
    pub fn new(
        name: impl Into<Arc<str>>,
        limit: u64,
        window: Duration,
        burst: Option<u64>,
    ) -> Result<Self, SpecError> {
        if limit == 0 {
            return Err(SpecError::ZeroLimit);
        }
        if burst == Some(0) {
            return Err(SpecError::ZeroBurst);
        }
        let window_us = u64::try_from(window.as_micros()).map_err(|_| SpecError::TooLarge)?;
        if window_us == 0 {
            return Err(SpecError::WindowTooShort);
        }
        // Windows up to 2^50 µs (35 years) leave the script room for `now + 2 windows` below 2^53.
        if limit > EXACT || window_us > EXACT >> 3 {
            return Err(SpecError::TooLarge);
        }
        let rule = match burst {
            Some(burst) => {
                if window_us.checked_mul(burst).is_none_or(|n| n > EXACT) {
                    return Err(SpecError::TooLarge);
                }
                Rule::Gcra(GcraRule {
                    limit,
                    window_us,
                    burst,
                })
            }
            None => Rule::Window(WindowRule::new(limit, window_us)),
        };
        Ok(Self {
            name: name.into(),
            limit,
            window,
            burst,
            rule,
        })
    }

    /// The name used in headers and metrics.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Requests per window (the sustained rate of a token bucket).
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The window.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// Size of the token bucket, if this limit is one.
    pub fn burst(&self) -> Option<u64> {
        self.burst
    }

    pub(crate) fn shared_name(&self) -> Arc<str> {
        Arc::clone(&self.name)
    }

    pub(crate) fn rule(&self) -> Rule {
        self.rule
    }
}

/// Why a [`LimitSpec`] was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecError {
    /// `limit` is 0.
    ZeroLimit,
    /// `burst` is 0.
    ZeroBurst,
    /// The window is shorter than one microsecond.
    WindowTooShort,
    /// The numbers exceed what is counted exactly (2^53 requests, or window × burst over 2^53 µs).
    TooLarge,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ZeroLimit => "a rate limit must admit at least 1 request",
            Self::ZeroBurst => "a burst must be at least 1 request",
            Self::WindowTooShort => "a rate-limit window must be at least 1 microsecond",
            Self::TooLarge => {
                "the rate limit's window, limit or burst is too large to count exactly"
            }
        })
    }
}

impl std::error::Error for SpecError {}

/// How a limit counts, in microseconds: what the stores key their state by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Rule {
    Window(WindowRule),
    Gcra(GcraRule),
}

impl Rule {
    /// A compact, unique text of the numbers, part of the Redis key so a changed limit starts a new count
    /// instead of misreading the old one.
    pub(crate) fn signature(&self) -> String {
        match self {
            Self::Window(r) => format!("w{}/{}", r.limit, r.window_us),
            Self::Gcra(r) => format!("b{}/{}/{}", r.limit, r.window_us, r.burst),
        }
    }
}

/// Sliding window of `limit` requests per `window_us`, counted in buckets of `granularity_us`; a request
/// counts against the current bucket and the `span` before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct WindowRule {
    pub(crate) limit: u64,
    pub(crate) window_us: u64,
    pub(crate) granularity_us: u64,
    pub(crate) span: u64,
}

impl WindowRule {
    pub(crate) fn new(limit: u64, window_us: u64) -> Self {
        // A limit of at most BUCKETS requests never has more non-empty buckets than it has requests, so
        // one-microsecond buckets (an exact log) cost no more memory than BUCKETS + 1 counters.
        let granularity_us = if limit <= BUCKETS {
            1
        } else {
            window_us.div_ceil(BUCKETS)
        };
        Self {
            limit,
            window_us,
            granularity_us,
            span: window_us.div_ceil(granularity_us),
        }
    }
}

/// Generic cell rate algorithm: emission interval T = window / limit, tolerance τ = T × (burst − 1).
/// Times are kept multiplied by `limit` so that T = `window_us` is an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct GcraRule {
    pub(crate) limit: u64,
    pub(crate) window_us: u64,
    pub(crate) burst: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_limits_keep_an_exact_log_and_large_ones_sixteen_buckets() {
        let spec = LimitSpec::new("a", 16, Duration::from_secs(60), None).unwrap();
        assert_eq!(
            spec.rule(),
            Rule::Window(WindowRule {
                limit: 16,
                window_us: 60_000_000,
                granularity_us: 1,
                span: 60_000_000
            })
        );
        let spec = LimitSpec::new("a", 17, Duration::from_secs(60), None).unwrap();
        assert_eq!(
            spec.rule(),
            Rule::Window(WindowRule {
                limit: 17,
                window_us: 60_000_000,
                granularity_us: 3_750_000,
                span: 16
            })
        );
        // A window that 16 does not divide: the counted span still covers it, by less than 16 µs more.
        let WindowRule {
            granularity_us,
            span,
            ..
        } = WindowRule::new(100, 1_000_007);
        assert!(granularity_us * span >= 1_000_007);
        assert!(granularity_us * span < 1_000_007 + 16);
    }

    #[test]
    fn refuses_limits_it_cannot_count_exactly() {
        let w = Duration::from_secs(1);
        assert_eq!(LimitSpec::new("a", 0, w, None), Err(SpecError::ZeroLimit));
        assert_eq!(
            LimitSpec::new("a", 1, w, Some(0)),
            Err(SpecError::ZeroBurst)
        );
        assert_eq!(
            LimitSpec::new("a", 1, Duration::from_nanos(999), None),
            Err(SpecError::WindowTooShort)
        );
        assert_eq!(
            LimitSpec::new("a", 1, Duration::from_secs(86_400), Some(1 << 20)),
            Err(SpecError::TooLarge)
        );
        assert_eq!(
            LimitSpec::new("a", u64::MAX, w, None),
            Err(SpecError::TooLarge)
        );
        assert_eq!(
            LimitSpec::new("a", 1, Duration::MAX, None),
            Err(SpecError::TooLarge)
        );
        assert!(LimitSpec::new("a", 50, w, Some(100)).is_ok());
    }
}
