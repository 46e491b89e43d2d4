//! `shop-api`: the request and response types Shopkeeper's services exchange, defined once.
//!
//! The service that owns a resource serializes it from here; every caller (another service,
//! the gateway, a test) deserializes the same type, so a field cannot drift between copies.
//! The crate knows nothing of HTTP servers, databases or Kubernetes: serde, `uuid`, `chrono`,
//! `rust_decimal` and `utoipa` (for `ToSchema`) only. Database mapping lives in the owning
//! service (row structs, or statuses read as text through [`std::str::FromStr`]).
//!
//! Layout:
//! - [`page`]: the page envelope [`Page`] and the paging parameters [`PageParams`].
//! - [`catalog`]: [`Product`], categories, templates and their admin requests, batch lookup,
//!   search results, low stock, stock reservations and [`ReservationStatus`].
//! - [`cart`]: [`Cart`], its [`Line`]s and the line requests.
//! - [`order`]: [`Order`], [`OrderItem`], [`OrderStatus`] and the admin [`Stats`].
//! - [`preferences`]: a user's preferences (cart's `/me/preferences`).
//! - [`money`]: how a price is read from text, the same in a query as in a body.
//! - [`openapi`]: [`BearerAuth`], the security scheme every OpenAPI document declares, and
//!   [`openapi::ProblemResponses`], the kit's statuses and the problem schema on every operation.
//! - [`patch`]: telling an absent field from `null` in PATCH bodies.
//! - [`UnknownValue`]: the error of parsing a status that is not one.

pub mod cart;
pub mod catalog;
pub mod money;
pub mod openapi;
pub mod order;
pub mod page;
pub mod patch;
pub mod preferences;

pub use cart::{Cart, HeldCart, Line, LineRequest, RemoveRequest};
pub use catalog::{
    BatchRequest, BatchResponse, Category, ConfirmRequest, ConfirmResponse, CreateCategory, CreateProduct,
    CreateTemplate, Images, LowStock, Product, Reservation, ReservationItem, ReservationStatus, ReserveItem,
    ReserveRequest, SearchResults, Shortfall, ShortfallReason, StockAdjustment, StockLevel, Template, UpdateCategory,
    UpdateProduct, UpdateTemplate,
};
pub use openapi::BearerAuth;
pub use order::{Day, Order, OrderItem, OrderStatus, Stats, TopProduct};
pub use page::{Page, PageParams, Paging};
pub use preferences::{Preference, Preferences};

/// A string that names none of an enum's values (a status read from a database or a query).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownValue {
    /// What the enum is (`order status`).
    pub what: &'static str,
    /// The string that did not match.
    pub value: String,
}

impl std::fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown {}: {:?}", self.what, self.value)
    }
}

impl std::error::Error for UnknownValue {}

/// Implements `as_str`, `Display`, `FromStr` and `TryFrom<String>` for a unit-variant enum
/// whose serde names are the given strings (kept in one list, so text and JSON agree).
macro_rules! text_enum {
    ($ty:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value, in declaration order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The wire (and database) spelling.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $text),+
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $ty {
            type Err = $crate::UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($ty::$variant),)+
                    _ => Err($crate::UnknownValue { what: $what, value: s.to_owned() }),
                }
            }
        }

        impl TryFrom<String> for $ty {
            type Error = $crate::UnknownValue;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }
    };
}
pub(crate) use text_enum;
