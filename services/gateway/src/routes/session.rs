//! `POST /login`, `POST /logout` and `GET /api/v1/session`: browser sessions in cookies.
//!
//! A form post (`application/x-www-form-urlencoded`) is answered with `303 See Other` (to the
//! local path in `next`, or back to `/login?error=…`); a JSON post with JSON or a problem.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use shop_kit::Problem;
use shop_kit::client::SendTraced as _;
use shop_kit::extract::JsonOrForm;
use uuid::Uuid;

use crate::AppState;
use crate::config::Upstream;
use crate::ratelimit::Policy;
use crate::session::{self, CSRF_COOKIE, CSRF_HEADER, Peer, REFRESH_COOKIE, Resolved, Sessions, Tokens};

/// The login form or JSON body.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(alias = "username")]
    pub email: String,
    pub password: String,
    /// Where to go after login: a local path only.
    pub next: Option<String>,
    /// The CSRF token (forms).
    #[serde(rename = "_csrf")]
    pub csrf: Option<String>,
}

/// The logout form.
#[derive(Debug, Default, Deserialize)]
pub struct LogoutForm {
    #[serde(rename = "_csrf")]
    pub csrf: Option<String>,
}

/// `next` when it is a path on this site (`/cart`, `/product/1?x=2`), else `/`: never another
/// origin (`//evil`, `/\evil`, `https://…`), never a control character.
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && path.len() <= 512
                && !path.chars().any(|c| c.is_control() || c == '\\') =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// Whether the body is an HTML form (answered with redirects) rather than JSON.
fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

fn see_other(location: &str) -> Response {
    let location = HeaderValue::from_str(location).unwrap_or_else(|_| HeaderValue::from_static("/"));
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

fn login_error(next: &str, error: &str) -> Response {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("error", error)
        .append_pair("next", next)
        .finish();
    see_other(&format!("/login?{query}"))
}

/// The CSRF token a form sent in `_csrf`, else the `X-CSRF-Token` header.
fn sent_csrf<'a>(field: Option<&'a str>, headers: &'a HeaderMap) -> Option<&'a str> {
    field.or_else(|| headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()))
}

/// The session id an access token carries (for the new CSRF token).
async fn session_of(state: &AppState, tokens: &Tokens) -> Option<Uuid> {
    state
        .verifier
        .verify(&tokens.access_token)
        .await
        .ok()
        .and_then(|c| c.sid)
}

/// `POST /login`: checks the CSRF token and the per-address budget, signs in at auth, and
/// keeps the tokens in cookies (a new CSRF nonce with them).
pub async fn login(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    JsonOrForm(input): JsonOrForm<LoginForm>,
) -> Response {
    let form = is_form(&headers);
    let next = local_path(input.next.as_deref());
    let csrf = sent_csrf(input.csrf.as_deref(), &headers);
    if !state
        .sessions
        .csrf_valid(session::cookie(&headers, CSRF_COOKIE), None, csrf)
    {
        state.metrics.csrf_rejected.inc();
        return if form {
            login_error(&next, "expired")
        } else {
            session::csrf_problem().into_response()
        };
    }
    let policy = Policy {
        name: "login",
        rate: state.config.limits.login,
    };
    let address = session::client_ip(&state, &headers, peer);
    let decision = state.limiter.check(policy, &format!("ip:{address}")).await;
    if !decision.allowed {
        return if form {
            login_error(&next, "throttled")
        } else {
            decision.refusal()
        };
    }
    let sent = state
        .upstreams
        .call(Upstream::Auth, Method::POST, "/auth/login")
        .headers(crate::routes::proxy::own_call_headers(
            &headers,
            &Resolved::default(),
            peer.0,
            state.config.public_url.starts_with("https:"),
        ))
        .json(&json!({"email": input.email, "password": input.password}))
        .send_traced()
        .await;
    let answer = match sent {
        Ok(answer) => answer,
        Err(err) => {
            tracing::warn!(error = %err, "login: auth unreachable");
            return if form {
                login_error(&next, "unavailable")
            } else {
                Problem::unavailable("signing in is unavailable right now; try again shortly")
                    .header(header::RETRY_AFTER, "5")
                    .into_response()
            };
        }
    };
    let status = answer.status();
    if !status.is_success() {
        let code = match status.as_u16() {
            400 | 401 | 403 | 422 => "credentials",
            429 => "throttled",
            _ => "unavailable",
        };
        if form {
            return login_error(&next, code);
        }
        let retry = answer.headers().get(header::RETRY_AFTER).cloned();
        let body = answer.bytes().await.unwrap_or_default();
        let mut response = (
            StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY),
            [(header::CONTENT_TYPE, shop_kit::problem::CONTENT_TYPE)],
            body,
        )
            .into_response();
        if let Some(retry) = retry {
            response.headers_mut().insert(header::RETRY_AFTER, retry);
        }
        return response;
    }
    let tokens: Tokens = match answer.json().await {
        Ok(tokens) => tokens,
        Err(err) => {
            tracing::error!(error = %err, "auth's login answer is not a token response");
            return Problem::new(StatusCode::BAD_GATEWAY, "upstream-error", "Upstream error")
                .detail("auth answered something unexpected")
                .into_response();
        }
    };
    let nonce = Sessions::new_nonce();
    let csrf_token = state.sessions.csrf_token(&nonce, session_of(&state, &tokens).await);
    let mut response = if form {
        see_other(&next)
    } else {
        axum::Json(json!({"authenticated": true, "csrf_token": csrf_token, "expires_in": tokens.expires_in}))
            .into_response()
    };
    let mut cookies = state.sessions.session_cookies(&tokens);
    cookies.push(state.sessions.nonce_cookie(&nonce));
    session::append_cookies(&mut response, &cookies);
    response
}

