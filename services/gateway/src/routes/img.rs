//! `GET /img?url=…&w=…&h=…&fit=contain|cover`: the image proxy (404 unless `IMAGE_PROXY`).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use shop_kit::Problem;

use crate::AppState;

/// A year: cached answers never change (the key covers every parameter).
const CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// `GET /img`.
pub async fn image(
    State(state): State<AppState>,
    query: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let Some(proxy) = state.images.clone() else {
        return Problem::not_found("the image proxy is off (IMAGE_PROXY)").into_response();
    };
    let Ok(Query(params)) = query else {
        return Problem::bad_request("malformed query string").into_response();
    };
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let request = match proxy.parse(&params, accept) {
        Ok(request) => request,
        Err(err) => {
            state.metrics.image(err.outcome());
            return Problem::from(err).into_response();
        }
    };
    let etag = format!("\"{}\"", &request.key()[..32]);
    let (entry, hit) = match proxy.serve(request).await {
        Ok(served) => served,
        Err(err) => {
            state.metrics.image(err.outcome());
            return Problem::from(err).into_response();
        }
    };
    state.metrics.image(if hit { "hit" } else { "miss" });
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag || tag.trim() == "*"));
    let mut answer = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, entry.content_type)], entry.bytes).into_response()
    };
    let h = answer.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(CACHE_CONTROL));
    h.insert(header::VARY, HeaderValue::from_static("Accept"));
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, etag);
    }
    if entry.content_type == "image/svg+xml" {
        // An SVG opened directly must not run anything.
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; sandbox"),
        );
    }
    answer
}
