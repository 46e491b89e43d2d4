//! Downloading a remote image without becoming an SSRF hole: only allow-listed hosts, https,
//! public addresses after DNS resolution (checked in the resolver, so the address checked is
//! the address connected to, and again for every redirect), a byte limit while streaming, and
//! one deadline for the whole download.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

use super::ImgError;
use crate::config::ImageConfig;

/// The most redirects followed.
const MAX_REDIRECTS: usize = 3;

/// Whether `ip` is a public unicast address (not loopback, private, link-local, shared,
/// documentation, benchmarking, multicast, reserved, or an IPv6 form of one of those).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            // NAT64 (64:ff9b::/96) embeds an IPv4 address.
            if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
                let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
                return is_public_v4(v4);
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x2001 && s[1] < 0x0200) // IETF protocol assignments (Teredo, …)
                || s[0] == 0x2002 // 6to4 embeds IPv4
                || s[0..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible ::a.b.c.d
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240) // reserved
}

/// Marks a resolution refused because every address was private.
#[derive(Debug)]
struct Blocked(String);

impl std::fmt::Display for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} resolves only to private addresses", self.0)
    }
}

impl std::error::Error for Blocked {}

/// A resolver that answers only public addresses.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = found.into_iter().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                return Err(Box::new(Blocked(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// Downloads images from the allow-listed hosts.
pub struct Fetcher {
    client: reqwest::Client,
    allowed_hosts: BTreeSet<String>,
    insecure_origins: BTreeSet<SocketAddr>,
    max_bytes: u64,
    timeout: Duration,
}

/// What a download produced.
#[derive(Debug, Clone)]
pub struct Downloaded {
    /// The body.
    pub bytes: Bytes,
    /// Its declared content type.
    pub content_type: String,
}

impl Fetcher {
    /// A fetcher for `config`.
    pub fn new(config: &ImageConfig) -> anyhow::Result<Self> {
        shop_kit::install_crypto_provider();
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(PublicOnly))
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(3))
            .no_proxy()
            .user_agent(concat!("shop-gateway-images/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            client,
            allowed_hosts: config.allowed_hosts.clone(),
            insecure_origins: config.insecure_origins.clone(),
            max_bytes: config.max_source_bytes,
            timeout: config.fetch_timeout,
        })
    }

    /// Whether `url` may be fetched at all: allowed host, https (or an insecure test origin),
    /// and, for an address written in the URL, a public one.
    pub fn check(&self, url: &Url) -> Result<(), ImgError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ImgError::Forbidden(format!("`{}` urls are not allowed", url.scheme())));
        }
        let host = url
            .host()
            .ok_or_else(|| ImgError::BadRequest("the url has no host".into()))?;
        let port = url.port_or_known_default().unwrap_or(0);
        let literal = match host {
            Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
            Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
            Host::Domain(_) => None,
        };
        if let Some(ip) = literal
            && self.insecure_origins.contains(&SocketAddr::new(ip, port))
        {
            return Ok(());
        }
        let name = url
            .host_str()
            .unwrap_or_default()
            .trim_matches(['[', ']'])
            .to_ascii_lowercase();
        if !self.allowed_hosts.contains(&name) {
            return Err(ImgError::Forbidden(format!("host `{name}` is not allowed")));
        }
        if url.scheme() != "https" {
            return Err(ImgError::Forbidden("remote images must be https".into()));
        }
        if let Some(ip) = literal
            && !is_public(ip)
        {
            return Err(ImgError::Forbidden(format!("address {ip} is not public")));
        }
        Ok(())
    }

    /// Downloads `url`, following at most three redirects (each checked like the first).
    pub async fn fetch(&self, url: Url) -> Result<Downloaded, ImgError> {
        match tokio::time::timeout(self.timeout, self.fetch_inner(url)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(ImgError::Timeout),
        }
    }

    async fn fetch_inner(&self, mut url: Url) -> Result<Downloaded, ImgError> {
        for _ in 0..=MAX_REDIRECTS {
            self.check(&url)?;
            let answer = self
                .client
                .get(url.clone())
                .header(reqwest::header::ACCEPT, "image/webp,image/png,image/jpeg,image/gif")
                .send()
                .await
                .map_err(|err| {
                    if crate::upstream::caused_by::<Blocked>(&err) {
                        ImgError::Forbidden(format!(
                            "host `{}` resolves only to private addresses",
                            url.host_str().unwrap_or_default()
                        ))
                    } else if err.is_timeout() {
                        ImgError::Timeout
                    } else {
                        ImgError::Upstream(format!("fetching the image failed: {}", err.without_url()))
                    }
                })?;
            if answer.status().is_redirection() {
                let location = answer
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| ImgError::Upstream("a redirect without a location".into()))?;
                url = url
                    .join(location)
                    .map_err(|_| ImgError::Upstream("a redirect to a malformed location".into()))?;
                continue;
            }
            if !answer.status().is_success() {
                return Err(ImgError::Upstream(format!(
                    "the source answered {}",
                    answer.status().as_u16()
                )));
            }
            let content_type = content_type(&answer);
            if !content_type.starts_with("image/") {
                return Err(ImgError::NotAnImage(format!("the source sent `{content_type}`")));
            }
            if answer.content_length().is_some_and(|n| n > self.max_bytes) {
                return Err(ImgError::TooLarge(format!(
                    "the source is larger than {} bytes",
                    self.max_bytes
                )));
            }
            let bytes = read_limited(answer, self.max_bytes).await?;
            return Ok(Downloaded { bytes, content_type });
        }
        Err(ImgError::Upstream(format!("more than {MAX_REDIRECTS} redirects")))
    }
}

