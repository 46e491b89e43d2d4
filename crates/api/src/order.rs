//! What the order service serves: orders, their items, statuses and the admin's figures.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::catalog::LowStock;

/// Where an order is in the checkout saga.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Written, its reservation not decided yet (the sweeper resolves it after a crash).
    Pending,
    /// The stock is reserved; the order stands.
    Placed,
    /// The stock could not be reserved (`reason` says why).
    Rejected,
    /// Canceled after being placed; `released_at` tells when the stock went back.
    Canceled,
}

crate::text_enum!(OrderStatus, "order status", {
    Pending => "pending",
    Placed => "placed",
    Rejected => "rejected",
    Canceled => "canceled",
});

/// One line of an order: the product as it was bought.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderItem {
    pub product_id: Uuid,
    pub sku: String,
    pub name: String,
    #[schema(value_type = String)]
    pub unit_price: Decimal,
    pub qty: i32,
    #[schema(value_type = String)]
    pub subtotal: Decimal,
}

/// An order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Order {
    pub id: Uuid,
    pub user_id: Uuid,
    pub user_email: String,
    pub status: OrderStatus,
    #[schema(value_type = String)]
    pub total: Decimal,
    pub currency: String,
    /// Why it was rejected.
    pub reason: Option<String>,
    pub items: Vec<OrderItem>,
    /// When the stock of a canceled order went back to the catalog.
    pub released_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The sales figures of a period: `GET /admin/stats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Stats {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Placed orders (canceled ones not counted).
    pub orders: i64,
    #[schema(value_type = String)]
    pub revenue: Decimal,
    #[schema(value_type = String)]
    pub average_order_value: Decimal,
    pub top_by_quantity: Vec<TopProduct>,
    pub top_by_revenue: Vec<TopProduct>,
    /// The last 7 days (today included), zero-filled.
    pub daily: Vec<Day>,
    /// Active products below `low_stock_threshold`, from the catalog; `null` when the catalog
    /// did not answer.
    pub low_stock: Option<Vec<LowStock>>,
}

/// A best seller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TopProduct {
    pub product_id: Uuid,
    pub sku: String,
    pub name: String,
    pub qty: i64,
    #[schema(value_type = String)]
    pub revenue: Decimal,
}

/// One day of the series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Day {
    pub date: NaiveDate,
    pub orders: i64,
    #[schema(value_type = String)]
    pub revenue: Decimal,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn statuses_spell_the_same_in_json_and_text() {
        assert_eq!(OrderStatus::ALL.len(), 4);
        for s in OrderStatus::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(String::from(s.as_str()).try_into(), Ok(*s));
        }
        let err = "cancelled".parse::<OrderStatus>().unwrap_err();
        assert_eq!(err.to_string(), r#"unknown order status: "cancelled""#);
    }
}
