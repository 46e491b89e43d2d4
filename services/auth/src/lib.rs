//! `shop-auth`: users, sessions, tokens and subscriptions for Shopkeeper.
//!
//! Auth is the only service holding private keys. It issues short-lived access JWTs (EdDSA or
//! RS256, `kid` header) that every other service verifies with the public keys it publishes at
//! `/.well-known/jwks.json`, opaque rotating refresh tokens (stored hashed; reuse of a spent
//! one revokes the whole family), and `service` tokens for internal callers.
//!
//! Layout:
//! - [`cli`]: `serve` (default), `migrate`, `keygen`.
//! - [`config`]: the environment, parsed once.
//! - [`domain`]: `Email`, `Password` and profile fields that validate on construction.
//! - [`passwords`]: argon2id hashing, bounded and off the async threads.
//! - [`tokens`]: signing access tokens, refresh tokens, the JWKS.
//! - [`clients`]: the internal clients of the client-credentials grant.
//! - [`throttle`]: login throttling shared by all replicas; [`maintenance`] prunes old rows.
//! - [`store`]: the queries.
//! - [`routes`]: one router per resource, merged in [`routes::router`].
//! - [`metrics`]: auth's business metrics.

pub mod cli;
pub mod clients;
pub mod config;
pub mod domain;
pub mod maintenance;
pub mod metrics;
pub mod openapi;
pub mod passwords;
pub mod routes;
pub mod store;
pub mod throttle;
pub mod tokens;

use std::sync::Arc;

use axum::extract::FromRef;
use shop_kit::auth::TokenVerifier;
use shop_kit::db::PgCheck;
use shop_kit::server::{Metrics, Server, Service};
use sqlx::PgPool;

use crate::clients::ServiceClients;
use crate::config::Config;
use crate::passwords::Hasher;
use crate::tokens::TokenIssuer;

/// The embedded migrations of the `auth` database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/auth");

/// The state every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub config: Arc<Config>,
    pub issuer: Arc<TokenIssuer>,
    pub verifier: Arc<TokenVerifier>,
    pub hasher: Hasher,
    pub clients: Arc<ServiceClients>,
    pub metrics: metrics::AuthMetrics,
}

impl FromRef<AppState> for Arc<TokenVerifier> {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}

/// Builds the service from its configuration and binds its listeners (port 0 in tests).
pub async fn build(config: Config) -> anyhow::Result<Server> {
    let keys = shop_kit::keys::load_signing_keys(&config.signing_keys_dir)
        .map_err(|e| anyhow::anyhow!("JWT_SIGNING_KEYS_DIR: {e:#}"))?;
    let issuer = TokenIssuer::new(
        keys,
        config.issuer.clone(),
        config.audience.clone(),
        config.access_ttl,
        config.service_ttl,
    )?;
    let verifier = Arc::new(issuer.verifier()?);
    let clients = match &config.service_clients_file {
        Some(path) => ServiceClients::load(path)?,
        None => ServiceClients::default(),
    };
    let db = shop_kit::db::pool(
        "DATABASE_URL",
        &config.database_url,
        "shop-auth",
        config.database_max_connections,
    )?;
    let mut registry = Metrics::new();
    shop_kit::db::register_pool_metrics(registry.registry_mut(), &db);
    let metrics = metrics::AuthMetrics::register(registry.registry_mut());
    let state = AppState {
        db: db.clone(),
        config: Arc::new(config.clone()),
        issuer: Arc::new(issuer),
        verifier,
        hasher: Hasher::new()?,
        clients: Arc::new(clients),
        metrics,
    };
    tokio::spawn(maintenance::run(db.clone(), config.throttle.window));
    // Auth's own list of ended sessions, from its database on the beat every service polls
    // it at (the sessions this replica ends are added at once).
    let window = routes::revocations::window(&state);
    let revoked_from = db.clone();
    tokio::spawn(shop_kit::revocation::keep_current(
        Arc::downgrade(state.verifier.revocations()),
        "database",
        move || {
            let db = revoked_from.clone();
            async move { Ok(store::revoked_sessions(&db, window).await?) }
        },
    ));
    if let Some((email, password)) = &config.admin {
        tokio::spawn(cli::seed_admin_until_done(
            state.clone(),
            email.clone(),
            password.clone(),
        ));
    }
    let service = Service {
        name: "auth",
        api: shop_kit::auth::refuse_bad_bearer(routes::router().with_state(state.clone()), state.verifier.clone()),
        metrics: registry,
        checks: vec![Box::new(PgCheck(db))],
    };
    Server::bind(&config.server, service).await
}
