//! `hosts`: which `Host` (or HTTP/2 `:authority`) values a request may name.

use specgate_plan::policy::{HostPattern, Hosts};

/// Accepted hosts, compiled once. Absent from the policy: every host is accepted.
#[derive(Debug, Clone, Default)]
pub struct HostRules {
    /// `None` accepts any host.
    patterns: Option<Vec<Pattern>>,
}

#[derive(Debug, Clone)]
enum Pattern {
    /// `api.example.com` or `api.example.com:8443`.
    Exact { host: String, port: Option<String> },
    /// `*.example.com`: one or more labels before `.example.com`.
    Suffix {
        suffix: String,
        port: Option<String>,
    },
}

impl HostRules {
    /// `hosts: from-servers` must have been resolved into a list by the compiler.
    pub fn new(hosts: Option<&Hosts>) -> Result<Self, String> {
        let patterns = match hosts {
            None => None,
            Some(Hosts::List(list)) => Some(list.iter().map(Pattern::new).collect()),
            Some(Hosts::Derived(_)) => {
                return Err("`hosts: from-servers` was not resolved by the compiler".into());
            }
        };
        Ok(Self { patterns })
    }

    /// Whether a request naming `authority` (a Host header value: host, optional port) is accepted.
    /// A request that names no host is refused when hosts are restricted.
    pub fn allows(&self, authority: Option<&str>) -> bool {
        let Some(patterns) = &self.patterns else {
            return true;
        };
        let Some(authority) = authority else {
            return false;
        };
        let (host, port) = split_authority(authority);
        let host = host.strip_suffix('.').unwrap_or(host);
        patterns.iter().any(|pattern| pattern.matches(host, port))
    }
}

impl Pattern {
    fn new(pattern: &HostPattern) -> Self {
        let (host, port) = split_authority(pattern.as_str());
        let port = port.map(str::to_owned);
        match host.strip_prefix("*.") {
            Some(suffix) => Self::Suffix {
                suffix: format!(".{suffix}"),
                port,
            },
            None => Self::Exact {
                host: host.to_owned(),
                port,
            },
        }
    }

    /// A pattern without a port accepts any port (the listener decides which ports exist).
    fn matches(&self, host: &str, port: Option<&str>) -> bool {
        let (fits, wanted) = match self {
            Self::Exact { host: exact, port } => (host.eq_ignore_ascii_case(exact), port),
            Self::Suffix { suffix, port } => (
                host.len() > suffix.len()
                    && host
                        .get(host.len() - suffix.len()..)
                        .is_some_and(|end| end.eq_ignore_ascii_case(suffix)),
                port,
            ),
        };
        fits && wanted.as_deref().is_none_or(|w| Some(w) == port)
    }
}

/// `host[:port]` or `[v6]:port` into host and port.
fn split_authority(authority: &str) -> (&str, Option<&str>) {
    if let Some(rest) = authority.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((host, tail)) => (host, tail.strip_prefix(':')),
            None => (authority, None),
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, Some(port)),
        _ => (authority, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(list: &[&str]) -> HostRules {
        let list = list
            .iter()
            .map(|h| HostPattern::try_from((*h).to_owned()).unwrap())
            .collect();
        HostRules::new(Some(&Hosts::List(list))).unwrap()
    }

    #[test]
    fn exact_hosts_match_case_insensitively_on_any_port_unless_one_is_named() {
        let r = rules(&["api.example.com", "admin.example.com:8443"]);
        assert!(r.allows(Some("api.example.com")));
        assert!(r.allows(Some("API.Example.com:443")));
        assert!(r.allows(Some("api.example.com.")));
        assert!(r.allows(Some("admin.example.com:8443")));
        assert!(!r.allows(Some("admin.example.com:443")));
        assert!(!r.allows(Some("evil.example.com")));
        assert!(!r.allows(Some("api.example.com.evil.org")));
        assert!(!r.allows(None));
        assert!(HostRules::default().allows(None));
    }

    #[test]
    fn wildcards_need_at_least_one_label() {
        let r = rules(&["*.users.example.com", "[::1]", "127.0.0.1"]);
        assert!(r.allows(Some("eu.users.example.com")));
        assert!(r.allows(Some("a.b.users.example.com")));
        assert!(!r.allows(Some("users.example.com")));
        assert!(!r.allows(Some("evilusers.example.com")));
        assert!(r.allows(Some("[::1]:8080")));
        assert!(r.allows(Some("127.0.0.1:8080")));
    }
}
