//! What the catalog serves: products, batch lookups, search results, low stock, and the
//! stock reservations the order service makes.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A product as the catalog shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Product {
    pub id: Uuid,
    pub sku: String,
    pub name: String,
    pub description: String,
    /// Decimal string with two places, e.g. `"1234.50"`.
    #[schema(value_type = String, example = "1234.50")]
    pub price: Decimal,
    /// Units in stock, 0 to 1 000 000 000 (the catalog's `int` column and its bounds).
    pub stock: i32,
    pub is_active: bool,
    #[schema(value_type = Object)]
    pub attributes: serde_json::Value,
    pub template_id: Option<Uuid>,
    pub images: Vec<String>,
    /// Category slugs, sorted.
    pub categories: Vec<String>,
    /// Incremented by every edit of the product's fields (optimistic concurrency for edit
    /// forms); stock movements do not change it.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /products/batch` and `POST /internal/products/batch`: up to 100 ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    pub ids: Vec<Uuid>,
}

/// Products by id, for pricing a cart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BatchResponse {
    /// Found products, active or not (check `is_active` and `stock`).
    pub items: Vec<Product>,
    /// Ids that are not products.
    pub missing: Vec<Uuid>,
}

/// The answer of `GET /search`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SearchResults {
    /// The request id (`x-request-id`), to correlate with logs.
    pub request_id: String,
    /// Best match first.
    pub results: Vec<Product>,
    /// How many match; a lower bound when `total_exact` is false (see [`crate::page::COUNT_BOUND`]).
    pub total: i64,
    /// Present, and `false`, only when `total` is a lower bound.
    #[serde(default = "crate::page::exact", skip_serializing_if = "crate::page::is_exact")]
    #[schema(default = true)]
    pub total_exact: bool,
}

/// A product running out (the order service's admin stats show these).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LowStock {
    pub id: Uuid,
    pub sku: String,
    pub name: String,
    pub stock: i32,
}

impl From<Product> for LowStock {
    fn from(p: Product) -> Self {
        Self {
            id: p.id,
            sku: p.sku,
            name: p.name,
            stock: p.stock,
        }
    }
}

/// One requested line of `POST /internal/reservations`. The quantity is wide so that an
/// out-of-range one reaches the catalog's check (422 naming the line) instead of failing to
/// parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReserveItem {
    pub product_id: Uuid,
    pub qty: i64,
}

/// `POST /internal/reservations`: reserve all of `items` for `order_id`, or nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReserveRequest {
    pub order_id: Uuid,
    pub items: Vec<ReserveItem>,
}

/// Whether a reservation still holds its stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReservationStatus {
    /// The stock is taken.
    Reserved,
    /// The stock went back (exactly once).
    Released,
}

crate::text_enum!(ReservationStatus, "reservation status", {
    Reserved => "reserved",
    Released => "released",
});

/// One line of a reservation, merged by product and sorted by product id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
pub struct ReservationItem {
    pub product_id: Uuid,
    pub qty: i32,
}

/// A reservation, as `POST /internal/reservations`, `GET /internal/reservations/{order_id}`
/// and `POST /internal/reservations/{order_id}/release` answer it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Reservation {
    pub order_id: Uuid,
    pub status: ReservationStatus,
    pub items: Vec<ReservationItem>,
    /// The client id of the service that reserved.
    pub reserved_by: String,
    pub created_at: DateTime<Utc>,
    /// When the stock went back; set exactly when `status` is `released`.
    pub released_at: Option<DateTime<Utc>>,
    /// When its order confirmed it (`POST /internal/reservations/confirm`). A reservation still
    /// unconfirmed `RESERVATION_TTL` after `created_at` expires: its stock goes back.
    #[serde(default)]
    pub confirmed_at: Option<DateTime<Utc>>,
}

/// `POST /internal/reservations/confirm`: the orders whose reservations are to be kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    /// From 1 to 1000 order ids.
    pub order_ids: Vec<Uuid>,
}

/// What `POST /internal/reservations/confirm` did with each order id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConfirmResponse {
    /// Their stock is held until the order releases it (confirmed now or before).
    pub confirmed: Vec<Uuid>,
    /// Their stock went back before the confirmation came (expired, or released): the order
    /// holds nothing.
    pub released: Vec<Uuid>,
    /// The catalog has no reservation for them.
    pub unknown: Vec<Uuid>,
}

/// Why a line cannot be reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShortfallReason {
    InsufficientStock,
    Inactive,
    UnknownProduct,
}

crate::text_enum!(ShortfallReason, "shortfall reason", {
    InsufficientStock => "insufficient_stock",
    Inactive => "inactive",
    UnknownProduct => "unknown_product",
});

/// A line that cannot be reserved: the `shortfalls` of a 409 `insufficient-stock` problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Shortfall {
    pub product_id: Uuid,
    pub requested: i32,
    /// What is in stock (0 for unknown or inactive products).
    pub available: i32,
    pub reason: ShortfallReason,
}

