//! Categories.

use chrono::{DateTime, Utc};
pub use shop_api::Category;
use sqlx::PgPool;
use uuid::Uuid;

/// A category's row, shown as [`Category`].
#[derive(Debug, Clone, sqlx::FromRow)]
struct Row {
    id: Uuid,
    slug: String,
    name: String,
    description: Option<String>,
    product_count: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Row> for Category {
    fn from(r: Row) -> Self {
        Self {
            id: r.id,
            slug: r.slug,
            name: r.name,
            description: r.description,
            product_count: r.product_count,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

macro_rules! columns {
    () => {
        "c.id, c.slug, c.name, c.description, c.created_at, c.updated_at,
         (SELECT count(*) FROM product_categories pc JOIN products p ON p.id = pc.product_id
           WHERE pc.category_id = c.id AND p.is_active) AS product_count"
    };
}

/// Every category, by name.
#[tracing::instrument(target = "shop::span", level = "debug", name = "db categories.list", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn list(db: &PgPool) -> Result<Vec<Category>, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM categories c ORDER BY c.name, c.id"
    ))
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Category::from).collect())
}

/// One category.
#[tracing::instrument(target = "shop::span", level = "debug", name = "db categories.get", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn get(db: &PgPool, id: Uuid) -> Result<Option<Category>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(concat!("SELECT ", columns!(), " FROM categories c WHERE c.id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(Category::from))
}

/// Creates a category.
#[tracing::instrument(target = "shop::span", level = "debug", name = "db categories.insert", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn insert(db: &PgPool, slug: &str, name: &str, description: Option<&str>) -> Result<Category, sqlx::Error> {
    let id = Uuid::now_v7();
    sqlx::query("INSERT INTO categories (id, slug, name, description) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(slug)
        .bind(name)
        .bind(description)
        .execute(db)
        .await?;
    get(db, id).await?.ok_or(sqlx::Error::RowNotFound)
}

/// Changes a category; `None` keeps a field, `Some(None)` clears the description.
#[tracing::instrument(target = "shop::span", level = "debug", name = "db categories.update", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn update(
    db: &PgPool,
    id: Uuid,
    slug: Option<&str>,
    name: Option<&str>,
    description: Option<Option<&str>>,
) -> Result<Option<Category>, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE categories SET slug = COALESCE($2, slug), name = COALESCE($3, name),
             description = CASE WHEN $4 THEN $5 ELSE description END, updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(slug)
    .bind(name)
    .bind(description.is_some())
    .bind(description.flatten())
    .execute(db)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(None);
    }
    get(db, id).await
}

/// Deletes a category (its products stay, without it). Whether it existed.
#[tracing::instrument(target = "shop::span", level = "debug", name = "db categories.delete", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn delete(db: &PgPool, id: Uuid) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM categories WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?
        .rows_affected()
        == 1)
}

/// The ids of these slugs; the second list holds the slugs that do not exist.
#[tracing::instrument(target = "shop::span", level = "debug", name = "db categories.resolve", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn resolve(db: &PgPool, slugs: &[String]) -> Result<(Vec<Uuid>, Vec<String>), sqlx::Error> {
    let found: Vec<(Uuid, String)> = sqlx::query_as("SELECT id, slug FROM categories WHERE slug = ANY($1)")
        .bind(slugs)
        .fetch_all(db)
        .await?;
    let missing = slugs
        .iter()
        .filter(|s| !found.iter().any(|(_, f)| f == *s))
        .cloned()
        .collect();
    Ok((found.into_iter().map(|(id, _)| id).collect(), missing))
}
