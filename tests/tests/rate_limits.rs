//! Rate limits through running sidecars: in process, and shared by two replicas through a real Redis
//! that is killed and restarted during the test.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use specgate_tests::process::*;
use specgate_tests::redis::RedisServer;

const SPEC: &str = "tests/fixtures/sidecar/limits.yaml";

#[test]
fn limits_answer_429_with_retry_after_and_ietf_and_legacy_headers() {
    let sidecar = start(SPEC, "echo");
    for n in 1..=5 {
        let answer = send(&sidecar, "GET", "/search", &[], b"");
        assert_eq!(answer.status, 200, "request {n}");
        assert_eq!(
            answer.header("ratelimit-policy"),
            Some(r#""per-ip";q=5;w=60"#)
        );
        let remaining = 5 - n;
        let state = answer.header("ratelimit").unwrap();
        assert!(
            state.starts_with(&format!(r#""per-ip";r={remaining};t="#)),
            "{state}"
        );
        assert_eq!(answer.header("x-ratelimit-limit"), Some("5"));
        assert_eq!(
            answer.header("x-ratelimit-remaining"),
            Some(remaining.to_string().as_str())
        );
    }
    let refused = send(&sidecar, "GET", "/search", &[], b"");
    assert_eq!(refused.status, 429);
    assert_eq!(
        refused.header("content-type"),
        Some("application/problem+json")
    );
    assert!(
        refused.json()["type"]
            .as_str()
            .unwrap()
            .ends_with("/rate-limited")
    );
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");

    // Counted by header value: each tenant has its own budget.
    for tenant in ["a", "b"] {
        for _ in 0..2 {
            let answer = send(&sidecar, "GET", "/tenants", &[("X-Tenant", tenant)], b"");
            assert_eq!(answer.status, 200);
        }
        let answer = send(&sidecar, "GET", "/tenants", &[("X-Tenant", tenant)], b"");
        assert_eq!(answer.status, 429, "tenant {tenant}");
    }

    // `rate-limit-headers: false`: nothing tells a client how many tries are left, but a 429 keeps
    // Retry-After.
    let first = send(&sidecar, "POST", "/login", &[], b"");
    assert_eq!(first.status, 200);
    assert_eq!(first.header("ratelimit"), None);
    assert_eq!(first.header("x-ratelimit-remaining"), None);
    let second = send(&sidecar, "POST", "/login", &[], b"");
    assert_eq!(second.status, 429);
    assert!(second.header("retry-after").is_some());
    assert_eq!(second.header("ratelimit-policy"), None);
}

/// Sends `count` requests spread over `threads` threads to the given sidecars in turn, and counts
/// the answers by status.
fn load(addresses: &[String], target: &str, count: usize, threads: usize) -> Vec<u16> {
    let next = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let next = next.clone();
            let addresses = addresses.to_vec();
            let target = target.to_owned();
            std::thread::spawn(move || {
                let mut statuses = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= count {
                        return statuses;
                    }
                    let address = &addresses[n % addresses.len()];
                    statuses.push(send_to(address, "GET", &target, &[], b"").status);
                }
            })
        })
        .collect();
    handles
        .into_iter()
        .flat_map(|h| h.join().expect("load thread"))
        .collect()
}

#[test]
fn two_replicas_share_one_budget_through_redis_and_survive_its_outage() {
    let mut redis = RedisServer::start();
    let url = redis.url();
    let replica = |fallback: &str| {
        start_with(
            SPEC,
            "echo",
            &[
                "--redis",
                &url,
                "--rate-limit-fallback",
                fallback,
                "--redis-timeout",
                "100ms",
            ],
        )
    };
    let open = replica("open");
    let closed = replica("closed");
    let both = [open.address.clone(), closed.address.clone()];

    // 60 concurrent requests over both replicas against one budget of 20 for the operation.
    let statuses = load(&both, "/shared", 60, 6);
    let admitted = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(admitted, 20, "one shared budget: {statuses:?}");
    assert_eq!(refused, 40);

    // Redis goes away: the replica with fallback open keeps serving (no 5xx), the closed one says 503.
    redis.stop();
    let during_open = load(&both[..1], "/search", 3, 1);
    assert!(during_open.iter().all(|s| *s == 200), "{during_open:?}");
    let during_closed = load(&both[1..], "/search", 3, 1);
    assert!(during_closed.iter().all(|s| *s == 503), "{during_closed:?}");

    // Redis is back (empty): shared limiting resumes by itself within a few seconds.
    redis.restart();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let probe = send_to(&both[1], "GET", "/tenants", &[("X-Tenant", "probe")], b"");
        if probe.status == 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the closed replica never recovered: {}",
            probe.status
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    // The open replica shares counts again once a request to it sees the closed replica's count.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    for round in 0.. {
        let tenant = format!("after-{round}");
        let first = send_to(&both[1], "GET", "/tenants", &[("X-Tenant", &tenant)], b"");
        assert_eq!(first.status, 200);
        let second = send_to(&both[0], "GET", "/tenants", &[("X-Tenant", &tenant)], b"");
        assert_eq!(second.status, 200);
        if second.header("x-ratelimit-remaining") == Some("0") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the open replica never shared counts again"
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }

    let metrics_of = |sidecar: &Sidecar| sidecar.stderr.lock().unwrap().join("\n");
    assert!(
        metrics_of(&open).contains("Redis"),
        "the outage is logged: {}",
        metrics_of(&open)
    );
}
