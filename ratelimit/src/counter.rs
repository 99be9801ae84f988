//! The pure counting core: one limit's state, read and advanced at a given time in microseconds.
//!
//! `src/check.lua` computes exactly the same numbers inside Redis; the Redis tests compare the two.

use crate::spec::{GcraRule, Rule, WindowRule};

/// One limit's answer at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reading {
    /// One more request would be admitted by this limit.
    pub(crate) conforms: bool,
    /// Requests this limit would admit now, one after another.
    pub(crate) remaining: u64,
    /// Microseconds until `remaining` grows (0 when nothing is counted against the limit).
    pub(crate) reset_us: u64,
    /// Microseconds until one more request conforms (0 when it does now).
    pub(crate) wait_us: u64,
}

/// A limit's rule with its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Counter {
    Window(WindowRule, WindowState),
    Gcra(GcraRule, GcraState),
}

impl Counter {
    /// A limit nothing has been counted against.
    pub(crate) fn new(rule: Rule) -> Self {
        match rule {
            Rule::Window(r) => Self::Window(r, WindowState::default()),
            Rule::Gcra(r) => Self::Gcra(r, GcraState::default()),
        }
    }

    pub(crate) fn rule(&self) -> Rule {
        match self {
            Self::Window(r, _) => Rule::Window(*r),
            Self::Gcra(r, _) => Rule::Gcra(*r),
        }
    }

    pub(crate) fn reading(&self, now: u64) -> Reading {
        match self {
            Self::Window(r, s) => s.reading(r, now),
            Self::Gcra(r, s) => s.reading(r, now),
        }
    }

    /// Counts one admitted request (the caller has checked that it conforms).
    pub(crate) fn admit(&mut self, now: u64) {
        match self {
            Self::Window(r, s) => s.admit(r, now),
            Self::Gcra(r, s) => s.admit(r, now),
        }
    }

    /// Nothing counted any more: the state equals a new one and can be dropped.
    pub(crate) fn is_idle(&self, now: u64) -> bool {
        match self {
            Self::Window(r, s) => s.is_idle(r, now),
            Self::Gcra(r, s) => s.is_idle(r, now),
        }
    }
}

/// Non-empty buckets `(index, count)`, oldest first; bucket `i` holds requests admitted in
/// `[i × granularity, (i + 1) × granularity)` µs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct WindowState {
    buckets: Vec<(u64, u64)>,
}

impl WindowState {
    /// The current bucket; a clock that stepped back keeps counting into the newest one.
    fn current(&self, rule: &WindowRule, now: u64) -> u64 {
        let idx = now / rule.granularity_us;
        self.buckets
            .last()
            .map_or(idx, |&(newest, _)| newest.max(idx))
    }

    /// Index of the first bucket still counted at `current`.
    fn first_counted(&self, rule: &WindowRule, current: u64) -> usize {
        let low = current.saturating_sub(rule.span);
        self.buckets.partition_point(|&(i, _)| i < low)
    }

    /// When bucket `i` stops being counted.
    fn leaves_at(rule: &WindowRule, i: u64) -> u64 {
        i.saturating_add(rule.span)
            .saturating_add(1)
            .saturating_mul(rule.granularity_us)
    }

    fn reading(&self, rule: &WindowRule, now: u64) -> Reading {
        let current = self.current(rule, now);
        let counted = &self.buckets[self.first_counted(rule, current)..];
        let sum = counted.iter().fold(0u64, |s, &(_, c)| s.saturating_add(c));
        let conforms = sum < rule.limit;
        let reset_us = counted.first().map_or(0, |&(oldest, _)| {
            Self::leaves_at(rule, oldest).saturating_sub(now)
        });
        let mut wait_us = 0;
        if !conforms {
            let mut left = sum;
            for &(i, c) in counted {
                left = left.saturating_sub(c);
                if left < rule.limit {
                    wait_us = Self::leaves_at(rule, i).saturating_sub(now);
                    break;
                }
            }
        }
        Reading {
            conforms,
            remaining: rule.limit.saturating_sub(sum),
            reset_us,
            wait_us,
        }
    }

    fn admit(&mut self, rule: &WindowRule, now: u64) {
        let current = self.current(rule, now);
        let first = self.first_counted(rule, current);
        self.buckets.drain(..first);
        match self.buckets.last_mut() {
            Some((i, c)) if *i == current => *c = c.saturating_add(1),
            _ => self.buckets.push((current, 1)),
        }
    }

    fn is_idle(&self, rule: &WindowRule, now: u64) -> bool {
        let current = self.current(rule, now);
        self.first_counted(rule, current) == self.buckets.len()
    }
}

