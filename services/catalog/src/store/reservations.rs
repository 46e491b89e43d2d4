//! Stock reservations: all or nothing, keyed by order id, released at most once.
//!
//! Reserving locks the products' rows in id order (so concurrent multi-item reservations
//! cannot deadlock), checks every line, then decrements them all; any shortfall rolls the
//! whole transaction back. The reservation row is inserted first with `ON CONFLICT DO
//! NOTHING`: a concurrent request with the same order id waits for the first to finish and
//! then sees its result, which is what makes the call idempotent.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
pub use shop_api::{Reservation, ReservationItem as Item, ReservationStatus, Shortfall, ShortfallReason};
use sqlx::PgPool;
use sqlx::types::Json;
use uuid::Uuid;

/// Merges lines of the same product and sorts by product id: the canonical form that is stored
/// and compared.
pub fn normalise(items: &[Item]) -> Vec<Item> {
    let mut merged: BTreeMap<Uuid, i64> = BTreeMap::new();
    for i in items {
        *merged.entry(i.product_id).or_default() += i64::from(i.qty);
    }
    merged
        .into_iter()
        .map(|(product_id, qty)| Item {
            product_id,
            qty: i32::try_from(qty).unwrap_or(i32::MAX),
        })
        .collect()
}

/// A reservation's row: `status` is text in the database, checked by a constraint and read
/// into [`ReservationStatus`].
#[derive(Debug, Clone, sqlx::FromRow)]
struct Row {
    order_id: Uuid,
    #[sqlx(try_from = "String")]
    status: ReservationStatus,
    items: Json<Vec<Item>>,
    reserved_by: String,
    created_at: DateTime<Utc>,
    released_at: Option<DateTime<Utc>>,
    confirmed_at: Option<DateTime<Utc>>,
}

impl From<Row> for Reservation {
    fn from(r: Row) -> Self {
        Self {
            order_id: r.order_id,
            status: r.status,
            items: r.items.0,
            reserved_by: r.reserved_by,
            created_at: r.created_at,
            released_at: r.released_at,
            confirmed_at: r.confirmed_at,
        }
    }
}

/// What a reservation request came to.
#[derive(Debug)]
pub enum Reserved {
    /// Stock was taken now.
    New(Reservation),
    /// The same order id with the same items was reserved before; nothing changed.
    Replayed(Reservation),
    /// The same order id was used with other items.
    Conflict(Reservation),
    /// Nothing was reserved.
    Rejected(Vec<Shortfall>),
}

async fn fetch<'e, E: sqlx::PgExecutor<'e>>(db: E, order_id: Uuid) -> Result<Option<Reservation>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT order_id, status, items, reserved_by, created_at, released_at, confirmed_at FROM reservations WHERE order_id = $1",
    )
    .bind(order_id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(Reservation::from))
}

/// The reservation of an order.
#[tracing::instrument(target = "shop::span", level = "debug", name = "db reservations.get", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn get(db: &PgPool, order_id: Uuid) -> Result<Option<Reservation>, sqlx::Error> {
    fetch(db, order_id).await
}

fn split(items: &[Item]) -> (Vec<Uuid>, Vec<i32>) {
    items.iter().map(|i| (i.product_id, i.qty)).unzip()
}

