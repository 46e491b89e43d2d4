//! Users: search by email, a page at a time; one user's role, activation and plan (auth
//! refuses an admin demoting or deactivating themself: `409 self-lockout`).

use askama::Template;
use axum::extract::{Path, RawQuery};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shop_api::page::Page;
use shop_kit::auth::{Plan, Role};
use uuid::Uuid;

use crate::config::Upstream;
use crate::ui::admin::{Errors, Fields, Pager, add_error, field_errors, posted, refused_text, with_status};
use crate::ui::{ApiError, Ctx, FormInput, query};

const PER_PAGE: i64 = 20;

/// A user as auth shows it to admins (`UserView`, `services/auth/src/routes/views.rs`).
#[derive(Debug, Clone, Deserialize)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    pub is_active: bool,
    /// In effect now (an expired premium is free).
    pub plan: Plan,
    pub subscription: Subscription,
    pub created_at: DateTime<Utc>,
}

/// The plan as stored.
#[derive(Debug, Clone, Deserialize)]
pub struct Subscription {
    pub plan: Plan,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The roles an admin can give.
pub const ROLES: [Role; 2] = [Role::Customer, Role::Admin];
/// The plans.
pub const PLANS: [Plan; 2] = [Plan::Free, Plan::Premium];

/// The label keys of roles and plans.
fn role_key(role: Role) -> String {
    format!("admin-role-{}", role.as_str())
}

fn plan_key(plan: Plan) -> String {
    format!("plan-{}", plan.as_str())
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct ListPage<'a> {
    ctx: &'a Ctx,
    email: String,
    users: Vec<UserView>,
    total: i64,
    pager: Pager,
}

impl ListPage<'_> {
    fn role(&self, role: &Role) -> String {
        self.ctx.t(&role_key(*role))
    }

    fn plan(&self, plan: &Plan) -> String {
        self.ctx.t(&plan_key(*plan))
    }
}

fn list_href(email: &str, page: i64) -> String {
    let q = query(&[
        ("email", email.to_owned()),
        ("page", if page > 1 { page.to_string() } else { String::new() }),
    ]);
    if q.is_empty() {
        "/admin/users".into()
    } else {
        format!("/admin/users?{q}")
    }
}

/// `GET /admin/users?email=&page=`.
pub async fn list(ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    if let Err(refusal) = ctx.need_admin() {
        return refusal;
    }
    let q = Fields::query(raw.as_deref());
    let email: String = q.get("email").chars().take(254).collect();
    let page = q.page();
    let path = format!(
        "/users?{}",
        query(&[
            ("email", email.clone()),
            ("page", page.to_string()),
            ("per_page", PER_PAGE.to_string()),
        ])
    );
    match ctx.get::<Page<UserView>>(Upstream::Auth, &path).await {
        Ok(users) => {
            let pager = Pager::new(page, users.pages(), |n| list_href(&email, n));
            ctx.render(
                ListPage {
                    ctx: &ctx,
                    email,
                    total: users.total,
                    users: users.items,
                    pager,
                }
                .render(),
            )
        }
        Err(err) => ctx.fail(&err),
    }
}

/// The form's values, as typed.
#[derive(Debug, Clone)]
pub struct UserForm {
    pub role: String,
    pub active: bool,
    pub plan: String,
    pub extend_days: String,
}

#[derive(Template)]
#[template(path = "admin/user.html")]
struct UserPage<'a> {
    ctx: &'a Ctx,
    user: UserView,
    form: UserForm,
    /// The admin looking at their own account.
    myself: bool,
    errors: Errors,
    alert: Option<String>,
}

impl UserPage<'_> {
    fn role_label(&self, role: &Role) -> String {
        self.ctx.t(&role_key(*role))
    }

    fn plan_label(&self, plan: &Plan) -> String {
        self.ctx.t(&plan_key(*plan))
    }
}

fn page(
    ctx: &Ctx,
    user: UserView,
    form: UserForm,
    errors: Errors,
    alert: Option<String>,
    status: StatusCode,
) -> Response {
    let myself = ctx.user.as_ref().is_some_and(|me| me.id == user.id.to_string());
    with_status(
        ctx.render(
            UserPage {
                ctx,
                user,
                form,
                myself,
                errors,
                alert,
            }
            .render(),
        ),
        status,
    )
}

