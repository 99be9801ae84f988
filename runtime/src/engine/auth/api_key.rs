//! API keys: the accepted keys as `name:sha256-hex` entries, and a constant-time lookup of a presented key.

use sha2::{Digest, Sha256};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

/// The accepted keys of one scheme, stored only as SHA-256 digests.
#[derive(Debug, Clone, Default)]
pub struct ApiKeys {
    entries: Vec<Entry>,
}

#[derive(Clone)]
struct Entry {
    name: String,
    digest: [u8; 32],
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The digest identifies a key offline: keep it out of debug output.
        f.debug_struct("Entry")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl ApiKeys {
    /// Reads entries of the form `name:sha256-hex`, one per line; blank lines and lines starting
    /// with `#` are skipped. A name is printable ASCII without spaces or `:` (it is forwarded as a
    /// header value and used as a rate-limit key). Errors name the line, never its content.
    pub fn parse(text: &str) -> Result<ApiKeys, String> {
        let mut entries: Vec<Entry> = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((name, hex)) = line.split_once(':') else {
                return Err(format!("line {number}: expected `name:sha256-hex`"));
            };
            let (name, hex) = (name.trim(), hex.trim());
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(format!(
                    "line {number}: the key name must be printable ASCII without spaces"
                ));
            }
            let digest = decode_hex(hex).ok_or_else(|| {
                format!(
                    "line {number}: expected a SHA-256 digest of 64 hexadecimal digits after `:`"
                )
            })?;
            if entries.iter().any(|e| e.digest == digest) {
                return Err(format!(
                    "line {number}: the same key digest appears on an earlier line"
                ));
            }
            entries.push(Entry {
                name: name.to_owned(),
                digest,
            });
        }
        Ok(ApiKeys { entries })
    }

    /// How many keys are accepted.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key is accepted.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The name of the presented key, if it is accepted. The key is hashed and compared with every
    /// stored digest in constant time, without stopping at a match, so timing tells neither which
    /// entry matched nor how much of a digest did.
    pub fn find(&self, presented: &str) -> Option<&str> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = Choice::from(0);
        let mut index = 0u64;
        for (i, entry) in self.entries.iter().enumerate() {
            let same = entry.digest.ct_eq(&digest);
            index.conditional_assign(&(i as u64), same);
            found |= same;
        }
        if bool::from(found) {
            self.entries
                .get(usize::try_from(index).ok()?)
                .map(|e| e.name.as_str())
        } else {
            None
        }
    }
}

fn decode_hex(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        let high = (pair[0] as char).to_digit(16)?;
        let low = (pair[1] as char).to_digit(16)?;
        *byte = u8::try_from(high << 4 | low).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `printf %s demo-key-123 | sha256sum`, as in the docs and specs/keys/api-keys.txt.
    const DEMO: &str = "demo:a52782e3a2d4dd2f95f640b9abfb3b2a6b8e722c65f55be830f6e5f619f7f873";

    fn entry(name: &str, key: &str) -> String {
        let digest = Sha256::digest(key.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("{name}:{hex}")
    }

    #[test]
    fn finds_keys_by_their_digest() {
        let text = format!(
            "# partners\n\n{DEMO}\n  {}  \n{}\n",
            entry("billing", "k-billing"),
            entry("ops", "k-ops")
                .to_uppercase()
                .replacen("OPS", "ops", 1)
        );
        let keys = ApiKeys::parse(&text).unwrap();
        assert_eq!(keys.len(), 3);
        assert_eq!(keys.find("demo-key-123"), Some("demo"));
        assert_eq!(keys.find("k-billing"), Some("billing"));
        assert_eq!(keys.find("k-ops"), Some("ops"));
        assert_eq!(keys.find("k-ops "), None);
        assert_eq!(keys.find(""), None);
        assert_eq!(
            keys.find("a52782e3a2d4dd2f95f640b9abfb3b2a6b8e722c65f55be830f6e5f619f7f873"),
            None
        );
    }

    #[test]
    fn an_empty_list_accepts_nothing() {
        let keys = ApiKeys::parse("# nothing yet\n").unwrap();
        assert!(keys.is_empty());
        assert_eq!(keys.find("anything"), None);
    }

    #[test]
    fn errors_name_the_line_not_its_content() {
        let secretish = "s3cr3t-looking-content";
        for (text, line) in [
            (format!("{DEMO}\n{secretish}"), "line 2"),
            (format!("# c\n\nx:{secretish}"), "line 3"),
            (format!("bad name:{}", &DEMO[5..]), "line 1"),
            (format!(":{}", &DEMO[5..]), "line 1"),
            (format!("{DEMO}\nagain:{}", &DEMO[5..]), "line 2"),
            (format!("short:{}", &DEMO[5..68]), "line 1"),
            (format!("nothex:{}", "g".repeat(64)), "line 1"),
        ] {
            let err = ApiKeys::parse(&text).unwrap_err();
            assert!(err.starts_with(line), "{err}");
            assert!(!err.contains(secretish), "{err}");
            assert!(!err.contains(&DEMO[5..20]), "{err}");
        }
    }

    #[test]
    fn debug_output_hides_digests() {
        let keys = ApiKeys::parse(DEMO).unwrap();
        let debug = format!("{keys:?}");
        assert!(debug.contains("demo"));
        assert!(!debug.contains("a52782"), "{debug}");
    }
}
