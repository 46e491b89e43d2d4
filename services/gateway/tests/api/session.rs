//! Browser sessions: login and logout forms, the cookies' attributes, CSRF on every
//! state-changing cookie request, the transparent refresh, and bearer clients untouched.

#![allow(clippy::unwrap_used)]

use serde_json::json;
use shop_testkit::{expect, problem};

use crate::support::{self, Jar, PASSWORD, browser_login, client, csrf, spawn_gateway};

#[tokio::test]
async fn login_sets_http_only_lax_cookies_and_goes_back_to_a_local_path_only() {
    let shop = support::spawn_shop().await;
    let email = support::register(&shop).await;
    let gateway = spawn_gateway(shop.config()).await;
    let mut jar = Jar::default();
    let token = csrf(&gateway, &mut jar).await;
    let resp = client()
        .post(gateway.url("/login"))
        .header("cookie", jar.header())
        .form(&[
            ("email", email.as_str()),
            ("password", PASSWORD),
            ("_csrf", &token),
            ("next", "//evil.example/x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/", "never another origin");
    let cookies = jar.take(&resp);
    for name in ["sk_access=", "sk_refresh=", "sk_csrf="] {
        let cookie = cookies.iter().find(|c| c.starts_with(name)).unwrap();
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        assert!(cookie.contains("Path=/"), "{cookie}");
        assert!(!cookie.contains("Secure"), "COOKIE_SECURE is off here: {cookie}");
    }
    assert_ne!(jar.get("sk_csrf"), None);
    let me = client()
        .get(gateway.url("/api/v1/auth/me"))
        .header("cookie", jar.header())
        .send()
        .await
        .unwrap();
    assert_eq!(expect(me, 200).await["email"], email.as_str());

    // With COOKIE_SECURE on, every cookie is Secure.
    let mut config = shop.config();
    config.cookie_secure = true;
    let secure = spawn_gateway(config).await;
    let resp = client().get(secure.url("/api/v1/session")).send().await.unwrap();
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[tokio::test]
async fn login_without_a_valid_csrf_token_is_refused() {
    let shop = support::spawn_shop().await;
    let email = support::register(&shop).await;
    let gateway = spawn_gateway(shop.config()).await;
    let mut jar = Jar::default();
    let _ = csrf(&gateway, &mut jar).await;
    let resp = client()
        .post(gateway.url("/login"))
        .header("cookie", jar.header())
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(resp, 403).await["reason"], "csrf");
    // A token minted for another browser's nonce does not fit this one.
    let mut other = Jar::default();
    let foreign = csrf(&gateway, &mut other).await;
    let resp = client()
        .post(gateway.url("/login"))
        .header("cookie", jar.header())
        .form(&[("email", email.as_str()), ("password", PASSWORD), ("_csrf", &foreign)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert!(
        resp.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login?error=expired")
    );
    assert!(resp.headers().get("set-cookie").is_none(), "no session was made");
}

#[tokio::test]
async fn wrong_passwords_and_bad_bodies_get_clear_answers() {
    let shop = support::spawn_shop().await;
    let email = support::register(&shop).await;
    let gateway = spawn_gateway(shop.config()).await;
    let mut jar = Jar::default();
    let token = csrf(&gateway, &mut jar).await;
    let resp = client()
        .post(gateway.url("/login"))
        .header("cookie", jar.header())
        .form(&[
            ("email", email.as_str()),
            ("password", "wrong password!"),
            ("_csrf", &token),
            ("next", "/cart"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/login?error=credentials&next=%2Fcart");
    let resp = client()
        .post(gateway.url("/login"))
        .header("cookie", jar.header())
        .header("x-csrf-token", &token)
        .json(&json!({"email": email, "password": "wrong password!"}))
        .send()
        .await
        .unwrap();
    problem(resp, 401).await;
    let resp = client()
        .post(gateway.url("/login"))
        .header("cookie", jar.header())
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    problem(resp, 400).await;
    let resp = client()
        .post(gateway.url("/login"))
        .header("content-type", "text/plain")
        .body("email=a")
        .send()
        .await
        .unwrap();
    problem(resp, 415).await;
    let resp = client()
        .post(gateway.url("/login"))
        .form(&[("password", "x")])
        .send()
        .await
        .unwrap();
    // A missing field is a 422 naming it, as in every service (the kit's extractors).
    let body = problem(resp, 422).await;
    assert!(body["detail"].as_str().unwrap().contains("email"), "{body}");
    let huge = "a".repeat(100 * 1024);
    let resp = client()
        .post(gateway.url("/login"))
        .header("cookie", jar.header())
        .form(&[("email", huge.as_str()), ("password", PASSWORD), ("_csrf", &token)])
        .send()
        .await
        .unwrap();
    problem(resp, 413).await;
    let resp = client()
        .post(gateway.url("/logout"))
        .header("content-type", "application/json")
        .body(r#"{"_csrf": "#)
        .send()
        .await
        .unwrap();
    problem(resp, 400).await;
}

#[tokio::test]
async fn state_changing_cookie_requests_need_the_csrf_header_bearer_ones_do_not() {
    let shop = support::spawn_shop().await;
    let email = support::register(&shop).await;
    let id = support::product(&shop, "Oolong", 5).await;
    let gateway = spawn_gateway(shop.config()).await;
    let mut jar = browser_login(&gateway, &email).await;
    let add = json!({"product_id": id, "qty": 1});

    let resp = client()
        .post(gateway.url("/api/v1/cart/add"))
        .header("cookie", jar.header())
        .json(&add)
        .send()
        .await
        .unwrap();
    assert_eq!(problem(resp, 403).await["reason"], "csrf");
    let resp = client()
        .post(gateway.url("/api/v1/cart/add"))
        .header("cookie", jar.header())
        .header("x-csrf-token", "forged")
        .json(&add)
        .send()
        .await
        .unwrap();
    problem(resp, 403).await;
    // The token of the anonymous visit is not the token of the session.
    let mut anonymous = Jar::default();
    anonymous
        .0
        .insert("sk_csrf".into(), jar.get("sk_csrf").unwrap().to_owned());
    let stale = csrf(&gateway, &mut anonymous).await;
    let logged_in = csrf(&gateway, &mut jar).await;
    assert_ne!(stale, logged_in);
    let resp = client()
        .post(gateway.url("/api/v1/cart/add"))
        .header("cookie", jar.header())
        .header("x-csrf-token", &stale)
        .json(&add)
        .send()
        .await
        .unwrap();
    problem(resp, 403).await;
    let resp = client()
        .post(gateway.url("/api/v1/cart/add"))
        .header("cookie", jar.header())
        .header("x-csrf-token", &logged_in)
        .json(&add)
        .send()
        .await
        .unwrap();
    expect(resp, 200).await;
    // Reads need no token.
    let cart = expect(
        client()
            .get(gateway.url("/api/v1/cart"))
            .header("cookie", jar.header())
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(cart["items"].as_array().map(Vec::len), Some(1), "{cart}");
    // A bearer client is exempt: no browser adds a bearer token by itself.
    let token = shop.token(&uuid::Uuid::new_v4().to_string(), "customer", "free");
    let resp = client()
        .post(gateway.url("/api/v1/cart/add"))
        .bearer_auth(token)
        .json(&add)
        .send()
        .await
        .unwrap();
    expect(resp, 200).await;
    assert_eq!(support::metric(&gateway, "gateway_csrf_rejected_total").await, 3.0);
}

#[tokio::test]
async fn an_unusable_access_cookie_is_refreshed_once_for_concurrent_requests() {
    let shop = support::spawn_shop().await;
    let email = support::register(&shop).await;
    let gateway = spawn_gateway(shop.config()).await;
    let mut jar = browser_login(&gateway, &email).await;
    let old_refresh = jar.get("sk_refresh").unwrap().to_owned();
    // The access token is gone (expired cookies vanish), or garbled: the refresh cookie carries on.
    jar.0.insert("sk_access".into(), "garbled".into());
    let cookie = jar.header();
    let answers = futures::future::join_all((0..6).map(|_| {
        client()
            .get(gateway.url("/api/v1/auth/me"))
            .header("cookie", cookie.clone())
            .send()
    }))
    .await;
    let mut renewed = Vec::new();
    for resp in answers {
        let resp = resp.unwrap();
        let mut copy = jar.clone();
        copy.take(&resp);
        renewed.push(copy);
        assert_eq!(expect(resp, 200).await["email"], email.as_str());
    }
    let new_refresh = renewed[0].get("sk_refresh").unwrap().to_owned();
    assert_ne!(new_refresh, old_refresh);
    assert!(
        renewed
            .iter()
            .all(|j| j.get("sk_refresh") == Some(new_refresh.as_str())),
        "one refresh, shared"
    );
    // The session survived (a double spend would have revoked it): the new tokens work.
    let me = client()
        .get(gateway.url("/api/v1/auth/me"))
        .header("cookie", renewed[0].header())
        .send()
        .await
        .unwrap();
    expect(me, 200).await;
    assert_eq!(
        support::metric(&gateway, "gateway_session_refreshes_total{outcome=\"ok\"}").await,
        1.0
    );

    // A refresh token auth refuses ends the session: the cookies are cleared.
    let mut dead = Jar::default();
    dead.0.insert("sk_refresh".into(), "not-a-refresh-token".into());
    let resp = client()
        .get(gateway.url("/api/v1/auth/me"))
        .header("cookie", dead.header())
        .send()
        .await
        .unwrap();
    let cleared = dead.take(&resp);
    assert!(
        cleared
            .iter()
            .any(|c| c.starts_with("sk_refresh=;") && c.contains("Max-Age=0")),
        "{cleared:?}"
    );
    problem(resp, 401).await;
}

#[tokio::test]
async fn logout_revokes_the_refresh_token_and_clears_the_cookies() {
    let shop = support::spawn_shop().await;
    let email = support::register(&shop).await;
    let gateway = spawn_gateway(shop.config()).await;
    let mut jar = browser_login(&gateway, &email).await;
    let refresh = jar.get("sk_refresh").unwrap().to_owned();
    let access = jar.get("sk_access").unwrap().to_owned();
    let resp = client()
        .post(gateway.url("/logout"))
        .header("cookie", jar.header())
        .form(&[("_csrf", "wrong")])
        .send()
        .await
        .unwrap();
    problem(resp, 403).await;
    let token = csrf(&gateway, &mut jar).await;
    let resp = client()
        .post(gateway.url("/logout"))
        .header("cookie", jar.header())
        .form(&[("_csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let old_nonce = jar.get("sk_csrf").unwrap().to_owned();
    jar.take(&resp);
    assert!(
        jar.get("sk_access").is_none() && jar.get("sk_refresh").is_none(),
        "{jar:?}"
    );
    assert_ne!(jar.get("sk_csrf"), Some(old_nonce.as_str()), "a new nonce");
    let resp = client()
        .post(gateway.url("/api/v1/auth/refresh"))
        .json(&json!({"refresh_token": refresh}))
        .send()
        .await
        .unwrap();
    problem(resp, 401).await;
    // A copy of the access token (a stolen cookie, a script that kept it) stops working
    // within seconds, at the gateway and at the services behind it.
    for url in [
        gateway.url("/api/v1/cart"),
        shop.cart.url("/cart"),
        shop.order.url("/orders"),
    ] {
        let started = std::time::Instant::now();
        loop {
            let resp = client().get(&url).bearer_auth(&access).send().await.unwrap();
            if resp.status() == 401 {
                let body = problem(resp, 401).await;
                assert_eq!(body["detail"], "the session has ended", "{url}");
                break;
            }
            assert_eq!(resp.status(), 200, "{url}");
            assert!(started.elapsed().as_secs() < 5, "{url} still honours an ended session");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test]
async fn the_session_endpoint_says_who_is_signed_in() {
    let shop = support::spawn_shop().await;
    let email = support::register(&shop).await;
    let gateway = spawn_gateway(shop.config()).await;
    let anonymous = expect(client().get(gateway.url("/api/v1/session")).send().await.unwrap(), 200).await;
    assert_eq!(anonymous["authenticated"], false);
    let jar = browser_login(&gateway, &email).await;
    let body = expect(
        client()
            .get(gateway.url("/api/v1/session"))
            .header("cookie", jar.header())
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(body["authenticated"], true);
    assert_eq!(body["user"]["email"], email.as_str());
    assert_eq!(body["user"]["plan"], "free");
    // The login page carries the form's CSRF token.
    let page = client()
        .get(gateway.url("/login?next=/cart"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("name=\"_csrf\""), "{page}");
    assert!(page.contains("value=\"/cart\""), "{page}");
}

/// Signing in is the gateway's own call to auth: auth sees the client's address chain (for
/// its throttle), not the gateway's alone, and none of the form's own headers or cookies.
#[tokio::test]
async fn the_login_call_carries_the_clients_address_and_nothing_of_the_form() {
    let shop = support::spawn_shop().await;
    let echo = support::spawn_echo().await;
    let mut urls = shop.urls();
    urls[0] = echo.url.clone();
    let gateway = spawn_gateway(support::config(&shop.keys, urls)).await;
    let mut jar = Jar::default();
    let token = csrf(&gateway, &mut jar).await;
    client()
        .post(gateway.url("/login"))
        .header("cookie", jar.header())
        .header("x-forwarded-for", "203.0.113.9")
        .form(&[("email", "ann@example.com"), ("password", PASSWORD), ("_csrf", &token)])
        .send()
        .await
        .unwrap();
    let seen = echo.seen().pop().unwrap();
    assert_eq!(seen.path_and_query, "/auth/login");
    assert_eq!(seen.headers["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
    assert_eq!(seen.headers["content-type"], "application/json");
    assert!(!seen.headers.contains_key("cookie"), "{:?}", seen.headers);
    assert!(!seen.headers.contains_key("authorization"), "{:?}", seen.headers);
}
