//! Configuration of `shop-order`, read once from the environment.

use std::time::Duration;

use secrecy::SecretString;
use shop_kit::auth::VerifierConfig;
use shop_kit::config::{self, ConfigError, ServerConfig};

/// Everything `shop-order serve` reads.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listeners and shutdown timings.
    pub server: ServerConfig,
    /// `DATABASE_URL`: the `order` database.
    pub database_url: SecretString,
    /// `DATABASE_MAX_CONNECTIONS` (default 20).
    pub database_max_connections: u32,
    /// `JWT_ISSUER`, `JWT_AUDIENCE`, `JWT_PUBLIC_KEYS_DIR` or `JWKS_URL`.
    pub verifier: VerifierConfig,
    /// `AUTH_URL`: where the service token comes from (`POST /auth/token`).
    pub auth_url: String,
    /// `CATALOG_URL`: pricing and stock reservations.
    pub catalog_url: String,
    /// `CART_URL`: the carts read and cleared at checkout.
    pub cart_url: String,
    /// `SERVICE_CLIENT_ID`: this service's client id at auth.
    pub client_id: String,
    /// `SERVICE_CLIENT_SECRET`.
    pub client_secret: SecretString,
    /// `CURRENCY` written on new orders (default `KZT`).
    pub currency: String,
    /// `SWEEP_INTERVAL_SECS`: how often the sweeper runs (default 10).
    pub sweep_interval: Duration,
    /// `SWEEP_GRACE_SECS`: how long an order must have been pending before the sweeper
    /// resolves it (default 5; keep it above the reservation call's timeout).
    pub sweep_grace: Duration,
    /// `ORDER_FAULT_AFTER_RESERVE`: **tests only**. Stops the checkout right after a successful
    /// reservation, leaving the order `pending` as a crash would (default false).
    pub fault_after_reserve: bool,
}

fn url(name: &str) -> Result<String, ConfigError> {
    let value: String = config::required(name)?;
    url::Url::parse(&value).map_err(|e| ConfigError::new(name, e))?;
    Ok(value.trim_end_matches('/').to_owned())
}

impl Config {
    /// Reads the environment; the error names the variable at fault.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            server: ServerConfig::from_env()?,
            database_url: config::secret("DATABASE_URL")?,
            database_max_connections: config::or("DATABASE_MAX_CONNECTIONS", 20)?,
            verifier: VerifierConfig::from_env()?,
            auth_url: url("AUTH_URL")?,
            catalog_url: url("CATALOG_URL")?,
            cart_url: url("CART_URL")?,
            client_id: config::required("SERVICE_CLIENT_ID")?,
            client_secret: config::secret("SERVICE_CLIENT_SECRET")?,
            currency: config::or("CURRENCY", "KZT".to_owned())?,
            sweep_interval: config::seconds_or("SWEEP_INTERVAL_SECS", Duration::from_secs(10))?,
            sweep_grace: config::seconds_or("SWEEP_GRACE_SECS", Duration::from_secs(5))?,
            fault_after_reserve: config::or("ORDER_FAULT_AFTER_RESERVE", false)?,
        })
    }
}