/// `POST /logout`: checks the CSRF token, revokes the refresh token at auth, and clears the
/// cookies (a new CSRF nonce with them).
pub async fn logout(
    State(state): State<AppState>,
    axum::Extension(resolved): axum::Extension<Resolved>,
    headers: HeaderMap,
    body: Result<JsonOrForm<LogoutForm>, Problem>,
) -> Response {
    // A logout without a body (and so without a content type) carries its token in the header.
    let untyped = !headers.contains_key(header::CONTENT_TYPE);
    let input = match body {
        Ok(JsonOrForm(input)) => input,
        Err(_) if untyped => LogoutForm::default(),
        Err(problem) => return problem.into_response(),
    };
    let form = is_form(&headers) || untyped;
    let csrf = sent_csrf(input.csrf.as_deref(), &headers);
    let signed_in = resolved.claims.is_some() || session::cookie(&headers, REFRESH_COOKIE).is_some();
    if signed_in
        && !state
            .sessions
            .csrf_valid(resolved.nonce.as_deref(), resolved.session_id(), csrf)
    {
        state.metrics.csrf_rejected.inc();
        return session::csrf_problem().into_response();
    }
    if let Some(refresh) = session::cookie(&headers, REFRESH_COOKIE) {
        state.sessions.revoke(refresh).await;
    }
    let mut response = if form {
        see_other("/")
    } else {
        StatusCode::NO_CONTENT.into_response()
    };
    let mut cookies = state.sessions.clear_cookies();
    cookies.push(state.sessions.nonce_cookie(&Sessions::new_nonce()));
    session::append_cookies(&mut response, &cookies);
    response
}

/// `GET /api/v1/session`: who the browser is signed in as, and the CSRF token its scripts
/// send in `X-CSRF-Token` (a nonce cookie is set when it has none).
pub async fn current(State(state): State<AppState>, axum::Extension(resolved): axum::Extension<Resolved>) -> Response {
    let (csrf_token, nonce_cookie) = state.sessions.csrf_for(&resolved);
    let user = resolved
        .claims
        .as_ref()
        .map(|c| json!({"id": c.sub, "email": c.email, "role": c.role, "plan": resolved.plan()}));
    let mut response = axum::Json(json!({
        "authenticated": user.is_some(),
        "user": user,
        "csrf_token": csrf_token,
    }))
    .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    session::append_cookies(&mut response, nonce_cookie.as_slice());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(local_path(Some("/cart")), "/cart");
        assert_eq!(local_path(Some("/product/1?x=2#top")), "/product/1?x=2#top");
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example/",
            "javascript:alert(1)",
            "",
            "cart",
            "/a\r\nSet-Cookie: x=1",
            "/a\\b",
        ] {
            assert_eq!(local_path(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(local_path(None), "/");
    }
}
