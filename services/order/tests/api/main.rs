//! shop-order end to end: the real order service with real auth, catalog and cart on real
//! ports, against a real Postgres and Redis.

#![allow(clippy::unwrap_used)]

mod access;
mod checkout;
mod faults;
mod support;
mod wire;
