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

/// `shop_db_pool_connections{state="in_use"|"idle"}` and `shop_db_pool_max_connections`, read
/// from the pool at each scrape: how close a service is to waiting for a connection.
#[derive(Debug)]
struct PoolMetrics(PgPool);

#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

impl prometheus_client::collector::Collector for PoolMetrics {
    fn encode(&self, mut encoder: prometheus_client::encoding::DescriptorEncoder) -> Result<(), std::fmt::Error> {
        use prometheus_client::encoding::EncodeMetric as _;
        use prometheus_client::metrics::MetricType;
        use prometheus_client::metrics::gauge::ConstGauge;
        let idle = i64::try_from(self.0.num_idle()).unwrap_or(i64::MAX);
        let size = i64::from(self.0.size());
        let max = i64::from(self.0.options().get_max_connections());
        {
            let mut family = encoder.encode_descriptor(
                "shop_db_pool_connections",
                "Postgres connections of this process's pool, by state",
                None,
                MetricType::Gauge,
            )?;
            for (state, count) in [("in_use", (size - idle).max(0)), ("idle", idle)] {
                ConstGauge::new(count).encode(family.encode_family(&StateLabel { state })?)?;
            }
        }
        let gauge = encoder.encode_descriptor(
            "shop_db_pool_max_connections",
            "The pool's size limit (DATABASE_MAX_CONNECTIONS)",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(max).encode(gauge)
    }
}

/// Exports the pool's use (see [`PoolMetrics`]) on the service's `/metrics`.
pub fn register_pool_metrics(registry: &mut prometheus_client::registry::Registry, pool: &PgPool) {
    registry.register_collector(Box::new(PoolMetrics(pool.clone())));
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
