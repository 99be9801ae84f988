//! The answer to a check: admitted, refused with per-limit states and `retry_after`, or unavailable.

use std::sync::Arc;
use std::time::Duration;

use crate::counter::Reading;
use crate::spec::{LimitSpec, Rule};

/// The outcome of [`Limiter::check`](crate::Limiter::check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every limit admitted the request, which now counts against each of them.
    Admitted {
        /// One state per limit of the request, in its order, after counting the request.
        limits: Vec<LimitState>,
    },
    /// At least one limit refused; the request counts against none of them.
    Refused {
        /// One state per limit of the request, in its order (`exceeded` marks the refusing ones).
        limits: Vec<LimitState>,
        /// Whole seconds (at least 1) after which every refusing limit has room for one request again.
        retry_after: u64,
    },
    /// The shared store is unreachable and the fallback is closed: answer 503.
    Unavailable,
}

impl Verdict {
    /// The request may proceed.
    pub fn is_admitted(&self) -> bool {
        matches!(self, Self::Admitted { .. })
    }

    /// Per-limit states (none when unavailable).
    pub fn limits(&self) -> &[LimitState] {
        match self {
            Self::Admitted { limits } | Self::Refused { limits, .. } => limits,
            Self::Unavailable => &[],
        }
    }
}

/// Where one limit stands after a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitState {
    /// The limit's name, for headers and metrics.
    pub name: Arc<str>,
    /// Requests per window (sustained, for a token bucket).
    pub limit: u64,
    /// The limit's window.
    pub window: Duration,
    /// Size of the token bucket, if the limit is one.
    pub burst: Option<u64>,
    /// Requests this limit would still admit right now.
    pub remaining: u64,
    /// Time until `remaining` grows (a counted request leaves the window, or a token is back); zero when
    /// nothing is counted.
    pub reset: Duration,
    /// This limit is one that refused the request.
    pub exceeded: bool,
}

impl LimitState {
    /// `reset` in whole seconds, rounded up.
    pub fn reset_secs(&self) -> u64 {
        ceil_secs(self.reset)
    }

    /// The window in whole seconds, rounded up and at least 1.
    pub fn window_secs(&self) -> u64 {
        ceil_secs(self.window).max(1)
    }
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// The request's limits with identical rules and keys merged, so a limit listed twice counts once.
#[derive(Debug)]
pub(crate) struct Distinct<'a> {
    /// Each distinct (rule, key).
    pub(crate) items: Vec<(Rule, &'a str)>,
    /// For each limit of the request, its index in `items`.
    pub(crate) of: Vec<usize>,
}

impl<'a> Distinct<'a> {
    pub(crate) fn new(request: &'a [(LimitSpec, String)]) -> Self {
        let mut items: Vec<(Rule, &str)> = Vec::with_capacity(request.len());
        let of = request
            .iter()
            .map(|(spec, key)| {
                let item = (spec.rule(), key.as_str());
                items.iter().position(|i| *i == item).unwrap_or_else(|| {
                    items.push(item);
                    items.len() - 1
                })
            })
            .collect();
        Self { items, of }
    }

    /// The verdict from each distinct item's reading: after counting when `admitted`, before otherwise.
    pub(crate) fn verdict(
        &self,
        request: &[(LimitSpec, String)],
        readings: &[Reading],
        admitted: bool,
    ) -> Verdict {
        let mut wait_us = 0;
        let limits = request
            .iter()
            .zip(&self.of)
            .map(|((spec, _), &i)| {
                let reading = readings.get(i).copied().unwrap_or(Reading {
                    conforms: true,
                    remaining: spec.burst().unwrap_or(spec.limit()),
                    reset_us: 0,
                    wait_us: 0,
                });
                let exceeded = !admitted && !reading.conforms;
                if exceeded {
                    wait_us = wait_us.max(reading.wait_us);
                }
                LimitState {
                    name: spec.shared_name(),
                    limit: spec.limit(),
                    window: spec.window(),
                    burst: spec.burst(),
                    remaining: reading.remaining,
                    reset: Duration::from_micros(reading.reset_us),
                    exceeded,
                }
            })
            .collect();
        if admitted {
            Verdict::Admitted { limits }
        } else {
            Verdict::Refused {
                limits,
                retry_after: ceil_secs(Duration::from_micros(wait_us)).max(1),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_merge_and_retry_after_rounds_up() {
        let a = LimitSpec::new("a", 5, Duration::from_secs(60), None).unwrap();
        let b = LimitSpec::new("b", 5, Duration::from_secs(60), Some(2)).unwrap();
        let request = vec![
            (a.clone(), "k".to_owned()),
            (b, "k".to_owned()),
            (a, "k".to_owned()),
        ];
        let distinct = Distinct::new(&request);
        assert_eq!(distinct.items.len(), 2);
        assert_eq!(distinct.of, [0, 1, 0]);
        let refused = Reading {
            conforms: false,
            remaining: 0,
            reset_us: 2_000_001,
            wait_us: 2_000_001,
        };
        let fine = Reading {
            conforms: true,
            remaining: 1,
            reset_us: 9_000_000,
            wait_us: 0,
        };
        let Verdict::Refused {
            limits,
            retry_after,
        } = distinct.verdict(&request, &[refused, fine], false)
        else {
            panic!("refused expected")
        };
        assert_eq!(retry_after, 3);
        assert_eq!(
            limits.iter().map(|l| l.exceeded).collect::<Vec<_>>(),
            [true, false, true]
        );
        assert_eq!(limits[1].reset_secs(), 9);
        assert_eq!(limits[0].window_secs(), 60);
    }
}
