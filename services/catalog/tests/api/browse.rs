//! The public side: list with filters, sort and pagination; lookups; search; batch.

use serde_json::{Value, json};

use crate::support::*;

fn skus(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["sku"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn filters_sorts_and_pages() {
    let app = spawn_app().await;
    app.category("books").await;
    app.category("toys").await;
    app.category("garden").await;
    app.product(json!({"sku": "B-1", "name": "Atlas", "price": "30.00", "categories": ["books"]}))
        .await;
    app.product(json!({"sku": "B-2", "name": "Cookbook", "price": "12.50", "stock": 0, "categories": ["books"]}))
        .await;
    app.product(json!({"sku": "T-1", "name": "Kite", "price": "5.00", "categories": ["toys"]}))
        .await;
    app.product(json!({"sku": "T-2", "name": "blocks", "price": "99.99", "categories": ["toys", "books"]}))
        .await;
    app.product(json!({"sku": "G-1", "name": "Rake", "price": "20.00", "categories": ["garden"], "is_active": false}))
        .await;

    let all = json(app.get("/products").await).await;
    assert_eq!(all["total"], 4, "the inactive product is hidden");
    assert_eq!(skus(&all), ["T-2", "T-1", "B-2", "B-1"], "newest first by default");

    assert_eq!(
        skus(&json(app.get("/products?category=books&sort=price_asc").await).await),
        ["B-2", "B-1", "T-2"]
    );
    assert_eq!(
        skus(&json(app.get("/products?category=toys&category=garden&sort=price_desc").await).await),
        ["T-2", "T-1"]
    );
    assert_eq!(
        skus(&json(app.get("/products?category=toys,books&sort=name").await).await),
        ["B-1", "T-2", "B-2", "T-1"]
    );
    assert_eq!(
        skus(&json(app.get("/products?price_min=10&price_max=30&sort=price_asc").await).await),
        ["B-2", "B-1"]
    );
    assert_eq!(
        skus(&json(app.get("/products?in_stock=true&category=books&sort=price_asc").await).await),
        ["B-1", "T-2"]
    );

    // Pages are disjoint and complete, whatever the order, and each, even past the end, says
    // how many match in all (a short last page is not counted again).
    for sort in ["newest", "price_asc", "price_desc", "name", "relevance"] {
        let mut seen = Vec::new();
        for page in 1..=3 {
            let p = json(app.get(&format!("/products?per_page=2&page={page}&sort={sort}")).await).await;
            assert_eq!(p["total"], 4, "{sort}, page {page}");
            seen.extend(skus(&p));
        }
        for (query, total) in [
            ("per_page=3&page=2", 4),
            ("per_page=3&page=1&category=books", 3),
            ("page=1&q=kite", 1),
            ("page=2&q=kite", 1),
            ("page=1&q=nothing", 0),
            ("page=2&q=nothing", 0),
        ] {
            let p = json(app.get(&format!("/products?{query}&sort={sort}")).await).await;
            assert_eq!(p["total"], total, "{sort}: {query}");
        }
        seen.sort();
        assert_eq!(seen, ["B-1", "B-2", "T-1", "T-2"], "{sort}");
    }

    // Admins may ask for inactive ones; nobody else can.
    let with_inactive = json(app.get_as(&app.admin, "/products?include_inactive=true").await).await;
    assert_eq!(with_inactive["total"], 5);
    let customer = json(app.get_as(&app.customer, "/products?include_inactive=true").await).await;
    assert_eq!(customer["total"], 4);
}

#[tokio::test]
async fn lookups_by_id_and_case_insensitive_sku() {
    let app = spawn_app().await;
    let p = app.product(json!({"sku": "Mixed-Case.1", "name": "Lamp"})).await;
    let id = p["id"].as_str().unwrap();
    assert_eq!(json(app.get(&format!("/products/{id}")).await).await["name"], "Lamp");
    assert_eq!(json(app.get("/products/sku/mixed-case.1").await).await["id"], id);
    problem(app.get("/products/sku/nope").await, 404).await;
    problem(app.get("/products/00000000-0000-0000-0000-000000000000").await, 404).await;
    problem(app.get("/products/not-a-uuid").await, 400).await;

    // Deactivated: gone for the public, still there for admins.
    assert_eq!(
        app.send(
            reqwest::Method::DELETE,
            Some(&app.admin),
            &format!("/products/{id}"),
            &json!({})
        )
        .await
        .status(),
        204
    );
    problem(app.get(&format!("/products/{id}")).await, 404).await;
    assert_eq!(
        json(app.get_as(&app.admin, &format!("/products/{id}")).await).await["is_active"],
        false
    );
}

#[tokio::test]
async fn full_text_search_tolerates_case_accents_and_prefixes() {
    let app = spawn_app().await;
    app.category("clothing").await;
    app.product(json!({"sku": "CLO-1", "name": "Crème cashmere scarf", "description": "Featherweight café-au-lait wool", "categories": ["clothing"]})).await;
    app.product(json!({"sku": "CLO-2", "name": "Wool socks", "description": "Warm", "categories": ["clothing"]}))
        .await;
    app.product(json!({"sku": "KIT-9", "name": "Kettle", "description": "Boils water for café"}))
        .await;

    let q = |q: &str| {
        let app = &app;
        let q = q.to_owned();
        async move { skus(&json(app.get(&format!("/products?q={}", urlencode(&q))).await).await) }
    };
    assert_eq!(q("CREME").await, ["CLO-1"]);
    assert_eq!(q("cafe").await.len(), 2, "accents are ignored in the text too");
    assert_eq!(q("cash").await, ["CLO-1"], "prefix match");
    assert_eq!(q("clo-2").await, ["CLO-2"], "SKUs are searchable");
    let mut wool = q("wool").await;
    wool.sort();
    assert_eq!(wool, ["CLO-1", "CLO-2"]);
    assert_eq!(q("wool socks").await, ["CLO-2"], "every word must match");
    assert!(q("nothing-like-this").await.is_empty());
    // Hostile and odd input is just text.
    for nasty in [
        "'; DROP TABLE products; --",
        "%' OR 1=1 --",
        "a:* | !b",
        "(((",
        "\\",
        "кашемир",
        "🧣",
        "&&&",
    ] {
        let r = app.get(&format!("/products?q={}", urlencode(nasty))).await;
        assert_eq!(r.status(), 200, "{nasty}");
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM products")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(count, 3);

    // The relevance order puts the name match above the description match.
    let ranked = json(app.get("/search?query=wool").await).await;
    assert_eq!(ranked["results"][0]["sku"], "CLO-2");
    assert_eq!(ranked["results"][1]["sku"], "CLO-1");
    let scoped = json(app.get("/search?query=cafe&categories=clothing").await).await;
    assert_eq!(scoped["total"], 1);
    let r = app
        .http
        .get(app.url("/search?query=wool"))
        .header("x-request-id", "search-1")
        .send()
        .await
        .unwrap();
    assert_eq!(json(r).await["request_id"], "search-1");
    problem(app.get("/search").await, 422).await;
}

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn categories_are_listed_with_counts() {
    let app = spawn_app().await;
    app.category("a-cat").await;
    app.category("b-cat").await;
    app.product(json!({"categories": ["a-cat"]})).await;
    app.product(json!({"categories": ["a-cat"], "is_active": false})).await;
    let cats = json(app.get("/categories").await).await;
    let a = cats.as_array().unwrap().iter().find(|c| c["slug"] == "a-cat").unwrap();
    assert_eq!(a["product_count"], 1, "active products only");
}

#[tokio::test]
async fn batch_lookup_reports_missing_ids() {
    let app = spawn_app().await;
    let a = app.product(json!({})).await;
    let b = app.product(json!({"is_active": false})).await;
    let ghost = uuid::Uuid::new_v4().to_string();
    let body = json!({"ids": [a["id"], b["id"], ghost]});
    let r = json(app.post_as(&app.customer, "/products/batch", &body).await).await;
    assert_eq!(r["items"].as_array().unwrap().len(), 2);
    assert_eq!(r["missing"], json!([ghost]));
    let inactive = r["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == b["id"])
        .unwrap();
    assert_eq!(inactive["is_active"], false, "callers see what went inactive");
    let too_many: Vec<String> = (0..101).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    problem(
        app.post_as(&app.customer, "/products/batch", &json!({"ids": too_many}))
            .await,
        422,
    )
    .await;
    // The internal route is for services only.
    problem(app.post_as(&app.customer, "/internal/products/batch", &body).await, 403).await;
    assert_eq!(
        app.post_as(&app.service, "/internal/products/batch", &body)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn services_see_what_runs_out() {
    let app = spawn_app().await;
    let zero = app.product(json!({"stock": 0})).await;
    let two = app.product(json!({"stock": 2})).await;
    app.product(json!({"stock": 50})).await;
    app.product(json!({"stock": 1, "is_active": false})).await;
    let low = json(
        app.get_as(&app.service, "/internal/products/low-stock?threshold=3")
            .await,
    )
    .await;
    let ids: Vec<&Value> = low.as_array().unwrap().iter().map(|p| &p["id"]).collect();
    assert_eq!(ids, [&zero["id"], &two["id"]], "active only, lowest first");
    let one = json(
        app.get_as(&app.service, "/internal/products/low-stock?threshold=3&limit=1")
            .await,
    )
    .await;
    assert_eq!(one.as_array().unwrap().len(), 1);
    problem(app.get_as(&app.customer, "/internal/products/low-stock").await, 403).await;
    problem(
        app.get_as(&app.service, "/internal/products/low-stock?limit=1000")
            .await,
        422,
    )
    .await;
}

/// `GET` with `If-None-Match`: the answer's status, `ETag` and body.
async fn conditional_get(app: &TestApp, path: &str, tag: Option<&str>) -> (u16, String, String) {
    let mut req = app.http.get(app.url(path));
    if let Some(tag) = tag {
        req = req.header("if-none-match", tag);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let etag = resp
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, etag, resp.text().await.unwrap())
}

#[tokio::test]
async fn an_unchanged_listing_or_product_is_not_sent_twice() {
    let app = spawn_app().await;
    app.category("hats").await;
    let product = app
        .product(json!({"sku": "H-1", "name": "Bowler", "price": "40.00", "categories": ["hats"]}))
        .await;
    let id = product["id"].as_str().unwrap();
    for path in ["/products?category=hats".to_owned(), format!("/products/{id}")] {
        let (status, tag, body) = conditional_get(&app, &path, None).await;
        assert_eq!(status, 200, "{path}");
        assert!(tag.starts_with("W/\""), "{path}: a weak ETag, got {tag:?}");
        assert!(body.contains("Bowler"));

        // The same page again: 304, the same tag, no body.
        let (status, again, body) = conditional_get(&app, &path, Some(&tag)).await;
        assert_eq!(
            (status, again.as_str(), body.as_str()),
            (304, tag.as_str(), ""),
            "{path}"
        );
        // A list of tags naming it, and `*`, match too; another tag or garbage does not.
        let listed = format!("\"stale\", {tag}");
        assert_eq!(conditional_get(&app, &path, Some(&listed)).await.0, 304);
        assert_eq!(conditional_get(&app, &path, Some("*")).await.0, 304);
        assert_eq!(conditional_get(&app, &path, Some("\"stale\"")).await.0, 200);
        assert_eq!(conditional_get(&app, &path, Some("not a tag")).await.0, 200);
    }

    // A price change is a new page: the old tag no longer matches.
    let (_, before, _) = conditional_get(&app, &format!("/products/{id}"), None).await;
    let changed = app
        .patch_as(&app.admin, &format!("/products/{id}"), &json!({"price": "45.00"}))
        .await;
    assert_eq!(changed.status(), 200);
    let (status, after, body) = conditional_get(&app, &format!("/products/{id}"), Some(&before)).await;
    assert_eq!(status, 200);
    assert_ne!(after, before);
    assert!(body.contains("45.00"), "{body}");
    // Errors carry no tag.
    let (status, tag, _) = conditional_get(&app, "/products/00000000-0000-0000-0000-000000000000", None).await;
    assert_eq!((status, tag.as_str()), (404, ""));
}

#[tokio::test]
async fn a_big_listing_counts_to_a_bound_and_says_so() {
    let app = spawn_app().await;
    app.product(json!({"sku": "ONE-1", "name": "Lonely teapot"})).await;
    sqlx::query(
        "INSERT INTO products (id, sku, name, description, price, stock)
         SELECT gen_random_uuid(), 'BULK-' || g, 'Bulk item ' || g, '', 1.00, 1 FROM generate_series(1, 1005) g",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();
    let bound = shop_api::page::COUNT_BOUND;
    // More matches than the bound: the bound, marked as a lower bound.
    let all = json(app.get("/products").await).await;
    assert_eq!(all["total"], bound, "{}", all["total"]);
    assert_eq!(all["total_exact"], false);
    assert_eq!(all["items"].as_array().unwrap().len(), 20);
    let found = json(app.get("/search?query=bulk").await).await;
    assert_eq!(
        (found["total"].as_i64(), found["total_exact"].as_bool()),
        (Some(bound), Some(false))
    );
    // Fewer: the exact count, and no marker (as every other list).
    let one = json(app.get("/products?q=teapot").await).await;
    assert_eq!(one["total"], 1);
    assert!(one.get("total_exact").is_none(), "{one}");
    // Pages past the bound are still served.
    let deep = json(app.get("/products?page=51&per_page=20").await).await;
    assert_eq!(
        deep["items"].as_array().unwrap().len(),
        6,
        "1006 products: page 51 holds the last 6"
    );
}

/// Every id of a listing, following `next` cursors from the first page.
async fn by_cursor(app: &TestApp, query: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut path = format!("/products?{query}");
    for _ in 0..50 {
        let page = json(app.get(&path).await).await;
        ids.extend(skus(&page));
        match page["next"].as_str() {
            Some(next) => path = format!("/products?{query}&after={next}"),
            None => return ids,
        }
    }
    panic!("the cursors never ended: {ids:?}");
}

/// Every id of a listing, page by page.
async fn by_offset(app: &TestApp, query: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for page in 1..50 {
        let got = skus(&json(app.get(&format!("/products?{query}&page={page}")).await).await);
        if got.is_empty() {
            return ids;
        }
        ids.extend(got);
    }
    panic!("too many pages");
}

#[tokio::test]
async fn cursors_walk_every_order_like_pages_do() {
    let app = spawn_app().await;
    app.category("mugs").await;
    for (sku, name, price) in [
        ("M-1", "blue mug", "5.00"),
        ("M-2", "Azure mug", "5.00"),
        ("M-3", "cup", "7.50"),
        ("M-4", "Beaker", "5.00"),
        ("M-5", "amber mug", "12.00"),
        ("M-6", "Cobalt mug", "7.50"),
        ("M-7", "beaker", "1.00"),
    ] {
        app.product(json!({"sku": sku, "name": name, "price": price, "categories": ["mugs"]}))
            .await;
    }
    for sort in ["newest", "relevance", "price_asc", "price_desc", "name"] {
        let query = format!("category=mugs&per_page=2&sort={sort}");
        let paged = by_offset(&app, &query).await;
        assert_eq!(paged.len(), 7, "{sort}");
        assert_eq!(by_cursor(&app, &query).await, paged, "{sort}: cursors and pages agree");
    }
    // The last page has no cursor; a text query's relevance order pages by page only.
    let last = json(app.get("/products?category=mugs&per_page=7").await).await;
    assert!(last.get("next").is_none(), "{last}");
    let ranked = json(app.get("/products?q=mug&per_page=1").await).await;
    assert!(ranked.get("next").is_none(), "{ranked}");

    // What a clumsy or hostile client sends as a cursor.
    let first = json(app.get("/products?category=mugs&per_page=2&sort=price_asc").await).await;
    let cursor = first["next"].as_str().unwrap().to_owned();
    let forged = |wire: serde_json::Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(wire.to_string())
    };
    for bad in [
        "not-a-cursor".to_owned(),
        "x".repeat(600),
        forged(json!({"k": "price_asc", "v": "cheap", "id": uuid::Uuid::nil()})),
        forged(json!({"k": "name", "v": "nul\u{0}name", "id": uuid::Uuid::nil()})),
        forged(json!({"k": "colour", "v": "red", "id": uuid::Uuid::nil()})),
        format!("{cursor}&sort=name"),
        format!("{cursor}&page=2&sort=price_asc"),
        format!("{cursor}&q=mug"),
    ] {
        let p = problem(app.get(&format!("/products?after={bad}")).await, 422).await;
        assert_eq!(pointers(&p), ["after"], "{bad}: {p}");
    }
}
