//! Callers read the catalog's answers as `shop-api` types and build its requests from them:
//! what the cart, the order service and the gateway do. A field the catalog stops sending, or
//! sends with another type or spelling, fails here.

use serde_json::json;
use shop_api::{
    BatchRequest, BatchResponse, Category, LowStock, Page, Product, Reservation, ReservationStatus, ReserveItem,
    ReserveRequest, SearchResults, Shortfall, ShortfallReason, UpdateProduct,
};
use uuid::Uuid;

use crate::support::*;

async fn read<T: serde::de::DeserializeOwned>(resp: reqwest::Response, status: u16) -> T {
    serde_json::from_value(expect(resp, status).await).unwrap()
}

#[tokio::test]
async fn products_pages_search_batches_and_categories_read_as_shop_api_types() {
    let app = spawn_app().await;
    app.category("wire-things").await;
    let made = app
        .product(json!({"name": "Wire whisk", "price": "12.50", "stock": 7, "categories": ["wire-things"]}))
        .await;
    let id: Uuid = made["id"].as_str().unwrap().parse().unwrap();

    let page: Page<Product> = read(app.get("/products?category=wire-things&per_page=5").await, 200).await;
    assert_eq!((page.page, page.per_page, page.total), (1, 5, 1));
    let p = &page.items[0];
    assert_eq!((p.id, p.stock, p.price.to_string()), (id, 7, "12.50".to_owned()));
    assert_eq!(p.categories, ["wire-things"]);

    let found: SearchResults = read(app.get("/search?query=whisk").await, 200).await;
    assert_eq!(found.results[0].id, id);
    assert_eq!(found.total, 1);

    let unknown = Uuid::now_v7();
    let batch: BatchResponse = read(
        app.post_as(
            &app.service,
            "/internal/products/batch",
            &serde_json::to_value(BatchRequest { ids: vec![id, unknown] }).unwrap(),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(batch.items[0], *p);
    assert_eq!(batch.missing, [unknown]);

    let categories: Vec<Category> = read(app.get("/categories").await, 200).await;
    let c = categories.iter().find(|c| c.slug == "wire-things").unwrap();
    assert_eq!(c.product_count, 1);

    let low: Vec<Product> = read(
        app.get_as(&app.service, "/internal/products/low-stock?threshold=8")
            .await,
        200,
    )
    .await;
    let low: Vec<LowStock> = low.into_iter().map(LowStock::from).collect();
    assert!(low.iter().any(|l| l.id == id && l.stock == 7), "{low:?}");

    // A PATCH built from the type sends only what it sets.
    let change = UpdateProduct {
        name: Some("Balloon whisk".into()),
        ..UpdateProduct::default()
    };
    let changed: Product = read(
        app.patch_as(
            &app.admin,
            &format!("/products/{id}"),
            &serde_json::to_value(&change).unwrap(),
        )
        .await,
        200,
    )
    .await;
    assert_eq!((changed.name.as_str(), changed.price), ("Balloon whisk", p.price));
}

#[tokio::test]
async fn reservations_and_shortfalls_read_as_shop_api_types() {
    let app = spawn_app().await;
    let made = app.product(json!({"stock": 2})).await;
    let product: Uuid = made["id"].as_str().unwrap().parse().unwrap();
    let request = |order_id, qty| {
        serde_json::to_value(ReserveRequest {
            order_id,
            items: vec![ReserveItem {
                product_id: product,
                qty,
            }],
        })
        .unwrap()
    };

    let too_many = problem(
        app.post_as(&app.service, "/internal/reservations", &request(Uuid::now_v7(), 3))
            .await,
        409,
    )
    .await;
    let shortfalls: Vec<Shortfall> = serde_json::from_value(too_many["shortfalls"].clone()).unwrap();
    assert_eq!(shortfalls[0].reason, ShortfallReason::InsufficientStock);
    assert_eq!((shortfalls[0].requested, shortfalls[0].available), (3, 2));

    let order = Uuid::now_v7();
    let held: Reservation = read(
        app.post_as(&app.service, "/internal/reservations", &request(order, 2))
            .await,
        201,
    )
    .await;
    assert_eq!(
        (held.order_id, held.status, held.released_at),
        (order, ReservationStatus::Reserved, None)
    );
    assert_eq!(held.items[0].qty, 2);

    let released: Reservation = read(
        app.post_as(
            &app.service,
            &format!("/internal/reservations/{order}/release"),
            &json!(null),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(released.status, ReservationStatus::Released);
    assert!(released.released_at.is_some());
    let again: Reservation = read(
        app.get_as(&app.service, &format!("/internal/reservations/{order}"))
            .await,
        200,
    )
    .await;
    assert_eq!(again, released);
}
