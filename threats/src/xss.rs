//! Cross-site scripting: markup and URLs that run script once a value is echoed into a page.
//!
//! The value is decoded the way a browser would read it (HTML entities, JavaScript and CSS
//! escapes, case, tabs and newlines inside a URL scheme), then checked for what executes: tags that
//! run or load code (`<script`, `<iframe`, `<object`, `<embed`, `<base`, `<meta`, `<link`,
//! `<style`, …), event-handler attributes (`onerror=`, `onload=`, from the list of real event
//! names, so `online=true` is fine), `srcdoc=`, script URLs (`javascript:` followed by code, so the
//! book title "JavaScript: The Good Parts" is fine), `data:text/html`, CSS `expression(`, and quote
//! break-outs into script strings (`';alert(1)//`). Harmless markup (`<b>`, `<a href="https://…">`,
//! `a < b`, `I <3 you`) passes.

use crate::decode::{fold, hex_value};
use regex::bytes::Regex;
use std::borrow::Cow;

/// Tags that run or load active content whatever their attributes are.
const EXECUTING_TAGS: [&[u8]; 12] = [
    b"applet",
    b"base",
    b"embed",
    b"frame",
    b"frameset",
    b"iframe",
    b"import",
    b"link",
    b"meta",
    b"object",
    b"script",
    b"style",
];

/// Event-handler attribute names (HTML, SVG and legacy browser ones), sorted for binary search.
const EVENTS: [&str; 128] = [
    "onabort",
    "onactivate",
    "onafterprint",
    "onafterscriptexecute",
    "onanimationcancel",
    "onanimationend",
    "onanimationiteration",
    "onanimationstart",
    "onauxclick",
    "onbeforeactivate",
    "onbeforecopy",
    "onbeforecut",
    "onbeforedeactivate",
    "onbeforeinput",
    "onbeforematch",
    "onbeforepaste",
    "onbeforeprint",
    "onbeforescriptexecute",
    "onbeforetoggle",
    "onbeforeunload",
    "onbegin",
    "onblur",
    "onbounce",
    "oncancel",
    "oncanplay",
    "oncanplaythrough",
    "onchange",
    "onclick",
    "onclose",
    "oncontextmenu",
    "oncopy",
    "oncuechange",
    "oncut",
    "ondblclick",
    "ondeactivate",
    "ondrag",
    "ondragend",
    "ondragenter",
    "ondragexit",
    "ondragleave",
    "ondragover",
    "ondragstart",
    "ondrop",
    "ondurationchange",
    "onemptied",
    "onend",
    "onended",
    "onerror",
    "onfinish",
    "onfocus",
    "onfocusin",
    "onfocusout",
    "onformdata",
    "onfullscreenchange",
    "ongotpointercapture",
    "onhashchange",
    "oninput",
    "oninvalid",
    "onkeydown",
    "onkeypress",
    "onkeyup",
    "onload",
    "onloadeddata",
    "onloadedmetadata",
    "onloadend",
    "onloadstart",
    "onlostpointercapture",
    "onmessage",
    "onmousedown",
    "onmouseenter",
    "onmouseleave",
    "onmousemove",
    "onmouseout",
    "onmouseover",
    "onmouseup",
    "onmousewheel",
    "onmove",
    "onmoveend",
    "onmovestart",
    "onoffline",
    "ononline",
    "onpagehide",
    "onpagereveal",
    "onpageshow",
    "onpageswap",
    "onpaste",
    "onpause",
    "onplay",
    "onplaying",
    "onpointercancel",
    "onpointerdown",
    "onpointerenter",
    "onpointerleave",
    "onpointermove",
    "onpointerout",
    "onpointerover",
    "onpointerrawupdate",
    "onpointerup",
    "onpopstate",
    "onprogress",
    "onpropertychange",
    "onratechange",
    "onreadystatechange",
    "onrepeat",
    "onreset",
    "onresize",
    "onscroll",
    "onscrollend",
    "onsearch",
    "onseeked",
    "onseeking",
    "onselect",
    "onselectionchange",
    "onselectstart",
    "onshow",
    "onstart",
    "onsubmit",
    "onsuspend",
    "ontimeupdate",
    "ontoggle",
    "ontouchend",
    "ontouchmove",
    "ontouchstart",
    "ontransitionend",
    "onunload",
    "onvolumechange",
    "onwaiting",
    "onwheel",
];

