//! The per-request middleware: request id, W3C trace context, RED metrics and the access log.
//!
//! Every request gets an `x-request-id` (the caller's, when it sent a sane one, or a new
//! UUID) that is echoed on the response, and a trace context: the caller's `traceparent`
//! continued, or a new trace. Both are kept in a task-local for the duration of the handler so
//! that [`crate::client`] can forward them on outgoing calls without threading them through
//! every function.

use std::fmt::Write as _;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::metrics::{HttpMetrics, RequestLabels, RouteLabels, TraceExemplar};

/// `x-request-id`.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// `traceparent` (W3C Trace Context).
pub static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// A W3C trace context: the trace this request belongs to and the span that stands for it here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    /// 16-byte trace id, never all zero.
    pub trace_id: [u8; 16],
    /// 8-byte id of this service's span, the parent of outgoing calls.
    pub span_id: [u8; 8],
    /// Trace flags (bit 0: sampled).
    pub flags: u8,
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != N * 2 || !s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(out)
}

impl TraceContext {
    /// A new trace, sampled.
    pub fn new_root() -> Self {
        let mut trace_id: [u8; 16] = rand::random();
        trace_id[0] |= 1; // never all zero
        Self {
            trace_id,
            span_id: new_span_id(),
            flags: 1,
        }
    }

    /// Continues the caller's trace: parses `traceparent` (version 00 rules, lower-case hex,
    /// non-zero ids) and starts a new span of ours in it. `None` when the header is invalid,
    /// in which case the spec says to start a new trace.
    pub fn continue_from(traceparent: &str) -> Option<Self> {
        let mut parts = traceparent.trim().split('-');
        let version = parts.next()?;
        let trace = parts.next()?;
        let parent = parts.next()?;
        let flags = parts.next()?;
        if version.len() != 2 || version == "ff" || unhex::<1>(version).is_none() {
            return None;
        }
        if version == "00" && parts.next().is_some() {
            return None;
        }
        let trace_id = unhex::<16>(trace)?;
        let parent_id = unhex::<8>(parent)?;
        let [flags] = unhex::<1>(flags)?;
        if trace_id == [0; 16] || parent_id == [0; 8] {
            return None;
        }
        Some(Self {
            trace_id,
            span_id: new_span_id(),
            flags,
        })
    }

    /// The `traceparent` value for an outgoing call made from this span.
    pub fn header_value(&self) -> String {
        format!("00-{}-{}-{:02x}", hex(&self.trace_id), hex(&self.span_id), self.flags)
    }

    /// The trace id as 32 hex digits (for logs).
    pub fn trace_id_hex(&self) -> String {
        hex(&self.trace_id)
    }
}

fn new_span_id() -> [u8; 8] {
    let mut id: [u8; 8] = rand::random();
    id[0] |= 1;
    id
}

/// The `tracing` target of spans that exist for the trace exporter only (saga steps, database
/// and Redis calls, outgoing calls): open them at `debug` with this target. The log filter
/// shows them only when asked (`RUST_LOG=info,shop::span=debug`).
pub const SPAN_TARGET: &str = "shop::span";

/// Routes polled by machines every few seconds (probes, scrapes, the revoked-session list of
/// `crate::revocation`): their successful answers are logged at `debug`, not `info`, so they do
/// not drown the access log. A failing one is still logged at `info`.
pub const QUIET_ROUTES: [&str; 4] = ["/health", "/ready", "/metrics", "/internal/revoked-sessions"];

/// What a handler's outgoing calls inherit from the request being served.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The request id.
    pub request_id: HeaderValue,
    /// The trace context.
    pub trace: TraceContext,
}

tokio::task_local! {
    static CURRENT: RequestContext;
}

/// The context of the request the current task is serving, if any.
pub fn current() -> Option<RequestContext> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Runs `fut` as if it served a request with `ctx` (background jobs that make calls on behalf
/// of a request, and tests).
pub async fn scope<F: Future>(ctx: RequestContext, fut: F) -> F::Output {
    CURRENT.scope(ctx, fut).await
}

fn request_id_from(req: &Request) -> HeaderValue {
    req.headers()
        .get(&REQUEST_ID)
        .filter(|v| {
            let b = v.as_bytes();
            !b.is_empty() && b.len() <= 128 && b.iter().all(|c| c.is_ascii_alphanumeric() || b"-_.:".contains(c))
        })
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
                .unwrap_or_else(|_| HeaderValue::from_static("invalid"))
        })
}

