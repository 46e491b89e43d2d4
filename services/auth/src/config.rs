//! Configuration of `shop-auth`, read once from the environment.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use shop_kit::config::{self, ConfigError, ServerConfig};

/// Everything `shop-auth serve` reads.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listeners and shutdown timings.
    pub server: ServerConfig,
    /// `DATABASE_URL`: the `auth` database.
    pub database_url: SecretString,
    /// `DATABASE_MAX_CONNECTIONS` (default 10).
    pub database_max_connections: u32,
    /// `JWT_ISSUER`.
    pub issuer: String,
    /// `JWT_AUDIENCE`.
    pub audience: String,
    /// `JWT_SIGNING_KEYS_DIR`: `<kid>.pem` private keys; the newest (last kid) signs.
    pub signing_keys_dir: PathBuf,
    /// `ACCESS_TOKEN_TTL_SECS` (default 900).
    pub access_ttl: Duration,
    /// `REFRESH_TOKEN_TTL_SECS` (default 30 days).
    pub refresh_ttl: Duration,
    /// `SERVICE_TOKEN_TTL_SECS` (default 300).
    pub service_ttl: Duration,
    /// `ADMIN_EMAIL` and `ADMIN_PASSWORD`: the admin seeded at start (both or neither; the
    /// email is normalised, the password at least 8 characters).
    pub admin: Option<(String, SecretString)>,
    /// `SERVICE_CLIENTS_FILE`: `client_id:secret` lines for the client-credentials grant.
    pub service_clients_file: Option<PathBuf>,
    /// Login throttling.
    pub throttle: ThrottleConfig,
    /// `TRUSTED_PROXY_HOPS`: how many proxies in front of us append to `X-Forwarded-For`
    /// (gateway, ingress); 0 uses the socket's peer address.
    pub trusted_proxy_hops: usize,
}

/// Login throttling limits.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleConfig {
    /// `LOGIN_MAX_FAILURES_PER_EMAIL` in one window (default 5).
    pub per_email: i32,
    /// `LOGIN_MAX_FAILURES_PER_IP` in one window (default 50).
    pub per_ip: i32,
    /// `LOGIN_THROTTLE_WINDOW_SECS` (default 900).
    pub window: Duration,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            per_email: 5,
            per_ip: 50,
            window: Duration::from_secs(900),
        }
    }
}

impl Config {
    /// Reads the environment; the error names the variable at fault.
    pub fn from_env() -> Result<Self, ConfigError> {
        let admin = match (
            config::optional::<String>("ADMIN_EMAIL")?,
            config::optional_secret("ADMIN_PASSWORD")?,
        ) {
            (Some(email), Some(password)) => {
                let email = crate::domain::Email::parse(&email).map_err(|why| ConfigError::new("ADMIN_EMAIL", why))?;
                // The seeded admin's password is the operator's choice (the local demo uses a
                // well-known one), so only the length rule applies, not the deny list.
                if secrecy::ExposeSecret::expose_secret(&password).chars().count() < crate::domain::password::MIN_LEN {
                    return Err(ConfigError::new("ADMIN_PASSWORD", "must be at least 8 characters"));
                }
                Some((email.as_str().to_owned(), password))
            }
            (None, None) => None,
            (Some(_), None) => return Err(ConfigError::new("ADMIN_PASSWORD", "must be set when ADMIN_EMAIL is")),
            (None, Some(_)) => return Err(ConfigError::new("ADMIN_EMAIL", "must be set when ADMIN_PASSWORD is")),
        };
        let defaults = ThrottleConfig::default();
        Ok(Self {
            server: ServerConfig::from_env()?,
            database_url: config::secret("DATABASE_URL")?,
            database_max_connections: config::or("DATABASE_MAX_CONNECTIONS", 10)?,
            issuer: config::required("JWT_ISSUER")?,
            audience: config::required("JWT_AUDIENCE")?,
            signing_keys_dir: config::required("JWT_SIGNING_KEYS_DIR")?,
            access_ttl: config::seconds_or("ACCESS_TOKEN_TTL_SECS", Duration::from_secs(900))?,
            refresh_ttl: config::seconds_or("REFRESH_TOKEN_TTL_SECS", Duration::from_secs(30 * 24 * 3600))?,
            service_ttl: config::seconds_or("SERVICE_TOKEN_TTL_SECS", Duration::from_secs(300))?,
            admin,
            service_clients_file: config::optional("SERVICE_CLIENTS_FILE")?,
            throttle: ThrottleConfig {
                per_email: config::or("LOGIN_MAX_FAILURES_PER_EMAIL", defaults.per_email)?,
                per_ip: config::or("LOGIN_MAX_FAILURES_PER_IP", defaults.per_ip)?,
                window: config::seconds_or("LOGIN_THROTTLE_WINDOW_SECS", defaults.window)?,
            },
            trusted_proxy_hops: config::or("TRUSTED_PROXY_HOPS", 0)?,
        })
    }
}
