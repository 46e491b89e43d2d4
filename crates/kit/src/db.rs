//! Postgres: the pool, the `migrate` helper, the readiness check and constraint lookups.

use std::str::FromStr;
use std::time::Duration;

use futures::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::config::ConfigError;
use crate::health::Check;

/// A lazily connecting pool: the service starts (and `/ready` says why not) even when the
/// database is not up yet.
/// `application` names the connections in `pg_stat_activity` (`shop-auth`, …).
pub fn pool(var: &str, url: &SecretString, application: &str, max_connections: u32) -> Result<PgPool, ConfigError> {
    let options = PgConnectOptions::from_str(url.expose_secret())
        .map_err(|e| ConfigError::new(var, format!("not a valid Postgres URL: {}", redact(&e.to_string()))))?
        .application_name(application);
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(3))
        .idle_timeout(Some(Duration::from_secs(300)))
        .connect_lazy_with(options))
}

fn redact(s: &str) -> String {
    // sqlx's URL errors can quote the URL; never let a password through.
    if s.contains('@') {
        "malformed URL".to_owned()
    } else {
        s.to_owned()
    }
}

/// Applies the embedded migrations (the `migrate` subcommand of every database-owning service).
pub async fn migrate(pool: &PgPool, migrator: &Migrator) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let before = migrator.iter().count();
    migrator.run(pool).await.context("migration failed")?;
    tracing::info!(migrations = before, "database schema is current");
    Ok(())
}

/// `/ready` check: `SELECT 1`.
pub struct PgCheck(pub PgPool);

impl Check for PgCheck {
    fn name(&self) -> &'static str {
        "postgres"
    }
    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            sqlx::query("SELECT 1")
                .execute(&self.0)
                .await
                .map(|_| ())
                .map_err(|e| match e {
                    sqlx::Error::PoolTimedOut => "no connection available".to_owned(),
                    other => other.to_string(),
                })
        })
    }
}

/// The constraint a database error violated, if any.
pub fn constraint(err: &sqlx::Error) -> Option<&str> {
    err.as_database_error().and_then(|e| e.constraint())
}

/// Whether `err` is a unique violation of `name`.
pub fn is_unique_violation(err: &sqlx::Error, name: &str) -> bool {
    err.as_database_error()
        .is_some_and(|e| e.is_unique_violation() && e.constraint() == Some(name))
}
