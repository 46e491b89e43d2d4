//! The checkout saga and the sweeper that finishes what a crash interrupted.
//!
//! Checkout: take the cart (held apart under the checkout's key) → price it from the catalog →
//! write the order `pending` → reserve the stock keyed by the order id → `placed`, or
//! `rejected` and the cart given back. When the
//! reservation's outcome is unknown (catalog unreachable, 5xx, a timeout) the order stays
//! `pending` and the sweeper asks the catalog later. Every status change is conditional on
//! the status it leaves, so whoever comes second (checkout or sweeper) sees the first's
//! decision and, if it holds stock the order no longer needs, releases it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use rust_decimal::Decimal;
use shop_kit::Problem;
use shop_kit::observe::SPAN_TARGET;
use tracing::Instrument as _;
use uuid::Uuid;

use crate::AppState;
use crate::clients::Reserve;
use crate::domain::{IdempotencyKey, fingerprint};
use crate::store::{self, Item, NewOrder, Order, OrderRow, OrderStatus};
use shop_api::{Line, ReservationStatus, ReserveItem};

/// The reason of an order the sweeper found without a reservation.
pub const INTERRUPTED: &str = "checkout interrupted";

/// What a checkout answers: the status code and the order.
pub type Outcome = (StatusCode, Order);

/// The user placing an order.
#[derive(Debug, Clone)]
pub struct Buyer {
    pub id: Uuid,
    pub email: String,
}

/// Runs a checkout and records its duration.
pub async fn checkout(state: &AppState, buyer: &Buyer, key: &IdempotencyKey) -> Result<Outcome, Problem> {
    let started = Instant::now();
    let result = run(state, buyer, key).await;
    state.metrics.checkout_duration.observe(started.elapsed().as_secs_f64());
    result
}

async fn replay(state: &AppState, existing: OrderRow, cart_fingerprint: Option<&str>) -> Result<Outcome, Problem> {
    // A placed order emptied the cart, so an empty cart is the same request retried.
    if let Some(fp) = cart_fingerprint
        && fp != existing.cart_fingerprint
    {
        state.metrics.failure("idempotency_key_reused");
        return Err(Problem::conflict(
            "idempotency-key-reused",
            "this Idempotency-Key was used for another cart; use a new key for a new checkout",
        )
        .with("order_id", existing.id));
    }
    Ok((StatusCode::OK, store::order(&state.db, existing).await?))
}

async fn run(state: &AppState, buyer: &Buyer, key: &IdempotencyKey) -> Result<Outcome, Problem> {
    if let Some(existing) = store::by_key(&state.db, buyer.id, key.as_str()).await? {
        // A retry: compare with the cart as it is now, without taking it.
        let cart = state
            .peers
            .cart(buyer.id)
            .instrument(step("checkout: read the cart"))
            .await;
        let fp = match &cart {
            Ok(lines) if !lines.is_empty() => Some(fingerprint(&pairs(lines))),
            // Unreadable or empty cart: the key alone identifies the checkout.
            _ => None,
        };
        return replay(state, existing, fp.as_deref()).await;
    }
    // The cart is taken for this checkout (held apart under its key): a placed order needs no
    // call to clear it, and a checkout that places nothing gives it back.
    let lines = state
        .peers
        .take_cart(buyer.id, key.as_str())
        .instrument(step("checkout: take the cart"))
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "cart unavailable at checkout");
            state.metrics.failure("cart_unavailable");
            Problem::unavailable("the cart is unavailable; try again shortly")
        })?;
    if lines.is_empty() {
        // A concurrent retry of this checkout may have taken the cart and written the order.
        if let Some(existing) = store::by_key(&state.db, buyer.id, key.as_str()).await? {
            return replay(state, existing, None).await;
        }
        state.metrics.failure("empty_cart");
        return Err(Problem::invalid("/cart", "the cart is empty"));
    }
    let (result, give_back) = match from_cart(state, buyer, key, &lines).await {
        Ok((outcome, give_back)) => (Ok(outcome), give_back),
        Err(problem) => (Err(problem), true),
    };
    if give_back && let Err(e) = state.peers.restore_cart(buyer.id, key.as_str()).await {
        // The held copy stays in Redis; the sweeper tries again if the order ends rejected.
        tracing::warn!(error = %e, "cannot give the cart back after a checkout that placed nothing");
    }
    result
}

