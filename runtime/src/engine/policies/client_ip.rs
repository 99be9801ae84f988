//! The client's address: the socket peer, or what trusted proxies report in `X-Forwarded-For`.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use ipnet::IpNet;

/// The address a request is attributed to (for `ip` rules, rate limits and logs).
///
/// A peer outside `trusted` is the client, whatever `X-Forwarded-For` says: anyone can write that header.
/// A trusted peer's header is walked from the right, since each proxy appends the address it received
/// the request from; hops that are themselves trusted are skipped and the first other hop is the client.
/// An entry that does not parse ends the walk at the last trusted address: that proxy received the request
/// from whoever wrote the entry, everything further left is unverifiable text, and believing it would let a
/// client pick its own address by writing garbage before a chosen one. When every hop is trusted, the
/// leftmost one is the client.
///
/// `forwarded_for` yields every `X-Forwarded-For` value in the order the headers arrived (a header value
/// that is not text should be passed through as an unparseable entry, not dropped).
pub fn client_address<'a>(
    peer: IpAddr,
    forwarded_for: impl Iterator<Item = &'a str>,
    trusted: &[IpNet],
) -> IpAddr {
    let peer = peer.to_canonical();
    if !is_trusted(peer, trusted) {
        return peer;
    }
    let mut values = forwarded_for;
    let Some(first) = values.next() else {
        return peer;
    };
    // Usually there is one header; only further ones need collecting to walk them backwards.
    let rest: Vec<&str> = values.collect();
    let entries = rest
        .iter()
        .rev()
        .copied()
        .chain(std::iter::once(first))
        .flat_map(|value| value.rsplit(','));
    let mut last_trusted = peer;
    for entry in entries {
        let Some(hop) = parse_hop(entry) else {
            return last_trusted;
        };
        if !is_trusted(hop, trusted) {
            return hop;
        }
        last_trusted = hop;
    }
    last_trusted
}

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    // A trusted network may be written in IPv4-mapped IPv6 form; the address is already canonical.
    let mapped = match ip {
        IpAddr::V4(v4) => Some(IpAddr::V6(v4.to_ipv6_mapped())),
        IpAddr::V6(_) => None,
    };
    trusted
        .iter()
        .any(|net| net.contains(&ip) || mapped.is_some_and(|m| net.contains(&m)))
}

