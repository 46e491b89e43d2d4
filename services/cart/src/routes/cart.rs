//! The cart: `GET /cart`, `POST /cart/add|set|remove|clear` for the signed-in user; and, for a
//! `service` token, `GET /internal/carts/{user_id}` (scope `cart:read`) and
//! `POST /internal/carts/{user_id}/clear` (`cart:clear`).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use rust_decimal::Decimal;
use shop_api::openapi::KIT_STATUSES;
use shop_api::{BearerAuth, Cart, HeldCart, Line, LineRequest, Product, RemoveRequest};
use shop_kit::Problem;
use shop_kit::auth::{AuthUser, ServiceScope, scope};
use shop_kit::extract::{Json, Path};
use utoipa::OpenApi;
use uuid::Uuid;

use crate::AppState;
use crate::store::Changed;

/// The cart routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/cart", get(show))
        .route("/cart/add", post(add))
        .route("/cart/set", post(set))
        .route("/cart/remove", post(remove))
        .route("/cart/clear", post(clear))
        .route("/internal/carts/{user_id}", get(internal_show))
        .route("/internal/carts/{user_id}/clear", post(internal_clear))
        .route("/internal/carts/{user_id}/take", post(internal_take))
        .route("/internal/carts/{user_id}/restore", post(internal_restore))
}

/// The cart of `user`, priced from the catalog (one call).
async fn view(state: &AppState, user: Uuid) -> Result<Cart, Problem> {
    let lines = state.store.get(user).await?;
    let ids: Vec<Uuid> = lines.iter().map(|(id, _)| *id).collect();
    let products = match state.catalog.products(&ids).await {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::warn!(error = %e, "catalog unavailable; the cart goes out unpriced");
            None
        }
    };
    Ok(priced(user, lines, products))
}

/// The cart of `user` after a change, priced with `products` when they cover every line (they
/// were read for the change, before it); otherwise read again.
async fn view_after(state: &AppState, user: Uuid, products: Vec<Product>) -> Result<Cart, Problem> {
    let lines = state.store.get(user).await?;
    if lines.iter().all(|(id, _)| products.iter().any(|p| p.id == *id)) {
        Ok(priced(user, lines, Some(products)))
    } else {
        // Another request added a product in between.
        view(state, user).await
    }
}

/// `lines` with the catalog's `products` (`None`: the catalog could not be asked).
fn priced(user: Uuid, lines: Vec<(Uuid, i64)>, products: Option<Vec<Product>>) -> Cart {
    let units = lines.iter().map(|(_, q)| q).sum();
    let mut total = Decimal::ZERO;
    let items = lines
        .into_iter()
        .map(|(product_id, qty)| {
            let p = products.as_ref().and_then(|ps| ps.iter().find(|p| p.id == product_id));
            let line_total = p.map(|p| p.price * Decimal::from(qty));
            total += line_total.unwrap_or_default();
            Line {
                product_id,
                qty,
                sku: p.map(|p| p.sku.clone()),
                name: p.map(|p| p.name.clone()),
                unit_price: p.map(|p| p.price),
                line_total,
                image: p.and_then(|p| p.images.first().cloned()),
                available: products
                    .as_ref()
                    .map(|_| p.is_some_and(|p| p.is_active && i64::from(p.stock) >= qty)),
                stock: p.map(|p| p.stock),
            }
        })
        .collect();
    Cart {
        user_id: user,
        items,
        priced: products.is_some(),
        total: products.map(|_| total),
        units,
    }
}

/// The signed-in user's cart: `GET /cart`.
#[utoipa::path(get, path = "/cart", tag = "cart", responses((status = 200, body = Cart), (status = 401), (status = 503)), security(("bearer" = [])))]
pub async fn show(State(state): State<AppState>, user: AuthUser) -> Result<axum::Json<Cart>, Problem> {
    Ok(axum::Json(view(&state, user.id).await?))
}

