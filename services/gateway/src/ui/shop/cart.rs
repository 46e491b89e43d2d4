//! The cart and checkout.
//!
//! The cart page warns about lines that went out of stock or whose price changed since they
//! were added (the price at adding time is kept in the shopper's preferences, `seen_prices`).
//! Checkout is one form whose hidden `idempotency_key` was made when the page was drawn, so a
//! double submission (two clicks, a reload, the back button) makes one order.

use std::collections::BTreeMap;

use askama::Template;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::json;
use shop_api::cart::{Cart, Line};
use shop_api::order::Order;
use uuid::Uuid;

use crate::config::Upstream;
use crate::ui::{ApiError, Ctx, FormInput};

const SEEN_PRICES: &str = "/me/preferences/seen_prices";

/// A cart line and what the shopper should know about it.
pub struct Row {
    pub line: Line,
    /// The price when it was added, if it has changed since.
    pub was: Option<Decimal>,
    /// Fewer in stock than in the cart (0: none left).
    pub short: Option<i64>,
}

#[derive(Template)]
#[template(path = "shop/cart.html")]
struct CartPage<'a> {
    ctx: &'a Ctx,
    rows: Vec<Row>,
    total: Option<Decimal>,
    units: i64,
    idempotency_key: String,
    blocked: bool,
}

async fn seen_prices(ctx: &Ctx) -> BTreeMap<Uuid, Decimal> {
    ctx.get::<serde_json::Value>(Upstream::Cart, SEEN_PRICES)
        .await
        .ok()
        .and_then(|v| serde_json::from_value(v["value"].clone()).ok())
        .unwrap_or_default()
}

async fn store_seen_prices(ctx: &Ctx, prices: &BTreeMap<Uuid, Decimal>) {
    let _ = ctx
        .call(Upstream::Cart, Method::PUT, SEEN_PRICES, Some(&json!(prices)))
        .await;
}

/// `GET /cart`.
pub async fn show(ctx: Ctx) -> Response {
    if let Err(login) = ctx.need_user() {
        return login;
    }
    let (cart, mut seen) = tokio::join!(ctx.get::<Cart>(Upstream::Cart, "/cart"), seen_prices(&ctx));
    let cart = match cart {
        Ok(cart) => cart,
        Err(err) => return ctx.fail(&err),
    };
    let mut changed = false;
    let rows: Vec<Row> = cart
        .items
        .into_iter()
        .map(|line| {
            let was = match (seen.get(&line.product_id).copied(), line.unit_price) {
                (Some(seen_price), Some(now)) if seen_price != now => {
                    // Shown once, then the new price is the one the shopper has seen.
                    seen.insert(line.product_id, now);
                    changed = true;
                    Some(seen_price)
                }
                (None, Some(now)) => {
                    seen.insert(line.product_id, now);
                    changed = true;
                    None
                }
                _ => None,
            };
            let short = match (line.available, line.stock) {
                (Some(false), _) => Some(0),
                (_, Some(stock)) if i64::from(stock) < line.qty => Some(i64::from(stock.max(0))),
                _ => None,
            };
            Row { line, was, short }
        })
        .collect();
    if changed {
        seen.retain(|id, _| rows.iter().any(|r| r.line.product_id == *id));
        store_seen_prices(&ctx, &seen).await;
    }
    let blocked = rows.iter().any(|r| r.short.is_some());
    ctx.render(
        CartPage {
            ctx: &ctx,
            rows,
            total: cart.total,
            units: cart.units,
            idempotency_key: Uuid::new_v4().to_string(),
            blocked,
        }
        .render(),
    )
}

/// The add, set and remove forms.
#[derive(Debug, Deserialize)]
pub struct LineForm {
    product_id: String,
    qty: Option<String>,
    #[serde(rename = "_csrf")]
    pub(super) csrf: Option<String>,
}

/// What the forms' quantity field holds: a number, or the refusal.
fn qty_of(form: &LineForm, default: i64) -> Option<i64> {
    match form.qty.as_deref().map(str::trim) {
        None | Some("") => Some(default),
        Some(text) => text.parse().ok(),
    }
}

