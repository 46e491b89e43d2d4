//! The one error type of every service: an RFC 9457 problem document.
//!
//! Handlers return `Result<T, Problem>` (or a service error that converts into one). A 4xx
//! problem tells the client what was wrong; a 5xx problem carries its cause only for the log
//! (written once, when the response is built) and the client sees a generic body.

use std::borrow::Cow;
use std::fmt;

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};

/// The media type of problem documents.
pub const CONTENT_TYPE: &str = "application/problem+json";

/// Where problem types live; `type` is `{BASE}/{slug}`.
pub const TYPE_BASE: &str = "https://shopkeeper.dev/problems";

/// One failing field of a request, by JSON pointer (`/items/0/qty`) or field name.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    /// Where in the input.
    pub pointer: String,
    /// What is wrong there.
    pub message: String,
}

impl FieldError {
    /// A failing field.
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
            message: message.into(),
        }
    }
}

/// An RFC 9457 problem document, with the status, headers and (for 5xx) the logged cause.
/// Boxed, so `Result<T, Problem>` stays one pointer wide on the error side.
pub struct Problem(Box<ProblemBody>);

/// The members of a [`Problem`].
#[derive(Serialize)]
pub struct ProblemBody {
    #[serde(rename = "type")]
    kind: Cow<'static, str>,
    title: Cow<'static, str>,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    #[serde(flatten)]
    extensions: Map<String, Value>,
    #[serde(skip)]
    headers: Vec<(HeaderName, HeaderValue)>,
    #[serde(skip)]
    cause: Option<anyhow::Error>,
}

impl std::ops::Deref for Problem {
    type Target = ProblemBody;
    fn deref(&self) -> &ProblemBody {
        &self.0
    }
}

impl std::ops::DerefMut for Problem {
    fn deref_mut(&mut self) -> &mut ProblemBody {
        &mut self.0
    }
}

impl Serialize for Problem {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl fmt::Debug for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Problem")
            .field("status", &self.status)
            .field("type", &self.kind)
            .field("detail", &self.detail)
            .field("cause", &self.cause)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.title)?;
        if let Some(d) = &self.detail {
            write!(f, ": {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problem {}

impl Problem {
    /// A problem of the given status, type slug and title.
    pub fn new(status: StatusCode, slug: &str, title: impl Into<Cow<'static, str>>) -> Self {
        Self(Box::new(ProblemBody {
            kind: Cow::Owned(format!("{TYPE_BASE}/{slug}")),
            title: title.into(),
            status: status.as_u16(),
            detail: None,
            extensions: Map::new(),
            headers: Vec::new(),
            cause: None,
        }))
    }

    /// Adds a human-readable explanation of this occurrence.
    #[must_use]
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Adds an extension member (RFC 9457 §3.2). The standard members cannot be overridden.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        if matches!(key, "type" | "title" | "status" | "detail" | "instance") {
            debug_assert!(false, "extension `{key}` would shadow a standard member");
            return self;
        }
        if let Ok(v) = serde_json::to_value(value) {
            self.extensions.insert(key.to_owned(), v);
        }
        self
    }

    /// Sets a response header (`Retry-After`, `WWW-Authenticate`, `Allow`), replacing an
    /// earlier value of the same name.
    #[must_use]
    pub fn header(mut self, name: HeaderName, value: impl TryInto<HeaderValue>) -> Self {
        self.headers.retain(|(n, _)| n != name);
        if let Ok(v) = value.try_into() {
            self.headers.push((name, v));
        }
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The `type` URI.
    pub fn type_uri(&self) -> &str {
        &self.kind
    }

    /// The `detail`, if any.
    pub fn detail_text(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// 400: the request is malformed.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", "Bad request").detail(detail)
    }

    /// 401: no credentials, or credentials that do not verify.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized")
            .detail(detail)
            .header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    }

    /// 403: authenticated, but not allowed.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden").detail(detail)
    }

    /// 404: nothing here (also used for things the caller may not know exist).
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found").detail(detail)
    }

    /// 409: conflicts with the current state (duplicate, already used).
    pub fn conflict(slug: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, slug, "Conflict").detail(detail)
    }

    /// 422: well-formed but invalid; `errors` lists the failing fields.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = errors
            .iter()
            .map(|e| format!("{}: {}", e.pointer, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation", "Invalid request")
            .detail(detail)
            .with("errors", errors)
    }

    /// 422 for one field.
    pub fn invalid(pointer: &str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(pointer, message)])
    }

    /// 429 with `Retry-After` in whole seconds.
    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        let secs = retry_after_secs.max(1);
        Self::new(StatusCode::TOO_MANY_REQUESTS, "rate-limited", "Too many requests")
            .detail(format!("try again in {secs} s"))
            .with("retry_after", secs)
            .header(header::RETRY_AFTER, secs.to_string())
    }

    /// 503: a dependency is unavailable; the client may retry.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable").detail(detail)
    }

    /// 500: something broke on our side. The cause is logged once, when the response is
    /// built; the client sees only a generic message.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        let mut p = Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal server error")
            .detail("the server failed to handle this request; it has been logged");
        p.cause = Some(cause.into());
        p
    }

    /// A problem for a status that has no special constructor, titled by its reason phrase.
    pub fn from_status(status: StatusCode, detail: impl Into<String>) -> Self {
        let title = status.canonical_reason().unwrap_or("Error");
        let slug = title.to_ascii_lowercase().replace(' ', "-");
        Self::new(status, &slug, title).detail(detail)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = *self.0;
        if status.is_server_error() {
            match &body.cause {
                Some(cause) => tracing::error!(status = body.status, error = ?cause, "request failed"),
                None => tracing::warn!(status = body.status, detail = ?body.detail, "request failed"),
            }
        }
        let json = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
        let mut response = (status, json).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        for (name, value) in body.headers {
            headers.insert(name, value);
        }
        response
    }
}

