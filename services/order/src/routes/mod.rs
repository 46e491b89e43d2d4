//! The routes of `shop-order`, one router per audience, merged here.

pub mod admin;
pub mod orders;

use axum::Router;
use axum::routing::get;
use shop_api::{PageParams, Paging};
use shop_kit::Problem;

use crate::AppState;

/// Every route of the service.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(orders::router())
        .merge(admin::router())
        .route("/openapi.json", get(crate::openapi::openapi_json))
}

/// Checks `page` (1–100 000, default 1) and `per_page` (1–100, default 20).
pub fn paging(params: PageParams) -> Result<Paging, Problem> {
    params.check().map_err(|errors| {
        Problem::validation(
            errors
                .into_iter()
                .map(|(field, message)| shop_kit::problem::FieldError::new(field, message))
                .collect(),
        )
    })
}