async fn change(ctx: Ctx, form: FormInput<LineForm>, action: &'static str) -> Response {
    if let Err(login) = ctx.need_user() {
        return login;
    }
    let form = match ctx.posted(form) {
        Ok(form) => form,
        Err(refusal) => return refusal,
    };
    let Ok(product_id) = Uuid::parse_str(form.product_id.trim()) else {
        return ctx.error_page(StatusCode::UNPROCESSABLE_ENTITY, "error-invalid");
    };
    let body = match action {
        "remove" => json!({"product_id": product_id}),
        _ => {
            let Some(qty) = qty_of(&form, if action == "add" { 1 } else { 0 }) else {
                return ctx.redirect("/cart?notice=bad-quantity");
            };
            json!({"product_id": product_id, "qty": qty})
        }
    };
    match ctx
        .send::<Cart>(Upstream::Cart, Method::POST, &format!("/cart/{action}"), &body)
        .await
    {
        Ok(cart) => {
            if action == "add"
                && let Some(price) = cart
                    .items
                    .iter()
                    .find(|l| l.product_id == product_id)
                    .and_then(|l| l.unit_price)
            {
                let mut seen = seen_prices(&ctx).await;
                if seen.insert(product_id, price) != Some(price) {
                    store_seen_prices(&ctx, &seen).await;
                }
            }
            ctx.redirect(&format!(
                "/cart?notice={}",
                if action == "add" { "added" } else { "updated" }
            ))
        }
        Err(ApiError::Problem(p)) if p.status == 422 || p.status == 409 || p.status == 404 => {
            let notice = if p.slug.contains("stock") || p.detail.as_deref().is_some_and(|d| d.contains("stock")) {
                "not-enough-stock"
            } else {
                "bad-quantity"
            };
            ctx.redirect(&format!("/cart?notice={notice}"))
        }
        Err(err) => ctx.fail(&err),
    }
}

/// `POST /cart/add` (`product_id`, `qty`).
pub async fn add(ctx: Ctx, form: FormInput<LineForm>) -> Response {
    change(ctx, form, "add").await
}

/// `POST /cart/set` (`product_id`, `qty`; 0 removes).
pub async fn set(ctx: Ctx, form: FormInput<LineForm>) -> Response {
    change(ctx, form, "set").await
}

/// `POST /cart/remove` (`product_id`).
pub async fn remove(ctx: Ctx, form: FormInput<LineForm>) -> Response {
    change(ctx, form, "remove").await
}

/// The checkout form.
#[derive(Debug, Deserialize)]
pub struct CheckoutForm {
    idempotency_key: String,
    #[serde(rename = "_csrf")]
    pub(super) csrf: Option<String>,
}

/// `POST /checkout`: places the order (or finds the one this form already placed) and shows it.
pub async fn checkout(ctx: Ctx, form: FormInput<CheckoutForm>) -> Response {
    if let Err(login) = ctx.need_user() {
        return login;
    }
    let form = match ctx.posted(form) {
        Ok(form) => form,
        Err(refusal) => return refusal,
    };
    let key = form.idempotency_key.trim().to_owned();
    let placed = ctx
        .fetch::<Order>(
            ctx.request(Upstream::Order, Method::POST, "/orders/checkout")
                .header("idempotency-key", key),
        )
        .await;
    match placed {
        Ok(order) => {
            let _ = ctx.call(Upstream::Cart, Method::DELETE, SEEN_PRICES, None).await;
            // A rejection is explained on the order page itself, in its alert.
            if order.status == shop_api::order::OrderStatus::Rejected {
                ctx.redirect(&format!("/orders/{}", order.id))
            } else {
                ctx.redirect(&format!(
                    "/orders/{}?notice=checkout-{}",
                    order.id,
                    order.status.as_str()
                ))
            }
        }
        Err(ApiError::Problem(p)) if p.slug == "idempotency-key-reused" => ctx.redirect("/cart?notice=cart-changed"),
        Err(ApiError::Problem(p)) if p.status == 422 && p.errors.iter().any(|(ptr, _)| ptr == "/cart") => {
            ctx.redirect("/cart?notice=cart-empty")
        }
        Err(ApiError::Problem(p)) if p.status == 422 => ctx.redirect("/cart?notice=not-sold"),
        Err(err) => ctx.fail(&err),
    }
}
