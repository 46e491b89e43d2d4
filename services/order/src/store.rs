//! The `order` database. Every query binds its parameters; the admin filters are assembled
//! with `QueryBuilder`. Status changes are conditional (`… WHERE status = 'pending'`), so the
//! checkout, a cancel and the sweeper never overwrite each other's decisions.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
pub use shop_api::{Day, Order, OrderItem as Item, OrderStatus, Paging, Stats, TopProduct};
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

/// The columns of [`OrderRow`], as a literal so queries stay `&'static str`.
macro_rules! order_columns {
    () => {
        "id, user_id, user_email, status, total, currency, reason, idempotency_key, cart_fingerprint, released_at, created_at, updated_at"
    };
}

/// An order's row; `status` is text in the database (checked by a constraint).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub user_email: String,
    #[sqlx(try_from = "String")]
    pub status: OrderStatus,
    pub total: Decimal,
    pub currency: String,
    pub reason: Option<String>,
    pub idempotency_key: String,
    pub cart_fingerprint: String,
    pub released_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An order as the API shows it: its row and its items.
fn order_of(row: OrderRow, items: Vec<Item>) -> Order {
    Order {
        id: row.id,
        user_id: row.user_id,
        user_email: row.user_email,
        status: row.status,
        total: row.total,
        currency: row.currency,
        reason: row.reason,
        items,
        released_at: row.released_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// A new order.
#[derive(Debug)]
pub struct NewOrder<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub user_email: &'a str,
    pub total: Decimal,
    pub currency: &'a str,
    pub idempotency_key: &'a str,
    pub cart_fingerprint: &'a str,
    pub items: &'a [Item],
}

async fn items_of(db: &PgPool, ids: &[Uuid]) -> Result<Vec<(Uuid, Item)>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        order_id: Uuid,
        product_id: Uuid,
        sku: String,
        name: String,
        unit_price: Decimal,
        qty: i32,
        subtotal: Decimal,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT order_id, product_id, sku, name, unit_price, qty, subtotal FROM order_items
         WHERE order_id = ANY($1) ORDER BY order_id, line",
    )
    .bind(ids)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let item = Item {
                product_id: r.product_id,
                sku: r.sku,
                name: r.name,
                unit_price: r.unit_price,
                qty: r.qty,
                subtotal: r.subtotal,
            };
            (r.order_id, item)
        })
        .collect())
}

/// An order whose items the caller holds (it wrote them), without reading them back.
pub fn order_with(row: OrderRow, items: Vec<Item>) -> Order {
    order_of(row, items)
}

/// Attaches the items to rows.
#[tracing::instrument(target = "shop::span", level = "debug", name = "db orders.with_items", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn with_items(db: &PgPool, rows: Vec<OrderRow>) -> Result<Vec<Order>, sqlx::Error> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut items = items_of(db, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let mine = items.extract_if(.., |(id, _)| *id == row.id).map(|(_, i)| i).collect();
            order_of(row, mine)
        })
        .collect())
}

/// One order with its items.
#[tracing::instrument(target = "shop::span", level = "debug", name = "db orders.order", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn order(db: &PgPool, row: OrderRow) -> Result<Order, sqlx::Error> {
    let mut orders = with_items(db, vec![row]).await?;
    orders.pop().ok_or(sqlx::Error::RowNotFound)
}

