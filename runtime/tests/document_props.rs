//! The in-place reader of JSON request bodies against serde_json, as a differential fuzzer: on any
//! bytes it must accept and refuse exactly what serde_json does (repeats allowed, nesting within
//! bounds) and read the same value; it must never panic.
//! `PROPTEST_CASES=100000 cargo test --release -p specgate-runtime --test document_props` runs longer.

use proptest::prelude::*;
use serde_json::Value;
use specgate_runtime::engine::document::Document;

/// serde_json's own recursion limit is 128; ours is capped below it.
const DEPTH: u32 = 126;

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        // Escapes, quotes, control characters and non-ASCII text alike.
        any::<String>().prop_map(Value::String),
        "[a-z\"\\\\/\\n\u{e9}\u{1F600}]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            // Up to 40 members: objects over 16 are searched through their sorted index.
            prop::collection::vec(("[a-z]{0,3}|\\PC{0,4}", inner), 0..40)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

fn agrees_with_serde_json(bytes: &[u8]) -> Result<(), TestCaseError> {
    let ours = Document::parse(bytes, DEPTH, false);
    let theirs = serde_json::from_slice::<Value>(bytes);
    match (ours, theirs) {
        (Ok(document), Ok(value)) => prop_assert_eq!(document.to_value(), value),
        (Err(e), Ok(_)) => prop_assert!(
            e.to_string().starts_with("nesting deeper"),
            "refused what serde_json reads: {}",
            e
        ),
        (Ok(document), Err(e)) => {
            prop_assert!(
                false,
                "read {:?}, which serde_json refuses: {}",
                document,
                e
            )
        }
        (Err(_), Err(_)) => {}
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn any_bytes_are_read_as_serde_json_reads_them(
        bytes in prop::collection::vec(any::<u8>(), 0..200)
    ) {
        agrees_with_serde_json(&bytes)?;
    }

    #[test]
    fn json_like_text_is_read_as_serde_json_reads_it(
        text in "[\\[\\]{}\",:0-9a-z.eE+\\-\\\\ ]{0,80}"
    ) {
        agrees_with_serde_json(text.as_bytes())?;
    }

    #[test]
    fn every_json_value_reads_back_as_itself(value in json()) {
        let text = serde_json::to_vec(&value).expect("serializable");
        let document = Document::parse(&text, DEPTH, true).expect("no repeats, shallow");
        prop_assert_eq!(document.to_value(), value);
    }
}
