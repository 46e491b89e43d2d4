//! Configuration of `shop-gateway`, read once from the environment (docs/configuration.md).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;
use shop_kit::auth::VerifierConfig;
use shop_kit::config::{self, ConfigError, ServerConfig};

/// The four services behind the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Upstream {
    Auth,
    Catalog,
    Cart,
    Order,
}

impl Upstream {
    /// Every upstream, in a stable order.
    pub const ALL: [Upstream; 4] = [Self::Auth, Self::Catalog, Self::Cart, Self::Order];

    /// Its short name (metrics label, `/ready` entry, docs selector).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::Catalog => "catalog",
            Self::Cart => "cart",
            Self::Order => "order",
        }
    }

    fn env_prefix(self) -> &'static str {
        match self {
            Self::Auth => "AUTH",
            Self::Catalog => "CATALOG",
            Self::Cart => "CART",
            Self::Order => "ORDER",
        }
    }
}

/// One upstream's address and patience.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// `<NAME>_URL`, without a trailing `/`.
    pub url: String,
    /// `<NAME>_TIMEOUT_MS` (default `UPSTREAM_TIMEOUT_MS`, itself 10 s): the longest wait for
    /// the answer's head; a slower upstream gets a 504.
    pub timeout: Duration,
}

/// The circuit breaker of each upstream.
#[derive(Debug, Clone, Copy)]
pub struct BreakerConfig {
    /// `BREAKER_FAILURES`: consecutive failures (refused, reset, timed out) that open it (5).
    pub failures: u32,
    /// `BREAKER_OPEN_SECS`: how long it stays open before one trial request (10).
    pub open_for: Duration,
}

/// A request budget: `limit` requests per `window`, written `300/1m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests allowed per window.
    pub limit: u32,
    /// The window.
    pub window: Duration,
}

