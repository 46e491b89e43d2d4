//! `shop-cart`: each user's cart, a Redis hash `cart:{user_id}` of product id → quantity with a
//! sliding 30-day expiry, priced on every read from one catalog batch call; and each user's
//! preferences (sort order, page size, language…), a Redis hash `prefs:{user_id}` of key →
//! JSON value, bounded in keys and value size, with no expiry.
//!
//! Every change is one Lua script run atomically in Redis (no read-modify-write across
//! replicas). Users touch only their own cart; the order service reads and clears a user's cart
//! with a `service` token. When the catalog is down a cart still comes back, unpriced; when
//! Redis is down every call is a 503 problem and `/ready` says so.
//!
//! Layout: [`cli`], [`config`], [`store`] (the cart's Redis scripts), [`preferences`] (the
//! preferences' store and their key and value types), [`catalog`] (the batch client),
//! [`routes`] (`cart`, `preferences`).

pub mod catalog;
pub mod cli;
pub mod config;
pub mod preferences;
pub mod routes;
pub mod store;

use std::sync::Arc;

use axum::extract::FromRef;
use shop_kit::auth::TokenVerifier;
use shop_kit::redis::{Redis, RedisCheck};
use shop_kit::server::{Metrics, Server, Service};

use crate::config::Config;

/// The state every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: store::CartStore,
    pub prefs: preferences::PrefStore,
    pub catalog: catalog::CatalogClient,
    pub verifier: Arc<TokenVerifier>,
}

impl FromRef<AppState> for Arc<TokenVerifier> {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}

/// Builds the service from its configuration and binds its listeners (port 0 in tests).
pub async fn build(config: Config) -> anyhow::Result<Server> {
    let verifier = TokenVerifier::start(&config.verifier)?;
    let redis = Redis::new("REDIS_URL", &config.redis_url)?;
    let state = AppState {
        store: store::CartStore::new(redis.clone(), config.limits),
        prefs: preferences::PrefStore::new(redis.clone(), config.preferences),
        catalog: catalog::CatalogClient::new(&config.catalog_url)?,
        verifier: verifier.clone(),
    };
    let service = Service {
        name: "cart",
        api: shop_kit::auth::refuse_bad_bearer(routes::router().with_state(state), verifier),
        metrics: Metrics::new(),
        checks: vec![Box::new(RedisCheck(redis))],
    };
    Server::bind(&config.server, service).await
}
