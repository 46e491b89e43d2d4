//! The admin's pages (role admin only: the link is hidden from others, and every route
//! answers 403 to them, a login redirect to nobody).
//!
//! Layout: [`products`], [`templates`] and [`categories`] edit the catalog; [`orders`] lists and
//! cancels every order; [`users`] changes roles, activation and plans at auth; [`stats`] shows
//! the order service's figures with bar charts whose geometry is [`chart`]'s. Every form posts
//! with `_csrf` and answers with a redirect (`?notice=admin-…`) or, when a service refused it,
//! the same form again with each message next to its field.

pub mod categories;
pub mod chart;
pub mod orders;
pub mod products;
pub mod stats;
pub mod templates;
pub mod users;

use std::collections::BTreeMap;

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};

use crate::ui::{Ctx, FormInput, Problem};

#[derive(Template)]
#[template(path = "admin/index.html")]
struct Index<'a> {
    ctx: &'a Ctx,
}

/// The admin's routes (merged into the pages' router, behind the session middleware).
pub fn routes() -> axum::Router<crate::AppState> {
    axum::Router::new()
        .route("/admin", get(index))
        .route("/admin/products", get(products::list))
        .route("/admin/products/new", get(products::new).post(products::create))
        .route("/admin/products/{id}", get(products::edit).post(products::update))
        .route("/admin/products/{id}/images", post(products::images))
        .route("/admin/products/{id}/stock", post(products::stock))
        .route(
            "/admin/products/{id}/deactivate",
            get(products::confirm_deactivate).post(products::deactivate),
        )
        .route("/admin/templates", get(templates::list))
        .route("/admin/templates/new", get(templates::new).post(templates::create))
        .route("/admin/templates/{id}", get(templates::edit).post(templates::update))
        .route(
            "/admin/templates/{id}/delete",
            get(templates::confirm_delete).post(templates::delete),
        )
        .route("/admin/categories", get(categories::list))
        .route("/admin/categories/new", get(categories::new).post(categories::create))
        .route("/admin/categories/{id}", get(categories::edit).post(categories::update))
        .route(
            "/admin/categories/{id}/delete",
            get(categories::confirm_delete).post(categories::delete),
        )
        .route("/admin/orders", get(orders::list))
        .route(
            "/admin/orders/{id}/cancel",
            get(orders::confirm_cancel).post(orders::cancel),
        )
        .route("/admin/users", get(users::list))
        .route("/admin/users/{id}", get(users::edit).post(users::update))
        .route("/admin/stats", get(stats::show))
}

/// `GET /admin`: the sections.
pub async fn index(ctx: Ctx) -> Response {
    if let Err(refusal) = ctx.need_admin() {
        return refusal;
    }
    ctx.render(Index { ctx: &ctx }.render())
}

/// Whether the page is in the admin section at `prefix` (for `aria-current` in the menu).
pub fn current(ctx: &Ctx, prefix: &str) -> bool {
    let path = ctx.here.split('?').next().unwrap_or_default();
    path == prefix || path.starts_with(&format!("{prefix}/"))
}

/// A form or query string as its pairs, in order (repeated names such as `categories` kept).
#[derive(Debug, Clone, Default)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// The pairs of a query string (never fails: what cannot be read is dropped).
    pub fn query(raw: Option<&str>) -> Self {
        Self(
            raw.map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                .unwrap_or_default(),
        )
    }

    /// The first value of `name`, trimmed (`""` when absent).
    pub fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.trim())
    }

    /// The first value of `name` as sent (textareas keep their spaces).
    pub fn raw(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `name`, trimmed, empty ones left out.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_owned())
            .collect()
    }

    /// Whether a checkbox named `name` is ticked.
    pub fn checked(&self, name: &str) -> bool {
        matches!(self.get(name), "on" | "true" | "1")
    }

    /// `?page=`: 1 to 100 000, else 1.
    pub fn page(&self) -> i64 {
        self.get("page")
            .parse::<i64>()
            .ok()
            .filter(|p| (1..=100_000).contains(p))
            .unwrap_or(1)
    }
}

/// A posted admin form, once the caller is known to be an admin and the CSRF token matches
/// (in that order: a customer is told 403 whatever they post).
// The refusal is the page to answer with, like `Ctx::need_admin`'s: handlers return it as is.
#[allow(clippy::result_large_err)]
pub fn posted(ctx: &Ctx, form: FormInput<Vec<(String, String)>>) -> Result<Fields, Response> {
    ctx.need_admin()?;
    Ok(Fields(ctx.posted(form)?))
}

/// Previous and next links of a list.
#[derive(Debug, Clone, Default)]
pub struct Pager {
    pub page: i64,
    pub pages: i64,
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    /// The links of `page` of `pages`, made by `href(page)`.
    pub fn new(page: i64, pages: i64, href: impl Fn(i64) -> String) -> Self {
        let pages = pages.max(1);
        Self {
            page,
            pages,
            prev: (page > 1).then(|| href(page - 1)),
            next: (page < pages).then(|| href(page + 1)),
        }
    }
}

/// `path` with `notice=<name>` added to its query.
pub fn with_notice(path: &str, name: &str) -> String {
    let glue = if path.contains('?') { '&' } else { '?' };
    format!("{path}{glue}notice={name}")
}

/// Field name → message, as the forms show them.
pub type Errors = BTreeMap<String, String>;

