//! Products: the public list, search and lookups; admin create, update, deactivate, images
//! and stock.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use shop_api::{
    BatchRequest, BatchResponse, CreateProduct, Images, Page, Product, SearchResults, StockAdjustment, StockLevel,
    UpdateProduct,
};
use shop_kit::Problem;
use shop_kit::auth::{AdminUser, AuthUser};
use shop_kit::extract::{Json, Path};
use uuid::Uuid;

use super::conflict_on;
use super::params::{Cursor, ListParams};
use crate::AppState;
use crate::domain::{self, Errors};
use crate::store::constraints::{PRODUCT_TEMPLATE_FK, SKU_UNIQUE};
use crate::store::products::{self, Adjusted, Change, Filter, NewProduct, Updated};
use crate::store::{categories, templates};

/// The product routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/products", get(list).post(create))
        .route("/products/batch", post(batch))
        .route("/products/sku/{sku}", get(by_sku))
        .route("/products/{id}", get(show).patch(update).delete(deactivate))
        .route("/products/{id}/images", put(replace_images))
        .route("/products/{id}/stock", post(adjust_stock))
        .route("/search", get(search))
}

fn is_admin(user: Option<&AuthUser>) -> bool {
    user.is_some_and(AuthUser::is_admin)
}

/// Runs a parsed list query. Inactive products only for admins who ask for them.
/// The products of a page read with one extra row, whether there are more, and the count.
fn page_of<'a>(page: &'a crate::cache::Page, p: &ListParams) -> (&'a [Product], bool, i64) {
    let per_page = usize::try_from(p.per_page).unwrap_or(usize::MAX);
    let items = &page.0[..page.0.len().min(per_page)];
    (items, page.0.len() > per_page, page.1)
}

/// A page of the listing, from the cache when it is current (see [`crate::cache`]).
async fn run_list(state: &AppState, p: &ListParams, admin: bool) -> Result<crate::cache::Page, Problem> {
    let mut key = p.clone();
    key.include_inactive = admin && p.include_inactive;
    let generation = match state.listings.lookup(&key) {
        crate::cache::Lookup::Hit(page) => return Ok(page),
        crate::cache::Lookup::Miss(generation) => Some(generation),
        crate::cache::Lookup::Bypass => None,
    };
    let page = std::sync::Arc::new(read_list(state, &key).await?);
    if let Some(generation) = generation {
        state.listings.keep(key, generation, page.clone());
    }
    Ok(page)
}

async fn read_list(state: &AppState, p: &ListParams) -> Result<(Vec<Product>, i64), Problem> {
    let query = match p.tsquery() {
        Some(None) => return Ok((Vec::new(), 0)), // only punctuation: nothing can match
        Some(Some(q)) => Some(q),
        None => None,
    };
    let (category_ids, missing) = categories::resolve(&state.db, &p.categories).await?;
    if !missing.is_empty() {
        return Err(Problem::invalid(
            "category",
            format!("unknown category: {}", missing.join(", ")),
        ));
    }
    let sku_prefix =
        p.q.as_deref()
            .map(str::trim)
            .filter(|q| domain::sku(q).is_ok())
            .map(|q| {
                let mut pattern = String::new();
                for c in q.to_lowercase().chars() {
                    if matches!(c, '%' | '_' | '\\') {
                        pattern.push('\\');
                    }
                    pattern.push(c);
                }
                pattern + "%"
            });
    let filter = Filter {
        query,
        sku_prefix,
        categories: category_ids,
        price_min: p.price_min,
        price_max: p.price_max,
        in_stock: p.in_stock,
        include_inactive: p.include_inactive,
        sort: p.sort,
        // One more than the page, to know whether there is a next one.
        limit: p.per_page + 1,
        offset: (p.page - 1) * p.per_page,
        after: p.after.clone(),
    };
    Ok(products::list(&state.db, &filter).await?)
}

/// Lists products with filters, sort and pagination: `GET /products`.
#[utoipa::path(get, path = "/products", tag = "products",
    params(("q" = Option<String>, Query, description = "full-text query (name, description, SKU; case and accent insensitive, prefix matching)"),
           ("category" = Option<String>, Query, description = "category slug; repeat or comma-separate for several"),
           ("price_min" = Option<String>, Query), ("price_max" = Option<String>, Query), ("in_stock" = Option<bool>, Query),
           ("sort" = Option<String>, Query, description = "relevance | newest | price_asc | price_desc | name"),
           ("page" = Option<i64>, Query), ("per_page" = Option<i64>, Query, description = "1 to 100, default 20"),
           ("include_inactive" = Option<bool>, Query, description = "admins only"),
           ("after" = Option<String>, Query, description = "the `next` cursor of the page before (keyset paging; not with `page`)")),
    responses((status = 200, body = Page<Product>), (status = 422, description = "bad parameter or unknown category")))]
