//! The admin's pages over plain HTTP: refused to customers (403, GET and POST alike) and to
//! forms without their CSRF token; an admin creates a template and a product from it through
//! the forms, with the catalog's refusals shown next to the field at fault; the figures drawn
//! as SVG.

#![allow(clippy::unwrap_used)]

use reqwest::Response;
use serde_json::Value;
use shop_testkit::Spawned;

use crate::support::{self, Jar, Shop, browser_login, client, csrf, field_value, location, spawn_gateway};

/// Pages and forms in English (the texts asserted on are).
async fn get(gateway: &Spawned, jar: &mut Jar, path: &str) -> (u16, String) {
    support::page(gateway, jar, path, "en").await
}

async fn post(gateway: &Spawned, jar: &mut Jar, path: &str, form: &[(&str, &str)]) -> Response {
    support::submit(gateway, jar, path, "en", form).await
}

/// A signed-in admin: a registered user promoted in auth's database, then logged in.
async fn admin(shop: &Shop, gateway: &Spawned) -> (Jar, String, String) {
    let email = support::register(shop).await;
    shop_auth::store::seed_admin(&shop.auth_db.pool, &email, None)
        .await
        .unwrap();
    let mut jar = browser_login(gateway, &email).await;
    let token = csrf(gateway, &mut jar).await;
    (jar, token, email)
}

/// The `<p class="field-error" id="…">` of a page's field `id`, which the field names in its
/// `aria-describedby`.
fn field_error(html: &str, id: &str) -> String {
    let marker = format!("<p class=\"field-error\" id=\"{id}-error\">");
    let rest = html
        .split(&marker)
        .nth(1)
        .unwrap_or_else(|| panic!("no error for {id} in {html}"));
    let described = html
        .split(&format!("id=\"{id}\""))
        .nth(1)
        .and_then(|tag| tag.split('>').next())
        .unwrap_or_default();
    assert!(
        described.contains(&format!("{id}-error")) && described.contains("aria-invalid=\"true\""),
        "{id} does not point at its error: {described}"
    );
    rest[..rest.find("</p>").unwrap()].to_owned()
}

const GETS: [&str; 17] = [
    "/admin",
    "/admin/products",
    "/admin/products/new",
    "/admin/products/{id}",
    "/admin/products/{id}/deactivate",
    "/admin/templates",
    "/admin/templates/new",
    "/admin/templates/{id}",
    "/admin/templates/{id}/delete",
    "/admin/categories",
    "/admin/categories/new",
    "/admin/categories/{id}",
    "/admin/categories/{id}/delete",
    "/admin/orders",
    "/admin/orders/{id}/cancel",
    "/admin/users",
    "/admin/users/{id}",
];

const POSTS: [&str; 13] = [
    "/admin/products/new",
    "/admin/products/{id}",
    "/admin/products/{id}/images",
    "/admin/products/{id}/stock",
    "/admin/products/{id}/deactivate",
    "/admin/templates/new",
    "/admin/templates/{id}",
    "/admin/templates/{id}/delete",
    "/admin/categories/new",
    "/admin/categories/{id}",
    "/admin/categories/{id}/delete",
    "/admin/orders/{id}/cancel",
    "/admin/users/{id}",
];

