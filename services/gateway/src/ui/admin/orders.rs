//! Every order, filtered by status, customer and dates, a page at a time; canceling a placed
//! order (its stock goes back) after a confirmation step.
//!
//! The order service filters by user id; a customer typed as an email is looked up at auth
//! first (an exact match, or the only one).

use askama::Template;
use axum::extract::{Path, RawQuery};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use chrono::NaiveDate;
use shop_api::order::{Order, OrderStatus};
use shop_api::page::Page;
use uuid::Uuid;

use crate::config::Upstream;
use crate::ui::admin::users::UserView;
use crate::ui::admin::{Confirm, Errors, Fields, Pager, add_error, field_errors, posted, with_notice, with_status};
use crate::ui::{ApiError, Ctx, FormInput, encode, query};

const PER_PAGE: i64 = 20;

/// The list's filters, as typed.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub status: String,
    /// An email or a user id.
    pub user: String,
    pub from: String,
    pub to: String,
    pub page: i64,
}

impl Filters {
    fn pairs(&self, page: i64) -> Vec<(&'static str, String)> {
        vec![
            ("status", self.status.clone()),
            ("user", self.user.clone()),
            ("from", self.from.clone()),
            ("to", self.to.clone()),
            ("page", if page > 1 { page.to_string() } else { String::new() }),
        ]
    }

    /// The list's link for `page` with these filters.
    pub fn href(&self, page: i64) -> String {
        let q = query(&self.pairs(page));
        if q.is_empty() {
            "/admin/orders".into()
        } else {
            format!("/admin/orders?{q}")
        }
    }
}

#[derive(Template)]
#[template(path = "admin/orders.html")]
struct ListPage<'a> {
    ctx: &'a Ctx,
    filters: Filters,
    statuses: &'static [OrderStatus],
    errors: Errors,
    orders: Vec<Order>,
    total: i64,
    pager: Pager,
    /// This page's address, for coming back after a cancel.
    back: String,
}

impl ListPage<'_> {
    fn status_label(&self, status: &OrderStatus) -> String {
        self.ctx.t(&crate::ui::shop::orders::status_key(status))
    }

    fn cancel_href(&self, order: &Order) -> String {
        format!("/admin/orders/{}/cancel?back={}", order.id, encode(&self.back))
    }
}

/// Who `typed` names: a user id as it is; an email looked up at auth (`Ok(None)`: nobody).
async fn resolve_user(ctx: &Ctx, typed: &str) -> Result<Option<Uuid>, Result<String, ApiError>> {
    if let Ok(id) = Uuid::parse_str(typed) {
        return Ok(Some(id));
    }
    let path = format!(
        "/users?{}",
        query(&[("email", typed.to_owned()), ("per_page", "100".into())])
    );
    let users = ctx.get::<Page<UserView>>(Upstream::Auth, &path).await.map_err(Err)?;
    let exact = users.items.iter().find(|u| u.email.eq_ignore_ascii_case(typed));
    match (exact, users.items.as_slice()) {
        (Some(u), _) | (None, [u]) => Ok(Some(u.id)),
        (None, []) => Ok(None),
        (None, _) => Err(Ok(ctx.t("admin-orders-user-ambiguous"))),
    }
}