/// Theoretical arrival time of the next request, in µs × limit (0: never used).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct GcraState {
    tat: u128,
}

impl GcraState {
    /// How far the theoretical arrival time is ahead of `now`, in µs × limit.
    fn debt(&self, rule: &GcraRule, now: u64) -> u128 {
        self.tat
            .saturating_sub(u128::from(now) * u128::from(rule.limit))
    }

    fn reading(&self, rule: &GcraRule, now: u64) -> Reading {
        let (w, b, l) = (
            u128::from(rule.window_us),
            u128::from(rule.burst),
            u128::from(rule.limit),
        );
        let debt = self.debt(rule, now);
        let tolerance = w * (b - 1);
        let remaining = (w * b).saturating_sub(debt) / w;
        // `remaining` grows by one once the debt is down to what leaves room for `remaining + 1`.
        let reset = if remaining >= b {
            0
        } else {
            debt.saturating_sub(w * (b - remaining - 1)).div_ceil(l)
        };
        let wait = debt.saturating_sub(tolerance).div_ceil(l);
        Reading {
            conforms: debt <= tolerance,
            remaining: clamp(remaining),
            reset_us: clamp(reset),
            wait_us: clamp(wait),
        }
    }

    fn admit(&mut self, rule: &GcraRule, now: u64) {
        let now = u128::from(now) * u128::from(rule.limit);
        self.tat = self.tat.max(now) + u128::from(rule.window_us);
    }

    fn is_idle(&self, rule: &GcraRule, now: u64) -> bool {
        self.debt(rule, now) == 0
    }
}

