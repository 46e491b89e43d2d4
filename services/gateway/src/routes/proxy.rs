//! `/api/v1/*`: the per-request rate limit, routing to the owning service, and forwarding;
//! `/api/v1/search` with the plan's page size; the older `/api/*` paths as permanent
//! redirects.

use std::net::SocketAddr;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use shop_kit::Problem;
use shop_kit::auth::Plan;
use shop_kit::observe::{REQUEST_ID, TRACEPARENT};

use crate::AppState;
use crate::config::Upstream;
use crate::ratelimit::Policy;
use crate::session::{self, Peer, Resolved};
use crate::upstream::{Outgoing, strip_hop_by_hop};

/// The API prefix.
pub const PREFIX: &str = "/api/v1";

/// The service that owns `path` (below `/api/v1`), or `None` for paths we never forward:
/// unknown resources, `internal/` routes, dot segments, encoded slashes.
pub fn owner(path: &str) -> Option<Upstream> {
    let mut segments = path.trim_start_matches('/').split('/');
    let first = segments.next()?;
    let all_clean = path.trim_start_matches('/').split('/').all(|segment| {
        let decoded = percent_decode_str(segment).decode_utf8_lossy();
        decoded != "."
            && decoded != ".."
            && !decoded.contains('/')
            && !decoded.contains('\\')
            && !decoded.eq_ignore_ascii_case("internal")
    });
    if !all_clean {
        return None;
    }
    match first {
        "auth" | "users" | ".well-known" => Some(Upstream::Auth),
        "products" | "categories" | "templates" | "images" | "search" => Some(Upstream::Catalog),
        "cart" | "me" => Some(Upstream::Cart),
        "orders" | "admin" => Some(Upstream::Order),
        _ => None,
    }
}

/// The policy a request below `/api/v1` spends from.
pub fn policy(state: &AppState, path: &str, plan: Plan) -> Policy {
    let l = &state.config.limits;
    let (name, rate) = match (path, plan) {
        ("/auth/login" | "/auth/token" | "/auth/refresh", _) => ("login", l.login),
        ("/auth/register", _) => ("register", l.register),
        ("/search", Plan::Premium) => ("search-premium", l.search_premium),
        ("/search", Plan::Free) => ("search-free", l.search_free),
        (_, Plan::Premium) => ("api-premium", l.api_premium),
        (_, Plan::Free) => ("api-free", l.api_free),
    };
    Policy { name, rate }
}

/// Middleware after the session one: spends one request from the caller's budget (the user,
/// or the client address when anonymous and for login and register) and writes the
/// `RateLimit` headers.
pub async fn limit(State(state): State<AppState>, peer: Peer, req: Request, next: Next) -> Response {
    let resolved = req.extensions().get::<Resolved>();
    let path = req.uri().path().strip_prefix(PREFIX).unwrap_or("/");
    let policy = policy(&state, path, plan_of(resolved));
    let by_address = matches!(policy.name, "login" | "register");
    let subject = match (resolved.and_then(|r| r.claims.as_ref()), by_address) {
        (Some(claims), false) => format!("user:{}", claims.sub),
        _ => format!("ip:{}", session::client_ip(&state, req.headers(), peer)),
    };
    let decision = state.limiter.check(policy, &subject).await;
    if !decision.allowed {
        return decision.refusal();
    }
    let mut answer = next.run(req).await;
    decision.write_headers(answer.headers_mut());
    answer
}

/// The plan of the caller the session middleware resolved (free when anonymous).
fn plan_of(resolved: Option<&Resolved>) -> Plan {
    resolved.map_or(Plan::Free, Resolved::plan)
}

/// The page size a plan allows.
pub fn page_cap(state: &AppState, plan: Plan) -> u32 {
    match plan {
        Plan::Premium => state.config.limits.page_premium,
        Plan::Free => state.config.limits.page_free,
    }
}

/// `query` with every `per_page`/`limit` above `cap` lowered to `cap`; other pairs (and
/// values that are not numbers, for the upstream to refuse) are kept as sent.
pub fn cap_page_size(query: &str, cap: u32) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let capped = match key.as_ref() {
            "per_page" | "limit" => match value.parse::<i64>() {
                Ok(n) if n > i64::from(cap) => cap.to_string(),
                _ => value.into_owned(),
            },
            _ => value.into_owned(),
        };
        out.append_pair(&key, &capped);
    }
    out.finish()
}

/// The headers sent upstream: the client's, less hop-by-hop ones, cookies and our trace
/// headers (the forwarder sets its own), with the session's token as `Authorization` (another
/// scheme, such as Basic for the client-credentials grant, goes through as sent) and the
/// client's address appended to `X-Forwarded-For`.
pub fn upstream_headers(
    mut headers: HeaderMap,
    resolved: &Resolved,
    peer: Option<SocketAddr>,
    public_https: bool,
) -> HeaderMap {
    strip_hop_by_hop(&mut headers);
    for name in [header::COOKIE, header::HOST] {
        headers.remove(name);
    }
    headers.remove(&REQUEST_ID);
    headers.remove(&TRACEPARENT);
    headers.remove(HeaderName::from_static(session::CSRF_HEADER));
    if let Some(token) = &resolved.token
        && let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}"))
    {
        headers.insert(header::AUTHORIZATION, value);
    }
    if let Some(peer) = peer {
        let forwarded = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            Some(chain) => format!("{chain}, {}", peer.ip()),
            None => peer.ip().to_string(),
        };
        if let Ok(value) = HeaderValue::from_str(&forwarded) {
            headers.insert("x-forwarded-for", value);
        }
    }
    if !headers.contains_key("x-forwarded-proto") {
        let proto = if public_https { "https" } else { "http" };
        headers.insert("x-forwarded-proto", HeaderValue::from_static(proto));
    }
    headers
}

