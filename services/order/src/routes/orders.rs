//! A user's own orders: checkout, list, show, cancel.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use shop_api::{Page, PageParams};
use shop_kit::Problem;
use shop_kit::auth::AuthUser;
use shop_kit::extract::{Path, Query};
use uuid::Uuid;

use super::paging;
use crate::AppState;
use crate::domain::IdempotencyKey;
use crate::saga::{self, Buyer};
use crate::store::{self, Filter, Order};

/// The user routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orders/checkout", post(checkout))
        .route("/orders", get(list))
        .route("/orders/{id}", get(show))
        .route("/orders/{id}/cancel", patch(cancel))
}

/// Places an order from the cart: `POST /orders/checkout` with an `Idempotency-Key` header.
///
/// 201 with the order, `placed` or `rejected` (its `reason` names the items that lacked
/// stock); 202 with a `pending` order when the catalog's answer is unknown (the sweeper
/// decides it shortly); 200 with the existing order when the key was used before with the same
/// cart; 409 `idempotency-key-reused` when it was used with another cart.
#[utoipa::path(post, path = "/orders/checkout", tag = "orders",
    params(("Idempotency-Key" = String, Header, description = "1–128 printable characters, one per checkout")),
    responses((status = 201, body = Order), (status = 202, body = Order, description = "pending"), (status = 200, body = Order, description = "replay"),
        (status = 400, description = "no Idempotency-Key"), (status = 401), (status = 403), (status = 409), (status = 422, description = "empty cart, unsellable items, bad key"), (status = 503)),
    security(("bearer" = [])))]
pub async fn checkout(State(state): State<AppState>, user: AuthUser, headers: HeaderMap) -> Result<Response, Problem> {
    let key = IdempotencyKey::parse(headers.get("idempotency-key").map(|v| v.as_bytes()))?;
    let buyer = Buyer {
        id: user.id,
        email: user.email,
    };
    let (status, order) = saga::checkout(&state, &buyer, &key).await?;
    Ok((status, axum::Json(order)).into_response())
}

/// The signed-in user's orders, newest first: `GET /orders`.
#[utoipa::path(get, path = "/orders", tag = "orders", params(PageParams),
    responses((status = 200, body = Page<Order>), (status = 401), (status = 403), (status = 422)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(q): Query<PageParams>,
) -> Result<axum::Json<Page<Order>>, Problem> {
    let paging = paging(q)?;
    let filter = Filter {
        user_id: Some(user.id),
        ..Filter::default()
    };
    let (items, total) = store::list(&state.db, &filter, paging).await?;
    Ok(axum::Json(Page::new(items, paging, total)))
}

/// One of the user's orders: `GET /orders/{id}` (another user's is 404).
#[utoipa::path(get, path = "/orders/{id}", tag = "orders",
    responses((status = 200, body = Order), (status = 400), (status = 401), (status = 404)), security(("bearer" = [])))]
pub async fn show(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Order>, Problem> {
    let row = store::get(&state.db, id, Some(user.id))
        .await?
        .ok_or_else(|| Problem::not_found("no such order"))?;
    Ok(axum::Json(store::order(&state.db, row).await?))
}

/// Cancels one of the user's placed orders and gives its stock back:
/// `PATCH /orders/{id}/cancel`. Canceling again returns it unchanged; a pending or rejected
/// order is 409 `order-not-cancelable`.
#[utoipa::path(patch, path = "/orders/{id}/cancel", tag = "orders",
    responses((status = 200, body = Order), (status = 401), (status = 404), (status = 409)), security(("bearer" = [])))]
pub async fn cancel(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<(StatusCode, axum::Json<Order>), Problem> {
    Ok((
        StatusCode::OK,
        axum::Json(saga::cancel(&state, id, Some(user.id)).await?),
    ))
}