pub async fn list(
    State(state): State<AppState>,
    user: Option<AuthUser>,
    RawQuery(raw): RawQuery,
) -> Result<axum::response::Response, Problem> {
    let p = ListParams::parse(raw.as_deref())?;
    let page = run_list(&state, &p, is_admin(user.as_ref())).await?;
    let (items, more, counted) = page_of(&page, &p);
    // The next page's cursor, in every order but a text query's relevance.
    let next = (more && !(p.q.is_some() && p.sort == products::Sort::Relevance))
        .then(|| items.last().map(|last| Cursor::after(last, p.sort).encode()))
        .flatten();
    // Serialised from the (possibly cached) page itself: no copy of its products.
    let body = Page {
        items: items.iter().collect::<Vec<&Product>>(),
        page: p.page,
        per_page: p.per_page,
        total: counted.min(shop_api::page::COUNT_BOUND),
        total_exact: counted <= shop_api::page::COUNT_BOUND,
        next,
    };
    Ok(axum::Json(body).into_response())
}

/// Ranked full-text search: `GET /search?query=…&categories=…`.
#[utoipa::path(get, path = "/search", tag = "products",
    params(("query" = String, Query), ("categories" = Option<String>, Query, description = "comma-separated slugs"), ("limit" = Option<i64>, Query)),
    responses((status = 200, body = SearchResults), (status = 422)))]
