//! The services behind the gateway: where each one is, its breaker, and forwarding a request
//! to it with the body streamed both ways.
//!
//! Outcomes a caller sees: the upstream's own answer (whatever its status), or a problem
//! document of ours — 502 when the upstream refused or reset the connection, 504 when its
//! answer did not start within its timeout, 503 with `Retry-After` while its breaker is open,
//! 413 when the request body grew past `MAX_BODY_BYTES` while streaming.

use shop_kit::client::SendTraced as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use futures::TryStreamExt;
use futures::future::BoxFuture;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use shop_kit::Problem;
use shop_kit::health::Check;
use shop_kit::observe::{self, REQUEST_ID, TRACEPARENT};

use crate::config::{BreakerConfig, Config, Upstream};
use crate::metrics::{GatewayMetrics, UpstreamLabel};

/// Why a forwarded request got no answer from the upstream.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// Connection refused, reset, or a broken answer: 502.
    #[error("{0} is unreachable")]
    Unreachable(&'static str),
    /// No answer head within the upstream's timeout: 504.
    #[error("{0} did not answer in time")]
    Timeout(&'static str),
    /// The breaker is open: 503 with `Retry-After`.
    #[error("{0} is failing; its circuit is open")]
    CircuitOpen(&'static str, Duration),
    /// The request body exceeded the limit while streaming: 413.
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
}

impl From<ForwardError> for Problem {
    fn from(err: ForwardError) -> Self {
        let detail = err.to_string();
        match err {
            ForwardError::Unreachable(_) => {
                Problem::new(StatusCode::BAD_GATEWAY, "upstream-unreachable", "Upstream unreachable").detail(detail)
            }
            ForwardError::Timeout(_) => {
                Problem::new(StatusCode::GATEWAY_TIMEOUT, "upstream-timeout", "Upstream timed out").detail(detail)
            }
            ForwardError::CircuitOpen(_, retry) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "upstream-circuit-open",
                "Upstream temporarily unavailable",
            )
            .detail(detail)
            .header(header::RETRY_AFTER, retry.as_secs().max(1).to_string()),
            ForwardError::TooLarge(_) => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Request body too large",
            )
            .detail(detail),
        }
    }
}

#[derive(Debug)]
enum BreakerState {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One trial request is in flight; the others are refused until it ends.
    HalfOpen,
}

/// A consecutive-failure circuit breaker: `failures` in a row open it for `open_for`; then one
/// trial request decides whether it closes or opens again.
#[derive(Debug)]
pub struct Breaker {
    config: BreakerConfig,
    state: Mutex<BreakerState>,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            state: Mutex::new(BreakerState::Closed { failures: 0 }),
        }
    }

    /// Whether a request may go now; `Err` holds how long until one may.
    pub fn admit(&self) -> Result<(), Duration> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match *state {
            BreakerState::Closed { .. } => Ok(()),
            BreakerState::Open { until } => {
                let now = Instant::now();
                if now >= until {
                    *state = BreakerState::HalfOpen;
                    Ok(())
                } else {
                    Err(until - now)
                }
            }
            BreakerState::HalfOpen => Err(Duration::from_secs(1)),
        }
    }

    /// Records how an admitted request went; returns whether the breaker is now open.
    pub fn record(&self, ok: bool) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        *state = match (&*state, ok) {
            (_, true) => BreakerState::Closed { failures: 0 },
            (BreakerState::Closed { failures }, false) if failures + 1 < self.config.failures => {
                BreakerState::Closed { failures: failures + 1 }
            }
            (_, false) => BreakerState::Open {
                until: Instant::now() + self.config.open_for,
            },
        };
        matches!(*state, BreakerState::Open { .. })
    }
}

/// One upstream: its base URL, timeout and breaker.
#[derive(Debug)]
pub struct Target {
    /// Which one.
    pub upstream: Upstream,
    /// Base URL without a trailing `/`.
    pub url: String,
    /// The longest wait for the answer's head.
    pub timeout: Duration,
    breaker: Breaker,
}

