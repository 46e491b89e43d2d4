//! Sessions: register, login, refresh, logout.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::Utc;
use serde::Deserialize;
use shop_kit::Problem;
use shop_kit::extract::{Json, JsonOrForm};
use shop_kit::problem::FieldError;
use utoipa::ToSchema;
use uuid::Uuid;

use super::client_ip::ClientIp;
use super::views::{TokenResponse, UserView};
use crate::AppState;
use crate::domain::{Email, Password, profile};
use crate::metrics::AuthMetrics;
use crate::store::{self, User};
use crate::throttle;
use crate::tokens::{self, hash_refresh_token, looks_like_refresh_token};

/// The session routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/register", post(register))
        .route("/auth/login", post(login))
        .route("/auth/refresh", post(refresh))
        .route("/auth/logout", post(logout))
}

/// The longest password we will even hash on login (the policy allows 128 characters).
const MAX_LOGIN_PASSWORD_BYTES: usize = 1024;

/// `POST /auth/register`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub email: String,
    pub password: String,
    pub name: Option<String>,
}

/// `POST /auth/login` (JSON `{email, password}` or the OAuth2 password form `username`, `password`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    #[serde(alias = "username")]
    pub email: String,
    pub password: String,
    /// Form logins may send `grant_type=password`.
    pub grant_type: Option<String>,
}

/// `POST /auth/refresh` and `POST /auth/logout`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
    /// Form requests may send `grant_type=refresh_token`.
    pub grant_type: Option<String>,
}

/// Registers a customer account: `POST /auth/register`.
#[utoipa::path(post, path = "/auth/register", tag = "session", request_body = RegisterRequest,
    responses((status = 201, body = UserView), (status = 409, description = "email already registered"), (status = 422, description = "invalid email, weak password")))]
pub async fn register(State(state): State<AppState>, Json(req): Json<RegisterRequest>) -> Result<Response, Problem> {
    let mut errors = Vec::new();
    let email = Email::parse(&req.email)
        .map_err(|e| errors.push(FieldError::new("/email", e)))
        .ok();
    let password = email.as_ref().and_then(|email| {
        Password::parse(&req.password, email)
            .map_err(|e| errors.push(FieldError::new("/password", e)))
            .ok()
    });
    let name = match req.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => profile::name(n)
            .map_err(|e| errors.push(FieldError::new("/name", e)))
            .ok(),
        None => None,
    };
    let (Some(email), Some(password), true) = (email, password, errors.is_empty()) else {
        return Err(Problem::validation(errors));
    };
    let hash = state.hasher.hash(password.expose()).await.map_err(Problem::internal)?;
    let user = store::insert_user(
        &state.db,
        email.as_str(),
        &hash,
        name.as_deref(),
        shop_kit::auth::Role::Customer,
    )
    .await
    .map_err(|e| {
        if shop_kit::db::is_unique_violation(&e, store::EMAIL_UNIQUE) {
            Problem::conflict("email-taken", "an account with this email already exists")
        } else {
            e.into()
        }
    })?;
    state.metrics.registrations.inc();
    tracing::info!(user_id = %user.id, "account registered");
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, HeaderValue::from_static("/auth/me"))],
        axum::Json(UserView::from(&user)),
    )
        .into_response())
}

fn no_store(body: TokenResponse) -> Response {
    (
        [(header::CACHE_CONTROL, "no-store"), (header::PRAGMA, "no-cache")],
        axum::Json(body),
    )
        .into_response()
}

fn bad_credentials() -> Problem {
    Problem::unauthorized("invalid email or password").with("error", "invalid_grant")
}

fn deactivated() -> Problem {
    Problem::forbidden("this account is deactivated").with("error", "invalid_grant")
}

/// Starts a session: a new refresh-token family and the first access token.
async fn start_session(state: &AppState, user: &User) -> Result<TokenResponse, Problem> {
    let family = Uuid::now_v7();
    let (refresh, hash) = tokens::new_refresh_token();
    let expires = Utc::now() + state.config.refresh_ttl;
    let mut tx = state.db.begin().await?;
    store::insert_refresh(&mut tx, family, user.id, &hash, expires).await?;
    tx.commit().await?;
    let access = state
        .issuer
        .access_token(user.id, &user.email, user.role(), user.plan_claim(Utc::now()), family)
        .map_err(Problem::internal)?;
    Ok(TokenResponse::new(access, Some(refresh)))
}

