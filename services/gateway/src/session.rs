//! Browser sessions: tokens in cookies, the transparent refresh, and CSRF tokens.
//!
//! - `sk_access` and `sk_refresh` hold auth's access and refresh tokens: `HttpOnly`,
//!   `SameSite=Lax`, `Path=/`, `Secure` unless `COOKIE_SECURE=false`. Upstreams never see
//!   cookies: the gateway turns the access token into an `Authorization` header.
//! - An access cookie that no longer verifies (expired) is refreshed once with the refresh
//!   cookie: concurrent requests carrying the same refresh token share one call to auth (and
//!   a request arriving just after reuses its answer), because auth revokes a whole session
//!   when a spent refresh token is presented twice.
//! - CSRF: `sk_csrf` holds a random nonce; the token a form or script sends back
//!   (`_csrf` field or `X-CSRF-Token` header) is an HMAC-SHA256 of the nonce and the session
//!   id under `SESSION_SECRET`, so it is valid for one browser and one session only. The nonce
//!   changes at login and logout. Requests authenticated by a bearer token are exempt: a
//!   browser never adds one on its own.

use shop_kit::client::SendTraced as _;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cookie::{Cookie, SameSite};
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use shop_kit::Problem;
use shop_kit::auth::{Claims, Plan, TokenError};
use uuid::Uuid;

use crate::AppState;
use crate::config::{Config, Upstream};
use crate::metrics::GatewayMetrics;
use crate::upstream::Upstreams;

/// The access-token cookie.
pub const ACCESS_COOKIE: &str = "sk_access";
/// The refresh-token cookie.
pub const REFRESH_COOKIE: &str = "sk_refresh";
/// The CSRF nonce cookie.
pub const CSRF_COOKIE: &str = "sk_csrf";
/// The header scripts send the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long the refresh cookie lives (auth's default refresh-token lifetime).
pub const REFRESH_MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);
/// How long a refresh answer is reused by requests still carrying the old refresh token.
const REFRESH_REUSE: Duration = Duration::from_secs(30);

/// Tokens auth hands out at login and refresh.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
}

/// Why a refresh gave no tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshFailure {
    /// Auth refused the refresh token (spent, revoked, expired): the session is over.
    Rejected,
    /// Auth did not answer: keep the cookies, try again later.
    Unavailable,
}

type RefreshFuture = Shared<BoxFuture<'static, Result<Tokens, RefreshFailure>>>;

/// The gateway's session machinery.
pub struct Sessions {
    key: Vec<u8>,
    secure: bool,
    upstreams: Arc<Upstreams>,
    metrics: Arc<GatewayMetrics>,
    inflight: Mutex<HashMap<[u8; 32], RefreshFuture>>,
    recent: quick_cache::sync::Cache<[u8; 32], (Tokens, std::time::Instant)>,
}

/// Who a request speaks for, as the gateway resolved it.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    /// The access token to send upstream.
    pub token: Option<String>,
    /// Its verified claims.
    pub claims: Option<Claims>,
    /// Whether it came from the cookies (so CSRF applies) rather than `Authorization`.
    pub via_cookie: bool,
    /// The CSRF nonce cookie's value.
    pub nonce: Option<String>,
    /// Cookies to set on the answer (a refresh happened, or the session ended).
    pub set_cookies: Vec<HeaderValue>,
}

impl Resolved {
    /// The plan in effect: premium only while the token says so and its end has not passed.
    pub fn plan(&self) -> Plan {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        self.claims.as_ref().map_or(Plan::Free, |c| c.plan_at(now))
    }

    /// The session id, when a user is signed in.
    pub fn session_id(&self) -> Option<Uuid> {
        self.claims.as_ref().and_then(|c| c.sid)
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"'))
        .filter(|value| !value.is_empty())
}

/// Whether a method changes state (everything but GET, HEAD, OPTIONS, TRACE).
pub fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE)
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

