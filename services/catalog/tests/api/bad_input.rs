//! What hostile or clumsy clients send: a problem document with the right 4xx, nothing stored.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn invalid_products_are_422_and_nothing_is_stored() {
    let app = spawn_app().await;
    app.category("real").await;
    let base = json!({"sku": "OK-1", "name": "ok", "price": "1.00"});
    let cases = [
        (json!({"price": "-1"}), "/price"),
        (json!({"price": "1.999"}), "/price"),
        (json!({"price": "10000000000"}), "/price"),
        (json!({"stock": -5}), "/stock"),
        (json!({"stock": 1_000_000_000_000_i64}), "/stock"),
        (json!({"sku": "has space"}), "/sku"),
        (json!({"sku": ""}), "/sku"),
        (json!({"name": "   "}), "/name"),
        (json!({"name": "n".repeat(201)}), "/name"),
        (json!({"images": ["javascript:alert(1)"]}), "/images"),
        (json!({"images": ["file:///etc/passwd"]}), "/images"),
        (json!({"categories": ["real", "imaginary"]}), "/categories/1"),
        (json!({"template_id": uuid::Uuid::new_v4()}), "/template_id"),
        (json!({"attributes": [1, 2]}), "/attributes"),
    ];
    for (patch, pointer) in cases {
        let mut body = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let b = problem(app.post_as(&app.admin, "/products", &body).await, 422).await;
        assert!(pointers(&b).contains(&pointer.to_owned()), "{patch}: {b}");
    }
    // Wrong types and absurd numbers fail at the boundary.
    for body in [
        json!({"sku": "A", "name": "a", "price": "abc"}),
        json!({"sku": "A", "name": "a", "price": 1e300}),
        json!({"sku": "A", "name": "a", "price": "1", "stock": "many"}),
        json!({"sku": "A", "name": "a", "price": "1", "stock": 1.5}),
        json!({"sku": 12, "name": "a", "price": "1"}),
        json!({"sku": "A", "name": "a", "price": "1", "colour": "red"}),
        json!({"name": "a", "price": "1"}),
    ] {
        problem(app.post_as(&app.admin, "/products", &body).await, 422).await;
    }
    let raw = app
        .http
        .post(app.url("/products"))
        .bearer_auth(&app.admin)
        .header("content-type", "application/json")
        .body("{\"sku\":")
        .send()
        .await
        .unwrap();
    problem(raw, 400).await;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM products")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn duplicate_skus_are_409_whatever_the_case() {
    let app = spawn_app().await;
    app.product(json!({"sku": "Dup-1"})).await;
    let b = problem(
        app.post_as(
            &app.admin,
            "/products",
            &json!({"sku": "DUP-1", "name": "x", "price": "1"}),
        )
        .await,
        409,
    )
    .await;
    assert_eq!(b["type"], "https://shopkeeper.dev/problems/sku-taken");
    let other = app.product(json!({"sku": "Other-1"})).await;
    problem(
        app.patch_as(
            &app.admin,
            &format!("/products/{}", other["id"].as_str().unwrap()),
            &json!({"sku": "dup-1"}),
        )
        .await,
        409,
    )
    .await;
}

#[tokio::test]
async fn invalid_json_schemas_are_refused_when_saved() {
    let app = spawn_app().await;
    for schema in [
        json!({"type": "not-a-type"}),
        json!({"type": "object", "properties": {"a": {"minLength": -1}}}),
        json!({"required": "size"}),
        json!({"$ref": "https://evil.example.com/schema.json"}),
        json!({"$schema": "https://example.com/unknown-draft", "type": "object"}),
        json!(["not", "an", "object"]),
        json!("string"),
    ] {
        let b = problem(
            app.post_as(&app.admin, "/templates", &json!({"name": "T", "schema": schema}))
                .await,
            422,
        )
        .await;
        assert_eq!(pointers(&b), ["/schema"], "{schema}: {b}");
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM templates")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn list_parameters_are_checked() {
    let app = spawn_app().await;
    for (query, pointer) in [
        ("per_page=101", "per_page"),
        ("per_page=0", "per_page"),
        ("page=0", "page"),
        ("page=-3", "page"),
        ("price_min=-1", "price_min"),
        ("price_max=abc", "price_max"),
        ("price_min=5&price_max=1", "price_min"),
        ("sort=random", "sort"),
        ("in_stock=perhaps", "in_stock"),
        ("category=Not_A_Slug", "category"),
        ("category=missing", "category"),
        ("unknown=1", "unknown"),
    ] {
        let b = problem(app.get(&format!("/products?{query}")).await, 422).await;
        assert_eq!(pointers(&b), [pointer], "{query}: {b}");
    }
    let long = "x".repeat(201);
    problem(app.get(&format!("/products?q={long}")).await, 422).await;
}

#[tokio::test]
async fn stock_adjustments_reject_nonsense() {
    let app = spawn_app().await;
    let p = app.product(json!({})).await;
    let url = format!("/products/{}/stock", p["id"].as_str().unwrap());
    for body in [
        json!({"delta": 0}),
        json!({"delta": 10_000_000_000_i64}),
        json!({"delta": "1"}),
        json!({}),
        json!({"delta": 1, "why": "x"}),
    ] {
        problem(app.post_as(&app.admin, &url, &body).await, 422).await;
    }
    problem(
        app.post_as(
            &app.admin,
            &format!("/products/{}/stock", uuid::Uuid::new_v4()),
            &json!({"delta": 1}),
        )
        .await,
        404,
    )
    .await;
}