/// Reserves `items` (normalised) for `order_id`, all or nothing.
#[tracing::instrument(target = "shop::span", level = "debug", name = "db reservations.reserve", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn reserve(db: &PgPool, order_id: Uuid, items: &[Item], by: &str) -> Result<Reserved, sqlx::Error> {
    let mut tx = db.begin().await?;
    let inserted: Option<DateTime<Utc>> = sqlx::query_scalar(
        "INSERT INTO reservations (order_id, items, reserved_by) VALUES ($1, $2, $3) ON CONFLICT (order_id) DO NOTHING
         RETURNING created_at",
    )
    .bind(order_id)
    .bind(Json(items))
    .bind(by)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(created_at) = inserted else {
        let existing = fetch(&mut *tx, order_id).await?.ok_or(sqlx::Error::RowNotFound)?;
        tx.commit().await?;
        // A barred order (see `release`) was decided without stock: it gets its `released`,
        // empty reservation, as a replay of a reservation that has been released.
        return Ok(if existing.items == items || is_barred(&existing) {
            Reserved::Replayed(existing)
        } else {
            Reserved::Conflict(existing)
        });
    };
    let (ids, qtys) = split(items);
    let rows: Vec<(Uuid, i32, bool)> =
        sqlx::query_as("SELECT id, stock, is_active FROM products WHERE id = ANY($1) ORDER BY id FOR UPDATE")
            .bind(&ids)
            .fetch_all(&mut *tx)
            .await?;
    let shortfalls: Vec<Shortfall> = items
        .iter()
        .filter_map(|item| {
            let row = rows.iter().find(|(id, _, _)| *id == item.product_id);
            let (available, reason) = match row {
                None => (0, ShortfallReason::UnknownProduct),
                Some((_, _, false)) => (0, ShortfallReason::Inactive),
                Some((_, stock, true)) if *stock < item.qty => (*stock, ShortfallReason::InsufficientStock),
                Some(_) => return None,
            };
            Some(Shortfall {
                product_id: item.product_id,
                requested: item.qty,
                available,
                reason,
            })
        })
        .collect();
    if !shortfalls.is_empty() {
        tx.rollback().await?;
        return Ok(Reserved::Rejected(shortfalls));
    }
    sqlx::query(
        "UPDATE products p SET stock = p.stock - i.qty, updated_at = now()
         FROM unnest($1::uuid[], $2::int[]) AS i(id, qty) WHERE p.id = i.id",
    )
    .bind(&ids)
    .bind(&qtys)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Reserved::New(Reservation {
        order_id,
        status: ReservationStatus::Reserved,
        items: items.to_vec(),
        reserved_by: by.to_owned(),
        created_at,
        released_at: None,
        confirmed_at: None,
    }))
}

/// What a release came to.
#[derive(Debug)]
pub enum Released {
    /// Stock was given back now.
    Now(Reservation),
    /// It had been released before; nothing changed.
    Already(Reservation),
    NotFound,
}

/// Whether `r` is the mark `release` leaves for an order that never reserved: `released`, with
/// no items (a real reservation has at least one).
pub fn is_barred(r: &Reservation) -> bool {
    r.items.is_empty()
}

