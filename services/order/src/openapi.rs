//! The OpenAPI document, served at `/openapi.json`.

use axum::response::IntoResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{OrderPage, admin, orders};
use crate::store;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .build(),
                ),
            );
        }
    }
}

/// The order API.
#[derive(OpenApi)]
#[openapi(
    info(title = "Shopkeeper orders", description = "Checkout, the user's orders, and the admin's view of all orders. Errors are application/problem+json (RFC 9457)."),
    paths(orders::checkout, orders::list, orders::show, orders::cancel, admin::list, admin::cancel, admin::stats),
    components(schemas(store::Order, store::Item, store::Stats, store::TopProduct, store::Day, OrderPage)),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

/// `GET /openapi.json`.
pub async fn openapi_json() -> impl IntoResponse {
    axum::Json(ApiDoc::openapi())
}
