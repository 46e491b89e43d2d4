//! `shop-order`: orders and the checkout saga across cart, catalog and auth.
//!
//! A checkout reads the user's cart (cart service), prices it (catalog), writes the order
//! `pending`, reserves the stock in one all-or-nothing catalog call keyed by the order id, then
//! marks the order `placed` (and clears the cart) or `rejected` with the reason. A retry with
//! the same `Idempotency-Key` returns the same order. A background [`saga::sweeper`] resolves
//! orders a crash left `pending` and retries releases of canceled orders, so no stock stays
//! held by a dead order. Calls to the peers carry a `service` token from auth's
//! client-credentials grant ([`clients::ServiceToken`]).
//!
//! Layout:
//! - [`cli`]: `serve` (default), `migrate`.
//! - [`config`]: the environment, parsed once.
//! - [`domain`]: the idempotency key and the cart fingerprint.
//! - [`clients`]: the service token and the cart and catalog calls.
//! - [`store`]: the queries.
//! - [`saga`]: checkout, cancel and the sweeper.
//! - [`routes`]: `/orders/*` for users, `/admin/*` for admins.
//! - [`metrics`]: orders by status, checkout duration and failures, sweeper actions.

pub mod cli;
pub mod clients;
pub mod config;
pub mod domain;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod saga;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use shop_kit::auth::TokenVerifier;
use shop_kit::client::HttpClient;
use shop_kit::db::PgCheck;
use shop_kit::server::{Metrics, Server, Service};
use sqlx::PgPool;

use crate::config::Config;

/// The embedded migrations of the `order` database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/order");

/// The state every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub config: Arc<Config>,
    pub verifier: Arc<TokenVerifier>,
    pub peers: clients::Peers,
    pub metrics: metrics::OrderMetrics,
}

impl FromRef<AppState> for Arc<TokenVerifier> {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}

/// Builds the service from its configuration, starts the sweeper and binds the listeners
/// (port 0 in tests).
pub async fn build(config: Config) -> anyhow::Result<Server> {
    let verifier = TokenVerifier::start(&config.verifier)?;
    let db = shop_kit::db::pool(
        "DATABASE_URL",
        &config.database_url,
        "shop-order",
        config.database_max_connections,
    )?;
    let token = clients::ServiceToken::new(
        HttpClient::new(Duration::from_secs(5))?,
        &config.auth_url,
        &config.client_id,
        config.client_secret.clone(),
    );
    let peers = clients::Peers::new(token, &config.catalog_url, &config.cart_url)?;
    let mut registry = Metrics::new();
    shop_kit::db::register_pool_metrics(registry.registry_mut(), &db);
    let metrics = metrics::OrderMetrics::register(registry.registry_mut());
    if config.fault_after_reserve {
        tracing::warn!("ORDER_FAULT_AFTER_RESERVE is on: checkouts stop after reserving (tests only)");
    }
    let state = AppState {
        db: db.clone(),
        config: Arc::new(config.clone()),
        verifier: verifier.clone(),
        peers,
        metrics,
    };
    let service = Service {
        name: "order",
        api: shop_kit::auth::refuse_bad_bearer(routes::router().with_state(state.clone()), verifier),
        metrics: registry,
        checks: vec![Box::new(PgCheck(db))],
    };
    let server = Server::bind(&config.server, service).await?;
    tokio::spawn(saga::sweeper(state));
    Ok(server)
}
