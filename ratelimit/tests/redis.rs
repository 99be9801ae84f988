//! The Redis store and limiter against a real `redis-server` started on a free loopback port.

use std::sync::Arc;
use std::time::{Duration, Instant};

use specgate_ratelimit::{
    Fallback, LimitSpec, Limiter, LocalStore, RedisSettings, RedisStore, Verdict,
};
use specgate_testkit::RedisServer;

/// A connection of the test's own, to look at what the limiter wrote.
async fn client(server: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

fn spec(name: &str, limit: u64, window: Duration, burst: Option<u64>) -> LimitSpec {
    LimitSpec::new(name, limit, window, burst).unwrap()
}

fn settings(fallback: Fallback) -> RedisSettings {
    RedisSettings {
        timeout: Duration::from_millis(250),
        fallback,
        ..RedisSettings::default()
    }
}

/// A small deterministic generator, so a failure replays identically.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[tokio::test]
async fn script_decides_exactly_as_the_in_process_core() {
    let server = RedisServer::start();
    let redis = RedisStore::new(&server.url(), "diff:", Duration::from_secs(5)).unwrap();
    let local = LocalStore::new(10_000);
    let specs = [
        spec("log", 5, Duration::from_secs(2), None),
        spec("buckets", 40, Duration::from_micros(3_000_007), None),
        spec("gcra", 7, Duration::from_secs(1), Some(5)),
        spec("gcra-inexact", 3, Duration::from_secs(1), Some(1)),
        spec("hourly", 1000, Duration::from_secs(3600), Some(20)),
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // Microseconds since the epoch, as Redis TIME gives them: large numbers, to exercise precision.
    let mut now: u64 = 1_750_000_000_000_000;
    let (mut admitted, mut refused) = (0, 0);
    for step in 0..1500 {
        now += match rng.below(10) {
            0..=3 => 0,
            4..=7 => rng.below(100_000),
            8 => rng.below(1_000_000),
            _ => rng.below(4_000_000),
        };
        let request: Vec<(LimitSpec, String)> = (0..1 + rng.below(3))
            .map(|_| {
                let spec = specs[rng.below(specs.len() as u64) as usize].clone();
                let key = format!("{}:ip:10.0.0.{}", spec.name(), rng.below(3));
                (spec, key)
            })
            .collect();
        let shared = redis.check_at(now, &request).await.unwrap();
        let expected = local.check_at(now, &request);
        assert_eq!(shared, expected, "step {step} at {now}");
        if expected.is_admitted() {
            admitted += 1;
        } else {
            refused += 1;
        }
    }
    // Both outcomes were exercised.
    assert!(
        admitted > 300 && refused > 200,
        "{admitted} admitted, {refused} refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_together_admit_no_more_than_the_bound() {
    let server = RedisServer::start();
    let replicas = [
        Arc::new(Limiter::redis(&server.url(), settings(Fallback::Closed)).unwrap()),
        Arc::new(Limiter::redis(&server.url(), settings(Fallback::Closed)).unwrap()),
    ];
    let window = spec("window", 50, Duration::from_secs(30), None);
    let bucket = spec("bucket", 20, Duration::from_secs(10), Some(10));
    let request = Arc::new(vec![
        (window.clone(), "window:operation".to_owned()),
        (bucket.clone(), "bucket:operation".to_owned()),
    ]);
    let only_window = Arc::new(vec![(window, "window:other".to_owned())]);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for replica in &replicas {
        for _ in 0..4 {
            let (replica, request, only_window) = (
                Arc::clone(replica),
                Arc::clone(&request),
                Arc::clone(&only_window),
            );
            tasks.push(tokio::spawn(async move {
                let (mut both, mut window) = (0u64, 0u64);
                for _ in 0..60 {
                    match replica.check(&request).await {
                        Verdict::Admitted { .. } => both += 1,
                        Verdict::Refused { .. } => {}
                        Verdict::Unavailable => panic!("Redis is up"),
                    }
                    if replica.check(&only_window).await.is_admitted() {
                        window += 1;
                    }
                }
                (both, window)
            }));
        }
    }
    let (mut both, mut window) = (0, 0);
    for task in tasks {
        let (b, w) = task.await.unwrap();
        both += b;
        window += w;
    }
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    // The window admits exactly its limit within a run shorter than the window.
    assert_eq!(window, 50);
    // The token bucket: B + ⌊D·L/W⌋ over the run's duration D (Redis's clock runs with ours).
    let bound = 10 + (elapsed.as_secs_f64() * 20.0 / 10.0).ceil() as u64;
    assert!(
        (10..=bound).contains(&both),
        "{both} admitted, bound {bound}"
    );
    for replica in &replicas {
        let stats = replica.stats();
        assert_eq!((stats.redis_checks, stats.redis_errors), (480, 0));
    }
}

#[tokio::test]
async fn one_evalsha_per_check_whatever_the_number_of_limits() {
    let server = RedisServer::start();
    let limiter = Limiter::redis(&server.url(), settings(Fallback::Closed)).unwrap();
    let request = vec![
        (
            spec("a", 100, Duration::from_secs(60), None),
            "a:k".to_owned(),
        ),
        (
            spec("b", 1000, Duration::from_secs(3600), None),
            "b:k".to_owned(),
        ),
        (
            spec("c", 10, Duration::from_secs(1), Some(50)),
            "c:k".to_owned(),
        ),
    ];
    // The first check loads the script.
    assert!(limiter.check(&request).await.is_admitted());
    let mut client = client(&server).await;
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(&mut client)
        .await
        .unwrap();
    for _ in 0..20 {
        assert!(limiter.check(&request).await.is_admitted());
    }
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut client)
        .await
        .unwrap();
    let calls = |command: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("cmdstat_{command}:calls=")))
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    assert_eq!(calls("evalsha"), 20, "{info}");
    assert_eq!(calls("eval") + calls("script"), 0, "{info}");
}

