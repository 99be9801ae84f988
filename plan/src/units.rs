//! Value types of the `x-security` vocabulary that parse from the spec's text and print back canonically.
//!
//! Each type checks its value while deserializing, so an impossible value (a zero window, a bad CIDR, a
//! regex that does not compile) is refused at the exact key that holds it.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// Implements `Serialize` through `Display` and `Deserialize` through `FromStr` (strings only).
macro_rules! string_serde {
    ($ty:ty, $expecting:literal) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$ty, E> {
                        v.parse().map_err(E::custom)
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}

/// A length of time written `250ms`, `30s`, `1m`, `1h` or `1d`; always greater than zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(std::time::Duration);

impl Duration {
    pub const fn from_secs(secs: u64) -> Self {
        Self(std::time::Duration::from_secs(secs))
    }
    pub const fn from_millis(ms: u64) -> Self {
        Self(std::time::Duration::from_millis(ms))
    }
    pub const fn get(self) -> std::time::Duration {
        self.0
    }
}

impl FromStr for Duration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        let (number, unit) = s.split_at(digits);
        let hint = "write a whole number and a unit: 250ms, 30s, 1m, 1h or 1d";
        let n: u64 = number
            .parse()
            .map_err(|_| format!("`{s}` is not a duration; {hint}"))?;
        let ms_per_unit: u64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => return Err(format!("`{s}` has no unit; {hint}")),
            _ => return Err(format!("`{s}` has an unknown unit `{unit}`; {hint}")),
        };
        if n == 0 {
            return Err(format!(
                "`{s}` is zero; a duration must be greater than zero"
            ));
        }
        let ms = n
            .checked_mul(ms_per_unit)
            .filter(|ms| *ms <= 100 * 365 * 86_400_000)
            .ok_or_else(|| format!("`{s}` is longer than a hundred years"))?;
        Ok(Self::from_millis(ms))
    }
}

impl fmt::Display for Duration {
    /// Prints the largest unit that divides the value exactly, so parsing the output gives it back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        for (unit, size) in [
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1_000),
        ] {
            if ms.is_multiple_of(size) {
                return write!(f, "{}{unit}", ms / size);
            }
        }
        write!(f, "{ms}ms")
    }
}

string_serde!(Duration, "a duration such as 30s, 1m, 1h");

/// A number of bytes written `512`, `16KiB`, `1MiB` or `1GiB` (1024-based); always greater than zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        let (number, unit) = s.split_at(digits);
        let hint = "write bytes, or a number with KiB, MiB or GiB (1024-based): 512, 16KiB, 1MiB";
        let n: u64 = number
            .parse()
            .map_err(|_| format!("`{s}` is not a size; {hint}"))?;
        let scale: u64 = match unit.trim_start() {
            "" | "B" => 1,
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            "KB" | "kB" | "MB" | "GB" | "K" | "M" | "G" => {
                return Err(format!(
                    "`{s}`: decimal units are ambiguous; write KiB, MiB or GiB (1024-based)"
                ));
            }
            other => return Err(format!("`{s}` has an unknown unit `{other}`; {hint}")),
        };
        if n == 0 {
            return Err(format!("`{s}` is zero; a size must be greater than zero"));
        }
        n.checked_mul(scale)
            .map(Self)
            .ok_or_else(|| format!("`{s}` is too large"))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
            if self.0.is_multiple_of(size) {
                return write!(f, "{}{unit}", self.0 / size);
            }
        }
        write!(f, "{}", self.0)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size such as 512, 16KiB or 1MiB")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                if v == 0 {
                    return Err(E::custom("a size must be greater than zero"));
                }
                Ok(ByteSize(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom("a size must be greater than zero"))
                    .and_then(|v| self.visit_u64(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// An IPv4 or IPv6 network in CIDR notation; a bare address means that one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr(pub ipnet::IpNet);

impl FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Ok(net) = s.parse::<ipnet::IpNet>() {
            if net.trunc() != net {
                return Err(format!(
                    "`{s}` has host bits set; did you mean `{}`?",
                    net.trunc()
                ));
            }
            return Ok(Self(net));
        }
        if let Ok(addr) = s.parse::<std::net::IpAddr>() {
            return Ok(Self(ipnet::IpNet::from(addr)));
        }
        Err(format!(
            "`{s}` is not an IP network; write CIDR notation such as 10.0.0.0/8 or 2001:db8::/32"
        ))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

string_serde!(Cidr, "an IP network in CIDR notation");

/// A User-Agent pattern: a case-insensitive substring, or `/regex/` (matched case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UaPattern {
    Substring(String),
    Regex(String),
}

impl FromStr for UaPattern {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Err("an empty User-Agent pattern would match every client".into());
        }
        match s.strip_prefix('/').and_then(|r| r.strip_suffix('/')) {
            Some(re) if s.len() >= 2 => {
                regex::RegexBuilder::new(re)
                    .case_insensitive(true)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| {
                        // regex's messages draw a caret over the pattern on several lines; keep the reason.
                        let text = e.to_string();
                        let reason = text
                            .lines()
                            .last()
                            .unwrap_or_default()
                            .trim_start_matches("error: ")
                            .to_owned();
                        format!("`{s}` is not a valid regex: {reason}")
                    })?;
                Ok(Self::Regex(re.to_owned()))
            }
            _ => Ok(Self::Substring(s.to_owned())),
        }
    }
}

impl fmt::Display for UaPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Substring(s) => f.write_str(s),
            Self::Regex(r) => write!(f, "/{r}/"),
        }
    }
}

string_serde!(UaPattern, "a User-Agent substring or /regex/");

/// A CORS origin: `*`, an exact origin, or a pattern whose `*` stands for one or more DNS labels.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OriginPattern(String);