/// Inserts a `pending` order and its items; `None` when the user already has an order with
/// this idempotency key.
#[tracing::instrument(target = "shop::span", level = "debug", name = "db orders.insert", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn insert(db: &PgPool, new: &NewOrder<'_>) -> Result<Option<OrderRow>, sqlx::Error> {
    // One statement (one round trip, its own transaction): the items go in only when the order
    // did.
    let column = |f: fn(&Item) -> String| new.items.iter().map(f).collect::<Vec<_>>();
    let products: Vec<Uuid> = new.items.iter().map(|i| i.product_id).collect();
    let prices: Vec<Decimal> = new.items.iter().map(|i| i.unit_price).collect();
    let qtys: Vec<i32> = new.items.iter().map(|i| i.qty).collect();
    let subtotals: Vec<Decimal> = new.items.iter().map(|i| i.subtotal).collect();
    sqlx::query_as(concat!(
        "WITH o AS (
            INSERT INTO orders (id, user_id, user_email, status, total, currency, idempotency_key, cart_fingerprint)
            VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7)
            ON CONFLICT (user_id, idempotency_key) DO NOTHING RETURNING ",
        order_columns!(),
        "), i AS (
            INSERT INTO order_items (order_id, line, product_id, sku, name, unit_price, qty, subtotal)
            SELECT o.id, (l.n - 1)::int, l.product_id, l.sku, l.name, l.unit_price, l.qty, l.subtotal
            FROM o, unnest($8::uuid[], $9::text[], $10::text[], $11::numeric[], $12::int[], $13::numeric[])
                 WITH ORDINALITY AS l(product_id, sku, name, unit_price, qty, subtotal, n))
         SELECT ",
        order_columns!(),
        " FROM o"
    ))
    .bind(new.id)
    .bind(new.user_id)
    .bind(new.user_email)
    .bind(new.total)
    .bind(new.currency)
    .bind(new.idempotency_key)
    .bind(new.cart_fingerprint)
    .bind(products)
    .bind(column(|i| i.sku.clone()))
    .bind(column(|i| i.name.clone()))
    .bind(prices)
    .bind(qtys)
    .bind(subtotals)
    .fetch_optional(db)
    .await
}

/// The user's order with this idempotency key.
#[tracing::instrument(target = "shop::span", level = "debug", name = "db orders.by_key", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn by_key(db: &PgPool, user: Uuid, key: &str) -> Result<Option<OrderRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        order_columns!(),
        " FROM orders WHERE user_id = $1 AND idempotency_key = $2"
    ))
    .bind(user)
    .bind(key)
    .fetch_optional(db)
    .await
}

/// An order by id; with `user`, only if it is theirs.
#[tracing::instrument(target = "shop::span", level = "debug", name = "db orders.get", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn get(db: &PgPool, id: Uuid, user: Option<Uuid>) -> Result<Option<OrderRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        order_columns!(),
        " FROM orders WHERE id = $1 AND ($2::uuid IS NULL OR user_id = $2)"
    ))
    .bind(id)
    .bind(user)
    .fetch_optional(db)
    .await
}

/// Moves a `pending` order to `placed` or `rejected`; `None` if it was no longer pending.
#[tracing::instrument(target = "shop::span", level = "debug", name = "db orders.resolve", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn resolve(
    db: &PgPool,
    id: Uuid,
    status: OrderStatus,
    reason: Option<&str>,
) -> Result<Option<OrderRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE orders SET status = $2, reason = $3, updated_at = now() WHERE id = $1 AND status = 'pending' RETURNING ",
        order_columns!()
    ))
    .bind(id)
    .bind(status.as_str())
    .bind(reason)
    .fetch_optional(db)
    .await
}

/// Cancels a `placed` order (the user's own, with `user`); `None` if it was not placed.
#[tracing::instrument(target = "shop::span", level = "debug", name = "db orders.cancel", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn cancel(db: &PgPool, id: Uuid, user: Option<Uuid>) -> Result<Option<OrderRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE orders SET status = 'canceled', updated_at = now()
         WHERE id = $1 AND ($2::uuid IS NULL OR user_id = $2) AND status = 'placed' RETURNING ",
        order_columns!()
    ))
    .bind(id)
    .bind(user)
    .fetch_optional(db)
    .await
}

/// Records that a canceled order's stock went back (once).
#[tracing::instrument(target = "shop::span", level = "debug", name = "db orders.mark_released", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn mark_released(db: &PgPool, id: Uuid) -> Result<Option<OrderRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE orders SET released_at = COALESCE(released_at, now()) WHERE id = $1 RETURNING ",
        order_columns!()
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Filters of a listing.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub user_id: Option<Uuid>,
    pub status: Option<OrderStatus>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

fn push_filter(qb: &mut QueryBuilder<Postgres>, f: &Filter) {
    qb.push(" WHERE true");
    if let Some(user) = f.user_id {
        qb.push(" AND user_id = ").push_bind(user);
    }
    if let Some(status) = f.status {
        qb.push(" AND status = ").push_bind(status.as_str());
    }
    if let Some(from) = f.from {
        qb.push(" AND created_at >= ").push_bind(from).push("::date");
    }
    if let Some(to) = f.to {
        qb.push(" AND created_at < ").push_bind(to).push("::date + 1");
    }
}

