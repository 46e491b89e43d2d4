//! Configuration of `shop-catalog`, read once from the environment.

use std::time::Duration;

use secrecy::SecretString;
use shop_kit::auth::VerifierConfig;
use shop_kit::config::{self, ConfigError, ServerConfig};

/// Everything `shop-catalog serve` reads.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listeners and shutdown timings.
    pub server: ServerConfig,
    /// `DATABASE_URL`: the `catalog` database.
    pub database_url: SecretString,
    /// `DATABASE_MAX_CONNECTIONS` (default 20).
    pub database_max_connections: u32,
    /// `JWT_ISSUER`, `JWT_AUDIENCE`, `JWT_PUBLIC_KEYS_DIR` or `JWKS_URL`.
    pub verifier: VerifierConfig,
    /// `LOW_STOCK_THRESHOLD`: active products with less stock count as low (default 5).
    pub low_stock_threshold: i32,
    /// `RESERVATION_TTL_SECS`: how long a reservation holds its stock without its order's
    /// confirmation (default 900). Keep it well above the order service's `SWEEP_INTERVAL_SECS`,
    /// which is how often it confirms.
    pub reservation_ttl: Duration,
}

impl Config {
    /// Reads the environment; the error names the variable at fault.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            server: ServerConfig::from_env()?,
            database_url: config::secret("DATABASE_URL")?,
            database_max_connections: config::or("DATABASE_MAX_CONNECTIONS", 20)?,
            verifier: VerifierConfig::from_env()?,
            low_stock_threshold: config::or("LOW_STOCK_THRESHOLD", 5)?,
            reservation_ttl: config::seconds_or("RESERVATION_TTL_SECS", Duration::from_secs(900))?
                .max(Duration::from_secs(1)),
        })
    }
}

/// `PUBLIC_URL`, read by `seed` only: where this service's demo images are reachable
/// (default `http://localhost:8002`).
pub fn public_url() -> Result<String, ConfigError> {
    let url: String = config::or("PUBLIC_URL", "http://localhost:8002".to_owned())?;
    url::Url::parse(&url).map_err(|e| ConfigError::new("PUBLIC_URL", e))?;
    Ok(url.trim_end_matches('/').to_owned())
}
