//! Products: the list (search, low stock, pages), the create and edit form whose attribute
//! fields come from the chosen template's JSON Schema, images, stock adjustments and
//! deactivation.
//!
//! Changing the template re-draws the form with the new template's fields: from a link
//! (`?template=<id>`), or when the form is posted with another template than the one its
//! fields were drawn for (`template_was`): then nothing is saved, what was typed is kept, and
//! the new fields are shown to fill in. (A separate "load" button would be the form's default
//! button, which Enter presses.)

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, RawQuery};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::Value;
use shop_api::catalog::{
    Category, CreateProduct, Images, Product, StockAdjustment, StockLevel, Template as ProductTemplate, UpdateProduct,
};
use shop_api::page::Page;
use uuid::Uuid;

use crate::config::Upstream;
use crate::ui::admin::{
    Confirm, Errors, Fields, Pager, add_error, posted, refused_text, rule, with_notice, with_status,
};
use crate::ui::schema::{self, Field, Kind};
use crate::ui::{ApiError, Ctx, FormInput, Problem, query};

const PER_PAGE: i64 = 20;
/// The low-stock filter reads the catalog's list page by page (the catalog has no stock
/// filter for admins); it stops after this many products.
const LOW_STOCK_SCAN: i64 = 1000;
const DEFAULT_THRESHOLD: i64 = 5;

/// The list's filters.
#[derive(Debug, Clone, Default)]
pub struct ListFilters {
    pub q: String,
    pub low: bool,
    pub threshold: i64,
    pub page: i64,
}

impl ListFilters {
    /// The list's link for `page` with these filters.
    pub fn href(&self, page: i64) -> String {
        let query = query(&[
            ("q", self.q.clone()),
            ("low", if self.low { "on".into() } else { String::new() }),
            (
                "threshold",
                if self.low {
                    self.threshold.to_string()
                } else {
                    String::new()
                },
            ),
            ("page", if page > 1 { page.to_string() } else { String::new() }),
        ]);
        if query.is_empty() {
            "/admin/products".into()
        } else {
            format!("/admin/products?{query}")
        }
    }
}

#[derive(Template)]
#[template(path = "admin/products.html")]
struct ListPage<'a> {
    ctx: &'a Ctx,
    filters: ListFilters,
    products: Vec<Product>,
    total: i64,
    pager: Pager,
    /// The low-stock scan stopped before the end of the catalog.
    truncated: bool,
}

/// `GET /admin/products?q=&low=on&threshold=&page=`.
pub async fn list(ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    if let Err(refusal) = ctx.need_admin() {
        return refusal;
    }
    let q = Fields::query(raw.as_deref());
    let filters = ListFilters {
        q: q.get("q").chars().take(200).collect(),
        low: q.checked("low"),
        threshold: q
            .get("threshold")
            .parse()
            .ok()
            .filter(|t| (0..=1_000_000_000).contains(t))
            .unwrap_or(DEFAULT_THRESHOLD),
        page: q.page(),
    };
    let listed = if filters.low {
        low_stock(&ctx, &filters).await
    } else {
        let path = format!(
            "/products?{}",
            query(&[
                ("q", filters.q.clone()),
                ("include_inactive", "true".into()),
                (
                    "sort",
                    if filters.q.is_empty() {
                        "newest".into()
                    } else {
                        "relevance".into()
                    }
                ),
                ("page", filters.page.to_string()),
                ("per_page", PER_PAGE.to_string()),
            ])
        );
        ctx.get::<Page<Product>>(Upstream::Catalog, &path)
            .await
            .map(|page| (page, false))
    };
    let (page, truncated) = match listed {
        Ok(listed) => listed,
        Err(err) => return ctx.fail(&err),
    };
    let pager = Pager::new(filters.page, page.pages(), |n| filters.href(n));
    ctx.render(
        ListPage {
            ctx: &ctx,
            total: page.total,
            products: page.items,
            pager,
            truncated,
            filters,
        }
        .render(),
    )
}