/// A category: `GET /categories`, `GET /categories/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Category {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
    /// Active products in it.
    pub product_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An attribute template: a name and the JSON Schema product attributes must satisfy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Template {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    /// The JSON Schema product attributes must satisfy.
    #[schema(value_type = Object)]
    pub schema: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn yes() -> bool {
    true
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

/// `POST /products` (admin).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProduct {
    pub sku: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// A decimal string (`"19.90"`) or number.
    #[schema(value_type = String)]
    pub price: Decimal,
    /// Wide, so that an out-of-range stock reaches the catalog's check (422 naming `/stock`).
    #[serde(default)]
    pub stock: i64,
    #[serde(default = "yes")]
    pub is_active: bool,
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub attributes: serde_json::Value,
    pub template_id: Option<Uuid>,
    #[serde(default)]
    pub images: Vec<String>,
    /// Category slugs.
    #[serde(default)]
    pub categories: Vec<String>,
}

/// `PATCH /products/{id}` (admin): any field; stock changes go through
/// `POST /products/{id}/stock`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProduct {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub price: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Value>,
    /// `null` removes the template; absent keeps it.
    #[serde(
        default,
        deserialize_with = "crate::patch::present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub template_id: Option<Option<Uuid>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<String>>,
    /// Category slugs (replace the product's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
    /// Only apply when the product is still at this version (else 409).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_version: Option<i32>,
    /// Refused with a pointer to the stock endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<i64>)]
    pub stock: Option<serde_json::Value>,
}

/// `PUT /products/{id}/images` (admin): the ordered image list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Images {
    pub images: Vec<String>,
}

/// `POST /products/{id}/stock` (admin).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockAdjustment {
    /// Added to the stock; negative to remove.
    pub delta: i64,
}

/// The stock after an adjustment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StockLevel {
    pub id: Uuid,
    pub stock: i32,
}

/// `POST /categories` (admin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCategory {
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
}

/// `PATCH /categories/{id}` (admin).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCategory {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `null` clears it; absent keeps it.
    #[serde(
        default,
        deserialize_with = "crate::patch::present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
}

/// `POST /templates` (admin).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTemplate {
    pub name: String,
    pub description: Option<String>,
    /// A JSON Schema (draft from `$schema`, 2020-12 by default) for product attributes.
    #[schema(value_type = Object)]
    pub schema: serde_json::Value,
}

/// `PATCH /templates/{id}` (admin).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTemplate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `null` clears it; absent keeps it.
    #[serde(
        default,
        deserialize_with = "crate::patch::present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub schema: Option<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn statuses_spell_the_same_in_json_and_text() {
        for s in ReservationStatus::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(s.as_str().parse::<ReservationStatus>().unwrap(), *s);
        }
        for r in ShortfallReason::ALL {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
            assert_eq!(r.to_string().parse::<ShortfallReason>().unwrap(), *r);
        }
        assert!("Reserved".parse::<ReservationStatus>().is_err());
        assert!(serde_json::from_str::<ReservationStatus>(r#""held""#).is_err());
    }

    #[test]
    fn a_product_reads_what_the_catalog_writes() {
        let json = serde_json::json!({
            "id": "0190e7a4-0000-7000-8000-000000000001", "sku": "A-1", "name": "A", "description": "",
            "price": "12.50", "stock": 3, "is_active": true, "attributes": {}, "template_id": null,
            "images": [], "categories": ["books"], "version": 1,
            "created_at": "2026-11-29T10:00:00Z", "updated_at": "2026-11-29T10:00:00Z",
            "added_later": "ignored by older callers"
        });
        let p: Product = serde_json::from_value(json).unwrap();
        assert_eq!(p.price.to_string(), "12.50");
        assert_eq!(serde_json::to_value(&p).unwrap()["price"], "12.50");
        assert_eq!(LowStock::from(p).stock, 3);
    }

    #[test]
    fn patches_tell_absent_from_null_both_ways() {
        let keep: UpdateProduct = serde_json::from_str("{}").unwrap();
        let clear: UpdateProduct = serde_json::from_str(r#"{"template_id": null}"#).unwrap();
        assert_eq!(keep.template_id, None);
        assert_eq!(clear.template_id, Some(None));
        assert_eq!(serde_json::to_value(&keep).unwrap(), serde_json::json!({}));
        assert_eq!(
            serde_json::to_value(&clear).unwrap(),
            serde_json::json!({"template_id": null})
        );
        let c: CreateProduct = serde_json::from_str(r#"{"sku": "A-1", "name": "A", "price": "1.00"}"#).unwrap();
        assert!(c.is_active);
        assert_eq!(c.attributes, serde_json::json!({}));
    }

    #[test]
    fn reserve_requests_refuse_unknown_fields() {
        let bad = r#"{"order_id": "0190e7a4-0000-7000-8000-000000000001", "items": [], "extra": 1}"#;
        assert!(serde_json::from_str::<ReserveRequest>(bad).is_err());
    }
}
