//! The routes of `shop-auth`, one router per resource, merged here.

pub mod client_ip;
pub mod profile;
pub mod revocations;
pub mod service;
pub mod session;
pub mod users;
pub mod views;

use axum::Router;
use axum::routing::get;

use crate::AppState;

/// Every route of the service.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(session::router())
        .merge(profile::router())
        .merge(service::router())
        .merge(revocations::router())
        .merge(users::router())
        .route("/openapi.json", get(crate::openapi::openapi_json))
}
