//! The signed-in user's own account: `GET/PATCH /auth/me`.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::{Deserialize, Deserializer};
use shop_kit::Problem;
use shop_kit::auth::AuthUser;
use shop_kit::extract::Json;
use shop_kit::problem::FieldError;
use utoipa::ToSchema;

use super::client_ip::ClientIp;
use super::views::UserView;
use crate::AppState;
use crate::domain::{Email, Password, profile};
use crate::store::{self, ProfileChange};
use crate::throttle;

/// The profile routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/auth/me", get(me).patch(update_me))
}

/// Distinguishes an absent field (keep) from `null` (clear).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// `PATCH /auth/me`: each field optional; `null` or `""` clears name, phone or address. A new
/// password needs the current one, and signs out every other session.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMe {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub address: Option<Option<String>>,
    pub current_password: Option<String>,
    pub new_password: Option<String>,
}

/// The caller's row. An access token outlives a deactivation or deletion by at most its
/// lifetime, so the account is checked here, where its data lives.
async fn current_user(state: &AppState, user: &AuthUser) -> Result<store::User, Problem> {
    match store::user_by_id(&state.db, user.id).await? {
        Some(u) if u.is_active => Ok(u),
        Some(_) => Err(Problem::forbidden("this account is deactivated")),
        None => Err(Problem::unauthorized("this account no longer exists")),
    }
}

/// The signed-in user: `GET /auth/me`.
#[utoipa::path(get, path = "/auth/me", tag = "profile", responses((status = 200, body = UserView), (status = 401)), security(("bearer" = [])))]
pub async fn me(State(state): State<AppState>, user: AuthUser) -> Result<axum::Json<UserView>, Problem> {
    let row = current_user(&state, &user).await?;
    Ok(axum::Json(UserView::from(&row)))
}

fn field(
    value: Option<Option<String>>,
    pointer: &str,
    parse: fn(&str) -> Result<String, &'static str>,
    errors: &mut Vec<FieldError>,
) -> Option<Option<String>> {
    match value {
        None => None,
        Some(None) => Some(None),
        Some(Some(s)) if s.trim().is_empty() => Some(None),
        Some(Some(s)) => match parse(&s) {
            Ok(v) => Some(Some(v)),
            Err(e) => {
                errors.push(FieldError::new(pointer, e));
                None
            }
        },
    }
}

/// Updates the signed-in user's profile or password: `PATCH /auth/me`.
#[utoipa::path(patch, path = "/auth/me", tag = "profile", request_body = UpdateMe,
    responses((status = 200, body = UserView), (status = 401), (status = 422, description = "invalid field or wrong current password")), security(("bearer" = [])))]
pub async fn update_me(
    State(state): State<AppState>,
    user: AuthUser,
    ClientIp(ip): ClientIp,
    Json(req): Json<UpdateMe>,
) -> Result<axum::Json<UserView>, Problem> {
    let row = current_user(&state, &user).await?;
    let mut errors = Vec::new();
    let mut change = ProfileChange {
        name: field(req.name, "/name", profile::name, &mut errors),
        phone: field(req.phone, "/phone", profile::phone, &mut errors),
        address: field(req.address, "/address", profile::address, &mut errors),
        password_hash: None,
    };
    let new_password = match (&req.new_password, &req.current_password) {
        (None, _) => None,
        (Some(_), None) => {
            errors.push(FieldError::new(
                "/current_password",
                "is required to change the password",
            ));
            None
        }
        (Some(new), Some(_)) => {
            let email = Email::parse(&row.email)
                .map_err(|e| Problem::internal(anyhow::anyhow!("stored email invalid: {e}")))?;
            Password::parse(new, &email)
                .map_err(|e| errors.push(FieldError::new("/new_password", e)))
                .ok()
        }
    };
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    if let (Some(new), Some(current)) = (&new_password, &req.current_password) {
        // Guessing the current password with a stolen access token is throttled like a login.
        let keys = throttle::Keys::new(&row.email, ip);
        let admitted = match throttle::attempt(&state.db, &state.config.throttle, keys).await? {
            Ok(admitted) => admitted,
            Err(refused) => return Err(Problem::too_many_requests(refused.retry_after_secs())),
        };
        let ok = state
            .hasher
            .verify(current, Some(&row.password_hash))
            .await
            .map_err(Problem::internal)?;
        if !ok {
            return Err(Problem::invalid("/current_password", "is not your current password"));
        }
        admitted.succeeded(&state.db).await?;
        change.password_hash = Some(state.hasher.hash(new.expose()).await.map_err(Problem::internal)?);
    }
    let updated = store::update_profile(&state.db, user.id, &change)
        .await?
        .ok_or_else(|| Problem::unauthorized("this account no longer exists"))?;
    if change.password_hash.is_some() {
        let revoked = store::revoke_user_sessions(&state.db, user.id, user.session_id).await?;
        tracing::info!(user_id = %user.id, revoked = revoked.len(), "password changed; other sessions revoked");
        state.verifier.revocations().insert(revoked);
    }
    Ok(axum::Json(UserView::from(&updated)))
}
