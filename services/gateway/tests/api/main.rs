//! The gateway's tests: real auth, catalog, cart and order behind it, the test Redis, and
//! small local servers where a test needs an upstream that misbehaves.

mod admin;
mod consistency;
mod degradation;
mod docs;
mod images;
mod observability;
mod pages;
mod proxy;
mod ratelimit;
mod session;
mod shop;
mod support;
