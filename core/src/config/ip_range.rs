//! Address ranges for `webhook.allow_ips` and `webhook.trusted_proxies`:
//! a CIDR block (`203.0.113.0/24`) or a single address.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange(IpNet);

impl IpRange {
    /// Whether `addr` is in the range. IPv4 addresses seen through an IPv6
    /// socket (`::ffff:203.0.113.5`) match IPv4 ranges.
    pub fn contains(&self, addr: IpAddr) -> bool {
        self.0.contains(&canonical(addr))
    }
}

/// `::ffff:a.b.c.d` → `a.b.c.d`; everything else unchanged.
pub fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

/// Not an address nor a CIDR block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IP address or CIDR block (like 203.0.113.0/24)")]
pub struct BadIpRange(String);

impl FromStr for IpRange {
    type Err = BadIpRange;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Ok(net) = s.parse::<IpNet>() {
            return Ok(IpRange(net.trunc()));
        }
        s.parse::<IpAddr>()
            .map(|addr| IpRange(IpNet::from(canonical(addr))))
            .map_err(|_| BadIpRange(s.to_string()))
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn blocks_and_single_addresses() {
        let block: IpRange = "203.0.113.0/24".parse().expect("cidr");
        assert!(block.contains(ip("203.0.113.77")));
        assert!(!block.contains(ip("203.0.114.1")));
        let single: IpRange = "198.51.100.7".parse().expect("address");
        assert!(single.contains(ip("198.51.100.7")));
        assert!(!single.contains(ip("198.51.100.8")));
        let v6: IpRange = "2001:db8::/32".parse().expect("v6 cidr");
        assert!(v6.contains(ip("2001:db8::1")));
        assert!("10.0.0.0/33".parse::<IpRange>().is_err());
        assert!("example.com".parse::<IpRange>().is_err());
    }

    #[test]
    fn mapped_ipv4_matches_ipv4_ranges() {
        let block: IpRange = "127.0.0.0/8".parse().expect("cidr");
        assert!(block.contains(ip("::ffff:127.0.0.1")));
    }
}
