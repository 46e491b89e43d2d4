//! The home page (the product grid with search, filters, sort and pages) and the product page.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use shop_api::catalog::{Category, Product, Template as ProductTemplate};
use shop_api::page::Page;
use uuid::Uuid;

use crate::config::Upstream;
use crate::ui::schema::{self, Field};
use crate::ui::{ApiError, Ctx, query as query_string};

/// The sorts the home page offers (the catalog's names).
pub const SORTS: [&str; 5] = ["relevance", "newest", "price_asc", "price_desc", "name"];
/// The page sizes it offers.
pub const PAGE_SIZES: [i64; 3] = [12, 24, 48];
const DEFAULT_PAGE_SIZE: i64 = 24;

/// The home page's query, as the filter form sends it (everything optional, all text: a
/// value we cannot use is dropped, never a 400).
#[derive(Debug, Default, Deserialize)]
pub struct HomeQuery {
    q: Option<String>,
    category: Option<String>,
    price_min: Option<String>,
    price_max: Option<String>,
    in_stock: Option<String>,
    sort: Option<String>,
    per_page: Option<String>,
    page: Option<String>,
}

/// What the grid shows instead of products.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Products,
    /// The catalog is empty.
    Empty,
    /// Filters match nothing.
    NothingFound,
    /// The catalog did not answer.
    Unavailable,
    /// The catalog refused the filters.
    BadFilter,
}

/// The filters as chosen, for the form and the links.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub q: String,
    pub category: String,
    pub price_min: String,
    pub price_max: String,
    pub in_stock: bool,
    pub sort: String,
    pub per_page: i64,
    pub page: i64,
}

impl Filters {
    fn pairs(&self, page: i64) -> Vec<(&'static str, String)> {
        vec![
            ("q", self.q.clone()),
            ("category", self.category.clone()),
            ("price_min", self.price_min.clone()),
            ("price_max", self.price_max.clone()),
            ("in_stock", if self.in_stock { "on".into() } else { String::new() }),
            ("sort", self.sort.clone()),
            ("per_page", self.per_page.to_string()),
            ("page", if page > 1 { page.to_string() } else { String::new() }),
        ]
    }

    /// The home page's link for `page` with these filters.
    pub fn href(&self, page: i64) -> String {
        format!("/?{}", query_string(&self.pairs(page)))
    }
}

#[derive(Template)]
#[template(path = "shop/home.html")]
struct Home<'a> {
    ctx: &'a Ctx,
    filters: Filters,
    categories: Vec<Category>,
    products: Vec<Product>,
    state: State,
    total: i64,
    /// `false` when `total` is the catalog's counting bound, not the count.
    total_exact: bool,
    pages: i64,
}

impl Home<'_> {
    fn sort_label(&self, sort: &str) -> String {
        self.ctx.t(&format!("sort-{}", sort.replace('_', "-")))
    }
}

/// `GET /`.
pub async fn home(ctx: Ctx, query: Result<Query<HomeQuery>, QueryRejection>) -> Response {
    let q = query.map(|q| q.0).unwrap_or_default();
    let prefs = load_preferences(&ctx).await;
    let asked_sort = q.sort.filter(|s| SORTS.contains(&s.as_str()));
    let asked_size = q
        .per_page
        .and_then(|p| p.parse::<i64>().ok())
        .filter(|p| PAGE_SIZES.contains(p));
    let filters = Filters {
        q: q.q.unwrap_or_default().trim().chars().take(200).collect(),
        category: q.category.unwrap_or_default(),
        price_min: q.price_min.unwrap_or_default(),
        price_max: q.price_max.unwrap_or_default(),
        in_stock: matches!(q.in_stock.as_deref(), Some("on" | "true" | "1")),
        sort: asked_sort
            .clone()
            .or_else(|| prefs.0.clone())
            .unwrap_or_else(|| "relevance".into()),
        per_page: asked_size.or(prefs.1).unwrap_or(DEFAULT_PAGE_SIZE),
        page: q
            .page
            .and_then(|p| p.parse::<i64>().ok())
            .filter(|p| (1..=100_000).contains(p))
            .unwrap_or(1),
    };
    remember_preferences(&ctx, &prefs, asked_sort, asked_size).await;

    let mut pairs = vec![
        ("q", filters.q.clone()),
        ("category", filters.category.clone()),
        ("sort", filters.sort.clone()),
        ("per_page", filters.per_page.to_string()),
        ("page", filters.page.to_string()),
    ];
    if let Some(min) = crate::ui::money::typed_price(&filters.price_min) {
        pairs.push(("price_min", min.to_string()));
    }
    if let Some(max) = crate::ui::money::typed_price(&filters.price_max) {
        pairs.push(("price_max", max.to_string()));
    }
    if filters.in_stock {
        pairs.push(("in_stock", "true".into()));
    }
    let path = format!("/products?{}", query_string(&pairs));
    let (listing, categories) = tokio::join!(
        ctx.get::<Page<Product>>(Upstream::Catalog, &path),
        ctx.get::<Vec<Category>>(Upstream::Catalog, "/categories"),
    );
    let filtered = !filters.q.is_empty()
        || !filters.category.is_empty()
        || !filters.price_min.is_empty()
        || !filters.price_max.is_empty()
        || filters.in_stock;
    let (state, page) = match listing {
        Ok(page) if !page.items.is_empty() => (State::Products, Some(page)),
        Ok(page) if filtered || filters.page > 1 => (State::NothingFound, Some(page)),
        Ok(page) => (State::Empty, Some(page)),
        Err(ApiError::Problem(p)) if p.status == 422 || p.status == 400 => (State::BadFilter, None),
        Err(_) => (State::Unavailable, None),
    };
    let (products, total, total_exact, pages) = page.map_or((Vec::new(), 0, true, 1), |p| {
        let pages = p.pages();
        (p.items, p.total, p.total_exact, pages)
    });
    let unavailable = state == State::Unavailable;
    let mut answer = ctx.render(
        Home {
            ctx: &ctx,
            filters,
            categories: categories.unwrap_or_default(),
            products,
            state,
            total,
            total_exact,
            pages,
        }
        .render(),
    );
    if unavailable {
        *answer.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    }
    answer
}

