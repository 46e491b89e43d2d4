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

/// Login throttling (docs/api/auth.md#throttling): per (email, address) pair, per email, per
/// address.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleConfig {
    /// `LOGIN_MAX_FAILURES_PER_PAIR`: failures of one email from one address before that pair
    /// is refused (default 5).
    pub per_pair: u32,
    /// `LOGIN_PAIR_LOCK_SECS`: how long a pair is first refused; doubles with each further
    /// failure, up to the window (default 60).
    pub pair_lock: Duration,
    /// `LOGIN_MAX_FAILURES_PER_EMAIL`: failures of one email from all addresses before it backs
    /// off (1 s, doubling) for the addresses that failed on it (default 10).
    pub per_email: u32,
    /// `LOGIN_EMAIL_BACKOFF_MAX_SECS`: the longest backoff of an email (default 60).
    pub email_backoff_max: Duration,
    /// `LOGIN_MAX_FAILURES_PER_IP`: failures from one address across emails (each email adding
    /// at most `per_pair`) before the address is refused (default 50).
    pub per_ip: u32,
    /// `LOGIN_THROTTLE_WINDOW_SECS`: a counter forgets its failures this long after its last
    /// failure and the end of its block (default 900).
    pub window: Duration,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            per_pair: 5,
            pair_lock: Duration::from_secs(60),
            per_email: 10,
            email_backoff_max: Duration::from_secs(60),
            per_ip: 50,
            window: Duration::from_secs(900),
        }
    }
}

impl ThrottleConfig {
    /// Reads the `LOGIN_*` variables; limits and durations must be at least 1.
    fn from_env() -> Result<Self, ConfigError> {
        let d = Self::default();
        let count = |name: &str, default: u32| match config::or(name, default)? {
            0 => Err(ConfigError::new(name, "must be at least 1")),
            n => Ok(n),
        };
        let seconds = |name: &str, default: Duration| match config::seconds_or(name, default)? {
            s if s.is_zero() => Err(ConfigError::new(name, "must be at least 1")),
            s => Ok(s),
        };
        Ok(Self {
            per_pair: count("LOGIN_MAX_FAILURES_PER_PAIR", d.per_pair)?,
            pair_lock: seconds("LOGIN_PAIR_LOCK_SECS", d.pair_lock)?,
            per_email: count("LOGIN_MAX_FAILURES_PER_EMAIL", d.per_email)?,
            email_backoff_max: seconds("LOGIN_EMAIL_BACKOFF_MAX_SECS", d.email_backoff_max)?,
            per_ip: count("LOGIN_MAX_FAILURES_PER_IP", d.per_ip)?,
            window: seconds("LOGIN_THROTTLE_WINDOW_SECS", d.window)?,
        })
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
        Ok(Self {
            server: ServerConfig::from_env()?,
            database_url: config::secret("DATABASE_URL")?,
            database_max_connections: config::or("DATABASE_MAX_CONNECTIONS", 10)?,
            issuer: config::required("JWT_ISSUER")?,
            audience: config::required("JWT_AUDIENCE")?,
            signing_keys_dir: config::required("JWT_SIGNING_KEYS_DIR")?,
            access_ttl: token_ttl("ACCESS_TOKEN_TTL_SECS", 900)?,
            refresh_ttl: config::seconds_or("REFRESH_TOKEN_TTL_SECS", Duration::from_secs(30 * 24 * 3600))?,
            service_ttl: token_ttl("SERVICE_TOKEN_TTL_SECS", 300)?,
            admin,
            service_clients_file: config::optional("SERVICE_CLIENTS_FILE")?,
            throttle: ThrottleConfig::from_env()?,
            trusted_proxy_hops: config::or("TRUSTED_PROXY_HOPS", 0)?,
        })
    }
}

/// An access- or service-token lifetime: at least a minute, at most what every verifier
/// accepts ([`shop_kit::auth::MAX_LIFETIME_SECS`]), so a typo cannot mint tokens the whole
/// shop then refuses.
fn token_ttl(name: &str, default_secs: u64) -> Result<Duration, ConfigError> {
    let ttl = config::seconds_or(name, Duration::from_secs(default_secs))?;
    let max = shop_kit::auth::MAX_LIFETIME_SECS.unsigned_abs();
    if !(60..=max).contains(&ttl.as_secs()) {
        return Err(ConfigError::new(name, format!("must be between 60 and {max} seconds")));
    }
    Ok(ttl)
}
