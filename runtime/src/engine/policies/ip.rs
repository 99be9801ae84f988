//! `ip` rules: allow and deny lists of networks, compiled into sorted address ranges.

use std::net::IpAddr;

use ipnet::IpNet;
use specgate_plan::policy::IpPolicy;

/// An operation's `ip` policy, ready to check client addresses against.
#[derive(Debug, Clone, Default)]
pub struct IpRules {
    allow: Networks,
    deny: Networks,
}

impl IpRules {
    /// Compiles the policy's networks; overlapping ones are merged.
    pub fn new(policy: &IpPolicy) -> Self {
        Self {
            allow: Networks::new(policy.allow.iter().map(|c| c.0)),
            deny: Networks::new(policy.deny.iter().map(|c| c.0)),
        }
    }

    /// Whether `ip` may call: never when denied, otherwise when allowed or no allow list is set.
    /// An IPv4-mapped IPv6 address is treated as the IPv4 address it carries.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        !self.deny.contains(ip) && (self.allow.is_empty() || self.allow.contains(ip))
    }
}

/// A set of networks as disjoint, sorted, inclusive ranges: one binary search per lookup.
#[derive(Debug, Clone, Default)]
struct Networks {
    v4: Ranges<u32>,
    v6: Ranges<u128>,
}

impl Networks {
    fn new(nets: impl Iterator<Item = IpNet>) -> Self {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for net in nets {
            match net {
                IpNet::V4(n) => v4.push((u32::from(n.network()), u32::from(n.broadcast()))),
                IpNet::V6(n) => {
                    // Addresses are looked up in canonical form, so a network written in IPv4-mapped
                    // form (`::ffff:10.0.0.0/104`) is an IPv4 network. Wider IPv6 networks that merely
                    // contain the mapped block (`::/0`) are about IPv6 clients and stay IPv6 only.
                    let (start, end) = (n.network(), n.broadcast());
                    match (start.to_ipv4_mapped(), end.to_ipv4_mapped()) {
                        (Some(s), Some(e)) => v4.push((u32::from(s), u32::from(e))),
                        _ => v6.push((u128::from(start), u128::from(end))),
                    }
                }
            }
        }
        Self {
            v4: Ranges::new(v4),
            v6: Ranges::new(v6),
        }
    }

    fn is_empty(&self) -> bool {
        self.v4.0.is_empty() && self.v6.0.is_empty()
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => self.v4.contains(u32::from(a)),
            IpAddr::V6(a) => self.v6.contains(u128::from(a)),
        }
    }
}

/// Disjoint inclusive ranges sorted by start.
#[derive(Debug, Clone, Default)]
struct Ranges<T>(Vec<(T, T)>);