/// The four upstreams and the one HTTP client that reaches them.
pub struct Upstreams {
    targets: Vec<Arc<Target>>,
    client: reqwest::Client,
    max_body_bytes: usize,
    metrics: Arc<GatewayMetrics>,
}

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1), plus those we set.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Removes hop-by-hop headers, including those `Connection` names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// What to send upstream.
pub struct Outgoing {
    /// The method.
    pub method: Method,
    /// Path and query on the upstream (`/products?page=2`).
    pub path_and_query: String,
    /// Headers, already cleaned by the caller (cookies removed, `Authorization` set).
    pub headers: HeaderMap,
    /// The body, streamed.
    pub body: Body,
}

impl Upstreams {
    /// The upstreams of `config`.
    pub fn new(config: &Config, metrics: Arc<GatewayMetrics>) -> anyhow::Result<Self> {
        shop_kit::install_crypto_provider();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(256)
            .tcp_nodelay(true)
            .user_agent(concat!("shop-gateway/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let targets = config
            .upstreams
            .iter()
            .map(|(upstream, c)| {
                Arc::new(Target {
                    upstream: *upstream,
                    url: c.url.clone(),
                    timeout: c.timeout,
                    breaker: Breaker::new(config.breaker),
                })
            })
            .collect();
        Ok(Self {
            targets,
            client,
            max_body_bytes: config.server.max_body_bytes,
            metrics,
        })
    }

    /// The target of `upstream`.
    pub fn target(&self, upstream: Upstream) -> &Arc<Target> {
        // `new` holds all four, in `Upstream::ALL` order, from the configuration.
        self.targets
            .iter()
            .find(|t| t.upstream == upstream)
            .unwrap_or(&self.targets[0])
    }

    /// A call of the gateway's own to `upstream` (not a forwarded request): its URL for
    /// `path`, its timeout, and the trace headers of the request being served. It does not go
    /// through the breaker: these calls have their own answers for an unreachable upstream.
    pub fn call(&self, upstream: Upstream, method: Method, path: &str) -> reqwest::RequestBuilder {
        let target = self.target(upstream);
        traced(
            self.client
                .request(method, format!("{}{path}", target.url))
                .timeout(target.timeout),
        )
    }

    /// `/ready` entries: each upstream's `/health`, reported but never making us unready.
    pub fn checks(&self) -> Vec<Box<dyn Check>> {
        self.targets
            .iter()
            .map(|target| {
                Box::new(UpstreamCheck {
                    target: target.clone(),
                    client: self.client.clone(),
                }) as Box<dyn Check>
            })
            .collect()
    }

    /// Sends `out` to `upstream` and streams its answer back.
    pub async fn forward(&self, upstream: Upstream, out: Outgoing) -> Result<Response, ForwardError> {
        let target = self.target(upstream).clone();
        let name = upstream.as_str();
        if let Err(retry) = target.breaker.admit() {
            self.metrics.upstream(name, "circuit_open");
            return Err(ForwardError::CircuitOpen(name, retry));
        }
        let limit = self.max_body_bytes;
        let mut request = self
            .client
            .request(out.method, format!("{}{}", target.url, out.path_and_query))
            .headers(out.headers);
        // A request without a body (most GETs) goes without one, not as an empty chunked body.
        if http_body::Body::size_hint(&out.body).exact() != Some(0) {
            let body = Limited::new(out.body, limit).into_data_stream();
            request = request.body(reqwest::Body::wrap_stream(body));
        }
        let request = traced(request);
        let sent = tokio::time::timeout(target.timeout, request.send_traced()).await;
        let response = match sent {
            Err(_) => {
                self.failed(&target, "timeout");
                return Err(ForwardError::Timeout(name));
            }
            Ok(Err(err)) if caused_by::<LengthLimitError>(&err) => {
                // The client's fault, not the upstream's: a half-open breaker closes again.
                target.breaker.record(true);
                self.metrics.upstream(name, "too_large");
                return Err(ForwardError::TooLarge(limit));
            }
            Ok(Err(err)) if err.is_timeout() => {
                self.failed(&target, "timeout");
                return Err(ForwardError::Timeout(name));
            }
            Ok(Err(err)) => {
                tracing::warn!(upstream = name, error = %err, "upstream unreachable");
                self.failed(&target, "refused");
                return Err(ForwardError::Unreachable(name));
            }
            Ok(Ok(response)) => response,
        };
        if target.breaker.record(true) {
            self.metrics
                .circuit_open
                .get_or_create(&UpstreamLabel { upstream: name })
                .set(1);
        } else {
            self.metrics
                .circuit_open
                .get_or_create(&UpstreamLabel { upstream: name })
                .set(0);
        }
        self.metrics.upstream(name, "ok");
        let status = response.status();
        let mut headers = response.headers().clone();
        // Content-Length stays: the body is streamed byte for byte (no decompression).
        strip_hop_by_hop(&mut headers);
        let stream = response.bytes_stream().map_err(std::io::Error::other);
        let mut answer = Response::new(Body::from_stream(stream));
        *answer.status_mut() = status;
        *answer.headers_mut() = headers;
        Ok(answer)
    }

    fn failed(&self, target: &Target, outcome: &'static str) {
        let name = target.upstream.as_str();
        self.metrics.upstream(name, outcome);
        if target.breaker.record(false) {
            self.metrics
                .circuit_open
                .get_or_create(&UpstreamLabel { upstream: name })
                .set(1);
        }
    }
}

/// Adds the request being served's `x-request-id` and trace context to an outgoing call.
pub fn traced(mut request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    if let Some(ctx) = observe::current() {
        request = request.header(REQUEST_ID.clone(), ctx.request_id);
        if let Ok(value) = HeaderValue::from_str(&ctx.trace.header_value()) {
            request = request.header(TRACEPARENT.clone(), value);
        }
    }
    request
}

/// Whether `E` is among the causes of `err` (reqwest wraps what our body stream or resolver
/// returned a few levels down).
pub fn caused_by<E: std::error::Error + 'static>(err: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.is::<E>() {
            return true;
        }
        source = e.source();
    }
    false
}

