//! `/img`: resizing and caching, one download for many requests, and every refusal, against
//! image servers the tests start on loopback.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use shop_gateway::config::Config;
use shop_testkit::{Spawned, problem};

use crate::support::{self, client, spawn_gateway};

type Hits = Arc<Mutex<HashMap<String, usize>>>;

fn png(w: u32, h: u32) -> Vec<u8> {
    let image = image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(w, h, image::Rgb([10, 120, 200])));
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffff_u32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A tiny PNG whose header claims 60000 × 60000 pixels: a decompression bomb's shape.
fn bomb() -> Vec<u8> {
    let mut bytes = png(1, 1);
    bytes[16..20].copy_from_slice(&60000u32.to_be_bytes());
    bytes[20..24].copy_from_slice(&60000u32.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

#[derive(Clone)]
struct Source {
    hits: Hits,
    redirect_to: Arc<Mutex<String>>,
}

async fn serve(State(source): State<Source>, Path(name): Path<String>) -> Response {
    *source.hits.lock().unwrap().entry(name.clone()).or_default() += 1;
    let image = |bytes: Vec<u8>| ([(header::CONTENT_TYPE, "image/png")], bytes).into_response();
    match name.as_str() {
        "photo.png" => image(png(400, 200)),
        "slow.png" => {
            tokio::time::sleep(Duration::from_millis(400)).await;
            image(png(300, 300))
        }
        "bomb.png" => image(bomb()),
        "big.png" => image(vec![0u8; 300 * 1024]),
        "fake.png" => image(b"<html><script>alert(1)</script></html>".to_vec()),
        "page.html" => ([(header::CONTENT_TYPE, "text/html")], "<html></html>").into_response(),
        "redirect" => {
            let target = source.redirect_to.lock().unwrap().clone();
            (StatusCode::FOUND, [(header::LOCATION, target)]).into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

struct ImageServer {
    addr: SocketAddr,
    hits: Hits,
    redirect_to: Arc<Mutex<String>>,
}

impl ImageServer {
    fn url(&self, name: &str) -> String {
        format!("http://{}/{name}", self.addr)
    }
    fn hits(&self, name: &str) -> usize {
        self.hits.lock().unwrap().get(name).copied().unwrap_or(0)
    }
    fn total_hits(&self) -> usize {
        self.hits.lock().unwrap().values().sum()
    }
}

async fn image_server() -> ImageServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let source = Source {
        hits: Arc::default(),
        redirect_to: Arc::default(),
    };
    let app = axum::Router::new()
        .route("/{name}", axum::routing::get(serve))
        .with_state(source.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    ImageServer {
        addr,
        hits: source.hits,
        redirect_to: source.redirect_to,
    }
}

/// A gateway with the proxy on and `trusted` allowed over plain http on loopback.
async fn gateway(shop: &support::Shop, trusted: &[SocketAddr], tweak: impl FnOnce(&mut Config)) -> Spawned {
    let mut config = shop.config();
    config.images.enabled = true;
    config.images.cache_dir = std::env::temp_dir().join(format!("gateway-img-{}", uuid::Uuid::new_v4()));
    config.images.insecure_origins = trusted.iter().copied().collect();
    config.images.max_source_bytes = 256 * 1024;
    config.images.max_source_pixels = 10_000_000;
    tweak(&mut config);
    spawn_gateway(config).await
}

fn img(gateway: &Spawned, url: &str, extra: &str) -> String {
    let url: String = url::form_urlencoded::byte_serialize(url.as_bytes()).collect();
    gateway.url(&format!("/img?url={url}{extra}"))
}

#[tokio::test]
async fn images_are_resized_encoded_by_accept_and_cached_for_good() {
    let shop = support::spawn_shop().await;
    let source = image_server().await;
    let gateway = gateway(&shop, &[source.addr], |_| {}).await;

    let resp = client()
        .get(img(&gateway, &source.url("photo.png"), "&w=100&h=100"))
        .header("accept", "image/avif,image/webp,*/*")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "image/webp");
    assert_eq!(resp.headers()["cache-control"], "public, max-age=31536000, immutable");
    let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
    let webp = image::load_from_memory(&resp.bytes().await.unwrap()).unwrap();
    assert_eq!((webp.width(), webp.height()), (100, 50), "contain keeps the aspect");

    let resp = client()
        .get(img(&gateway, &source.url("photo.png"), "&w=100&h=100&fit=cover"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "image/jpeg");
    let jpeg = image::load_from_memory(&resp.bytes().await.unwrap()).unwrap();
    assert_eq!((jpeg.width(), jpeg.height()), (100, 100));
    assert_eq!(source.hits("photo.png"), 2, "a new size is a new entry");

    // The same request again: from the cache, and a 304 for a matching ETag.
    let resp = client()
        .get(img(&gateway, &source.url("photo.png"), "&w=100&h=100"))
        .header("accept", "image/webp")
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 304);
    assert_eq!(source.hits("photo.png"), 2, "served from the cache");
    assert_eq!(
        support::metric(&gateway, "gateway_image_requests_total{outcome=\"hit\"}").await,
        1.0
    );
}

#[tokio::test]
async fn concurrent_requests_for_one_uncached_image_download_it_once() {
    let shop = support::spawn_shop().await;
    let source = image_server().await;
    let gateway = gateway(&shop, &[source.addr], |_| {}).await;
    let url = img(&gateway, &source.url("slow.png"), "&w=50");
    let answers = futures::future::join_all((0..12).map(|_| client().get(&url).send())).await;
    for resp in answers {
        assert_eq!(resp.unwrap().status(), 200);
    }
    assert_eq!(source.hits("slow.png"), 1);
}

#[tokio::test]
async fn unknown_hosts_plain_http_and_private_addresses_are_refused() {
    let shop = support::spawn_shop().await;
    let source = image_server().await;
    let port = source.addr.port();
    let gateway = gateway(&shop, &[], |c| {
        c.images.allowed_hosts = ["127.0.0.1", "localhost", "[::1]", "::1"]
            .map(String::from)
            .into_iter()
            .collect();
    })
    .await;
    for (url, why) in [
        ("https://images.unknown.example/a.png".to_owned(), "not allowed"),
        (format!("http://localhost:{port}/photo.png"), "https"),
        (format!("https://127.0.0.1:{port}/photo.png"), "not public"),
        (format!("https://[::1]:{port}/photo.png"), "not public"),
        (format!("https://localhost:{port}/photo.png"), "private addresses"),
        ("file:///etc/passwd".to_owned(), "not allowed"),
    ] {
        let resp = client().get(img(&gateway, &url, "&w=10")).send().await.unwrap();
        let body = problem(resp, 403).await;
        assert!(body["detail"].as_str().unwrap().contains(why), "{url}: {body}");
    }
    assert_eq!(source.total_hits(), 0, "nothing reached the private server");
}

#[tokio::test]
async fn a_redirect_to_a_private_address_is_refused() {
    let shop = support::spawn_shop().await;
    let trusted = image_server().await;
    let private = image_server().await;
    *trusted.redirect_to.lock().unwrap() = private.url("photo.png");
    let gateway = gateway(&shop, &[trusted.addr], |c| {
        c.images.allowed_hosts.insert("127.0.0.1".into());
    })
    .await;
    let resp = client()
        .get(img(&gateway, &trusted.url("redirect"), "&w=10"))
        .send()
        .await
        .unwrap();
    problem(resp, 403).await;
    assert_eq!(trusted.hits("redirect"), 1);
    assert_eq!(private.total_hits(), 0);
}

#[tokio::test]
async fn what_is_not_a_sane_image_is_refused() {
    let shop = support::spawn_shop().await;
    let source = image_server().await;
    let gateway = gateway(&shop, &[source.addr], |_| {}).await;
    for (name, status, slug) in [
        ("page.html", 422, "not-an-image"),
        ("fake.png", 422, "not-an-image"),
        ("bomb.png", 422, "image-too-large"),
        ("big.png", 422, "image-too-large"),
        ("missing.png", 502, "image-source-failed"),
    ] {
        let resp = client()
            .get(img(&gateway, &source.url(name), "&w=10"))
            .send()
            .await
            .unwrap();
        let body = problem(resp, status).await;
        assert!(body["type"].as_str().unwrap().ends_with(slug), "{name}: {body}");
    }
    for query in [
        "",
        "?url=",
        "?url=x&w=100000",
        "?url=x&w=0",
        "?url=x&w=-5",
        "?url=x&h=abc",
        "?url=x&fit=stretch&w=1&h=1",
        "?url=x&fit=cover&w=10",
        "?url=x&w=10&colour=red",
    ] {
        let resp = client().get(gateway.url(&format!("/img{query}"))).send().await.unwrap();
        problem(resp, 400).await;
    }
}

#[tokio::test]
async fn the_shops_own_images_come_from_the_catalog_and_the_proxy_can_be_off() {
    let shop = support::spawn_shop().await;
    let gateway = gateway(&shop, &[], |_| {}).await;
    let resp = client()
        .get(gateway.url("/img?url=/api/v1/images/green-tea.svg&w=200"))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["content-type"], "image/svg+xml");
    assert!(headers["content-security-policy"].to_str().unwrap().contains("sandbox"));
    assert!(body.contains("<svg"), "{body}");
    // Our origin serves only its own images, not the rest of the API.
    let resp = client()
        .get(gateway.url("/img?url=http://shop.test/api/v1/auth/me"))
        .send()
        .await
        .unwrap();
    problem(resp, 403).await;

    let off = spawn_gateway(shop.config()).await;
    let resp = client()
        .get(off.url("/img?url=/api/v1/images/a.svg"))
        .send()
        .await
        .unwrap();
    problem(resp, 404).await;
}