pub async fn search(
    State(state): State<AppState>,
    user: Option<AuthUser>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<axum::Json<SearchResults>, Problem> {
    let mut p = ListParams::parse(raw.as_deref())?;
    if p.q.is_none() {
        return Err(Problem::invalid("query", "is required"));
    }
    p.sort = products::Sort::Relevance;
    p.include_inactive = false;
    let page = run_list(&state, &p, is_admin(user.as_ref())).await?;
    let (results, _, counted) = page_of(&page, &p);
    let request_id = headers
        .get(&shop_kit::observe::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    Ok(axum::Json(SearchResults {
        request_id,
        results: results.to_vec(),
        total: counted.min(shop_api::page::COUNT_BOUND),
        total_exact: counted <= shop_api::page::COUNT_BOUND,
    }))
}

/// One product: `GET /products/{id}` (inactive ones for admins only).
#[utoipa::path(get, path = "/products/{id}", tag = "products", responses((status = 200, body = Product), (status = 404)))]
pub async fn show(
    State(state): State<AppState>,
    user: Option<AuthUser>,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Product>, Problem> {
    products::get(&state.db, id, is_admin(user.as_ref()))
        .await?
        .map(axum::Json)
        .ok_or_else(|| Problem::not_found("no such product"))
}

/// One product by SKU, whatever its case: `GET /products/sku/{sku}`.
#[utoipa::path(get, path = "/products/sku/{sku}", tag = "products", responses((status = 200, body = Product), (status = 404)))]
pub async fn by_sku(
    State(state): State<AppState>,
    user: Option<AuthUser>,
    Path(sku): Path<String>,
) -> Result<axum::Json<Product>, Problem> {
    if sku.len() > 64 {
        return Err(Problem::not_found("no such product"));
    }
    products::get_by_sku(&state.db, &sku, is_admin(user.as_ref()))
        .await?
        .map(axum::Json)
        .ok_or_else(|| Problem::not_found("no such product"))
}

/// The batch lookup shared by the public and the internal route.
pub async fn lookup(state: &AppState, ids: &[Uuid]) -> Result<BatchResponse, Problem> {
    if ids.len() > 100 {
        return Err(Problem::invalid("/ids", "at most 100 ids"));
    }
    let items = products::batch(&state.db, ids).await?;
    let mut missing: Vec<Uuid> = Vec::new();
    for id in ids {
        if !items.iter().any(|p| p.id == *id) && !missing.contains(id) {
            missing.push(*id);
        }
    }
    Ok(BatchResponse { items, missing })
}

/// Many products in one call (carts and orders price with it): `POST /products/batch`.
#[utoipa::path(post, path = "/products/batch", tag = "products", request_body = BatchRequest, responses((status = 200, body = BatchResponse), (status = 422)))]
pub async fn batch(
    State(state): State<AppState>,
    Json(req): Json<BatchRequest>,
) -> Result<axum::Json<BatchResponse>, Problem> {
    Ok(axum::Json(lookup(&state, &req.ids).await?))
}

/// Resolves category slugs, recording unknown ones.
async fn category_ids(state: &AppState, slugs: &[String], errors: &mut Errors) -> Result<Vec<uuid::Uuid>, Problem> {
    if slugs.len() > 20 {
        errors.add("/categories", "at most 20 categories");
        return Ok(Vec::new());
    }
    let (ids, missing) = categories::resolve(&state.db, slugs).await?;
    for m in missing {
        let i = slugs.iter().position(|s| *s == m).unwrap_or(0);
        errors.add(&format!("/categories/{i}"), format!("unknown category {m:?}"));
    }
    Ok(ids)
}

/// Checks attributes against the template (if any), recording failures.
async fn check_template(
    state: &AppState,
    template_id: Option<Uuid>,
    attributes: &serde_json::Value,
    errors: &mut Errors,
) -> Result<(), Problem> {
    if !attributes.is_object() {
        errors.add("/attributes", "must be a JSON object");
        return Ok(());
    }
    let Some(id) = template_id else { return Ok(()) };
    let Some(template) = templates::get(&state.db, id).await? else {
        errors.add("/template_id", "no such template");
        return Ok(());
    };
    match domain::json_schema(&template.schema) {
        Ok(validator) => errors.0.extend(domain::check_attributes(&validator, attributes)),
        // Stored schemas were validated when saved; one that no longer compiles is our bug.
        Err(e) => {
            return Err(Problem::internal(anyhow::anyhow!(
                "template {id} has an invalid schema: {e}"
            )));
        }
    }
    Ok(())
}

fn map_write_error(e: sqlx::Error) -> Problem {
    if shop_kit::db::constraint(&e) == Some(PRODUCT_TEMPLATE_FK) {
        return Problem::invalid("/template_id", "no such template");
    }
    conflict_on(e, SKU_UNIQUE, "sku-taken", "a product with this SKU already exists")
}

/// Creates a product: `POST /products` (admin).
#[utoipa::path(post, path = "/products", tag = "admin", request_body = CreateProduct,
    responses((status = 201, body = Product), (status = 409, description = "duplicate SKU"), (status = 422, description = "invalid field, unknown category, attributes not matching the template")),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    _admin: AdminUser,
    Json(req): Json<CreateProduct>,
) -> Result<Response, Problem> {
    let mut errors = Errors::default();
    let sku = errors.check("/sku", domain::sku(&req.sku));
    let name = errors.check("/name", domain::text(&req.name, 200));
    let description = errors.check("/description", domain::description(&req.description));
    let price = errors.check("/price", domain::price(req.price));
    let stock = errors.check("/stock", domain::stock(req.stock));
    let images = errors.check("/images", domain::images(&req.images));
    let categories = category_ids(&state, &req.categories, &mut errors).await?;
    check_template(&state, req.template_id, &req.attributes, &mut errors).await?;
    errors.finish()?;
    let (Some(sku), Some(name), Some(description), Some(price), Some(stock), Some(images)) =
        (sku, name, description, price, stock, images)
    else {
        return Err(Problem::internal(anyhow::anyhow!("validated fields missing")));
    };
    let new = NewProduct {
        sku,
        name,
        description,
        price,
        stock,
        is_active: req.is_active,
        attributes: req.attributes,
        template_id: req.template_id,
        images,
        categories,
    };
    let mut tx = state.db.begin().await?;
    let id = products::insert(&mut tx, &new).await.map_err(map_write_error)?;
    tx.commit().await?;
    let product = products::get(&state.db, id, true)
        .await?
        .ok_or_else(|| Problem::not_found("no such product"))?;
    tracing::info!(product_id = %id, sku = %product.sku, "product created");
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/products/{id}"))],
        axum::Json(product),
    )
        .into_response())
}

