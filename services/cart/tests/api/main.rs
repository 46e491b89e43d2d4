//! shop-cart end to end: the real cart on a real Redis, pricing from a real catalog.

#![allow(clippy::unwrap_used)]

mod cart;
mod preferences;
mod scopes;
mod support;
