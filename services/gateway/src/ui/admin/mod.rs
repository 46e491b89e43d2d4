//! The admin's pages (role admin only: the link is hidden from others, and every route
//! answers 403 to them).

use askama::Template;
use axum::response::Response;

use crate::ui::Ctx;

#[derive(Template)]
#[template(path = "admin/index.html")]
struct Index<'a> {
    ctx: &'a Ctx,
}

/// The admin's routes (merged into the pages' router, behind the session middleware).
pub fn routes() -> axum::Router<crate::AppState> {
    axum::Router::new().route("/admin", axum::routing::get(index))
}

/// `GET /admin`.
pub async fn index(ctx: Ctx) -> Response {
    if let Err(refusal) = ctx.need_admin() {
        return refusal;
    }
    ctx.render(Index { ctx: &ctx }.render())
}
