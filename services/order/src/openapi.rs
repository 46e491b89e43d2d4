//! The OpenAPI document, served at `/openapi.json`.

use axum::response::IntoResponse;
use shop_api::openapi::{BearerAuth, KIT_STATUSES};
use utoipa::OpenApi;

use crate::routes::{admin, orders};

/// The order API.
#[derive(OpenApi)]
#[openapi(
    info(title = "Shopkeeper orders", description = "Checkout, the user's orders, and the admin's view of all orders. Errors are application/problem+json (RFC 9457)."),
    paths(orders::checkout, orders::list, orders::show, orders::cancel, admin::list, admin::cancel, admin::stats),
    components(schemas(shop_api::Order, shop_api::OrderItem, shop_api::OrderStatus, shop_api::Stats, shop_api::TopProduct,
        shop_api::Day, shop_api::LowStock, shop_api::Page<shop_api::Order>)),
    modifiers(&BearerAuth, &KIT_STATUSES),
)]
pub struct ApiDoc;

/// `GET /openapi.json`.
pub async fn openapi_json() -> impl IntoResponse {
    axum::Json(ApiDoc::openapi())
}