/// The products matching the search with at most `threshold` in stock, lowest first, as one
/// page of the filtered list; and whether the scan stopped early.
async fn low_stock(ctx: &Ctx, filters: &ListFilters) -> Result<(Page<Product>, bool), ApiError> {
    let path = |page: i64| {
        format!(
            "/products?{}",
            query(&[
                ("q", filters.q.clone()),
                ("include_inactive", "true".into()),
                ("sort", "name".into()),
                ("page", page.to_string()),
                ("per_page", "100".into()),
            ])
        )
    };
    let first = ctx.get::<Page<Product>>(Upstream::Catalog, &path(1)).await?;
    let pages = first.pages().min(LOW_STOCK_SCAN / 100);
    let truncated = first.total > LOW_STOCK_SCAN || !first.total_exact;
    let mut all = first.items;
    let rest = futures::future::join_all((2..=pages).map(|n| {
        let path = path(n);
        async move { ctx.get::<Page<Product>>(Upstream::Catalog, &path).await }
    }))
    .await;
    for page in rest {
        all.extend(page?.items);
    }
    let mut low: Vec<Product> = all
        .into_iter()
        .filter(|p| i64::from(p.stock) <= filters.threshold)
        .collect();
    low.sort_by(|a, b| a.stock.cmp(&b.stock).then_with(|| a.name.cmp(&b.name)));
    let total = low.len() as i64;
    let skip = usize::try_from((filters.page - 1) * PER_PAGE).unwrap_or(usize::MAX);
    let items = low.into_iter().skip(skip).take(PER_PAGE as usize).collect();
    Ok((
        Page {
            items,
            page: filters.page,
            per_page: PER_PAGE,
            total,
            total_exact: true,
            next: None,
        },
        truncated,
    ))
}

/// What the product form holds, as typed.
#[derive(Debug, Clone, Default)]
pub struct ProductForm {
    pub sku: String,
    pub name: String,
    pub description: String,
    pub price: String,
    /// The first stock (create only).
    pub stock: String,
    pub active: bool,
    pub categories: Vec<String>,
    /// The template's id, or `""` for none.
    pub template: String,
    /// The template the attribute fields were drawn for.
    pub template_was: String,
    /// `attr.<name>` → value (`on` for a ticked checkbox).
    pub attrs: BTreeMap<String, String>,
    /// One image URL per line (create only; an existing product has its own form).
    pub images: String,
    /// The version the form was drawn from (edit only).
    pub version: String,
}

