//! The shopper's orders: the list, one order, and cancelling with a confirmation step.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use shop_api::order::{Order, OrderStatus};
use shop_api::page::Page;
use uuid::Uuid;

use crate::config::Upstream;
use crate::ui::{ApiError, Ctx, FormInput};

/// `?page=`
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    page: Option<String>,
}

#[derive(Template)]
#[template(path = "shop/orders.html")]
struct OrdersPage<'a> {
    ctx: &'a Ctx,
    orders: Page<Order>,
}

/// The translation key of a status.
pub fn status_key(status: &OrderStatus) -> String {
    format!("status-{}", status.as_str())
}

/// `GET /orders`.
pub async fn list(ctx: Ctx, query: Result<Query<PageQuery>, QueryRejection>) -> Response {
    if let Err(login) = ctx.need_user() {
        return login;
    }
    let page = query
        .ok()
        .and_then(|q| q.0.page)
        .and_then(|p| p.parse::<i64>().ok())
        .filter(|p| (1..=100_000).contains(p))
        .unwrap_or(1);
    match ctx
        .get::<Page<Order>>(Upstream::Order, &format!("/orders?page={page}&per_page=20"))
        .await
    {
        Ok(orders) => ctx.render(OrdersPage { ctx: &ctx, orders }.render()),
        Err(err) => ctx.fail(&err),
    }
}

/// One product a rejected checkout could not get enough of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Short {
    pub name: String,
    pub requested: i64,
    pub available: i64,
}

/// The items named in a rejection reason (`not enough stock: SKU-1: insufficient stock
/// (requested 2, available 1); …`, as the order service writes it), with the names from the
/// order's lines.
pub fn shortfalls(order: &Order) -> Vec<Short> {
    let Some(list) = order
        .reason
        .as_deref()
        .and_then(|r| r.strip_prefix("not enough stock: "))
    else {
        return Vec::new();
    };
    list.split("; ")
        .filter_map(|entry| {
            let (sku, rest) = entry.split_once(": ")?;
            let numbers = rest.rsplit_once('(')?.1.trim_end_matches(')');
            let mut requested = None;
            let mut available = None;
            for part in numbers.split(", ") {
                if let Some(n) = part.strip_prefix("requested ") {
                    requested = n.parse().ok();
                } else if let Some(n) = part.strip_prefix("available ") {
                    available = n.parse().ok();
                }
            }
            let name = order
                .items
                .iter()
                .find(|i| i.sku == sku)
                .map_or_else(|| sku.to_owned(), |i| i.name.clone());
            Some(Short {
                name,
                requested: requested?,
                available: available?,
            })
        })
        .collect()
}

#[derive(Template)]
#[template(path = "shop/order.html")]
struct OrderPage<'a> {
    ctx: &'a Ctx,
    order: Order,
    short: Vec<Short>,
    confirm: bool,
}

async fn show_order(ctx: &Ctx, id: &str, confirm: bool) -> Response {
    if let Err(login) = ctx.need_user() {
        return login;
    }
    let Ok(id) = Uuid::parse_str(id) else {
        return ctx.error_page(StatusCode::NOT_FOUND, "error-not-found");
    };
    match ctx.get::<Order>(Upstream::Order, &format!("/orders/{id}")).await {
        Ok(order) => {
            let short = shortfalls(&order);
            let confirm = confirm && order.status == OrderStatus::Placed;
            ctx.render(
                OrderPage {
                    ctx,
                    order,
                    short,
                    confirm,
                }
                .render(),
            )
        }
        Err(err) => ctx.fail(&err),
    }
}

/// `GET /orders/{id}`.
pub async fn show(ctx: Ctx, Path(id): Path<String>) -> Response {
    show_order(&ctx, &id, false).await
}

/// `GET /orders/{id}/cancel`: asks to confirm.
pub async fn confirm_cancel(ctx: Ctx, Path(id): Path<String>) -> Response {
    show_order(&ctx, &id, true).await
}

/// The confirmation form.
#[derive(Debug, Deserialize)]
pub struct CancelForm {
    #[serde(rename = "_csrf")]
    pub(super) csrf: Option<String>,
}

/// `POST /orders/{id}/cancel`.
pub async fn cancel(ctx: Ctx, Path(id): Path<String>, form: FormInput<CancelForm>) -> Response {
    if let Err(login) = ctx.need_user() {
        return login;
    }
    if let Err(refusal) = ctx.posted(form) {
        return refusal;
    }
    let Ok(id) = Uuid::parse_str(&id) else {
        return ctx.error_page(StatusCode::NOT_FOUND, "error-not-found");
    };
    match ctx
        .call(Upstream::Order, Method::PATCH, &format!("/orders/{id}/cancel"), None)
        .await
    {
        Ok(_) => ctx.redirect(&format!("/orders/{id}?notice=canceled")),
        Err(ApiError::Problem(p)) if p.status == 409 => ctx.redirect(&format!("/orders/{id}?notice=not-cancelable")),
        Err(err) => ctx.fail(&err),
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use rust_decimal::Decimal;
    use shop_api::order::OrderItem;

    use super::*;

    #[test]
    fn a_rejection_names_the_items_short_of_stock() {
        let item = |sku: &str, name: &str| OrderItem {
            product_id: Uuid::new_v4(),
            sku: sku.into(),
            name: name.into(),
            unit_price: Decimal::ONE,
            qty: 2,
            subtotal: Decimal::TWO,
        };
        let order = Order {
            id: Uuid::new_v4(),
            user_id: Uuid::new_v4(),
            user_email: "a@b.c".into(),
            status: OrderStatus::Rejected,
            total: Decimal::TWO,
            currency: "KZT".into(),
            reason: Some(
                "not enough stock: SKU-1: insufficient stock (requested 2, available 1); SKU-9: inactive (requested 1, available 0)"
                    .into(),
            ),
            items: vec![item("SKU-1", "Wool socks")],
            released_at: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        assert_eq!(
            shortfalls(&order),
            vec![
                Short {
                    name: "Wool socks".into(),
                    requested: 2,
                    available: 1
                },
                Short {
                    name: "SKU-9".into(),
                    requested: 1,
                    available: 0
                },
            ]
        );
        let other = Order {
            reason: Some("the catalog refused the reservation (x)".into()),
            ..order
        };
        assert!(shortfalls(&other).is_empty());
    }
}
