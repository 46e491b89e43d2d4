//! The outgoing HTTP client: forwards the current request's `traceparent` and `x-request-id`,
//! and [`send`], which makes each call a span of its own while traces are exported.

use std::time::Duration;

use axum::http::HeaderValue;
use reqwest::{Method, RequestBuilder};
use tracing::Instrument as _;

use crate::observe::{self, REQUEST_ID, TRACEPARENT};

/// A `reqwest` client with Shopkeeper's defaults (timeouts, user agent) that adds the trace
/// headers of the request being served to every call.
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
}

impl HttpClient {
    /// A client with a 2 s connect and the given overall timeout.
    pub fn new(timeout: Duration) -> anyhow::Result<Self> {
        crate::install_crypto_provider();
        let inner = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(timeout)
            .user_agent(concat!("shopkeeper/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { inner })
    }

    /// Starts a request carrying the current trace context.
    pub fn request(&self, method: Method, url: &str) -> RequestBuilder {
        let builder = self.inner.request(method, url);
        match observe::current() {
            Some(ctx) => builder
                .header(TRACEPARENT.clone(), trace_header(&ctx.trace))
                .header(REQUEST_ID.clone(), ctx.request_id),
            None => builder,
        }
    }

    /// `GET url`.
    pub fn get(&self, url: &str) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    /// `POST url`.
    pub fn post(&self, url: &str) -> RequestBuilder {
        self.request(Method::POST, url)
    }
}

fn trace_header(trace: &observe::TraceContext) -> HeaderValue {
    HeaderValue::from_str(&trace.header_value()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// [`send`] as a method: `request.send_traced().await` where `request.send().await` was.
pub trait SendTraced {
    /// See [`send`].
    fn send_traced(self) -> impl Future<Output = reqwest::Result<reqwest::Response>> + Send;
}

impl SendTraced for RequestBuilder {
    fn send_traced(self) -> impl Future<Output = reqwest::Result<reqwest::Response>> + Send {
        send(self)
    }
}

/// Sends `request` (from any `reqwest` client). While traces are exported (see
/// [`crate::trace`]) the call is a span of kind `client`, child of the current span, and its
/// `traceparent` names that span, so the callee's request span hangs under it; the answer's
/// status, or the failure, is recorded on the span. Otherwise it is plain `send`.
pub async fn send(request: RequestBuilder) -> reqwest::Result<reqwest::Response> {
    let (client, request) = request.build_split();
    #[allow(unused_mut)] // Only traced builds rewrite the headers.
    let mut request = request?;
    let span = tracing::debug_span!(
        target: observe::SPAN_TARGET,
        "call",
        otel.name = tracing::field::Empty,
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
        http.request.method = %request.method(),
        server.address = request.url().host_str().unwrap_or_default(),
        server.port = request.url().port_or_known_default().unwrap_or_default(),
        url.path = request.url().path(),
        http.response.status_code = tracing::field::Empty,
    );
    if !span.is_disabled() {
        span.record(
            "otel.name",
            tracing::field::display(format_args!(
                "{} {}",
                request.method(),
                request.url().host_str().unwrap_or_default()
            )),
        );
        #[cfg(feature = "otel")]
        if let Some(trace) = crate::trace::context_of(&span) {
            request.headers_mut().insert(TRACEPARENT.clone(), trace_header(&trace));
        }
    }
    let result = client.execute(request).instrument(span.clone()).await;
    match &result {
        Ok(response) => {
            span.record("http.response.status_code", response.status().as_u16());
            if response.status().is_server_error() {
                span.record("otel.status_code", "ERROR");
            }
        }
        Err(_) => {
            span.record("otel.status_code", "ERROR");
        }
    }
    result
}