impl FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (limit, window) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}` is not `<count>/<window>` (e.g. `300/1m`)"))?;
        let limit: u32 = limit
            .trim()
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("`{limit}` is not a positive count"))?;
        let window = window.trim();
        let split = window.find(|c: char| !c.is_ascii_digit()).unwrap_or(window.len());
        let (n, unit) = window.split_at(split);
        let n: u64 = if n.is_empty() {
            1
        } else {
            n.parse().map_err(|_| format!("bad window `{window}`"))?
        };
        let secs = match unit {
            "s" => n,
            "m" => n * 60,
            "h" => n * 3600,
            _ => return Err(format!("window `{window}` must end in s, m or h")),
        };
        if secs == 0 || secs > 24 * 3600 {
            return Err(format!("window `{window}` must be between 1s and 24h"));
        }
        Ok(Self {
            limit,
            window: Duration::from_secs(secs),
        })
    }
}

/// The rate limits, shared by every replica through Redis.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `RATE_LIMIT_API_FREE`: `/api/v1` per free user, or per address when anonymous (`300/1m`).
    pub api_free: Rate,
    /// `RATE_LIMIT_API_PREMIUM`: `/api/v1` per premium user (`1200/1m`).
    pub api_premium: Rate,
    /// `RATE_LIMIT_SEARCH_FREE`: `/api/v1/search` per free user or address (`30/1m`).
    pub search_free: Rate,
    /// `RATE_LIMIT_SEARCH_PREMIUM`: `/api/v1/search` per premium user (`300/1m`).
    pub search_premium: Rate,
    /// `RATE_LIMIT_LOGIN`: login attempts per client address (`10/1m`).
    pub login: Rate,
    /// `RATE_LIMIT_REGISTER`: registrations per client address (`5/1h`).
    pub register: Rate,
    /// `SEARCH_PAGE_FREE`: the most results one search or listing page holds for free users (20).
    pub page_free: u32,
    /// `SEARCH_PAGE_PREMIUM`: the same for premium users (100).
    pub page_premium: u32,
}

impl Default for Limits {
    fn default() -> Self {
        let rate = |limit, secs| Rate {
            limit,
            window: Duration::from_secs(secs),
        };
        Self {
            api_free: rate(300, 60),
            api_premium: rate(1200, 60),
            search_free: rate(30, 60),
            search_premium: rate(300, 60),
            login: rate(10, 60),
            register: rate(5, 3600),
            page_free: 20,
            page_premium: 100,
        }
    }
}

/// The image proxy (`/img`).
#[derive(Debug, Clone)]
pub struct ImageConfig {
    /// `IMAGE_PROXY`: whether `/img` answers at all (default off).
    pub enabled: bool,
    /// `IMAGE_ALLOWED_HOSTS`: remote hosts (comma-separated, exact names) it may fetch from over
    /// https; the shop's own images are always allowed.
    pub allowed_hosts: BTreeSet<String>,
    /// `IMAGE_CACHE_DIR` (default `/tmp/shop-gateway-images`).
    pub cache_dir: PathBuf,
    /// `IMAGE_CACHE_MAX_BYTES`: the disk cache's bound (default 256 MiB).
    pub cache_max_bytes: u64,
    /// `IMAGE_MAX_BYTES`: the largest source image downloaded (default 10 MiB).
    pub max_source_bytes: u64,
    /// `IMAGE_MAX_PIXELS`: the largest decoded source, width × height (default 40 M).
    pub max_source_pixels: u64,
    /// `IMAGE_MAX_DIMENSION`: the largest `w` or `h` asked for (default 2048).
    pub max_dimension: u32,
    /// `IMAGE_FETCH_TIMEOUT_MS`: the whole download, redirects included (default 5 s).
    pub fetch_timeout: Duration,
    /// `IMAGE_INSECURE_ORIGINS`: `ip:port` origins fetched over plain http even though private
    /// (test rigs only; empty in any real shop).
    pub insecure_origins: BTreeSet<SocketAddr>,
}

impl ImageConfig {
    /// Off, with the defaults.
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            allowed_hosts: BTreeSet::new(),
            cache_dir: std::env::temp_dir().join("shop-gateway-images"),
            cache_max_bytes: 256 * 1024 * 1024,
            max_source_bytes: 10 * 1024 * 1024,
            max_source_pixels: 40_000_000,
            max_dimension: 2048,
            fetch_timeout: Duration::from_secs(5),
            insecure_origins: BTreeSet::new(),
        }
    }
}

/// Everything `shop-gateway serve` reads.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listeners and shutdown timings (`MAX_BODY_BYTES` bounds proxied bodies too).
    pub server: ServerConfig,
    /// `JWT_ISSUER`, `JWT_AUDIENCE`, `JWT_PUBLIC_KEYS_DIR` or `JWKS_URL`.
    pub verifier: VerifierConfig,
    /// `AUTH_URL`, `CATALOG_URL`, `CART_URL`, `ORDER_URL` and their timeouts.
    pub upstreams: Vec<(Upstream, UpstreamConfig)>,
    /// The breaker in front of each upstream.
    pub breaker: BreakerConfig,
    /// `REDIS_URL`: rate-limit counters.
    pub redis_url: SecretString,
    /// `PUBLIC_URL`: the shop's origin as shoppers reach it (default `http://localhost:8000`).
    pub public_url: String,
    /// `COOKIE_SECURE`: session cookies carry `Secure` (default true; `false` for plain-http dev).
    pub cookie_secure: bool,
    /// `SESSION_SECRET`: signs CSRF tokens; shared by every replica. When unset a random one is
    /// made at start (fine for one replica; logged as a warning).
    pub session_secret: Option<SecretString>,
    /// `TRUSTED_PROXY_HOPS`: proxies in front of the gateway that append to `X-Forwarded-For`.
    pub trusted_proxy_hops: usize,
    /// Rate limits and page sizes per plan.
    pub limits: Limits,
    /// The image proxy.
    pub images: ImageConfig,
    /// How the web UI writes prices.
    pub ui: UiConfig,
}

/// `CURRENCY` and `PRICE_FORMAT`: how pages write prices.
#[derive(Debug, Clone)]
pub struct UiConfig {
    /// The format, with the currency's sign.
    pub price_format: crate::ui::money::PriceFormat,
}

impl Default for UiConfig {
    fn default() -> Self {
        Self {
            price_format: crate::ui::money::PriceFormat::parse(crate::ui::money::DEFAULT_FORMAT, "KZT")
                .unwrap_or_else(|_| unreachable!("the default format parses")),
        }
    }
}

fn rate_or(var: &str, default: Rate) -> Result<Rate, ConfigError> {
    match config::optional::<String>(var)? {
        Some(text) => text.parse().map_err(|e: String| ConfigError::new(var, e)),
        None => Ok(default),
    }
}