/// Named character references worth decoding: the ones payloads use to spell markup and schemes.
const ENTITIES: [(&str, char); 32] = [
    ("amp", '&'),
    ("apos", '\''),
    ("ast", '*'),
    ("bsol", '\\'),
    ("colon", ':'),
    ("comma", ','),
    ("dollar", '$'),
    ("equals", '='),
    ("excl", '!'),
    ("grave", '`'),
    ("gt", '>'),
    ("lcub", '{'),
    ("lowbar", '_'),
    ("lpar", '('),
    ("lsqb", '['),
    ("lt", '<'),
    ("nbsp", ' '),
    ("newline", '\n'),
    ("num", '#'),
    ("percnt", '%'),
    ("period", '.'),
    ("plus", '+'),
    ("quest", '?'),
    ("quot", '"'),
    ("rcub", '}'),
    ("rpar", ')'),
    ("rsqb", ']'),
    ("semi", ';'),
    ("sol", '/'),
    ("tab", '\t'),
    ("verbar", '|'),
    ("vert", '|'),
];

/// References browsers decode without `;`, even when letters follow.
const LEGACY: [(&str, char); 4] = [("quot", '"'), ("amp", '&'), ("lt", '<'), ("gt", '>')];

/// Compiled XSS patterns.
#[derive(Debug, Clone)]
pub(crate) struct Xss {
    /// Script URLs followed by code, and `data:` documents that run script.
    scheme: Regex,
    /// Quote break-outs into a script string: `';alert(1)//`, `"-confirm`1`-"`.
    breakout: Regex,
    /// CSS that runs script, and template sandbox escapes.
    active_css: Regex,
}

impl Xss {
    pub(crate) fn new() -> Self {
        // Patterns run on normalized (lowercased) bytes, `scheme` also with tabs and newlines
        // removed; `(?-u)` matches bytes. Each starts with literals the engine can skip ahead to.
        let compile = |pattern: &str| {
            Regex::new(pattern).unwrap_or_else(|e| panic!("built-in XSS pattern: {e}"))
        };
        Self {
            scheme: compile(
                r#"(?-u)(?:java|vb|live)script:[\s\x00]*(?://|[\w$.\[\]'"]*\s*[(`=])|data:\s*(?:text/html|text/xml|image/svg\+xml|application/xhtml|(?:text|application)/(?:x-)?(?:java|ecma)script)"#,
            ),
            breakout: compile(
                r#"(?-u)['"`]\s*[;)\]}+\-*/|&,^]+\s*(?:(?:alert|confirm|prompt|eval|print|fetch|settimeout|setinterval|atob|import)\s*[(`]|(?:document|window|top|self|parent)\.(?:cookie|location|domain|write))"#,
            ),
            active_css: compile(
                r"(?-u):\s*expression\s*\(|-moz-binding\s*:|behavior\s*:\s*url\s*\(|constructor\.constructor\s*\(",
            ),
        }
    }

    /// Whether `value` (URL-decoded already) carries an XSS payload.
    pub(crate) fn detect(&self, value: &[u8]) -> bool {
        let n = normalize(value);
        if executing_tag(&n)
            || handler_attribute(&n)
            || self.breakout.is_match(&n)
            || self.active_css.is_match(&n)
        {
            return true;
        }
        // Browsers drop tabs and newlines anywhere in a URL, so `jav&#x09;ascript:` still runs.
        let mut n = n;
        n.retain(|b| !matches!(b, b'\t' | b'\n' | b'\r'));
        self.scheme.is_match(&n)
    }
}

/// Entities, JavaScript and CSS escapes decoded, ASCII lowercased, look-alikes folded, NULs gone.
fn normalize(value: &[u8]) -> Vec<u8> {
    let mut v = value.to_vec();
    // Twice, for `&amp;lt;` that the application decodes once before echoing.
    for _ in 0..2 {
        match decode_entities(&v) {
            Some(d) => v = d,
            None => break,
        }
    }
    if let Some(d) = decode_escapes(&v) {
        v = d;
    }
    v.make_ascii_lowercase();
    if let Cow::Owned(folded) = fold(&v) {
        v = folded;
    }
    v.retain(|&b| b != 0);
    v
}

fn push_char(out: &mut Vec<u8>, cp: u32) {
    let c = char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER);
    out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
}

