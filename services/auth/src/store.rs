//! The `auth` database: users and refresh-token families. Every query binds its parameters.

use chrono::{DateTime, Utc};
use shop_kit::auth::{Plan, Role};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

/// A row of `users`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub password_hash: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub role: String,
    pub is_active: bool,
    pub plan: String,
    pub plan_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl User {
    /// The role (the database constrains it to the known ones).
    pub fn role(&self) -> Role {
        self.role.parse().unwrap_or(Role::Customer)
    }

    /// The plan in effect at `now` with, for a premium plan that ends, its end (Unix
    /// seconds): what an access token carries.
    pub fn plan_claim(&self, now: DateTime<Utc>) -> (Plan, Option<i64>) {
        let plan = self.effective_plan(now);
        let end = self
            .plan_expires_at
            .filter(|_| plan == Plan::Premium)
            .map(|t| t.timestamp());
        (plan, end)
    }

    /// The plan in effect now: an expired premium counts as free.
    pub fn effective_plan(&self, now: DateTime<Utc>) -> Plan {
        match (self.plan.as_str(), self.plan_expires_at) {
            ("premium", None) => Plan::Premium,
            ("premium", Some(until)) if until > now => Plan::Premium,
            _ => Plan::Free,
        }
    }
}

/// The columns of [`User`], as a literal so queries stay `&'static str` (sqlx refuses
/// dynamically built SQL).
macro_rules! user_columns {
    () => {
        "id, email, password_hash, name, phone, address, role, is_active, plan, plan_expires_at, created_at, updated_at"
    };
}

/// The unique index on `users.email`.
pub const EMAIL_UNIQUE: &str = "users_email_key";

/// Inserts a user.
#[tracing::instrument(target = "shop::span", level = "debug", name = "db auth.insert_user", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn insert_user(
    db: &PgPool,
    email: &str,
    password_hash: &str,
    name: Option<&str>,
    role: Role,
) -> Result<User, sqlx::Error> {
    sqlx::query_as(concat!(
        "INSERT INTO users (id, email, password_hash, name, role) VALUES ($1, $2, $3, $4, $5) RETURNING ",
        user_columns!(),
        ""
    ))
    .bind(Uuid::now_v7())
    .bind(email)
    .bind(password_hash)
    .bind(name)
    .bind(role.as_str())
    .fetch_one(db)
    .await
}

/// The user with this (normalised) email.
#[tracing::instrument(target = "shop::span", level = "debug", name = "db auth.user_by_email", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn user_by_email(db: &PgPool, email: &str) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as(concat!("SELECT ", user_columns!(), " FROM users WHERE email = $1"))
        .bind(email)
        .fetch_optional(db)
        .await
}

/// The user with this id.
#[tracing::instrument(target = "shop::span", level = "debug", name = "db auth.user_by_id", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn user_by_id(db: &PgPool, id: Uuid) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as(concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Escapes `%`, `_` and `\` for a `LIKE` pattern.
fn like_pattern(needle: &str) -> String {
    let mut p = String::with_capacity(needle.len() + 2);
    p.push('%');
    for c in needle.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// A page of users, newest first, optionally those whose email contains `search`; and the total.
#[tracing::instrument(target = "shop::span", level = "debug", name = "db auth.list_users", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn list_users(
    db: &PgPool,
    search: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<User>, i64), sqlx::Error> {
    let pattern = search.map(|s| like_pattern(&s.to_lowercase()));
    let users = sqlx::query_as(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE ($1::text IS NULL OR email LIKE $1)
         ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
    ))
    .bind(&pattern)
    .bind(limit)
    .bind(offset)
    .fetch_all(db)
    .await?;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE ($1::text IS NULL OR email LIKE $1)")
        .bind(&pattern)
        .fetch_one(db)
        .await?;
    Ok((users, total))
}

/// A change to a user's profile; `Some(None)` clears a field.
#[derive(Debug, Default)]
pub struct ProfileChange {
    pub name: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub address: Option<Option<String>>,
    pub password_hash: Option<String>,
}