/// Logs in with email and password: `POST /auth/login`.
#[utoipa::path(post, path = "/auth/login", tag = "session", request_body(content = LoginRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = TokenResponse), (status = 401, description = "bad credentials"), (status = 403, description = "deactivated"), (status = 429, description = "throttled; see Retry-After")))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    JsonOrForm(req): JsonOrForm<LoginRequest>,
) -> Result<Response, Problem> {
    if req.grant_type.as_deref().is_some_and(|g| g != "password") {
        return Err(Problem::bad_request("grant_type must be `password` here").with("error", "unsupported_grant_type"));
    }
    let email = Email::parse(&req.email).map_err(|e| Problem::invalid("/email", e))?;
    if req.password.is_empty() || req.password.len() > MAX_LOGIN_PASSWORD_BYTES {
        return Err(Problem::invalid("/password", "must be 1 to 1024 bytes"));
    }
    let keys = throttle::Keys::new(email.as_str(), ip);
    let admitted = match throttle::attempt(&state.db, &state.config.throttle, keys).await? {
        Ok(admitted) => admitted,
        Err(refused) => {
            AuthMetrics::count(&state.metrics.logins, "throttled");
            tracing::warn!(%ip, scope = refused.scope.as_str(), "login throttled");
            return Err(Problem::too_many_requests(refused.retry_after_secs()));
        }
    };
    let user = store::user_by_email(&state.db, email.as_str()).await?;
    let ok = state
        .hasher
        .verify(&req.password, user.as_ref().map(|u| u.password_hash.as_str()))
        .await
        .map_err(Problem::internal)?;
    let Some(user) = user.filter(|_| ok) else {
        AuthMetrics::count(&state.metrics.logins, "bad_credentials");
        return Err(bad_credentials());
    };
    if !user.is_active {
        AuthMetrics::count(&state.metrics.logins, "inactive");
        return Err(deactivated());
    }
    admitted.succeeded(&state.db).await?;
    let body = start_session(&state, &user).await?;
    AuthMetrics::count(&state.metrics.logins, "success");
    tracing::info!(user_id = %user.id, "logged in");
    Ok(no_store(body))
}

fn invalid_refresh(detail: &str) -> Problem {
    Problem::unauthorized(detail.to_owned()).with("error", "invalid_grant")
}

/// Exchanges a refresh token for a new pair, rotating it: `POST /auth/refresh`. Presenting a
/// token that was already used revokes its whole family (someone else holds a copy).
#[utoipa::path(post, path = "/auth/refresh", tag = "session", request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse), (status = 401, description = "invalid, expired, revoked or reused token")))]
pub async fn refresh(
    State(state): State<AppState>,
    JsonOrForm(req): JsonOrForm<RefreshRequest>,
) -> Result<Response, Problem> {
    if req.grant_type.as_deref().is_some_and(|g| g != "refresh_token") {
        return Err(
            Problem::bad_request("grant_type must be `refresh_token` here").with("error", "unsupported_grant_type")
        );
    }
    if !looks_like_refresh_token(&req.refresh_token) {
        AuthMetrics::count(&state.metrics.refreshes, "invalid");
        return Err(invalid_refresh("invalid refresh token"));
    }
    let hash = hash_refresh_token(&req.refresh_token);
    let mut tx = state.db.begin().await?;
    let Some(row) = store::lock_refresh(&mut tx, &hash).await? else {
        AuthMetrics::count(&state.metrics.refreshes, "invalid");
        return Err(invalid_refresh("invalid refresh token"));
    };
    if row.revoked_at.is_some() {
        AuthMetrics::count(&state.metrics.refreshes, "invalid");
        return Err(invalid_refresh("this session has been revoked"));
    }
    if row.used_at.is_some() {
        let revoked = store::revoke_family(&mut *tx, row.family_id).await?;
        tx.commit().await?;
        state.verifier.revocations().insert([row.family_id]);
        AuthMetrics::count(&state.metrics.refreshes, "reuse_detected");
        tracing::warn!(user_id = %row.user_id, family = %row.family_id, revoked, "refresh token reuse detected; family revoked");
        return Err(invalid_refresh(
            "refresh token reuse detected; the session has been revoked",
        ));
    }
    if row.expires_at <= Utc::now() {
        AuthMetrics::count(&state.metrics.refreshes, "invalid");
        return Err(invalid_refresh("refresh token expired"));
    }
    let user = store::user_by_id(&state.db, row.user_id).await?.filter(|u| u.is_active);
    let Some(user) = user else {
        AuthMetrics::count(&state.metrics.refreshes, "inactive");
        store::revoke_family(&mut *tx, row.family_id).await?;
        tx.commit().await?;
        state.verifier.revocations().insert([row.family_id]);
        return Err(deactivated());
    };
    let (refresh, new_hash) = tokens::new_refresh_token();
    store::mark_used(&mut tx, row.id).await?;
    store::insert_refresh(
        &mut tx,
        row.family_id,
        user.id,
        &new_hash,
        Utc::now() + state.config.refresh_ttl,
    )
    .await?;
    tx.commit().await?;
    let access = state
        .issuer
        .access_token(
            user.id,
            &user.email,
            user.role(),
            user.plan_claim(Utc::now()),
            row.family_id,
        )
        .map_err(Problem::internal)?;
    AuthMetrics::count(&state.metrics.refreshes, "rotated");
    Ok(no_store(TokenResponse::new(access, Some(refresh))))
}

/// Ends the session the refresh token belongs to: `POST /auth/logout`. Always 204, so it
/// reveals nothing about the token.
#[utoipa::path(post, path = "/auth/logout", tag = "session", request_body = RefreshRequest, responses((status = 204)))]
pub async fn logout(
    State(state): State<AppState>,
    JsonOrForm(req): JsonOrForm<RefreshRequest>,
) -> Result<StatusCode, Problem> {
    if looks_like_refresh_token(&req.refresh_token)
        && let Some((family, user_id)) = store::family_of(&state.db, &hash_refresh_token(&req.refresh_token)).await?
    {
        store::revoke_family(&state.db, family).await?;
        state.verifier.revocations().insert([family]);
        tracing::info!(%user_id, "logged out");
    }
    Ok(StatusCode::NO_CONTENT)
}