/// `GET /admin/orders?status=&user=&from=&to=&page=`.
pub async fn list(ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    if let Err(refusal) = ctx.need_admin() {
        return refusal;
    }
    let q = Fields::query(raw.as_deref());
    let filters = Filters {
        status: q.get("status").to_owned(),
        user: q.get("user").chars().take(254).collect(),
        from: q.get("from").to_owned(),
        to: q.get("to").to_owned(),
        page: q.page(),
    };
    let mut errors = Errors::new();
    let status = filters.status.parse::<OrderStatus>().ok();
    for (name, value) in [("from", &filters.from), ("to", &filters.to)] {
        if !value.is_empty() && NaiveDate::parse_from_str(value, "%Y-%m-%d").is_err() {
            add_error(&mut errors, name, ctx.t("admin-rule-date"));
        }
    }
    let mut user_id = None;
    let mut nobody = false;
    if !filters.user.is_empty() {
        match resolve_user(&ctx, &filters.user).await {
            Ok(Some(id)) => user_id = Some(id),
            Ok(None) => nobody = true,
            Err(Ok(message)) => add_error(&mut errors, "user", message),
            Err(Err(err)) => return ctx.fail(&err),
        }
    }
    let mut page = Page {
        items: Vec::new(),
        page: filters.page,
        per_page: PER_PAGE,
        total: 0,
        total_exact: true,
        next: None,
    };
    if errors.is_empty() && !nobody {
        let path = format!(
            "/admin/orders?{}",
            query(&[
                ("status", status.map(|s| s.as_str().to_owned()).unwrap_or_default()),
                ("user_id", user_id.map(|u| u.to_string()).unwrap_or_default()),
                ("from", filters.from.clone()),
                ("to", filters.to.clone()),
                ("page", filters.page.to_string()),
                ("per_page", PER_PAGE.to_string()),
            ])
        );
        match ctx.get::<Page<Order>>(Upstream::Order, &path).await {
            Ok(p) => page = p,
            Err(ApiError::Problem(p)) if p.status == 422 || p.status == 400 => errors = field_errors(&ctx, &p),
            Err(err) => return ctx.fail(&err),
        }
    }
    if nobody {
        add_error(&mut errors, "user", ctx.t("admin-orders-user-unknown"));
    }
    let pager = Pager::new(filters.page, page.pages(), |n| filters.href(n));
    let invalid = !errors.is_empty();
    let back = filters.href(filters.page);
    let answer = ctx.render(
        ListPage {
            ctx: &ctx,
            filters,
            statuses: OrderStatus::ALL,
            errors,
            total: page.total,
            orders: page.items,
            pager,
            back,
        }
        .render(),
    );
    if invalid {
        with_status(answer, StatusCode::UNPROCESSABLE_ENTITY)
    } else {
        answer
    }
}

/// Where to go back to: a page of the list, never anywhere else.
fn back_to(raw: &str) -> String {
    let path = crate::routes::session::local_path(Some(raw));
    if path == "/admin/orders" || path.starts_with("/admin/orders?") {
        path
    } else {
        "/admin/orders".into()
    }
}

/// `GET /admin/orders/{id}/cancel?back=`: asks to confirm.
pub async fn confirm_cancel(ctx: Ctx, Path(id): Path<String>, RawQuery(raw): RawQuery) -> Response {
    if let Err(refusal) = ctx.need_admin() {
        return refusal;
    }
    let Ok(id) = Uuid::parse_str(&id) else {
        return ctx.error_page(StatusCode::NOT_FOUND, "error-not-found");
    };
    let back = back_to(Fields::query(raw.as_deref()).get("back"));
    ctx.render(
        Confirm {
            ctx: &ctx,
            title: ctx.t("admin-order-cancel"),
            question: ctx.t("admin-order-cancel-question"),
            details: vec![(ctx.t("admin-col-order"), crate::ui::order_number(id))],
            action: format!("/admin/orders/{id}/cancel"),
            confirm: ctx.t("admin-order-cancel-confirm"),
            back: back.clone(),
            alert: None,
            hidden: vec![("back".into(), back)],
        }
        .render(),
    )
}

/// `POST /admin/orders/{id}/cancel`: cancels a placed order (a canceled one stays canceled;
/// a pending or rejected one cannot be).
pub async fn cancel(ctx: Ctx, Path(id): Path<String>, form: FormInput<Vec<(String, String)>>) -> Response {
    let fields = match posted(&ctx, form) {
        Ok(f) => f,
        Err(refusal) => return refusal,
    };
    let Ok(id) = Uuid::parse_str(&id) else {
        return ctx.error_page(StatusCode::NOT_FOUND, "error-not-found");
    };
    let back = back_to(fields.get("back"));
    match ctx
        .call(
            Upstream::Order,
            Method::PATCH,
            &format!("/admin/orders/{id}/cancel"),
            None,
        )
        .await
    {
        Ok(_) => ctx.redirect(&with_notice(&back, "admin-order-canceled")),
        Err(ApiError::Problem(p)) if p.status == 409 => ctx.redirect(&with_notice(&back, "admin-order-not-cancelable")),
        Err(err) => ctx.fail(&err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coming_back_stays_in_the_list() {
        assert_eq!(back_to("/admin/orders?status=placed"), "/admin/orders?status=placed");
        assert_eq!(back_to("/admin/orders"), "/admin/orders");
        assert_eq!(back_to("//evil.test/admin/orders"), "/admin/orders");
        assert_eq!(back_to("/admin/users"), "/admin/orders");
        assert_eq!(back_to(""), "/admin/orders");
    }

    #[test]
    fn list_links_keep_the_filters() {
        let f = Filters {
            status: "placed".into(),
            user: "a@b.test".into(),
            page: 1,
            ..Filters::default()
        };
        assert_eq!(f.href(3), "/admin/orders?status=placed&user=a%40b.test&page=3");
        assert_eq!(Filters::default().href(1), "/admin/orders");
    }
}
