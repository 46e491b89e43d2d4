//! Configuration of `shop-catalog`, read once from the environment.

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
