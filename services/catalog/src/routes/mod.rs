//! The routes of `shop-catalog`, one router per resource, merged here.

pub mod categories;
pub mod images;
pub mod internal;
pub mod params;
pub mod products;
pub mod templates;

use axum::Router;
use axum::routing::get;

use crate::AppState;

/// Every route of the service.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(products::router())
        .merge(categories::router())
        .merge(templates::router())
        .merge(internal::router())
        .merge(images::router())
        .route("/openapi.json", get(crate::openapi::openapi_json))
}

/// 409 for a unique violation of `constraint`, the problem of the error otherwise.
pub fn conflict_on(err: sqlx::Error, constraint: &str, slug: &str, detail: &str) -> shop_kit::Problem {
    if shop_kit::db::is_unique_violation(&err, constraint) {
        shop_kit::Problem::conflict(slug, detail)
    } else {
        err.into()
    }
}