#[cfg(feature = "db")]
impl From<sqlx::Error> for Problem {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            // Whatever stops us reaching a working database (down, refusing, not Postgres at
            // all, a broken TLS handshake) is a 503 the client may retry, not our bug.
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_) => {
                tracing::error!(error = ?err, "database unavailable");
                Self::unavailable("the database is unavailable; try again shortly")
                    .header(header::RETRY_AFTER, HeaderValue::from_static("1"))
            }
            _ => Self::internal(err),
        }
    }
}

/// Fallback for unknown routes.
pub async fn not_found_fallback(uri: axum::http::Uri) -> Problem {
    Problem::not_found(format!("no route for {}", uri.path()))
}

/// Fallback for a known route called with the wrong method.
pub async fn method_not_allowed_fallback(method: axum::http::Method) -> Problem {
    Problem::from_status(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method {method} is not allowed here"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[cfg(feature = "db")]
    #[test]
    fn an_unreachable_or_foreign_database_is_a_503_and_a_missing_row_is_not() {
        for err in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
            sqlx::Error::Protocol("unexpected message from the server".into()),
            sqlx::Error::WorkerCrashed,
        ] {
            let problem = Problem::from(err);
            assert_eq!(problem.status(), StatusCode::SERVICE_UNAVAILABLE);
        }
        assert_eq!(
            Problem::from(sqlx::Error::RowNotFound).status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    async fn render(p: Problem) -> (StatusCode, axum::http::HeaderMap, Value) {
        let r = p.into_response();
        let (parts, body) = r.into_parts();
        let bytes = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        (
            parts.status,
            parts.headers,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    #[tokio::test]
    async fn internal_hides_the_cause() {
        let (status, headers, body) = render(Problem::internal(anyhow::anyhow!("password=hunter2 leaked"))).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(headers[header::CONTENT_TYPE], CONTENT_TYPE);
        assert!(!body.to_string().contains("hunter2"), "{body}");
        assert_eq!(body["status"], 500);
        assert_eq!(body["type"], "https://shopkeeper.dev/problems/internal");
    }

    #[tokio::test]
    async fn rate_limit_sets_retry_after() {
        let (status, headers, body) = render(Problem::too_many_requests(42)).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(headers[header::RETRY_AFTER], "42");
        assert_eq!(body["retry_after"], 42);
    }

    #[tokio::test]
    async fn validation_lists_fields() {
        let p = Problem::validation(vec![FieldError::new("/email", "not an email")]);
        let (status, _, body) = render(p).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["errors"][0]["pointer"], "/email");
        assert_eq!(body["detail"], "/email: not an email");
    }
}
