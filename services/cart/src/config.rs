//! Configuration of `shop-cart`, read once from the environment.

use std::time::Duration;

use secrecy::SecretString;
use shop_kit::auth::VerifierConfig;
use shop_kit::config::{self, ConfigError, ServerConfig};

/// Cart limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `CART_MAX_QTY` per line (default 99).
    pub max_qty: i64,
    /// `CART_MAX_LINES` (default 50).
    pub max_lines: i64,
    /// `CART_TTL_DAYS`: the sliding expiry (default 30 days).
    pub ttl: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_qty: 99,
            max_lines: 50,
            ttl: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// Limits of each user's preferences (`/me/preferences`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefLimits {
    /// `PREFS_MAX_KEYS`: keys per user (default 32).
    pub max_keys: u32,
    /// `PREFS_MAX_VALUE_BYTES`: the largest value, as compact JSON (default 4096).
    pub max_value_bytes: u32,
}

impl Default for PrefLimits {
    fn default() -> Self {
        Self {
            max_keys: 32,
            max_value_bytes: 4096,
        }
    }
}

/// Everything `shop-cart serve` reads.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listeners and shutdown timings.
    pub server: ServerConfig,
    /// `REDIS_URL`.
    pub redis_url: SecretString,
    /// `CATALOG_URL`: the catalog's base URL.
    pub catalog_url: String,
    /// `JWT_ISSUER`, `JWT_AUDIENCE`, `JWT_PUBLIC_KEYS_DIR` or `JWKS_URL`.
    pub verifier: VerifierConfig,
    /// Limits.
    pub limits: Limits,
    /// Preference limits.
    pub preferences: PrefLimits,
}

impl Config {
    /// Reads the environment; the error names the variable at fault.
    pub fn from_env() -> Result<Self, ConfigError> {
        let d = Limits::default();
        let p = PrefLimits::default();
        let max_keys: u32 = config::or("PREFS_MAX_KEYS", p.max_keys)?;
        let max_value_bytes: u32 = config::or("PREFS_MAX_VALUE_BYTES", p.max_value_bytes)?;
        // Each value is one Redis hash field; keep a user's whole set within a few MiB.
        if !(1..=1000).contains(&max_keys) {
            return Err(ConfigError::new("PREFS_MAX_KEYS", "must be from 1 to 1000"));
        }
        if !(16..=65_536).contains(&max_value_bytes) {
            return Err(ConfigError::new("PREFS_MAX_VALUE_BYTES", "must be from 16 to 65536"));
        }
        let catalog_url: String = config::required("CATALOG_URL")?;
        url::Url::parse(&catalog_url).map_err(|e| ConfigError::new("CATALOG_URL", e))?;
        Ok(Self {
            server: ServerConfig::from_env()?,
            redis_url: config::secret("REDIS_URL")?,
            catalog_url,
            verifier: VerifierConfig::from_env()?,
            limits: Limits {
                max_qty: config::or("CART_MAX_QTY", d.max_qty)?,
                max_lines: config::or("CART_MAX_LINES", d.max_lines)?,
                ttl: config::optional::<u64>("CART_TTL_DAYS")?
                    .map_or(d.ttl, |days| Duration::from_secs(days * 24 * 3600)),
            },
            preferences: PrefLimits {
                max_keys,
                max_value_bytes,
            },
        })
    }
}
