//! Attribute templates: a name and a JSON Schema for product attributes.

use chrono::{DateTime, Utc};
pub use shop_api::Template;
use sqlx::PgPool;
use uuid::Uuid;

/// A template's row, shown as [`Template`].
#[derive(Debug, Clone, sqlx::FromRow)]
struct Row {
    id: Uuid,
    name: String,
    description: Option<String>,
    schema: serde_json::Value,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Row> for Template {
    fn from(r: Row) -> Self {
        Self {
            id: r.id,
            name: r.name,
            description: r.description,
            schema: r.schema,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Every template, by name.
#[tracing::instrument(target = "shop::span", level = "debug", name = "db templates.list", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn list(db: &PgPool) -> Result<Vec<Template>, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, name, description, schema, created_at, updated_at FROM templates ORDER BY lower(name)",
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Template::from).collect())
}

/// One template.
#[tracing::instrument(target = "shop::span", level = "debug", name = "db templates.get", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn get(db: &PgPool, id: Uuid) -> Result<Option<Template>, sqlx::Error> {
    let row: Option<Row> =
        sqlx::query_as("SELECT id, name, description, schema, created_at, updated_at FROM templates WHERE id = $1")
            .bind(id)
            .fetch_optional(db)
            .await?;
    Ok(row.map(Template::from))
}

/// Creates a template (the schema was validated by the caller).
#[tracing::instrument(target = "shop::span", level = "debug", name = "db templates.insert", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn insert(
    db: &PgPool,
    name: &str,
    description: Option<&str>,
    schema: &serde_json::Value,
) -> Result<Template, sqlx::Error> {
    let row: Row = sqlx::query_as(
        "INSERT INTO templates (id, name, description, schema) VALUES ($1, $2, $3, $4)
         RETURNING id, name, description, schema, created_at, updated_at",
    )
    .bind(Uuid::now_v7())
    .bind(name)
    .bind(description)
    .bind(schema)
    .fetch_one(db)
    .await?;
    Ok(row.into())
}

/// Changes a template; `None` keeps a field.
#[tracing::instrument(target = "shop::span", level = "debug", name = "db templates.update", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn update(
    db: &PgPool,
    id: Uuid,
    name: Option<&str>,
    description: Option<Option<&str>>,
    schema: Option<&serde_json::Value>,
) -> Result<Option<Template>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(
        "UPDATE templates SET name = COALESCE($2, name),
             description = CASE WHEN $3 THEN $4 ELSE description END,
             schema = COALESCE($5, schema), updated_at = now()
         WHERE id = $1 RETURNING id, name, description, schema, created_at, updated_at",
    )
    .bind(id)
    .bind(name)
    .bind(description.is_some())
    .bind(description.flatten())
    .bind(schema)
    .fetch_optional(db)
    .await?;
    Ok(row.map(Template::from))
}

/// Deletes a template; fails with the foreign-key violation while products use it.
#[tracing::instrument(target = "shop::span", level = "debug", name = "db templates.delete", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn delete(db: &PgPool, id: Uuid) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM templates WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?
        .rows_affected()
        == 1)
}