/// Applies a profile change.
#[tracing::instrument(target = "shop::span", level = "debug", name = "db auth.update_profile", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn update_profile(db: &PgPool, id: Uuid, change: &ProfileChange) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE users SET
            name = CASE WHEN $2 THEN $3 ELSE name END,
            phone = CASE WHEN $4 THEN $5 ELSE phone END,
            address = CASE WHEN $6 THEN $7 ELSE address END,
            password_hash = COALESCE($8, password_hash),
            updated_at = now()
         WHERE id = $1 RETURNING ",
        user_columns!(),
        ""
    ))
    .bind(id)
    .bind(change.name.is_some())
    .bind(change.name.clone().flatten())
    .bind(change.phone.is_some())
    .bind(change.phone.clone().flatten())
    .bind(change.address.is_some())
    .bind(change.address.clone().flatten())
    .bind(&change.password_hash)
    .fetch_optional(db)
    .await
}

/// What an admin may change on a user.
#[derive(Debug, Default)]
pub struct AdminChange {
    pub role: Option<Role>,
    pub is_active: Option<bool>,
    /// A plan with its expiry (`None`: no expiry).
    pub plan: Option<(Plan, Option<DateTime<Utc>>)>,
    /// Extends premium by this many days from the later of now and the current expiry.
    pub extend_premium_days: Option<i32>,
}

/// Applies an admin change in one statement (no read-modify-write).
#[tracing::instrument(target = "shop::span", level = "debug", name = "db auth.admin_update", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn admin_update(db: &PgPool, id: Uuid, change: &AdminChange) -> Result<Option<User>, sqlx::Error> {
    let (plan, expires, set_plan) = match change.plan {
        Some((p, e)) => (Some(p.as_str()), e, true),
        None => (None, None, false),
    };
    sqlx::query_as(concat!(
        "UPDATE users SET
            role = COALESCE($2, role),
            is_active = COALESCE($3, is_active),
            plan = CASE WHEN $4 THEN $5 WHEN $7::int IS NOT NULL THEN 'premium' ELSE plan END,
            plan_expires_at = CASE
                WHEN $4 THEN $6
                WHEN $7::int IS NOT NULL THEN
                    CASE WHEN plan = 'premium' AND plan_expires_at IS NULL THEN NULL
                         ELSE GREATEST(COALESCE(plan_expires_at, now()), now()) + make_interval(days => $7) END
                ELSE plan_expires_at END,
            updated_at = now()
         WHERE id = $1 RETURNING ",
        user_columns!(),
        ""
    ))
    .bind(id)
    .bind(change.role.map(Role::as_str))
    .bind(change.is_active)
    .bind(set_plan)
    .bind(plan)
    .bind(expires)
    .bind(change.extend_premium_days)
    .fetch_optional(db)
    .await
}

/// Makes `email` an active admin, creating it with `password_hash` when absent (without a hash,
/// only an existing user is promoted). Returns whether the user was created.
#[tracing::instrument(target = "shop::span", level = "debug", name = "db auth.seed_admin", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn seed_admin(db: &PgPool, email: &str, password_hash: Option<&str>) -> Result<bool, sqlx::Error> {
    let Some(password_hash) = password_hash else {
        sqlx::query("UPDATE users SET role = 'admin', is_active = true, updated_at = now() WHERE email = $1")
            .bind(email)
            .execute(db)
            .await?;
        return Ok(false);
    };
    let created: Option<bool> = sqlx::query_scalar(
        "INSERT INTO users (id, email, password_hash, role) VALUES ($1, $2, $3, 'admin')
         ON CONFLICT (email) DO UPDATE SET role = 'admin', is_active = true, updated_at = now()
         RETURNING (xmax = 0)",
    )
    .bind(Uuid::now_v7())
    .bind(email)
    .bind(password_hash)
    .fetch_optional(db)
    .await?;
    Ok(created.unwrap_or(false))
}

// --- refresh tokens -------------------------------------------------------------------------

