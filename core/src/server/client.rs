//! Who is asking: the client's address (the peer, or what trusted proxies
//! say in `X-Forwarded-For`), the allow-list, and the two tokens.
//!
//! `X-Forwarded-For` is believed only from `webhook.trusted_proxies`, and only
//! up to the first address that is not itself a trusted proxy, so a client
//! cannot choose its own address by sending the header.

use std::net::IpAddr;

use axum::http::HeaderMap;

use crate::config::{IpRange, Secret, Settings, canonical_ip};

const FORWARDED_FOR: &str = "x-forwarded-for";

/// The access rules of the server.
#[derive(Debug, Clone, Default)]
pub struct Access {
    pub webhook_token: Option<Secret>,
    pub admin_token: Option<Secret>,
    pub allow_ips: Vec<IpRange>,
    pub trusted_proxies: Vec<IpRange>,
}

/// Where a request comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    pub ip: IpAddr,
    /// Came through a proxy that was not trusted (it added `X-Forwarded-For`
    /// or `Forwarded`), so the real client is unknown.
    pub untrusted_forwarding: bool,
}

impl Access {
    pub fn new(settings: &Settings) -> Access {
        Access {
            webhook_token: settings.webhook.token.clone(),
            admin_token: settings.admin.token.clone(),
            allow_ips: settings.webhook.allow_ips.clone(),
            trusted_proxies: settings.webhook.trusted_proxies.clone(),
        }
    }

    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> Client {
        let peer = canonical_ip(peer);
        let forwarded = headers.contains_key(FORWARDED_FOR) || headers.contains_key("forwarded");
        if !self.is_trusted_proxy(peer) {
            return Client {
                ip: peer,
                untrusted_forwarding: forwarded,
            };
        }
        let hops: Vec<&str> = headers
            .get_all(FORWARDED_FOR)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .filter(|hop| !hop.is_empty())
            .collect();
        // Walk from the proxy nearest to us towards the client.
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Ok(ip) = hop.parse::<IpAddr>().map(canonical_ip) else {
                break;
            };
            client = ip;
            if !self.is_trusted_proxy(ip) {
                break;
            }
        }
        Client {
            ip: client,
            untrusted_forwarding: false,
        }
    }

    /// An empty allow-list allows everyone.
    pub fn is_allowed(&self, client: IpAddr) -> bool {
        self.allow_ips.is_empty() || self.allow_ips.iter().any(|range| range.contains(client))
    }

    fn is_trusted_proxy(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|range| range.contains(ip))
    }
}

/// The `token` parameter of a query string, if any.
pub fn query_token(query: Option<&str>) -> Option<String> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(name, _)| name.eq_ignore_ascii_case(crate::intake::payload::TOKEN_PARAM))
        .map(|(_, value)| value.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(trusted: &[&str], allow: &[&str]) -> Access {
        Access {
            trusted_proxies: trusted.iter().map(|r| r.parse().expect("range")).collect(),
            allow_ips: allow.iter().map(|r| r.parse().expect("range")).collect(),
            ..Access::default()
        }
    }

    fn headers(forwarded_for: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in forwarded_for {
            headers.append(FORWARDED_FOR, value.parse().expect("header value"));
        }
        headers
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn forwarded_for_is_ignored_from_untrusted_peers() {
        let access = access(&[], &[]);
        let client = access.client(ip("127.0.0.1"), &headers(&["203.0.113.5"]));
        assert_eq!(
            client,
            Client {
                ip: ip("127.0.0.1"),
                untrusted_forwarding: true
            }
        );
        let direct = access.client(ip("198.51.100.1"), &HeaderMap::new());
        assert_eq!(
            direct,
            Client {
                ip: ip("198.51.100.1"),
                untrusted_forwarding: false
            }
        );
    }

    #[test]
    fn trusted_proxies_reveal_the_client_but_not_what_it_claims() {
        let access = access(&["127.0.0.1", "10.0.0.0/8"], &[]);
        // The client forged "1.1.1.1"; nginx (10.0.0.2) appended the real one.
        let client = access.client(
            ip("127.0.0.1"),
            &headers(&["1.1.1.1, 203.0.113.5", "10.0.0.2"]),
        );
        assert_eq!(client.ip, ip("203.0.113.5"));
        let no_header = access.client(ip("127.0.0.1"), &HeaderMap::new());
        assert_eq!(no_header.ip, ip("127.0.0.1"));
        let garbage = access.client(ip("127.0.0.1"), &headers(&["not-an-ip"]));
        assert_eq!(garbage.ip, ip("127.0.0.1"));
        let mapped = access.client(ip("::ffff:127.0.0.1"), &headers(&["203.0.113.9"]));
        assert_eq!(mapped.ip, ip("203.0.113.9"));
    }

    #[test]
    fn allow_list() {
        assert!(access(&[], &[]).is_allowed(ip("8.8.8.8")));
        let listed = access(&[], &["203.0.113.0/24"]);
        assert!(listed.is_allowed(ip("203.0.113.200")));
        assert!(!listed.is_allowed(ip("203.0.114.1")));
    }

    #[test]
    fn token_from_the_query() {
        assert_eq!(
            query_token(Some("event=pickup&token=a%2Bb")).as_deref(),
            Some("a+b")
        );
        assert_eq!(query_token(Some("TOKEN=x")).as_deref(), Some("x"));
        assert_eq!(query_token(Some("event=pickup")), None);
        assert_eq!(query_token(None), None);
    }
}
