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
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use serde_json::{Map, Value, json};

use crate::Problem;
use crate::metrics::{DependencyLabels, OPENMETRICS_CONTENT_TYPE, SharedRegistry, render};

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
    dependencies: Family<DependencyLabels, Gauge>,
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
        // What the alerts on Postgres and Redis read: the services' own view of them.
        state
            .dependencies
            .get_or_create(&DependencyLabels { dependency: name })
            .set(i64::from(outcome.is_ok()));
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

/// The admin router, before the kit's middleware is applied. Every `/ready` records each
/// check's outcome in `dependencies` (`shop_dependency_up`).
pub fn admin_routes(
    registry: SharedRegistry,
    checks: Vec<Box<dyn Check>>,
    draining: Draining,
    dependencies: Family<DependencyLabels, Gauge>,
) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .with_state(AdminState {
            registry,
            checks: Arc::new(checks),
            draining,
            dependencies,
        })
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use prometheus_client::registry::Registry;
    use tower::ServiceExt as _;

    use super::*;
    use crate::metrics::HttpMetrics;

    struct Fixed(&'static str, Result<(), &'static str>);

    impl Check for Fixed {
        fn name(&self) -> &'static str {
            self.0
        }
        fn check(&self) -> BoxFuture<'_, Result<(), String>> {
            Box::pin(async move { self.1.map_err(str::to_owned) })
        }
    }

    async fn get(app: &Router, path: &str) -> (StatusCode, String) {
        let resp = app
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).expect("request"))
            .await
            .expect("infallible");
        let status = resp.status();
        let body = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .expect("body")
            .to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn readiness_checks_set_the_dependency_gauge() {
        let mut registry = Registry::default();
        let http = HttpMetrics::register(&mut registry);
        let checks: Vec<Box<dyn Check>> = vec![
            Box::new(Fixed("postgres", Err("connection refused"))),
            Box::new(Fixed("redis", Ok(()))),
        ];
        let app = admin_routes(Arc::new(registry), checks, Draining::default(), http.dependencies);

        // Before any readiness check there is nothing to report.
        let (_, before) = get(&app, "/metrics").await;
        assert!(!before.contains("shop_dependency_up{"), "{before}");

        let (status, _) = get(&app, "/ready").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        let (_, metrics) = get(&app, "/metrics").await;
        assert!(metrics.contains("# TYPE shop_dependency_up gauge"), "{metrics}");
        assert!(
            metrics.contains("shop_dependency_up{dependency=\"postgres\"} 0"),
            "{metrics}"
        );
        assert!(
            metrics.contains("shop_dependency_up{dependency=\"redis\"} 1"),
            "{metrics}"
        );
    }
}