/// HTML character references: `&#60;` `&#x3c;` (with or without `;`, any number of leading zeros)
/// and the named ones in [`ENTITIES`]. `None` when there is none.
fn decode_entities(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut copied = 0;
    let mut changed = false;
    for amp in memchr::memchr_iter(b'&', s) {
        if amp < copied {
            continue;
        }
        let Some((cp, len)) = entity_at(s, amp) else {
            continue;
        };
        out.extend_from_slice(s.get(copied..amp).unwrap_or_default());
        push_char(&mut out, cp);
        copied = amp + len;
        changed = true;
    }
    if !changed {
        return None;
    }
    out.extend_from_slice(s.get(copied..).unwrap_or_default());
    Some(out)
}

/// The character reference starting with the `&` at `amp`: its code point and length.
fn entity_at(s: &[u8], amp: usize) -> Option<(u32, usize)> {
    if s.get(amp + 1) == Some(&b'#') {
        let hex = matches!(s.get(amp + 2), Some(b'x' | b'X'));
        let start = if hex { amp + 3 } else { amp + 2 };
        let radix = if hex { 16 } else { 10 };
        let len = s.get(start..).map_or(0, |r| {
            r.iter()
                .take_while(|c| (**c as char).is_digit(radix))
                .count()
        });
        if len == 0 {
            return None;
        }
        let digits = s.get(start..start + len).unwrap_or_default();
        let cp = digits
            .iter()
            .try_fold(0u32, |acc, &d| {
                acc.checked_mul(radix)?
                    .checked_add((d as char).to_digit(radix)?)
            })
            .unwrap_or(0xFFFD);
        let semi = usize::from(s.get(start + len) == Some(&b';'));
        return Some((cp, start + len + semi - amp));
    }
    let len = s.get(amp + 1..).map_or(0, |r| {
        r.iter()
            .take(8)
            .take_while(|c| c.is_ascii_alphabetic())
            .count()
    });
    let name = s.get(amp + 1..amp + 1 + len).unwrap_or_default();
    let with_semi = s.get(amp + 1 + len) == Some(&b';');
    let legacy = LEGACY
        .iter()
        .any(|(l, _)| name.eq_ignore_ascii_case(l.as_bytes()));
    let found = ENTITIES
        .iter()
        .find(|(n, _)| name.eq_ignore_ascii_case(n.as_bytes()));
    // Without `;` only the legacy four count, as in browsers, even as a prefix (`&ltx`).
    if let Some(&(_, c)) = found
        && (with_semi || legacy)
    {
        return Some((c as u32, 1 + len + usize::from(with_semi)));
    }
    LEGACY
        .iter()
        .find(|(p, _)| {
            name.get(..p.len())
                .is_some_and(|n| n.eq_ignore_ascii_case(p.as_bytes()))
        })
        .map(|&(p, c)| (c as u32, 1 + p.len()))
}

/// JavaScript (`\u003c`, `\u{3c}`, `\x3c`) and CSS (`\3c `, `\00003c`) escapes. `None` when there
/// is none.
fn decode_escapes(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut copied = 0;
    let mut changed = false;
    for bs in memchr::memchr_iter(b'\\', s) {
        if bs < copied {
            continue;
        }
        let Some((cp, len)) = escape_at(s, bs) else {
            continue;
        };
        out.extend_from_slice(s.get(copied..bs).unwrap_or_default());
        push_char(&mut out, cp);
        copied = bs + len;
        changed = true;
    }
    if !changed {
        return None;
    }
    out.extend_from_slice(s.get(copied..).unwrap_or_default());
    Some(out)
}

/// The escape starting with the `\` at `bs`: its code point and length.
fn escape_at(s: &[u8], bs: usize) -> Option<(u32, usize)> {
    let hex_run = |from: usize| {
        s.get(from..).map_or(0, |r| {
            r.iter()
                .take(6)
                .take_while(|c| c.is_ascii_hexdigit())
                .count()
        })
    };
    match s.get(bs + 1) {
        Some(b'u') if s.get(bs + 2) == Some(&b'{') => {
            let len = hex_run(bs + 3);
            match (hex_value(s.get(bs + 3..bs + 3 + len)), s.get(bs + 3 + len)) {
                (Some(cp), Some(b'}')) => Some((cp, 4 + len)),
                _ => None,
            }
        }
        Some(b'u') => hex_value(s.get(bs + 2..bs + 6)).map(|cp| (cp, 6)),
        Some(b'x') => hex_value(s.get(bs + 2..bs + 4)).map(|cp| (cp, 4)),
        Some(c) if c.is_ascii_hexdigit() => {
            let len = hex_run(bs + 1);
            let space = usize::from(s.get(bs + 1 + len) == Some(&b' '));
            hex_value(s.get(bs + 1..bs + 1 + len)).map(|cp| (cp, 1 + len + space))
        }
        _ => None,
    }
}

