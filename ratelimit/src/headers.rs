//! Response headers for a verdict: IETF `RateLimit-Policy` / `RateLimit`, `X-RateLimit-*`, `Retry-After`.

use std::fmt::Write as _;

use crate::verdict::{LimitState, Verdict};

/// The rate-limit response headers for `verdict`, as (lowercase name, value) pairs ready for
/// `HeaderName::from_static`.
///
/// - `ratelimit-policy` lists every limit as `"name";q=<limit>;w=<window s>` (plus `;specgate-burst=<B>`
///   for a token bucket, whose `q`/`w` are its sustained rate), and `ratelimit` its state as
///   `"name";r=<remaining>;t=<s until more quota>` (`t` left out while nothing is counted): all limits,
///   since each may be the one that binds next (draft-ietf-httpapi-ratelimit-headers lists both fields).
/// - `x-ratelimit-limit`, `-remaining`, `-reset` (seconds) describe the tightest limit: the fewest
///   remaining, then the longest reset (Kong's choice, which clients of older conventions read).
/// - A refusal adds `retry-after`: at least 1 s and never before `t` of any limit with nothing remaining.
/// - `hide` (`rate-limit-headers: false`) keeps only `retry-after`.
///
/// An unavailable verdict (Redis down, fallback closed) gets `retry-after: 1`: Redis is tried again each
/// second.
pub fn headers(verdict: &Verdict, hide: bool) -> Vec<(&'static str, String)> {
    let (limits, retry_after) = match verdict {
        Verdict::Admitted { limits } => (limits, None),
        Verdict::Refused {
            limits,
            retry_after,
        } => {
            let exhausted = limits
                .iter()
                .filter(|l| l.remaining == 0)
                .map(LimitState::reset_secs);
            (limits, Some(exhausted.fold(*retry_after, u64::max).max(1)))
        }
        Verdict::Unavailable => return vec![("retry-after", "1".to_owned())],
    };
    let mut out = Vec::with_capacity(6);
    if !hide && let Some(tightest) = tightest(limits) {
        // Written in place, one string per header: this runs on every rate-limited request.
        let mut policy = String::with_capacity(32 * limits.len());
        let mut state = String::with_capacity(32 * limits.len());
        for (i, l) in limits.iter().enumerate() {
            if i > 0 {
                policy.push_str(", ");
                state.push_str(", ");
            }
            push_sf_string(&mut policy, &l.name);
            let _ = write!(policy, ";q={};w={}", l.limit, l.window_secs());
            if let Some(burst) = l.burst {
                let _ = write!(policy, ";specgate-burst={burst}");
            }
            push_sf_string(&mut state, &l.name);
            let _ = write!(state, ";r={}", l.remaining);
            if !l.reset.is_zero() {
                let _ = write!(state, ";t={}", l.reset_secs());
            }
        }
        out.push(("ratelimit-policy", policy));
        out.push(("ratelimit", state));
        out.push(("x-ratelimit-limit", tightest.limit.to_string()));
        out.push(("x-ratelimit-remaining", tightest.remaining.to_string()));
        out.push(("x-ratelimit-reset", tightest.reset_secs().to_string()));
    }
    if let Some(seconds) = retry_after {
        out.push(("retry-after", seconds.to_string()));
    }
    out
}

fn tightest(limits: &[LimitState]) -> Option<&LimitState> {
    limits.iter().min_by(|a, b| {
        a.remaining
            .cmp(&b.remaining)
            .then_with(|| b.reset.cmp(&a.reset))
    })
}

/// A structured-field string: printable ASCII, `"` and `\` escaped, anything else replaced by `?`.
fn push_sf_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    fn state(name: &str, limit: u64, window: u64, remaining: u64, reset_ms: u64) -> LimitState {
        LimitState {
            name: Arc::from(name),
            limit,
            window: Duration::from_secs(window),
            burst: None,
            remaining,
            reset: Duration::from_millis(reset_ms),
            exceeded: false,
        }
    }

    #[test]
    fn admitted_lists_every_limit_and_the_tightest_in_x_headers() {
        let mut throttle = state("throttle", 50, 1, 99, 20);
        throttle.burst = Some(100);
        let verdict = Verdict::Admitted {
            limits: vec![
                state("per-minute", 60, 60, 12, 29_001),
                state("per-hour", 1000, 3600, 12, 1_800_000),
                throttle,
            ],
        };
        assert_eq!(
            headers(&verdict, false),
            [
                (
                    "ratelimit-policy",
                    "\"per-minute\";q=60;w=60, \"per-hour\";q=1000;w=3600, \"throttle\";q=50;w=1;specgate-burst=100"
                        .to_owned()
                ),
                (
                    "ratelimit",
                    "\"per-minute\";r=12;t=30, \"per-hour\";r=12;t=1800, \"throttle\";r=99;t=1".to_owned()
                ),
                ("x-ratelimit-limit", "1000".to_owned()),
                ("x-ratelimit-remaining", "12".to_owned()),
                ("x-ratelimit-reset", "1800".to_owned()),
            ]
        );
        assert!(headers(&verdict, true).is_empty());
    }

    #[test]
    fn refused_adds_retry_after_never_before_t() {
        let mut minute = state("per-minute", 60, 60, 0, 30_500);
        minute.exceeded = true;
        let verdict = Verdict::Refused {
            limits: vec![minute, state("per-hour", 1000, 3600, 900, 3_000_000)],
            // Smaller than the limit's t on purpose: the headers never point earlier than t.
            retry_after: 30,
        };
        let h = headers(&verdict, false);
        assert_eq!(h[1].1, "\"per-minute\";r=0;t=31, \"per-hour\";r=900;t=3000");
        assert_eq!(h[4], ("x-ratelimit-reset", "31".to_owned()));
        assert_eq!(h[5], ("retry-after", "31".to_owned()));
        assert_eq!(headers(&verdict, true), [("retry-after", "31".to_owned())]);
    }

    #[test]
    fn full_quota_omits_t_and_names_are_escaped() {
        let verdict = Verdict::Admitted {
            limits: vec![state("a \"q\" \\ é\n", 5, 1, 5, 0)],
        };
        let h = headers(&verdict, false);
        assert_eq!(h[0].1, r#""a \"q\" \\ ??";q=5;w=1"#);
        assert_eq!(h[1].1, r#""a \"q\" \\ ??";r=5"#);
        assert_eq!(h[4].1, "0");
    }

    #[test]
    fn no_limits_no_headers_and_unavailable_says_retry() {
        assert!(headers(&Verdict::Admitted { limits: vec![] }, false).is_empty());
        assert_eq!(
            headers(&Verdict::Unavailable, true),
            [("retry-after", "1".to_owned())]
        );
    }
}