async fn load(ctx: &Ctx, id: &str) -> Result<UserView, Response> {
    let Ok(id) = Uuid::parse_str(id) else {
        return Err(ctx.error_page(StatusCode::NOT_FOUND, "error-not-found"));
    };
    ctx.get::<UserView>(Upstream::Auth, &format!("/users/{id}"))
        .await
        .map_err(|err| ctx.fail(&err))
}

fn form_of(user: &UserView) -> UserForm {
    UserForm {
        role: user.role.as_str().to_owned(),
        active: user.is_active,
        plan: user.subscription.plan.as_str().to_owned(),
        extend_days: String::new(),
    }
}

/// `GET /admin/users/{id}`.
pub async fn edit(ctx: Ctx, Path(id): Path<String>) -> Response {
    if let Err(refusal) = ctx.need_admin() {
        return refusal;
    }
    match load(&ctx, &id).await {
        Ok(user) => {
            let form = form_of(&user);
            page(&ctx, user, form, Errors::new(), None, StatusCode::OK)
        }
        Err(answer) => answer,
    }
}

/// `PATCH /users/{id}` (auth's `AdminUpdate`): the plan only when it changed, so that days of
/// premium can be added without it (auth refuses the two together).
#[derive(Debug, Serialize)]
struct Change {
    role: Role,
    is_active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    plan: Option<Plan>,
    #[serde(skip_serializing_if = "Option::is_none")]
    extend_premium_days: Option<i32>,
}

/// `POST /admin/users/{id}`.
pub async fn update(ctx: Ctx, Path(id): Path<String>, form: FormInput<Vec<(String, String)>>) -> Response {
    let fields = match posted(&ctx, form) {
        Ok(f) => f,
        Err(refusal) => return refusal,
    };
    let user = match load(&ctx, &id).await {
        Ok(u) => u,
        Err(answer) => return answer,
    };
    let form = UserForm {
        role: fields.get("role").to_owned(),
        active: fields.checked("is_active"),
        plan: fields.get("plan").to_owned(),
        extend_days: fields.get("extend_premium_days").to_owned(),
    };
    let mut errors = Errors::new();
    let role = ROLES.into_iter().find(|r| r.as_str() == form.role);
    if role.is_none() {
        add_error(&mut errors, "role", ctx.t("admin-rule-choose"));
    }
    let plan = PLANS.into_iter().find(|p| p.as_str() == form.plan);
    if plan.is_none() {
        add_error(&mut errors, "plan", ctx.t("admin-rule-choose"));
    }
    let days = if form.extend_days.is_empty() {
        None
    } else {
        match form.extend_days.parse::<i32>() {
            Ok(d) => Some(d),
            Err(_) => {
                add_error(&mut errors, "extend_premium_days", ctx.t("admin-rule-extend-days"));
                None
            }
        }
    };
    let (Some(role), Some(plan), true) = (role, plan, errors.is_empty()) else {
        return page(&ctx, user, form, errors, None, StatusCode::UNPROCESSABLE_ENTITY);
    };
    let body = Change {
        role,
        is_active: form.active,
        plan: (plan != user.subscription.plan).then_some(plan),
        extend_premium_days: days,
    };
    match ctx
        .send::<UserView>(Upstream::Auth, Method::PATCH, &format!("/users/{}", user.id), &body)
        .await
    {
        Ok(saved) => ctx.redirect(&format!("/admin/users/{}?notice=admin-user-saved", saved.id)),
        Err(ApiError::Problem(p)) if p.status == 409 => page(
            &ctx,
            user,
            form,
            Errors::new(),
            Some(ctx.t("admin-user-self-lockout")),
            StatusCode::CONFLICT,
        ),
        Err(ApiError::Problem(p)) if p.status == 422 => {
            let errors = field_errors(&ctx, &p);
            let alert = p.errors.is_empty().then(|| refused_text(&ctx, &p));
            page(&ctx, user, form, errors, alert, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(err) => ctx.fail(&err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_changed_plan_is_sent() {
        let body = Change {
            role: Role::Customer,
            is_active: true,
            plan: None,
            extend_premium_days: Some(30),
        };
        assert_eq!(
            serde_json::to_value(&body).ok(),
            Some(serde_json::json!({"role": "customer", "is_active": true, "extend_premium_days": 30}))
        );
        assert_eq!(list_href("", 1), "/admin/users");
        assert_eq!(list_href("ann@", 2), "/admin/users?email=ann%40&page=2");
    }
}
