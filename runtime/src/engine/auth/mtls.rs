//! Mutual TLS: whether a verified client certificate is one of a scheme's accepted subjects.

use crate::engine::context::ClientCert;

/// A distinguished name: its RDNs in written order, each a list of (upper-cased attribute type,
/// unescaped value) pairs, also in written order.
type Dn = Vec<Vec<(String, Vec<u8>)>>;

/// The accepted subjects of one scheme, parsed once.
#[derive(Debug, Clone, Default)]
pub struct SubjectMatcher {
    dns: Vec<Dn>,
    /// SAN DNS names, lower-cased, without a trailing dot.
    names: Vec<String>,
}

impl SubjectMatcher {
    /// Entries with `=` are subject DNs (`CN=billing-service,O=Example`), compared attribute by
    /// attribute: types case-insensitively, values exactly (after RFC 4514 unescaping), spaces around
    /// separators ignored, RDNs in the order written. Entries without `=` are SAN DNS names, compared
    /// case-insensitively and literally (a `*.example.com` entry matches only that SAN, not a host).
    /// No entries: any verified certificate is accepted.
    pub fn new(subjects: &[String]) -> Result<Self, String> {
        let mut matcher = Self::default();
        for (index, subject) in subjects.iter().enumerate() {
            if subject.contains('=') {
                let dn = parse_dn(subject).ok_or_else(|| {
                    format!("mTLS subject #{index} `{subject}` is not a distinguished name such as `CN=billing-service,O=Example`")
                })?;
                matcher.dns.push(dn);
            } else {
                let name = dns_name(subject);
                if name.is_empty() {
                    return Err(format!("mTLS subject #{index} is empty"));
                }
                matcher.names.push(name);
            }
        }
        Ok(matcher)
    }

    /// Whether the certificate is accepted.
    pub fn matches(&self, cert: &ClientCert) -> bool {
        if self.dns.is_empty() && self.names.is_empty() {
            return true;
        }
        if !self.dns.is_empty()
            && let Some(subject) = parse_dn(&cert.subject)
            && self.dns.contains(&subject)
        {
            return true;
        }
        cert.dns_names
            .iter()
            .any(|san| self.names.contains(&dns_name(san)))
    }
}

fn dns_name(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// Parses an RFC 4514 string; `None` when it is not one (an empty or missing type, a dangling
/// escape, a value that is not UTF-8).
fn parse_dn(text: &str) -> Option<Dn> {
    let mut dn = Vec::new();
    let mut rdn = Vec::new();
    let mut attribute: Option<String> = None;
    let mut buf: Vec<u8> = Vec::new();
    // The length of `buf` up to its last escaped byte: trailing spaces before it are kept.
    let mut escaped_end = 0;
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'\\' => {
                let first = bytes.next()?;
                let byte = match hex(first) {
                    Some(high) => high << 4 | hex(bytes.next()?)?,
                    None => first,
                };
                buf.push(byte);
                escaped_end = buf.len();
            }
            b'=' if attribute.is_none() => {
                let name = std::str::from_utf8(&buf).ok()?.trim();
                if name.is_empty()
                    || !name
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
                {
                    return None;
                }
                attribute = Some(name.to_ascii_uppercase());
                buf.clear();
                escaped_end = 0;
            }
            b',' | b'+' => {
                rdn.push(finish(attribute.take()?, &mut buf, escaped_end)?);
                escaped_end = 0;
                if b == b',' {
                    dn.push(std::mem::take(&mut rdn));
                }
            }
            b' ' if buf.is_empty() => {}
            other => buf.push(other),
        }
    }
    rdn.push(finish(attribute?, &mut buf, escaped_end)?);
    dn.push(rdn);
    Some(dn)
}