/// One `X-Forwarded-For` entry: an address, optionally with a port (`1.2.3.4:567`, `[::1]:80`) or in
/// brackets (`[::1]`).
fn parse_hop(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim_matches([' ', '\t']);
    let ip = if let Ok(ip) = entry.parse::<IpAddr>() {
        ip
    } else if let Ok(socket) = entry.parse::<SocketAddr>() {
        socket.ip()
    } else {
        let inner = entry.strip_prefix('[')?.strip_suffix(']')?;
        IpAddr::V6(inner.parse::<Ipv6Addr>().ok()?)
    };
    Some(ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn client(peer: &str, xff: &[&str], trusted: &[&str]) -> IpAddr {
        client_address(ip(peer), xff.iter().copied(), &nets(trusted))
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        assert_eq!(client("203.0.113.9", &["1.1.1.1"], &[]), ip("203.0.113.9"));
        assert_eq!(
            client("203.0.113.9", &["10.0.0.1", "1.1.1.1"], &["10.0.0.0/8"]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_trusted_peer_without_the_header_is_the_client() {
        assert_eq!(client("10.0.0.2", &[], &["10.0.0.0/8"]), ip("10.0.0.2"));
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        // The client forged 6.6.6.6; the proxies appended the real 198.51.100.7 and themselves.
        assert_eq!(
            client(
                "10.0.0.2",
                &["6.6.6.6, 198.51.100.7, 10.0.0.5"],
                &["10.0.0.0/8"]
            ),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn several_header_lines_are_one_list_in_order() {
        assert_eq!(
            client(
                "10.0.0.2",
                &["6.6.6.6", "198.51.100.7", "10.0.0.5,10.0.0.6"],
                &["10.0.0.0/8"]
            ),
            ip("198.51.100.7")
        );
        assert_eq!(
            client("10.0.0.2", &["6.6.6.6", "198.51.100.7"], &["10.0.0.0/8"]),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn when_every_hop_is_trusted_the_leftmost_is_the_client() {
        assert_eq!(
            client("10.0.0.2", &["10.1.1.1, 10.2.2.2"], &["10.0.0.0/8"]),
            ip("10.1.1.1")
        );
    }

    #[test]
    fn a_malformed_entry_stops_at_the_last_trusted_address() {
        let trusted = &["10.0.0.0/8"];
        assert_eq!(
            client("10.0.0.2", &["1.1.1.1, garbage, 10.0.0.5"], trusted),
            ip("10.0.0.5")
        );
        assert_eq!(
            client("10.0.0.2", &["1.1.1.1, unknown"], trusted),
            ip("10.0.0.2")
        );
        assert_eq!(client("10.0.0.2", &["1.1.1.1,"], trusted), ip("10.0.0.2"));
        assert_eq!(client("10.0.0.2", &[""], trusted), ip("10.0.0.2"));
        assert_eq!(
            client("10.0.0.2", &["1.1.1.1", "999.1.1.1"], trusted),
            ip("10.0.0.2")
        );
        assert_eq!(
            client("10.0.0.2", &["fe80::1%eth0"], trusted),
            ip("10.0.0.2")
        );
        // A malformed entry left of the client does not matter.
        assert_eq!(
            client("10.0.0.2", &["garbage, 1.1.1.1"], trusted),
            ip("1.1.1.1")
        );
    }

    #[test]
    fn ports_brackets_and_spaces_are_tolerated() {
        let trusted = &["10.0.0.0/8"];
        assert_eq!(client("10.0.0.2", &["1.2.3.4:567"], trusted), ip("1.2.3.4"));
        assert_eq!(client("10.0.0.2", &["[::1]:80"], trusted), ip("::1"));
        assert_eq!(
            client("10.0.0.2", &["[2001:db8::7]"], trusted),
            ip("2001:db8::7")
        );
        assert_eq!(
            client("10.0.0.2", &["\t2001:db8::7 ,  10.0.0.9 "], trusted),
            ip("2001:db8::7")
        );
        assert_eq!(
            client("10.0.0.2", &["1.2.3.4:99999"], trusted),
            ip("10.0.0.2")
        );
        assert_eq!(client("10.0.0.2", &["[1.2.3.4]"], trusted), ip("10.0.0.2"));
    }

    #[test]
    fn mapped_addresses_are_ipv4() {
        let trusted = &["10.0.0.0/8"];
        // A dual-stack socket reports IPv4 peers as mapped addresses.
        assert_eq!(
            client("::ffff:10.0.0.2", &["1.2.3.4"], trusted),
            ip("1.2.3.4")
        );
        assert_eq!(client("::ffff:192.0.2.1", &[], &[]), ip("192.0.2.1"));
        assert_eq!(
            client("10.0.0.2", &["::ffff:1.2.3.4, ::ffff:10.0.0.3"], trusted),
            ip("1.2.3.4")
        );
        assert_eq!(
            client("10.0.0.2", &["[::ffff:1.2.3.4]:443"], trusted),
            ip("1.2.3.4")
        );
        // A trusted network written in mapped form still trusts the IPv4 peer.
        assert_eq!(
            client("10.0.0.2", &["1.2.3.4"], &["::ffff:10.0.0.0/104"]),
            ip("1.2.3.4")
        );
    }

    #[test]
    fn ipv6_proxies() {
        let trusted = &["2001:db8:ffff::/48"];
        assert_eq!(
            client(
                "2001:db8:ffff::1",
                &["2001:db8:1::9, 2001:db8:ffff::2"],
                trusted
            ),
            ip("2001:db8:1::9")
        );
    }
}
