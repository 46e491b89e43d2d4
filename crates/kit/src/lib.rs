//! The Shopkeeper service kit: everything a Shopkeeper service shares with the others.
//!
//! Every service (`shop-auth`, `shop-catalog`, `shop-cart`, `shop-order`, `shop-gateway`) is an
//! axum application built the same way:
//!
//! - [`config`]: typed configuration read once from environment variables; a missing or
//!   malformed variable stops the process with a message that names it.
//! - [`telemetry`]: `tracing` with JSON logs (`LOG_FORMAT=json`) or readable ones, `RUST_LOG` filter.
//! - [`problem`]: the one error type, rendered as `application/problem+json` (RFC 9457), and
//!   [`extract`]: `Json`/`Form`/`Query`/`Path` extractors whose rejections are problems too.
//! - [`observe`]: the per-request middleware: request id, W3C trace context, RED metrics, access log.
//! - [`etag`]: `ETag` on full GET answers and `304` for a matching `If-None-Match`.
//! - [`guard`]: refuses NUL characters in anything that could reach the database (422) and
//!   oversized headers (431), in one place for every service.
//! - [`metrics`]: the Prometheus registry and the RED metric families.
//! - [`health`]: the admin router (`/health`, `/ready`, `/metrics`) and readiness checks.
//! - [`server`]: binds the API and admin listeners and runs them until SIGTERM/SIGINT, draining
//!   in-flight requests after `/ready` has turned 503.
//! - [`auth`]: access-token claims, the verifier (static public keys or a cached JWKS), and the
//!   `AuthUser` / `AdminUser` / `ServiceCaller` / `ServiceScope` extractors.
//! - [`keys`]: signing-key files (Ed25519 or RSA PEM), key generation.
//! - [`db`]: the Postgres pool, the `migrate` helper and constraint-name lookups.
//! - [`cli`]: the shared command line (`serve`, `migrate`, and each service's own commands).
//! - [`redis`]: a lazily connecting Redis connection and its readiness check.
//! - [`client`]: the outgoing HTTP client that forwards `traceparent` and `x-request-id`.
//! - [`revocation`]: the list of ended sessions every token verifier refuses.
//! - [`trace`]: spans exported over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.

#[cfg(feature = "auth")]
pub mod auth;
pub mod cli;
#[cfg(feature = "auth")]
pub mod client;
pub mod config;
#[cfg(feature = "db")]
pub mod db;
pub mod etag;
pub mod extract;
pub mod guard;
pub mod health;
#[cfg(feature = "auth")]
pub mod keys;
pub mod metrics;
pub mod observe;
pub mod problem;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "auth")]
pub mod revocation;
pub mod server;
pub mod telemetry;
#[cfg(feature = "otel")]
pub mod trace;

pub use problem::Problem;

/// Installs the process-wide rustls crypto provider (`ring`). kube, sqlx and reqwest all use
/// rustls; with more than one provider compiled in, rustls refuses to pick one, so every binary
/// calls this first. Calling it twice is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