/// One attribute and its value, without unescaped trailing spaces.
fn finish(attribute: String, buf: &mut Vec<u8>, escaped_end: usize) -> Option<(String, Vec<u8>)> {
    while buf.len() > escaped_end && buf.last() == Some(&b' ') {
        buf.pop();
    }
    let value = std::mem::take(buf);
    std::str::from_utf8(&value).ok()?;
    Some((attribute, value))
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(subject: &str, names: &[&str]) -> ClientCert {
        ClientCert {
            subject: subject.into(),
            dns_names: names.iter().map(|n| n.to_string()).collect(),
        }
    }

    fn matcher(subjects: &[&str]) -> SubjectMatcher {
        SubjectMatcher::new(&subjects.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn no_subjects_accept_any_verified_certificate() {
        assert!(matcher(&[]).matches(&cert("CN=anyone", &[])));
        assert!(matcher(&[]).matches(&cert("", &[])));
    }

    #[test]
    fn dns_compare_types_case_insensitively_and_ignore_spaces_around_separators() {
        let m = matcher(&["CN=billing-service, O=Example Corp"]);
        assert!(m.matches(&cert("CN=billing-service,O=Example Corp", &[])));
        assert!(m.matches(&cert("cn=billing-service,o=Example Corp", &[])));
        assert!(m.matches(&cert(" CN = billing-service , O = Example Corp ", &[])));
        assert!(!m.matches(&cert("CN=billing-service,O=Example  Corp", &[])));
        assert!(!m.matches(&cert("CN=Billing-Service,O=Example Corp", &[])));
    }

    #[test]
    fn dns_must_match_whole_and_in_order() {
        let m = matcher(&["CN=billing-service"]);
        assert!(m.matches(&cert("CN=billing-service", &[])));
        assert!(!m.matches(&cert("CN=billing-service,O=Example", &[])));
        assert!(!m.matches(&cert("CN=billing-service-2", &[])));
        let m = matcher(&["CN=a,O=b"]);
        assert!(!m.matches(&cert("O=b,CN=a", &[])));
        assert!(!m.matches(&cert("CN=a+O=b", &[])));
    }

    #[test]
    fn escapes_are_compared_unescaped() {
        let m = matcher(&["CN=Smith\\, John,O=Example"]);
        assert!(m.matches(&cert("CN=Smith\\2C John,O=Example", &[])));
        assert!(m.matches(&cert("CN=Smith\\2c John , O=Example", &[])));
        // An escaped comma is not a separator: this is a different DN.
        assert!(!m.matches(&cert("CN=Smith, John,O=Example", &[])));
        let spaced = matcher(&["CN=x\\ "]);
        assert!(spaced.matches(&cert("CN=x\\20", &[])));
        assert!(!spaced.matches(&cert("CN=x", &[])));
        let utf8 = matcher(&["CN=Jos\\C3\\A9"]);
        assert!(utf8.matches(&cert("CN=José", &[])));
    }

    #[test]
    fn malformed_subjects_never_match_and_malformed_entries_are_errors() {
        let m = matcher(&["CN=a"]);
        for bad in ["CN=a\\", "=a", "CN", "CN=\\ZZ\\", "C N=a", "CN=\\FF"] {
            assert!(!m.matches(&cert(bad, &[])), "{bad}");
        }
        for bad in ["=x", "CN=a,=b", "CN=a\\", "  "] {
            assert!(SubjectMatcher::new(&[bad.to_string()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn san_dns_names_compare_case_insensitively() {
        let m = matcher(&["billing.internal.example.com"]);
        assert!(m.matches(&cert(
            "CN=whatever",
            &["other.example.com", "Billing.Internal.Example.COM"]
        )));
        assert!(m.matches(&cert("", &["billing.internal.example.com."])));
        assert!(!m.matches(&cert("CN=billing.internal.example.com", &[])));
        assert!(!m.matches(&cert("", &["evil-billing.internal.example.com"])));
        let wildcard = matcher(&["*.example.com"]);
        assert!(!wildcard.matches(&cert("", &["a.example.com"])));
        assert!(wildcard.matches(&cert("", &["*.example.com"])));
    }

    #[test]
    fn either_kind_of_entry_may_match() {
        let m = matcher(&["CN=billing", "reports.example.com"]);
        assert!(m.matches(&cert("CN=billing", &[])));
        assert!(m.matches(&cert("CN=reports", &["reports.example.com"])));
        assert!(!m.matches(&cert("CN=reports", &["billing"])));
    }
}
