//! One pass over the bytes of a value deciding which detectors could possibly match it.
//!
//! Each kind of attack needs some punctuation to work (a quote or operator for SQL, `<` or a
//! scheme's `:` for XSS, a slash for traversal, a shell separator for commands). A byte table maps
//! every byte to the kinds it can start; values made only of letters, digits, spaces and harmless
//! punctuation skip the detectors altogether. `%`, `&`, `\` and NUL can hide anything once
//! decoded, so they wake every detector.

use crate::{Kind, Kinds};

const SQL: u8 = 1 << Kind::SqlInjection as u8;
const XSS: u8 = 1 << Kind::Xss as u8;
const PATH: u8 = 1 << Kind::PathTraversal as u8;
const CMD: u8 = 1 << Kind::CommandInjection as u8;
const ALL: u8 = SQL | XSS | PATH | CMD;
/// Not a kind: the value has a space, so it may hold SQL words that need no punctuation.
const SPACE: u8 = 1 << 4;

/// For every byte, the kinds of attack it can take part in.
static TRIGGERS: [u8; 256] = build_table();

const fn build_table() -> [u8; 256] {
    let mut t = [0u8; 256];
    t[b'%' as usize] = ALL;
    t[b'&' as usize] = ALL;
    t[b'\\' as usize] = ALL;
    t[0] = ALL;
    t[b'\'' as usize] = SQL | CMD;
    t[b'"' as usize] = SQL | CMD;
    t[b'`' as usize] = SQL | XSS | CMD;
    t[b'=' as usize] = SQL | XSS;
    t[b'(' as usize] = SQL | XSS;
    t[b')' as usize] = SQL;
    t[b'<' as usize] = SQL | XSS | CMD;
    t[b'>' as usize] = SQL | CMD;
    t[b';' as usize] = SQL | CMD;
    t[b'#' as usize] = SQL;
    t[b'*' as usize] = SQL;
    t[b'|' as usize] = SQL | CMD;
    t[b':' as usize] = XSS;
    t[b'/' as usize] = PATH;
    t[b'$' as usize] = CMD;
    t[b'{' as usize] = CMD;
    t[b'\n' as usize] = CMD;
    t[b'\r' as usize] = CMD;
    t[b' ' as usize] = SPACE;
    t
}

/// The kinds whose detectors must look at `value` (already folded to ASCII look-alikes).
///
/// Every value of a request body passes here, and most are short: one branch-free pass, with no
/// early exit to test on each byte, costs least.
pub(crate) fn triggers(value: &[u8]) -> Kinds {
    let mut mask = value.iter().fold(0, |mask, &b| mask | TRIGGERS[b as usize]);
    if mask & (SQL | SPACE) == SPACE && has_sql_words(value) {
        mask |= SQL;
    }
    Kinds::from_bits(mask)
}

/// Whether a value without SQL punctuation still has the words of one that needs none
/// (`1 union select null`, `1 or true`).
fn has_sql_words(value: &[u8]) -> bool {
    value.split(|b| !b.is_ascii_alphanumeric()).any(|w| {
        [
            "union",
            "or",
            "and",
            "xor",
            "having",
            "order",
            "group",
            "procedure",
        ]
        .iter()
        .any(|k| w.eq_ignore_ascii_case(k.as_bytes()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_wake_no_detector() {
        for v in [
            "alice",
            "john.smith@example.com",
            "2024-01-15",
            "Größe 42",
            "+1 555-0100",
        ] {
            assert!(triggers(v.as_bytes()).is_empty(), "{v}");
        }
    }

    #[test]
    fn punctuation_wakes_only_the_kinds_it_serves() {
        assert_eq!(triggers(b"docs/guide.md"), Kinds::from(Kind::PathTraversal));
        assert_eq!(
            triggers(b"O'Brien"),
            Kind::SqlInjection | Kind::CommandInjection
        );
        assert_eq!(triggers(b"a%2fb"), Kinds::ALL);
        assert_eq!(
            triggers(b"1 union select null"),
            Kinds::from(Kind::SqlInjection)
        );
        assert_eq!(triggers(b"union station"), Kinds::from(Kind::SqlInjection));
        assert!(triggers(b"green apples").is_empty());
    }
}
