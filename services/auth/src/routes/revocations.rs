//! `GET /internal/revoked-sessions`: the sessions ended recently enough that an access token
//! issued for them may still be unexpired. Every service polls it each second and refuses
//! those sessions' tokens (`shop_kit::revocation`).
//!
//! It needs no token: it lists random ids of sessions that are over, which open nothing, and
//! the catalog, which holds no client credentials, polls it too. The gateway never forwards
//! `/internal/` routes, and in a cluster the NetworkPolicy admits only the shop's services.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use shop_kit::Problem;
use shop_kit::auth::LEEWAY_SECS;
use shop_kit::revocation::{PATH, RevokedSessions};

use crate::AppState;
use crate::store;

/// The route.
pub fn router() -> Router<AppState> {
    Router::new().route(PATH, get(revoked_sessions))
}

/// How far back the list reaches: an access token lives at most `ACCESS_TOKEN_TTL_SECS`, and
/// verifiers accept it [`LEEWAY_SECS`] longer.
pub fn window(state: &AppState) -> std::time::Duration {
    state.config.access_ttl + std::time::Duration::from_secs(LEEWAY_SECS)
}

/// The sessions ended within the last access-token lifetime.
#[utoipa::path(get, path = "/internal/revoked-sessions", tag = "service",
    responses((status = 200, body = RevokedSessions), (status = 503, description = "the database is unreachable")))]
pub async fn revoked_sessions(State(state): State<AppState>) -> Result<axum::Json<RevokedSessions>, Problem> {
    let window = window(&state);
    Ok(axum::Json(RevokedSessions {
        window_secs: window.as_secs(),
        sessions: store::revoked_sessions(&state.db, window).await?,
    }))
}