/// The checkout of the taken cart `lines`; whether to give the cart back (no order placed by
/// this request: refused, rejected or pending).
async fn from_cart(
    state: &AppState,
    buyer: &Buyer,
    key: &IdempotencyKey,
    lines: &[Line],
) -> Result<(Outcome, bool), Problem> {
    let fp = fingerprint(&pairs(lines));
    let items = price(state, lines).instrument(step("checkout: price")).await?;
    let total: Decimal = items.iter().map(|i| i.subtotal).sum();
    let id = Uuid::now_v7();
    let new = NewOrder {
        id,
        user_id: buyer.id,
        user_email: &buyer.email,
        total,
        currency: &state.config.currency,
        idempotency_key: key.as_str(),
        cart_fingerprint: &fp,
        items: &items,
    };
    let Some(row) = store::insert(&state.db, &new)
        .instrument(step("checkout: record the order"))
        .await?
    else {
        // A concurrent request with the same key won the insert; it decides about the cart.
        let existing = store::by_key(&state.db, buyer.id, key.as_str())
            .await?
            .ok_or_else(|| Problem::internal(anyhow::anyhow!("order with key vanished")))?;
        return Ok((replay(state, existing, Some(&fp)).await?, false));
    };
    state.metrics.order(OrderStatus::Pending);
    let reserve: Vec<ReserveItem> = items
        .iter()
        .map(|i| ReserveItem {
            product_id: i.product_id,
            qty: i64::from(i.qty),
        })
        .collect();
    let (status, row) = match state
        .peers
        .reserve(id, &reserve)
        .instrument(step("checkout: reserve"))
        .await
    {
        Ok(Reserve::Done(r)) if r.status == ReservationStatus::Reserved => {
            if state.config.fault_after_reserve {
                tracing::warn!(order_id = %id, "ORDER_FAULT_AFTER_RESERVE: stopping after the reservation");
                state.metrics.failure("fault_injected");
                // As a crash would: the cart stays taken until the sweeper decides.
                return Ok(((StatusCode::ACCEPTED, store::order(&state.db, row).await?), false));
            }
            (
                StatusCode::CREATED,
                place(state, id)
                    .instrument(step("checkout: place"))
                    .await?
                    .unwrap_or(row),
            )
        }
        Ok(Reserve::Done(_)) => {
            // Released already: someone else decided this order; reject without stock.
            state.metrics.failure("released");
            (
                StatusCode::CREATED,
                reject(state, id, "the reservation was released").await?.unwrap_or(row),
            )
        }
        Ok(Reserve::Insufficient(shortfalls)) => {
            state.metrics.failure("insufficient_stock");
            let names: HashMap<Uuid, &str> = items.iter().map(|i| (i.product_id, i.sku.as_str())).collect();
            let reason = shortfalls
                .iter()
                .map(|s| {
                    let sku = names.get(&s.product_id).copied().unwrap_or("?");
                    format!(
                        "{sku}: {} (requested {}, available {})",
                        s.reason.as_str().replace('_', " "),
                        s.requested,
                        s.available
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            let reason = format!("not enough stock: {reason}");
            (StatusCode::CREATED, reject(state, id, &reason).await?.unwrap_or(row))
        }
        Ok(Reserve::Refused(detail)) => {
            tracing::warn!(order_id = %id, %detail, "catalog refused the reservation");
            state.metrics.failure("reservation_refused");
            let reason = format!("the catalog refused the reservation ({detail})");
            (StatusCode::CREATED, reject(state, id, &reason).await?.unwrap_or(row))
        }
        Err(e) => {
            tracing::warn!(order_id = %id, error = %e, "reservation outcome unknown; the sweeper will resolve the order");
            state.metrics.failure("catalog_unavailable");
            (StatusCode::ACCEPTED, row)
        }
    };
    let status = if row.status == OrderStatus::Pending {
        StatusCode::ACCEPTED
    } else {
        status
    };
    let give_back = row.status != OrderStatus::Placed;
    // `row` is the order this checkout wrote, with these items.
    Ok(((status, store::order_with(row, items)), give_back))
}

/// A step of the saga: a span of the checkout's trace while traces are exported.
fn step(name: &'static str) -> tracing::Span {
    tracing::debug_span!(target: SPAN_TARGET, "checkout step", otel.name = name)
}

fn pairs(lines: &[Line]) -> Vec<(Uuid, i64)> {
    lines.iter().map(|l| (l.product_id, l.qty)).collect()
}

/// Prices the cart's lines from the catalog; unknown, inactive or unpriceable lines are a 422.
async fn price(state: &AppState, lines: &[Line]) -> Result<Vec<Item>, Problem> {
    let ids: Vec<Uuid> = lines.iter().map(|l| l.product_id).collect();
    let products = state.peers.products(&ids).await.map_err(|e| {
        tracing::warn!(error = %e, "catalog unavailable at checkout");
        state.metrics.failure("catalog_unavailable");
        Problem::unavailable("the catalog is unavailable; try again shortly")
    })?;
    let mut errors = Vec::new();
    let mut items = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        let pointer = format!("/items/{i}");
        let Some(p) = products.iter().find(|p| p.id == line.product_id) else {
            errors.push(shop_kit::problem::FieldError::new(
                pointer,
                "this product no longer exists",
            ));
            continue;
        };
        let qty = i32::try_from(line.qty).ok().filter(|q| *q > 0);
        match qty {
            _ if !p.is_active => errors.push(shop_kit::problem::FieldError::new(
                pointer,
                format!("{} is no longer sold", p.sku),
            )),
            None => errors.push(shop_kit::problem::FieldError::new(pointer, "bad quantity")),
            Some(qty) => {
                let unit_price = p.price.round_dp(2);
                items.push(Item {
                    product_id: p.id,
                    sku: p.sku.clone(),
                    name: p.name.clone(),
                    unit_price,
                    qty,
                    subtotal: (unit_price * Decimal::from(qty)).round_dp(2),
                });
            }
        }
    }
    if !errors.is_empty() {
        state.metrics.failure("unsellable");
        return Err(Problem::validation(errors));
    }
    Ok(items)
}

/// `pending` → `placed`, then clears the cart (best effort). When the order was decided
/// meanwhile (the sweeper rejected it), the stock it no longer needs goes back.
async fn place(state: &AppState, id: Uuid) -> Result<Option<OrderRow>, Problem> {
    match store::resolve(&state.db, id, OrderStatus::Placed, None).await? {
        Some(row) => {
            // The cart was taken for this checkout: nothing to clear.
            state.metrics.placed(row.total, &row.currency);
            Ok(Some(row))
        }
        None => {
            let current = store::get(&state.db, id, None).await?;
            if current
                .as_ref()
                .is_some_and(|r| !matches!(r.status, OrderStatus::Placed | OrderStatus::Canceled))
                && let Err(e) = state.peers.release(id).await
            {
                tracing::error!(order_id = %id, error = %e, "cannot release the stock of an order decided meanwhile");
            }
            Ok(current)
        }
    }
}

async fn reject(state: &AppState, id: Uuid, reason: &str) -> Result<Option<OrderRow>, Problem> {
    let row = store::resolve(&state.db, id, OrderStatus::Rejected, Some(reason)).await?;
    if row.is_some() {
        state.metrics.order(OrderStatus::Rejected);
    }
    Ok(match row {
        Some(row) => Some(row),
        None => store::get(&state.db, id, None).await?,
    })
}

/// Cancels a placed order (the user's own with `user`) and gives its stock back, exactly
/// once. Canceling a canceled order returns it unchanged (retrying a release that failed).
pub async fn cancel(state: &AppState, id: Uuid, user: Option<Uuid>) -> Result<Order, Problem> {
    let row = match store::cancel(&state.db, id, user).await? {
        Some(row) => {
            state.metrics.order(OrderStatus::Canceled);
            row
        }
        None => {
            let row = store::get(&state.db, id, user)
                .await?
                .ok_or_else(|| Problem::not_found("no such order"))?;
            if row.status != OrderStatus::Canceled {
                return Err(Problem::conflict(
                    "order-not-cancelable",
                    format!("only placed orders can be canceled; this one is {}", row.status),
                ));
            }
            row
        }
    };
    let row = if row.released_at.is_none() {
        release(state, row).await?
    } else {
        row
    };
    Ok(store::order(&state.db, row).await?)
}

/// Releases a canceled order's stock and records it; on failure the sweeper retries.
async fn release(state: &AppState, row: OrderRow) -> Result<OrderRow, sqlx::Error> {
    match state.peers.release(row.id).await {
        Ok(_) => Ok(store::mark_released(&state.db, row.id).await?.unwrap_or(row)),
        Err(e) => {
            tracing::warn!(order_id = %row.id, error = %e, "release failed; the sweeper will retry");
            Ok(row)
        }
    }
}

/// Runs the sweeper forever, every `interval`.
pub async fn sweeper(state: AppState) {
    let interval = state.config.sweep_interval;
    loop {
        tokio::time::sleep(interval).await;
        if let Err(e) = sweep(&state).await {
            tracing::warn!(error = %e, "sweep failed; retrying next round");
        }
    }
}

/// The reason of a placed order whose reservation expired before the sweeper confirmed it.
pub const LAPSED: &str = "the stock hold expired before the order was confirmed";

/// One round: resolves orders pending for longer than the grace period, retries the releases
/// of canceled orders and confirms the reservations of placed ones. Rows are locked `FOR
/// UPDATE SKIP LOCKED`, so several replicas share the work without doing any twice.
pub async fn sweep(state: &AppState) -> anyhow::Result<()> {
    resolve_pending(state).await?;
    retry_releases(state).await?;
    for _ in 0..CONFIRM_ROUNDS {
        if confirm_placed(state).await? < CONFIRM_BATCH {
            break;
        }
    }
    Ok(())
}

/// The most orders confirmed in one call to the catalog, and the most calls in one round.
const CONFIRM_BATCH: usize = 1_000;
const CONFIRM_ROUNDS: usize = 20;

/// Confirms the reservations of up to [`CONFIRM_BATCH`] placed orders not confirmed yet, in
/// one call; returns how many it asked about. An order whose reservation is gone (it expired
/// while the catalog heard nothing, e.g. this service was down longer than the catalog's
/// `RESERVATION_TTL_SECS`) holds no stock: it is canceled with [`LAPSED`] as its reason.
async fn confirm_placed(state: &AppState) -> anyhow::Result<usize> {
    let mut tx = state.db.begin().await?;
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM orders WHERE status = 'placed' AND stock_confirmed_at IS NULL
         ORDER BY updated_at LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(i64::try_from(CONFIRM_BATCH).unwrap_or(i64::MAX))
    .fetch_all(&mut *tx)
    .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let answer = match state.peers.confirm(&ids).await {
        Ok(answer) => answer,
        Err(e) => {
            tracing::warn!(orders = ids.len(), error = %e, "cannot confirm reservations; retrying next round");
            state.metrics.swept("unreachable");
            return Ok(0);
        }
    };
    sqlx::query("UPDATE orders SET stock_confirmed_at = now() WHERE id = ANY($1)")
        .bind(&answer.confirmed)
        .execute(&mut *tx)
        .await?;
    state.metrics.swept_n("confirmed", answer.confirmed.len());
    let lapsed: Vec<Uuid> = answer.released.into_iter().chain(answer.unknown).collect();
    let canceled: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE orders SET status = 'canceled', reason = $2, released_at = now(), stock_confirmed_at = now(),
                updated_at = now()
         WHERE id = ANY($1) AND status = 'placed' RETURNING id",
    )
    .bind(&lapsed)
    .bind(LAPSED)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    for id in canceled {
        tracing::error!(order_id = %id, "placed order canceled: {LAPSED}");
        state.metrics.order(OrderStatus::Canceled);
        state.metrics.swept("lapsed");
    }
    Ok(ids.len())
}

async fn resolve_pending(state: &AppState) -> anyhow::Result<()> {
    let grace = state.config.sweep_grace.max(Duration::from_secs(1));
    let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
    let mut tx = state.db.begin().await?;
    let pending: Vec<(Uuid, Uuid, String)> = sqlx::query_as(
        "SELECT id, user_id, idempotency_key FROM orders WHERE status = 'pending' AND updated_at < now() - make_interval(secs => $1 / 1000.0)
         ORDER BY created_at LIMIT 20 FOR UPDATE SKIP LOCKED",
    )
    .bind(grace_ms)
    .fetch_all(&mut *tx)
    .await?;
    for (id, user, key) in pending {
        let decision = match state.peers.reservation(id).await {
            Ok(Some(r)) if r.status == ReservationStatus::Reserved => (OrderStatus::Placed, None),
            Ok(Some(_)) => (OrderStatus::Rejected, Some("the reservation was released")),
            // No reservation: bar the order at the catalog before giving up on it, so a
            // reservation still on its way cannot take stock for a rejected order. If one
            // arrived in between, the release gives its stock back.
            Ok(None) => match state.peers.release(id).await {
                Ok(false) => (OrderStatus::Rejected, Some(INTERRUPTED)),
                Ok(true) => (OrderStatus::Rejected, Some("the reservation was released")),
                Err(e) => {
                    tracing::warn!(order_id = %id, error = %e, "catalog unreachable; order stays pending");
                    state.metrics.swept("unreachable");
                    continue;
                }
            },
            Err(e) => {
                tracing::warn!(order_id = %id, error = %e, "catalog unreachable; order stays pending");
                state.metrics.swept("unreachable");
                continue;
            }
        };
        let done: Option<(Decimal, String)> = sqlx::query_as(
            "UPDATE orders SET status = $2, reason = $3, updated_at = now() WHERE id = $1 AND status = 'pending'
             RETURNING total, currency",
        )
        .bind(id)
        .bind(decision.0.as_str())
        .bind(decision.1)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((total, currency)) = done {
            tracing::info!(order_id = %id, status = %decision.0, "sweeper resolved a pending order");
            if decision.0 == OrderStatus::Placed {
                state.metrics.placed(total, &currency);
            } else {
                state.metrics.order(decision.0);
            }
            state.metrics.swept(decision.0.as_str());
            // Placed: empty the cart (a checkout that answered 202 gave it back). Rejected: give
            // back the cart the interrupted checkout took (a no-op when it already did).
            let cart = if decision.0 == OrderStatus::Placed {
                state.peers.clear_cart(user).await
            } else {
                state.peers.restore_cart(user, &key).await
            };
            if let Err(e) = cart {
                tracing::warn!(order_id = %id, error = %e, "cannot settle the cart of a swept order");
            }
        }
    }
    tx.commit().await?;
    Ok(())
}

async fn retry_releases(state: &AppState) -> anyhow::Result<()> {
    let mut tx = state.db.begin().await?;
    let unreleased: Vec<(Uuid,)> = sqlx::query_as(
        "SELECT id FROM orders WHERE status = 'canceled' AND released_at IS NULL
         ORDER BY updated_at LIMIT 20 FOR UPDATE SKIP LOCKED",
    )
    .fetch_all(&mut *tx)
    .await?;
    for (id,) in unreleased {
        match state.peers.release(id).await {
            Ok(_) => {
                sqlx::query("UPDATE orders SET released_at = now() WHERE id = $1 AND released_at IS NULL")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                state.metrics.swept("released");
            }
            Err(e) => {
                tracing::warn!(order_id = %id, error = %e, "release still failing");
                state.metrics.swept("unreachable");
            }
        }
    }
    tx.commit().await?;
    Ok(())
}
