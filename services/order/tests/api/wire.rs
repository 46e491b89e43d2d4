//! Callers (the gateway, the UI) read the order service's answers as `shop-api` types.

use shop_api::{Order, OrderStatus, Page, Stats};

use crate::support::*;

async fn read<T: serde::de::DeserializeOwned>(resp: reqwest::Response, status: u16) -> T {
    serde_json::from_value(expect(resp, status).await).unwrap()
}

#[tokio::test]
async fn orders_pages_and_stats_read_as_shop_api_types() {
    let app = spawn_app().await;
    let p = app.product("19.90", 5).await;
    let me = app.shopper();
    app.add_to_cart(&me, p, 2).await;

    let placed: Order = read(app.checkout(&me.token, "wire-1").await, 201).await;
    assert_eq!(placed.status, OrderStatus::Placed);
    assert_eq!((placed.items[0].qty, placed.total.to_string()), (2, "39.80".to_owned()));

    let mine: Page<Order> = read(app.get(&me.token, "/orders?per_page=1").await, 200).await;
    assert_eq!((mine.total, mine.per_page, mine.items[0].id), (1, 1, placed.id));
    let filtered: Page<Order> = read(app.get(&app.admin, "/admin/orders?status=placed").await, 200).await;
    assert!(filtered.items.iter().all(|o| o.status == OrderStatus::Placed));
    problem(app.get(&app.admin, "/admin/orders?status=Placed").await, 422).await;

    let canceled: Order = read(
        app.patch(&me.token, &format!("/orders/{}/cancel", placed.id)).await,
        200,
    )
    .await;
    assert_eq!(canceled.status, OrderStatus::Canceled);
    assert!(canceled.released_at.is_some());

    let stats: Stats = read(app.get(&app.admin, "/admin/stats?low_stock_threshold=10").await, 200).await;
    assert_eq!(stats.orders, 0, "canceled orders do not count");
    assert!(stats.low_stock.unwrap().iter().any(|l| l.id == p && l.stock == 5));
}

#[tokio::test]
async fn the_paging_parameters_are_documented_as_query_parameters() {
    let app = spawn_app().await;
    let doc = expect(app.http.get(app.order.url("/openapi.json")).send().await.unwrap(), 200).await;
    let params = doc["paths"]["/orders"]["get"]["parameters"].as_array().unwrap();
    for name in ["page", "per_page"] {
        let p = params.iter().find(|p| p["name"] == name).unwrap();
        assert_eq!(p["in"], "query", "{p}");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert!(doc["components"]["schemas"]["OrderStatus"].is_object());
}