/// Refuses products the catalog does not sell (unknown or inactive). In the same call it reads
/// the other products of the cart, so the answer is priced without a second one.
async fn sellable(state: &AppState, user: Uuid, product: Uuid) -> Result<Vec<Product>, Problem> {
    let mut ids: Vec<Uuid> = state.store.get(user).await?.into_iter().map(|(id, _)| id).collect();
    if !ids.contains(&product) {
        ids.push(product);
    }
    let found = state.catalog.products(&ids).await.map_err(|e| {
        tracing::warn!(error = %e, "catalog unavailable");
        Problem::unavailable("the catalog is unavailable; try again shortly")
    })?;
    match found.iter().find(|p| p.id == product) {
        None => Err(Problem::invalid("/product_id", "no such product")),
        Some(p) if !p.is_active => Err(Problem::invalid("/product_id", "this product is no longer sold")),
        Some(_) => Ok(found),
    }
}

fn outcome(changed: Changed, max_lines: i64, max_qty: i64) -> Result<(), Problem> {
    match changed {
        Changed::Qty(_) => Ok(()),
        Changed::Full => Err(Problem::conflict(
            "cart-full",
            format!("a cart holds at most {max_lines} different products"),
        )),
        Changed::TooMany => Err(Problem::conflict(
            "line-limit",
            format!("at most {max_qty} units of one product"),
        )),
    }
}

/// Adds units of a product (increments an existing line): `POST /cart/add`.
#[utoipa::path(post, path = "/cart/add", tag = "cart", request_body = LineRequest,
    responses((status = 200, body = Cart), (status = 409, description = "cart full or line limit"), (status = 422, description = "bad quantity, unknown or inactive product"), (status = 503)),
    security(("bearer" = [])))]
pub async fn add(
    State(state): State<AppState>,
    user: AuthUser,
    Json(req): Json<LineRequest>,
) -> Result<axum::Json<Cart>, Problem> {
    let limits = state.store.limits();
    if !(1..=limits.max_qty).contains(&req.qty) {
        return Err(Problem::invalid(
            "/qty",
            format!("must be from 1 to {}", limits.max_qty),
        ));
    }
    let products = sellable(&state, user.id, req.product_id).await?;
    outcome(
        state.store.add(user.id, req.product_id, req.qty).await?,
        limits.max_lines,
        limits.max_qty,
    )?;
    Ok(axum::Json(view_after(&state, user.id, products).await?))
}

/// Sets a line's quantity; 0 removes it: `POST /cart/set`.
#[utoipa::path(post, path = "/cart/set", tag = "cart", request_body = LineRequest,
    responses((status = 200, body = Cart), (status = 409), (status = 422), (status = 503)), security(("bearer" = [])))]
pub async fn set(
    State(state): State<AppState>,
    user: AuthUser,
    Json(req): Json<LineRequest>,
) -> Result<axum::Json<Cart>, Problem> {
    let limits = state.store.limits();
    if !(0..=limits.max_qty).contains(&req.qty) {
        return Err(Problem::invalid(
            "/qty",
            format!("must be from 0 to {}", limits.max_qty),
        ));
    }
    let products = if req.qty > 0 {
        Some(sellable(&state, user.id, req.product_id).await?)
    } else {
        None
    };
    outcome(
        state.store.set(user.id, req.product_id, req.qty).await?,
        limits.max_lines,
        limits.max_qty,
    )?;
    Ok(axum::Json(match products {
        Some(products) => view_after(&state, user.id, products).await?,
        None => view(&state, user.id).await?,
    }))
}

/// Removes a line: `POST /cart/remove`.
#[utoipa::path(post, path = "/cart/remove", tag = "cart", request_body = RemoveRequest, responses((status = 200, body = Cart), (status = 503)), security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    user: AuthUser,
    Json(req): Json<RemoveRequest>,
) -> Result<axum::Json<Cart>, Problem> {
    state.store.remove(user.id, req.product_id).await?;
    Ok(axum::Json(view(&state, user.id).await?))
}

