//! The stylesheet and the one small script, embedded in the binary and served under names
//! that carry a hash of their content (`/static/shop.<hash>.css`), so browsers keep them for a
//! year and a new build is fetched at once.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use shop_kit::Problem;

struct Asset {
    name: String,
    content_type: &'static str,
    body: &'static str,
}

fn hashed(stem: &str, ext: &str, body: &str) -> String {
    use sha2::Digest;
    let hash: String = sha2::Sha256::digest(body.as_bytes())[..5]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("/static/{stem}.{hash}.{ext}")
}

static ASSETS: LazyLock<[Asset; 2]> = LazyLock::new(|| {
    let css = include_str!("../../static/shop.css");
    let js = include_str!("../../static/shop.js");
    [
        Asset {
            name: hashed("shop", "css", css),
            content_type: "text/css; charset=utf-8",
            body: css,
        },
        Asset {
            name: hashed("shop", "js", js),
            content_type: "text/javascript; charset=utf-8",
            body: js,
        },
    ]
});

/// The stylesheet's address.
pub fn stylesheet() -> &'static str {
    &ASSETS[0].name
}

/// The script's address.
pub fn script() -> &'static str {
    &ASSETS[1].name
}

/// `GET /static/{file}`: an asset under its current name (immutable); anything else 404.
pub async fn serve(Path(file): Path<String>) -> Response {
    match ASSETS
        .iter()
        .find(|a| a.name.strip_prefix("/static/") == Some(file.as_str()))
    {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            asset.body,
        )
            .into_response(),
        None => Problem::not_found(format!("no file /static/{file}")).into_response(),
    }
}
