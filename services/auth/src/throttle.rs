//! Login throttling per email and per client address, in Postgres so every replica shares it.
//!
//! An attempt is counted *before* the password is checked (one atomic upsert per key), so
//! concurrent guesses cannot slip past the limit; a successful login clears the email's
//! counter and takes its attempt back from the address's.

use std::net::IpAddr;
use std::time::Duration;

use sqlx::PgPool;

use crate::config::ThrottleConfig;

/// The counters of one login attempt.
#[derive(Debug, Clone)]
pub struct Keys {
    email: String,
    ip: String,
}

impl Keys {
    /// The keys for an email and a client address.
    pub fn new(email: &str, ip: IpAddr) -> Self {
        Self {
            email: format!("email:{email}"),
            ip: format!("ip:{ip}"),
        }
    }
}

/// Counts an attempt; `Err(retry_after)` when either counter is over its limit.
pub async fn attempt(db: &PgPool, config: &ThrottleConfig, keys: &Keys) -> Result<Result<(), Duration>, sqlx::Error> {
    let window = config.window.as_secs_f64();
    let rows: Vec<(String, i32, f64)> = sqlx::query_as(
        "INSERT INTO login_throttle AS t (key, attempts, window_started_at)
         SELECT k, 1, now() FROM unnest($1::text[]) AS k
         ON CONFLICT (key) DO UPDATE SET
             attempts = CASE WHEN t.window_started_at <= now() - make_interval(secs => $2) THEN 1 ELSE t.attempts + 1 END,
             window_started_at = CASE WHEN t.window_started_at <= now() - make_interval(secs => $2) THEN now() ELSE t.window_started_at END
         RETURNING key, attempts,
             GREATEST(0, EXTRACT(EPOCH FROM (window_started_at + make_interval(secs => $2) - now())))::float8",
    )
    .bind([keys.email.as_str(), keys.ip.as_str()])
    .bind(window)
    .fetch_all(db)
    .await?;
    let mut retry_after = Duration::ZERO;
    for (key, attempts, remaining) in rows {
        let limit = if key.starts_with("email:") {
            config.per_email
        } else {
            config.per_ip
        };
        if attempts > limit {
            retry_after = retry_after.max(Duration::from_secs_f64(remaining.ceil().max(1.0)));
        }
    }
    Ok(if retry_after.is_zero() {
        Ok(())
    } else {
        Err(retry_after)
    })
}

/// After a successful login: the email starts afresh, the address gets its attempt back.
pub async fn succeeded(db: &PgPool, keys: &Keys) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH gone AS (DELETE FROM login_throttle WHERE key = $1)
         UPDATE login_throttle SET attempts = GREATEST(attempts - 1, 0) WHERE key = $2",
    )
    .bind(&keys.email)
    .bind(&keys.ip)
    .execute(db)
    .await?;
    Ok(())
}
