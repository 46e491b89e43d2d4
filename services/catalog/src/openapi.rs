//! The OpenAPI document, served at `/openapi.json`.

use axum::response::IntoResponse;
use shop_api::openapi::{BearerAuth, KIT_STATUSES};
use utoipa::OpenApi;

use crate::routes::{categories, internal, products, templates};

/// The catalog API.
#[derive(OpenApi)]
#[openapi(
    info(title = "Shopkeeper catalog", description = "Products, categories, attribute templates, search and stock reservations. Errors are application/problem+json (RFC 9457)."),
    paths(
        products::list, products::search, products::show, products::by_sku, products::batch,
        products::create, products::update, products::deactivate, products::replace_images, products::adjust_stock,
        categories::list, categories::show, categories::create, categories::update, categories::delete,
        templates::list, templates::show, templates::create, templates::update, templates::delete,
        internal::batch, internal::low_stock, internal::reserve, internal::confirm, internal::release, internal::status,
    ),
    components(schemas(shop_api::Product, shop_api::Category, shop_api::Template,
        shop_api::Reservation, shop_api::ReservationItem, shop_api::ReservationStatus, shop_api::Shortfall, shop_api::ShortfallReason,
        shop_api::Page<shop_api::Product>, shop_api::SearchResults, shop_api::BatchRequest, shop_api::BatchResponse,
        shop_api::CreateProduct, shop_api::UpdateProduct, shop_api::Images, shop_api::StockAdjustment, shop_api::StockLevel,
        shop_api::CreateCategory, shop_api::UpdateCategory, shop_api::CreateTemplate, shop_api::UpdateTemplate,
        shop_api::ReserveRequest, shop_api::ReserveItem, shop_api::ConfirmRequest, shop_api::ConfirmResponse)),
    modifiers(&BearerAuth, &KIT_STATUSES),
)]
pub struct ApiDoc;

/// `GET /openapi.json`.
pub async fn openapi_json() -> impl IntoResponse {
    axum::Json(ApiDoc::openapi())
}