#[tokio::test]
async fn keys_carry_the_prefix_and_expire_just_after_their_window() {
    let server = RedisServer::start();
    let limiter = Limiter::redis(
        &server.url(),
        RedisSettings {
            prefix: "test:rl:".to_owned(),
            ..settings(Fallback::Closed)
        },
    )
    .unwrap();
    let request = vec![
        (
            spec("m", 100, Duration::from_secs(60), None),
            "m:ip:192.0.2.1".to_owned(),
        ),
        (
            spec("t", 10, Duration::from_secs(1), Some(5)),
            "t:ip:192.0.2.1".to_owned(),
        ),
    ];
    assert!(limiter.check(&request).await.is_admitted());
    let mut client = client(&server).await;
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut client)
        .await
        .unwrap();
    keys.sort();
    assert_eq!(
        keys,
        [
            "test:rl:{rl}:b10/1000000/5:t:ip:192.0.2.1",
            "test:rl:{rl}:w100/60000000:m:ip:192.0.2.1"
        ]
    );
    let pttl = |key: &str| {
        let mut client = client.clone();
        let key = key.to_owned();
        async move {
            redis::cmd("PTTL")
                .arg(key)
                .query_async::<i64>(&mut client)
                .await
                .unwrap()
        }
    };
    // Window: 16 buckets of 3.75 s plus the current one, and a second.
    let ttl = pttl(&keys[1]).await;
    assert!((60_000..=64_750).contains(&ttl), "{ttl}");
    // Token bucket after one request: one interval (100 ms) of debt, and a second.
    let ttl = pttl(&keys[0]).await;
    assert!((1_000..=1_100).contains(&ttl), "{ttl}");
}

/// Polls with cheap checks on a key of its own until the limiter uses Redis again.
async fn until_redis_is_back(limiter: &Limiter) {
    let poll = vec![(
        spec("poll", 1_000_000, Duration::from_secs(1), None),
        "poll".to_owned(),
    )];
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        limiter.check(&poll).await;
        if limiter.stats().redis_down == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "Redis not used again: {:?}",
            limiter.stats()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_then_restarted() {
    let mut server = RedisServer::start();
    let open = Limiter::redis(&server.url(), settings(Fallback::Open)).unwrap();
    let closed = Limiter::redis(&server.url(), settings(Fallback::Closed)).unwrap();
    let three = spec("three", 3, Duration::from_secs(60), None);
    let request = vec![(three.clone(), "three:ip:192.0.2.7".to_owned())];
    assert!(open.check(&request).await.is_admitted());
    assert!(closed.check(&request).await.is_admitted());

    server.stop();
    // Open: decided in process, from a fresh count; no error, no wait for the timeout on each check.
    let started = Instant::now();
    let mut outcomes = Vec::new();
    for _ in 0..10 {
        outcomes.push(open.check(&request).await.is_admitted());
    }
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(outcomes.iter().filter(|&&a| a).count(), 3, "{outcomes:?}");
    let stats = open.stats();
    assert_eq!(
        (
            stats.outages,
            stats.redis_errors,
            stats.redis_down,
            stats.fallback_local
        ),
        (1, 1, 1, 10)
    );
    // Closed: unavailable.
    for _ in 0..10 {
        assert_eq!(closed.check(&request).await, Verdict::Unavailable);
    }
    let stats = closed.stats();
    assert_eq!((stats.outages, stats.fallback_unavailable), (1, 10));

    server.restart();
    until_redis_is_back(&open).await;
    until_redis_is_back(&closed).await;
    // Shared again: what one replica counts, the other sees.
    let shared = vec![(three, "three:ip:192.0.2.8".to_owned())];
    for _ in 0..3 {
        assert!(closed.check(&shared).await.is_admitted());
    }
    assert!(matches!(open.check(&shared).await, Verdict::Refused { .. }));
    assert_eq!(open.stats().outages, 1);
    assert_eq!(closed.stats().outages, 1);
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_slower_than_the_timeout_is_an_outage_too() {
    let server = RedisServer::start();
    let limiter = Limiter::redis(
        &server.url(),
        RedisSettings {
            timeout: Duration::from_millis(100),
            ..settings(Fallback::Open)
        },
    )
    .unwrap();
    let request = vec![(
        spec("hundred", 100, Duration::from_secs(60), None),
        "hundred:ip:192.0.2.9".to_owned(),
    )];
    assert!(limiter.check(&request).await.is_admitted());
    server.signal("-STOP");
    let started = Instant::now();
    for _ in 0..20 {
        assert!(limiter.check(&request).await.is_admitted());
    }
    // One check waited for the timeout; the others went straight to the fallback.
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(100) && elapsed < Duration::from_millis(1500),
        "{elapsed:?}"
    );
    let stats = limiter.stats();
    assert_eq!(
        (stats.outages, stats.redis_errors, stats.fallback_local),
        (1, 1, 20)
    );
    server.signal("-CONT");
    until_redis_is_back(&limiter).await;
    // The Redis count resumes where it was: the first check, and the one that timed out, which Redis
    // ran when it woke (a late check counts more, never less).
    let Verdict::Admitted { limits } = limiter.check(&request).await else {
        panic!("admitted expected")
    };
    assert_eq!(limits[0].remaining, 97);
}