/// Changes a product: `PATCH /products/{id}` (admin). Attributes are checked against the
/// template that will apply after the change.
#[utoipa::path(patch, path = "/products/{id}", tag = "admin", request_body = UpdateProduct,
    responses((status = 200, body = Product), (status = 404), (status = 409, description = "duplicate SKU or version mismatch"), (status = 422)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<Uuid>,
    Json(req): Json<UpdateProduct>,
) -> Result<axum::Json<Product>, Problem> {
    let current = products::get(&state.db, id, true)
        .await?
        .ok_or_else(|| Problem::not_found("no such product"))?;
    let mut errors = Errors::default();
    if req.stock.is_some() {
        errors.add("/stock", "change stock with POST /products/{id}/stock {\"delta\": n}");
    }
    let change = Change {
        sku: req.sku.as_deref().and_then(|s| errors.check("/sku", domain::sku(s))),
        name: req
            .name
            .as_deref()
            .and_then(|s| errors.check("/name", domain::text(s, 200))),
        description: req
            .description
            .as_deref()
            .and_then(|s| errors.check("/description", domain::description(s))),
        price: req.price.and_then(|p| errors.check("/price", domain::price(p))),
        is_active: req.is_active,
        attributes: req.attributes.clone(),
        template_id: req.template_id,
        images: req
            .images
            .as_deref()
            .and_then(|i| errors.check("/images", domain::images(i))),
    };
    let categories = match &req.categories {
        Some(slugs) => Some(category_ids(&state, slugs, &mut errors).await?),
        None => None,
    };
    if req.attributes.is_some() || req.template_id.is_some() {
        let template = req.template_id.unwrap_or(current.template_id);
        let attributes = req.attributes.as_ref().unwrap_or(&current.attributes);
        check_template(&state, template, attributes, &mut errors).await?;
    }
    errors.finish()?;
    // The attributes were checked against `current`; apply only if nobody changed it since.
    let version = req.expected_version.unwrap_or(current.version);
    let mut tx = state.db.begin().await?;
    match products::update(&mut tx, id, &change, Some(version))
        .await
        .map_err(map_write_error)?
    {
        Updated::Done => {}
        Updated::NotFound => return Err(Problem::not_found("no such product")),
        Updated::VersionMismatch(now) => {
            return Err(Problem::conflict(
                "version-mismatch",
                format!("the product is at version {now}, not {version}; reload and retry"),
            )
            .with("current_version", now));
        }
    }
    if let Some(ids) = categories {
        products::set_categories(&mut tx, id, &ids).await?;
    }
    tx.commit().await?;
    let product = products::get(&state.db, id, true)
        .await?
        .ok_or_else(|| Problem::not_found("no such product"))?;
    Ok(axum::Json(product))
}

/// Deactivates a product (it stays for orders that reference it): `DELETE /products/{id}`.
#[utoipa::path(delete, path = "/products/{id}", tag = "admin", responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn deactivate(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, Problem> {
    let mut tx = state.db.begin().await?;
    let change = Change {
        is_active: Some(false),
        ..Change::default()
    };
    match products::update(&mut tx, id, &change, None).await? {
        Updated::Done => {
            tx.commit().await?;
            Ok(StatusCode::NO_CONTENT)
        }
        _ => Err(Problem::not_found("no such product")),
    }
}

/// Replaces the ordered image list: `PUT /products/{id}/images` (admin).
#[utoipa::path(put, path = "/products/{id}/images", tag = "admin", request_body = Images, responses((status = 200, body = Product), (status = 404), (status = 422)), security(("bearer" = [])))]
pub async fn replace_images(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<Uuid>,
    Json(req): Json<Images>,
) -> Result<axum::Json<Product>, Problem> {
    let images = domain::images(&req.images).map_err(|e| Problem::invalid("/images", e))?;
    let mut tx = state.db.begin().await?;
    let change = Change {
        images: Some(images),
        ..Change::default()
    };
    match products::update(&mut tx, id, &change, None).await? {
        Updated::Done => tx.commit().await?,
        _ => return Err(Problem::not_found("no such product")),
    }
    let product = products::get(&state.db, id, true)
        .await?
        .ok_or_else(|| Problem::not_found("no such product"))?;
    Ok(axum::Json(product))
}

/// Adjusts stock relatively, in one conditional statement (never read-modify-write):
/// `POST /products/{id}/stock` (admin). 409 when it would go below zero.
#[utoipa::path(post, path = "/products/{id}/stock", tag = "admin", request_body = StockAdjustment,
    responses((status = 200, body = StockLevel), (status = 404), (status = 409, description = "would go below zero"), (status = 422)), security(("bearer" = [])))]
pub async fn adjust_stock(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<Uuid>,
    Json(req): Json<StockAdjustment>,
) -> Result<axum::Json<StockLevel>, Problem> {
    let delta = i32::try_from(req.delta)
        .ok()
        .filter(|d| d.unsigned_abs() <= 1_000_000_000 && *d != 0)
        .ok_or_else(|| {
            Problem::invalid(
                "/delta",
                "must be a non-zero whole number between -1000000000 and 1000000000",
            )
        })?;
    match products::adjust_stock(&state.db, id, delta).await? {
        Adjusted::To(stock) => Ok(axum::Json(StockLevel { id, stock })),
        Adjusted::NotFound => Err(Problem::not_found("no such product")),
        Adjusted::OutOfRange(stock) => Err(Problem::conflict(
            "stock-out-of-range",
            format!("stock is {stock}; adding {delta} leaves it outside 0..=1000000000"),
        )
        .with("stock", stock)),
    }
}
