//! The pages this service renders so far: a placeholder home and the login form (the shop's
//! pages come with the web UI). Templates are checked at compile time (askama).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use shop_kit::Problem;

use crate::AppState;
use crate::routes::session::local_path;
use crate::session::Resolved;

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    email: Option<String>,
    csrf: String,
}

#[derive(Template)]
#[template(path = "login.html")]
struct Login {
    email: Option<String>,
    csrf: String,
    next: String,
    message: Option<&'static str>,
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
    page(Home { email, csrf }.render(), cookie)
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
            email,
            csrf,
            next: local_path(next.as_deref()),
            message,
        }
        .render(),
        cookie,
    )
}
