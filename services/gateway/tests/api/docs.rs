//! `/docs` and the OpenAPI documents as the gateway serves them.

#![allow(clippy::unwrap_used)]

use shop_testkit::expect;

use crate::support::{self, client, spawn_gateway};

#[tokio::test]
async fn the_docs_page_is_served_from_the_binary_with_a_selector_over_every_service() {
    let shop = support::spawn_shop().await;
    let gateway = spawn_gateway(shop.config()).await;
    let resp = client().get(gateway.url("/docs")).send().await.unwrap();
    assert_eq!(resp.status(), 308);
    let page = client().get(gateway.url("/docs/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(!html.contains("https://"), "no CDN: {html}");
    let init = client()
        .get(gateway.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for service in ["auth", "catalog", "cart", "order"] {
        assert!(init.contains(&format!("/api/v1/openapi/{service}.json")), "{init}");
    }
    let js = client()
        .get(gateway.url("/docs/swagger-ui-bundle.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), 200);
    assert!(js.bytes().await.unwrap().len() > 100_000);
}

#[tokio::test]
async fn the_merged_document_holds_every_public_operation_and_no_internal_one() {
    let shop = support::spawn_shop().await;
    let gateway = spawn_gateway(shop.config()).await;
    let doc = expect(
        client().get(gateway.url("/api/v1/openapi.json")).send().await.unwrap(),
        200,
    )
    .await;
    let paths = doc["paths"].as_object().unwrap();
    for path in ["/auth/login", "/products", "/cart", "/orders/checkout", "/admin/stats"] {
        assert!(paths.contains_key(path), "{path} missing: {:?}", paths.keys());
    }
    assert!(paths.keys().all(|p| !p.contains("internal")), "{:?}", paths.keys());
    assert_eq!(doc["servers"][0]["url"], "/api/v1");
    assert!(doc.get("x-unavailable").is_none());
    // Every reference points at a schema the document holds.
    let text = doc.to_string();
    for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(doc["components"]["schemas"].get(name).is_some(), "dangling $ref {name}");
    }
    let catalog = expect(
        client()
            .get(gateway.url("/api/v1/openapi/catalog.json"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert!(catalog["paths"].get("/products").is_some());
    let resp = client()
        .get(gateway.url("/api/v1/openapi/secrets.json"))
        .send()
        .await
        .unwrap();
    shop_testkit::problem(resp, 404).await;
}

/// Loads `url` in headless Chromium (`SHOP_TEST_CHROMIUM`, set by `cargo xtask test`) and
/// returns the DOM after its scripts ran.
fn browser_dom(url: &str) -> String {
    let chromium = std::env::var("SHOP_TEST_CHROMIUM").unwrap_or_else(|_| {
        panic!("SHOP_TEST_CHROMIUM is not set: run the tests with `cargo xtask test`, which installs Chromium")
    });
    let profile = std::env::temp_dir().join(format!("chromium-{}", uuid::Uuid::new_v4()));
    let output = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--virtual-time-budget=10000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(profile);
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn swagger_ui_renders_every_operation_in_a_real_browser_under_our_csp() {
    let shop = support::spawn_shop().await;
    let gateway = spawn_gateway(shop.config()).await;
    let url = gateway.url("/docs/");
    let dom = tokio::task::spawn_blocking(move || browser_dom(&url)).await.unwrap();
    // The operations are drawn by Swagger UI's scripts: they ran (CSP allowed them), and they
    // fetched auth's document through the gateway.
    assert!(
        dom.contains("opblock"),
        "Swagger UI drew no operation: {}",
        &dom[..dom.len().min(2000)]
    );
    assert!(dom.contains("/auth/login"), "{}", &dom[..dom.len().min(2000)]);
    assert!(
        dom.contains("/api/v1/openapi/catalog.json"),
        "the selector lists the others"
    );
}