/// Stores a refresh token of `family`.
#[tracing::instrument(target = "shop::span", level = "debug", name = "db auth.insert_refresh", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn insert_refresh(
    tx: &mut Transaction<'_, Postgres>,
    family: Uuid,
    user_id: Uuid,
    hash: &[u8; 32],
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(Uuid::now_v7())
    .bind(family)
    .bind(user_id)
    .bind(hash.as_slice())
    .bind(expires_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A refresh token row, locked for the rest of the transaction.
#[derive(Debug, sqlx::FromRow)]
pub struct RefreshRow {
    pub id: Uuid,
    pub family_id: Uuid,
    pub user_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Finds and locks the token with this hash (concurrent refreshes of one token serialise here:
/// the second one sees it used and revokes the family).
#[tracing::instrument(target = "shop::span", level = "debug", name = "db auth.lock_refresh", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn lock_refresh(
    tx: &mut Transaction<'_, Postgres>,
    hash: &[u8; 32],
) -> Result<Option<RefreshRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, family_id, user_id, expires_at, used_at, revoked_at FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE",
    )
    .bind(hash.as_slice())
    .fetch_optional(&mut **tx)
    .await
}

/// Marks a token used.
#[tracing::instrument(target = "shop::span", level = "debug", name = "db auth.mark_used", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn mark_used(tx: &mut Transaction<'_, Postgres>, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE refresh_tokens SET used_at = now() WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Revokes every live token of a family; returns how many.
#[tracing::instrument(target = "shop::span", level = "debug", name = "db auth.revoke_family", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn revoke_family<'e, E: sqlx::PgExecutor<'e>>(db: E, family: Uuid) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL")
            .bind(family)
            .execute(db)
            .await?
            .rows_affected(),
    )
}

/// Revokes every session of a user except `keep` (the caller's own, if any); returns the
/// sessions (families) it ended.
#[tracing::instrument(target = "shop::span", level = "debug", name = "db auth.revoke_user_sessions", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn revoke_user_sessions(db: &PgPool, user_id: Uuid, keep: Option<Uuid>) -> Result<Vec<Uuid>, sqlx::Error> {
    let mut families: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE refresh_tokens SET revoked_at = now()
         WHERE user_id = $1 AND revoked_at IS NULL AND ($2::uuid IS NULL OR family_id <> $2)
         RETURNING family_id",
    )
    .bind(user_id)
    .bind(keep)
    .fetch_all(db)
    .await?;
    families.sort_unstable();
    families.dedup();
    Ok(families)
}

/// The sessions ended within the last `window` (`GET /internal/revoked-sessions`).
pub async fn revoked_sessions(db: &PgPool, window: std::time::Duration) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT family_id FROM refresh_tokens
         WHERE revoked_at IS NOT NULL AND revoked_at > now() - make_interval(secs => $1)",
    )
    .bind(window.as_secs_f64())
    .fetch_all(db)
    .await
}

/// The family of a token (for logout), if the token exists.
#[tracing::instrument(target = "shop::span", level = "debug", name = "db auth.family_of", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
pub async fn family_of(db: &PgPool, hash: &[u8; 32]) -> Result<Option<(Uuid, Uuid)>, sqlx::Error> {
    sqlx::query_as("SELECT family_id, user_id FROM refresh_tokens WHERE token_hash = $1")
        .bind(hash.as_slice())
        .fetch_optional(db)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("a%b_c\\d"), "%a\\%b\\_c\\\\d%");
    }

    fn user(plan: &str, expires: Option<DateTime<Utc>>) -> User {
        let now = Utc::now();
        User {
            id: Uuid::nil(),
            email: "a@b.co".into(),
            password_hash: String::new(),
            name: None,
            phone: None,
            address: None,
            role: "customer".into(),
            is_active: true,
            plan: plan.into(),
            plan_expires_at: expires,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn expired_premium_counts_as_free() {
        let now = Utc::now();
        let hour = chrono::Duration::hours(1);
        assert_eq!(user("premium", None).effective_plan(now), Plan::Premium);
        assert_eq!(user("premium", Some(now + hour)).effective_plan(now), Plan::Premium);
        assert_eq!(user("premium", Some(now - hour)).effective_plan(now), Plan::Free);
        assert_eq!(user("free", Some(now + hour)).effective_plan(now), Plan::Free);
    }
}
