//! The pages this service renders so far: a placeholder home, the login form and a page for
//! addresses that do not exist (the shop's pages come with the web UI), and their stylesheet.
//! Templates are checked at compile time (askama).

use std::sync::LazyLock;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use shop_kit::Problem;

use crate::AppState;
use crate::routes::session::local_path;
use crate::session::Resolved;

/// The stylesheet, in the binary.
const CSS: &str = include_str!("../../static/shop.css");

/// Its address, named by a hash of its content so it can be cached for good:
/// `/static/shop.<10 hex digits>.css`.
static STYLESHEET: LazyLock<String> = LazyLock::new(|| {
    use sha2::Digest;
    let hash: String = sha2::Sha256::digest(CSS.as_bytes())[..5]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("/static/shop.{hash}.css")
});

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    stylesheet: &'static str,
    email: Option<String>,
    csrf: String,
}

#[derive(Template)]
#[template(path = "login.html")]
struct Login {
    stylesheet: &'static str,
    email: Option<String>,
    csrf: String,
    next: String,
    message: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFound {
    stylesheet: &'static str,
    email: Option<String>,
    csrf: String,
}

/// `?next=…&error=…` of the login page.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    error: Option<String>,
}

fn page(html: Result<String, askama::Error>, cookie: Option<HeaderValue>) -> Response {
    let mut answer = match html {
        Ok(html) => Html(html).into_response(),
        Err(err) => return Problem::internal(anyhow::anyhow!("template: {err}")).into_response(),
    };
    answer
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(cookie) = cookie {
        answer.headers_mut().append(header::SET_COOKIE, cookie);
    }
    answer
}

/// `GET /`.
pub async fn home(State(state): State<AppState>, axum::Extension(resolved): axum::Extension<Resolved>) -> Response {
    let (csrf, cookie) = state.sessions.csrf_for(&resolved);
    let email = resolved.claims.as_ref().and_then(|c| c.email.clone());
    page(
        Home {
            stylesheet: &STYLESHEET,
            email,
            csrf,
        }
        .render(),
        cookie,
    )
}

/// `GET /login`.
pub async fn login(
    State(state): State<AppState>,
    axum::Extension(resolved): axum::Extension<Resolved>,
    query: Result<Query<LoginQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let (csrf, cookie) = state.sessions.csrf_for(&resolved);
    let (next, error) = query.map_or((None, None), |Query(q)| (q.next, q.error));
    let message = error.as_deref().map(|code| match code {
        "credentials" => "Wrong email or password.",
        "throttled" => "Too many attempts; wait a minute and try again.",
        "expired" => "The form expired; please try again.",
        _ => "Signing in is unavailable right now; try again shortly.",
    });
    let email = resolved.claims.as_ref().and_then(|c| c.email.clone());
    page(
        Login {
            stylesheet: &STYLESHEET,
            email,
            csrf,
            next: local_path(next.as_deref()),
            message,
        }
        .render(),
        cookie,
    )
}

/// `GET /static/{file}`: the stylesheet under its current name (immutable); anything else 404.
pub async fn stylesheet(Path(file): Path<String>) -> Response {
    if STYLESHEET.strip_prefix("/static/") != Some(file.as_str()) {
        return Problem::not_found(format!("no file /static/{file}")).into_response();
    }
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        CSS,
    )
        .into_response()
}

/// Any address no route takes: a page for a browser (it asks for `text/html`), a problem
/// document for everyone else.
pub async fn not_found(
    State(state): State<AppState>,
    axum::Extension(resolved): axum::Extension<Resolved>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if !wants_html {
        return Problem::not_found(format!("no route for {}", uri.path())).into_response();
    }
    let (csrf, cookie) = state.sessions.csrf_for(&resolved);
    let email = resolved.claims.as_ref().and_then(|c| c.email.clone());
    let mut answer = page(
        NotFound {
            stylesheet: &STYLESHEET,
            email,
            csrf,
        }
        .render(),
        cookie,
    );
    *answer.status_mut() = StatusCode::NOT_FOUND;
    answer
}
