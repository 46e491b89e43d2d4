//! Redis: a lazily connecting, self-reconnecting connection and its readiness check.
//!
//! The service starts even when Redis is down (`/ready` says so, requests get 503 problem
//! documents); the first request after Redis comes back connects.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::{ExposeSecret, SecretString};

use crate::Problem;
use crate::config::ConfigError;
use crate::health::Check;

/// How long connecting and each command may take.
pub const TIMEOUT: Duration = Duration::from_secs(1);

/// A shared Redis connection, made on first use.
#[derive(Clone)]
pub struct Redis {
    client: redis::Client,
    conn: Arc<tokio::sync::OnceCell<ConnectionManager>>,
}

impl Redis {
    /// Parses the URL (the error names `var`); does not connect.
    pub fn new(var: &str, url: &SecretString) -> Result<Self, ConfigError> {
        let client = redis::Client::open(url.expose_secret())
            .map_err(|e| ConfigError::new(var, format!("not a valid Redis URL: {}", e.kind_str())))?;
        Ok(Self {
            client,
            conn: Arc::new(tokio::sync::OnceCell::new()),
        })
    }

    /// The connection, connecting now if needed.
    pub async fn conn(&self) -> Result<ConnectionManager, redis::RedisError> {
        let conn = self
            .conn
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(TIMEOUT))
                    .set_response_timeout(Some(TIMEOUT))
                    .set_number_of_retries(1);
                self.client.get_connection_manager_with_config(config).await
            })
            .await?;
        Ok(conn.clone())
    }
}

trait KindStr {
    fn kind_str(&self) -> String;
}

impl KindStr for redis::RedisError {
    // A Redis URL can hold a password; say what is wrong without quoting it.
    fn kind_str(&self) -> String {
        format!("{:?}", self.kind())
    }
}

impl From<redis::RedisError> for Problem {
    fn from(err: redis::RedisError) -> Self {
        tracing::error!(error = %err, "redis unavailable");
        Problem::unavailable("the cart store is unavailable; try again shortly")
            .header(http::header::RETRY_AFTER, http::HeaderValue::from_static("1"))
    }
}

/// `/ready` check: `PING`.
pub struct RedisCheck(pub Redis);

impl Check for RedisCheck {
    fn name(&self) -> &'static str {
        "redis"
    }
    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let mut conn = self.0.conn().await.map_err(|e| e.to_string())?;
            let pong: String = redis::cmd("PING")
                .query_async(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            if pong == "PONG" {
                Ok(())
            } else {
                Err(format!("unexpected answer {pong:?}"))
            }
        })
    }
}
