//! shop-catalog end to end: the real service on a real port, against a real Postgres.

#![allow(clippy::unwrap_used)]

mod admin;
mod bad_input;
mod browse;
mod cache;
mod ops;
mod reservations;
mod scopes;
mod support;
mod wire;