/// The headers of a call the gateway makes itself on behalf of a request (signing in, the
/// pages): who the caller is and where the request came from, as [`upstream_headers`] sends
/// them, and none of the request's other headers (its content type and length describe a
/// different body).
pub fn own_call_headers(
    incoming: &HeaderMap,
    resolved: &Resolved,
    peer: Option<SocketAddr>,
    public_https: bool,
) -> HeaderMap {
    let mut kept = HeaderMap::new();
    for name in ["x-forwarded-for", "x-forwarded-proto"] {
        if let Some(value) = incoming.get(name) {
            kept.insert(name, value.clone());
        }
    }
    upstream_headers(kept, resolved, peer, public_https)
}

/// `ANY /api/v1/{*path}`: forwards to the owning service.
pub async fn forward(State(state): State<AppState>, peer: Peer, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().strip_prefix(PREFIX).unwrap_or("/").to_owned();
    let Some(upstream) = owner(&path) else {
        return Problem::not_found(format!("no route {}", parts.uri.path())).into_response();
    };
    let mut query = parts.uri.query().map(str::to_owned);
    if parts.method == http::Method::GET && path == "/products" {
        let cap = page_cap(&state, plan_of(parts.extensions.get()));
        query = query.map(|q| cap_page_size(&q, cap));
    }
    let path_and_query = match query {
        Some(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path,
    };
    send(&state, upstream, parts, path_and_query, body, peer).await
}

/// Forwards the request `parts` + `body` to `upstream` at `path_and_query`.
async fn send(
    state: &AppState,
    upstream: Upstream,
    mut parts: http::request::Parts,
    path_and_query: String,
    body: axum::body::Body,
    peer: Peer,
) -> Response {
    let resolved = parts.extensions.remove::<Resolved>().unwrap_or_default();
    let out = Outgoing {
        method: parts.method,
        path_and_query,
        headers: upstream_headers(
            parts.headers,
            &resolved,
            peer.0,
            state.config.public_url.starts_with("https:"),
        ),
        body,
    };
    match state.upstreams.forward(upstream, out).await {
        Ok(answer) => answer,
        Err(err) => Problem::from(err).into_response(),
    }
}

/// `GET /api/v1/search?query=…&categories=…&limit=…`: the catalog's ranked search, at most
/// the plan's page size per page; the answer carries the `request_id`.
pub async fn search(State(state): State<AppState>, peer: Peer, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let cap = page_cap(&state, plan_of(parts.extensions.get()));
    let query = parts.uri.query().unwrap_or_default();
    let mut capped = cap_page_size(query, cap);
    if !url::form_urlencoded::parse(query.as_bytes()).any(|(k, _)| k == "limit" || k == "per_page") {
        capped = format!("{capped}{}limit={cap}", if capped.is_empty() { "" } else { "&" });
    }
    send(
        &state,
        Upstream::Catalog,
        parts,
        format!("/search?{capped}"),
        body,
        peer,
    )
    .await
}

/// `ANY /api/{*path}` (the original design's paths): `308 Permanent Redirect` to the same
/// path under `/api/v1`, method and body kept.
pub async fn legacy(uri: Uri) -> Response {
    let rest = uri.path().strip_prefix("/api").unwrap_or_default();
    let target = match uri.query() {
        Some(q) => format!("{PREFIX}{rest}?{q}"),
        None => format!("{PREFIX}{rest}"),
    };
    match HeaderValue::from_str(&target) {
        Ok(location) => (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, location)]).into_response(),
        Err(_) => Problem::bad_request("malformed path").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_public_resource_has_its_owner() {
        assert_eq!(owner("/auth/login"), Some(Upstream::Auth));
        assert_eq!(owner("/auth/me"), Some(Upstream::Auth));
        assert_eq!(owner("/users/1"), Some(Upstream::Auth));
        assert_eq!(owner("/.well-known/jwks.json"), Some(Upstream::Auth));
        assert_eq!(owner("/products/sku/A-1"), Some(Upstream::Catalog));
        assert_eq!(owner("/categories"), Some(Upstream::Catalog));
        assert_eq!(owner("/templates/3"), Some(Upstream::Catalog));
        assert_eq!(owner("/images/x.svg"), Some(Upstream::Catalog));
        assert_eq!(owner("/cart/add"), Some(Upstream::Cart));
        assert_eq!(owner("/me/preferences/sort"), Some(Upstream::Cart));
        assert_eq!(owner("/orders/checkout"), Some(Upstream::Order));
        assert_eq!(owner("/admin/stats"), Some(Upstream::Order));
    }

    #[test]
    fn internal_routes_and_tricks_are_never_forwarded() {
        for path in [
            "/internal/reservations",
            "/products/../internal/reservations",
            "/products/%2e%2e/internal/x",
            "/carts/1",
            "/cart/%2Finternal",
            "/cart/INTERNAL/1",
            "/openapi.json",
            "/metrics",
            "/",
            "",
            "/products/a%5Cb",
        ] {
            assert_eq!(owner(path), None, "{path}");
        }
    }

    #[test]
    fn page_sizes_above_the_plan_are_lowered_and_the_rest_kept() {
        assert_eq!(
            cap_page_size("per_page=500&category=tea", 20),
            "per_page=20&category=tea"
        );
        assert_eq!(cap_page_size("limit=5&q=green+tea", 20), "limit=5&q=green+tea");
        assert_eq!(cap_page_size("per_page=abc", 20), "per_page=abc");
        assert_eq!(cap_page_size("per_page=-1", 20), "per_page=-1");
        assert_eq!(cap_page_size("", 20), "");
    }
}
