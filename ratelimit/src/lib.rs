//! Rate limiting for specgate: exact limits, in process or shared across replicas through Redis.
//!
//! A request is checked against all its limits at once ([`Limiter::check`]); each limit comes with the
//! caller's key for it (limit name + key kind + value, e.g. `per-minute:credential:alice`). Either every
//! limit admits the request and it counts against each, or it counts against none (all or nothing, so a
//! request refused by the hourly limit does not use up the per-minute one). Time is an input of the
//! counting core (microseconds), which makes it pure and testable; [`LocalStore::check_at`] and
//! [`RedisStore::check_at`] expose it.
//!
//! # Limits without burst: sliding window, never more than L in any window
//!
//! "L requests per W" counts admitted requests in buckets of width g and admits a request at time t when
//! the requests counted in the current bucket and the p = ⌈W/g⌉ buckets before it, plus this one, are at
//! most L. Those buckets cover at least the last W (p·g ≥ W), so:
//!
//! - **Guarantee**: at most L requests are admitted in *any* interval [a, a + W), wherever it starts
//!   (unlike fixed windows, which admit 2L across a boundary).
//! - **Cost**: a request is refused only when L requests were admitted within the last (p + 1)·g; an exact
//!   log would admit it once those are older than W, so a refusal lasts at most (p + 1)·g − W longer.
//! - L ≤ 16: g = 1 µs, an exact log of the admitted times (at most L entries): a request is admitted
//!   exactly when fewer than L were admitted in [t − W, t], so the cost is 1 µs.
//! - L > 16: g = ⌈W/16⌉, 17 counters at most whatever L; the counted span lies between W and
//!   W + W/16 + 16 µs, so a client that used its whole quota at once waits at most W/16 (+ 16 µs) longer
//!   than with an exact log.
//!
//! Memory per key: at most min(L, 17) (bucket, count) pairs.
//!
//! # Limits with burst: token bucket as GCRA
//!
//! With `burst` B, emission interval T = W/L and tolerance τ = T·(B − 1), kept exactly (times are scaled
//! by L, so no rounding): a request at t is admitted when TAT − t ≤ τ, then TAT = max(TAT, t) + T. A full
//! bucket admits B at once; sustained, L per W; idle for B·T, it is full again.
//!
//! - **Guarantee**: admitted requests satisfy, for every admitted aᵢ before an admitted t,
//!   (number admitted in [aᵢ, t]) ≤ B + (t − aᵢ)·L/W, and a request is admitted exactly when that still
//!   holds with it. Hence in any closed interval of duration D at most B + ⌊D·L/W⌋ are admitted:
//!   **at most B + L − 1 in any [a, a + W)**, and B + L in [a, a + W]. Both are reached: B at once, then
//!   one every T.
//!
//! # What a check reports
//!
//! Per limit ([`LimitState`]): `remaining` (requests it would admit right now), `reset` (time until
//! `remaining` grows: the oldest counted bucket leaves the window, or the next token is back; zero when
//! nothing is counted). A refusal carries `retry_after` in whole seconds: at least 1, and never before
//! every refusing limit has room again. [`headers`] turns this into response headers.
//!
//! # Stores
//!
//! [`LocalStore`] keeps counters in process (sharded, bounded in keys); [`RedisStore`] keeps them in Redis,
//! one atomic script and one round trip per check, on Redis's clock. [`Limiter`] is the front: local, or
//! Redis with a [`Fallback`] for outages.
#![forbid(unsafe_code)]

mod counter;
mod headers;
mod limiter;
mod local;
mod redis_store;
mod spec;
mod verdict;

pub use headers::headers;
pub use limiter::{Fallback, Limiter, RedisSettings, Stats};
pub use local::LocalStore;
pub use redis_store::{RedisStore, SetupError, StoreError};
pub use spec::{LimitSpec, SpecError};
pub use verdict::{LimitState, Verdict};