/// Adds `message` to `field`'s (a field may fail more than one rule).
pub fn add_error(errors: &mut Errors, field: impl Into<String>, message: String) {
    errors
        .entry(field.into())
        .and_modify(|m| {
            m.push_str("; ");
            m.push_str(&message);
        })
        .or_insert(message);
}

/// The first segment of a problem's pointer (`/categories/1` → `categories`), with JSON
/// pointer escapes undone.
pub fn pointer_field(pointer: &str) -> String {
    pointer
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default()
        .replace("~1", "/")
        .replace("~0", "~")
}

/// The problem's field errors keyed by their first pointer segment, in the admin's words.
pub fn field_errors(ctx: &Ctx, problem: &Problem) -> Errors {
    let mut errors = Errors::new();
    for (pointer, message) in &problem.errors {
        add_error(&mut errors, pointer_field(pointer), rule(ctx, message));
    }
    errors
}

/// A service's message about a field, in the page's language when it is one the services
/// are known to send (`services/catalog/src/domain`, `services/auth/src/routes/users.rs`);
/// anything else (a JSON Schema's own words) as the service wrote it.
pub fn rule(ctx: &Ctx, message: &str) -> String {
    let m = message.trim();
    let number = |after: &str| -> Option<i64> {
        let rest = &m[m.find(after)? + after.len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    if m.contains("must not be empty") || m == "is required" {
        ctx.t("admin-rule-empty")
    } else if m.contains("characters")
        && !m.contains("control")
        && let Some(n) = number("at most ")
    {
        ctx.t1("admin-rule-max-chars", "count", n)
    } else if m.contains("control characters") {
        ctx.t("admin-rule-control")
    } else if m.contains("letters, digits, '.', '_' or '-'") {
        ctx.t("admin-rule-sku")
    } else if m.contains("lower-case words") {
        ctx.t("admin-rule-slug")
    } else if m.contains("two decimal places") {
        ctx.t("admin-rule-price-decimals")
    } else if m.contains("9999999999.99") {
        ctx.t("admin-rule-price-max")
    } else if m.contains("must not be negative") {
        ctx.t("admin-rule-negative")
    } else if m.starts_with("image ")
        && let Some(i) = number("image ")
    {
        ctx.t1("admin-rule-image", "count", i + 1)
    } else if m.starts_with("unknown category") {
        ctx.t("admin-rule-unknown-category")
    } else if m == "no such template" {
        ctx.t("admin-rule-no-template")
    } else if m.starts_with("not a valid JSON Schema") || m == "must be a JSON object" {
        format!("{} {m}", ctx.t("admin-rule-schema"))
    } else if m.contains("cannot be combined with plan") {
        ctx.t("admin-rule-extend-with-plan")
    } else if m.contains("1 and 3650") {
        ctx.t("admin-rule-extend-days")
    } else {
        m.to_owned()
    }
}

/// A refusal the service explained in words only (no field errors): its `detail`.
pub fn refused_text(ctx: &Ctx, problem: &Problem) -> String {
    match problem.detail.as_deref() {
        Some(detail) if !detail.is_empty() => format!("{} {detail}", ctx.t("admin-refused")),
        _ => ctx.t("admin-refused"),
    }
}

/// A page answered with `status`.
pub fn with_status(mut answer: Response, status: StatusCode) -> Response {
    if answer.status().is_success() {
        *answer.status_mut() = status;
    }
    answer
}

/// A yes/no question about one thing, answered by a POST form (deleting, deactivating,
/// canceling).
#[derive(Template)]
#[template(path = "admin/confirm.html")]
pub struct Confirm<'a> {
    pub ctx: &'a Ctx,
    pub title: String,
    pub question: String,
    /// What is concerned, as (label, value) rows.
    pub details: Vec<(String, String)>,
    pub action: String,
    pub confirm: String,
    pub back: String,
    /// Why the last attempt failed.
    pub alert: Option<String>,
    /// Hidden fields to post along.
    pub hidden: Vec<(String, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_name_their_first_field() {
        assert_eq!(pointer_field("/price"), "price");
        assert_eq!(pointer_field("/categories/1"), "categories");
        assert_eq!(pointer_field("/attributes/size"), "attributes");
        assert_eq!(pointer_field("per_page"), "per_page");
        assert_eq!(pointer_field("/a~1b/0"), "a/b");
    }

    #[test]
    fn notices_join_the_query() {
        assert_eq!(with_notice("/admin/orders", "x"), "/admin/orders?notice=x");
        assert_eq!(
            with_notice("/admin/orders?status=placed", "x"),
            "/admin/orders?status=placed&notice=x"
        );
    }

    #[test]
    fn pagers_link_only_existing_pages() {
        let p = Pager::new(1, 1, |n| n.to_string());
        assert!(p.prev.is_none() && p.next.is_none());
        let p = Pager::new(2, 3, |n| format!("?page={n}"));
        assert_eq!(p.prev.as_deref(), Some("?page=1"));
        assert_eq!(p.next.as_deref(), Some("?page=3"));
        assert_eq!(Pager::new(1, 0, |n| n.to_string()).pages, 1);
    }

    #[test]
    fn fields_keep_repeated_names() {
        let f = Fields::query(Some("categories=a&categories=b&categories=&q=+x+&page=0"));
        assert_eq!(f.all("categories"), ["a", "b"]);
        assert_eq!(f.get("q"), "x");
        assert_eq!(f.raw("q"), " x ");
        assert_eq!(f.page(), 1);
        assert!(!f.checked("low"));
    }
}
