//! The routes of `shop-order`, one router per audience, merged here.

pub mod admin;
pub mod orders;

use axum::Router;
use axum::routing::get;
use serde::Serialize;
use shop_kit::Problem;
use utoipa::ToSchema;

use crate::AppState;
use crate::store::Order;

/// Every route of the service.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(orders::router())
        .merge(admin::router())
        .route("/openapi.json", get(crate::openapi::openapi_json))
}

/// A page of orders, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPage {
    pub items: Vec<Order>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
}

/// Checks `page` (1–100 000, default 1) and `per_page` (1–100, default 20).
pub fn paging(page: Option<i64>, per_page: Option<i64>) -> Result<(i64, i64), Problem> {
    let page = page.unwrap_or(1);
    let per_page = per_page.unwrap_or(20);
    let mut errors = Vec::new();
    if !(1..=100_000).contains(&page) {
        errors.push(shop_kit::problem::FieldError::new("page", "must be from 1 to 100000"));
    }
    if !(1..=100).contains(&per_page) {
        errors.push(shop_kit::problem::FieldError::new("per_page", "must be from 1 to 100"));
    }
    if errors.is_empty() {
        Ok((page, per_page))
    } else {
        Err(Problem::validation(errors))
    }
}
