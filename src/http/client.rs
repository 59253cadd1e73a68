//! Who is on the other end: the client address used for per-address throttling. It is the TCP
//! peer, unless that peer is a trusted proxy (`PINPANEL_TRUSTED_PROXIES`): then it is the
//! right-most `X-Forwarded-For` entry that is not itself a trusted proxy. Entries further left
//! were written by the client and prove nothing. Without trusted proxies the header is ignored.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use ipnet::IpNet;

use super::AppState;

/// The peers whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl FromStr for TrustedProxies {
    type Err = String;

    /// A list of CIDRs or single addresses, separated by commas or spaces; empty or `none` for
    /// no proxy.
    fn from_str(list: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for item in list
            .split([',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            if item.eq_ignore_ascii_case("none") {
                continue;
            }
            let net = item
                .parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!(
                        "'{}' is not an address or CIDR (such as 10.0.0.0/8 or 192.0.2.7)",
                        item.chars().take(60).collect::<String>()
                    )
                })?;
            nets.push(net.trunc());
        }
        Ok(TrustedProxies(nets))
    }
}

impl TrustedProxies {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request that came from `peer` with `headers`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            match parse_hop(hop) {
                Some(ip) if self.trusts(ip) => client = ip,
                Some(ip) => return ip,
                // Our own proxy wrote something we cannot read: go no further than what we trust.
                None => return client,
            }
        }
        client
    }
}

/// An `X-Forwarded-For` entry: an address, possibly with a port (`192.0.2.1:4711`,
/// `[2001:db8::1]:4711`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    hop.parse::<SocketAddr>()
        .ok()
        .map(|s| s.ip().to_canonical())
}

/// The client's address, as the layer in [`resolve`] found it.
#[derive(Debug, Clone)]
pub struct ClientAddr(pub String);

/// Works out the client address of every request once, before any handler (the router maps
/// each request through it: no middleware future of its own).
pub fn resolve<B>(state: &AppState, mut req: axum::http::Request<B>) -> axum::http::Request<B> {
    let client = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| {
        state
            .settings
            .trusted_proxies
            .client(c.0.ip(), req.headers())
    });
    let addr = client.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    req.extensions_mut().insert(ClientAddr(addr));
    req
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ClientAddr>()
            .cloned()
            .unwrap_or_else(|| ClientAddr("unknown".into())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client(ip("10.0.0.5"), &headers(&["192.0.2.9"])),
            ip("10.0.0.5")
        );
    }

    #[test]
    fn the_client_is_the_right_most_untrusted_entry() {
        let proxies: TrustedProxies = "10.0.0.0/8, 2001:db8::/32".parse().unwrap();
        // The client claims 1.1.1.1; the proxy appended the real address.
        let h = headers(&["1.1.1.1, 198.51.100.7"]);
        assert_eq!(proxies.client(ip("10.0.0.5"), &h), ip("198.51.100.7"));
        // Two proxies of ours in a row, over two header lines.
        let h = headers(&["1.1.1.1", "198.51.100.7, 10.1.2.3"]);
        assert_eq!(proxies.client(ip("10.0.0.5"), &h), ip("198.51.100.7"));
        // With a port, and IPv6.
        let h = headers(&["[2001:db9::1]:4711"]);
        assert_eq!(proxies.client(ip("2001:db8::2"), &h), ip("2001:db9::1"));
    }

    #[test]
    fn an_untrusted_peer_cannot_claim_an_address() {
        let proxies: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        assert_eq!(
            proxies.client(ip("203.0.113.4"), &headers(&["198.51.100.7"])),
            ip("203.0.113.4")
        );
    }

    #[test]
    fn garbage_stops_the_walk_at_the_last_trusted_hop() {
        let proxies: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        let h = headers(&["198.51.100.7, not-an-address"]);
        assert_eq!(proxies.client(ip("10.0.0.5"), &h), ip("10.0.0.5"));
    }

    #[test]
    fn proxy_lists_parse_and_refuse_nonsense() {
        assert!("".parse::<TrustedProxies>().unwrap().is_empty());
        assert!("none".parse::<TrustedProxies>().unwrap().is_empty());
        assert_eq!(
            "127.0.0.1".parse::<TrustedProxies>().unwrap(),
            "127.0.0.1/32".parse::<TrustedProxies>().unwrap()
        );
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
        assert!("proxy.example".parse::<TrustedProxies>().is_err());
    }
}
