//! In-process store: sharded maps of counters, bounded in keys, idle keys dropped lazily.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::counter::{Counter, Reading};
use crate::spec::{LimitSpec, Rule};
use crate::verdict::{Distinct, Verdict};

const SHARDS: usize = 32;

/// How often (µs) a shard drops its idle keys when it is next used.
const SWEEP_EVERY_US: u64 = 10_000_000;

/// Counters for rate limits kept in this process.
///
/// Keys are spread over 32 mutex-guarded shards by a randomly keyed hash, and each shard's map is keyed
/// randomly too, so clients cannot choose keys that collide. A check locks the shards of its keys in
/// ascending order and decides all its limits under those locks: all or nothing.
///
/// Memory: at most about `max_keys` keys (each shard holds `max_keys / 32`, rounded up). A key whose
/// counters have all decayed is idle, equal to a new one, and dropped without effect: every shard drops
/// them every 10 s when used, and whenever it is full. When a shard is full of live keys, its least
/// recently used eighth is evicted (counted in [`evictions`](Self::evictions)) rather than leaving new
/// keys untracked: a full table then still limits every active client, and the keys that lose their count
/// are those idle the longest. The keys of the check being made are never evicted by it.
pub struct LocalStore {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
    evictions: AtomicU64,
}

impl fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys name clients: only the sizes are shown.
        f.debug_struct("LocalStore")
            .field("keys", &self.len())
            .field("evictions", &self.evictions())
            .finish()
    }
}

struct Shard {
    map: HashMap<Box<str>, Entry>,
    capacity: usize,
    next_sweep_us: u64,
}

/// The counters of one key, one per distinct rule using it (normally one).
struct Entry {
    last_seen_us: u64,
    counters: Vec<Counter>,
}

impl Entry {
    fn is_idle(&self, now: u64) -> bool {
        self.counters.iter().all(|c| c.is_idle(now))
    }

    fn counter(&self, rule: Rule) -> Option<&Counter> {
        self.counters.iter().find(|c| c.rule() == rule)
    }

    fn counter_mut(&mut self, rule: Rule) -> &mut Counter {
        match self.counters.iter().position(|c| c.rule() == rule) {
            Some(i) => &mut self.counters[i],
            None => {
                self.counters.push(Counter::new(rule));
                let last = self.counters.len() - 1;
                &mut self.counters[last]
            }
        }
    }
}

