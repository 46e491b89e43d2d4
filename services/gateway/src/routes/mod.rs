//! The gateway's routes, all listed here.

pub mod docs;
pub mod img;
pub mod pages;
pub mod proxy;
pub mod session;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{any, get, post};

use crate::AppState;

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
        .route("/", get(pages::home))
        .route("/login", get(pages::login).post(session::login))
        .route("/logout", post(session::logout))
        .route("/{*path}", any(pages::not_found))
        .layer(from_fn_with_state(state.clone(), crate::session::page_middleware));
    let open = Router::new()
        .route("/api/{*path}", any(proxy::legacy))
        .route("/docs", get(docs::root))
        .route("/docs/", get(docs::page))
        .route("/docs/{*file}", get(docs::page))
        .route("/img", get(img::image))
        .route("/static/{file}", get(pages::stylesheet));
    Router::new()
        .merge(api)
        .merge(pages)
        .merge(open)
        .layer(from_fn_with_state(state.clone(), crate::security::headers))
        .with_state(state)
}
