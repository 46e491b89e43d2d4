//! The signed-in user's preferences: `GET /me/preferences`, `GET`, `PUT` and `DELETE
//! /me/preferences/{key}`. The user comes from the verified token only; there is no user id in
//! the path, so nobody can name another user's preferences.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use shop_api::{Preference, Preferences};
use shop_kit::Problem;
use shop_kit::auth::AuthUser;
use shop_kit::extract::{Json, Path};

use crate::AppState;
use crate::preferences::{PrefKey, PrefValue, Stored};

/// The preference routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/me/preferences", get(list))
        .route("/me/preferences/{key}", get(show).put(put).delete(delete))
}

/// Every preference of the signed-in user, with the limits: `GET /me/preferences`.
#[utoipa::path(get, path = "/me/preferences", tag = "preferences",
    responses((status = 200, body = Preferences), (status = 401), (status = 403, description = "a service token"), (status = 503)),
    security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>, user: AuthUser) -> Result<axum::Json<Preferences>, Problem> {
    let limits = state.prefs.limits();
    Ok(axum::Json(Preferences {
        items: state.prefs.all(user.id).await?,
        max_keys: limits.max_keys,
        max_value_bytes: limits.max_value_bytes,
    }))
}

/// One preference: `GET /me/preferences/{key}`.
#[utoipa::path(get, path = "/me/preferences/{key}", tag = "preferences",
    params(("key" = String, Path, description = "1–64 of `A-Z a-z 0-9 _ - .`, starting with a letter or digit")),
    responses((status = 200, body = Preference), (status = 401), (status = 404), (status = 422, description = "invalid key"), (status = 503)),
    security(("bearer" = [])))]
pub async fn show(
    State(state): State<AppState>,
    user: AuthUser,
    Path(key): Path<String>,
) -> Result<axum::Json<Preference>, Problem> {
    let key = PrefKey::parse(key)?;
    let value = state
        .prefs
        .get(user.id, &key)
        .await?
        .ok_or_else(|| Problem::not_found("no such preference"))?;
    Ok(axum::Json(Preference {
        key: key.as_str().to_owned(),
        value,
    }))
}

/// Sets a preference to the JSON value in the body (`application/json`): `PUT
/// /me/preferences/{key}`. 201 when the key is new, 200 when it replaced a value.
#[utoipa::path(put, path = "/me/preferences/{key}", tag = "preferences",
    params(("key" = String, Path, description = "1–64 of `A-Z a-z 0-9 _ - .`, starting with a letter or digit")),
    request_body(content = serde_json::Value, content_type = "application/json", description = "any JSON value, at most `PREFS_MAX_VALUE_BYTES` as compact JSON"),
    responses((status = 201, body = Preference), (status = 200, body = Preference), (status = 400, description = "not JSON"),
        (status = 401), (status = 409, description = "already at `PREFS_MAX_KEYS` keys"), (status = 413, description = "value too large"),
        (status = 415, description = "not application/json"), (status = 422, description = "invalid key"), (status = 503)),
    security(("bearer" = [])))]
pub async fn put(
    State(state): State<AppState>,
    user: AuthUser,
    Path(key): Path<String>,
    Json(value): Json<serde_json::Value>,
) -> Result<Response, Problem> {
    let key = PrefKey::parse(key)?;
    let limits = state.prefs.limits();
    let stored = PrefValue::new(&value, limits.max_value_bytes)?;
    let status = match state.prefs.set(user.id, &key, &stored).await? {
        Stored::Added => StatusCode::CREATED,
        Stored::Replaced => StatusCode::OK,
        Stored::Full => {
            return Err(Problem::conflict(
                "preferences-full",
                format!("a user keeps at most {} preferences; delete one first", limits.max_keys),
            )
            .with("max_keys", limits.max_keys));
        }
    };
    let location = format!("/me/preferences/{}", key.as_str());
    let body = Preference {
        key: key.as_str().to_owned(),
        value,
    };
    Ok((status, [(header::LOCATION, location)], axum::Json(body)).into_response())
}

/// Removes a preference: `DELETE /me/preferences/{key}`. 204 whether or not it existed, so a
/// retry is harmless.
#[utoipa::path(delete, path = "/me/preferences/{key}", tag = "preferences",
    params(("key" = String, Path, description = "1–64 of `A-Z a-z 0-9 _ - .`, starting with a letter or digit")),
    responses((status = 204), (status = 401), (status = 422, description = "invalid key"), (status = 503)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    user: AuthUser,
    Path(key): Path<String>,
) -> Result<StatusCode, Problem> {
    let key = PrefKey::parse(key)?;
    state.prefs.delete(user.id, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}