impl<T: Copy + Ord> Ranges<T> {
    fn new(mut ranges: Vec<(T, T)>) -> Self {
        ranges.sort_unstable();
        let mut merged: Vec<(T, T)> = Vec::with_capacity(ranges.len());
        for (start, end) in ranges {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        Self(merged)
    }

    fn contains(&self, x: T) -> bool {
        // The only range that can hold `x` is the last one starting at or before it.
        let after = self.0.partition_point(|&(start, _)| start <= x);
        after
            .checked_sub(1)
            .and_then(|i| self.0.get(i))
            .is_some_and(|&(_, end)| x <= end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use specgate_plan::units::Cidr;

    fn rules(allow: &[&str], deny: &[&str]) -> IpRules {
        let cidrs = |l: &[&str]| l.iter().map(|c| c.parse::<Cidr>().unwrap()).collect();
        IpRules::new(&IpPolicy {
            allow: cidrs(allow),
            deny: cidrs(deny),
        })
    }

    fn allows(r: &IpRules, ip: &str) -> bool {
        r.allows(ip.parse().unwrap())
    }

    #[test]
    fn no_rules_allow_everyone() {
        let r = rules(&[], &[]);
        assert!(allows(&r, "192.0.2.1"));
        assert!(allows(&r, "2001:db8::1"));
    }

    #[test]
    fn an_allow_list_admits_only_its_networks() {
        let r = rules(&["10.0.0.0/8", "192.0.2.7"], &[]);
        assert!(allows(&r, "10.0.0.0"));
        assert!(allows(&r, "10.255.255.255"));
        assert!(allows(&r, "192.0.2.7"));
        assert!(!allows(&r, "192.0.2.8"));
        assert!(!allows(&r, "11.0.0.0"));
        assert!(!allows(&r, "9.255.255.255"));
        // An IPv4-only allow list shuts out IPv6 clients.
        assert!(!allows(&r, "2001:db8::1"));
    }

    #[test]
    fn a_deny_list_refuses_only_its_networks() {
        let r = rules(&[], &["203.0.113.0/24", "2001:db8:bad::/48"]);
        assert!(!allows(&r, "203.0.113.77"));
        assert!(allows(&r, "203.0.114.1"));
        assert!(!allows(&r, "2001:db8:bad:1::1"));
        assert!(allows(&r, "2001:db8:bae::1"));
    }

    #[test]
    fn deny_wins_over_allow_in_overlaps() {
        let r = rules(&["10.0.0.0/8"], &["10.1.0.0/16", "10.2.3.4"]);
        assert!(allows(&r, "10.0.0.1"));
        assert!(!allows(&r, "10.1.200.3"));
        assert!(!allows(&r, "10.2.3.4"));
        assert!(allows(&r, "10.2.3.5"));
        let r = rules(&["10.1.0.0/16"], &["10.0.0.0/8"]);
        assert!(!allows(&r, "10.1.0.1"));
    }

    #[test]
    fn overlapping_networks_merge() {
        let r = rules(
            &[
                "10.0.0.0/25",
                "10.0.0.128/25",
                "10.0.0.0/24",
                "10.0.0.64/26",
                "10.0.2.0/24",
            ],
            &[],
        );
        assert_eq!(r.allow.v4.0.len(), 2);
        assert!(allows(&r, "10.0.0.200"));
        assert!(!allows(&r, "10.0.1.1"));
        assert!(allows(&r, "10.0.2.255"));
    }

    #[test]
    fn ipv6() {
        let r = rules(&["2001:db8::/32", "::1"], &["2001:db8:dead::/48"]);
        assert!(allows(&r, "2001:db8:1::1"));
        assert!(allows(&r, "::1"));
        assert!(!allows(&r, "::2"));
        assert!(!allows(&r, "2001:db8:dead:beef::1"));
        assert!(!allows(&r, "2001:db9::1"));
        assert!(!allows(&r, "10.0.0.1"));
        let all = rules(&["::/0"], &[]);
        assert!(allows(&all, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
    }

    #[test]
    fn mapped_addresses_are_ipv4() {
        let r = rules(&["10.0.0.0/8"], &["10.9.9.9"]);
        assert!(allows(&r, "::ffff:10.1.2.3"));
        assert!(!allows(&r, "::ffff:10.9.9.9"));
        assert!(!allows(&r, "::ffff:11.0.0.1"));
        // A network written in mapped form is the IPv4 network it carries.
        let r = rules(&[], &["::ffff:198.51.100.0/120"]);
        assert!(!allows(&r, "198.51.100.20"));
        assert!(!allows(&r, "::ffff:198.51.100.20"));
        assert!(allows(&r, "198.51.101.20"));
        // `::/0` is about IPv6 clients; IPv4 ones (however the socket reports them) are not in it.
        let r = rules(&[], &["::/0"]);
        assert!(!allows(&r, "2001:db8::1"));
        assert!(allows(&r, "192.0.2.1"));
        assert!(allows(&r, "::ffff:192.0.2.1"));
    }

    #[test]
    fn whole_address_spaces() {
        let r = rules(&["0.0.0.0/0"], &["255.255.255.255"]);
        assert!(allows(&r, "0.0.0.0"));
        assert!(allows(&r, "255.255.255.254"));
        assert!(!allows(&r, "255.255.255.255"));
    }

    proptest! {
        #[test]
        fn ranges_agree_with_a_linear_scan(
            nets in proptest::collection::vec((any::<u32>(), 8u8..=32), 0..12),
            probes in proptest::collection::vec(any::<u32>(), 1..32),
        ) {
            let nets: Vec<ipnet::Ipv4Net> = nets
                .into_iter()
                .map(|(a, p)| ipnet::Ipv4Net::new(a.into(), p).unwrap().trunc())
                .collect();
            let set = Networks::new(nets.iter().map(|n| IpNet::V4(*n)));
            for probe in probes {
                // Probe near network edges too, where an off-by-one would show.
                let edges = nets.iter().flat_map(|n| {
                    let (s, e) = (u32::from(n.network()), u32::from(n.broadcast()));
                    [s.wrapping_sub(1), s, e, e.wrapping_add(1)]
                });
                for x in edges.chain([probe]) {
                    let addr = std::net::Ipv4Addr::from(x);
                    let linear = nets.iter().any(|n| n.contains(&addr));
                    prop_assert_eq!(set.contains(IpAddr::V4(addr)), linear, "{}", addr);
                }
            }
        }
    }
}
