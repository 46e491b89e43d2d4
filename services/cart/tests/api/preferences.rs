//! Preferences: the round trip, isolation between users, and what a hostile or clumsy client
//! gets (no token, a service token, bad keys, non-JSON, wrong content type, too large, too
//! many keys, a race for the last free key). The harness allows 4 keys of at most 256 bytes.

use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::support::*;

impl TestApp {
    async fn prefs(&self, method: Method, token: Option<&str>, key: &str, body: Option<(&str, &str)>) -> Response {
        let path = if key.is_empty() {
            "/me/preferences".to_owned()
        } else {
            format!("/me/preferences/{key}")
        };
        let mut req = self.http.request(method, self.cart.url(&path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some((content_type, text)) = body {
            if !content_type.is_empty() {
                req = req.header("content-type", content_type);
            }
            req = req.body(text.to_owned());
        }
        req.send().await.unwrap()
    }

    async fn put_pref(&self, token: &str, key: &str, value: &Value) -> Response {
        self.prefs(
            Method::PUT,
            Some(token),
            key,
            Some(("application/json", &value.to_string())),
        )
        .await
    }
}

#[tokio::test]
async fn put_get_list_replace_delete() {
    let app = spawn_app().await;
    let me = app.shopper();

    let listed = expect(app.prefs(Method::GET, Some(&me.token), "", None).await, 200).await;
    assert_eq!(listed, json!({"items": {}, "max_keys": 4, "max_value_bytes": 256}));

    let r = app.put_pref(&me.token, "sort", &json!("price_asc")).await;
    assert_eq!(r.headers()["location"], "/me/preferences/sort");
    assert_eq!(expect(r, 201).await, json!({"key": "sort", "value": "price_asc"}));
    let r = app.put_pref(&me.token, "sort", &json!("newest")).await;
    assert_eq!(expect(r, 200).await["value"], "newest", "a second PUT replaces");
    for (key, value) in [
        ("page_size", json!(24)),
        ("ui.lang", json!({"code": "kk", "fallback": ["ru", "en"]})),
        ("seen-banner", Value::Null),
    ] {
        expect(app.put_pref(&me.token, key, &value).await, 201).await;
        let got = expect(app.prefs(Method::GET, Some(&me.token), key, None).await, 200).await;
        assert_eq!(got, json!({"key": key, "value": value}), "{key} round-trips");
    }
    let listed = expect(app.prefs(Method::GET, Some(&me.token), "", None).await, 200).await;
    assert_eq!(
        listed["items"],
        json!({"page_size": 24, "seen-banner": null, "sort": "newest", "ui.lang": {"code": "kk", "fallback": ["ru", "en"]}})
    );

    expect(app.prefs(Method::DELETE, Some(&me.token), "sort", None).await, 204).await;
    problem(app.prefs(Method::GET, Some(&me.token), "sort", None).await, 404).await;
    expect(app.prefs(Method::DELETE, Some(&me.token), "sort", None).await, 204).await;
    let listed = expect(app.prefs(Method::GET, Some(&me.token), "", None).await, 200).await;
    assert_eq!(listed["items"].as_object().unwrap().len(), 3);
}

#[tokio::test]
async fn one_users_preferences_are_invisible_to_another() {
    let app = spawn_app().await;
    let (alice, bob) = (app.shopper(), app.shopper());
    expect(app.put_pref(&alice.token, "lang", &json!("kk")).await, 201).await;

    problem(app.prefs(Method::GET, Some(&bob.token), "lang", None).await, 404).await;
    let listed = expect(app.prefs(Method::GET, Some(&bob.token), "", None).await, 200).await;
    assert_eq!(listed["items"], json!({}));
    // Bob writing and deleting the same key touches only his own.
    expect(app.put_pref(&bob.token, "lang", &json!("en")).await, 201).await;
    expect(app.prefs(Method::DELETE, Some(&bob.token), "lang", None).await, 204).await;
    let mine = expect(app.prefs(Method::GET, Some(&alice.token), "lang", None).await, 200).await;
    assert_eq!(mine["value"], "kk");
    // The admin is a user like any other here: no way to name someone else's preferences.
    let admin = expect(app.prefs(Method::GET, Some(&app.admin), "", None).await, 200).await;
    assert_eq!(admin["items"], json!({}));
}

#[tokio::test]
async fn anonymous_and_service_callers_are_refused() {
    let app = spawn_app().await;
    let body = Some(("application/json", "\"x\""));
    for (method, key) in [
        (Method::GET, ""),
        (Method::GET, "sort"),
        (Method::PUT, "sort"),
        (Method::DELETE, "sort"),
    ] {
        let b = if method == Method::PUT { body } else { None };
        problem(app.prefs(method.clone(), None, key, b).await, 401).await;
        problem(app.prefs(method.clone(), Some("not-a-jwt"), key, b).await, 401).await;
        problem(app.prefs(method, Some(&app.service), key, b).await, 403).await;
    }
}

#[tokio::test]
async fn bad_keys_are_422() {
    let app = spawn_app().await;
    let me = app.shopper();
    let long = "k".repeat(65);
    for key in ["a%20b", "_hidden", ".x", "a%2Fb", "%00", "ключ", "a:b", long.as_str()] {
        let body = problem(app.put_pref(&me.token, key, &json!(1)).await, 422).await;
        // A NUL is refused by the kit's guard before the route sees the key.
        let pointer = if key == "%00" { "path" } else { "key" };
        assert_eq!(body["errors"][0]["pointer"], pointer, "{key}: {body}");
        problem(app.prefs(Method::GET, Some(&me.token), key, None).await, 422).await;
        problem(app.prefs(Method::DELETE, Some(&me.token), key, None).await, 422).await;
    }
    let listed = expect(app.prefs(Method::GET, Some(&me.token), "", None).await, 200).await;
    assert_eq!(listed["items"], json!({}), "nothing was stored");
}

#[tokio::test]
async fn bodies_that_are_not_json_are_refused() {
    let app = spawn_app().await;
    let me = app.shopper();
    for text in ["", "not json", "{\"a\":", "'single'", "[1,]", "1e400"] {
        problem(
            app.prefs(Method::PUT, Some(&me.token), "k", Some(("application/json", text)))
                .await,
            400,
        )
        .await;
    }
    for content_type in ["text/plain", "application/x-www-form-urlencoded", ""] {
        let body = problem(
            app.prefs(Method::PUT, Some(&me.token), "k", Some((content_type, "\"x\"")))
                .await,
            415,
        )
        .await;
        assert!(
            body["type"].as_str().unwrap().ends_with("/unsupported-media-type"),
            "{body}"
        );
    }
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    problem(
        app.prefs(Method::PUT, Some(&me.token), "k", Some(("application/json", &deep)))
            .await,
        400,
    )
    .await;
    problem(app.prefs(Method::GET, Some(&me.token), "k", None).await, 404).await;
}

#[tokio::test]
async fn values_over_the_limit_are_413() {
    let app = spawn_app().await;
    let me = app.shopper();
    // 256 bytes of compact JSON fit exactly; one more does not.
    let fits = json!("x".repeat(254));
    expect(app.put_pref(&me.token, "k", &fits).await, 201).await;
    let body = problem(app.put_pref(&me.token, "k", &json!("x".repeat(255))).await, 413).await;
    assert_eq!(body["max_value_bytes"], 256);
    assert!(body["type"].as_str().unwrap().ends_with("/value-too-large"), "{body}");
    // Whitespace does not count: the value is measured as it is stored.
    let padded = format!("{}\"{}\"", " ".repeat(300), "y".repeat(10));
    expect(
        app.prefs(Method::PUT, Some(&me.token), "k", Some(("application/json", &padded)))
            .await,
        200,
    )
    .await;
    // Beyond the server's body limit the body is not even read.
    let huge = json!("z".repeat(200 * 1024));
    let body = problem(app.put_pref(&me.token, "k", &huge).await, 413).await;
    assert!(body["type"].as_str().unwrap().ends_with("/payload-too-large"), "{body}");
    let got = expect(app.prefs(Method::GET, Some(&me.token), "k", None).await, 200).await;
    assert_eq!(got["value"], "y".repeat(10), "refused values changed nothing");
}

#[tokio::test]
async fn the_key_limit_is_409_but_replacing_still_works() {
    let app = spawn_app().await;
    let me = app.shopper();
    for i in 0..4 {
        expect(app.put_pref(&me.token, &format!("k{i}"), &json!(i)).await, 201).await;
    }
    let body = problem(app.put_pref(&me.token, "k4", &json!(4)).await, 409).await;
    assert!(body["type"].as_str().unwrap().ends_with("/preferences-full"), "{body}");
    assert_eq!(body["max_keys"], 4);
    expect(app.put_pref(&me.token, "k0", &json!("new")).await, 200).await;
    expect(app.prefs(Method::DELETE, Some(&me.token), "k1", None).await, 204).await;
    expect(app.put_pref(&me.token, "k4", &json!(4)).await, 201).await;
    let listed = expect(app.prefs(Method::GET, Some(&me.token), "", None).await, 200).await;
    assert_eq!(listed["items"], json!({"k0": "new", "k2": 2, "k3": 3, "k4": 4}));
}

#[tokio::test]
async fn concurrent_new_keys_never_exceed_the_limit() {
    let app = spawn_app().await;
    let me = app.shopper();
    let puts = (0..16).map(|i| {
        let (app, token) = (&app, &me.token);
        async move {
            app.put_pref(token, &format!("race{i}"), &json!(i))
                .await
                .status()
                .as_u16()
        }
    });
    let statuses = futures::future::join_all(puts).await;
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 4, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 12, "{statuses:?}");
    let listed = expect(app.prefs(Method::GET, Some(&me.token), "", None).await, 200).await;
    assert_eq!(listed["items"].as_object().unwrap().len(), 4);
}

#[tokio::test]
async fn the_openapi_document_lists_the_preference_routes() {
    let app = spawn_app().await;
    let doc = expect(app.http.get(app.cart.url("/openapi.json")).send().await.unwrap(), 200).await;
    let path = &doc["paths"]["/me/preferences/{key}"];
    for method in ["get", "put", "delete"] {
        assert!(path[method].is_object(), "{method}");
    }
    assert!(doc["paths"]["/me/preferences"]["get"].is_object());
    assert!(doc["components"]["schemas"]["Preferences"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test]
async fn redis_down_is_503_for_preferences() {
    let app = spawn_app().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = cart_config(&app.keys, &format!("redis://127.0.0.1:{closed}"), &app.catalog.url(""));
    let broken = shop_testkit::spawn(shop_cart::build(config).await.unwrap());
    let me = app.shopper();
    for (method, path) in [
        (Method::GET, "/me/preferences"),
        (Method::GET, "/me/preferences/sort"),
        (Method::PUT, "/me/preferences/sort"),
        (Method::DELETE, "/me/preferences/sort"),
    ] {
        let r = app
            .http
            .request(method, broken.url(path))
            .bearer_auth(&me.token)
            .json(&json!("price_asc"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["retry-after"], "1");
        problem(r, 503).await;
    }
}