impl ProductForm {
    fn of(product: &Product) -> Self {
        let attrs = product
            .attributes
            .as_object()
            .map(|values| {
                values
                    .iter()
                    .map(|(k, v)| (k.clone(), schema::show(v, "on", "")))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            sku: product.sku.clone(),
            name: product.name.clone(),
            description: product.description.clone(),
            price: product.price.to_string(),
            stock: product.stock.to_string(),
            active: product.is_active,
            categories: product.categories.clone(),
            template: product.template_id.map(|t| t.to_string()).unwrap_or_default(),
            template_was: String::new(),
            attrs,
            images: product.images.join("\n"),
            version: product.version.to_string(),
        }
    }

    fn posted(fields: &Fields) -> Self {
        Self {
            sku: fields.get("sku").to_owned(),
            name: fields.get("name").to_owned(),
            description: fields.raw("description").to_owned(),
            price: fields.get("price").to_owned(),
            stock: fields.get("stock").to_owned(),
            active: fields.checked("is_active"),
            categories: fields.all("categories"),
            template: fields.get("template_id").to_owned(),
            template_was: fields.get("template_was").to_owned(),
            attrs: fields
                .0
                .iter()
                .filter_map(|(k, v)| Some((k.strip_prefix("attr.")?.to_owned(), v.clone())))
                .collect(),
            images: fields.raw("images").to_owned(),
            version: fields.get("expected_version").to_owned(),
        }
    }

    fn template_id(&self) -> Option<Uuid> {
        Uuid::parse_str(&self.template).ok()
    }

    /// The `attributes` object for the template's fields.
    fn attributes(&self, fields: &[Field]) -> Value {
        let pairs: Vec<(String, String)> = self
            .attrs
            .iter()
            .map(|(k, v)| (format!("attr.{k}"), v.clone()))
            .collect();
        schema::from_form(fields, &pairs)
    }

    fn image_list(&self) -> Vec<String> {
        image_lines(&self.images)
    }
}

/// The non-empty lines of a textarea.
fn image_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// One attribute's control, ready to draw.
pub struct AttrInput {
    /// `attr-0`: schema names may hold any character, so ids count instead.
    pub id: String,
    /// `attr.size`
    pub name: String,
    pub label: String,
    pub unit: Option<String>,
    /// The schema's `description`, and the bounds of a whole number.
    pub hint: Option<String>,
    pub required: bool,
    /// `select`, `checkbox`, `integer`, `number` or `text`.
    pub control: &'static str,
    pub options: Vec<String>,
    pub max_length: Option<u64>,
    pub value: String,
    pub error: Option<String>,
}

impl AttrInput {
    fn described_by(&self) -> String {
        let mut ids = Vec::new();
        if self.hint.is_some() {
            ids.push(format!("{}-hint", self.id));
        }
        if self.error.is_some() {
            ids.push(format!("{}-error", self.id));
        }
        ids.join(" ")
    }
}

fn attr_inputs(fields: &[Field], form: &ProductForm, errors: &Errors) -> Vec<AttrInput> {
    fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let value = form.attrs.get(&f.name).cloned().unwrap_or_default();
            let (control, mut options, max_length) = match &f.kind {
                Kind::Choice(options) => ("select", options.clone(), None),
                Kind::Boolean => ("checkbox", Vec::new(), None),
                Kind::Integer { .. } => ("integer", Vec::new(), None),
                Kind::Number => ("number", Vec::new(), None),
                Kind::Text { max_length } => ("text", Vec::new(), *max_length),
            };
            let bounds = match &f.kind {
                Kind::Integer {
                    minimum: Some(min),
                    maximum: Some(max),
                } => Some(format!("{min} … {max}")),
                Kind::Integer {
                    minimum: Some(min),
                    maximum: None,
                } => Some(format!("≥ {min}")),
                Kind::Integer {
                    minimum: None,
                    maximum: Some(max),
                } => Some(format!("≤ {max}")),
                _ => None,
            };
            let hint = match (f.help.clone(), bounds) {
                (Some(help), Some(bounds)) => Some(format!("{help} ({bounds})")),
                (help, bounds) => help.or(bounds),
            };
            // A value the schema does not offer stays visible (with its error), not silently
            // replaced by the first option.
            if control == "select" && !value.is_empty() && !options.contains(&value) {
                options.push(value.clone());
            }
            AttrInput {
                id: format!("attr-{i}"),
                name: format!("attr.{}", f.name),
                label: f.label.clone(),
                unit: f.unit.clone(),
                hint,
                required: f.required,
                control,
                options,
                max_length,
                value,
                error: errors.get(&format!("attr.{}", f.name)).cloned(),
            }
        })
        .collect()
}

