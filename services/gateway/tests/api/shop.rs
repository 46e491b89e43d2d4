//! The shopper's pages over plain HTTP (the browser journeys are in `tests/browser`): every
//! rule auth enforces explained in the shopper's language, the language choice, remembered
//! sort and page size, the catalog-unavailable state, cart warnings, one order per checkout
//! form, and what a clumsy or hostile form post gets.

#![allow(clippy::unwrap_used)]

use serde_json::json;

use crate::support::{self, Jar, browser_login, client, field_value, location, spawn_gateway};

#[tokio::test]
async fn registering_explains_every_rule_of_auth_in_the_shoppers_language() {
    let shop = support::spawn_shop().await;
    let taken = support::register(&shop).await;
    let gateway = spawn_gateway(shop.config()).await;
    let mut jar = Jar::default();
    let (status, page) = support::page(&gateway, &mut jar, "/register", "ru-RU,ru;q=0.9").await;
    assert_eq!(status, 200);
    assert!(page.contains("<html lang=\"ru\">"), "{page}");
    let csrf = field_value(&page, "_csrf");
    let long = "Ab1-".repeat(33);
    let cases: [(&str, &str, u16, &str); 9] = [
        ("", "violet-tiger-42", 422, "Введите адрес электронной почты."),
        (
            "not-an-email",
            "violet-tiger-42",
            422,
            "Это не похоже на адрес электронной почты",
        ),
        (
            "ann@example.com",
            "short",
            422,
            "Пароль должен быть не короче 8 символов.",
        ),
        (
            "ann@example.com",
            &long,
            422,
            "Пароль должен быть не длиннее 128 символов.",
        ),
        (
            "ann@example.com",
            "ann@example.com",
            422,
            "Пароль не должен совпадать с вашим email.",
        ),
        (
            "ann@example.com",
            "password",
            422,
            "Этот пароль слишком распространённый",
        ),
        (
            "ann@example.com",
            "zzzzzzzzzz",
            422,
            "Этот пароль слишком распространённый",
        ),
        ("ann@example.com", "tab\there-is-bad", 422, "Только печатные символы"),
        (&taken, "violet-tiger-42", 409, "Аккаунт с этим email уже есть."),
    ];
    for (email, password, want, text) in cases {
        let resp = support::submit(
            &gateway,
            &mut jar,
            "/register",
            "ru",
            &[("_csrf", &csrf), ("email", email), ("password", password)],
        )
        .await;
        assert_eq!(resp.status(), want, "{email} / {password}");
        let html = resp.text().await.unwrap();
        assert!(html.contains("class=\"field-error\""), "{html}");
        assert!(html.contains(text), "{email} / {password}: expected {text:?} in {html}");
        assert!(html.contains("aria-invalid=\"true\""), "the field is marked: {html}");
        assert!(
            html.contains("name=\"password\" autocomplete=\"new-password\" required"),
            "the password is not echoed back: {html}"
        );
    }
    // A good one signs in and goes back to where the shopper was, never elsewhere.
    let resp = support::submit(
        &gateway,
        &mut jar,
        "/register",
        "ru",
        &[
            ("_csrf", &csrf),
            ("email", "Ann@Example.com"),
            ("password", "violet-tiger-42"),
            ("next", "//evil.example/"),
        ],
    )
    .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/");
    assert!(jar.get("sk_access").is_some(), "signed in: {jar:?}");
    let (_, home) = support::page(&gateway, &mut jar, "/", "ru").await;
    assert!(home.contains("id=\"nav-profile\""), "{home}");
    assert!(!home.contains("id=\"nav-admin\""), "no admin link for a customer");
}

