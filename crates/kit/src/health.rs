//! The admin router: `/health` (liveness), `/ready` (readiness, each dependency checked with a
//! short timeout) and `/metrics` (OpenMetrics text). It listens on the admin port only, so the
//! Ingress never exposes `/metrics`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::future::{BoxFuture, join_all};
use serde_json::{Map, Value, json};

use crate::Problem;
use crate::metrics::{OPENMETRICS_CONTENT_TYPE, SharedRegistry, render};

/// How long one readiness check may take.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// A dependency `/ready` asks about (Postgres, Redis, a peer service).
pub trait Check: Send + Sync + 'static {
    /// The name shown in `/ready`'s answer.
    fn name(&self) -> &'static str;
    /// `Ok` when the dependency answers; `Err` says why not.
    fn check(&self) -> BoxFuture<'_, Result<(), String>>;
    /// Whether its failure makes the service unready. A service that keeps serving without a
    /// dependency (the gateway without one upstream) reports it as `degraded` instead.
    fn required(&self) -> bool {
        true
    }
}

/// Whether the process is draining: set on SIGTERM, before the listeners stop, so that
/// `/ready` turns 503 and load balancers stop sending new requests.
#[derive(Debug, Clone, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    /// Marks the process as draining.
    pub fn start(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    /// Whether draining has begun.
    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

#[derive(Clone)]
struct AdminState {
    registry: SharedRegistry,
    checks: Arc<Vec<Box<dyn Check>>>,
    draining: Draining,
}

/// `GET /health`: the process serves. Calls no dependency.
pub async fn health() -> impl IntoResponse {
    axum::Json(json!({"status": "ok"}))
}

async fn ready(State(state): State<AdminState>) -> Response {
    if state.draining.is_draining() {
        return Problem::unavailable("shutting down")
            .with("readiness", "draining")
            .into_response();
    }
    let results = join_all(state.checks.iter().map(|c| async move {
        let outcome = match tokio::time::timeout(CHECK_TIMEOUT, c.check()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(format!("no answer within {} ms", CHECK_TIMEOUT.as_millis())),
        };
        (c.name(), c.required(), outcome)
    }))
    .await;
    let mut checks = Map::new();
    let mut failed = Vec::new();
    let mut degraded = Vec::new();
    for (name, required, outcome) in results {
        match outcome {
            Ok(()) => checks.insert(name.to_owned(), Value::from("ok")),
            Err(e) => {
                if required {
                    failed.push(name);
                } else {
                    degraded.push(name);
                }
                checks.insert(name.to_owned(), Value::from(e))
            }
        };
    }
    if failed.is_empty() && degraded.is_empty() {
        axum::Json(json!({"readiness": "ready", "checks": checks})).into_response()
    } else if failed.is_empty() {
        tracing::debug!(degraded = ?degraded, "ready, degraded");
        axum::Json(json!({"readiness": "degraded", "degraded": degraded, "checks": checks})).into_response()
    } else {
        tracing::warn!(failed = ?failed, "not ready");
        Problem::unavailable(format!("not ready: {}", failed.join(", ")))
            .with("readiness", "not_ready")
            .with("checks", checks)
            .into_response()
    }
}

async fn metrics(State(state): State<AdminState>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)],
        render(&state.registry),
    )
        .into_response()
}

/// The admin router, before the kit's middleware is applied.
pub fn admin_routes(registry: SharedRegistry, checks: Vec<Box<dyn Check>>, draining: Draining) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .with_state(AdminState {
            registry,
            checks: Arc::new(checks),
            draining,
        })
}