impl Sessions {
    /// Sessions keyed by `SESSION_SECRET` (or a random key, with a warning, when unset).
    pub fn new(config: &Config, upstreams: Arc<Upstreams>, metrics: Arc<GatewayMetrics>) -> anyhow::Result<Self> {
        let key = match &config.session_secret {
            Some(secret) if secret.expose_secret().len() >= 16 => secret.expose_secret().as_bytes().to_vec(),
            Some(_) => anyhow::bail!("SESSION_SECRET must be at least 16 characters"),
            None => {
                tracing::warn!(
                    "SESSION_SECRET is not set: CSRF tokens are signed with a random key that other replicas do not share"
                );
                let mut key = vec![0; 32];
                rand::thread_rng().fill_bytes(&mut key);
                key
            }
        };
        Ok(Self {
            key,
            secure: config.cookie_secure,
            upstreams,
            metrics,
            inflight: Mutex::new(HashMap::new()),
            recent: quick_cache::sync::Cache::new(1024),
        })
    }

    /// The MAC over a nonce and a session.
    fn csrf_mac(&self, nonce: &str, session: Option<Uuid>) -> Hmac<Sha256> {
        // HMAC takes a key of any length, so this cannot fail.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!());
        mac.update(b"csrf\0");
        mac.update(nonce.as_bytes());
        mac.update(b"\0");
        mac.update(session.map(|s| s.to_string()).unwrap_or_default().as_bytes());
        mac
    }

    /// The CSRF token for a browser's nonce and its session (`None` before login).
    pub fn csrf_token(&self, nonce: &str, session: Option<Uuid>) -> String {
        URL_SAFE_NO_PAD.encode(self.csrf_mac(nonce, session).finalize().into_bytes())
    }

    /// Whether `token` is the CSRF token of `nonce` and `session` (constant-time).
    pub fn csrf_valid(&self, nonce: Option<&str>, session: Option<Uuid>, token: Option<&str>) -> bool {
        let (Some(nonce), Some(token)) = (nonce, token) else {
            return false;
        };
        let Ok(given) = URL_SAFE_NO_PAD.decode(token.trim()) else {
            return false;
        };
        self.csrf_mac(nonce, session).verify_slice(&given).is_ok()
    }

    /// The CSRF token for the browser `resolved` speaks for, and the nonce cookie to set when
    /// it had none yet (pages and `/api/v1/session` hand the token out).
    pub fn csrf_for(&self, resolved: &Resolved) -> (String, Option<HeaderValue>) {
        match &resolved.nonce {
            Some(nonce) => (self.csrf_token(nonce, resolved.session_id()), None),
            None => {
                let nonce = Self::new_nonce();
                (
                    self.csrf_token(&nonce, resolved.session_id()),
                    Some(self.nonce_cookie(&nonce)),
                )
            }
        }
    }

