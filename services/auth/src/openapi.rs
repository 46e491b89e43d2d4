//! The OpenAPI document, served at `/openapi.json`.

use axum::response::IntoResponse;
use shop_api::openapi::{BearerAuth, ProblemResponses};
use utoipa::OpenApi;

use crate::routes::{profile, revocations, service, session, users, views};

/// The auth API.
#[derive(OpenApi)]
#[openapi(
    info(title = "Shopkeeper auth", description = "Users, sessions, tokens and subscriptions. Errors are application/problem+json (RFC 9457)."),
    paths(
        session::register, session::login, session::refresh, session::logout,
        profile::me, profile::update_me,
        service::token, service::jwks, revocations::revoked_sessions,
        users::list, users::show, users::update,
    ),
    components(schemas(views::UserView, views::SubscriptionView, views::TokenResponse, views::UserPage,
        session::RegisterRequest, session::LoginRequest, session::RefreshRequest, profile::UpdateMe,
        service::TokenRequest, users::AdminUpdate, shop_kit::revocation::RevokedSessions)),
    modifiers(&BearerAuth, &KIT_STATUSES),
)]
pub struct ApiDoc;

/// Every route reads or writes the database but the JWKS, served from memory.
const KIT_STATUSES: ProblemResponses = ProblemResponses {
    self_contained: &["jwks"],
};

/// `GET /openapi.json`.
pub async fn openapi_json() -> impl IntoResponse {
    axum::Json(ApiDoc::openapi())
}