/// A product's problem as messages per form field: `/attributes/size` → `attr.size`,
/// `/categories/1` → `categories`; a missing required attribute (reported at `/attributes`)
/// goes to its own field when the form has it.
pub fn product_errors(ctx: &Ctx, problem: &Problem, fields: &[Field]) -> Errors {
    let mut errors = Errors::new();
    for (pointer, message) in &problem.errors {
        let path = pointer.trim_start_matches('/');
        let required = required_property(message).filter(|name| fields.iter().any(|f| &f.name == name));
        let key = if let Some(rest) = path.strip_prefix("attributes/") {
            let name = crate::ui::admin::pointer_field(rest);
            format!("attr.{name}")
        } else if path == "attributes" {
            required
                .as_ref()
                .map_or_else(|| "attributes".to_owned(), |name| format!("attr.{name}"))
        } else {
            crate::ui::admin::pointer_field(path)
        };
        // The schema's own words, except for a missing field, which is said next to it.
        let text = if path == "attributes" && required.is_some() {
            ctx.t("admin-rule-required")
        } else if key.starts_with("attr.") || key == "attributes" {
            message.clone()
        } else {
            rule(ctx, message)
        };
        add_error(&mut errors, key, text);
    }
    errors
}

/// `size` from JSON Schema's `"size" is a required property`.
fn required_property(message: &str) -> Option<String> {
    let name = message.strip_suffix(" is a required property")?;
    Some(name.strip_prefix('"')?.strip_suffix('"')?.to_owned())
}

/// The form fields the product page draws errors next to; any other goes to the top.
const PLACED: [&str; 10] = [
    "sku",
    "name",
    "description",
    "price",
    "stock",
    "categories",
    "template_id",
    "attributes",
    "images",
    "is_active",
];

#[derive(Template)]
#[template(path = "admin/product.html")]
struct ProductPage<'a> {
    ctx: &'a Ctx,
    /// `None` when creating.
    product: Option<Product>,
    form: ProductForm,
    templates: Vec<ProductTemplate>,
    categories: Vec<Category>,
    attrs: Vec<AttrInput>,
    errors: Errors,
    /// Errors of fields the form does not show, and what is not about one field.
    alerts: Vec<String>,
    /// The images form (edit only).
    images: String,
    images_error: Option<String>,
    delta: String,
    delta_error: Option<String>,
    fill_in: bool,
}

impl ProductPage<'_> {
    fn action(&self) -> String {
        self.product
            .as_ref()
            .map_or_else(|| "/admin/products/new".into(), |p| format!("/admin/products/{}", p.id))
    }

    fn has_category(&self, slug: &str) -> bool {
        self.form.categories.iter().any(|c| c == slug)
    }

    fn template_name(&self) -> Option<&str> {
        let id = self.form.template_id()?;
        self.templates.iter().find(|t| t.id == id).map(|t| t.name.as_str())
    }

    fn error(&self, field: &str) -> Option<&String> {
        self.errors.get(field)
    }
}

/// What else the product page shows besides the main form.
#[derive(Default)]
struct Extras {
    alerts: Vec<String>,
    /// The template changed: its fields are new, nothing was saved.
    fill_in: bool,
    images: Option<String>,
    images_error: Option<String>,
    delta: String,
    delta_error: Option<String>,
}

/// Draws the product form (with `status`), loading the templates and categories it offers.
async fn page(
    ctx: &Ctx,
    product: Option<Product>,
    form: ProductForm,
    errors: Errors,
    extras: Extras,
    status: StatusCode,
) -> Response {
    let (templates, categories) = tokio::join!(
        ctx.get::<Vec<ProductTemplate>>(Upstream::Catalog, "/templates"),
        ctx.get::<Vec<Category>>(Upstream::Catalog, "/categories"),
    );
    let (templates, categories) = match (templates, categories) {
        (Ok(t), Ok(c)) => (t, c),
        (Err(err), _) | (_, Err(err)) => return ctx.fail(&err),
    };
    let fields = template_fields(&templates, form.template_id());
    let attrs = attr_inputs(&fields, &form, &errors);
    let mut alerts = extras.alerts;
    for (key, message) in &errors {
        let shown = PLACED.contains(&key.as_str())
            || key
                .strip_prefix("attr.")
                .is_some_and(|name| fields.iter().any(|f| f.name == name));
        if !shown {
            alerts.push(format!("{key}: {message}"));
        }
    }
    let images = extras
        .images
        .unwrap_or_else(|| product.as_ref().map(|p| p.images.join("\n")).unwrap_or_default());
    with_status(
        ctx.render(
            ProductPage {
                ctx,
                product,
                form,
                templates,
                categories,
                attrs,
                errors,
                alerts,
                images,
                images_error: extras.images_error,
                delta: extras.delta,
                delta_error: extras.delta_error,
                fill_in: extras.fill_in,
            }
            .render(),
        ),
        status,
    )
}