    /// A fresh random nonce.
    pub fn new_nonce() -> String {
        let mut bytes = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut bytes);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn cookie(&self, name: &'static str, value: String, max_age: Duration) -> HeaderValue {
        let cookie = Cookie::build((name, value))
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure)
            .path("/")
            .max_age(cookie::time::Duration::seconds(
                i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX),
            ))
            .build();
        HeaderValue::from_str(&cookie.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// `Set-Cookie` values that store a session's tokens.
    pub fn session_cookies(&self, tokens: &Tokens) -> Vec<HeaderValue> {
        vec![
            self.cookie(
                ACCESS_COOKIE,
                tokens.access_token.clone(),
                Duration::from_secs(tokens.expires_in),
            ),
            self.cookie(REFRESH_COOKIE, tokens.refresh_token.clone(), REFRESH_MAX_AGE),
        ]
    }

    /// `Set-Cookie` values that end a session.
    pub fn clear_cookies(&self) -> Vec<HeaderValue> {
        vec![
            self.cookie(ACCESS_COOKIE, String::new(), Duration::ZERO),
            self.cookie(REFRESH_COOKIE, String::new(), Duration::ZERO),
        ]
    }

    /// `Set-Cookie` for a CSRF nonce (lives as long as a session may).
    pub fn nonce_cookie(&self, nonce: &str) -> HeaderValue {
        self.cookie(CSRF_COOKIE, nonce.to_owned(), REFRESH_MAX_AGE)
    }

    /// Exchanges a refresh token for new tokens, once per refresh token however many requests
    /// ask at the same time.
    pub async fn refresh(self: &Arc<Self>, refresh_token: &str) -> Result<Tokens, RefreshFailure> {
        let key = digest(refresh_token);
        if let Some((tokens, at)) = self.recent.get(&key)
            && at.elapsed() < REFRESH_REUSE
        {
            self.metrics.refresh("shared");
            return Ok(tokens);
        }
        let future = {
            let mut inflight = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
            inflight
                .entry(key)
                .or_insert_with(|| {
                    let this = self.clone();
                    let token = refresh_token.to_owned();
                    async move {
                        let outcome = this.call_refresh(&token).await;
                        if let Ok(tokens) = &outcome {
                            this.recent.insert(key, (tokens.clone(), std::time::Instant::now()));
                        }
                        this.inflight.lock().unwrap_or_else(|e| e.into_inner()).remove(&key);
                        this.metrics.refresh(match outcome {
                            Ok(_) => "ok",
                            Err(RefreshFailure::Rejected) => "rejected",
                            Err(RefreshFailure::Unavailable) => "unavailable",
                        });
                        outcome
                    }
                    .boxed()
                    .shared()
                })
                .clone()
        };
        future.await
    }

    async fn call_refresh(&self, refresh_token: &str) -> Result<Tokens, RefreshFailure> {
        let answer = self
            .upstreams
            .call(Upstream::Auth, Method::POST, "/auth/refresh")
            .json(&serde_json::json!({ "refresh_token": refresh_token }))
            .send_traced()
            .await
            .map_err(|_| RefreshFailure::Unavailable)?;
        match answer.status().as_u16() {
            200 => answer.json().await.map_err(|_| RefreshFailure::Unavailable),
            400 | 401 | 403 => Err(RefreshFailure::Rejected),
            _ => Err(RefreshFailure::Unavailable),
        }
    }

    /// Revokes a refresh token at auth (best effort: the cookies go either way).
    pub async fn revoke(&self, refresh_token: &str) {
        let outcome = self
            .upstreams
            .call(Upstream::Auth, Method::POST, "/auth/logout")
            .json(&serde_json::json!({ "refresh_token": refresh_token }))
            .send_traced()
            .await;
        if let Err(err) = outcome {
            tracing::warn!(error = %err, "logout: auth unreachable; the refresh token expires on its own");
        }
    }
}

fn invalid_token(err: &TokenError) -> Problem {
    Problem::unauthorized(err.to_string()).header(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(r#"Bearer error="invalid_token""#),
    )
}

/// Works out who a request speaks for: a bearer token (verified; a bad one is a 401), or the
/// session cookies (refreshed once when the access token no longer verifies; a refused
/// refresh ends the session and the request goes on anonymously).
pub async fn resolve(state: &AppState, headers: &HeaderMap) -> Result<Resolved, Problem> {
    let nonce = cookie(headers, CSRF_COOKIE).map(str::to_owned);
    if headers.contains_key(header::AUTHORIZATION) {
        if !is_bearer(headers) {
            // Another scheme (HTTP Basic for the client-credentials grant) is auth's to judge:
            // it goes upstream untouched, and the request counts as anonymous here.
            return Ok(Resolved {
                nonce,
                ..Resolved::default()
            });
        }
        let token = bearer_from(headers).ok_or_else(|| Problem::unauthorized("a bearer token is required"))?;
        let claims = state.verifier.verify(token).await.map_err(|e| invalid_token(&e))?;
        return Ok(Resolved {
            token: Some(token.to_owned()),
            claims: Some(claims),
            via_cookie: false,
            nonce,
            set_cookies: Vec::new(),
        });
    }
    let mut resolved = Resolved {
        nonce,
        ..Resolved::default()
    };
    if let Some(access) = cookie(headers, ACCESS_COOKIE)
        && let Ok(claims) = state.verifier.verify(access).await
    {
        resolved.token = Some(access.to_owned());
        resolved.claims = Some(claims);
        resolved.via_cookie = true;
        return Ok(resolved);
    }
    let Some(refresh) = cookie(headers, REFRESH_COOKIE) else {
        if cookie(headers, ACCESS_COOKIE).is_some() {
            resolved.set_cookies = state.sessions.clear_cookies();
        }
        return Ok(resolved);
    };
    match state.sessions.refresh(refresh).await {
        Ok(tokens) => match state.verifier.verify(&tokens.access_token).await {
            Ok(claims) => {
                resolved.set_cookies = state.sessions.session_cookies(&tokens);
                resolved.token = Some(tokens.access_token);
                resolved.claims = Some(claims);
                resolved.via_cookie = true;
            }
            Err(err) => {
                tracing::warn!(error = %err, "auth issued an access token we cannot verify");
            }
        },
        Err(RefreshFailure::Rejected) => resolved.set_cookies = state.sessions.clear_cookies(),
        // Auth is down: the session stays, the request goes on anonymously.
        Err(RefreshFailure::Unavailable) => {}
    }
    Ok(resolved)
}

fn is_bearer(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(' ').next())
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("bearer"))
}