impl OriginPattern {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn is_any(&self) -> bool {
        self.0 == "*"
    }
}

impl FromStr for OriginPattern {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "*" {
            return Ok(Self(s.into()));
        }
        let hint =
            "write scheme://host[:port], such as https://app.example.com or https://*.example.com";
        let Some((scheme, rest)) = s.split_once("://") else {
            return Err(format!("`{s}` is not an origin; {hint}"));
        };
        if scheme != "http" && scheme != "https" {
            return Err(format!("`{s}` has scheme `{scheme}`; {hint}"));
        }
        if rest.is_empty() || rest.contains(['/', '?', '#', ' ']) {
            return Err(format!(
                "`{s}` is not an origin (no path, query or trailing slash); {hint}"
            ));
        }
        if rest.contains('*') && !rest.starts_with("*.") || rest.matches('*').count() > 1 {
            return Err(format!(
                "`{s}`: a wildcard may only stand for the leading labels, as in https://*.example.com"
            ));
        }
        Ok(Self(s.to_ascii_lowercase()))
    }
}

impl fmt::Display for OriginPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

string_serde!(OriginPattern, "an origin such as https://app.example.com");

/// An HTTP header name (an RFC 9110 token), kept as written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HeaderName(String);

impl HeaderName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl FromStr for HeaderName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if is_token(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(format!(
                "`{s}` is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)"
            ))
        }
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

string_serde!(HeaderName, "a header name");

/// What a rate limit counts by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum RateKey {
    /// The authenticated credential; anonymous calls fall back to the client IP.
    #[default]
    Credential,
    Ip,
    /// One budget for the whole operation, shared by every caller.
    Operation,
    /// The value of a request header (a missing header counts under the client IP).
    Header(HeaderName),
}

impl FromStr for RateKey {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "credential" => Ok(Self::Credential),
            "ip" => Ok(Self::Ip),
            "operation" => Ok(Self::Operation),
            _ => match s.strip_prefix("header:") {
                Some(name) => Ok(Self::Header(name.parse()?)),
                None => Err(format!(
                    "`{s}` is not a rate-limit key; write credential, ip, operation or header:NAME"
                )),
            },
        }
    }
}

impl fmt::Display for RateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Credential => f.write_str("credential"),
            Self::Ip => f.write_str("ip"),
            Self::Operation => f.write_str("operation"),
            Self::Header(h) => write!(f, "header:{h}"),
        }
    }
}

string_serde!(RateKey, "credential, ip, operation or header:NAME");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip_in_their_largest_unit() {
        for (text, printed) in [
            ("90s", "90s"),
            ("60s", "1m"),
            ("1h", "1h"),
            ("1500ms", "1500ms"),
            ("2d", "2d"),
        ] {
            let d: Duration = text.parse().unwrap();
            assert_eq!(d.to_string(), printed);
            assert_eq!(printed.parse::<Duration>().unwrap(), d);
        }
        assert_eq!("1m".parse::<Duration>().unwrap().get().as_secs(), 60);
    }

    #[test]
    fn bad_durations_say_why() {
        assert!("0s".parse::<Duration>().unwrap_err().contains("zero"));
        assert!("10".parse::<Duration>().unwrap_err().contains("no unit"));
        assert!(
            "10w"
                .parse::<Duration>()
                .unwrap_err()
                .contains("unknown unit")
        );
        assert!("abc".parse::<Duration>().is_err());
        assert!("99999999999999d".parse::<Duration>().is_err());
    }

    #[test]
    fn sizes_are_1024_based() {
        assert_eq!("1MiB".parse::<ByteSize>().unwrap().0, 1_048_576);
        assert_eq!("512".parse::<ByteSize>().unwrap().0, 512);
        assert_eq!(ByteSize(16384).to_string(), "16KiB");
        assert!("1MB".parse::<ByteSize>().unwrap_err().contains("MiB"));
        assert!("0".parse::<ByteSize>().is_err());
        let from_number: ByteSize = serde_json::from_value(serde_json::json!(2048)).unwrap();
        assert_eq!(from_number.0, 2048);
    }

    #[test]
    fn cidrs_accept_bare_addresses_and_refuse_host_bits() {
        assert_eq!(
            "10.0.0.0/8".parse::<Cidr>().unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!("::1".parse::<Cidr>().unwrap().to_string(), "::1/128");
        assert!(
            "10.0.0.1/8"
                .parse::<Cidr>()
                .unwrap_err()
                .contains("10.0.0.0/8")
        );
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("nonsense".parse::<Cidr>().is_err());
    }

    #[test]
    fn user_agent_patterns() {
        assert_eq!(
            "sqlmap".parse::<UaPattern>().unwrap(),
            UaPattern::Substring("sqlmap".into())
        );
        assert_eq!(
            "/^curl\\//".parse::<UaPattern>().unwrap(),
            UaPattern::Regex("^curl\\/".into())
        );
        assert!("/(unclosed/".parse::<UaPattern>().is_err());
        assert!("".parse::<UaPattern>().is_err());
    }

    #[test]
    fn origins() {
        assert!("https://app.example.com".parse::<OriginPattern>().is_ok());
        assert!("https://*.example.com".parse::<OriginPattern>().is_ok());
        assert!("https://app.example.com/".parse::<OriginPattern>().is_err());
        assert!("app.example.com".parse::<OriginPattern>().is_err());
        assert!("https://app.*.com".parse::<OriginPattern>().is_err());
    }

    #[test]
    fn rate_keys() {
        assert_eq!(
            "header:X-Tenant".parse::<RateKey>().unwrap().to_string(),
            "header:X-Tenant"
        );
        assert!("header:bad name".parse::<RateKey>().is_err());
        assert!("user".parse::<RateKey>().is_err());
    }
}
