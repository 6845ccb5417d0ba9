//! Webhooks reach only public addresses (no SSRF): loopback, private, link-local,
//! unique-local, carrier-grade NAT, unspecified, multicast and reserved addresses are refused,
//! also when spelled as IPv4-mapped, IPv4-compatible or NAT64 IPv6 addresses. The check runs
//! on the address each delivery connects to (DNS can change after registration): IP literals
//! in the URL here, names in [`PublicOnly`], the HTTP client's resolver. Redirects are never
//! followed. `UA_WEBHOOK_ALLOW_PRIVATE=1` turns the check off.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The message a refused delivery records.
pub const REFUSED: &str = "refused: private address";

/// Whether a webhook may not connect to `ip`.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0 // "this network"
        || a >= 240 // reserved
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT, 100.64.0.0/10
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // IPv4 inside IPv6: mapped (::ffff:a.b.c.d), compatible (::a.b.c.d), NAT64 (64:ff9b::/96).
    let embedded = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if s[..5] == [0; 5]
        && (s[5] == 0xffff || s[5] == 0)
        && !ip.is_loopback()
        && !ip.is_unspecified()
    {
        return forbidden_v4(embedded);
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4] {
        return forbidden_v4(embedded);
    }
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local, fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link local, fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site local (deprecated), fec0::/10
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
}

/// Whether a delivery to `url` may go ahead as far as its literal host says (names are
/// checked when they resolve); the reason when not.
pub fn check_literal(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    match parsed.host() {
        Some(url::Host::Ipv4(ip)) if is_forbidden(IpAddr::V4(ip)) => Err(REFUSED.into()),
        Some(url::Host::Ipv6(ip)) if is_forbidden(IpAddr::V6(ip)) => Err(REFUSED.into()),
        Some(_) => Ok(()),
        None => Err("the URL has no host".into()),
    }
}

/// A resolver for the webhook client that answers only public addresses of a name (and
/// fails when it has none), so that a name pointing at an internal address is refused when
/// the delivery connects.
pub struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = (all.into_iter())
                .filter(|a| !is_forbidden(a.ip()))
                .collect();
            if public.is_empty() {
                return Err(REFUSED.into());
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_an_internal_address_is_refused() {
        for url in [
            "http://127.0.0.1:3000/api/x",
            "http://0x7f000001:3000/",
            "http://2130706433/",
            "http://0177.0.0.1/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]:3000/",
            "http://[::ffff:7f00:1]/",
            "http://[64:ff9b::7f00:1]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://100.64.0.1/",
            "http://100.127.255.254/",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.1.1/",
            "http://0.0.0.0/",
            "http://[::]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://224.0.0.1/",
        ] {
            assert_eq!(check_literal(url), Err(REFUSED.to_string()), "{url}");
        }
        for url in [
            "https://hooks.example.com/x",
            "http://93.184.216.34/",
            "http://100.128.0.1/",
            "http://[2606:4700::1111]/",
            "http://[::ffff:93.184.216.34]/",
        ] {
            assert_eq!(check_literal(url), Ok(()), "{url}");
        }
    }

    #[tokio::test]
    async fn names_that_resolve_to_internal_addresses_are_refused() {
        use reqwest::dns::Resolve;
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        let err = PublicOnly.resolve(name).await.err().expect("refused");
        assert_eq!(err.to_string(), REFUSED);
    }
}