/// The middleware: wrap every route with `axum::middleware::from_fn_with_state(metrics, observe)`
/// (done by [`crate::server::with_middleware`]).
pub async fn observe(State(metrics): State<HttpMetrics>, mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let request_id = request_id_from(&req);
    req.headers_mut().insert(REQUEST_ID.clone(), request_id.clone());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    let method_label = method_label(req.method());
    let polled = QUIET_ROUTES.contains(&route.as_str());
    let span = tracing::info_span!(
        "request",
        %method,
        route = %route,
        request_id = request_id.to_str().unwrap_or_default(),
        trace_id = tracing::field::Empty,
        // Filled in only while spans are exported (see `crate::trace`).
        otel.name = tracing::field::Empty,
        otel.kind = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
    );
    #[cfg(feature = "otel")]
    let exported = crate::trace::enabled()
        .then(|| {
            span.record(
                "otel.name",
                tracing::field::display(format_args!("{method_label} {route}")),
            );
            span.record("otel.kind", "server");
            crate::trace::adopt(&span, req.headers(), polled)
        })
        .flatten();
    #[cfg(not(feature = "otel"))]
    let exported: Option<TraceContext> = None;
    let trace = exported
        .or_else(|| {
            req.headers()
                .get(&TRACEPARENT)
                .and_then(|v| v.to_str().ok())
                .and_then(TraceContext::continue_from)
        })
        .unwrap_or_else(TraceContext::new_root);
    span.record("trace_id", tracing::field::display(trace.trace_id_hex()));
    // The latency bucket remembers this trace when the collector will have it.
    let exemplar = exported.filter(|t| t.flags & 1 == 1).map(|t| TraceExemplar {
        trace_id: t.trace_id_hex(),
    });
    let ctx = RequestContext {
        request_id: request_id.clone(),
        trace,
    };
    let mut response = CURRENT.scope(ctx, next.run(req).instrument(span.clone())).await;
    let elapsed = start.elapsed();
    let status = response.status().as_u16();
    if exported.is_some() {
        span.record("http.response.status_code", status);
        if status >= 500 {
            span.record("otel.status_code", "ERROR");
        }
    }
    response.headers_mut().insert(REQUEST_ID.clone(), request_id);
    let quiet = polled && status < 400;
    span.in_scope(|| {
        let duration_ms = elapsed.as_secs_f64() * 1000.0;
        if quiet {
            tracing::debug!(status, duration_ms, "served");
        } else {
            tracing::info!(status, duration_ms, "served");
        }
    });
    metrics
        .duration
        .get_or_create(&RouteLabels {
            method: method_label.to_owned(),
            route: route.clone(),
        })
        .observe(elapsed.as_secs_f64(), exemplar, None);
    metrics
        .requests
        .get_or_create(&RequestLabels {
            method: method_label.to_owned(),
            route,
            status,
        })
        .inc();
    response
}

/// The `method` label of a request: the standard methods by name, anything else `other`, so
/// clients cannot create time series by sending made-up methods.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "other",
    }
}

/// The client's address: the socket peer, or, behind `trusted_hops` proxies that each append
/// to `X-Forwarded-For`, the entry those proxies received the request from. Entries further
/// left were written by the client and are not trusted.
pub fn client_ip(
    headers: &axum::http::HeaderMap,
    peer: Option<std::net::SocketAddr>,
    trusted_hops: usize,
) -> Option<std::net::IpAddr> {
    let peer_ip = peer.map(|p| p.ip());
    if trusted_hops == 0 {
        return peer_ip;
    }
    let forwarded: Vec<std::net::IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    forwarded
        .len()
        .checked_sub(trusted_hops)
        .and_then(|i| forwarded.get(i).copied())
        .or(peer_ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_round_trip_keeps_trace_and_flags() {
        let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let ctx = TraceContext::continue_from(incoming).expect("valid");
        assert_eq!(ctx.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        let out = ctx.header_value();
        assert!(out.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"), "{out}");
        assert!(out.ends_with("-01"));
        assert!(!out.contains("00f067aa0ba902b7"), "a new span id for our span");
    }

    #[test]
    fn invalid_traceparents_are_rejected() {
        for bad in [
            "",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            assert!(TraceContext::continue_from(bad).is_none(), "{bad:?} should be invalid");
        }
    }

    #[test]
    fn client_ip_trusts_only_the_configured_hops() {
        let peer = Some(std::net::SocketAddr::from(([10, 0, 0, 9], 5555)));
        let mut h = axum::http::HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 203.0.113.7, 10.0.0.2"),
        );
        assert_eq!(client_ip(&h, peer, 0), Some([10, 0, 0, 9].into()));
        assert_eq!(client_ip(&h, peer, 1), Some([10, 0, 0, 2].into()));
        assert_eq!(client_ip(&h, peer, 2), Some([203, 0, 113, 7].into()));
        assert_eq!(
            client_ip(&axum::http::HeaderMap::new(), peer, 2),
            Some([10, 0, 0, 9].into())
        );
    }

    #[test]
    fn new_root_is_valid() {
        let ctx = TraceContext::new_root();
        let again = TraceContext::continue_from(&ctx.header_value()).expect("parses");
        assert_eq!(again.trace_id, ctx.trace_id);
    }
}