fn template_fields(templates: &[ProductTemplate], id: Option<Uuid>) -> Vec<Field> {
    id.and_then(|id| templates.iter().find(|t| t.id == id))
        .map(|t| schema::fields(&t.schema))
        .unwrap_or_default()
}

/// `GET /admin/products/new?template=<id>`.
pub async fn new(ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    if let Err(refusal) = ctx.need_admin() {
        return refusal;
    }
    let q = Fields::query(raw.as_deref());
    let form = ProductForm {
        active: true,
        template: q.get("template").to_owned(),
        ..ProductForm::default()
    };
    page(&ctx, None, form, Errors::new(), Extras::default(), StatusCode::OK).await
}

async fn load(ctx: &Ctx, id: &str) -> Result<Product, Response> {
    let Ok(id) = Uuid::parse_str(id) else {
        return Err(ctx.error_page(StatusCode::NOT_FOUND, "error-not-found"));
    };
    ctx.get::<Product>(Upstream::Catalog, &format!("/products/{id}"))
        .await
        .map_err(|err| ctx.fail(&err))
}

/// `GET /admin/products/{id}?template=<id>`.
pub async fn edit(ctx: Ctx, Path(id): Path<String>, RawQuery(raw): RawQuery) -> Response {
    if let Err(refusal) = ctx.need_admin() {
        return refusal;
    }
    let product = match load(&ctx, &id).await {
        Ok(p) => p,
        Err(answer) => return answer,
    };
    let mut form = ProductForm::of(&product);
    let q = Fields::query(raw.as_deref());
    if q.0.iter().any(|(k, _)| k == "template") {
        form.template = q.get("template").to_owned();
    }
    page(
        &ctx,
        Some(product),
        form,
        Errors::new(),
        Extras::default(),
        StatusCode::OK,
    )
    .await
}

/// The checks made here before calling the catalog: a price and a stock it can read.
fn local_errors(ctx: &Ctx, form: &ProductForm, creating: bool) -> (Errors, Option<rust_decimal::Decimal>, i64) {
    let mut errors = Errors::new();
    let price = crate::ui::money::typed_price(&form.price);
    if price.is_none() {
        let key = if form.price.is_empty() {
            "admin-rule-empty"
        } else {
            "admin-rule-price"
        };
        add_error(&mut errors, "price", ctx.t(key));
    }
    let mut stock = 0;
    if creating && !form.stock.is_empty() {
        match form.stock.parse::<i64>() {
            Ok(n) => stock = n,
            Err(_) => add_error(&mut errors, "stock", ctx.t("admin-rule-whole-number")),
        }
    }
    (errors, price, stock)
}

/// Whether the form's template is another than the one its fields were drawn for (removing
/// the template needs no new fields).
fn template_changed(form: &ProductForm) -> bool {
    form.template_id().is_some() && form.template != form.template_was
}

/// The form again, with the new template's fields to fill in.
fn new_fields() -> Extras {
    Extras {
        fill_in: true,
        ..Extras::default()
    }
}

