//! The journeys of the shop's people through its pages, in a real browser: a shopper from
//! registering to a canceled order, two shoppers racing for the last unit, an admin from a
//! template to the figures, a customer at the doors they may not pass (and a shop whose
//! catalog is down), a Russian shopper switching to English. Every step is screenshotted at
//! desktop and phone widths and checked with axe.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use serde_json::{Value, json};

use crate::harness::{Browser, DESKTOP, PHONE, WAIT};
use crate::support::{self, PASSWORD, Shop, spawn_gateway};

/// What only a signed-in user's header has: the log-out form.
const SIGNED_IN: &str = "header form[action='/logout']";

/// The catalog's answer to `method path` with `token` and the JSON `body`; an error unless 2xx.
async fn catalog(shop: &Shop, method: reqwest::Method, path: &str, token: &str, body: Option<Value>) -> Result<Value> {
    let mut request = support::client()
        .request(method.clone(), shop.catalog.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let resp = request.send().await.with_context(|| format!("{method} {path}"))?;
    let status = resp.status();
    let body: Value = resp
        .json()
        .await
        .with_context(|| format!("{method} {path}: the body"))?;
    ensure!(status.is_success(), "{method} {path}: {status} {body}");
    Ok(body)
}

/// An admin's token for the catalog API.
fn admin_token(shop: &Shop) -> String {
    shop.token(&uuid::Uuid::new_v4().to_string(), "admin", "free")
}

/// Creates the category `slug` at the catalog.
async fn category(shop: &Shop, token: &str, slug: &str, name: &str) -> Result<()> {
    catalog(
        shop,
        reqwest::Method::POST,
        "/categories",
        token,
        Some(json!({"slug": slug, "name": name})),
    )
    .await
    .map(drop)
}

/// Creates an active product at 1500.00 with `stock` in `categories`; returns its id.
async fn product_in(shop: &Shop, token: &str, name: &str, stock: i64, categories: &[&str]) -> Result<String> {
    let sku = format!("SKU-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let body = catalog(
        shop,
        reqwest::Method::POST,
        "/products",
        token,
        Some(json!({"sku": sku, "name": name, "price": "1500.00", "stock": stock, "categories": categories})),
    )
    .await?;
    body["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("no id in {body}"))
}

/// The catalog's stock of product `id`, as anyone reads it.
async fn stock_at_catalog(shop: &Shop, id: &str) -> Result<i64> {
    let body: Value = support::client()
        .get(shop.catalog.url(&format!("/products/{id}")))
        .send()
        .await?
        .json()
        .await?;
    body["stock"].as_i64().ok_or_else(|| anyhow!("no stock in {body}"))
}

/// Signs in through the login form; lands on the home page.
async fn log_in(browser: &Browser, email: &str) -> Result<()> {
    browser.goto("/login").await?;
    browser.fill("#login-email", email).await?;
    browser.fill("#login-password", PASSWORD).await?;
    browser.submit("form#login").await?;
    browser.wait_for_path("/").await?;
    ensure!(browser.exists(SIGNED_IN).await?, "signed in as {email}");
    Ok(())
}

/// Opens product `id`, asks for `qty` and adds it to the cart; lands on the cart.
async fn add_to_cart(browser: &Browser, id: &str, qty: u32) -> Result<()> {
    browser.goto(&format!("/products/{id}")).await?;
    add_this_to_cart(browser, qty).await
}

/// Adds `qty` of the product whose page is open to the cart; lands on the cart.
async fn add_this_to_cart(browser: &Browser, qty: u32) -> Result<()> {
    browser.fill("#add-to-cart input[name=qty]", &qty.to_string()).await?;
    browser.submit("#add-to-cart").await?;
    browser.wait_for_path("/cart").await?;
    ensure!(
        browser.exists(".notice").await?,
        "the cart says what happened: {}",
        browser.text("main").await?
    );
    Ok(())
}

/// The names of the products in the grid, in order.
async fn grid_names(browser: &Browser) -> Result<Vec<String>> {
    let names = browser
        .execute(
            "return [...document.querySelectorAll('#products li.product .name')].map((el) => el.textContent.trim());",
            vec![],
        )
        .await?;
    Ok(serde_json::from_value(names)?)
}

/// A page's text with its non-breaking and narrow spaces made plain (prices use them).
fn plain(text: &str) -> String {
    text.replace(['\u{a0}', '\u{202f}'], " ")
}

/// The message shown for the field `field_css`: the `.field-error` that the field names in its
/// `aria-describedby`, shown right under it (same container, within 150 px); the field is
/// marked `aria-invalid`.
async fn field_error(browser: &Browser, field_css: &str) -> Result<String> {
    let found = browser
        .execute(
            "const field = document.querySelector(arguments[0]);
             if (!field) return { missing: 'field' };
             const ids = (field.getAttribute('aria-describedby') || '').split(/\\s+/).filter(Boolean);
             const error = ids.map((id) => document.getElementById(id))
                 .find((el) => el && el.classList.contains('field-error'));
             if (!error) return { missing: 'error', describedby: ids };
             const [f, e] = [field.getBoundingClientRect(), error.getBoundingClientRect()];
             return {
                 text: error.innerText.trim(),
                 invalid: field.getAttribute('aria-invalid'),
                 sameParent: error.parentElement === field.parentElement,
                 gap: e.top - f.bottom,
                 visible: e.width > 0 && e.height > 0,
             };",
            vec![field_css.into()],
        )
        .await?;
    if let Some(missing) = found["missing"].as_str() {
        bail!(
            "no {missing} for `{field_css}` on {} ({found})",
            browser.current_url().await?
        );
    }
    ensure!(found["invalid"] == "true", "`{field_css}` is marked invalid: {found}");
    ensure!(found["visible"] == true, "the message for `{field_css}` shows: {found}");
    let gap = found["gap"].as_f64().unwrap_or(f64::MAX);
    ensure!(
        found["sameParent"] == true && (0.0..150.0).contains(&gap),
        "the message for `{field_css}` is right under it: {found}"
    );
    Ok(found["text"].as_str().unwrap_or_default().to_owned())
}

/// The status of the order whose page is open, once it is known: a pending order's page is
/// reloaded until the order service has decided (within [`WAIT`]).
async fn order_outcome(browser: &Browser) -> Result<String> {
    let deadline = Instant::now() + WAIT;
    loop {
        browser.wait_for("#order-status[data-status]").await?;
        let status = browser.attr("#order-status", "data-status").await?.unwrap_or_default();
        if status != "pending" {
            return Ok(status);
        }
        if Instant::now() > deadline {
            bail!("the order is still pending after {WAIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        browser.client().refresh().await?;
    }
}

/// The `data-stock` of product `id`'s page, reloaded until it is `want` (within [`WAIT`]:
/// a release may land just after the page that announced it).
async fn wait_for_stock_on_page(browser: &Browser, id: &str, want: i64) -> Result<()> {
    let deadline = Instant::now() + WAIT;
    loop {
        browser.goto(&format!("/products/{id}")).await?;
        let shown = browser.attr("#stock", "data-stock").await?.unwrap_or_default();
        if shown == want.to_string() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("product {id} shows stock {shown}, not {want}, after {WAIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether a person can see and press the element matching `css` in the viewport as it is: it
/// is shown and enabled, it fits the viewport's width once scrolled to, and nothing covers its
/// middle. Also that the page does not scroll sideways.
async fn ensure_pressable(browser: &Browser, css: &str) -> Result<()> {
    let element = browser.find(css).await?;
    ensure!(element.is_displayed().await?, "`{css}` is shown");
    ensure!(element.is_enabled().await?, "`{css}` is enabled");
    let seen = browser
        .execute(
            "const el = document.querySelector(arguments[0]);
             el.scrollIntoView({ block: 'center', inline: 'nearest' });
             const r = el.getBoundingClientRect();
             const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
             return {
                 left: r.left, right: r.right, width: r.width, height: r.height,
                 viewport: window.innerWidth,
                 pageWidth: document.documentElement.scrollWidth,
                 onTop: !!top && (top === el || el.contains(top)),
             };",
            vec![css.into()],
        )
        .await?;
    let number = |name: &str| seen[name].as_f64().unwrap_or(f64::NAN);
    ensure!(
        number("width") >= 24.0 && number("height") >= 24.0,
        "`{css}` is big enough to press: {seen}"
    );
    ensure!(
        number("left") >= 0.0 && number("right") <= number("viewport"),
        "`{css}` fits the width: {seen}"
    );
    ensure!(seen["onTop"] == true, "nothing covers `{css}`: {seen}");
    ensure!(
        number("pageWidth") <= number("viewport"),
        "the page does not scroll sideways: {seen}"
    );
    Ok(())
}

/// The browser's cookies for the site, as a `Cookie` header.
async fn cookie_header(browser: &Browser) -> Result<String> {
    let cookies = browser.client().get_all_cookies().await?;
    Ok(cookies
        .iter()
        .map(|c| format!("{}={}", c.name(), c.value()))
        .collect::<Vec<_>>()
        .join("; "))
}

/// 1. A shopper registers (after a refused password), searches, filters by category, opens a
/// product, adds two products, changes a quantity at phone width, checks out, cancels the
/// order after the confirmation, and finds the stock as it was.
#[tokio::test]
async fn a_shopper_registers_buys_and_cancels() -> Result<()> {
    let shop = support::spawn_shop().await;
    let admin = admin_token(&shop);
    category(&shop, &admin, "tea", "Tea").await?;
    category(&shop, &admin, "cups", "Cups").await?;
    let green = product_in(&shop, &admin, "Green tea", 10, &["tea"]).await?;
    product_in(&shop, &admin, "Black tea", 10, &["tea"]).await?;
    let cup = product_in(&shop, &admin, "Tea cup", 10, &["cups"]).await?;
    product_in(&shop, &admin, "Coffee mug", 10, &["cups"]).await?;
    product_in(&shop, &admin, "Wool socks", 10, &[]).await?;
    let gateway = spawn_gateway(shop.config()).await;
    let browser = Browser::open(&gateway.url(""), "shopper").await?;
    let email = format!("ann.{}@example.com", &uuid::Uuid::new_v4().simple().to_string()[..8]);

    // Registering: a password auth refuses is explained next to the password field.
    browser.goto("/").await?;
    browser.click("#nav-register").await?;
    browser.wait_for_path("/register").await?;
    browser.step("register").await?;
    browser.fill("#register-email", &email).await?;
    browser.fill("#register-password", "short").await?;
    browser.fill("#register-name", "Ann").await?;
    browser.submit("form#register").await?;
    let message = field_error(&browser, "#register-password").await?;
    ensure!(
        message.contains("at least 8 characters"),
        "the rule is explained: {message:?}"
    );
    ensure!(
        browser.attr("#register-email", "value").await?.as_deref() == Some(email.as_str()),
        "the email typed stays"
    );
    ensure!(!browser.exists(SIGNED_IN).await?, "nobody is signed in yet");
    browser.step("password-refused").await?;
    browser.fill("#register-password", "violet-tiger-42").await?;
    browser.submit("form#register").await?;
    browser.wait_for_path("/").await?;
    ensure!(browser.exists(SIGNED_IN).await?, "registered, the shopper is signed in");
    ensure!(
        browser.attr("#nav-profile", "title").await?.as_deref() == Some(email.as_str()),
        "the header names {email}"
    );
    browser.step("registered").await?;

    // Search, then a category on top of it (the select submits the form by itself).
    browser.fill("#filters input[name=q]", "tea").await?;
    browser.submit("#filters").await?;
    let found: BTreeSet<String> = grid_names(&browser).await?.into_iter().collect();
    let want: BTreeSet<String> = ["Black tea", "Green tea", "Tea cup"].map(String::from).into();
    ensure!(found == want, "searching `tea` finds {found:?}");
    browser.step("searched").await?;
    browser.choose("#filters select[name=category]", "cups").await?;
    let url = browser.current_url().await?;
    ensure!(
        url.query_pairs().any(|(k, v)| k == "category" && v == "cups")
            && url.query_pairs().any(|(k, v)| k == "q" && v == "tea"),
        "the category joins the search: {url}"
    );
    ensure!(
        grid_names(&browser).await? == ["Tea cup"],
        "only the cup is a tea thing among the cups: {:?}",
        grid_names(&browser).await?
    );
    browser.step("filtered").await?;

    // The product page, then two products into the cart.
    browser.click("#products li.product a.product-link").await?;
    browser.wait_for_path(&format!("/products/{cup}")).await?;
    ensure!(browser.text("h1").await? == "Tea cup", "the cup's page");
    ensure!(
        browser.attr("#stock", "data-stock").await?.as_deref() == Some("10"),
        "10 cups in stock"
    );
    browser.step("product").await?;
    add_this_to_cart(&browser, 2).await?;
    add_to_cart(&browser, &green, 1).await?;
    ensure!(
        browser
            .exists(&format!("table.cart tr.line[data-product-id='{cup}']"))
            .await?
            && browser
                .exists(&format!("table.cart tr.line[data-product-id='{green}']"))
                .await?,
        "both products are in the cart"
    );
    ensure!(
        plain(&browser.text("#cart-total").await?) == "4.500,00 ₸",
        "2 cups and 1 tea: {}",
        browser.text("#cart-total").await?
    );
    browser.step("cart").await?;

    // At phone width: a quantity changed, and checking out is in reach.
    browser.set_viewport(PHONE).await?;
    let tea_line = format!("table.cart tr.line[data-product-id='{green}']");
    browser.fill(&format!("#qty-{green}"), "3").await?;
    browser.submit(&format!("{tea_line} .qty-form")).await?;
    browser.wait_for_path("/cart").await?;
    ensure!(
        browser.attr(&format!("#qty-{green}"), "value").await?.as_deref() == Some("3"),
        "three teas now"
    );
    ensure!(
        plain(&browser.text(&format!("{tea_line} .line-total")).await?) == "4.500,00 ₸",
        "the tea line: {}",
        browser.text(&format!("{tea_line} .line-total")).await?
    );
    ensure!(
        plain(&browser.text("#cart-total").await?) == "7.500,00 ₸",
        "2 cups and 3 teas: {}",
        browser.text("#cart-total").await?
    );
    browser.step("quantity-changed").await?;
    browser.set_viewport(PHONE).await?;
    ensure_pressable(&browser, "#checkout button[type=submit]").await?;
    browser.submit("#checkout").await?;
    browser.set_viewport(DESKTOP).await?;

    // The order, placed; then canceled after the confirmation.
    ensure!(
        browser.current_path().await?.starts_with("/orders/"),
        "checked out, the order's page: {}",
        browser.current_url().await?
    );
    ensure!(order_outcome(&browser).await? == "placed", "the order is placed");
    ensure!(
        plain(&browser.text("#order-total").await?) == "7.500,00 ₸",
        "the order's total"
    );
    ensure!(
        (
            stock_at_catalog(&shop, &cup).await?,
            stock_at_catalog(&shop, &green).await?
        ) == (8, 7),
        "the order holds its units"
    );
    browser.step("order-placed").await?;
    let order_path = browser.current_path().await?;
    browser.click("#cancel").await?;
    browser.wait_for("#confirm-cancel").await?;
    ensure!(
        browser.current_path().await? == format!("{order_path}/cancel"),
        "the confirmation page"
    );
    ensure!(
        browser.attr("#order-status", "data-status").await?.as_deref() == Some("placed"),
        "not canceled before the confirmation"
    );
    browser.step("confirm-cancel").await?;
    browser.submit("#confirm-cancel").await?;
    browser.wait_for_path(&order_path).await?;
    ensure!(order_outcome(&browser).await? == "canceled", "the order is canceled");
    ensure!(!browser.exists("#cancel").await?, "nothing more to cancel");
    browser.step("order-canceled").await?;

    // The units are back on sale.
    wait_for_stock_on_page(&browser, &green, 10).await?;
    wait_for_stock_on_page(&browser, &cup, 10).await?;
    browser.step("stock-restored").await?;

    // The rest of the shopper's own pages: the orders list, the emptied cart, the profile.
    browser.goto("/orders").await?;
    ensure!(
        browser.attr("tr.order", "data-status").await?.as_deref() == Some("canceled"),
        "the list shows the canceled order"
    );
    browser.step("orders").await?;
    browser.goto("/cart").await?;
    browser.wait_for("#cart-empty").await?;
    browser.step("cart-empty").await?;
    browser.goto("/profile").await?;
    ensure!(
        browser.text("#plan").await?.starts_with("Free"),
        "a new account is on the free plan"
    );
    browser.step("profile").await?;
    browser.close().await
}

/// 2. Two shoppers have the last lantern in their carts and check out at once: one order is
/// placed, the other is rejected naming the lantern, and the stock ends at zero.
#[tokio::test]
async fn two_shoppers_race_for_the_last_unit() -> Result<()> {
    let shop = support::spawn_shop().await;
    let lantern = support::product(&shop, "Paper lantern", 1).await;
    let (ann, bob) = (support::register(&shop).await, support::register(&shop).await);
    let gateway = spawn_gateway(shop.config()).await;
    let a = Browser::open(&gateway.url(""), "race-ann").await?;
    let b = Browser::open(&gateway.url(""), "race-bob").await?;

    for (browser, email) in [(&a, &ann), (&b, &bob)] {
        log_in(browser, email).await?;
        add_to_cart(browser, &lantern, 1).await?;
        ensure!(
            browser.exists("#checkout button[type=submit]:not([disabled])").await?,
            "{email} may check out"
        );
        browser.step("cart").await?;
    }

    let (placed_a, placed_b) = tokio::join!(a.submit("#checkout"), b.submit("#checkout"));
    placed_a?;
    placed_b?;
    let outcomes = [order_outcome(&a).await?, order_outcome(&b).await?];
    let mut sorted = outcomes.clone();
    sorted.sort();
    ensure!(
        sorted == ["placed", "rejected"],
        "one order placed, one rejected: {outcomes:?}"
    );
    let (winner, loser) = if outcomes[0] == "placed" { (&a, &b) } else { (&b, &a) };
    ensure!(
        !winner.exists("#checkout-rejected").await?,
        "the winner's order is fine"
    );
    winner.step("order").await?;
    loser.wait_for("#checkout-rejected").await?;
    let shortfall = loser.text("#checkout-rejected .shortfall").await?;
    ensure!(
        shortfall.contains("Paper lantern") && shortfall.contains("0 available"),
        "the rejection names the lantern as out of stock: {shortfall:?}"
    );
    ensure!(!loser.exists("#cancel").await?, "nothing to cancel");
    loser.step("order").await?;

    // Each shopper's list holds their one order: one placed between them.
    let mut statuses = Vec::new();
    for browser in [&a, &b] {
        browser.goto("/orders").await?;
        let listed = browser
            .execute(
                "return [...document.querySelectorAll('table.orders tr.order')].map((tr) => tr.dataset.status);",
                vec![],
            )
            .await?;
        let listed: Vec<String> = serde_json::from_value(listed)?;
        ensure!(listed.len() == 1, "one order each: {listed:?}");
        statuses.extend(listed);
    }
    statuses.sort();
    ensure!(statuses == ["placed", "rejected"], "the lists agree: {statuses:?}");

    ensure!(
        stock_at_catalog(&shop, &lantern).await? == 0,
        "the catalog has none left, and not fewer"
    );
    loser.goto(&format!("/products/{lantern}")).await?;
    ensure!(
        loser.attr("#stock", "data-stock").await?.as_deref() == Some("0") && !loser.exists("#add-to-cart").await?,
        "the lantern's page says it is gone"
    );
    loser.step("sold-out").await?;
    a.close().await?;
    b.close().await
}

/// The JSON Schema of the admin's template: a size from a list, a warranty in months.
const HAT_SCHEMA: &str = r#"{"type": "object", "properties": {"size": {"type": "string", "title": "Size", "enum": ["S", "M", "L"]}, "warranty": {"type": "integer", "title": "Warranty", "minimum": 0, "x-unit": "months"}}, "required": ["size"], "additionalProperties": false}"#;

/// 3. An admin signs in, writes a template, creates a product from it (a refused attribute
/// first, explained at its field), finds it in the shop, buys one, and reads the figures.
#[tokio::test]
async fn an_admin_creates_a_template_and_a_product_and_reads_the_figures() -> Result<()> {
    let shop = support::spawn_shop().await;
    let email = support::register(&shop).await;
    shop_auth::store::seed_admin(&shop.auth_db.pool, &email, None).await?;
    let gateway = spawn_gateway(shop.config()).await;
    let browser = Browser::open(&gateway.url(""), "admin").await?;

    log_in(&browser, &email).await?;
    browser.click("#nav-admin").await?;
    browser.wait_for_path("/admin").await?;
    browser.step("admin-home").await?;

    // The template.
    browser.goto("/admin/templates/new").await?;
    browser.fill("#template-name", "Hats").await?;
    browser.fill("#template-description", "Head wear").await?;
    browser.fill("#template-schema", HAT_SCHEMA).await?;
    browser.step("template-form").await?;
    browser.submit("#template-form").await?;
    let path = browser.current_path().await?;
    ensure!(
        path.starts_with("/admin/templates/") && path != "/admin/templates/new",
        "created, the template's page: {path}"
    );
    ensure!(
        browser.text(".notice").await? == "The template is created.",
        "the notice"
    );
    let fields = browser.text("#template-fields").await?;
    ensure!(
        fields.contains("Size") && fields.contains("Warranty (months)"),
        "the preview lists the fields: {fields:?}"
    );
    browser.step("template-created").await?;

    // A product from it: a warranty below the minimum is refused at its field.
    browser.click("a[href^='/admin/products/new?template=']").await?;
    browser.wait_for("select[name='attr.size']").await?;
    browser.fill("#product-sku", "HAT-001").await?;
    browser.fill("#product-name", "Wool beanie").await?;
    browser.fill("#product-price", "7 990,50").await?;
    browser.fill("#product-stock", "4").await?;
    if !browser.find("#product-active").await?.is_selected().await? {
        browser.click("#product-active").await?;
    }
    browser
        .find("select[name='attr.size']")
        .await?
        .select_by_value("M")
        .await?;
    browser.fill("input[name='attr.warranty']", "-3").await?;
    browser.step("product-form").await?;
    browser.submit("#product-form").await?;
    ensure!(
        browser.current_path().await? == "/admin/products/new",
        "refused, the form comes back"
    );
    let message = field_error(&browser, "input[name='attr.warranty']").await?;
    ensure!(message.contains("minimum"), "the catalog's reason: {message:?}");
    ensure!(browser.exists("#form-error").await?, "the top of the form says so too");
    ensure!(
        browser.attr("#product-name", "value").await?.as_deref() == Some("Wool beanie"),
        "what was typed stays"
    );
    browser.step("attribute-refused").await?;
    browser.fill("input[name='attr.warranty']", "12").await?;
    browser.submit("#product-form").await?;
    let path = browser.current_path().await?;
    let id = path
        .strip_prefix("/admin/products/")
        .filter(|id| uuid::Uuid::parse_str(id).is_ok())
        .ok_or_else(|| anyhow!("created, the product's page, not {path}"))?
        .to_owned();
    ensure!(
        browser.text(".notice").await? == "The product is created.",
        "the notice"
    );
    browser.step("product-created").await?;

    // In the shop, with its attributes; the admin buys two.
    browser.goto("/").await?;
    ensure!(
        grid_names(&browser).await?.contains(&"Wool beanie".to_owned()),
        "the beanie is on the home page"
    );
    browser.step("home-with-product").await?;
    browser
        .click(&format!("#products a.product-link[href='/products/{id}']"))
        .await?;
    browser.wait_for_path(&format!("/products/{id}")).await?;
    let attributes = browser.text("dl.attributes").await?;
    ensure!(
        attributes.contains("Size") && attributes.contains("12 months"),
        "the attributes with labels and units: {attributes:?}"
    );
    ensure!(
        plain(&browser.text("#price").await?) == "7.990,50 ₸",
        "the price as typed"
    );
    browser.step("product-page").await?;
    add_this_to_cart(&browser, 2).await?;
    browser.submit("#checkout").await?;
    ensure!(
        order_outcome(&browser).await? == "placed",
        "the admin's order is placed"
    );

    // The figures, drawn.
    browser.goto("/admin/stats").await?;
    let charts = browser
        .execute("return document.querySelectorAll('svg[role=img]').length;", vec![])
        .await?;
    ensure!(
        charts.as_u64().unwrap_or_default() >= 3,
        "the daily chart and both best-seller charts: {charts}"
    );
    ensure!(browser.text("#stats-orders").await? == "1", "one order");
    ensure!(
        plain(&browser.text("#stats-revenue").await?) == "15.981,00 ₸",
        "the revenue: {}",
        browser.text("#stats-revenue").await?
    );
    ensure!(
        browser.text("#top-quantity-table").await?.contains("Wool beanie"),
        "the best seller"
    );
    // At phone width the best-seller tables fit without a sideways scroll.
    browser.set_viewport(PHONE).await?;
    for table in ["#top-quantity-table", "#top-revenue-table"] {
        let fits = browser
            .execute(
                "const t = document.querySelector(arguments[0]);
                 return t.getBoundingClientRect().right <= window.innerWidth;",
                vec![table.into()],
            )
            .await?;
        ensure!(fits == true, "`{table}` fits a phone's width");
    }
    browser.set_viewport(DESKTOP).await?;
    browser.step("stats").await?;
    browser.close().await
}

/// 4. A customer sees no admin link and is refused the admin's pages (403); a form without its
/// CSRF token is refused as expired; with the catalog down, the home page says so.
#[tokio::test]
async fn a_customer_meets_the_closed_doors_and_a_catalog_that_is_down() -> Result<()> {
    let mut shop = support::spawn_shop().await;
    let scarf = support::product(&shop, "Silk scarf", 3).await;
    let email = support::register(&shop).await;
    let gateway = spawn_gateway(shop.config()).await;
    let browser = Browser::open(&gateway.url(""), "closed-doors").await?;

    log_in(&browser, &email).await?;
    ensure!(!browser.exists("#nav-admin").await?, "no admin link for a customer");
    browser.step("customer-home").await?;

    browser.goto("/admin").await?;
    ensure!(
        browser.text("h1").await? == "You do not have access to this page.",
        "the 403 page: {}",
        browser.text("main").await?
    );
    ensure!(!browser.exists(".admin-nav").await?, "nothing of the admin shows");
    browser.step("admin-refused").await?;
    let resp = support::client()
        .get(gateway.url("/admin"))
        .header("cookie", cookie_header(&browser).await?)
        .header("accept-language", "en")
        .send()
        .await?;
    ensure!(resp.status() == 403, "GET /admin as the customer: {}", resp.status());
    ensure!(
        resp.text().await?.contains("You do not have access to this page."),
        "the same page"
    );

    // The add-to-cart form without its token.
    browser.goto(&format!("/products/{scarf}")).await?;
    browser
        .execute(
            "document.querySelector('#add-to-cart input[name=_csrf]').remove();",
            vec![],
        )
        .await?;
    ensure!(
        !browser.exists("#add-to-cart input[name=_csrf]").await?,
        "the token is gone"
    );
    browser.submit("#add-to-cart").await?;
    let page = browser.text("main").await?;
    ensure!(
        page.contains("This form has expired."),
        "the refusal says the form expired: {page:?}"
    );
    ensure!(page.contains("403"), "and that it is a 403: {page:?}");
    browser.step("form-expired").await?;
    browser.goto("/cart").await?;
    ensure!(browser.exists("#cart-empty").await?, "nothing was added");

    // The catalog stops.
    support::stop(&mut shop.catalog).await;
    browser.goto("/").await?;
    browser.wait_for("#catalog-unavailable").await?;
    ensure!(!browser.exists("#products").await?, "no grid");
    ensure!(browser.exists(SIGNED_IN).await?, "the rest of the page works");
    browser.step("catalog-unavailable").await?;
    browser.close().await
}

/// 5. A shopper whose browser asks for Russian gets the shop in Russian, switches to English,
/// and the next page stays English.
#[tokio::test]
async fn a_russian_shopper_switches_to_english_and_it_is_remembered() -> Result<()> {
    let shop = support::spawn_shop().await;
    support::product(&shop, "Samovar", 2).await;
    let gateway = spawn_gateway(shop.config()).await;
    let browser = Browser::open_in(&gateway.url(""), "language-switch", "ru-RU").await?;

    browser.goto("/").await?;
    ensure!(browser.exists("html[lang=ru]").await?, "a Russian page");
    let title = browser.client().title().await?;
    ensure!(title.starts_with("Товары"), "a Russian title: {title:?}");
    ensure!(browser.text("h1").await? == "Товары", "a Russian heading");
    ensure!(browser.text("#nav-login").await? == "Войти", "a Russian header");
    browser.step("russian-home").await?;

    browser.click(".langs a[hreflang=en]").await?;
    browser.wait_for("html[lang=en]").await?;
    ensure!(browser.current_path().await? == "/", "back on the same page");
    let title = browser.client().title().await?;
    ensure!(title.starts_with("Products"), "an English title: {title:?}");
    ensure!(
        browser.exists(".langs .lang-current[lang=en]").await?,
        "the switcher shows English as chosen"
    );
    browser.step("english-home").await?;

    // The browser still asks for Russian; the choice wins on the next page.
    browser.click("#nav-login").await?;
    browser.wait_for_path("/login").await?;
    ensure!(browser.exists("html[lang=en]").await?, "still English");
    ensure!(browser.text("h1").await? == "Log in", "an English page");
    let lang = browser.client().get_named_cookie("sk_lang").await?;
    ensure!(lang.value() == "en", "remembered in the cookie: {lang:?}");
    browser.step("english-next-page").await?;
    browser.close().await
}