#[tokio::test]
async fn a_customer_is_refused_every_admin_page_and_form_and_sees_no_admin_link() {
    let shop = support::spawn_shop().await;
    let email = support::register(&shop).await;
    let gateway = spawn_gateway(shop.config()).await;

    // Nobody signed in: the login page, coming back here.
    let resp = client().get(gateway.url("/admin/products")).send().await.unwrap();
    assert_eq!(resp.status(), 303);
    let resp = client().get(gateway.url("/admin/stats")).send().await.unwrap();
    assert_eq!(location(&resp), "/login?next=%2Fadmin%2Fstats");

    let mut jar = browser_login(&gateway, &email).await;
    let token = csrf(&gateway, &mut jar).await;
    let (status, home) = get(&gateway, &mut jar, "/").await;
    assert_eq!(status, 200);
    assert!(
        !home.contains("href=\"/admin\""),
        "no admin link for a customer: {home}"
    );

    let product = support::product(&shop, "Wool socks", 3).await;
    for path in GETS.iter().chain(&["/admin/stats"]) {
        let path = path.replace("{id}", &product);
        let (status, html) = get(&gateway, &mut jar, &path).await;
        assert_eq!(status, 403, "GET {path}: {html}");
        assert!(
            html.contains("You do not have access to this page."),
            "GET {path}: {html}"
        );
    }
    for path in POSTS {
        let path = path.replace("{id}", &product);
        let resp = post(
            &gateway,
            &mut jar,
            &path,
            &[("_csrf", &token), ("delta", "-3"), ("name", "Mine now")],
        )
        .await;
        assert_eq!(resp.status(), 403, "POST {path}");
    }
    // Nothing changed behind the refusals.
    let body: Value = client()
        .get(shop.catalog.url(&format!("/products/{product}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (body["stock"].as_i64(), body["name"].as_str()),
        (Some(3), Some("Wool socks"))
    );
}

#[tokio::test]
async fn an_admin_creates_a_template_and_a_product_from_it_with_messages_at_the_fields() {
    let shop = support::spawn_shop().await;
    let gateway = spawn_gateway(shop.config()).await;
    let (mut jar, token, _) = admin(&shop, &gateway).await;

    let (status, home) = get(&gateway, &mut jar, "/").await;
    assert_eq!(status, 200);
    assert!(home.contains("id=\"nav-admin\" href=\"/admin\""), "{home}");
    let (status, index) = get(&gateway, &mut jar, "/admin").await;
    assert_eq!(status, 200);
    assert!(index.contains("href=\"/admin/templates\""), "{index}");

    // A schema that is not JSON is refused at the field, without calling the catalog.
    let resp = post(
        &gateway,
        &mut jar,
        "/admin/templates/new",
        &[
            ("_csrf", &token),
            ("name", "Hats"),
            ("schema", "{\"type\": \"object\","),
        ],
    )
    .await;
    assert_eq!(resp.status(), 422);
    let html = resp.text().await.unwrap();
    assert!(
        field_error(&html, "template-schema").starts_with("This is not valid JSON (line 1"),
        "{html}"
    );
    assert!(html.contains("value=\"Hats\""), "what was typed stays: {html}");
    let templates: Value = client()
        .get(shop.catalog.url("/templates"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(templates, serde_json::json!([]));

    // A good one.
    let schema = r#"{"type": "object", "properties": {
        "size": {"type": "string", "title": "Size", "enum": ["S", "M", "L"]},
        "warranty_months": {"type": "integer", "minimum": 0, "x-unit": "months"}},
        "required": ["size"], "additionalProperties": false}"#;
    let resp = post(
        &gateway,
        &mut jar,
        "/admin/templates/new",
        &[
            ("_csrf", &token),
            ("name", "Hats"),
            ("description", "Head wear"),
            ("schema", schema),
        ],
    )
    .await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    let to = location(&resp);
    assert!(to.ends_with("?notice=admin-template-created"), "{to}");
    let template = to
        .trim_start_matches("/admin/templates/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let (status, html) = get(&gateway, &mut jar, &to).await;
    assert_eq!(status, 200);
    assert!(html.contains("The template is created."), "{html}");

    // A category, for the checkboxes.
    let resp = post(
        &gateway,
        &mut jar,
        "/admin/categories/new",
        &[("_csrf", &token), ("slug", "hats"), ("name", "Hats")],
    )
    .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/admin/categories?notice=admin-category-created");

    // The product form draws the template's fields.
    let (status, form) = get(&gateway, &mut jar, &format!("/admin/products/new?template={template}")).await;
    assert_eq!(status, 200);
    assert!(form.contains("name=\"attr.size\""), "{form}");
    assert!(form.contains("<label for=\"attr-0\">Size</label>"), "{form}");
    assert!(form.contains("name=\"categories\" value=\"hats\""), "{form}");

    // An attribute the schema refuses comes back at its field, and a price the catalog
    // refuses at the price.
    let product_form = |size: &'static str, price: &'static str| {
        vec![
            ("_csrf", token.clone()),
            ("sku", "HAT-001".to_owned()),
            ("name", "Wool beanie".to_owned()),
            ("price", price.to_owned()),
            ("stock", "4".to_owned()),
            ("is_active", "on".to_owned()),
            ("categories", "hats".to_owned()),
            ("template_id", template.clone()),
            ("template_was", template.clone()),
            ("attr.size", size.to_owned()),
            ("attr.warranty_months", "12".to_owned()),
        ]
    };
    let pairs = product_form("XXL", "7990.50");
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let resp = post(&gateway, &mut jar, "/admin/products/new", &pairs).await;
    assert_eq!(resp.status(), 422);
    let html = resp.text().await.unwrap();
    assert!(field_error(&html, "attr-0").contains("XXL"), "{html}");
    assert!(html.contains("value=\"Wool beanie\""), "what was typed stays: {html}");
    let pairs = product_form("M", "7990.555");
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let resp = post(&gateway, &mut jar, "/admin/products/new", &pairs).await;
    assert_eq!(resp.status(), 422);
    let html = resp.text().await.unwrap();
    assert_eq!(field_error(&html, "product-price"), "At most two decimal places.");
    let pairs = product_form("M", "cheap");
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let resp = post(&gateway, &mut jar, "/admin/products/new", &pairs).await;
    assert_eq!(resp.status(), 422);
    let html = resp.text().await.unwrap();
    assert!(
        field_error(&html, "product-price").starts_with("Enter a price"),
        "{html}"
    );

    let pairs = product_form("M", "7 990,50");
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let resp = post(&gateway, &mut jar, "/admin/products/new", &pairs).await;
    assert_eq!(resp.status(), 303);
    let to = location(&resp);
    assert!(to.ends_with("?notice=admin-product-created"), "{to}");
    let id = to
        .trim_start_matches("/admin/products/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let product: Value = client()
        .get(shop.catalog.url(&format!("/products/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        product["attributes"],
        serde_json::json!({"size": "M", "warranty_months": 12})
    );
    assert_eq!(product["price"], "7990.50");
    assert_eq!(product["categories"], serde_json::json!(["hats"]));
    assert_eq!(product["stock"], 4);

    // The edit form carries the version; an older one is a conflict, said plainly.
    let (status, edit) = get(&gateway, &mut jar, &to).await;
    assert_eq!(status, 200);
    assert!(edit.contains("The product is created."), "{edit}");
    assert!(edit.contains("name=\"expected_version\" value=\"1\""), "{edit}");
    let mut stale = product_form("L", "7990.50");
    stale.push(("expected_version", "0".to_owned()));
    let stale: Vec<(&str, &str)> = stale.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let resp = post(&gateway, &mut jar, &format!("/admin/products/{id}"), &stale).await;
    assert_eq!(resp.status(), 409);
    let html = resp.text().await.unwrap();
    assert!(html.contains("Someone else changed this product"), "{html}");

    // Stock cannot go below zero.
    let resp = post(
        &gateway,
        &mut jar,
        &format!("/admin/products/{id}/stock"),
        &[("_csrf", &token), ("delta", "-10")],
    )
    .await;
    assert_eq!(resp.status(), 409);
    let html = resp.text().await.unwrap();
    assert_eq!(
        field_error(&html, "stock-delta"),
        "Stock cannot go below zero: there are 4 units now."
    );
    let resp = post(
        &gateway,
        &mut jar,
        &format!("/admin/products/{id}/stock"),
        &[("_csrf", &token), ("delta", "-3")],
    )
    .await;
    assert_eq!(
        location(&resp),
        format!("/admin/products/{id}?notice=admin-stock-adjusted")
    );

    // The template is in use: deleting it is refused with the reason.
    let resp = post(
        &gateway,
        &mut jar,
        &format!("/admin/templates/{template}/delete"),
        &[("_csrf", &token)],
    )
    .await;
    assert_eq!(resp.status(), 409);
    assert!(resp.text().await.unwrap().contains("Products still use this template"));

    // The list finds it among the low stock.
    let (status, list) = get(&gateway, &mut jar, "/admin/products?low=on&threshold=1").await;
    assert_eq!(status, 200);
    assert!(list.contains("data-sku=\"HAT-001\""), "{list}");
    let (_, list) = get(&gateway, &mut jar, "/admin/products?low=on&threshold=0").await;
    assert!(!list.contains("data-sku=\"HAT-001\""), "{list}");
}

#[tokio::test]
async fn admin_forms_without_their_token_are_refused() {
    let shop = support::spawn_shop().await;
    let gateway = spawn_gateway(shop.config()).await;
    let (mut jar, token, _) = admin(&shop, &gateway).await;
    let resp = post(
        &gateway,
        &mut jar,
        "/admin/categories/new",
        &[("slug", "hats"), ("name", "Hats")],
    )
    .await;
    assert_eq!(resp.status(), 403);
    assert!(resp.text().await.unwrap().contains("This form has expired."));
    let resp = post(
        &gateway,
        &mut jar,
        "/admin/categories/new",
        &[("_csrf", "forged"), ("slug", "hats"), ("name", "Hats")],
    )
    .await;
    assert_eq!(resp.status(), 403);
    let categories: Value = client()
        .get(shop.catalog.url("/categories"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(categories, serde_json::json!([]), "nothing was created");
    // With it, it is.
    let resp = post(
        &gateway,
        &mut jar,
        "/admin/categories/new",
        &[("_csrf", &token), ("slug", "hats"), ("name", "Hats")],
    )
    .await;
    assert_eq!(resp.status(), 303);
}

#[tokio::test]
async fn an_admin_cannot_lock_themself_out_and_sees_users_and_orders() {
    let shop = support::spawn_shop().await;
    let customer = support::register(&shop).await;
    let gateway = spawn_gateway(shop.config()).await;
    let (mut jar, token, email) = admin(&shop, &gateway).await;
    let me = shop_auth::store::user_by_email(&shop.auth_db.pool, &email)
        .await
        .unwrap()
        .unwrap();
    let resp = post(
        &gateway,
        &mut jar,
        &format!("/admin/users/{}", me.id),
        &[
            ("_csrf", &token),
            ("role", "customer"),
            ("is_active", "on"),
            ("plan", "free"),
        ],
    )
    .await;
    assert_eq!(resp.status(), 409);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("You cannot demote or deactivate yourself.")
    );

    // Another user gets a month of premium.
    let (status, list) = get(&gateway, &mut jar, &format!("/admin/users?email={customer}")).await;
    assert_eq!(status, 200);
    assert!(list.contains(&format!("data-email=\"{customer}\"")), "{list}");
    let them = shop_auth::store::user_by_email(&shop.auth_db.pool, &customer)
        .await
        .unwrap()
        .unwrap();
    let resp = post(
        &gateway,
        &mut jar,
        &format!("/admin/users/{}", them.id),
        &[
            ("_csrf", &token),
            ("role", "customer"),
            ("is_active", "on"),
            ("plan", "free"),
            ("extend_premium_days", "30"),
        ],
    )
    .await;
    assert_eq!(resp.status(), 303);
    let (_, page) = get(&gateway, &mut jar, &location(&resp)).await;
    assert!(page.contains("The user is saved."), "{page}");
    assert!(page.contains("<dd id=\"user-plan\">Premium"), "{page}");

    let (status, orders) = get(
        &gateway,
        &mut jar,
        &format!("/admin/orders?user={customer}&status=placed"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(orders.contains("id=\"no-orders\""), "{orders}");
    let (status, orders) = get(&gateway, &mut jar, "/admin/orders?user=nobody@example.com").await;
    assert_eq!(status, 422);
    assert_eq!(
        field_error(&orders, "orders-user"),
        "Customer (email or id): No customer has this email."
    );
}

/// The value of the first `name="…" value="…"` in a page.

#[tokio::test]
async fn the_stats_page_draws_its_charts_as_svg_with_tables() {
    let shop = support::spawn_shop().await;
    let gateway = spawn_gateway(shop.config()).await;
    let (mut jar, _, _) = admin(&shop, &gateway).await;
    support::product(&shop, "Last scarf", 1).await;
    let (status, html) = get(&gateway, &mut jar, "/admin/stats").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("<svg id=\"daily-chart\""), "{html}");
    assert!(
        html.contains("role=\"img\" aria-labelledby=\"daily-chart-title\""),
        "{html}"
    );
    assert_eq!(
        html.matches("<rect class=\"bar\"").count(),
        7,
        "one bar a day, zero high: {html}"
    );
    assert!(html.contains("height=\"0\""), "{html}");
    assert!(html.contains("<table id=\"daily-table\">"), "{html}");
    assert!(html.contains("Last scarf"), "the low-stock list: {html}");
    assert!(html.contains("No sales in this period."), "{html}");
    let (status, html) = get(&gateway, &mut jar, "/admin/stats?from=yesterday").await;
    assert_eq!(status, 422);
    assert!(field_error(&html, "stats-from").contains("Enter a date"), "{html}");
}

#[tokio::test]
async fn sales_show_in_the_charts_and_an_admin_cancels_an_order() {
    let shop = support::spawn_shop().await;
    let socks = support::product(&shop, "Wool socks", 10).await;
    let scarf = support::product(&shop, "Cashmere scarf", 10).await;
    let customer = support::register(&shop).await;
    let gateway = spawn_gateway(shop.config()).await;

    // A customer buys 3 socks and a scarf through the shop's forms.
    let mut buyer = browser_login(&gateway, &customer).await;
    let token = csrf(&gateway, &mut buyer).await;
    for (id, qty) in [(&socks, "3"), (&scarf, "1")] {
        let resp = post(
            &gateway,
            &mut buyer,
            "/cart/add",
            &[("_csrf", &token), ("product_id", id), ("qty", qty)],
        )
        .await;
        assert_eq!(resp.status(), 303);
    }
    let (_, cart) = get(&gateway, &mut buyer, "/cart").await;
    let key = field_value(&cart, "idempotency_key");
    let resp = post(
        &gateway,
        &mut buyer,
        "/checkout",
        &[("_csrf", &token), ("idempotency_key", &key)],
    )
    .await;
    assert!(
        location(&resp).ends_with("?notice=checkout-placed"),
        "{}",
        location(&resp)
    );

    let (mut jar, token, _) = admin(&shop, &gateway).await;
    let (status, html) = get(&gateway, &mut jar, "/admin/stats").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("<dd id=\"stats-orders\">1</dd>"), "{html}");
    assert!(html.contains("<svg id=\"top-quantity-chart\""), "{html}");
    assert!(html.contains("<svg id=\"top-revenue-chart\""), "{html}");
    // Today's column is the tallest (the only sale), a full plot high; the socks lead both lists.
    assert!(html.contains("height=\"150\""), "{html}");
    assert!(html.contains(">Wool socks — 3 units</text>"), "{html}");
    assert!(
        html.contains("width=\"360\""),
        "the best seller's bar is full length: {html}"
    );

    // The order is in the list, with its customer; canceling asks first.
    let (status, list) = get(&gateway, &mut jar, "/admin/orders?status=placed").await;
    assert_eq!(status, 200);
    assert!(list.contains(&customer), "{list}");
    let cancel = list
        .split("<a class=\"cancel\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no cancel link: {list}"))
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    let (status, confirm) = get(&gateway, &mut jar, &cancel).await;
    assert_eq!(status, 200);
    assert!(confirm.contains("Cancel this order?"), "{confirm}");
    let action = cancel.split('?').next().unwrap().to_owned();
    let back = field_value(&confirm, "back");
    assert_eq!(back, "/admin/orders?status=placed");
    let resp = post(&gateway, &mut jar, &action, &[("_csrf", &token), ("back", &back)]).await;
    assert_eq!(
        location(&resp),
        "/admin/orders?status=placed&notice=admin-order-canceled"
    );
    let (_, list) = get(&gateway, &mut jar, &location(&resp)).await;
    assert!(list.contains("The order is canceled"), "{list}");
    assert!(list.contains("id=\"no-orders\""), "no placed order left: {list}");
    let product: Value = client()
        .get(shop.catalog.url(&format!("/products/{socks}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(product["stock"], 10, "the stock went back");
    // Canceling again changes nothing (the order stays canceled).
    let resp = post(&gateway, &mut jar, &action, &[("_csrf", &token), ("back", &back)]).await;
    assert_eq!(resp.status(), 303);
}