fn url_var(var: &str) -> Result<String, ConfigError> {
    let url: String = config::required(var)?;
    let parsed = url::Url::parse(&url).map_err(|e| ConfigError::new(var, e))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ConfigError::new(var, "must be an http(s) URL"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

fn millis_or(var: &str, default: Duration) -> Result<Duration, ConfigError> {
    Ok(config::optional::<u64>(var)?.map_or(default, Duration::from_millis))
}

fn list(var: &str) -> Result<Vec<String>, ConfigError> {
    Ok(config::optional::<String>(var)?
        .unwrap_or_default()
        .split(',')
        .map(|item| item.trim().to_ascii_lowercase())
        .filter(|item| !item.is_empty())
        .collect())
}

impl Config {
    /// Reads the environment; the error names the variable at fault.
    pub fn from_env() -> Result<Self, ConfigError> {
        let default_timeout = millis_or("UPSTREAM_TIMEOUT_MS", Duration::from_secs(10))?;
        let mut upstreams = Vec::new();
        for upstream in Upstream::ALL {
            let prefix = upstream.env_prefix();
            upstreams.push((
                upstream,
                UpstreamConfig {
                    url: url_var(&format!("{prefix}_URL"))?,
                    timeout: millis_or(&format!("{prefix}_TIMEOUT_MS"), default_timeout)?,
                },
            ));
        }
        let public_url: String = config::or("PUBLIC_URL", "http://localhost:8000".to_owned())?;
        url::Url::parse(&public_url).map_err(|e| ConfigError::new("PUBLIC_URL", e))?;
        let d = Limits::default();
        let i = ImageConfig::disabled();
        let insecure_origins = list("IMAGE_INSECURE_ORIGINS")?
            .iter()
            .map(|origin| {
                origin
                    .parse()
                    .map_err(|_| ConfigError::new("IMAGE_INSECURE_ORIGINS", format!("`{origin}` is not ip:port")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            server: ServerConfig::from_env()?,
            verifier: VerifierConfig::from_env()?,
            upstreams,
            breaker: BreakerConfig {
                failures: config::or("BREAKER_FAILURES", 5)?,
                open_for: config::seconds_or("BREAKER_OPEN_SECS", Duration::from_secs(10))?,
            },
            redis_url: config::secret("REDIS_URL")?,
            public_url: public_url.trim_end_matches('/').to_owned(),
            cookie_secure: config::or("COOKIE_SECURE", true)?,
            session_secret: config::optional_secret("SESSION_SECRET")?,
            trusted_proxy_hops: config::or("TRUSTED_PROXY_HOPS", 0)?,
            limits: Limits {
                api_free: rate_or("RATE_LIMIT_API_FREE", d.api_free)?,
                api_premium: rate_or("RATE_LIMIT_API_PREMIUM", d.api_premium)?,
                search_free: rate_or("RATE_LIMIT_SEARCH_FREE", d.search_free)?,
                search_premium: rate_or("RATE_LIMIT_SEARCH_PREMIUM", d.search_premium)?,
                login: rate_or("RATE_LIMIT_LOGIN", d.login)?,
                register: rate_or("RATE_LIMIT_REGISTER", d.register)?,
                page_free: config::or("SEARCH_PAGE_FREE", d.page_free)?,
                page_premium: config::or("SEARCH_PAGE_PREMIUM", d.page_premium)?,
            },
            images: ImageConfig {
                enabled: config::or("IMAGE_PROXY", false)?,
                allowed_hosts: list("IMAGE_ALLOWED_HOSTS")?.into_iter().collect(),
                cache_dir: config::or("IMAGE_CACHE_DIR", i.cache_dir)?,
                cache_max_bytes: config::or("IMAGE_CACHE_MAX_BYTES", i.cache_max_bytes)?,
                max_source_bytes: config::or("IMAGE_MAX_BYTES", i.max_source_bytes)?,
                max_source_pixels: config::or("IMAGE_MAX_PIXELS", i.max_source_pixels)?,
                max_dimension: config::or("IMAGE_MAX_DIMENSION", i.max_dimension)?,
                fetch_timeout: millis_or("IMAGE_FETCH_TIMEOUT_MS", i.fetch_timeout)?,
                insecure_origins,
            },
            ui: UiConfig {
                price_format: crate::ui::money::PriceFormat::parse(
                    &config::or("PRICE_FORMAT", crate::ui::money::DEFAULT_FORMAT.to_owned())?,
                    &config::or("CURRENCY", "KZT".to_owned())?,
                )
                .map_err(|e| ConfigError::new("PRICE_FORMAT", e))?,
            },
        })
    }

    /// The configuration of `upstream`.
    pub fn upstream(&self, upstream: Upstream) -> Option<&UpstreamConfig> {
        self.upstreams.iter().find(|(u, _)| *u == upstream).map(|(_, c)| c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_with_units() {
        assert_eq!(
            "300/1m".parse(),
            Ok(Rate {
                limit: 300,
                window: Duration::from_secs(60)
            })
        );
        assert_eq!(
            "5/h".parse(),
            Ok(Rate {
                limit: 5,
                window: Duration::from_secs(3600)
            })
        );
        assert_eq!("10/30s".parse::<Rate>().map(|r| r.window), Ok(Duration::from_secs(30)));
        for bad in ["", "300", "0/1m", "-1/1m", "10/1d", "10/0s", "x/1m", "10/m1", "10/25h"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad:?} should be refused");
        }
    }
}
