//! The gateway's own pages: their stylesheet, and a page (not JSON) for a browser that asks
//! for an address that does not exist.

#![allow(clippy::unwrap_used)]

use shop_testkit::problem;

use crate::support::{self, browser_login, client, spawn_gateway};

#[tokio::test]
async fn pages_link_a_stylesheet_served_under_its_content_hash() {
    let shop = support::spawn_shop().await;
    let gateway = spawn_gateway(shop.config()).await;
    let home = client()
        .get(gateway.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let href = home
        .split("rel=\"stylesheet\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no stylesheet link: {home}"));
    assert!(href.starts_with("/static/shop.") && href.ends_with(".css"), "{href}");
    let css = client().get(gateway.url(href)).send().await.unwrap();
    assert_eq!(css.status(), 200);
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert_eq!(css.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert!(css.text().await.unwrap().contains("header"));
    let stale = client()
        .get(gateway.url("/static/shop.0000000000.css"))
        .send()
        .await
        .unwrap();
    problem(stale, 404).await;
}

#[tokio::test]
async fn a_browser_gets_a_page_for_an_unknown_address_and_a_client_a_problem() {
    let shop = support::spawn_shop().await;
    let email = support::register(&shop).await;
    let gateway = spawn_gateway(shop.config()).await;
    let jar = browser_login(&gateway, &email).await;
    let resp = client()
        .get(gateway.url("/no-such-page"))
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .header("accept-language", "en-GB,en;q=0.9")
        .header("cookie", jar.header())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = resp.text().await.unwrap();
    assert!(html.contains("There is nothing at this address."), "{html}");
    assert!(html.contains(&email), "the header still shows who is signed in: {html}");
    let resp = client().post(gateway.url("/no-such-page")).send().await.unwrap();
    problem(resp, 404).await;
}

#[tokio::test]
async fn a_home_page_over_the_counting_bound_says_more_than() {
    let shop = support::spawn_shop().await;
    support::product(&shop, "Lonely teapot", 1).await;
    let gateway = spawn_gateway(shop.config()).await;
    let found = |html: &str| {
        let start = html.find("id=\"found\"").expect("the count line");
        html[start..].split('<').next().unwrap_or_default().to_owned()
    };
    let page = |lang: &'static str| {
        let url = gateway.url("/");
        async move {
            client()
                .get(url)
                .header("accept-language", lang)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    assert!(
        found(&page("en").await).contains("1 product"),
        "an exact count as before"
    );
    sqlx::query(
        "INSERT INTO products (id, sku, name, description, price, stock)
         SELECT gen_random_uuid(), 'BULK-' || g, 'Bulk item ' || g, '', 1.00, 1 FROM generate_series(1, 1005) g",
    )
    .execute(&shop.catalog_db.pool)
    .await
    .unwrap();
    // The catalog learns of the insert through NOTIFY; its cached page goes within a second.
    let mut english = String::new();
    for _ in 0..20 {
        english = found(&page("en").await);
        if english.contains("More than") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(english.contains("More than 1000 products"), "{english}");
    assert!(found(&page("ru").await).contains("Больше 1000 товаров"));
}
