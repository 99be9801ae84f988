//! Counters and a latency histogram, exposed in the Prometheus text format on the admin listener.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// operation → (status, decision) → requests. Keyed by operation first so that counting a
    /// request looks it up by `&str`, without allocating.
    requests: HashMap<String, BTreeMap<(u16, &'static str), u64>>,
    /// Refusal reason → requests.
    rejections: BTreeMap<&'static str, u64>,
    /// Cumulative counts per bucket, then the count above the last bucket.
    latency: [u64; BUCKETS.len() + 1],
    latency_sum: f64,
    latency_count: u64,
}

impl Metrics {
    pub fn record(
        &self,
        operation: Option<&str>,
        status: u16,
        decision: &'static str,
        reason: Option<&'static str>,
        latency: Duration,
    ) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        let operation = operation.unwrap_or("");
        let per_operation = match inner.requests.get_mut(operation) {
            Some(counts) => counts,
            None => inner.requests.entry(operation.to_owned()).or_default(),
        };
        *per_operation.entry((status, decision)).or_default() += 1;
        if let Some(reason) = reason {
            *inner.rejections.entry(reason).or_default() += 1;
        }
        let seconds = latency.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(BUCKETS.len());
        inner.latency[bucket] += 1;
        inner.latency_sum += seconds;
        inner.latency_count += 1;
    }

    /// The Prometheus text exposition of every metric, the requests' and `state`'s.
    pub fn render(&self, state: &State<'_>) -> String {
        let State {
            plan_loads,
            limiter,
            log_lines_dropped,
            connections_open,
            max_connections,
        } = *state;
        let Ok(inner) = self.inner.lock() else {
            return String::new();
        };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP specgate_requests_total Requests by operation, status and decision.\n# TYPE specgate_requests_total counter"
        );
        let mut operations: Vec<_> = inner.requests.iter().collect();
        operations.sort_by_key(|(operation, _)| *operation);
        let rows = operations.into_iter().flat_map(|(operation, counts)| {
            counts
                .iter()
                .map(move |((status, decision), n)| (operation, status, decision, n))
        });
        for (operation, status, decision, n) in rows {
            let _ = writeln!(
                out,
                "specgate_requests_total{{operation=\"{}\",status=\"{status}\",decision=\"{decision}\"}} {n}",
                escape(operation)
            );
        }
        let _ = writeln!(
            out,
            "# HELP specgate_rejections_total Refused requests by reason.\n# TYPE specgate_rejections_total counter"
        );
        for (reason, n) in &inner.rejections {
            let _ = writeln!(out, "specgate_rejections_total{{reason=\"{reason}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP specgate_request_duration_seconds Time from request head to answer head.\n# TYPE specgate_request_duration_seconds histogram"
        );
        let mut cumulative = 0;
        for (bound, n) in BUCKETS.iter().zip(inner.latency.iter()) {
            cumulative += n;
            let _ = writeln!(
                out,
                "specgate_request_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "specgate_request_duration_seconds_bucket{{le=\"+Inf\"}} {}",
            inner.latency_count
        );
        let _ = writeln!(
            out,
            "specgate_request_duration_seconds_sum {}",
            inner.latency_sum
        );
        let _ = writeln!(
            out,
            "specgate_request_duration_seconds_count {}",
            inner.latency_count
        );
        let _ = writeln!(
            out,
            "# HELP specgate_plan_loads_total Plans loaded.\n# TYPE specgate_plan_loads_total counter\nspecgate_plan_loads_total {plan_loads}"
        );
        let counters = [
            (
                "redis_checks_total",
                "Rate-limit checks answered by Redis.",
                limiter.redis_checks,
            ),
            (
                "redis_errors_total",
                "Redis calls that failed or timed out.",
                limiter.redis_errors,
            ),
            (
                "redis_outages_total",
                "Times Redis was marked unreachable.",
                limiter.outages,
            ),
            (
                "fallback_local_total",
                "Checks decided in process while Redis was down (fallback open).",
                limiter.fallback_local,
            ),
            (
                "fallback_unavailable_total",
                "Checks answered 503 while Redis was down (fallback closed).",
                limiter.fallback_unavailable,
            ),
            (
                "local_evictions_total",
                "Live keys evicted from the in-process store to stay within its bound.",
                limiter.local_evictions,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP specgate_ratelimit_{name} {help}\n# TYPE specgate_ratelimit_{name} counter\nspecgate_ratelimit_{name} {value}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP specgate_log_lines_dropped_total Access-log lines dropped because standard output could not keep up.\n# TYPE specgate_log_lines_dropped_total counter\nspecgate_log_lines_dropped_total {log_lines_dropped}"
        );
        let _ = writeln!(
            out,
            "# HELP specgate_connections_open Client connections being served.\n# TYPE specgate_connections_open gauge\nspecgate_connections_open {connections_open}\n# HELP specgate_connections_max Client connections served at once at most (--max-connections).\n# TYPE specgate_connections_max gauge\nspecgate_connections_max {max_connections}"
        );
        let _ = writeln!(
            out,
            "# HELP specgate_ratelimit_redis_down 1 while Redis is unreachable.\n# TYPE specgate_ratelimit_redis_down gauge\nspecgate_ratelimit_redis_down {}",
            limiter.redis_down
        );
        out
    }
}

/// What the metrics show besides the requests: counts the rest of the sidecar keeps.
#[derive(Debug, Clone, Copy)]
pub struct State<'a> {
    pub plan_loads: u64,
    pub limiter: &'a specgate_ratelimit::Stats,
    pub log_lines_dropped: u64,
    pub connections_open: usize,
    pub max_connections: usize,
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_a_cumulative_histogram() {
        let m = Metrics::default();
        m.record(
            Some("getNote"),
            200,
            "forward",
            None,
            Duration::from_micros(300),
        );
        m.record(
            Some("getNote"),
            400,
            "deny",
            Some("invalid-parameters"),
            Duration::from_millis(3),
        );
        let text = m.render(&State {
            plan_loads: 1,
            limiter: &specgate_ratelimit::Stats::default(),
            log_lines_dropped: 0,
            connections_open: 3,
            max_connections: 4096,
        });
        assert!(
            text.contains(
                "specgate_requests_total{operation=\"getNote\",status=\"400\",decision=\"deny\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("specgate_rejections_total{reason=\"invalid-parameters\"} 1"));
        assert!(text.contains("specgate_request_duration_seconds_bucket{le=\"0.0005\"} 1"));
        assert!(text.contains("specgate_request_duration_seconds_bucket{le=\"+Inf\"} 2"));
        assert!(text.contains("specgate_plan_loads_total 1"));
        assert!(text.contains("specgate_connections_open 3\n"));
        assert!(text.contains("specgate_connections_max 4096\n"));
    }
}
