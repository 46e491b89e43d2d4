//! Admin: every order, cancel any, sales figures.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, patch};
use chrono::{Duration, NaiveDate, Utc};
use serde::Deserialize;
use shop_kit::Problem;
use shop_kit::auth::AdminUser;
use shop_kit::extract::{Path, Query};
use utoipa::IntoParams;
use uuid::Uuid;

use super::paging;
use crate::AppState;
use crate::saga;
use crate::store::{self, Filter, Order, OrderStatus, Stats};
use shop_api::{Page, PageParams};

/// The admin routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/orders", get(list))
        .route("/admin/orders/{id}/cancel", patch(cancel))
        .route("/admin/stats", get(stats))
}

/// Filters of `GET /admin/orders`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// `pending`, `placed`, `rejected` or `canceled`.
    pub status: Option<String>,
    pub user_id: Option<Uuid>,
    /// First day (UTC), inclusive.
    pub from: Option<NaiveDate>,
    /// Last day (UTC), inclusive.
    pub to: Option<NaiveDate>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

/// Every order, filtered, newest first: `GET /admin/orders` (admin).
#[utoipa::path(get, path = "/admin/orders", tag = "admin", params(ListParams),
    responses((status = 200, body = Page<Order>), (status = 401), (status = 403), (status = 422)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(q): Query<ListParams>,
) -> Result<axum::Json<Page<Order>>, Problem> {
    let paging = paging(PageParams {
        page: q.page,
        per_page: q.per_page,
    })?;
    // Parsed here rather than by serde, so the problem names the parameter and its values.
    let status = q
        .status
        .as_deref()
        .map(str::parse::<OrderStatus>)
        .transpose()
        .map_err(|_| Problem::invalid("status", "must be pending, placed, rejected or canceled"))?;
    if let (Some(from), Some(to)) = (q.from, q.to)
        && from > to
    {
        return Err(Problem::invalid("from", "must not be after `to`"));
    }
    let filter = Filter {
        user_id: q.user_id,
        status,
        from: q.from,
        to: q.to,
    };
    let (items, total) = store::list(&state.db, &filter, paging).await?;
    Ok(axum::Json(Page::new(items, paging, total)))
}

/// Cancels any placed order and gives its stock back: `PATCH /admin/orders/{id}/cancel` (admin).
#[utoipa::path(patch, path = "/admin/orders/{id}/cancel", tag = "admin",
    responses((status = 200, body = Order), (status = 401), (status = 403), (status = 404), (status = 409)), security(("bearer" = [])))]
pub async fn cancel(
    State(state): State<AppState>,
    admin: AdminUser,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Order>, Problem> {
    let order = saga::cancel(&state, id, None).await?;
    tracing::info!(order_id = %id, admin = %admin.0.id, "order canceled by an admin");
    Ok(axum::Json(order))
}

/// The period of `GET /admin/stats`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StatsParams {
    /// First day (UTC), inclusive; default 29 days before `to`.
    pub from: Option<NaiveDate>,
    /// Last day (UTC), inclusive; default today.
    pub to: Option<NaiveDate>,
    /// Active products with less than this in stock are listed (default 5).
    pub low_stock_threshold: Option<i64>,
}

/// Sales figures: `GET /admin/stats` (admin).
#[utoipa::path(get, path = "/admin/stats", tag = "admin", params(StatsParams),
    responses((status = 200, body = Stats), (status = 401), (status = 403), (status = 422)), security(("bearer" = [])))]
pub async fn stats(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(q): Query<StatsParams>,
) -> Result<axum::Json<Stats>, Problem> {
    let to = q.to.unwrap_or_else(|| Utc::now().date_naive());
    let from = q.from.unwrap_or(to - Duration::days(29));
    if from > to {
        return Err(Problem::invalid("from", "must not be after `to`"));
    }
    let threshold = q.low_stock_threshold.unwrap_or(5);
    if !(0..=1_000_000_000).contains(&threshold) {
        return Err(Problem::invalid("low_stock_threshold", "must be from 0 to 1000000000"));
    }
    let mut stats = store::stats(&state.db, from, to).await?;
    stats.low_stock = match state.peers.low_stock(threshold).await {
        Ok(items) => Some(items),
        Err(e) => {
            tracing::warn!(error = ?e, "catalog unavailable; stats go out without low stock");
            None
        }
    };
    Ok(axum::Json(stats))
}