/// `POST /admin/products/new`.
pub async fn create(ctx: Ctx, form: FormInput<Vec<(String, String)>>) -> Response {
    let fields = match posted(&ctx, form) {
        Ok(f) => f,
        Err(refusal) => return refusal,
    };
    let form = ProductForm::posted(&fields);
    if template_changed(&form) {
        return page(&ctx, None, form, Errors::new(), new_fields(), StatusCode::OK).await;
    }
    let (errors, price, stock) = local_errors(&ctx, &form, true);
    let Some(price) = price.filter(|_| errors.is_empty()) else {
        return page(
            &ctx,
            None,
            form,
            errors,
            Extras::default(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let templates = match ctx.get::<Vec<ProductTemplate>>(Upstream::Catalog, "/templates").await {
        Ok(t) => t,
        Err(err) => return ctx.fail(&err),
    };
    let schema_fields = template_fields(&templates, form.template_id());
    let body = CreateProduct {
        sku: form.sku.clone(),
        name: form.name.clone(),
        description: form.description.clone(),
        price,
        stock,
        is_active: form.active,
        attributes: form.attributes(&schema_fields),
        template_id: form.template_id(),
        images: form.image_list(),
        categories: form.categories.clone(),
    };
    match ctx
        .send::<Product>(Upstream::Catalog, Method::POST, "/products", &body)
        .await
    {
        Ok(product) => ctx.redirect(&format!("/admin/products/{}?notice=admin-product-created", product.id)),
        Err(ApiError::Problem(p)) if p.status == 422 || p.status == 409 => {
            let (errors, extras) = refusal(&ctx, &p, &schema_fields);
            page(&ctx, None, form, errors, extras, status_of(&p)).await
        }
        Err(err) => ctx.fail(&err),
    }
}

/// The messages of a refused create or edit.
fn refusal(ctx: &Ctx, p: &Problem, fields: &[Field]) -> (Errors, Extras) {
    let mut extras = Extras::default();
    let mut errors = Errors::new();
    match p.slug.as_str() {
        "sku-taken" => add_error(&mut errors, "sku", ctx.t("admin-rule-sku-taken")),
        "version-mismatch" => extras.alerts.push(ctx.t("admin-product-conflict")),
        _ if p.errors.is_empty() => {
            extras.alerts.push(refused_text(ctx, p));
        }
        _ => errors = product_errors(ctx, p, fields),
    }
    (errors, extras)
}

fn status_of(p: &Problem) -> StatusCode {
    StatusCode::from_u16(p.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY)
}

/// `POST /admin/products/{id}`: saves the form (with the version it was drawn from).
pub async fn update(ctx: Ctx, Path(id): Path<String>, form: FormInput<Vec<(String, String)>>) -> Response {
    let fields = match posted(&ctx, form) {
        Ok(f) => f,
        Err(refusal) => return refusal,
    };
    let product = match load(&ctx, &id).await {
        Ok(p) => p,
        Err(answer) => return answer,
    };
    let form = ProductForm::posted(&fields);
    if template_changed(&form) {
        return page(&ctx, Some(product), form, Errors::new(), new_fields(), StatusCode::OK).await;
    }
    let (errors, price, _) = local_errors(&ctx, &form, false);
    let Some(price) = price.filter(|_| errors.is_empty()) else {
        return page(
            &ctx,
            Some(product),
            form,
            errors,
            Extras::default(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let templates = match ctx.get::<Vec<ProductTemplate>>(Upstream::Catalog, "/templates").await {
        Ok(t) => t,
        Err(err) => return ctx.fail(&err),
    };
    let template = form.template_id();
    let schema_fields = template_fields(&templates, template);
    let body = UpdateProduct {
        sku: Some(form.sku.clone()),
        name: Some(form.name.clone()),
        description: Some(form.description.clone()),
        price: Some(price),
        is_active: Some(form.active),
        // Without a template the form shows no attributes, so the product's stay as they are.
        attributes: template.map(|_| form.attributes(&schema_fields)),
        template_id: Some(template),
        categories: Some(form.categories.clone()),
        expected_version: form.version.parse().ok(),
        ..UpdateProduct::default()
    };
    match ctx
        .send::<Product>(
            Upstream::Catalog,
            Method::PATCH,
            &format!("/products/{}", product.id),
            &body,
        )
        .await
    {
        Ok(saved) => ctx.redirect(&format!("/admin/products/{}?notice=admin-product-saved", saved.id)),
        Err(ApiError::Problem(p)) if p.status == 422 || p.status == 409 => {
            let (errors, extras) = refusal(&ctx, &p, &schema_fields);
            page(&ctx, Some(product), form, errors, extras, status_of(&p)).await
        }
        Err(err) => ctx.fail(&err),
    }
}

/// `POST /admin/products/{id}/images`: one URL per line, in order.
pub async fn images(ctx: Ctx, Path(id): Path<String>, form: FormInput<Vec<(String, String)>>) -> Response {
    let fields = match posted(&ctx, form) {
        Ok(f) => f,
        Err(refusal) => return refusal,
    };
    let Ok(id) = Uuid::parse_str(&id) else {
        return ctx.error_page(StatusCode::NOT_FOUND, "error-not-found");
    };
    let text = fields.raw("images").to_owned();
    let body = Images {
        images: image_lines(&text),
    };
    match ctx
        .send::<Product>(Upstream::Catalog, Method::PUT, &format!("/products/{id}/images"), &body)
        .await
    {
        Ok(saved) => ctx.redirect(&format!("/admin/products/{}?notice=admin-images-saved", saved.id)),
        Err(ApiError::Problem(p)) if p.status == 422 => {
            // Only a refusal needs the product again, to draw its page with the message.
            let product = match load(&ctx, &id.to_string()).await {
                Ok(product) => product,
                Err(answer) => return answer,
            };
            let message = if p.errors.is_empty() {
                p.detail.clone().unwrap_or_default()
            } else {
                p.errors
                    .iter()
                    .map(|(_, m)| rule(&ctx, m))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            let form = ProductForm::of(&product);
            let extras = Extras {
                images: Some(text),
                images_error: Some(message),
                ..Extras::default()
            };
            page(
                &ctx,
                Some(product),
                form,
                Errors::new(),
                extras,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(err) => ctx.fail(&err),
    }
}

/// `POST /admin/products/{id}/stock`: adds `delta` (negative to remove).
pub async fn stock(ctx: Ctx, Path(id): Path<String>, form: FormInput<Vec<(String, String)>>) -> Response {
    let fields = match posted(&ctx, form) {
        Ok(f) => f,
        Err(refusal) => return refusal,
    };
    let Ok(id) = Uuid::parse_str(&id) else {
        return ctx.error_page(StatusCode::NOT_FOUND, "error-not-found");
    };
    let typed = fields.get("delta");
    // Only a refusal needs the product, to draw its page with the message next to the delta.
    let ctx = &ctx;
    let again = |message: Option<String>, status: StatusCode| async move {
        let product = match load(ctx, &id.to_string()).await {
            Ok(product) => product,
            Err(answer) => return answer,
        };
        let message = message.unwrap_or_else(|| ctx.t1("admin-stock-out-of-range", "count", i64::from(product.stock)));
        let form = ProductForm::of(&product);
        let extras = Extras {
            delta: typed.to_owned(),
            delta_error: Some(message),
            ..Extras::default()
        };
        page(ctx, Some(product), form, Errors::new(), extras, status).await
    };
    let delta = match typed.trim_start_matches('+').parse::<i64>() {
        Ok(0) | Err(_) => return again(Some(ctx.t("admin-rule-delta")), StatusCode::UNPROCESSABLE_ENTITY).await,
        Ok(d) => d,
    };
    match ctx
        .send::<StockLevel>(
            Upstream::Catalog,
            Method::POST,
            &format!("/products/{id}/stock"),
            &StockAdjustment { delta },
        )
        .await
    {
        Ok(level) => ctx.redirect(&format!("/admin/products/{}?notice=admin-stock-adjusted", level.id)),
        // The catalog says how many there are; else the product read for the page does.
        Err(ApiError::Problem(p)) if p.status == 409 => {
            let now = p.body["stock"].as_i64();
            again(
                now.map(|n| ctx.t1("admin-stock-out-of-range", "count", n)),
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(ApiError::Problem(p)) if p.status == 422 => {
            again(Some(ctx.t("admin-rule-delta")), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(err) => ctx.fail(&err),
    }
}

/// `GET /admin/products/{id}/deactivate`: asks to confirm.
pub async fn confirm_deactivate(ctx: Ctx, Path(id): Path<String>) -> Response {
    if let Err(refusal) = ctx.need_admin() {
        return refusal;
    }
    let product = match load(&ctx, &id).await {
        Ok(product) => product,
        Err(answer) => return answer,
    };
    ctx.render(
        Confirm {
            ctx: &ctx,
            title: ctx.t("admin-product-deactivate"),
            question: ctx.t("admin-product-deactivate-question"),
            details: vec![
                (ctx.t("admin-col-product"), product.name.clone()),
                (ctx.t("admin-col-sku"), product.sku.clone()),
            ],
            action: format!("/admin/products/{}/deactivate", product.id),
            confirm: ctx.t("admin-product-deactivate-confirm"),
            back: format!("/admin/products/{}", product.id),
            alert: None,
            hidden: Vec::new(),
        }
        .render(),
    )
}

/// `POST /admin/products/{id}/deactivate`: hides the product from the shop (it stays in
/// orders; the edit form's "active" box brings it back).
pub async fn deactivate(ctx: Ctx, Path(id): Path<String>, form: FormInput<Vec<(String, String)>>) -> Response {
    if let Err(refusal) = posted(&ctx, form) {
        return refusal;
    }
    let Ok(id) = Uuid::parse_str(&id) else {
        return ctx.error_page(StatusCode::NOT_FOUND, "error-not-found");
    };
    match ctx
        .call(Upstream::Catalog, Method::DELETE, &format!("/products/{id}"), None)
        .await
    {
        Ok(()) => ctx.redirect(&with_notice(
            &format!("/admin/products/{id}"),
            "admin-product-deactivated",
        )),
        Err(err) => ctx.fail(&err),
    }
}

/// The body the catalog would get for `form` (for the unit tests).
#[cfg(test)]
fn create_body(form: &ProductForm, fields: &[Field]) -> Value {
    serde_json::json!({"attributes": form.attributes(fields), "images": form.image_list(), "categories": form.categories})
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn required_properties_are_found_in_schema_messages() {
        assert_eq!(
            required_property("\"size\" is a required property").as_deref(),
            Some("size")
        );
        assert_eq!(required_property("Additional properties are not allowed"), None);
    }

    #[test]
    fn a_posted_form_becomes_the_catalog_body() {
        let fields = Fields(
            [
                ("sku", "HAT-1"),
                ("categories", "hats"),
                ("categories", "clothing"),
                ("attr.size", "M"),
                ("attr.warranty", "12"),
                ("images", "https://a.test/1.png\r\n\r\n  https://a.test/2.png  \r\n"),
                ("is_active", "on"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .to_vec(),
        );
        let form = ProductForm::posted(&fields);
        assert!(form.active);
        let schema = json!({"properties": {"size": {"type": "string"}, "warranty": {"type": "integer"}}});
        assert_eq!(
            create_body(&form, &schema::fields(&schema)),
            json!({"attributes": {"size": "M", "warranty": 12},
                   "images": ["https://a.test/1.png", "https://a.test/2.png"],
                   "categories": ["hats", "clothing"]})
        );
    }

    #[test]
    fn list_links_keep_the_filters() {
        let f = ListFilters {
            q: "wool hat".into(),
            low: true,
            threshold: 3,
            page: 1,
        };
        assert_eq!(f.href(2), "/admin/products?q=wool+hat&low=on&threshold=3&page=2");
        assert_eq!(ListFilters::default().href(1), "/admin/products");
    }
}
