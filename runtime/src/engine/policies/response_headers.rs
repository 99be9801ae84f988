//! `response-headers`: headers removed from and set on every answer, compiled once.

use http::header::{HeaderMap, HeaderName, HeaderValue};
use specgate_plan::policy::ResponseHeaders;

/// The policy's response headers as ready-made names and values.
#[derive(Debug, Clone, Default)]
pub struct ResponseHardening {
    remove: Vec<HeaderName>,
    /// `None` removes a header that an outer level or the defaults set.
    set: Vec<(HeaderName, Option<HeaderValue>)>,
}

impl ResponseHardening {
    /// Names and values that are not valid HTTP are refused here, at plan load.
    pub fn new(policy: &ResponseHeaders) -> Result<Self, String> {
        let name = |n: &str| {
            HeaderName::from_bytes(n.as_bytes())
                .map_err(|_| format!("response-headers: `{n}` is not a header name"))
        };
        let remove = policy
            .remove
            .iter()
            .map(|n| name(n.as_str()))
            .collect::<Result<_, _>>()?;
        let set = policy
            .set
            .iter()
            .map(|(n, v)| {
                let value = v
                    .as_deref()
                    .map(HeaderValue::from_str)
                    .transpose()
                    .map_err(|_| format!("response-headers: the value of `{n}` is not valid"))?;
                Ok((name(n.as_str())?, value))
            })
            .collect::<Result<_, String>>()?;
        Ok(Self { remove, set })
    }

    /// Removes and sets the headers. `Strict-Transport-Security` only over TLS: browsers ignore it
    /// over plain HTTP (RFC 6797 §7.2), and a plain listener usually sits behind something that
    /// decides.
    pub fn apply(&self, headers: &mut HeaderMap, tls: bool) {
        for name in &self.remove {
            headers.remove(name);
        }
        for (name, value) in &self.set {
            if !tls && name == http::header::STRICT_TRANSPORT_SECURITY {
                continue;
            }
            match value {
                Some(value) => {
                    headers.insert(name.clone(), value.clone());
                }
                None => {
                    headers.remove(name);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_remove_leaks_and_set_hsts_only_over_tls() {
        let hardening = ResponseHardening::new(&ResponseHeaders::default()).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("server", HeaderValue::from_static("nginx/1.0"));
        headers.insert("x-powered-by", HeaderValue::from_static("PHP"));
        hardening.apply(&mut headers, false);
        assert!(headers.get("server").is_none() && headers.get("x-powered-by").is_none());
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert!(headers.get("strict-transport-security").is_none());
        hardening.apply(&mut headers, true);
        assert!(headers.get("strict-transport-security").is_some());
    }
}