impl LocalStore {
    /// A store tracking at most about `max_keys` keys (at least one per shard).
    pub fn new(max_keys: usize) -> Self {
        let capacity = max_keys.div_ceil(SHARDS).max(1);
        Self {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        map: HashMap::new(),
                        capacity,
                        next_sweep_us: SWEEP_EVERY_US,
                    })
                })
                .collect(),
            hasher: RandomState::new(),
            evictions: AtomicU64::new(0),
        }
    }

    /// Checks every limit of `request` (a limit with the caller's key for it) at `now_us` microseconds of a
    /// monotonic clock: all admit and count the request, or none counts it.
    pub fn check_at(&self, now_us: u64, request: &[(LimitSpec, String)]) -> Verdict {
        let distinct = Distinct::new(request);
        let shard_of: Vec<usize> = distinct
            .items
            .iter()
            .map(|(_, key)| self.shard_index(key))
            .collect();
        let mut order = shard_of.clone();
        order.sort_unstable();
        order.dedup();
        // Ascending lock order: two checks sharing shards cannot deadlock.
        let mut guards: Vec<MutexGuard<'_, Shard>> = order.iter().map(|&i| self.lock(i)).collect();
        for shard in &mut guards {
            shard.sweep_if_due(now_us);
        }
        // Where each item's shard guard is in `guards` (built in `order`).
        let slot: Vec<Option<usize>> = shard_of
            .iter()
            .map(|s| order.binary_search(s).ok())
            .collect();

        let mut readings: Vec<Reading> = Vec::with_capacity(distinct.items.len());
        for (i, &(rule, key)) in distinct.items.iter().enumerate() {
            let shard = slot[i].map(|g| &guards[g]);
            let reading = match shard
                .and_then(|s| s.map.get(key))
                .and_then(|e| e.counter(rule))
            {
                Some(counter) => counter.reading(now_us),
                None => Counter::new(rule).reading(now_us),
            };
            readings.push(reading);
        }
        let admitted = readings.iter().all(|r| r.conforms);

        let in_check = |k: &str| distinct.items.iter().any(|&(_, key)| key == k);
        for (i, &(rule, key)) in distinct.items.iter().enumerate() {
            let Some(g) = slot[i] else { continue };
            let shard = &mut guards[g];
            if admitted && !shard.map.contains_key(key) {
                let evicted = shard.make_room(now_us, &in_check);
                self.evictions.fetch_add(evicted, Ordering::Relaxed);
                shard.map.insert(
                    Box::from(key),
                    Entry {
                        last_seen_us: now_us,
                        counters: Vec::with_capacity(1),
                    },
                );
            }
            // A refused client is active too: its count must not be the first evicted.
            let Some(entry) = shard.map.get_mut(key) else {
                continue;
            };
            entry.last_seen_us = now_us;
            if admitted {
                let counter = entry.counter_mut(rule);
                counter.admit(now_us);
                readings[i] = counter.reading(now_us);
            }
        }
        drop(guards);
        distinct.verdict(request, &readings, admitted)
    }

    /// Keys tracked now.
    pub fn len(&self) -> usize {
        (0..SHARDS).map(|i| self.lock(i).map.len()).sum()
    }

    /// No key is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Live keys evicted so far to stay within the key bound.
    pub fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }

    fn shard_index(&self, key: &str) -> usize {
        // The modulo keeps the index in range whatever the hash; SHARDS is a power of two.
        (self.hasher.hash_one(key) % SHARDS as u64) as usize
    }

    fn lock(&self, i: usize) -> MutexGuard<'_, Shard> {
        // Nothing panics while a shard is locked; should something, its counters are still consistent.
        self.shards[i]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Shard {
    fn sweep_if_due(&mut self, now: u64) {
        if now >= self.next_sweep_us {
            self.map.retain(|_, e| !e.is_idle(now));
            self.next_sweep_us = now.saturating_add(SWEEP_EVERY_US);
        }
    }

    /// Before a key is inserted into a full shard: drops idle keys, then if that freed less than an eighth,
    /// the least recently used live keys (never one that `keep` names) down to seven eighths. Returns how
    /// many live keys were evicted.
    fn make_room(&mut self, now: u64, keep: &dyn Fn(&str) -> bool) -> u64 {
        if self.map.len() < self.capacity {
            return 0;
        }
        self.map.retain(|_, e| !e.is_idle(now));
        let target = self.capacity - (self.capacity / 8).max(1);
        if self.map.len() <= target {
            return 0;
        }
        let mut ages: Vec<u64> = self
            .map
            .iter()
            .filter(|(k, _)| !keep(k))
            .map(|(_, e)| e.last_seen_us)
            .collect();
        let n = (self.map.len() - target).min(ages.len());
        if n == 0 {
            return 0;
        }
        let (_, &mut pivot, _) = ages.select_nth_unstable(n - 1);
        let mut at_pivot = n - ages.iter().filter(|&&a| a < pivot).count();
        let before = self.map.len();
        self.map.retain(|k, e| {
            if keep(k) || e.last_seen_us > pivot {
                true
            } else if e.last_seen_us < pivot {
                false
            } else if at_pivot > 0 {
                at_pivot -= 1;
                false
            } else {
                true
            }
        });
        (before - self.map.len()) as u64
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;
    use crate::LimitState;

    const SEC: u64 = 1_000_000;

    fn spec(limit: u64, secs: u64, burst: Option<u64>) -> LimitSpec {
        LimitSpec::new(
            format!("{limit}-per-{secs}s"),
            limit,
            Duration::from_secs(secs),
            burst,
        )
        .unwrap()
    }

    fn one(spec: &LimitSpec, key: &str) -> Vec<(LimitSpec, String)> {
        vec![(spec.clone(), key.to_owned())]
    }

    #[test]
    fn several_limits_all_or_nothing() {
        let store = LocalStore::new(1000);
        let minute = spec(3, 60, None);
        let hour = spec(5, 3600, None);
        let request = vec![
            (minute.clone(), "m:alice".to_owned()),
            (hour.clone(), "h:alice".to_owned()),
        ];
        for _ in 0..3 {
            assert!(store.check_at(SEC, &request).is_admitted());
        }
        // The minute limit refuses; the hour limit keeps its 2 remaining.
        let Verdict::Refused {
            limits,
            retry_after,
        } = store.check_at(2 * SEC, &request)
        else {
            panic!("refused expected")
        };
        assert_eq!(retry_after, 60);
        assert_eq!(
            limits
                .iter()
                .map(|l| (l.remaining, l.exceeded))
                .collect::<Vec<_>>(),
            [(0, true), (2, false)]
        );
        for _ in 0..5 {
            assert!(!store.check_at(3 * SEC, &request).is_admitted());
        }
        let Verdict::Admitted { limits } = store.check_at(61 * SEC + 1, &request) else {
            panic!("admitted expected")
        };
        assert_eq!(limits[1].remaining, 1);
        store.check_at(61 * SEC + 1, &request);
        // Now the hour limit refuses alone, and the minute limit is not charged.
        let Verdict::Refused { limits, .. } = store.check_at(61 * SEC + 2, &request) else {
            panic!("refused expected")
        };
        assert_eq!(
            limits
                .iter()
                .map(|l| (l.remaining, l.exceeded))
                .collect::<Vec<_>>(),
            [(1, false), (0, true)]
        );
        // The first hourly request (at 1 s) leaves the window at 3601 s + 1 µs.
        assert_eq!(
            limits[1].reset,
            Duration::from_micros(3601 * SEC + 1 - (61 * SEC + 2))
        );
    }

    #[test]
    fn admitted_states_report_limit_remaining_and_reset() {
        let store = LocalStore::new(10);
        let Verdict::Admitted { limits } =
            store.check_at(5 * SEC, &one(&spec(10, 1, Some(4)), "k"))
        else {
            panic!("admitted expected")
        };
        assert_eq!(
            limits,
            [LimitState {
                name: Arc::from("10-per-1s"),
                limit: 10,
                window: Duration::from_secs(1),
                burst: Some(4),
                remaining: 3,
                reset: Duration::from_millis(100),
                exceeded: false,
            }]
        );
    }

    #[test]
    fn same_key_with_different_limits_counts_separately() {
        let store = LocalStore::new(10);
        let a = spec(1, 60, None);
        let b = spec(2, 60, None);
        assert!(store.check_at(0, &one(&a, "k")).is_admitted());
        assert!(store.check_at(0, &one(&b, "k")).is_admitted());
        assert!(store.check_at(0, &one(&b, "k")).is_admitted());
        assert!(!store.check_at(0, &one(&a, "k")).is_admitted());
        assert!(!store.check_at(0, &one(&b, "k")).is_admitted());
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn a_limit_listed_twice_counts_once() {
        let store = LocalStore::new(10);
        let a = spec(2, 60, None);
        let request = vec![(a.clone(), "k".to_owned()), (a, "k".to_owned())];
        assert!(store.check_at(0, &request).is_admitted());
        let Verdict::Admitted { limits } = store.check_at(0, &request) else {
            panic!("admitted expected")
        };
        assert_eq!(limits[0].remaining, 0);
        assert_eq!(limits[1].remaining, 0);
        assert!(!store.check_at(0, &request).is_admitted());
    }

    /// A shard holding `ages.len()` keys `k0`, `k1`… last used at the given times, each with one request
    /// counted against a one-second limit at that time.
    fn shard(capacity: usize, ages: &[u64]) -> Shard {
        let rule = spec(1, 1, None).rule();
        let map = ages
            .iter()
            .enumerate()
            .map(|(i, &t)| {
                let mut counter = Counter::new(rule);
                counter.admit(t);
                let entry = Entry {
                    last_seen_us: t,
                    counters: vec![counter],
                };
                (Box::from(format!("k{i}")), entry)
            })
            .collect();
        Shard {
            map,
            capacity,
            next_sweep_us: SWEEP_EVERY_US,
        }
    }

    #[test]
    fn a_full_shard_drops_idle_keys_before_live_ones() {
        let mut s = shard(8, &[0, 0, 0, 0, 5 * SEC, 5 * SEC, 5 * SEC, 5 * SEC]);
        assert_eq!(s.make_room(5 * SEC, &|_| false), 0);
        assert_eq!(s.map.len(), 4);
        // Not full: nothing dropped even when idle.
        let mut s = shard(8, &[0, 0]);
        assert_eq!(s.make_room(5 * SEC, &|_| false), 0);
        assert_eq!(s.map.len(), 2);
    }

    #[test]
    fn a_shard_full_of_live_keys_evicts_the_least_recently_used() {
        let ages: Vec<u64> = (0..16).map(|i| 100 + (i * 7) % 16).collect();
        let mut s = shard(16, &ages);
        // An eighth goes: the two least recently used, k0 (100) and k7 (101).
        assert_eq!(s.make_room(200, &|_| false), 2);
        assert_eq!(s.map.len(), 14);
        assert!(!s.map.contains_key("k0") && !s.map.contains_key("k7"));
        // Keys of the current check are kept even when oldest.
        let mut s = shard(16, &ages);
        assert_eq!(s.make_room(200, &|k| k == "k0"), 2);
        assert!(s.map.contains_key("k0"));
        assert!(!s.map.contains_key("k7") && !s.map.contains_key("k14"));
        // Ties at the pivot: exactly the needed number goes.
        let mut s = shard(16, &[300; 16]);
        assert_eq!(s.make_room(300, &|_| false), 2);
        assert_eq!(s.map.len(), 14);
    }

    #[test]
    fn the_key_bound_holds_and_recent_keys_stay_tracked() {
        let store = LocalStore::new(64);
        let long = spec(1, 3600, None);
        for i in 0..2000 {
            assert!(
                store
                    .check_at(SEC + i, &one(&long, &format!("k{i}")))
                    .is_admitted()
            );
        }
        assert!(store.len() <= 64, "{} keys", store.len());
        assert!(store.evictions() >= 2000 - 64);
        assert!(!store.check_at(2 * SEC, &one(&long, "k1999")).is_admitted());
    }

    #[test]
    fn idle_keys_are_swept_periodically() {
        let store = LocalStore::new(10_000);
        let short = spec(1, 1, None);
        for i in 0..100 {
            store.check_at(SEC, &one(&short, &format!("k{i}")));
        }
        assert_eq!(store.len(), 100);
        // Past the sweep interval, each shard drops its idle keys when next used.
        for i in 0..2000 {
            store.check_at(30 * SEC, &one(&short, &format!("other{i}")));
        }
        assert_eq!(store.len(), 2000);
        assert_eq!(store.evictions(), 0);
    }

    #[test]
    fn concurrent_checks_admit_exactly_the_limit() {
        let store = Arc::new(LocalStore::new(1000));
        let a = spec(500, 60, None);
        let b = spec(300, 60, Some(300));
        let request = Arc::new(vec![(a, "shared:a".to_owned()), (b, "shared:b".to_owned())]);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let store = Arc::clone(&store);
                let request = Arc::clone(&request);
                std::thread::spawn(move || {
                    (0..400)
                        .filter(|_| store.check_at(SEC, &request).is_admitted())
                        .count()
                })
            })
            .collect();
        let admitted: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(admitted, 300);
    }

    proptest! {
        /// A check with several limits is admitted exactly when each limit, alone, would admit it, and a
        /// refusal counts against none of them.
        #[test]
        fn all_or_nothing_matches_independent_counters(
            steps in prop::collection::vec((0u64..400_000, 0usize..3, any::<bool>()), 1..200),
        ) {
            let store = LocalStore::new(100);
            let specs = [spec(5, 1, None), spec(20, 2, None), spec(3, 1, Some(2))];
            let mut counters: Vec<Counter> = specs.iter().map(|s| Counter::new(s.rule())).collect();
            let mut now = 0;
            for (gap, skip, extra) in steps {
                now += gap;
                // Two or three limits per check, varying which.
                let chosen: Vec<usize> = (0..3).filter(|&i| i != skip || extra).collect();
                let request: Vec<(LimitSpec, String)> = chosen
                    .iter()
                    .map(|&i| (specs[i].clone(), format!("key{i}")))
                    .collect();
                let expect = chosen.iter().all(|&i| counters[i].reading(now).conforms);
                let verdict = store.check_at(now, &request);
                prop_assert_eq!(verdict.is_admitted(), expect);
                if expect {
                    for &i in &chosen {
                        counters[i].admit(now);
                    }
                }
                for (state, &i) in verdict.limits().iter().zip(&chosen) {
                    prop_assert_eq!(state.remaining, counters[i].reading(now).remaining);
                }
            }
        }
    }
}
