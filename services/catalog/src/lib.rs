//! `shop-catalog`: products, categories, attribute templates, search and stock reservations.
//!
//! Stock is only ever changed by conditional SQL (`UPDATE … SET stock = stock - $n WHERE
//! stock >= $n`), never read-modify-write, and the database holds `CHECK (stock >= 0)`, so no
//! interleaving of requests can oversell. Reservations are keyed by the order id, which makes
//! reserving and releasing idempotent.
//!
//! Layout:
//! - [`cli`]: `serve` (default), `migrate`, `seed` (demo data).
//! - [`config`]: the environment, parsed once.
//! - [`domain`]: SKUs, slugs, prices, image URLs and JSON Schemas that validate on construction.
//! - [`store`]: the queries, one module per table group.
//! - [`routes`]: one router per resource, merged in [`routes::router`].
//! - [`metrics`]: reservations by result, low-stock gauge.
//! - [`seed`]: the demo catalog.

pub mod cache;
pub mod cli;
pub mod config;
pub mod domain;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod seed;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use shop_kit::auth::TokenVerifier;
use shop_kit::db::PgCheck;
use shop_kit::server::{Metrics, Server, Service};
use sqlx::PgPool;

use crate::config::Config;

/// The embedded migrations of the `catalog` database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/catalog");

/// The state every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub config: Arc<Config>,
    pub verifier: Arc<TokenVerifier>,
    pub metrics: metrics::CatalogMetrics,
    /// Pages of the listing, emptied by any change (see [`cache`]).
    pub listings: Arc<cache::ListCache>,
}

impl FromRef<AppState> for Arc<TokenVerifier> {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}

/// Builds the service from its configuration and binds its listeners (port 0 in tests).
pub async fn build(config: Config) -> anyhow::Result<Server> {
    let verifier = TokenVerifier::start(&config.verifier)?;
    let db = shop_kit::db::pool(
        "DATABASE_URL",
        &config.database_url,
        "shop-catalog",
        config.database_max_connections,
    )?;
    let mut registry = Metrics::new();
    shop_kit::db::register_pool_metrics(registry.registry_mut(), &db);
    let metrics = metrics::CatalogMetrics::register(registry.registry_mut());
    tokio::spawn(watch_low_stock(db.clone(), config.low_stock_threshold, metrics.clone()));
    tokio::spawn(expire_reservations(db.clone(), config.reservation_ttl, metrics.clone()));
    let listings = Arc::new(cache::ListCache::new(metrics.clone()));
    tokio::spawn(cache::listen(db.clone(), listings.clone()));
    let state = AppState {
        db: db.clone(),
        config: Arc::new(config.clone()),
        verifier: verifier.clone(),
        metrics,
        listings: listings.clone(),
    };
    let service = Service {
        name: "catalog",
        api: shop_kit::auth::refuse_bad_bearer(
            routes::router()
                .with_state(state)
                .layer(axum::middleware::from_fn_with_state(listings, forget_after_writes))
                .layer(axum::middleware::from_fn(shop_kit::etag::conditional)),
            verifier,
        ),
        metrics: registry,
        checks: vec![Box::new(PgCheck(db))],
    };
    Server::bind(&config.server, service).await
}

/// A write this process served empties its listing cache before the answer leaves, so the
/// writer's next read is fresh here too (other processes learn through `NOTIFY`). The batch
/// lookups (every add to cart and checkout makes one) and the confirmations of reservations
/// are `POST`s that change nothing a listing shows: they leave the cache alone.
async fn forget_after_writes(
    axum::extract::State(listings): axum::extract::State<Arc<cache::ListCache>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let write = !matches!(*req.method(), axum::http::Method::GET | axum::http::Method::HEAD)
        && !matches!(
            req.uri().path(),
            "/products/batch" | "/internal/products/batch" | "/internal/reservations/confirm"
        );
    let response = next.run(req).await;
    if write && response.status().is_success() {
        listings.invalidate();
    }
    response
}

/// Gives back the stock of reservations their order never confirmed, `ttl` after they were
/// made; looks every quarter of `ttl` (at most every 30 s).
async fn expire_reservations(db: PgPool, ttl: Duration, metrics: metrics::CatalogMetrics) {
    let every = (ttl / 4).clamp(Duration::from_millis(250), Duration::from_secs(30));
    loop {
        tokio::time::sleep(every).await;
        match store::reservations::expire(&db, ttl, 1_000).await {
            Ok(expired) => {
                for r in expired {
                    metrics.reservation("expired");
                    tracing::warn!(order_id = %r.order_id, reserved_by = %r.reserved_by, "reservation expired unconfirmed; its stock is back");
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot expire reservations; retrying"),
        }
    }
}

/// Keeps `catalog_products_low_stock` current (every 15 s; a count over a partial index).
async fn watch_low_stock(db: PgPool, threshold: i32, metrics: metrics::CatalogMetrics) {
    loop {
        match store::products::count_low_stock(&db, threshold).await {
            Ok(n) => {
                metrics.low_stock.set(n);
            }
            Err(e) => tracing::debug!(error = %e, "cannot count low-stock products yet"),
        }
        tokio::time::sleep(Duration::from_secs(15)).await;
    }
}
