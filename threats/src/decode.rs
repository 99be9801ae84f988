//! Undoes the encodings attackers use to slip payloads past filters: repeated percent-encoding, `%u`
//! escapes, overlong UTF-8 and Unicode look-alikes of ASCII punctuation.

use std::borrow::Cow;

/// Percent-decoding rounds applied on top of the HTTP layer's own: `%2527` is one round, `%252527`
/// two. Three covers the payload lists; each round is linear, so the bound is only about time.
const MAX_URL_ROUNDS: usize = 3;

/// `raw` with look-alikes and overlong sequences folded to ASCII, borrowed when nothing changes.
pub(crate) fn fold(raw: &[u8]) -> Cow<'_, [u8]> {
    if raw.is_ascii() {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut changed = false;
    let mut rest = raw;
    while let Some((&b, tail)) = rest.split_first() {
        if b < 0x80 {
            out.push(b);
            rest = tail;
            continue;
        }
        if let Some((ascii, len)) = overlong(rest) {
            out.push(ascii);
            changed = true;
            rest = rest.get(len..).unwrap_or_default();
            continue;
        }
        let len = utf8_len(b);
        match rest
            .get(..len)
            .and_then(|s| std::str::from_utf8(s).ok())
            .and_then(|s| s.chars().next())
        {
            Some(c) => {
                match lookalike(c) {
                    Some(a) => {
                        out.push(a);
                        changed = true;
                    }
                    None => out.extend_from_slice(rest.get(..len).unwrap_or_default()),
                }
                rest = rest.get(len..).unwrap_or_default();
            }
            None => {
                out.push(b);
                rest = tail;
            }
        }
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(raw)
    }
}

/// Repeatedly percent-decodes `input` (with `%uXXXX` and folding after each round); `None` when
/// `input` has no escape to decode.
pub(crate) fn url_decode(input: &[u8]) -> Option<Vec<u8>> {
    let mut current = percent_round(input)?;
    for _ in 1..MAX_URL_ROUNDS {
        if let Cow::Owned(f) = fold(&current) {
            current = f;
        }
        match percent_round(&current) {
            Some(next) => current = next,
            None => break,
        }
    }
    if let Cow::Owned(f) = fold(&current) {
        current = f;
    }
    Some(current)
}

/// One round of `%XX` and `%uXXXX` decoding; `None` when nothing was decoded.
fn percent_round(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut copied = 0;
    for p in memchr::memchr_iter(b'%', input) {
        if p < copied {
            continue;
        }
        let mut utf8 = [0; 4];
        let (decoded, len): (&[u8], usize) = if let Some(v) = hex_value(input.get(p + 1..p + 3)) {
            utf8[0] = v as u8;
            (&utf8[..1], 3)
        } else if matches!(input.get(p + 1), Some(b'u' | b'U'))
            && let Some(cp) = hex_value(input.get(p + 2..p + 6))
        {
            let c = char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER);
            (c.encode_utf8(&mut utf8).as_bytes(), 6)
        } else {
            continue;
        };
        out.extend_from_slice(input.get(copied..p).unwrap_or_default());
        out.extend_from_slice(decoded);
        copied = p + len;
    }
    // Every decoded escape moves `copied` past 0.
    if copied == 0 {
        return None;
    }
    out.extend_from_slice(input.get(copied..).unwrap_or_default());
    Some(out)
}

/// The value of `digits` read as hexadecimal, when all of them are hex digits.
pub(crate) fn hex_value(digits: Option<&[u8]>) -> Option<u32> {
    let digits = digits?;
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u32, |acc, &d| {
        let v = (d as char).to_digit(16)?;
        acc.checked_mul(16)?.checked_add(v)
    })
}

/// Length of the UTF-8 sequence a lead byte announces (1 for stray continuation bytes).
fn utf8_len(lead: u8) -> usize {
    match lead {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF7 => 4,
        _ => 1,
    }
}

/// An overlong encoding of an ASCII byte at the start of `s` (`C0 AE` is `.`), and its length.
/// Lenient like the decoders it targets: `C0` before a plain ASCII byte yields that byte (`%c0%2e`).
fn overlong(s: &[u8]) -> Option<(u8, usize)> {
    let cont = |b: u8| b & 0xC0 == 0x80;
    match *s {
        [lead @ (0xC0 | 0xC1), b2, ..] if cont(b2) => Some((((lead & 1) << 6) | (b2 & 0x3F), 2)),
        [0xC0 | 0xC1, b2, ..] if b2 < 0x80 => Some((b2, 2)),
        [0xE0, b2 @ (0x80 | 0x81), b3, ..] if cont(b3) => Some((((b2 & 1) << 6) | (b3 & 0x3F), 3)),
        [0xF0, 0x80, b3 @ (0x80 | 0x81), b4, ..] if cont(b4) => {
            Some((((b3 & 1) << 6) | (b4 & 0x3F), 4))
        }
        _ => None,
    }
}

/// ASCII that a Unicode character turns into in decoders that normalise (fullwidth forms, slash and
/// dot look-alikes). Typographic quotes are deliberately left alone: prose is full of them.
fn lookalike(c: char) -> Option<u8> {
    let cp = c as u32;
    match cp {
        0xFF01..=0xFF5E => u8::try_from(cp - 0xFEE0).ok(),
        0x2215 | 0x2044 | 0x29F8 => Some(b'/'),
        0x2216 | 0x29F9 | 0xFE68 => Some(b'\\'),
        0x2024 | 0xFE52 => Some(b'.'),
        0xFE64 => Some(b'<'),
        0xFE65 => Some(b'>'),
        0x00A0 | 0x3000 => Some(b' '),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(s: &str) -> String {
        String::from_utf8_lossy(&url_decode(s.as_bytes()).unwrap_or_else(|| s.as_bytes().to_vec()))
            .into_owned()
    }

    #[test]
    fn percent_decoding_repeats_up_to_the_bound() {
        assert_eq!(decoded("%2e%2e%2f"), "../");
        assert_eq!(decoded("%252e%252e%252f"), "../");
        assert_eq!(decoded("%25252e"), ".");
        // A fourth layer stays encoded: the bound is what keeps the work linear.
        assert_eq!(decoded("%2525252e"), "%2e");
        assert_eq!(decoded("%%32%65"), ".");
        assert_eq!(decoded("100% sure %zz %"), "100% sure %zz %");
    }

    #[test]
    fn u_escapes_overlong_and_lookalikes_become_ascii() {
        assert_eq!(decoded("%u002e%u002e%u2215"), "../");
        assert_eq!(decoded("%c0%ae%c0%ae%c0%af"), "../");
        assert_eq!(decoded("%c0%2e%c1%9c"), ".\\");
        assert_eq!(decoded("%e0%80%ae%f0%80%80%af"), "./");
        assert_eq!(decoded("%uff0e%uff0e%uff0f"), "../");
        assert_eq!(fold("＜script＞".as_bytes()).as_ref(), b"<script>");
        assert!(matches!(fold("déjà vu, 東京".as_bytes()), Cow::Borrowed(_)));
    }

    #[test]
    fn broken_sequences_never_panic_and_are_kept() {
        for input in [
            &b"%"[..],
            b"%u",
            b"%u12",
            b"%c0",
            b"\xc0",
            b"\xe0\x80",
            b"\xf0\x80\x80",
        ] {
            let _ = url_decode(input);
            let _ = fold(input);
        }
        assert_eq!(fold(b"\xe0\x80").as_ref(), b"\xe0\x80");
        assert_eq!(decoded("%ud800"), "\u{FFFD}");
    }
}
