//! The internal API, for `service` tokens only (a customer's or admin's token is refused):
//! batch lookup and low stock (scope `catalog:read`) and stock reservations keyed by order id
//! (`catalog:reserve`). A service token without the route's scope gets 403 `insufficient-scope`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use shop_api::{BatchRequest, BatchResponse, ConfirmRequest, ConfirmResponse, Product, ReserveRequest};
use shop_kit::Problem;
use shop_kit::auth::{ServiceScope, scope};
use shop_kit::extract::{Json, Path};
use uuid::Uuid;

use super::products::lookup;
use crate::AppState;
use crate::domain::Errors;
use crate::store::reservations::{self, Item, Released, Reservation, Reserved};

/// The most lines in one reservation.
pub const MAX_LINES: usize = 100;
/// The most units of one line.
pub const MAX_QTY: i32 = 10_000;
/// The most order ids in one confirmation.
pub const MAX_CONFIRM: usize = 1_000;

/// The internal routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/internal/products/batch", post(batch))
        .route("/internal/products/low-stock", get(low_stock))
        .route("/internal/reservations", post(reserve))
        .route("/internal/reservations/confirm", post(confirm))
        .route("/internal/reservations/{order_id}", get(status))
        .route("/internal/reservations/{order_id}/release", post(release))
}

/// Products by id: `POST /internal/products/batch` (service, `catalog:read`).
#[utoipa::path(post, path = "/internal/products/batch", tag = "internal", request_body = BatchRequest,
    responses((status = 200, body = BatchResponse), (status = 403, description = "not a service token, or no `catalog:read`")), security(("bearer" = ["catalog:read"])))]
pub async fn batch(
    State(state): State<AppState>,
    _svc: ServiceScope<scope::CatalogRead>,
    Json(req): Json<BatchRequest>,
) -> Result<axum::Json<BatchResponse>, Problem> {
    Ok(axum::Json(lookup(&state, &req.ids).await?))
}

/// `GET /internal/products/low-stock` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LowStockQuery {
    /// Products with less than this in stock (default `LOW_STOCK_THRESHOLD`).
    pub threshold: Option<i32>,
    /// At most this many, lowest stock first (default 20, at most 100).
    pub limit: Option<i64>,
}

/// Active products running out, lowest stock first (the order service's admin stats):
/// `GET /internal/products/low-stock` (service, `catalog:read`).
#[utoipa::path(get, path = "/internal/products/low-stock", tag = "internal", params(LowStockQuery),
    responses((status = 200, body = Vec<Product>), (status = 403, description = "not a service token, or no `catalog:read`"), (status = 422)), security(("bearer" = ["catalog:read"])))]
pub async fn low_stock(
    State(state): State<AppState>,
    _svc: ServiceScope<scope::CatalogRead>,
    shop_kit::extract::Query(q): shop_kit::extract::Query<LowStockQuery>,
) -> Result<axum::Json<Vec<Product>>, Problem> {
    let threshold = q.threshold.unwrap_or(state.config.low_stock_threshold);
    let limit = q.limit.unwrap_or(20);
    let mut errors = Errors::default();
    if !(0..=1_000_000_000).contains(&threshold) {
        errors.add("threshold", "must be from 0 to 1000000000");
    }
    if !(1..=100).contains(&limit) {
        errors.add("limit", "must be from 1 to 100");
    }
    errors.finish()?;
    Ok(axum::Json(
        crate::store::products::low_stock(&state.db, threshold, limit).await?,
    ))
}

/// Reserves stock for an order, all or nothing: `POST /internal/reservations` (service,
/// `catalog:reserve`).
///
/// 201 when stock was taken now; 200 with the same body when this order id was already
/// reserved with the same items (nothing changes); 409 `reservation-mismatch` for the same
/// order id with other items; 409 `insufficient-stock` listing every line that cannot be met
/// (nothing is reserved).
#[utoipa::path(post, path = "/internal/reservations", tag = "internal", request_body = ReserveRequest,
    responses((status = 201, body = Reservation), (status = 200, body = Reservation, description = "replay"), (status = 409), (status = 422), (status = 403, description = "not a service token, or no `catalog:reserve`")),
    security(("bearer" = ["catalog:reserve"])))]
