//! `shop-gateway`: the shop's one public entry. It checks access, routes, limits and may
//! cache; it stores nothing durable.
//!
//! - `/api/v1/*` forwards to auth, catalog, cart and order ([`upstream`]): the caller's token
//!   from `Authorization` or the session cookie, `x-request-id`, `traceparent` and
//!   `X-Forwarded-For` travel on; hop-by-hop headers do not; bodies stream both ways within
//!   `MAX_BODY_BYTES`. A dead upstream is a 502, a slow one a 504, one whose breaker is open a
//!   503 with `Retry-After`. `internal/` routes are never exposed. The older `/api/...` paths
//!   answer `308 Permanent Redirect` to `/api/v1/...`.
//! - Browser sessions ([`session`]): `POST /login` and `POST /logout` keep the access and
//!   refresh tokens in `HttpOnly`, `SameSite=Lax` cookies, refresh an expired access token
//!   once, transparently, and demand a signed per-session CSRF token on every state-changing
//!   request a cookie authenticates.
//! - Rate limits ([`ratelimit`]) per plan (from the verified token) and per client address for
//!   login and register, shared by every replica through one Redis script call per request;
//!   Redis down means no limits (fail open), said in `/ready` and a metric.
//! - `/api/v1/search` with a page size the plan allows; `/docs` and the merged
//!   `/api/v1/openapi.json` ([`routes::docs`]); the image proxy `/img` ([`images`]).
//! - Security headers on every answer ([`security`]).
//! - The web UI ([`ui`]): the shop's pages and its admin, rendered server-side in Russian or
//!   English, working without JavaScript for the main journey.
//!
//! Layout: [`cli`], [`config`], [`upstream`] (targets, breaker, forwarding), [`session`],
//! [`ratelimit`], [`images`] (fetching safely, resizing, the disk cache), [`security`],
//! [`metrics`], [`routes`], [`ui`].

pub mod cli;
pub mod config;
pub mod images;
pub mod metrics;
pub mod ratelimit;
pub mod routes;
pub mod security;
pub mod session;
pub mod ui;
pub mod upstream;

use std::sync::Arc;

use shop_kit::auth::TokenVerifier;
use shop_kit::redis::Redis;
use shop_kit::server::{Metrics, Server, Service};

use crate::config::Config;

/// The state every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The configuration, as read at start.
    pub config: Arc<Config>,
    /// Verifies access tokens (auth's public keys).
    pub verifier: Arc<TokenVerifier>,
    /// The four services behind us.
    pub upstreams: Arc<upstream::Upstreams>,
    /// Cookies, CSRF and the transparent refresh.
    pub sessions: Arc<session::Sessions>,
    /// The shared rate limiter.
    pub limiter: Arc<ratelimit::Limiter>,
    /// The image proxy (`None` when off).
    pub images: Option<Arc<images::ImageProxy>>,
    /// The merged OpenAPI document, cached briefly.
    pub docs: Arc<routes::docs::DocsCache>,
    /// The gateway's own metrics.
    pub metrics: Arc<metrics::GatewayMetrics>,
}

impl axum::extract::FromRef<AppState> for Arc<TokenVerifier> {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}

/// Builds the gateway from its configuration and binds its listeners (port 0 in tests).
pub async fn build(config: Config) -> anyhow::Result<Server> {
    let verifier = TokenVerifier::start(&config.verifier)?;
    let redis = Redis::new("REDIS_URL", &config.redis_url)?;
    let mut metrics = Metrics::new();
    let gateway_metrics = Arc::new(metrics::GatewayMetrics::register(metrics.registry_mut()));
    let upstreams = Arc::new(upstream::Upstreams::new(&config, gateway_metrics.clone())?);
    let sessions = Arc::new(session::Sessions::new(
        &config,
        upstreams.clone(),
        gateway_metrics.clone(),
    )?);
    let limiter = Arc::new(ratelimit::Limiter::new(redis, gateway_metrics.clone()));
    let images = if config.images.enabled {
        Some(Arc::new(
            images::ImageProxy::new(&config, upstreams.clone(), gateway_metrics.clone()).await?,
        ))
    } else {
        None
    };
    let mut checks: Vec<Box<dyn shop_kit::health::Check>> = upstreams.checks();
    checks.push(Box::new(ratelimit::LimiterCheck(limiter.clone())));
    let state = AppState {
        config: Arc::new(config.clone()),
        verifier,
        upstreams: upstreams.clone(),
        sessions,
        limiter,
        images,
        docs: Arc::new(routes::docs::DocsCache::default()),
        metrics: gateway_metrics,
    };
    let service = Service {
        name: "gateway",
        api: routes::router(state),
        metrics,
        checks,
    };
    Server::bind(&config.server, service).await
}
