//! Housekeeping every replica runs: dropping login counters that have forgotten their failures
//! and refresh tokens that expired more than a day ago. Concurrent runs on several replicas are
//! harmless.

use std::time::Duration;

use sqlx::PgPool;

/// How often the housekeeping runs.
pub const EVERY: Duration = Duration::from_secs(600);

/// Deletes what can no longer matter; returns (throttle rows, refresh-token rows) deleted.
///
/// A spent refresh token is kept until it expires: presenting it again before then must still
/// be recognised as reuse and revoke its family.
pub async fn prune(db: &PgPool, throttle_window: Duration) -> Result<(u64, u64), sqlx::Error> {
    // The rows the throttle already reads as zero (see `throttle::attempt`).
    let throttle = sqlx::query(
        "DELETE FROM login_throttle
         WHERE COALESCE(GREATEST(last_failed_at, blocked_until), '-infinity') <= now() - make_interval(secs => $1)",
    )
    .bind(throttle_window.as_secs_f64())
    .execute(db)
    .await?
    .rows_affected();
    let tokens = sqlx::query("DELETE FROM refresh_tokens WHERE expires_at < now() - interval '1 day'")
        .execute(db)
        .await?
        .rows_affected();
    Ok((throttle, tokens))
}

/// Runs [`prune`] every [`EVERY`] for the life of the process.
pub async fn run(db: PgPool, throttle_window: Duration) {
    loop {
        tokio::time::sleep(EVERY).await;
        match prune(&db, throttle_window).await {
            Ok((throttle, tokens)) => tracing::debug!(throttle, tokens, "pruned expired rows"),
            Err(e) => tracing::warn!(error = %e, "housekeeping failed; will retry"),
        }
    }
}