pub async fn reserve(
    State(state): State<AppState>,
    svc: ServiceScope<scope::CatalogReserve>,
    Json(req): Json<ReserveRequest>,
) -> Result<Response, Problem> {
    let mut errors = Errors::default();
    if req.items.is_empty() {
        errors.add("/items", "must not be empty");
    }
    if req.items.len() > MAX_LINES {
        errors.add("/items", format!("at most {MAX_LINES} lines"));
    }
    let mut items = Vec::with_capacity(req.items.len());
    for (i, line) in req.items.iter().enumerate() {
        match i32::try_from(line.qty) {
            Ok(qty) if (1..=MAX_QTY).contains(&qty) => items.push(Item {
                product_id: line.product_id,
                qty,
            }),
            _ => errors.add(&format!("/items/{i}/qty"), format!("must be from 1 to {MAX_QTY}")),
        }
    }
    errors.finish()?;
    let items = reservations::normalise(&items);
    if items.iter().any(|i| i.qty > MAX_QTY) {
        return Err(Problem::invalid(
            "/items",
            format!("at most {MAX_QTY} units of one product"),
        ));
    }
    match reservations::reserve(&state.db, req.order_id, &items, &svc.client_id).await? {
        Reserved::New(r) => {
            state.metrics.reservation("reserved");
            tracing::info!(order_id = %r.order_id, lines = items.len(), by = %svc.client_id, "stock reserved");
            Ok((StatusCode::CREATED, axum::Json(r)).into_response())
        }
        Reserved::Replayed(r) => {
            state.metrics.reservation("replayed");
            Ok((StatusCode::OK, axum::Json(r)).into_response())
        }
        Reserved::Conflict(r) => {
            state.metrics.reservation("rejected");
            Err(Problem::conflict(
                "reservation-mismatch",
                "this order id was already used to reserve other items",
            )
            .with("reservation", r))
        }
        Reserved::Rejected(shortfalls) => {
            state.metrics.reservation("rejected");
            let detail = shortfalls
                .iter()
                .map(|s| {
                    format!(
                        "{}: {} (requested {}, available {})",
                        s.product_id, s.reason, s.requested, s.available
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            Err(Problem::conflict("insufficient-stock", detail).with("shortfalls", shortfalls))
        }
    }
}

/// Gives an order's stock back, exactly once however often it is called:
/// `POST /internal/reservations/{order_id}/release` (service, `catalog:reserve`). 200 with the reservation in
/// both cases (`released_at` tells when); 404 when the order never reserved.
#[utoipa::path(post, path = "/internal/reservations/{order_id}/release", tag = "internal",
    responses((status = 200, body = Reservation), (status = 404), (status = 403, description = "not a service token, or no `catalog:reserve`")), security(("bearer" = ["catalog:reserve"])))]
pub async fn release(
    State(state): State<AppState>,
    svc: ServiceScope<scope::CatalogReserve>,
    Path(order_id): Path<Uuid>,
) -> Result<axum::Json<Reservation>, Problem> {
    match reservations::release(&state.db, order_id).await? {
        Released::Now(r) => {
            state.metrics.reservation("released");
            tracing::info!(%order_id, by = %svc.client_id, "reservation released");
            Ok(axum::Json(r))
        }
        Released::Already(r) => {
            state.metrics.reservation("replayed");
            Ok(axum::Json(r))
        }
        Released::NotFound => Err(Problem::not_found("no reservation for this order")),
    }
}

/// Keeps the reservations of placed orders: `POST /internal/reservations/confirm` (service,
/// `catalog:reserve`). The order service confirms what it placed, in batches; a reservation
/// still unconfirmed `RESERVATION_TTL_SECS` after it was made expires (its stock goes back).
/// Idempotent: each order id is answered `confirmed`, `released` (its stock went back first)
/// or `unknown`.
#[utoipa::path(post, path = "/internal/reservations/confirm", tag = "internal", request_body = ConfirmRequest,
    responses((status = 200, body = ConfirmResponse), (status = 422, description = "no order id, or more than 1000"), (status = 403, description = "not a service token, or no `catalog:reserve`")),
    security(("bearer" = ["catalog:reserve"])))]
pub async fn confirm(
    State(state): State<AppState>,
    _svc: ServiceScope<scope::CatalogReserve>,
    Json(req): Json<ConfirmRequest>,
) -> Result<axum::Json<ConfirmResponse>, Problem> {
    if req.order_ids.is_empty() || req.order_ids.len() > MAX_CONFIRM {
        return Err(Problem::invalid(
            "/order_ids",
            format!("must hold from 1 to {MAX_CONFIRM} order ids"),
        ));
    }
    let answer = reservations::confirm(&state.db, &req.order_ids).await?;
    state.metrics.reservations_n("confirmed", answer.confirmed.len());
    Ok(axum::Json(answer))
}

/// The reservation of an order (for the order service's sweeper):
/// `GET /internal/reservations/{order_id}` (service, `catalog:reserve`).
#[utoipa::path(get, path = "/internal/reservations/{order_id}", tag = "internal",
    responses((status = 200, body = Reservation), (status = 404), (status = 403, description = "not a service token, or no `catalog:reserve`")), security(("bearer" = ["catalog:reserve"])))]
pub async fn status(
    State(state): State<AppState>,
    _svc: ServiceScope<scope::CatalogReserve>,
    Path(order_id): Path<Uuid>,
) -> Result<axum::Json<Reservation>, Problem> {
    reservations::get(&state.db, order_id)
        .await?
        .filter(|r| !reservations::is_barred(r))
        .map(axum::Json)
        .ok_or_else(|| Problem::not_found("no reservation for this order"))
}
