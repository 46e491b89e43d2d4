//! Demo images: a labelled SVG per name, so the seeded catalog works offline (nothing is
//! hotlinked). Real shops store image URLs of their own CDN.

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use shop_kit::Problem;
use shop_kit::extract::Path;

use crate::AppState;

/// The image route.
pub fn router() -> Router<AppState> {
    Router::new().route("/images/{name}", get(image))
}

/// A stable colour from the name (FNV-1a).
fn hue(name: &str) -> u32 {
    name.bytes()
        .fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
        % 360
}

/// `GET /images/{slug}.svg`.
pub async fn image(Path(name): Path<String>) -> Result<Response, Problem> {
    let slug = name
        .strip_suffix(".svg")
        .filter(|s| crate::domain::slug(s).is_ok())
        .ok_or_else(|| Problem::not_found("no such image"))?;
    let h = hue(slug);
    // The slug is [a-z0-9-] only, so it is safe to embed in the SVG text.
    let label: String = slug.replace('-', " ").chars().take(28).collect();
    let svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="600" height="600" viewBox="0 0 600 600"><defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="hsl({h},70%,62%)"/><stop offset="1" stop-color="hsl({h2},70%,42%)"/></linearGradient></defs><rect width="600" height="600" fill="url(#g)"/><circle cx="300" cy="250" r="120" fill="rgba(255,255,255,.25)"/><text x="300" y="470" font-family="sans-serif" font-size="34" text-anchor="middle" fill="#fff">{label}</text></svg>"##,
        h2 = (h + 40) % 360
    );
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        svg,
    )
        .into_response())
}