/// The signed-in shopper's remembered sort and page size.
async fn load_preferences(ctx: &Ctx) -> (Option<String>, Option<i64>) {
    if ctx.user.is_none() {
        return (None, None);
    }
    match ctx.get::<serde_json::Value>(Upstream::Cart, "/me/preferences").await {
        Ok(prefs) => (
            prefs["items"]["sort"]
                .as_str()
                .filter(|s| SORTS.contains(s))
                .map(str::to_owned),
            prefs["items"]["page_size"].as_i64().filter(|p| PAGE_SIZES.contains(p)),
        ),
        Err(_) => (None, None),
    }
}

/// Stores a sort or page size the shopper chose that differs from the remembered one (best
/// effort: browsing goes on if the cart service is down).
async fn remember_preferences(
    ctx: &Ctx,
    known: &(Option<String>, Option<i64>),
    sort: Option<String>,
    size: Option<i64>,
) {
    if ctx.user.is_none() {
        return;
    }
    if let Some(sort) = sort.filter(|s| known.0.as_ref() != Some(s)) {
        let _ = ctx
            .call(
                Upstream::Cart,
                Method::PUT,
                "/me/preferences/sort",
                Some(&serde_json::json!(sort)),
            )
            .await;
    }
    if let Some(size) = size.filter(|s| known.1 != Some(*s)) {
        let _ = ctx
            .call(
                Upstream::Cart,
                Method::PUT,
                "/me/preferences/page_size",
                Some(&serde_json::json!(size)),
            )
            .await;
    }
}

#[derive(Template)]
#[template(path = "shop/product.html")]
struct ProductPage<'a> {
    ctx: &'a Ctx,
    product: Product,
    /// (label, value with its unit) per attribute.
    attributes: Vec<(String, String)>,
}

/// `GET /products/{id}`.
pub async fn product(ctx: Ctx, Path(id): Path<String>) -> Response {
    let Ok(id) = Uuid::parse_str(&id) else {
        return ctx.error_page(StatusCode::NOT_FOUND, "error-not-found");
    };
    let product = match ctx.get::<Product>(Upstream::Catalog, &format!("/products/{id}")).await {
        Ok(product) => product,
        Err(err) => return ctx.fail(&err),
    };
    let fields: Vec<Field> = match product.template_id {
        Some(template) => ctx
            .get::<ProductTemplate>(Upstream::Catalog, &format!("/templates/{template}"))
            .await
            .map(|t| schema::fields(&t.schema))
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let attributes = attribute_rows(&ctx, &fields, &product.attributes);
    ctx.render(
        ProductPage {
            ctx: &ctx,
            product,
            attributes,
        }
        .render(),
    )
}

/// The product's attributes as (label, text): the template's fields first, in its order, then
/// anything else the product holds.
fn attribute_rows(ctx: &Ctx, fields: &[Field], attributes: &serde_json::Value) -> Vec<(String, String)> {
    let Some(values) = attributes.as_object() else {
        return Vec::new();
    };
    let (yes, no) = (ctx.t("yes"), ctx.t("no"));
    let mut rows: Vec<(String, String)> = fields
        .iter()
        .filter_map(|f| {
            let value = values.get(&f.name)?;
            let text = schema::show(value, &yes, &no);
            Some((
                f.label.clone(),
                match &f.unit {
                    Some(unit) => format!("{text} {unit}"),
                    None => text,
                },
            ))
        })
        .collect();
    for (name, value) in values {
        if !fields.iter().any(|f| &f.name == name) {
            rows.push((name.replace('_', " "), schema::show(value, &yes, &no)));
        }
    }
    rows
}
