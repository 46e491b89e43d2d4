//! What the cart serves: a user's cart, priced from the catalog, and the line requests.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// One line of a cart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Line {
    pub product_id: Uuid,
    pub qty: i64,
    /// The rest is `null` when the cart is unpriced (the catalog did not answer).
    pub sku: Option<String>,
    pub name: Option<String>,
    #[schema(value_type = Option<String>)]
    pub unit_price: Option<Decimal>,
    #[schema(value_type = Option<String>)]
    pub line_total: Option<Decimal>,
    /// The product's first image.
    pub image: Option<String>,
    /// Active and with at least `qty` in stock.
    pub available: Option<bool>,
    /// What the catalog has in stock.
    pub stock: Option<i32>,
}

/// A cart: `GET /cart`, the answer of every change, and `GET /internal/carts/{user_id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Cart {
    pub user_id: Uuid,
    pub items: Vec<Line>,
    /// Whether prices came from the catalog; `false` when it was unreachable.
    pub priced: bool,
    #[schema(value_type = Option<String>)]
    pub total: Option<Decimal>,
    /// Units over all lines.
    pub units: i64,
}

/// `POST /cart/add` and `POST /cart/set`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineRequest {
    pub product_id: Uuid,
    pub qty: i64,
}

/// `POST /internal/carts/{user_id}/take` and `…/restore`: the checkout holding the cart, named
/// by its `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeldCart {
    /// 1 to 128 printable ASCII characters.
    pub key: String,
}

/// `POST /cart/remove`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveRequest {
    pub product_id: Uuid,
}