/// Empties the cart: `POST /cart/clear`.
#[utoipa::path(post, path = "/cart/clear", tag = "cart", responses((status = 204), (status = 503)), security(("bearer" = [])))]
pub async fn clear(State(state): State<AppState>, user: AuthUser) -> Result<StatusCode, Problem> {
    state.store.clear(user.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A user's cart, for the order service: `GET /internal/carts/{user_id}` (service, `cart:read`).
/// The quantities only (`priced: false`): order prices what it reserves, so asking the catalog
/// here would be a call for nothing.
#[utoipa::path(get, path = "/internal/carts/{user_id}", tag = "internal", responses((status = 200, body = Cart), (status = 403, description = "not a service token, or no `cart:read`")), security(("bearer" = ["cart:read"])))]
pub async fn internal_show(
    State(state): State<AppState>,
    _svc: ServiceScope<scope::CartRead>,
    Path(user): Path<Uuid>,
) -> Result<axum::Json<Cart>, Problem> {
    let lines = state.store.get(user).await?;
    Ok(axum::Json(priced(user, lines, None)))
}

/// Empties a user's cart after checkout: `POST /internal/carts/{user_id}/clear` (service,
/// `cart:clear`).
#[utoipa::path(post, path = "/internal/carts/{user_id}/clear", tag = "internal", responses((status = 204), (status = 403, description = "not a service token, or no `cart:clear`")), security(("bearer" = ["cart:clear"])))]
pub async fn internal_clear(
    State(state): State<AppState>,
    svc: ServiceScope<scope::CartClear>,
    Path(user): Path<Uuid>,
) -> Result<StatusCode, Problem> {
    state.store.clear(user).await?;
    tracing::info!(%user, by = %svc.client_id, "cart cleared");
    Ok(StatusCode::NO_CONTENT)
}

/// The cart API.
/// The checkout key of a held cart: what the order service's `Idempotency-Key` allows.
fn checkout_key(held: &HeldCart) -> Result<&str, Problem> {
    let key = held.key.as_str();
    if key.is_empty() || key.len() > 128 || !key.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return Err(Problem::invalid("/key", "must be 1 to 128 printable ASCII characters"));
    }
    Ok(key)
}

/// Takes a user's cart for a checkout: `POST /internal/carts/{user_id}/take` (service,
/// `cart:clear`). The cart's lines (unpriced) move to a copy held by the checkout `key`, so
/// an order placed from them needs no call to clear the cart, and what the shopper adds
/// meanwhile stays in the cart. The same `key` gets the same lines again.
#[utoipa::path(post, path = "/internal/carts/{user_id}/take", tag = "internal", request_body = HeldCart,
    responses((status = 200, body = Cart), (status = 403, description = "not a service token, or no `cart:clear`"), (status = 422, description = "a bad key")),
    security(("bearer" = ["cart:clear"])))]
pub async fn internal_take(
    State(state): State<AppState>,
    _svc: ServiceScope<scope::CartClear>,
    Path(user): Path<Uuid>,
    Json(held): Json<HeldCart>,
) -> Result<axum::Json<Cart>, Problem> {
    let lines = state.store.take(user, checkout_key(&held)?).await?;
    Ok(axum::Json(priced(user, lines, None)))
}

/// Puts a taken cart back (the checkout placed no order): `POST /internal/carts/{user_id}/restore`
/// (service, `cart:clear`). The held lines join what the cart holds now, within its limits;
/// a second call, or one for a key that holds nothing, changes nothing.
#[utoipa::path(post, path = "/internal/carts/{user_id}/restore", tag = "internal", request_body = HeldCart,
    responses((status = 204), (status = 403, description = "not a service token, or no `cart:clear`"), (status = 422, description = "a bad key")),
    security(("bearer" = ["cart:clear"])))]
pub async fn internal_restore(
    State(state): State<AppState>,
    _svc: ServiceScope<scope::CartClear>,
    Path(user): Path<Uuid>,
    Json(held): Json<HeldCart>,
) -> Result<StatusCode, Problem> {
    let restored = state.store.restore(user, checkout_key(&held)?).await?;
    if restored > 0 {
        tracing::info!(%user, lines = restored, "cart restored after a checkout that placed nothing");
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Shopkeeper cart",
        description = "The signed-in user's cart and preferences. Errors are application/problem+json (RFC 9457)."
    ),
    paths(show, add, set, remove, clear, internal_show, internal_clear, internal_take, internal_restore,
        super::preferences::list, super::preferences::show, super::preferences::put, super::preferences::delete),
    components(schemas(Cart, Line, LineRequest, RemoveRequest, HeldCart, shop_api::Preference, shop_api::Preferences)),
    modifiers(&BearerAuth, &KIT_STATUSES)
)]
pub struct ApiDoc;

/// `GET /openapi.json`.
pub async fn openapi_json() -> impl IntoResponse {
    axum::Json(ApiDoc::openapi())
}