/// An answer's content type, lower case (empty when missing).
pub fn content_type(answer: &reqwest::Response) -> String {
    answer
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// Reads a body, failing as soon as it passes `max` bytes.
pub async fn read_limited(answer: reqwest::Response, max: u64) -> Result<Bytes, ImgError> {
    let mut body = BytesMut::new();
    let mut stream = answer.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            if e.is_timeout() {
                ImgError::Timeout
            } else {
                ImgError::Upstream("the download broke off".into())
            }
        })?;
        if body.len() as u64 + chunk.len() as u64 > max {
            return Err(ImgError::TooLarge(format!("the source is larger than {max} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "198.18.0.1",
            "192.0.2.1",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2001:db8::1",
            "2002:7f00:1::1",
            "::127.0.0.1",
        ] {
            let ip: IpAddr = ip.parse().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            assert!(!is_public(ip), "{ip} must not be public");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"] {
            let ip: IpAddr = ip.parse().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            assert!(is_public(ip), "{ip} is public");
        }
    }

    #[test]
    fn check_wants_an_allowed_https_host() {
        let mut config = ImageConfig::disabled();
        config.allowed_hosts.insert("images.example.com".into());
        config.allowed_hosts.insert("10.0.0.5".into());
        let fetcher = Fetcher::new(&config).unwrap_or_else(|e| panic!("{e}"));
        let url = |s: &str| Url::parse(s).unwrap_or_else(|e| panic!("{e}"));
        assert!(fetcher.check(&url("https://images.example.com/a.png")).is_ok());
        assert!(matches!(
            fetcher.check(&url("http://images.example.com/a.png")),
            Err(ImgError::Forbidden(_))
        ));
        assert!(matches!(
            fetcher.check(&url("https://evil.example.com/a.png")),
            Err(ImgError::Forbidden(_))
        ));
        assert!(
            matches!(
                fetcher.check(&url("https://10.0.0.5/a.png")),
                Err(ImgError::Forbidden(_))
            ),
            "allowed by name, refused by address"
        );
        assert!(fetcher.check(&url("file:///etc/passwd")).is_err());
    }
}
