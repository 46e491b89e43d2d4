//! The authorization matrix of the internal API: every service client against every internal
//! route. A client holding the route's scope gets past the check (any status but 403); any
//! other gets 403 `insufficient-scope` naming the scope it lacks.

use reqwest::Method;
use serde_json::{Value, json};
use shop_testkit::contract::{Scope, ServiceName};

use crate::support::{AUDIENCE, ISSUER, TestApp, json, problem, spawn_app};

/// The internal routes (as in the OpenAPI document) and the scope each needs.
const ROUTES: [(&str, &str, Scope); 6] = [
    ("POST", "/internal/products/batch", Scope::CatalogRead),
    ("GET", "/internal/products/low-stock", Scope::CatalogRead),
    ("POST", "/internal/reservations", Scope::CatalogReserve),
    ("POST", "/internal/reservations/confirm", Scope::CatalogReserve),
    ("GET", "/internal/reservations/{order_id}", Scope::CatalogReserve),
    (
        "POST",
        "/internal/reservations/{order_id}/release",
        Scope::CatalogReserve,
    ),
];

/// What the issue asks, written out: order may do everything; cart and the gateway may read
/// the catalog and never reserve. Columns: order, cart, gateway.
const ALLOWED: [(&str, [bool; 3]); 6] = [
    ("/internal/products/batch", [true, true, true]),
    ("/internal/products/low-stock", [true, true, true]),
    ("/internal/reservations", [true, false, false]),
    ("/internal/reservations/confirm", [true, false, false]),
    ("/internal/reservations/{order_id}", [true, false, false]),
    ("/internal/reservations/{order_id}/release", [true, false, false]),
];

const CLIENTS: [ServiceName; 3] = [ServiceName::Order, ServiceName::Cart, ServiceName::Gateway];

async fn call(app: &TestApp, token: &str, method: &str, template: &str, product: &Value) -> reqwest::Response {
    let path = template.replace("{order_id}", &uuid::Uuid::new_v4().to_string());
    let body = match template {
        "/internal/products/batch" => json!({"ids": [product["id"]]}),
        "/internal/reservations" => {
            json!({"order_id": uuid::Uuid::new_v4(), "items": [{"product_id": product["id"], "qty": 1}]})
        }
        "/internal/reservations/confirm" => json!({"order_ids": [uuid::Uuid::new_v4()]}),
        _ => json!({}),
    };
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    if method == Method::GET {
        app.get_as(token, &path).await
    } else {
        app.send(method, Some(token), &path, &body).await
    }
}

#[tokio::test]
async fn every_client_against_every_internal_route() {
    let app = spawn_app().await;
    let product = app.product(json!({"stock": 100})).await;

    // The table covers every internal route the catalog documents.
    let doc = json(app.get("/openapi.json").await).await;
    let mut documented: Vec<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(path, _)| path.starts_with("/internal/"))
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |method| (method.to_ascii_uppercase(), path.clone()))
        })
        .collect();
    documented.sort();
    let mut tested: Vec<(String, String)> = ROUTES
        .iter()
        .map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    tested.sort();
    assert_eq!(documented, tested, "an internal route is missing from the matrix");

    for (column, client) in CLIENTS.into_iter().enumerate() {
        let token = shop_testkit::service_token(&app.keys, ISSUER, AUDIENCE, client);
        for ((method, path, scope), (allowed_path, allowed)) in ROUTES.iter().zip(ALLOWED) {
            assert_eq!(*path, allowed_path);
            // The contract's table says the same as the issue.
            assert_eq!(client.scopes().contains(scope), allowed[column], "{client} {path}");
            let r = call(&app, &token, method, path, &product).await;
            if allowed[column] {
                assert_ne!(r.status(), 403, "{client} {method} {path}: {}", r.text().await.unwrap());
            } else {
                let p = problem(r, 403).await;
                assert_eq!(
                    p["type"], "https://shopkeeper.dev/problems/insufficient-scope",
                    "{client} {path}"
                );
                assert_eq!(p["missing_scope"], scope.as_str(), "{client} {path}");
            }
        }
    }

    // A client whose clients-file line has no scopes passes no check; users never do.
    let bare = shop_testkit::scoped_token(&app.keys, ISSUER, AUDIENCE, "legacy", &[]);
    for (method, path, scope) in ROUTES {
        let p = problem(call(&app, &bare, method, path, &product).await, 403).await;
        assert_eq!(p["missing_scope"], scope.as_str(), "{path}");
        for user in [&app.customer, &app.admin] {
            let p = problem(call(&app, user, method, path, &product).await, 403).await;
            assert_eq!(p["type"], "https://shopkeeper.dev/problems/forbidden", "{path}");
        }
    }
}

#[tokio::test]
async fn a_token_narrowed_to_one_scope_gets_only_that() {
    let app = spawn_app().await;
    let product = app.product(json!({"stock": 10})).await;
    let read_only = shop_testkit::scoped_token(&app.keys, ISSUER, AUDIENCE, "order", &[Scope::CatalogRead]);
    assert_eq!(
        call(&app, &read_only, "POST", "/internal/products/batch", &product)
            .await
            .status(),
        200
    );
    let r = call(&app, &read_only, "POST", "/internal/reservations", &product).await;
    assert_eq!(
        r.headers()["www-authenticate"],
        r#"Bearer error="insufficient_scope", scope="catalog:reserve""#
    );
    problem(r, 403).await;
    assert_eq!(
        app.stock_of(product["id"].as_str().unwrap()).await,
        10,
        "nothing was reserved"
    );
}