fn bearer_from(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

/// The CSRF refusal.
pub fn csrf_problem() -> Problem {
    Problem::forbidden("a valid CSRF token is required (the `X-CSRF-Token` header, or the `_csrf` form field)")
        .with("reason", "csrf")
}

/// Middleware for `/api/v1`: resolves the caller, demands the CSRF header on state-changing
/// requests a cookie authenticates, and adds the session's new cookies to the answer.
pub async fn api_middleware(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let resolved = match resolve(&state, req.headers()).await {
        Ok(resolved) => resolved,
        Err(problem) => return problem.into_response(),
    };
    if resolved.via_cookie && is_unsafe(req.method()) {
        let token = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        if !state
            .sessions
            .csrf_valid(resolved.nonce.as_deref(), resolved.session_id(), token)
        {
            state.metrics.csrf_rejected.inc();
            let mut answer = csrf_problem().into_response();
            append_cookies(&mut answer, &resolved.set_cookies);
            return answer;
        }
    }
    let cookies = resolved.set_cookies.clone();
    req.extensions_mut().insert(resolved);
    let mut answer = next.run(req).await;
    append_cookies(&mut answer, &cookies);
    answer
}

/// Middleware for pages and the session routes: resolves the caller (no CSRF demand; the form
/// handlers check their `_csrf` field) and adds the session's new cookies to the answer.
pub async fn page_middleware(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let resolved = resolve(&state, req.headers()).await.unwrap_or_default();
    let cookies = resolved.set_cookies.clone();
    req.extensions_mut().insert(resolved);
    let mut answer = next.run(req).await;
    append_cookies(&mut answer, &cookies);
    answer
}

/// Adds `Set-Cookie` headers to an answer.
pub fn append_cookies(answer: &mut Response, cookies: &[HeaderValue]) {
    for value in cookies {
        answer.headers_mut().append(header::SET_COOKIE, value.clone());
    }
}

/// The TCP peer of a request (absent when served without connect info, as in router tests).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub Option<SocketAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0)))
    }
}

/// The client's address: the peer, or behind `TRUSTED_PROXY_HOPS` proxies the address they
/// received the request from.
pub fn client_ip(state: &AppState, headers: &HeaderMap, peer: Peer) -> String {
    shop_kit::observe::client_ip(headers, peer.0, state.config.trusted_proxy_hops)
        .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(cookie_header: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(cookie_header).unwrap_or_else(|_| HeaderValue::from_static("")),
        );
        h
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let h = headers("sk_access_x=1; sk_access=abc.def; other=2");
        assert_eq!(cookie(&h, ACCESS_COOKIE), Some("abc.def"));
        assert_eq!(cookie(&h, REFRESH_COOKIE), None);
        assert_eq!(cookie(&headers("sk_refresh="), REFRESH_COOKIE), None, "empty is absent");
    }

    #[test]
    fn unsafe_methods() {
        assert!(!is_unsafe(&Method::GET));
        assert!(!is_unsafe(&Method::HEAD));
        assert!(is_unsafe(&Method::POST));
        assert!(is_unsafe(&Method::DELETE));
        assert!(is_unsafe(&Method::from_bytes(b"BREW").unwrap_or(Method::POST)));
    }
}
