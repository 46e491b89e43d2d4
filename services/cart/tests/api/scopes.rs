//! The authorization matrix of the internal API: every service client against every internal
//! route. A client holding the route's scope gets past the check (any status but 403); any
//! other gets 403 `insufficient-scope` naming the scope it lacks.

use serde_json::json;
use shop_testkit::contract::{Scope, ServiceName};

use crate::support::{AUDIENCE, ISSUER, TestApp, json, problem, spawn_app};

/// The internal routes (as in the OpenAPI document) and the scope each needs.
const ROUTES: [(&str, &str, Scope); 4] = [
    ("GET", "/internal/carts/{user_id}", Scope::CartRead),
    ("POST", "/internal/carts/{user_id}/clear", Scope::CartClear),
    ("POST", "/internal/carts/{user_id}/take", Scope::CartClear),
    ("POST", "/internal/carts/{user_id}/restore", Scope::CartClear),
];

/// What the issue asks, written out: only order reads, takes, restores and clears carts.
/// Columns: order, cart, gateway.
const ALLOWED: [(&str, [bool; 3]); 4] = [
    ("/internal/carts/{user_id}", [true, false, false]),
    ("/internal/carts/{user_id}/clear", [true, false, false]),
    ("/internal/carts/{user_id}/take", [true, false, false]),
    ("/internal/carts/{user_id}/restore", [true, false, false]),
];

const CLIENTS: [ServiceName; 3] = [ServiceName::Order, ServiceName::Cart, ServiceName::Gateway];

async fn call(app: &TestApp, token: &str, method: &str, template: &str, user: uuid::Uuid) -> reqwest::Response {
    let path = template.replace("{user_id}", &user.to_string());
    match method {
        "GET" => app.get(token, &path).await,
        // A valid body, so a client past the scope check gets a 2xx.
        _ => app.post(token, &path, &json!({"key": "scope-check"})).await,
    }
}

#[tokio::test]
async fn every_client_against_every_internal_route() {
    let app = spawn_app().await;
    let alice = app.shopper();
    let product = app.product("5.00", 10, true).await;
    let add = app
        .post(
            &alice.token,
            "/cart/add",
            &json!({"product_id": product["id"], "qty": 2}),
        )
        .await;
    assert_eq!(add.status(), 200);

    // The table covers every internal route the cart documents.
    let doc = json(app.http.get(app.cart.url("/openapi.json")).send().await.unwrap()).await;
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

    // Refusals first: alice's cart must still be there when order reads it.
    for (column, client) in CLIENTS.into_iter().enumerate().rev() {
        let token = shop_testkit::service_token(&app.keys, ISSUER, AUDIENCE, client);
        for ((method, path, scope), (allowed_path, allowed)) in ROUTES.iter().zip(ALLOWED) {
            assert_eq!(*path, allowed_path);
            // The contract's table says the same as the issue.
            assert_eq!(client.scopes().contains(scope), allowed[column], "{client} {path}");
            let r = call(&app, &token, method, path, alice.id).await;
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
        if client == ServiceName::Cart {
            let cart = json(app.get(&alice.token, "/cart").await).await;
            assert_eq!(
                cart["items"].as_array().unwrap().len(),
                1,
                "refused clears changed nothing"
            );
        }
    }

    // A client whose clients-file line has no scopes passes no check; users never do.
    let bare = shop_testkit::scoped_token(&app.keys, ISSUER, AUDIENCE, "legacy", &[]);
    for (method, path, scope) in ROUTES {
        let p = problem(call(&app, &bare, method, path, alice.id).await, 403).await;
        assert_eq!(p["missing_scope"], scope.as_str(), "{path}");
        for user in [&alice.token, &app.admin] {
            let p = problem(call(&app, user, method, path, alice.id).await, 403).await;
            assert_eq!(p["type"], "https://shopkeeper.dev/problems/forbidden", "{path}");
        }
    }
}

#[tokio::test]
async fn reading_a_cart_does_not_allow_clearing_it() {
    let app = spawn_app().await;
    let alice = app.shopper();
    let product = app.product("5.00", 10, true).await;
    app.post(
        &alice.token,
        "/cart/add",
        &json!({"product_id": product["id"], "qty": 1}),
    )
    .await;
    let reader = shop_testkit::scoped_token(&app.keys, ISSUER, AUDIENCE, "order", &[Scope::CartRead]);
    let path = format!("/internal/carts/{}", alice.id);
    assert_eq!(app.get(&reader, &path).await.status(), 200);
    let p = problem(app.post(&reader, &format!("{path}/clear"), &json!({})).await, 403).await;
    assert_eq!(p["missing_scope"], "cart:clear");
    let cart = json(app.get(&alice.token, "/cart").await).await;
    assert_eq!(cart["items"].as_array().unwrap().len(), 1);
}