/// A `<` directly followed by the name of a tag in [`EXECUTING_TAGS`].
fn executing_tag(n: &[u8]) -> bool {
    memchr::memchr_iter(b'<', n).any(|lt| {
        let start = lt + 1;
        let len = n.get(start..).map_or(0, |r| {
            r.iter()
                .take(16)
                .take_while(|c| c.is_ascii_alphanumeric())
                .count()
        });
        EXECUTING_TAGS.contains(&n.get(start..start + len).unwrap_or_default())
    })
}

/// Longest attribute name worth reading back from an `=`; event names are shorter.
const MAX_ATTRIBUTE_NAME: usize = 32;

/// An event-handler or `srcdoc` attribute: a name after whitespace, `/` or a quote, then `=`.
/// Covers attributes inside tags and break-outs of a quoted attribute (`" onfocus="…`). Reads
/// backwards from each `=`; every byte is read for at most one `=`, so the work stays linear.
fn handler_attribute(n: &[u8]) -> bool {
    memchr::memchr_iter(b'=', n).any(|eq| {
        let mut end = eq;
        while end > 0 && n.get(end - 1).is_some_and(u8::is_ascii_whitespace) {
            end -= 1;
        }
        let mut start = end;
        while start > 0
            && end - start < MAX_ATTRIBUTE_NAME
            && n.get(start - 1).is_some_and(u8::is_ascii_alphabetic)
        {
            start -= 1;
        }
        let boundary = start > 0
            && n.get(start - 1).is_some_and(|&p| {
                p.is_ascii_whitespace() || matches!(p, b'/' | b'"' | b'\'' | b'`')
            });
        let name = n.get(start..end).unwrap_or_default();
        boundary && (name == b"srcdoc" || is_event(name))
    })
}

fn is_event(name: &[u8]) -> bool {
    name.starts_with(b"on") && EVENTS.binary_search_by(|e| e.as_bytes().cmp(name)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_list_is_sorted_for_binary_search() {
        assert!(EVENTS.windows(2).all(|w| w[0] < w[1]));
        assert!(is_event(b"onerror") && is_event(b"ontoggle") && !is_event(b"online"));
    }

    #[test]
    fn decoding_reveals_hidden_markup() {
        assert_eq!(normalize(b"&lt;SCRIPT&gt;"), b"<script>");
        assert_eq!(normalize(b"&amp;lt;b&amp;gt;"), b"<b>");
        assert_eq!(normalize(b"&#0000106&#x61;&#X76;a"), b"java");
        assert_eq!(normalize(b"\\u003cimg\\x3e\\u{3c}"), b"<img><");
        assert_eq!(normalize(b"\\6a \\61vascript"), b"javascript");
        assert_eq!(normalize(b"AT&T &copy; &ltx &lt"), b"at&t &copy; <x <");
        assert_eq!(
            normalize(b"&#99999999999;&#;&#x;"),
            "\u{FFFD}&#;&#x;".as_bytes()
        );
    }

    #[test]
    fn executing_markup_is_found_and_harmless_markup_is_not() {
        let x = Xss::new();
        for v in [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "\" autofocus onfocus=alert(1) x=\"",
            "<a href=\"jav&#x09;ascript:alert(1)\">",
            "data:text/html;base64,PHNjcmlwdD4=",
            "';alert(1)//",
            "<iframe srcdoc=\"x\">",
        ] {
            assert!(x.detect(v.as_bytes()), "{v}");
        }
        for v in [
            "<b>bold</b>",
            "<a href=\"https://example.com/?a=1&b=2\">x</a>",
            "if (a < b && c > d) { return; }",
            "I <3 this",
            "JavaScript: The Good Parts (2008)",
            "online=true&onion=3",
            "data:image/png;base64,iVBORw0KGgo=",
        ] {
            assert!(!x.detect(v.as_bytes()), "{v}");
        }
    }
}
