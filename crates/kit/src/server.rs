//! Server bootstrap: the API and admin listeners, the shared middleware, graceful shutdown.
//!
//! A service builds a [`Service`] (its API router, its metrics, its readiness checks), then
//! [`Server::bind`]s it — to the configured addresses, or to `127.0.0.1:0` in tests — and
//! [`Server::run`]s it until the shutdown future completes. On shutdown `/ready` turns 503
//! first, the listeners keep serving for `SHUTDOWN_DELAY_SECS`, then stop accepting and drain
//! in-flight requests for at most `SHUTDOWN_TIMEOUT_SECS`.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::catch_panic::CatchPanicLayer;

use crate::Problem;
use crate::config::ServerConfig;
use crate::health::{self, Check, Draining};
use crate::metrics::HttpMetrics;
use crate::observe::observe;
use crate::problem::{method_not_allowed_fallback, not_found_fallback};

/// The Prometheus registry of a service with the RED families already registered; the
/// service registers its own business metrics into [`Metrics::registry_mut`].
pub struct Metrics {
    registry: Registry,
    http: HttpMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let http = HttpMetrics::register(&mut registry);
        Self { registry, http }
    }
}

impl Metrics {
    /// A registry with the RED families.
    pub fn new() -> Self {
        Self::default()
    }
    /// Where a service registers its own metrics.
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }
}

/// What a service hands to the server: its API routes (state applied), metrics and checks.
pub struct Service {
    /// The service's name, for logs.
    pub name: &'static str,
    /// API routes; `/health`, the fallbacks and the middleware are added here.
    pub api: Router,
    /// The registry exposed on `/metrics`.
    pub metrics: Metrics,
    /// What `/ready` checks.
    pub checks: Vec<Box<dyn Check>>,
}

fn panic_to_problem(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "unknown panic".to_owned());
    Problem::internal(anyhow::anyhow!("handler panicked: {what}")).into_response()
}

/// Adds the kit's middleware to a router: request id, trace context, RED metrics, access log,
/// the input guard (NUL characters, oversized headers), body limit, problem-document fallbacks
/// for unknown routes and methods, panics as 500s.
pub fn with_middleware(router: Router, http: &HttpMetrics, max_body_bytes: usize) -> Router {
    // Layers run outside-in in the reverse order of these calls: observe sees every response,
    // including the 500 a panic becomes, so it is counted, logged and carries its request id.
    router
        .fallback(not_found_fallback)
        .method_not_allowed_fallback(method_not_allowed_fallback)
        .layer(CatchPanicLayer::custom(panic_to_problem))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::from_fn(crate::guard::guard))
        .layer(axum::middleware::from_fn_with_state(http.clone(), observe))
}

/// A service bound to its listeners, ready to run.
pub struct Server {
    name: &'static str,
    api_listener: TcpListener,
    admin_listener: TcpListener,
    api: Router,
    admin: Router,
    draining: Draining,
    shutdown_delay: Duration,
    drain_timeout: Duration,
}

impl Server {
    /// Binds the API and admin listeners and assembles both routers.
    pub async fn bind(config: &ServerConfig, service: Service) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let api_listener = TcpListener::bind(config.listen_addr)
            .await
            .with_context(|| format!("cannot listen on LISTEN_ADDR={}", config.listen_addr))?;
        let admin_listener = TcpListener::bind(config.admin_addr)
            .await
            .with_context(|| format!("cannot listen on ADMIN_ADDR={}", config.admin_addr))?;
        let Metrics { registry, http } = service.metrics;
        let draining = Draining::default();
        let api = with_middleware(
            service.api.route("/health", get(health::health)),
            &http,
            config.max_body_bytes,
        );
        let admin = with_middleware(
            health::admin_routes(
                std::sync::Arc::new(registry),
                service.checks,
                draining.clone(),
                http.dependencies.clone(),
            ),
            &http,
            config.max_body_bytes,
        );
        Ok(Self {
            name: service.name,
            api_listener,
            admin_listener,
            api,
            admin,
            draining,
            shutdown_delay: config.shutdown_delay,
            drain_timeout: config.drain_timeout,
        })
    }

    /// The bound API address (the real port when bound to port 0).
    pub fn api_addr(&self) -> SocketAddr {
        self.api_listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// The bound admin address.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Serves until `shutdown` completes, then drains (see the module docs).
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let stopped = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let api_addr = self.api_addr();
        let admin_addr = self.admin_addr();
        let api = axum::serve(
            self.api_listener,
            self.api.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(stopped(stop_rx.clone()));
        let admin = axum::serve(
            self.admin_listener,
            self.admin.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(stopped(stop_rx));
        let mut api_task = tokio::spawn(api.into_future());
        let mut admin_task = tokio::spawn(admin.into_future());
        tracing::info!(service = self.name, %api_addr, %admin_addr, "serving");

        tokio::select! {
            () = shutdown => {}
            r = &mut api_task => return Err(anyhow::anyhow!("API server stopped: {r:?}")),
            r = &mut admin_task => return Err(anyhow::anyhow!("admin server stopped: {r:?}")),
        }
        self.draining.start();
        tracing::info!(
            delay_ms = self.shutdown_delay.as_millis() as u64,
            "shutdown requested; /ready now answers 503"
        );
        tokio::time::sleep(self.shutdown_delay).await;
        let _ = stop_tx.send(true);
        let drained = tokio::time::timeout(self.drain_timeout, async {
            let _ = (&mut api_task).await;
            let _ = (&mut admin_task).await;
        })
        .await;
        match drained {
            Ok(()) => tracing::info!("drained; bye"),
            Err(_) => {
                api_task.abort();
                admin_task.abort();
                tracing::warn!(
                    timeout_s = self.drain_timeout.as_secs(),
                    "in-flight requests did not finish in time"
                );
            }
        }
        Ok(())
    }
}

/// Completes on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!(signal = "SIGINT", "signal received"),
        () = term => tracing::info!(signal = "SIGTERM", "signal received"),
    }
}
