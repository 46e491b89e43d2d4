//! `Json`, `Form`, `Query` and `Path` extractors whose rejections are problem documents.
//!
//! axum's own extractors answer plain text; these wrap them so a malformed body, a wrong type,
//! a missing content type or an oversized body all come back as `application/problem+json`
//! with axum's status (400, 413, 415 or 422).

use axum::body::Bytes;
use axum::extract::FromRequest;
use axum::extract::FromRequestParts;
use axum::extract::rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection};
use axum::response::{IntoResponse, Response};

use crate::Problem;

/// A JSON body; rejections are problems, and a NUL in any string is a 422 naming where
/// ([`crate::guard`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

/// The body of `req` (within the body limit), refused with what `check` finds wrong with it,
/// and a request carrying it again for axum's own extractor.
async fn checked<S: Send + Sync>(
    req: axum::extract::Request,
    state: &S,
    check: fn(&[u8]) -> Option<Problem>,
) -> Result<axum::extract::Request, Problem> {
    let (parts, body) = req.into_parts();
    let bytes = Bytes::from_request(axum::extract::Request::from_parts(parts.clone(), body), state)
        .await
        .map_err(|r| rejection(r.status(), r.body_text()))?;
    if let Some(problem) = check(&bytes) {
        return Err(problem);
    }
    Ok(axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes)))
}

impl<T, S> FromRequest<S> for Json<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let req = checked(req, state, json_check).await?;
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await?;
        Ok(Self(value))
    }
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// A `application/x-www-form-urlencoded` body (or query, for GET); rejections are problems,
/// a body that is not UTF-8 once decoded is a 400 and a NUL in a field is a 422 naming it
/// ([`crate::guard`]; the middleware checks queries).
#[derive(Debug, Clone, Copy, Default)]
pub struct Form<T>(pub T);

impl<T, S> FromRequest<S> for Form<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let req = if matches!(*req.method(), axum::http::Method::GET | axum::http::Method::HEAD) {
            req
        } else {
            checked(req, state, form_check).await?
        };
        let axum::Form(value) = axum::Form::<T>::from_request(req, state).await?;
        Ok(Self(value))
    }
}

/// A JSON body's refusal before parsing: a NUL in any string (422). Bytes that are not UTF-8
/// are the parser's 400.
fn json_check(bytes: &[u8]) -> Option<Problem> {
    let found = crate::guard::json_nul_pointers(bytes);
    (!found.is_empty()).then(|| crate::guard::nul_problem(found))
}

/// A form body's refusal: not UTF-8 once decoded (400), or a NUL in a field (422).
fn form_check(bytes: &[u8]) -> Option<Problem> {
    if !crate::guard::form_is_utf8(bytes) {
        return Some(crate::guard::not_utf8_problem("the form"));
    }
    let found = crate::guard::form_nul_fields(bytes);
    (!found.is_empty()).then(|| crate::guard::nul_problem(found))
}

/// A query string; rejections are problems.
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Problem))]
pub struct Query<T>(pub T);

/// Path parameters; rejections are problems (a malformed id is 400, not 500).
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Problem))]
pub struct Path<T>(pub T);

fn rejection(status: axum::http::StatusCode, text: String) -> Problem {
    match status.as_u16() {
        400 => Problem::bad_request(text),
        422 => Problem::new(status, "validation", "Invalid request").detail(text),
        _ => Problem::from_status(status, text),
    }
}

impl From<JsonRejection> for Problem {
    fn from(r: JsonRejection) -> Self {
        rejection(r.status(), r.body_text())
    }
}

impl From<FormRejection> for Problem {
    fn from(r: FormRejection) -> Self {
        rejection(r.status(), r.body_text())
    }
}

impl From<QueryRejection> for Problem {
    fn from(r: QueryRejection) -> Self {
        rejection(r.status(), r.body_text())
    }
}

impl From<PathRejection> for Problem {
    fn from(r: PathRejection) -> Self {
        // A path that does not parse names nothing that exists: 400 with the reason.
        let status = r.status();
        if status.is_server_error() {
            return Problem::internal(anyhow::anyhow!(r.body_text()));
        }
        Problem::bad_request(r.body_text())
    }
}

/// A body that may come as JSON or as an HTML/OAuth2 form (`application/x-www-form-urlencoded`),
/// chosen by `Content-Type`; anything else is 415.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonOrForm<T>(pub T);

impl<T, S> FromRequest<S> for JsonOrForm<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if content_type.starts_with("application/x-www-form-urlencoded") {
            let Form(value) = Form::<T>::from_request(req, state).await?;
            Ok(Self(value))
        } else if content_type.starts_with("application/json") || content_type.contains("+json") {
            let Json(value) = Json::<T>::from_request(req, state).await?;
            Ok(Self(value))
        } else {
            Err(Problem::from_status(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send application/json or application/x-www-form-urlencoded",
            ))
        }
    }
}
