//! shop-auth end to end: the real service on a real port, against a real Postgres.

#![allow(clippy::unwrap_used)]

mod admin;
mod bad_input;
mod ops;
mod profile;
mod revocation;
mod session;
mod support;
mod throttle;
mod tokens;
