//! Admin user management: `GET /users`, `GET/PATCH /users/{id}`.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use shop_kit::Problem;
use shop_kit::auth::{AdminUser, Plan, Role};
use shop_kit::extract::{Json, Path, Query};
use shop_kit::problem::FieldError;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::views::{UserPage, UserView};
use crate::AppState;
use crate::store::{self, AdminChange};

/// An admin whose account is, right now, an active admin: the token's role is re-checked
/// against the database, so a demoted or deactivated admin loses access at once, not when
/// their access token expires.
pub struct CurrentAdmin(pub shop_kit::auth::AuthUser);

impl axum::extract::FromRequestParts<AppState> for CurrentAdmin {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &AppState) -> Result<Self, Problem> {
        let AdminUser(admin) = AdminUser::from_request_parts(parts, state).await?;
        match store::user_by_id(&state.db, admin.id).await? {
            Some(u) if u.is_active && u.role() == Role::Admin => Ok(Self(admin)),
            _ => Err(Problem::forbidden("administrators only")),
        }
    }
}

/// The largest page.
pub const MAX_PER_PAGE: i64 = 100;

/// The admin routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/users", get(list))
        .route("/users/{id}", get(show).patch(update))
}

/// `GET /users` query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// 1-based page (default 1).
    pub page: Option<i64>,
    /// Page size, 1 to 100 (default 20).
    pub per_page: Option<i64>,
    /// Only users whose email contains this.
    pub email: Option<String>,
}

/// Lists users, newest first: `GET /users`.
#[utoipa::path(get, path = "/users", tag = "users", params(ListQuery),
    responses((status = 200, body = UserPage), (status = 401), (status = 403), (status = 422)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    _admin: CurrentAdmin,
    Query(q): Query<ListQuery>,
) -> Result<axum::Json<UserPage>, Problem> {
    let page = q.page.unwrap_or(1);
    let per_page = q.per_page.unwrap_or(20);
    let mut errors = Vec::new();
    if !(1..=1_000_000).contains(&page) {
        errors.push(FieldError::new("page", "must be between 1 and 1000000"));
    }
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        errors.push(FieldError::new(
            "per_page",
            format!("must be between 1 and {MAX_PER_PAGE}"),
        ));
    }
    let search = q.email.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if search.is_some_and(|s| s.len() > 254) {
        errors.push(FieldError::new("email", "must be at most 254 characters"));
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    let (users, total) = store::list_users(&state.db, search, per_page, (page - 1) * per_page).await?;
    Ok(axum::Json(UserPage {
        items: users.iter().map(UserView::from).collect(),
        page,
        per_page,
        total,
    }))
}

/// One user: `GET /users/{id}`.
#[utoipa::path(get, path = "/users/{id}", tag = "users", responses((status = 200, body = UserView), (status = 404)), security(("bearer" = [])))]
pub async fn show(
    State(state): State<AppState>,
    _admin: CurrentAdmin,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<UserView>, Problem> {
    let user = store::user_by_id(&state.db, id)
        .await?
        .ok_or_else(|| Problem::not_found("no such user"))?;
    Ok(axum::Json(UserView::from(&user)))
}

/// `PATCH /users/{id}`: any of the fields.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminUpdate {
    pub role: Option<Role>,
    pub is_active: Option<bool>,
    /// Sets the plan; with `premium`, `plan_expires_at` (absent: no end).
    pub plan: Option<Plan>,
    pub plan_expires_at: Option<DateTime<Utc>>,
    /// Grants or extends premium by this many days (1 to 3650) from the later of now and the
    /// current end.
    pub extend_premium_days: Option<i32>,
}

/// Changes a user's role, activation or plan: `PATCH /users/{id}`. Deactivating a user or
/// changing their role ends all their sessions. An admin cannot demote or deactivate themself.
#[utoipa::path(patch, path = "/users/{id}", tag = "users", request_body = AdminUpdate,
    responses((status = 200, body = UserView), (status = 404), (status = 409, description = "would lock the admin out"), (status = 422)), security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    CurrentAdmin(admin): CurrentAdmin,
    Path(id): Path<Uuid>,
    Json(req): Json<AdminUpdate>,
) -> Result<axum::Json<UserView>, Problem> {
    let mut errors = Vec::new();
    if req.role == Some(Role::Service) {
        errors.push(FieldError::new("/role", "must be customer or admin"));
    }
    if req.plan.is_some() && req.extend_premium_days.is_some() {
        errors.push(FieldError::new("/extend_premium_days", "cannot be combined with plan"));
    }
    if req.plan_expires_at.is_some() && req.plan != Some(Plan::Premium) {
        errors.push(FieldError::new("/plan_expires_at", "needs plan: premium"));
    }
    if req.plan_expires_at.is_some_and(|t| t <= Utc::now()) {
        errors.push(FieldError::new("/plan_expires_at", "must be in the future"));
    }
    if req.extend_premium_days.is_some_and(|d| !(1..=3650).contains(&d)) {
        errors.push(FieldError::new("/extend_premium_days", "must be between 1 and 3650"));
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    if id == admin.id && (req.is_active == Some(false) || req.role == Some(Role::Customer)) {
        return Err(Problem::conflict(
            "self-lockout",
            "you cannot deactivate or demote yourself; ask another admin",
        ));
    }
    let change = AdminChange {
        role: req.role,
        is_active: req.is_active,
        plan: req
            .plan
            .map(|p| (p, if p == Plan::Premium { req.plan_expires_at } else { None })),
        extend_premium_days: req.extend_premium_days,
    };
    let before = store::user_by_id(&state.db, id)
        .await?
        .ok_or_else(|| Problem::not_found("no such user"))?;
    let user = store::admin_update(&state.db, id, &change)
        .await?
        .ok_or_else(|| Problem::not_found("no such user"))?;
    // A deactivated user is out, and a new role must not wait for old tokens to expire: both
    // end every session (the user signs in again, as what they now are).
    let role_changed = req.role.is_some_and(|role| role != before.role());
    if req.is_active == Some(false) || role_changed {
        let revoked = store::revoke_user_sessions(&state.db, id, None).await?;
        tracing::info!(user_id = %id, by = %admin.id, revoked = revoked.len(), role_changed, "sessions revoked");
        state.verifier.revocations().insert(revoked);
    }
    tracing::info!(user_id = %id, by = %admin.id, "user updated by admin");
    Ok(axum::Json(UserView::from(&user)))
}