/// A page of orders, newest first, and the total count.
#[tracing::instrument(target = "shop::span", level = "debug", name = "db orders.list", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn list(db: &PgPool, f: &Filter, paging: Paging) -> Result<(Vec<Order>, i64), sqlx::Error> {
    let mut count: QueryBuilder<Postgres> = QueryBuilder::new("SELECT count(*) FROM orders");
    push_filter(&mut count, f);
    let total: i64 = count.build_query_scalar().fetch_one(db).await?;
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(concat!("SELECT ", order_columns!(), " FROM orders"));
    push_filter(&mut qb, f);
    qb.push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .push_bind(paging.limit())
        .push(" OFFSET ")
        .push_bind(paging.offset());
    let rows: Vec<OrderRow> = qb.build_query_as().fetch_all(db).await?;
    Ok((with_items(db, rows).await?, total))
}

/// A best seller's row.
#[derive(sqlx::FromRow)]
struct TopRow {
    product_id: Uuid,
    sku: String,
    name: String,
    qty: i64,
    revenue: Decimal,
}

impl From<TopRow> for TopProduct {
    fn from(r: TopRow) -> Self {
        Self {
            product_id: r.product_id,
            sku: r.sku,
            name: r.name,
            qty: r.qty,
            revenue: r.revenue,
        }
    }
}

macro_rules! top_query {
    ($order:literal) => {
        concat!(
            "SELECT i.product_id, max(i.sku) AS sku, max(i.name) AS name, sum(i.qty)::int8 AS qty, sum(i.subtotal) AS revenue
             FROM order_items i JOIN orders o ON o.id = i.order_id
             WHERE o.status = 'placed' AND o.created_at >= $1::date AND o.created_at < $2::date + 1
             GROUP BY i.product_id ORDER BY ",
            $order,
            " DESC, i.product_id LIMIT 5"
        )
    };
}

/// Sales from `from` to `to` (whole UTC days, inclusive).
#[tracing::instrument(target = "shop::span", level = "debug", name = "db orders.stats", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn stats(db: &PgPool, from: NaiveDate, to: NaiveDate) -> Result<Stats, sqlx::Error> {
    let (orders, revenue): (i64, Decimal) = sqlx::query_as(
        "SELECT count(*), COALESCE(sum(total), 0) FROM orders
         WHERE status = 'placed' AND created_at >= $1::date AND created_at < $2::date + 1",
    )
    .bind(from)
    .bind(to)
    .fetch_one(db)
    .await?;
    let average_order_value = if orders == 0 {
        Decimal::ZERO
    } else {
        (revenue / Decimal::from(orders)).round_dp(2)
    };
    let top = |rows: Vec<TopRow>| rows.into_iter().map(TopProduct::from).collect::<Vec<_>>();
    let top_by_quantity = top(sqlx::query_as(top_query!("sum(i.qty)"))
        .bind(from)
        .bind(to)
        .fetch_all(db)
        .await?);
    let top_by_revenue = top(sqlx::query_as(top_query!("sum(i.subtotal)"))
        .bind(from)
        .bind(to)
        .fetch_all(db)
        .await?);
    let daily: Vec<(NaiveDate, i64, Decimal)> = sqlx::query_as(
        "SELECT d::date AS date, count(o.id) AS orders, COALESCE(sum(o.total), 0) AS revenue
         FROM generate_series((now() AT TIME ZONE 'UTC')::date - 6, (now() AT TIME ZONE 'UTC')::date, interval '1 day') AS d
         LEFT JOIN orders o ON o.status = 'placed' AND (o.created_at AT TIME ZONE 'UTC')::date = d::date
         GROUP BY d ORDER BY d",
    )
    .fetch_all(db)
    .await?;
    let daily = daily
        .into_iter()
        .map(|(date, orders, revenue)| Day { date, orders, revenue })
        .collect();
    Ok(Stats {
        from,
        to,
        orders,
        revenue,
        average_order_value,
        top_by_quantity,
        top_by_revenue,
        daily,
        low_stock: None,
    })
}