fn clamp(n: u128) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;
    use crate::LimitSpec;

    const SEC: u64 = 1_000_000;

    fn counter(limit: u64, window_us: u64, burst: Option<u64>) -> Counter {
        Counter::new(
            LimitSpec::new("t", limit, Duration::from_micros(window_us), burst)
                .unwrap()
                .rule(),
        )
    }

    /// Admits at `now` when the counter conforms; returns whether it did.
    fn offer(c: &mut Counter, now: u64) -> bool {
        let ok = c.reading(now).conforms;
        if ok {
            c.admit(now);
        }
        ok
    }

    #[test]
    fn exact_log_admits_the_limit_and_again_exactly_one_window_later() {
        let mut c = counter(3, 10 * SEC, None);
        assert!(offer(&mut c, 100));
        assert!(offer(&mut c, 2 * SEC));
        assert!(offer(&mut c, 2 * SEC));
        let r = c.reading(5 * SEC);
        assert_eq!((r.conforms, r.remaining), (false, 0));
        // The request at 100 µs counts through 10 s + 100 µs inclusive.
        assert_eq!(r.wait_us, 10 * SEC + 101 - 5 * SEC);
        assert_eq!(r.reset_us, r.wait_us);
        assert!(!offer(&mut c, 10 * SEC + 100));
        assert!(offer(&mut c, 10 * SEC + 101));
        // Then the two at 2 s hold it until 12 s + 1 µs, when both leave at once.
        let r = c.reading(11 * SEC);
        assert_eq!((r.remaining, r.wait_us), (0, SEC + 1));
        assert_eq!(c.reading(12 * SEC + 1).remaining, 2);
    }

    #[test]
    fn buckets_count_the_window_and_release_a_bucket_at_a_time() {
        // 32 per 16 s: buckets of 1 s, the current one and 16 before it counted.
        let mut c = counter(32, 16 * SEC, None);
        for _ in 0..20 {
            assert!(offer(&mut c, SEC / 2));
        }
        for _ in 0..12 {
            assert!(offer(&mut c, 3 * SEC));
        }
        let r = c.reading(5 * SEC);
        assert_eq!((r.conforms, r.remaining), (false, 0));
        // Bucket 0 is counted through bucket 16, so it frees its 20 at 17 s.
        assert_eq!(r.wait_us, 12 * SEC);
        assert_eq!(r.reset_us, 12 * SEC);
        assert!(!offer(&mut c, 17 * SEC - 1));
        let r = c.reading(17 * SEC);
        assert_eq!((r.remaining, r.reset_us), (20, 3 * SEC));
        assert!(c.reading(20 * SEC - 1).remaining == 20);
        assert!(c.reading(20 * SEC).remaining == 32);
        assert!(c.is_idle(20 * SEC));
        assert!(!c.is_idle(20 * SEC - 1));
    }

    #[test]
    fn wait_skips_buckets_that_free_too_little() {
        let mut c = counter(20, 16 * SEC, None);
        offer(&mut c, 0);
        for _ in 0..19 {
            offer(&mut c, 2 * SEC);
        }
        let r = c.reading(3 * SEC);
        assert_eq!((r.remaining, r.reset_us), (0, 14 * SEC));
        assert_eq!(r.wait_us, 14 * SEC);
        offer(&mut c, 17 * SEC);
        let r = c.reading(17 * SEC);
        assert_eq!(r.remaining, 0);
        // The bucket at 17 s holds one; the 19 at 2 s leave at 19 s, enough for the next request.
        assert_eq!(r.wait_us, 2 * SEC);
    }

    #[test]
    fn token_bucket_admits_the_burst_then_the_rate() {
        // 10 per second sustained, 5 at once: T = 100 ms.
        let mut c = counter(10, SEC, Some(5));
        assert_eq!(c.reading(0).remaining, 5);
        assert_eq!(c.reading(0).reset_us, 0);
        for _ in 0..5 {
            assert!(offer(&mut c, 7 * SEC));
        }
        let r = c.reading(7 * SEC);
        assert_eq!(
            (r.conforms, r.remaining, r.wait_us, r.reset_us),
            (false, 0, 100_000, 100_000)
        );
        assert!(!offer(&mut c, 7 * SEC + 99_999));
        assert!(offer(&mut c, 7 * SEC + 100_000));
        assert!(!offer(&mut c, 7 * SEC + 100_000));
        let r = c.reading(7 * SEC + 150_000);
        assert_eq!((r.remaining, r.reset_us), (0, 50_000));
        // Full again after B × T without requests.
        let r = c.reading(7 * SEC + 600_000);
        assert_eq!((r.remaining, r.reset_us), (5, 0));
        assert!(c.is_idle(7 * SEC + 600_000));
        assert!(!c.is_idle(7 * SEC + 599_999));
    }

    #[test]
    fn token_bucket_with_an_inexact_interval_keeps_the_remainder() {
        // 3 per second: T = 333 333⅓ µs, kept exactly rather than rounded.
        let mut c = counter(3, SEC, Some(3));
        for _ in 0..3 {
            assert!(offer(&mut c, 0));
        }
        // Three intervals make exactly one second: full again at 1 s, not a microsecond earlier.
        assert_eq!(c.reading(SEC - 1).remaining, 2);
        assert_eq!(c.reading(SEC).remaining, 3);
        let mut c = counter(3, SEC, Some(1));
        assert!(offer(&mut c, 0));
        assert_eq!(c.reading(333_333).wait_us, 1);
        assert!(!offer(&mut c, 333_333));
        assert!(offer(&mut c, 333_334));
        // Next at 333 334 + 333 333⅓.
        assert!(!offer(&mut c, 666_667));
        assert!(offer(&mut c, 666_668));
    }

    #[test]
    fn no_overflow_at_the_end_of_time() {
        for mut c in [
            counter(3, SEC, None),
            counter(100, SEC, None),
            counter(100, SEC, Some(7)),
        ] {
            for now in [u64::MAX - 1, u64::MAX] {
                let _ = offer(&mut c, now);
                let _ = c.reading(now);
                let _ = c.is_idle(now);
            }
            let _ = c.reading(0);
        }
    }

    /// Sorted arrival times in µs, with bursts of equal times, over about `span` µs.
    fn arrivals(span: u64) -> impl Strategy<Value = Vec<u64>> {
        prop::collection::vec((0..span / 20 + 1, 0u8..4), 1..120).prop_map(|gaps| {
            let mut t = 0;
            let mut out = Vec::new();
            for (gap, repeat) in gaps {
                t += gap;
                for _ in 0..=repeat {
                    out.push(t);
                }
            }
            out
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// Never more than L admitted in any [a, a + W); a refusal is justified within the bucket width; the
        /// reported remaining, reset and wait are exact.
        #[test]
        fn sliding_window_guarantees(
            limit in 1u64..40,
            window_us in 1u64..3_000_000,
            times in arrivals(6_000_000),
        ) {
            let mut c = counter(limit, window_us, None);
            let Counter::Window(rule, _) = c.clone() else { unreachable!() };
            let reach = rule.granularity_us * (rule.span + 1);
            prop_assert!(rule.granularity_us * rule.span >= window_us);
            prop_assert!(reach <= window_us + window_us / 16 + 17);
            let mut admitted: Vec<u64> = Vec::new();
            for &t in &times {
                let before = c.reading(t);
                check_reading(&c, t, &before)?;
                let in_reach = admitted.iter().filter(|&&s| s + reach > t).count() as u64;
                if offer(&mut c, t) {
                    admitted.push(t);
                } else {
                    // Refused only when the limit was used up within W plus one bucket.
                    prop_assert!(in_reach >= limit);
                }
                check_reading(&c, t, &c.reading(t))?;
            }
            for (i, &a) in admitted.iter().enumerate() {
                let in_window = admitted[i..].iter().take_while(|&&s| s < a + window_us).count() as u64;
                prop_assert!(in_window <= limit, "{} admitted in [{}, {} + W)", in_window, a, a);
            }
        }

        /// A limit of at most 16 is an exact log: admitted exactly when fewer than L were admitted in
        /// [t − W, t].
        #[test]
        fn small_window_is_exact(
            limit in 1u64..=16,
            window_us in 1u64..3_000_000,
            times in arrivals(6_000_000),
        ) {
            let mut c = counter(limit, window_us, None);
            let mut admitted: Vec<u64> = Vec::new();
            for &t in &times {
                let recent = admitted.iter().filter(|&&s| s + window_us >= t).count() as u64;
                prop_assert_eq!(offer(&mut c, t), recent < limit);
                if recent < limit {
                    admitted.push(t);
                }
            }
        }

        /// GCRA decides exactly as its closed form: a request at t is admitted when, for every admitted
        /// a_i, the requests from a_i through t fit in B + (t − a_i) × L / W. So at most B + ⌊D·L/W⌋ are
        /// admitted in any closed interval of duration D.
        #[test]
        fn token_bucket_guarantees(
            limit in 1u64..50,
            burst in 1u64..30,
            window_us in 1u64..3_000_000,
            times in arrivals(6_000_000),
        ) {
            let mut c = counter(limit, window_us, Some(burst));
            let mut admitted: Vec<u64> = Vec::new();
            for &t in &times {
                check_reading(&c, t, &c.reading(t))?;
                let m = admitted.len() as u128;
                let fits = admitted.iter().enumerate().all(|(i, &a)| {
                    (m - i as u128 + 1) * u128::from(window_us)
                        <= u128::from(burst) * u128::from(window_us)
                            + u128::from(t - a) * u128::from(limit)
                });
                prop_assert_eq!(offer(&mut c, t), fits);
                if fits {
                    admitted.push(t);
                }
            }
            for (i, &a) in admitted.iter().enumerate() {
                for (j, &b) in admitted.iter().enumerate().skip(i) {
                    let bound = u128::from(burst) + u128::from(b - a) * u128::from(limit) / u128::from(window_us);
                    prop_assert!((j - i + 1) as u128 <= bound);
                }
                let in_window = admitted[i..].iter().take_while(|&&s| s < a + window_us).count() as u64;
                prop_assert!(in_window < burst + limit);
            }
        }
    }

    proptest! {
        /// A clock that jumps anywhere, backwards included, never panics and never reports more than the
        /// limit (or burst) remaining.
        #[test]
        fn any_clock_is_safe(
            limit in 1u64..100,
            burst in prop::option::of(1u64..100),
            window_us in 1u64..10_000_000,
            times in prop::collection::vec(any::<u64>(), 1..50),
        ) {
            let mut c = counter(limit, window_us, burst);
            for t in times {
                let r = c.reading(t);
                prop_assert!(r.remaining <= burst.unwrap_or(limit));
                offer(&mut c, t);
                let _ = c.is_idle(t);
            }
        }
    }

    /// `remaining` requests conform now and no more; `remaining` grows at `reset_us` and not a
    /// microsecond earlier; one more conforms at `wait_us` and not earlier.
    fn check_reading(c: &Counter, now: u64, r: &Reading) -> Result<(), TestCaseError> {
        let mut probe = c.clone();
        for _ in 0..r.remaining {
            prop_assert!(probe.reading(now).conforms);
            probe.admit(now);
        }
        prop_assert!(!probe.reading(now).conforms);
        prop_assert_eq!(r.conforms, r.remaining > 0);
        prop_assert_eq!(r.conforms, r.wait_us == 0);
        if r.reset_us == 0 {
            prop_assert!(c.is_idle(now));
        } else {
            prop_assert!(c.reading(now + r.reset_us).remaining > r.remaining);
            prop_assert_eq!(c.reading(now + r.reset_us - 1).remaining, r.remaining);
        }
        if r.wait_us > 0 {
            prop_assert!(c.reading(now + r.wait_us).conforms);
            prop_assert!(!c.reading(now + r.wait_us - 1).conforms);
            prop_assert!(r.wait_us >= r.reset_us);
        }
        Ok(())
    }
}
