//! Conditional GETs: an `ETag` on every successful `GET`/`HEAD` answer whose body is known in
//! full (the JSON of a listing, a product), and `304 Not Modified` without a body when the
//! client's `If-None-Match` names it, so a browser or an app re-reading an unchanged page
//! downloads nothing. The tag is a weak validator over the body's bytes (RFC 9110 §8.8.3):
//! equal bodies have equal tags, on every replica.
//!
//! Wrap a router with `axum::middleware::from_fn(shop_kit::etag::conditional)`.

use std::fmt::Write as _;

use axum::body::Body;
use axum::body::HttpBody as _;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use sha2::{Digest, Sha256};

/// Bodies larger than this are sent without a tag (none of ours come close).
const MAX_TAGGED_BYTES: u64 = 1 << 20;

/// The middleware.
pub async fn conditional(req: Request, next: Next) -> Response {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return next.run(req).await;
    }
    let if_none_match = req.headers().get(header::IF_NONE_MATCH).cloned();
    let response = next.run(req).await;
    let known_size = response.body().size_hint().exact();
    if response.status() != StatusCode::OK
        || response.headers().contains_key(header::ETAG)
        || known_size.is_none_or(|n| n > MAX_TAGGED_BYTES)
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // The size is exact, so the whole body is already in memory: this cannot block or fail
    // short of a bug, in which case the answer is a 500 rather than a truncated body.
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(err) => return crate::Problem::internal(anyhow::anyhow!("reading a body to tag: {err}")).into_response(),
    };
    let tag = tag_of(&bytes);
    if let Ok(value) = HeaderValue::from_str(&tag) {
        parts.headers.insert(header::ETAG, value);
    }
    if if_none_match.as_ref().is_some_and(|v| matches(v, &tag)) {
        parts.status = StatusCode::NOT_MODIFIED;
        strip_content_headers(&mut parts.headers);
        return Response::from_parts(parts, Body::empty());
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// The weak tag of `body`: `W/"` and 32 hex digits of its SHA-256 `"`.
pub fn tag_of(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let mut tag = String::with_capacity(36);
    tag.push_str("W/\"");
    for b in &digest[..16] {
        let _ = write!(tag, "{b:02x}");
    }
    tag.push('"');
    tag
}

/// Whether `If-None-Match` names `tag` (weak comparison: `W/` is ignored on both sides), or is
/// `*`. A malformed header matches nothing, so the full answer is sent.
pub fn matches(if_none_match: &HeaderValue, tag: &str) -> bool {
    let Ok(list) = if_none_match.to_str() else {
        return false;
    };
    let opaque = |t: &str| {
        let t = t.trim();
        let t = t.strip_prefix("W/").unwrap_or(t);
        (t.len() >= 2 && t.starts_with('"') && t.ends_with('"')).then(|| t.to_owned())
    };
    if list.trim() == "*" {
        return true;
    }
    let Some(ours) = opaque(tag) else {
        return false;
    };
    list.split(',').filter_map(opaque).any(|theirs| theirs == ours)
}

/// A 304 carries the validators and caching headers of the 200 it stands for, not the
/// description of a body it does not have.
fn strip_content_headers(headers: &mut HeaderMap) {
    for name in [header::CONTENT_LENGTH, header::CONTENT_TYPE, header::CONTENT_ENCODING] {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_bodies_have_equal_weak_tags() {
        let tag = tag_of(b"{\"items\":[]}");
        assert_eq!(tag, tag_of(b"{\"items\":[]}"));
        assert_ne!(tag, tag_of(b"{\"items\":[1]}"));
        assert!(
            tag.starts_with("W/\"") && tag.ends_with('"') && tag.len() == 36,
            "{tag}"
        );
    }

    #[test]
    fn if_none_match_compares_weakly_and_lists() {
        let tag = tag_of(b"x");
        let strong = tag.trim_start_matches("W/").to_owned();
        let header = |s: &str| HeaderValue::from_str(s).expect("header");
        assert!(matches(&header(&tag), &tag));
        assert!(
            matches(&header(&strong), &tag),
            "a strong form of the same tag matches weakly"
        );
        assert!(matches(&header(&format!("\"other\", {tag}")), &tag));
        assert!(matches(&header("*"), &tag));
        assert!(!matches(&header("\"other\""), &tag));
        assert!(!matches(&header("garbage"), &tag));
        assert!(!matches(&header(""), &tag));
        assert!(!matches(
            &HeaderValue::from_bytes(b"\xff\"x\"").expect("opaque bytes"),
            &tag
        ));
    }
}
