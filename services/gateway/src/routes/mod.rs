//! The gateway's routes, all listed here.

pub mod docs;
pub mod img;
pub mod proxy;
pub mod session;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{any, get, post};

use crate::AppState;
use crate::ui::shop;

/// Every route, with the session, rate-limit and security-header layers where they apply.
pub fn router(state: AppState) -> Router {
    // Layers run outside-in in reverse order: the session is resolved first, then the limit
    // (which needs the caller) is spent.
    let api = Router::new()
        .route("/api/v1/search", get(proxy::search))
        .route("/api/v1/session", get(session::current))
        .route("/api/v1/openapi.json", get(docs::merged))
        .route("/api/v1/openapi/{file}", get(docs::one))
        .route("/api/v1/{*path}", any(proxy::forward))
        .layer(from_fn_with_state(state.clone(), proxy::limit))
        .layer(from_fn_with_state(state.clone(), crate::session::api_middleware));
    let pages = Router::new()
        .route("/", get(shop::catalog::home))
        .route("/products/{id}", get(shop::catalog::product))
        .route("/login", get(shop::account::login).post(session::login))
        .route("/logout", post(session::logout))
        .route(
            "/register",
            get(shop::account::register_page).post(shop::account::register),
        )
        .route(
            "/profile",
            get(shop::account::profile).post(shop::account::update_profile),
        )
        .route("/profile/password", post(shop::account::update_profile))
        .route("/lang/{code}", get(shop::switch_language))
        .route("/cart", get(shop::cart::show))
        .route("/cart/add", post(shop::cart::add))
        .route("/cart/set", post(shop::cart::set))
        .route("/cart/remove", post(shop::cart::remove))
        .route("/checkout", post(shop::cart::checkout))
        .route("/orders", get(shop::orders::list))
        .route("/orders/{id}", get(shop::orders::show))
        .route(
            "/orders/{id}/cancel",
            get(shop::orders::confirm_cancel).post(shop::orders::cancel),
        )
        .merge(crate::ui::admin::routes())
        .route("/{*path}", any(shop::not_found))
        .layer(from_fn_with_state(state.clone(), crate::session::page_middleware));
    let open = Router::new()
        .route("/api/{*path}", any(proxy::legacy))
        .route("/docs", get(docs::root))
        .route("/docs/", get(docs::page))
        .route("/docs/{*file}", get(docs::page))
        .route("/img", get(img::image))
        .route("/static/{file}", get(crate::ui::assets::serve));
    Router::new()
        .merge(api)
        .merge(pages)
        .merge(open)
        .layer(from_fn_with_state(state.clone(), crate::security::headers))
        .with_state(state)
}