/// Gives the stock of `order_id`'s reservation back, exactly once.
///
/// An order that never reserved is `NotFound`, and is barred from then on: a `released`
/// reservation without items is recorded in its place, so a reservation for it that arrives
/// later (a request the order service gave up waiting for, delivered late) takes no stock and
/// answers `released`. This closes the window in which the order service's sweeper rejects an
/// order it found without a reservation while that reservation is still on its way.
#[tracing::instrument(target = "shop::span", level = "debug", name = "db reservations.release", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn release(db: &PgPool, order_id: Uuid) -> Result<Released, sqlx::Error> {
    let mut tx = db.begin().await?;
    let released: Option<Row> = sqlx::query_as(
        "UPDATE reservations SET status = 'released', released_at = now()
         WHERE order_id = $1 AND status = 'reserved'
         RETURNING order_id, status, items, reserved_by, created_at, released_at, confirmed_at",
    )
    .bind(order_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(reservation) = released.map(Reservation::from) else {
        match fetch(&mut *tx, order_id).await? {
            Some(existing) if is_barred(&existing) => {
                tx.commit().await?;
                return Ok(Released::NotFound);
            }
            Some(existing) => {
                tx.commit().await?;
                return Ok(Released::Already(existing));
            }
            None => {}
        }
        // Waits for a reservation of this order being written now; if that one commits, this
        // inserts nothing and the release starts again to give its stock back.
        let barred = sqlx::query(
            "INSERT INTO reservations (order_id, status, items, reserved_by, released_at)
             VALUES ($1, 'released', '[]', 'release', now()) ON CONFLICT (order_id) DO NOTHING",
        )
        .bind(order_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        tx.commit().await?;
        return if barred {
            Ok(Released::NotFound)
        } else {
            Box::pin(release(db, order_id)).await
        };
    };
    restock(&mut tx, &reservation).await?;
    tx.commit().await?;
    Ok(Released::Now(reservation))
}

/// Gives the items of `reservation` back to stock, in `tx`.
async fn restock(tx: &mut sqlx::PgConnection, reservation: &Reservation) -> Result<(), sqlx::Error> {
    let (ids, qtys) = split(&reservation.items);
    // Same lock order as `reserve`.
    sqlx::query("SELECT id FROM products WHERE id = ANY($1) ORDER BY id FOR UPDATE")
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE products p SET stock = p.stock + i.qty, updated_at = now()
         FROM unnest($1::uuid[], $2::int[]) AS i(id, qty) WHERE p.id = i.id",
    )
    .bind(&ids)
    .bind(&qtys)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// What [`confirm`] did with each order id.
pub use shop_api::ConfirmResponse as Confirmed;

/// Confirms the reservations of `order_ids`: they hold their stock until released, and never
/// expire. An order id whose reservation went back first (expired or released) is answered
/// `released`, one never reserved `unknown`.
#[tracing::instrument(target = "shop::span", level = "debug", name = "db reservations.confirm", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn confirm(db: &PgPool, order_ids: &[Uuid]) -> Result<Confirmed, sqlx::Error> {
    // The final SELECT reads the snapshot from before the UPDATE: an unconfirmed reservation
    // that the UPDATE did not take was expired meanwhile (the UPDATE waited for it).
    let rows: Vec<(Uuid, String)> = sqlx::query_as(
        "WITH asked AS (SELECT DISTINCT unnest($1::uuid[]) AS order_id),
              confirmed AS (
                UPDATE reservations r SET confirmed_at = now() FROM asked a
                WHERE r.order_id = a.order_id AND r.status = 'reserved' AND r.confirmed_at IS NULL
                RETURNING r.order_id)
         SELECT a.order_id, CASE
             WHEN c.order_id IS NOT NULL THEN 'confirmed'
             WHEN r.status = 'reserved' AND r.confirmed_at IS NOT NULL THEN 'confirmed'
             WHEN r.order_id IS NULL OR r.items = '[]' THEN 'unknown'
             ELSE 'released' END
         FROM asked a
         LEFT JOIN reservations r ON r.order_id = a.order_id
         LEFT JOIN confirmed c ON c.order_id = a.order_id
         ORDER BY a.order_id",
    )
    .bind(order_ids)
    .fetch_all(db)
    .await?;
    let mut answer = Confirmed::default();
    for (order_id, outcome) in rows {
        match outcome.as_str() {
            "confirmed" => answer.confirmed.push(order_id),
            "released" => answer.released.push(order_id),
            _ => answer.unknown.push(order_id),
        }
    }
    Ok(answer)
}

/// Releases, one transaction each, at most `limit` reservations still unconfirmed `ttl` after
/// they were made, oldest first; returns them. Replicas share the work (`SKIP LOCKED`), and a
/// confirmation that commits first keeps its reservation.
#[tracing::instrument(target = "shop::span", level = "debug", name = "db reservations.expire", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn expire(db: &PgPool, ttl: std::time::Duration, limit: usize) -> Result<Vec<Reservation>, sqlx::Error> {
    let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
    let mut expired = Vec::new();
    while expired.len() < limit {
        let mut tx = db.begin().await?;
        let row: Option<Row> = sqlx::query_as(
            "UPDATE reservations SET status = 'released', released_at = now()
             WHERE order_id = (
                SELECT order_id FROM reservations
                WHERE status = 'reserved' AND confirmed_at IS NULL
                  AND created_at < now() - make_interval(secs => $1 / 1000.0)
                ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
             RETURNING order_id, status, items, reserved_by, created_at, released_at, confirmed_at",
        )
        .bind(ttl_ms)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(reservation) = row.map(Reservation::from) else {
            tx.rollback().await?;
            break;
        };
        restock(&mut tx, &reservation).await?;
        tx.commit().await?;
        expired.push(reservation);
    }
    Ok(expired)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalising_merges_and_sorts() {
        let a = Uuid::from_u128(2);
        let b = Uuid::from_u128(1);
        let n = normalise(&[
            Item { product_id: a, qty: 1 },
            Item { product_id: b, qty: 2 },
            Item { product_id: a, qty: 3 },
        ]);
        assert_eq!(n, vec![Item { product_id: b, qty: 2 }, Item { product_id: a, qty: 4 }]);
    }
}
