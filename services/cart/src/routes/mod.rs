//! The routes of `shop-cart`.

pub mod cart;
pub mod preferences;

use axum::Router;
use axum::routing::get;

use crate::AppState;

/// Every route of the service.
pub fn router() -> Router<AppState> {
    cart::router()
        .merge(preferences::router())
        .route("/openapi.json", get(cart::openapi_json))
}
