//! The outgoing HTTP client: forwards the current request's `traceparent` and `x-request-id`.

use std::time::Duration;

use axum::http::HeaderValue;
use reqwest::{Method, RequestBuilder};

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
