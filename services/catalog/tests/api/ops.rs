//! Operations: readiness, metrics, the OpenAPI document, demo data and images.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn metrics_count_reservations_and_low_stock() {
    let app = spawn_app().await;
    let p = app.product(json!({"stock": 2})).await;
    let order = uuid::Uuid::new_v4();
    let body = json!({"order_id": order, "items": [{"product_id": p["id"], "qty": 1}]});
    app.post_as(&app.service, "/internal/reservations", &body).await;
    app.post_as(&app.service, "/internal/reservations", &body).await;
    app.post_as(
        &app.service,
        &format!("/internal/reservations/{order}/release"),
        &json!({}),
    )
    .await;
    let big = json!({"order_id": uuid::Uuid::new_v4(), "items": [{"product_id": p["id"], "qty": 9}]});
    app.post_as(&app.service, "/internal/reservations", &big).await;
    // The low-stock gauge is refreshed in the background at start and every 15 s.
    let mut text = String::new();
    for _ in 0..40 {
        text = app
            .http
            .get(app.server.admin_url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text.contains("catalog_products_low_stock 1") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    for line in [
        r#"catalog_reservations_total{result="reserved"} 1"#,
        r#"catalog_reservations_total{result="replayed"} 1"#,
        r#"catalog_reservations_total{result="released"} 1"#,
        r#"catalog_reservations_total{result="rejected"} 1"#,
        "catalog_products_low_stock 1",
        r#"http_requests_total{method="POST",route="/internal/reservations",status="201"} 1"#,
    ] {
        assert!(text.contains(line), "missing {line}:\n{text}");
    }
    let ready = json(app.http.get(app.server.admin_url("/ready")).send().await.unwrap()).await;
    assert_eq!(ready["checks"]["postgres"], "ok");
}

#[tokio::test]
async fn openapi_lists_the_routes() {
    let app = spawn_app().await;
    let doc = json(app.get("/openapi.json").await).await;
    for path in [
        "/products",
        "/products/{id}",
        "/products/sku/{sku}",
        "/search",
        "/categories",
        "/templates/{id}",
        "/internal/reservations",
        "/internal/reservations/{order_id}/release",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path}");
    }
}

#[tokio::test]
async fn seed_is_idempotent_and_its_images_are_served() {
    let app = spawn_app().await;
    let first = shop_catalog::seed::seed(&app.db.pool, "http://localhost:8002")
        .await
        .unwrap();
    assert!(
        first.products >= 30 && first.categories >= 5 && first.templates == 2,
        "{first:?}"
    );
    let again = shop_catalog::seed::seed(&app.db.pool, "http://localhost:8002")
        .await
        .unwrap();
    assert_eq!((again.products, again.categories, again.templates), (0, 0, 0));
    let page = json(app.get("/products?per_page=100").await).await;
    assert!(page["total"].as_i64().unwrap() >= 30);
    let cats = json(app.get("/categories").await).await;
    assert!(
        cats.as_array()
            .unwrap()
            .iter()
            .all(|c| c["product_count"].as_i64().unwrap() > 0)
    );
    // Every seeded image is drawn by this service.
    let img = page["items"][0]["images"][0].as_str().unwrap();
    let path = img.strip_prefix("http://localhost:8002").unwrap();
    let r = app.get(path).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    assert!(r.text().await.unwrap().starts_with("<svg"));
    problem(app.get("/images/..%2F..%2Fetc%2Fpasswd").await, 404).await;
    problem(app.get("/images/x.png").await, 404).await;
}