#[tokio::test]
async fn the_language_follows_the_choice_then_the_browser() {
    let shop = support::spawn_shop().await;
    let gateway = spawn_gateway(shop.config()).await;
    let mut jar = Jar::default();
    let (_, page) = support::page(&gateway, &mut jar, "/", "en-US,en;q=0.9").await;
    assert!(page.contains("<title>Products · Shopkeeper</title>"), "{page}");
    let (_, page) = support::page(&gateway, &mut jar, "/", "de-DE,ru;q=0.5").await;
    assert!(page.contains("<title>Товары · Shopkeeper</title>"), "{page}");
    assert!(
        page.contains("href=\"/lang/en?next=%2F\""),
        "every page offers the switch: {page}"
    );

    let resp = client().get(gateway.url("/lang/en?next=/cart")).send().await.unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/cart");
    let cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("sk_lang="))
        .unwrap();
    assert!(
        cookie.starts_with("sk_lang=en;") && cookie.contains("Max-Age=31536000"),
        "{cookie}"
    );
    jar.take(&resp);
    let (_, page) = support::page(&gateway, &mut jar, "/", "ru-RU").await;
    assert!(
        page.contains("<title>Products · Shopkeeper</title>"),
        "the choice wins: {page}"
    );

    let resp = client()
        .get(gateway.url("/lang/en?next=//evil.example"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&resp), "/");
    let resp = client()
        .get(gateway.url("/lang/xx"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn prices_filters_and_the_remembered_sort() {
    let shop = support::spawn_shop().await;
    let cheap = support::product(&shop, "Felt slippers", 3).await;
    let pricey = support::product(&shop, "Down parka", 0).await;
    let admin = shop.token(&uuid::Uuid::new_v4().to_string(), "admin", "free");
    let resp = client()
        .patch(shop.catalog.url(&format!("/products/{pricey}")))
        .bearer_auth(&admin)
        .json(&json!({"price": "1234567.891"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422, "three decimals are not a price");
    let resp = client()
        .patch(shop.catalog.url(&format!("/products/{pricey}")))
        .bearer_auth(&admin)
        .json(&json!({"price": "1234567.89"}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
    let email = support::register(&shop).await;
    let gateway = spawn_gateway(shop.config()).await;
    let mut jar = browser_login(&gateway, &email).await;

    let (_, page) = support::page(&gateway, &mut jar, &format!("/products/{pricey}"), "en").await;
    assert!(page.contains("1.234.567,89 ₸"), "{page}");
    assert!(page.contains("Out of stock"), "{page}");
    assert!(!page.contains("id=\"add-to-cart\""), "nothing to add when none is left");

    let (_, page) = support::page(&gateway, &mut jar, "/?in_stock=on&price_max=5 000", "en").await;
    assert!(page.contains(&format!("/products/{cheap}")), "{page}");
    assert!(!page.contains(&format!("/products/{pricey}")), "{page}");
    assert!(page.contains("Only 3 left"), "{page}");
    let (status, page) = support::page(&gateway, &mut jar, "/?q=nothing-like-this", "en").await;
    assert_eq!(status, 200);
    assert!(page.contains("id=\"nothing-found\""), "{page}");
    let (status, page) = support::page(
        &gateway,
        &mut jar,
        "/?category=no-such-category&page=abc&per_page=7",
        "en",
    )
    .await;
    assert_eq!(status, 200, "a filter the catalog refuses is said, not a 500");
    assert!(page.contains("id=\"bad-filter\""), "{page}");

    // A chosen sort and page size are remembered for the signed-in shopper.
    let (_, page) = support::page(&gateway, &mut jar, "/?sort=price_desc&per_page=12", "en").await;
    assert!(page.contains("<option value=\"price_desc\" selected>"), "{page}");
    let (_, page) = support::page(&gateway, &mut jar, "/", "en").await;
    assert!(
        page.contains("<option value=\"price_desc\" selected>"),
        "remembered: {page}"
    );
    assert!(page.contains("<option value=\"12\" selected>"), "remembered: {page}");
    let first_pricey = page.find(&format!("/products/{pricey}")).unwrap();
    let first_cheap = page.find(&format!("/products/{cheap}")).unwrap();
    assert!(first_pricey < first_cheap, "sorted by price, highest first");
}

#[tokio::test]
async fn with_the_catalog_stopped_the_home_page_says_so() {
    let mut shop = support::spawn_shop().await;
    let gateway = spawn_gateway(shop.config()).await;
    support::stop(&mut shop.catalog).await;
    let mut jar = Jar::default();
    let (status, page) = support::page(&gateway, &mut jar, "/", "en").await;
    assert_eq!(status, 503);
    assert!(page.contains("id=\"catalog-unavailable\""), "{page}");
    assert!(page.contains("The catalog is unavailable right now."), "{page}");
    let (status, page) = support::page(&gateway, &mut jar, &format!("/products/{}", uuid::Uuid::new_v4()), "en").await;
    assert_eq!(status, 503);
    assert!(page.contains("unavailable"), "{page}");
}

#[tokio::test]
async fn the_cart_warns_and_one_checkout_form_makes_one_order() {
    let shop = support::spawn_shop().await;
    let socks = support::product(&shop, "Wool socks", 5).await;
    let scarf = support::product(&shop, "Cashmere scarf", 2).await;
    let email = support::register(&shop).await;
    let gateway = spawn_gateway(shop.config()).await;
    let mut jar = browser_login(&gateway, &email).await;
    let (_, page) = support::page(&gateway, &mut jar, &format!("/products/{socks}"), "en").await;
    let csrf = field_value(&page, "_csrf");
    for (id, qty) in [(&socks, "2"), (&scarf, "2")] {
        let resp = support::submit(
            &gateway,
            &mut jar,
            "/cart/add",
            "en",
            &[("_csrf", &csrf), ("product_id", id), ("qty", qty)],
        )
        .await;
        assert_eq!(resp.status(), 303);
        assert_eq!(location(&resp), "/cart?notice=added");
    }
    // Clumsy and hostile posts: a page, never a 500, and the cart unchanged.
    for (form, want) in [
        (
            vec![
                ("_csrf", csrf.as_str()),
                ("product_id", socks.as_str()),
                ("qty", "lots"),
            ],
            "/cart?notice=bad-quantity",
        ),
        (
            vec![("_csrf", csrf.as_str()), ("product_id", socks.as_str()), ("qty", "-3")],
            "/cart?notice=bad-quantity",
        ),
        (
            vec![("_csrf", csrf.as_str()), ("product_id", socks.as_str()), ("qty", "100")],
            "/cart?notice=bad-quantity",
        ),
    ] {
        let resp = support::submit(&gateway, &mut jar, "/cart/set", "en", &form).await;
        assert_eq!(resp.status(), 303, "{form:?}");
        assert_eq!(location(&resp), want, "{form:?}");
    }
    let resp = support::submit(
        &gateway,
        &mut jar,
        "/cart/add",
        "en",
        &[("_csrf", &csrf), ("product_id", "'; DROP TABLE--")],
    )
    .await;
    assert_eq!(resp.status(), 422);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let resp = support::submit(
        &gateway,
        &mut jar,
        "/cart/add",
        "en",
        &[("product_id", &socks), ("qty", "1")],
    )
    .await;
    assert_eq!(resp.status(), 403, "no CSRF token");
    let resp = client()
        .post(gateway.url("/cart/add"))
        .header("cookie", jar.header())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![0xff, 0xfe, b'=', 0x00])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422, "a body that is not a form");

    // Someone else changes the price of one line and takes the last units of the other.
    let admin = shop.token(&uuid::Uuid::new_v4().to_string(), "admin", "free");
    let resp = client()
        .patch(shop.catalog.url(&format!("/products/{socks}")))
        .bearer_auth(&admin)
        .json(&json!({"price": "1750.00"}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let resp = client()
        .post(shop.catalog.url(&format!("/products/{scarf}/stock")))
        .bearer_auth(&admin)
        .json(&json!({"delta": -2}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let (_, cart) = support::page(&gateway, &mut jar, "/cart", "en").await;
    assert!(cart.contains("class=\"line-warning price-changed\""), "{cart}");
    assert!(cart.contains("1.500,00 ₸ → 1.750,00 ₸"), "{cart}");
    assert!(cart.contains("Out of stock now"), "{cart}");
    assert!(
        cart.contains("data-once disabled"),
        "checkout waits until the cart is fixed: {cart}"
    );

    let resp = support::submit(
        &gateway,
        &mut jar,
        "/cart/remove",
        "en",
        &[("_csrf", &csrf), ("product_id", &scarf)],
    )
    .await;
    assert_eq!(resp.status(), 303);
    let (_, cart) = support::page(&gateway, &mut jar, "/cart", "en").await;
    assert!(!cart.contains("price-changed"), "a changed price is said once: {cart}");
    assert!(cart.contains("id=\"cart-total\">3.500,00 ₸"), "{cart}");
    let key = field_value(&cart, "idempotency_key");
    let mut orders = Vec::new();
    for _ in 0..2 {
        let resp = support::submit(
            &gateway,
            &mut jar,
            "/checkout",
            "en",
            &[("_csrf", &csrf), ("idempotency_key", &key)],
        )
        .await;
        assert_eq!(resp.status(), 303);
        orders.push(location(&resp));
    }
    assert_eq!(orders[0], orders[1], "the same form makes the same order");
    assert!(orders[0].ends_with("?notice=checkout-placed"), "{orders:?}");
    let (_, list) = support::page(&gateway, &mut jar, "/orders", "en").await;
    assert_eq!(list.matches("class=\"order\"").count(), 1, "{list}");
    let (_, order) = support::page(&gateway, &mut jar, &orders[0], "en").await;
    assert!(order.contains("Thank you! Your order is placed."), "{order}");
    assert!(order.contains("data-status=\"placed\""), "{order}");
    let (_, cart) = support::page(&gateway, &mut jar, "/cart", "en").await;
    assert!(cart.contains("id=\"cart-empty\""), "{cart}");
}

#[tokio::test]
async fn a_rejected_checkout_names_what_was_short() {
    let shop = support::spawn_shop().await;
    let scarf = support::product(&shop, "Cashmere scarf", 1).await;
    let email = support::register(&shop).await;
    let gateway = spawn_gateway(shop.config()).await;
    let mut jar = browser_login(&gateway, &email).await;
    let (_, page) = support::page(&gateway, &mut jar, &format!("/products/{scarf}"), "en").await;
    let csrf = field_value(&page, "_csrf");
    support::submit(
        &gateway,
        &mut jar,
        "/cart/add",
        "en",
        &[("_csrf", &csrf), ("product_id", &scarf), ("qty", "1")],
    )
    .await;
    let (_, cart) = support::page(&gateway, &mut jar, "/cart", "en").await;
    let key = field_value(&cart, "idempotency_key");
    // The last unit goes before the checkout.
    let admin = shop.token(&uuid::Uuid::new_v4().to_string(), "admin", "free");
    client()
        .post(shop.catalog.url(&format!("/products/{scarf}/stock")))
        .bearer_auth(&admin)
        .json(&json!({"delta": -1}))
        .send()
        .await
        .unwrap();
    let resp = support::submit(
        &gateway,
        &mut jar,
        "/checkout",
        "en",
        &[("_csrf", &csrf), ("idempotency_key", &key)],
    )
    .await;
    assert_eq!(resp.status(), 303);
    let to = location(&resp);
    assert!(
        to.starts_with("/orders/") && !to.contains("notice"),
        "the order page's alert explains: {to}"
    );
    let (_, order) = support::page(&gateway, &mut jar, &to, "en").await;
    assert!(order.contains("id=\"checkout-rejected\""), "{order}");
    assert!(order.contains("Cashmere scarf: 1 wanted, 0 available"), "{order}");
    assert!(!order.contains("id=\"cancel\""), "a rejected order cannot be canceled");
}

#[tokio::test]
async fn the_profile_saves_and_refuses_with_messages_at_the_fields() {
    let shop = support::spawn_shop().await;
    let email = support::register(&shop).await;
    let gateway = spawn_gateway(shop.config()).await;
    let mut jar = browser_login(&gateway, &email).await;
    let (status, page) = support::page(&gateway, &mut jar, "/profile", "en").await;
    assert_eq!(status, 200);
    assert!(page.contains("id=\"plan\">Free"), "{page}");
    let csrf = field_value(&page, "_csrf");
    let resp = support::submit(
        &gateway,
        &mut jar,
        "/profile",
        "en",
        &[
            ("_csrf", &csrf),
            ("name", "Ann"),
            ("phone", "12"),
            ("address", "1 Main St"),
        ],
    )
    .await;
    assert_eq!(resp.status(), 422);
    let html = resp.text().await.unwrap();
    assert!(html.contains("Enter a phone number: 5 to 15 digits"), "{html}");
    let resp = support::submit(
        &gateway,
        &mut jar,
        "/profile",
        "en",
        &[
            ("_csrf", &csrf),
            ("name", "Ann"),
            ("phone", "+7 701 123 45 67"),
            ("address", "1 Main St\r\nAlmaty"),
        ],
    )
    .await;
    assert_eq!(location(&resp), "/profile?notice=profile-saved");
    let (_, page) = support::page(&gateway, &mut jar, "/profile?notice=profile-saved", "en").await;
    assert!(page.contains("Your details are saved."), "{page}");
    assert!(page.contains("value=\"+7 701 123 45 67\""), "{page}");
    let resp = support::submit(
        &gateway,
        &mut jar,
        "/profile/password",
        "en",
        &[
            ("_csrf", &csrf),
            ("current_password", "wrong one!"),
            ("new_password", "violet-tiger-42"),
        ],
    )
    .await;
    assert_eq!(resp.status(), 422);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("This is not your current password.")
    );
    let resp = support::submit(
        &gateway,
        &mut jar,
        "/profile/password",
        "en",
        &[
            ("_csrf", &csrf),
            ("current_password", support::PASSWORD),
            ("new_password", "violet-tiger-42"),
        ],
    )
    .await;
    assert_eq!(location(&resp), "/profile?notice=password-changed");
    // Pages that need a user send a visitor to log in and back.
    let resp = client().get(gateway.url("/orders")).send().await.unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/login?next=%2Forders");
}