struct UpstreamCheck {
    target: Arc<Target>,
    client: reqwest::Client,
}

impl Check for UpstreamCheck {
    fn name(&self) -> &'static str {
        self.target.upstream.as_str()
    }
    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let response = self
                .client
                .get(format!("{}/health", self.target.url))
                .timeout(Duration::from_millis(900))
                .send()
                .await
                .map_err(|e| {
                    if e.is_timeout() {
                        "no answer".to_owned()
                    } else {
                        "unreachable".to_owned()
                    }
                })?;
            if response.status().is_success() {
                Ok(())
            } else {
                Err(format!("/health answered {}", response.status().as_u16()))
            }
        })
    }
    fn required(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaker_opens_after_consecutive_failures_and_closes_after_a_good_trial() {
        let breaker = Breaker::new(BreakerConfig {
            failures: 3,
            open_for: Duration::from_millis(30),
        });
        assert!(!breaker.record(false));
        assert!(!breaker.record(true), "a success resets the count");
        assert!(!breaker.record(false));
        assert!(!breaker.record(false));
        assert!(breaker.record(false), "the third failure in a row opens it");
        assert!(breaker.admit().is_err());
        std::thread::sleep(Duration::from_millis(40));
        assert!(breaker.admit().is_ok(), "one trial after the pause");
        assert!(breaker.admit().is_err(), "only one trial at a time");
        assert!(breaker.record(false), "a failed trial opens it again");
        std::thread::sleep(Duration::from_millis(40));
        assert!(breaker.admit().is_ok());
        assert!(!breaker.record(true));
        assert!(breaker.admit().is_ok() && breaker.admit().is_ok(), "closed again");
    }

    #[test]
    fn hop_by_hop_headers_and_the_ones_connection_names_go() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONNECTION, HeaderValue::from_static("keep-alive, x-secret-hop"));
        headers.insert("x-secret-hop", HeaderValue::from_static("1"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert(header::TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("h2c"));
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1, "{headers:?}");
        assert!(headers.contains_key(header::CONTENT_TYPE));
    }
}
