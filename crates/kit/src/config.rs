//! Typed configuration from environment variables, parsed once at start.

use std::fmt::Display;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;

/// A configuration variable that is missing or malformed. The message names the variable.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {var}: {problem}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub var: String,
    /// What is wrong with it.
    pub problem: String,
}

impl ConfigError {
    /// A problem with `var`.
    pub fn new(var: &str, problem: impl Display) -> Self {
        Self {
            var: var.to_owned(),
            problem: problem.to_string(),
        }
    }
}

fn raw(name: &str) -> Result<Option<String>, ConfigError> {
    match std::env::var(name) {
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(ConfigError::new(name, "is not valid UTF-8")),
    }
}

fn parse<T>(name: &str, value: &str) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: Display,
{
    value
        .trim()
        .parse::<T>()
        .map_err(|e| ConfigError::new(name, format!("cannot parse {value:?}: {e}")))
}

/// A variable that must be set.
pub fn required<T>(name: &str) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: Display,
{
    match raw(name)? {
        Some(v) => parse(name, &v),
        None => Err(ConfigError::new(name, "is required but not set")),
    }
}

/// A variable that may be absent.
pub fn optional<T>(name: &str) -> Result<Option<T>, ConfigError>
where
    T: FromStr,
    T::Err: Display,
{
    raw(name)?.map(|v| parse(name, &v)).transpose()
}

/// A variable with a default.
pub fn or<T>(name: &str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: Display,
{
    Ok(optional(name)?.unwrap_or(default))
}

/// A secret that must be set; it never prints (not in `Debug`, not in logs).
pub fn secret(name: &str) -> Result<SecretString, ConfigError> {
    raw(name)?
        .map(SecretString::from)
        .ok_or_else(|| ConfigError::new(name, "is required but not set"))
}

/// A secret that may be absent.
pub fn optional_secret(name: &str) -> Result<Option<SecretString>, ConfigError> {
    Ok(raw(name)?.map(SecretString::from))
}

/// A duration given in whole seconds.
pub fn seconds_or(name: &str, default: Duration) -> Result<Duration, ConfigError> {
    Ok(optional::<u64>(name)?.map(Duration::from_secs).unwrap_or(default))
}

/// What every service reads: its listeners and its shutdown timings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `LISTEN_ADDR`, the API listener (default `0.0.0.0:8080`).
    pub listen_addr: SocketAddr,
    /// `ADMIN_ADDR`, the admin listener (default `0.0.0.0:9090`).
    pub admin_addr: SocketAddr,
    /// `SHUTDOWN_DELAY_SECS`: how long `/ready` answers 503 before the listeners stop accepting,
    /// so that load balancers stop sending traffic first (default 0; set it to a few seconds
    /// behind a Kubernetes Service).
    pub shutdown_delay: Duration,
    /// `SHUTDOWN_TIMEOUT_SECS`: the longest in-flight requests may take to drain (default 25).
    pub drain_timeout: Duration,
    /// `MAX_BODY_BYTES`: request body limit (default 64 KiB).
    pub max_body_bytes: usize,
}

impl ServerConfig {
    /// Reads the listener variables.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            listen_addr: or("LISTEN_ADDR", SocketAddr::from(([0, 0, 0, 0], 8080)))?,
            admin_addr: or("ADMIN_ADDR", SocketAddr::from(([0, 0, 0, 0], 9090)))?,
            shutdown_delay: seconds_or("SHUTDOWN_DELAY_SECS", Duration::ZERO)?,
            drain_timeout: seconds_or("SHUTDOWN_TIMEOUT_SECS", Duration::from_secs(25))?,
            max_body_bytes: or("MAX_BODY_BYTES", 64 * 1024)?,
        })
    }

    /// Listeners on `127.0.0.1:0` for tests.
    pub fn for_tests() -> Self {
        Self {
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            admin_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            shutdown_delay: Duration::ZERO,
            drain_timeout: Duration::from_secs(5),
            max_body_bytes: 64 * 1024,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_error_names_the_variable() {
        let err = parse::<u16>("SOME_PORT", "eighty").expect_err("must fail");
        let msg = err.to_string();
        assert!(msg.contains("SOME_PORT"), "{msg}");
        assert!(msg.contains("eighty"), "{msg}");
    }

    #[test]
    fn missing_required_names_the_variable() {
        let err = required::<String>("SHOP_KIT_TEST_SURELY_UNSET").expect_err("must fail");
        assert_eq!(err.var, "SHOP_KIT_TEST_SURELY_UNSET");
        assert!(err.to_string().contains("required"));
    }
}
