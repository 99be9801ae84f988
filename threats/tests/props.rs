//! Properties of `Detector::scan` on arbitrary input: no panic, answers within the kinds asked for,
//! and work that grows linearly with the value's length.

use proptest::prelude::*;
use specgate_threats::{Detector, Kind, Kinds};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn detector() -> &'static Detector {
    static DETECTOR: OnceLock<Detector> = OnceLock::new();
    DETECTOR.get_or_init(Detector::new)
}

/// Strings built from the pieces the detectors and decoders react to, so the interesting paths run
/// far more often than with uniformly random text.
fn attackish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("'".to_owned()),
        Just("\"".to_owned()),
        Just("`".to_owned()),
        Just(" or ".to_owned()),
        Just("1=1".to_owned()),
        Just("--".to_owned()),
        Just("/*".to_owned()),
        Just("*/".to_owned()),
        Just("/*!5".to_owned()),
        Just("union select ".to_owned()),
        Just("sleep(".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just(";".to_owned()),
        Just("<".to_owned()),
        Just("<script".to_owned()),
        Just(" onerror=".to_owned()),
        Just("javascript:".to_owned()),
        Just("&#".to_owned()),
        Just("&lt".to_owned()),
        Just("\\u".to_owned()),
        Just("\\".to_owned()),
        Just("%".to_owned()),
        Just("%25".to_owned()),
        Just("%c0".to_owned()),
        Just("%u".to_owned()),
        Just("../".to_owned()),
        Just("/etc/passwd".to_owned()),
        Just("|".to_owned()),
        Just("&&".to_owned()),
        Just("$(".to_owned()),
        Just("${IFS}".to_owned()),
        Just("\n".to_owned()),
        Just("id".to_owned()),
        Just("cat ".to_owned()),
        Just("＜".to_owned()),
        "[0-9a-fA-F]{1,4}",
        "\\PC{0,3}",
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

fn kinds() -> impl Strategy<Value = Kinds> {
    (0u8..16).prop_map(|bits| {
        Kind::ALL
            .into_iter()
            .enumerate()
            .filter(|(i, _)| bits & (1 << i) != 0)
            .map(|(_, k)| k)
            .collect()
    })
}

fn check(value: &str, kinds: Kinds) -> Result<(), TestCaseError> {
    let d = detector();
    let found = d.scan(value, kinds);
    if let Some(kind) = found {
        prop_assert!(kinds.contains(kind));
        // The kinds are independent: the one found is found when asked for alone.
        prop_assert_eq!(d.scan(value, Kinds::only(kind)), Some(kind));
    }
    prop_assert_eq!(d.scan(value, kinds), found);
    prop_assert_eq!(d.scan(value, Kinds::NONE), None);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(value in any::<String>(), kinds in kinds()) {
        check(&value, kinds)?;
    }

    #[test]
    fn attack_like_text_never_panics(value in attackish(), kinds in kinds()) {
        check(&value, kinds)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn long_values_never_panic(piece in attackish(), repeat in 1usize..2000) {
        let value = piece.repeat(repeat);
        check(&value, Kinds::ALL)?;
    }
}

/// Time to scan `value` with every detector, the best of three runs (a shared machine is noisy).
fn scan_time(value: &str) -> Duration {
    (0..3)
        .map(|_| {
            let start = Instant::now();
            let _ = detector().scan(value, Kinds::ALL);
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

/// Quadratic work would make an eight times longer value take about 64 times as long; linear work
/// about eight times. The bound sits between the two with room for a busy machine. Each pattern
/// targets one place where a naive scanner would rescan.
#[test]
fn work_grows_linearly_with_length() {
    let patterns = [
        "<a ",
        "<a onx",
        "'",
        "' or ",
        "(",
        "%25",
        "%c0",
        "&#1",
        "&lt",
        "\\u00",
        "/*",
        "../",
        "; ",
        "$(",
        "{a",
        "on",
        "javascript:",
        "a ",
    ];
    for p in patterns {
        let small = p.repeat(16 * 1024 / p.len());
        let large = p.repeat(128 * 1024 / p.len());
        let (t_small, t_large) = (scan_time(&small), scan_time(&large));
        let ratio = t_large.as_secs_f64() / t_small.as_secs_f64().max(1e-6);
        println!("{p:?}: 16 KiB {t_small:?}, 128 KiB {t_large:?}, ratio {ratio:.1}");
        assert!(ratio < 24.0, "{p:?}: ratio {ratio:.1} looks superlinear");
    }
}
