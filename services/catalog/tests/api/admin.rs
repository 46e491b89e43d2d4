//! Admin writes: products, images, stock, categories, templates and attribute validation.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn create_returns_the_product_with_its_location() {
    let app = spawn_app().await;
    app.category("lamps").await;
    let r = app
        .post_as(
            &app.admin,
            "/products",
            &json!({"sku": "L-1", "name": " Desk lamp ", "price": 19.9, "stock": 3,
            "categories": ["lamps"], "images": ["https://cdn.example.com/l1.png"], "description": "Bright\r\nwarm"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let p = json(r).await;
    assert_eq!(location, format!("/products/{}", p["id"].as_str().unwrap()));
    assert_eq!(p["name"], "Desk lamp");
    assert_eq!(p["price"], "19.90", "money is a decimal string");
    assert_eq!(p["categories"], json!(["lamps"]));
    assert_eq!(p["description"], "Bright\nwarm");
    let stored: rust_decimal::Decimal = sqlx::query_scalar("SELECT price FROM products WHERE sku = 'L-1'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(stored.to_string(), "19.90");
}

#[tokio::test]
async fn only_admins_write() {
    let app = spawn_app().await;
    let body = json!({"sku": "X-1", "name": "x", "price": "1.00"});
    problem(app.send(reqwest::Method::POST, None, "/products", &body).await, 401).await;
    problem(app.post_as(&app.customer, "/products", &body).await, 403).await;
    problem(app.post_as(&app.service, "/products", &body).await, 403).await;
    problem(
        app.post_as(&app.customer, "/categories", &json!({"slug": "x", "name": "x"}))
            .await,
        403,
    )
    .await;
    problem(
        app.post_as(&app.customer, "/templates", &json!({"name": "x", "schema": {}}))
            .await,
        403,
    )
    .await;
}

#[tokio::test]
async fn partial_update_images_and_optimistic_versions() {
    let app = spawn_app().await;
    app.category("a").await;
    app.category("b").await;
    let p = app.product(json!({"name": "Old", "categories": ["a"]})).await;
    let id = p["id"].as_str().unwrap();
    let v1 = p["version"].as_i64().unwrap();

    let u = json(
        app.patch_as(
            &app.admin,
            &format!("/products/{id}"),
            &json!({"name": "New", "categories": ["b"], "price": "7.5"}),
        )
        .await,
    )
    .await;
    assert_eq!(u["name"], "New");
    assert_eq!(u["price"], "7.50");
    assert_eq!(u["categories"], json!(["b"]));
    assert_eq!(u["stock"], p["stock"], "untouched fields stay");
    assert_eq!(u["version"].as_i64().unwrap(), v1 + 1);

    // A stale version is refused, and says which version is current.
    let body = problem(
        app.patch_as(
            &app.admin,
            &format!("/products/{id}"),
            &json!({"name": "Stale", "expected_version": v1}),
        )
        .await,
        409,
    )
    .await;
    assert_eq!(body["current_version"], v1 + 1);

    let imgs = json!({"images": ["https://cdn.example.com/2.png", "https://cdn.example.com/1.png"]});
    let r = app
        .send(
            reqwest::Method::PUT,
            Some(&app.admin),
            &format!("/products/{id}/images"),
            &imgs,
        )
        .await;
    assert_eq!(json(r).await["images"], imgs["images"], "order is kept");
}

#[tokio::test]
async fn stock_moves_relatively_and_never_below_zero() {
    let app = spawn_app().await;
    let p = app.product(json!({"stock": 5})).await;
    let id = p["id"].as_str().unwrap();
    let url = format!("/products/{id}/stock");
    assert_eq!(
        json(app.post_as(&app.admin, &url, &json!({"delta": 7})).await).await["stock"],
        12
    );
    assert_eq!(
        json(app.post_as(&app.admin, &url, &json!({"delta": -12})).await).await["stock"],
        0
    );
    let body = problem(app.post_as(&app.admin, &url, &json!({"delta": -1})).await, 409).await;
    assert_eq!(body["stock"], 0);
    // Concurrent adjustments all land (no lost update).
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (http, u, t) = (app.http.clone(), app.url(&url), app.admin.clone());
        tasks.push(tokio::spawn(async move {
            http.post(u)
                .bearer_auth(t)
                .json(&json!({"delta": 1}))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(app.stock_of(id).await, 20);
    problem(
        app.patch_as(&app.admin, &format!("/products/{id}"), &json!({"stock": 100}))
            .await,
        422,
    )
    .await;
}

#[tokio::test]
async fn templates_validate_attributes_with_json_pointers() {
    let app = spawn_app().await;
    let schema = json!({"type": "object", "properties": {"size": {"enum": ["S", "M", "L"]}, "sleeves": {"type": "integer", "minimum": 0}},
                        "required": ["size"], "additionalProperties": false});
    let r = app
        .post_as(&app.admin, "/templates", &json!({"name": "Shirt", "schema": schema}))
        .await;
    assert_eq!(r.status(), 201);
    let t = json(r).await;
    let tid = t["id"].as_str().unwrap();
    problem(
        app.post_as(&app.admin, "/templates", &json!({"name": "shirt", "schema": {}}))
            .await,
        409,
    )
    .await;

    let ok = app
        .product(json!({"template_id": tid, "attributes": {"size": "M", "sleeves": 2}}))
        .await;
    let body = problem(
        app.post_as(
            &app.admin,
            "/products",
            &json!({"sku": "SH-2", "name": "x", "price": "1", "template_id": tid,
            "attributes": {"size": "XXL", "sleeves": -1, "colour": "red"}}),
        )
        .await,
        422,
    )
    .await;
    let mut ptrs = pointers(&body);
    ptrs.sort();
    assert_eq!(
        ptrs,
        ["/attributes", "/attributes/size", "/attributes/sleeves"],
        "{body}"
    );
    problem(
        app.post_as(
            &app.admin,
            "/products",
            &json!({"sku": "SH-3", "name": "x", "price": "1", "template_id": tid, "attributes": {}}),
        )
        .await,
        422,
    )
    .await;

    // Updating attributes re-checks them against the template.
    let id = ok["id"].as_str().unwrap();
    problem(
        app.patch_as(
            &app.admin,
            &format!("/products/{id}"),
            &json!({"attributes": {"size": "XL"}}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(
        app.patch_as(
            &app.admin,
            &format!("/products/{id}"),
            &json!({"attributes": {"size": "L"}})
        )
        .await
        .status(),
        200
    );
    // Dropping the template frees the attributes.
    assert_eq!(
        app.patch_as(
            &app.admin,
            &format!("/products/{id}"),
            &json!({"template_id": null, "attributes": {"any": 1}})
        )
        .await
        .status(),
        200
    );

    // A template in use cannot be deleted; an unused one can.
    let other = app
        .product(json!({"template_id": tid, "attributes": {"size": "S"}}))
        .await;
    problem(
        app.send(
            reqwest::Method::DELETE,
            Some(&app.admin),
            &format!("/templates/{tid}"),
            &json!({}),
        )
        .await,
        409,
    )
    .await;
    app.patch_as(
        &app.admin,
        &format!("/products/{}", other["id"].as_str().unwrap()),
        &json!({"template_id": null}),
    )
    .await;
    assert_eq!(
        app.send(
            reqwest::Method::DELETE,
            Some(&app.admin),
            &format!("/templates/{tid}"),
            &json!({})
        )
        .await
        .status(),
        204
    );
    problem(app.get(&format!("/templates/{tid}")).await, 404).await;
}

#[tokio::test]
async fn categories_crud() {
    let app = spawn_app().await;
    let c = app.category("kitchen").await;
    let id = c["id"].as_str().unwrap();
    problem(
        app.post_as(&app.admin, "/categories", &json!({"slug": "kitchen", "name": "Again"}))
            .await,
        409,
    )
    .await;
    let u = json(
        app.patch_as(
            &app.admin,
            &format!("/categories/{id}"),
            &json!({"name": "Kitchen & Dining", "description": "Pots"}),
        )
        .await,
    )
    .await;
    assert_eq!(u["name"], "Kitchen & Dining");
    let u = json(
        app.patch_as(&app.admin, &format!("/categories/{id}"), &json!({"description": null}))
            .await,
    )
    .await;
    assert!(u["description"].is_null());
    let p = app.product(json!({"categories": ["kitchen"]})).await;
    assert_eq!(
        app.send(
            reqwest::Method::DELETE,
            Some(&app.admin),
            &format!("/categories/{id}"),
            &json!({})
        )
        .await
        .status(),
        204
    );
    let after = json(app.get(&format!("/products/{}", p["id"].as_str().unwrap())).await).await;
    assert_eq!(after["categories"], json!([]), "products stay, without the category");
    problem(
        app.send(
            reqwest::Method::DELETE,
            Some(&app.admin),
            &format!("/categories/{id}"),
            &json!({}),
        )
        .await,
        404,
    )
    .await;
}
