//! The internal reservation API: all or nothing, idempotent, race-free, for services only.

use serde_json::{Value, json};

use crate::support::*;

fn reserve_body(order: &str, items: &[(&Value, i64)]) -> Value {
    json!({"order_id": order, "items": items.iter().map(|(p, q)| json!({"product_id": p["id"], "qty": q})).collect::<Vec<_>>()})
}

#[tokio::test]
async fn reserve_replay_conflict_release_exactly_once() {
    let app = spawn_app().await;
    let a = app.product(json!({"stock": 5})).await;
    let b = app.product(json!({"stock": 3})).await;
    let order = uuid::Uuid::new_v4().to_string();
    let body = reserve_body(&order, &[(&a, 2), (&b, 1), (&a, 1)]);

    let r = app.post_as(&app.service, "/internal/reservations", &body).await;
    assert_eq!(r.status(), 201);
    let res = json(r).await;
    assert_eq!(res["status"], "reserved");
    assert_eq!(res["reserved_by"], "order");
    assert_eq!(
        res["items"].as_array().unwrap().len(),
        2,
        "lines of one product are merged"
    );
    assert_eq!(app.stock_of(a["id"].as_str().unwrap()).await, 2);
    assert_eq!(app.stock_of(b["id"].as_str().unwrap()).await, 2);

    // The same request again changes nothing.
    let again = app.post_as(&app.service, "/internal/reservations", &body).await;
    assert_eq!(again.status(), 200);
    assert_eq!(app.stock_of(a["id"].as_str().unwrap()).await, 2);
    // The same order id with other items is a conflict.
    let other = reserve_body(&order, &[(&a, 1)]);
    let c = problem(app.post_as(&app.service, "/internal/reservations", &other).await, 409).await;
    assert_eq!(c["type"], "https://shopkeeper.dev/problems/reservation-mismatch");

    let status = json(
        app.get_as(&app.service, &format!("/internal/reservations/{order}"))
            .await,
    )
    .await;
    assert_eq!(status["status"], "reserved");

    // Release gives the stock back once, however often it is called.
    for _ in 0..3 {
        let r = app
            .post_as(
                &app.service,
                &format!("/internal/reservations/{order}/release"),
                &json!({}),
            )
            .await;
        assert_eq!(r.status(), 200);
    }
    assert_eq!(app.stock_of(a["id"].as_str().unwrap()).await, 5);
    assert_eq!(app.stock_of(b["id"].as_str().unwrap()).await, 3);
    let status = json(
        app.get_as(&app.service, &format!("/internal/reservations/{order}"))
            .await,
    )
    .await;
    assert_eq!(status["status"], "released");
    assert!(status["released_at"].is_string());
    // Replaying the original reservation after release still changes nothing.
    assert_eq!(
        app.post_as(&app.service, "/internal/reservations", &body)
            .await
            .status(),
        200
    );
    assert_eq!(app.stock_of(a["id"].as_str().unwrap()).await, 5);

    problem(
        app.post_as(
            &app.service,
            &format!("/internal/reservations/{}/release", uuid::Uuid::new_v4()),
            &json!({}),
        )
        .await,
        404,
    )
    .await;
    problem(
        app.get_as(
            &app.service,
            &format!("/internal/reservations/{}", uuid::Uuid::new_v4()),
        )
        .await,
        404,
    )
    .await;
}

#[tokio::test]
async fn all_or_nothing_with_the_reasons() {
    let app = spawn_app().await;
    let plenty = app.product(json!({"stock": 10})).await;
    let scarce = app.product(json!({"stock": 1})).await;
    let retired = app.product(json!({"stock": 10, "is_active": false})).await;
    let ghost = json!({"id": uuid::Uuid::new_v4()});
    let order = uuid::Uuid::new_v4().to_string();
    let body = reserve_body(&order, &[(&plenty, 2), (&scarce, 2), (&retired, 1), (&ghost, 1)]);
    let p = problem(app.post_as(&app.service, "/internal/reservations", &body).await, 409).await;
    assert_eq!(p["type"], "https://shopkeeper.dev/problems/insufficient-stock");
    let mut reasons: Vec<&str> = p["shortfalls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["reason"].as_str().unwrap())
        .collect();
    reasons.sort();
    assert_eq!(reasons, ["inactive", "insufficient_stock", "unknown_product"]);
    assert_eq!(
        app.stock_of(plenty["id"].as_str().unwrap()).await,
        10,
        "nothing was taken"
    );
    problem(
        app.get_as(&app.service, &format!("/internal/reservations/{order}"))
            .await,
        404,
    )
    .await;
    // A later attempt with the same order id and a satisfiable request goes through.
    let ok = reserve_body(&order, &[(&plenty, 2)]);
    assert_eq!(
        app.post_as(&app.service, "/internal/reservations", &ok).await.status(),
        201
    );
}

#[tokio::test]
async fn bad_reservation_requests() {
    let app = spawn_app().await;
    let p = app.product(json!({"stock": 10})).await;
    let order = uuid::Uuid::new_v4().to_string();
    for (body, pointer) in [
        (reserve_body(&order, &[(&p, 0)]), "/items/0/qty"),
        (reserve_body(&order, &[(&p, -3)]), "/items/0/qty"),
        (reserve_body(&order, &[(&p, 10_001)]), "/items/0/qty"),
        (reserve_body(&order, &[(&p, 99_999_999_999)]), "/items/0/qty"),
        (json!({"order_id": order, "items": []}), "/items"),
    ] {
        let b = problem(app.post_as(&app.service, "/internal/reservations", &body).await, 422).await;
        assert_eq!(pointers(&b), [pointer], "{body}");
    }
    for body in [
        json!({"order_id": "nope", "items": []}),
        json!({"items": []}),
        json!({"order_id": order, "items": [{"product_id": p["id"], "qty": "2"}]}),
    ] {
        problem(app.post_as(&app.service, "/internal/reservations", &body).await, 422).await;
    }
    problem(
        app.post_as(&app.service, "/internal/reservations/not-a-uuid/release", &json!({}))
            .await,
        400,
    )
    .await;
    assert_eq!(app.stock_of(p["id"].as_str().unwrap()).await, 10);
}

#[tokio::test]
async fn only_services_may_reserve() {
    let app = spawn_app().await;
    let p = app.product(json!({"stock": 10})).await;
    let body = reserve_body(&uuid::Uuid::new_v4().to_string(), &[(&p, 1)]);
    problem(
        app.send(reqwest::Method::POST, None, "/internal/reservations", &body)
            .await,
        401,
    )
    .await;
    problem(app.post_as(&app.customer, "/internal/reservations", &body).await, 403).await;
    problem(app.post_as(&app.admin, "/internal/reservations", &body).await, 403).await;
    problem(
        app.post_as("garbage.token.here", "/internal/reservations", &body).await,
        401,
    )
    .await;
    problem(
        app.get_as(&app.admin, &format!("/internal/reservations/{}", uuid::Uuid::new_v4()))
            .await,
        403,
    )
    .await;
    assert_eq!(app.stock_of(p["id"].as_str().unwrap()).await, 10);
}

#[tokio::test]
async fn a_hundred_concurrent_reservations_for_ten_units() {
    let app = spawn_app().await;
    let p = app.product(json!({"stock": 10})).await;
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (http, url, token) = (app.http.clone(), app.url("/internal/reservations"), app.service.clone());
        let body = reserve_body(&uuid::Uuid::new_v4().to_string(), &[(&p, 1)]);
        tasks.push(tokio::spawn(async move {
            http.post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut created = 0;
    let mut refused = 0;
    for t in tasks {
        match t.await.unwrap() {
            201 => created += 1,
            409 => refused += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((created, refused), (10, 90));
    assert_eq!(app.stock_of(p["id"].as_str().unwrap()).await, 0);
    let reserved: i64 = sqlx::query_scalar("SELECT count(*) FROM reservations WHERE status = 'reserved'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(reserved, 10);
}

#[tokio::test]
async fn replays_and_releases_racing_change_stock_once() {
    let app = spawn_app().await;
    let p = app.product(json!({"stock": 50})).await;
    let order = uuid::Uuid::new_v4().to_string();
    let body = reserve_body(&order, &[(&p, 5)]);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (http, url, token, body) = (
            app.http.clone(),
            app.url("/internal/reservations"),
            app.service.clone(),
            body.clone(),
        );
        tasks.push(tokio::spawn(async move {
            http.post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let statuses: Vec<u16> = futures_join(tasks).await;
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1);
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 19);
    assert_eq!(app.stock_of(p["id"].as_str().unwrap()).await, 45);

    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (http, url, token) = (
            app.http.clone(),
            app.url(&format!("/internal/reservations/{order}/release")),
            app.service.clone(),
        );
        tasks.push(tokio::spawn(async move {
            http.post(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    assert!(futures_join(tasks).await.iter().all(|s| *s == 200));
    assert_eq!(app.stock_of(p["id"].as_str().unwrap()).await, 50);
}

async fn futures_join(tasks: Vec<tokio::task::JoinHandle<u16>>) -> Vec<u16> {
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test]
async fn an_order_released_before_it_reserved_can_never_take_stock() {
    let app = spawn_app().await;
    let p = app.product(json!({"stock": 4})).await;
    let order = uuid::Uuid::new_v4().to_string();
    let release = format!("/internal/reservations/{order}/release");
    // The order service gives up on an order that never reserved: 404, and the order is barred.
    problem(app.post_as(&app.service, &release, &json!({})).await, 404).await;
    // Its reservation, arriving late, is answered as released, without items, taking nothing.
    let late = app
        .post_as(
            &app.service,
            "/internal/reservations",
            &reserve_body(&order, &[(&p, 3)]),
        )
        .await;
    let late = expect(late, 200).await;
    assert_eq!(late["status"], "released", "{late}");
    assert_eq!(late["items"], json!([]));
    assert_eq!(app.stock_of(p["id"].as_str().unwrap()).await, 4);
    // Still no reservation to show or release.
    problem(
        app.get_as(&app.service, &format!("/internal/reservations/{order}"))
            .await,
        404,
    )
    .await;
    problem(app.post_as(&app.service, &release, &json!({})).await, 404).await;
}

async fn status_of(app: &TestApp, order: &str) -> String {
    let r = json(
        app.get_as(&app.service, &format!("/internal/reservations/{order}"))
            .await,
    )
    .await;
    r["status"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_unconfirmed_reservation_expires_and_a_confirmed_one_is_kept() {
    let ttl = std::time::Duration::from_secs(1);
    let app = spawn_app_with_ttl(ttl).await;
    let a = app.product(json!({"stock": 5})).await;
    let id = a["id"].as_str().unwrap();
    let (forgotten, kept) = (uuid::Uuid::new_v4().to_string(), uuid::Uuid::new_v4().to_string());
    for (order, qty) in [(&forgotten, 2), (&kept, 1)] {
        let r = app
            .post_as(
                &app.service,
                "/internal/reservations",
                &reserve_body(order, &[(&a, qty)]),
            )
            .await;
        assert_eq!(r.status(), 201);
    }
    let confirmed = json(
        app.post_as(
            &app.service,
            "/internal/reservations/confirm",
            &json!({"order_ids": [kept]}),
        )
        .await,
    )
    .await;
    assert_eq!(confirmed, json!({"confirmed": [kept], "released": [], "unknown": []}));
    assert_eq!(app.stock_of(id).await, 2);

    // The unconfirmed one goes back after the TTL (looked for every quarter of it).
    let deadline = std::time::Instant::now() + ttl * 10;
    while status_of(&app, &forgotten).await == "reserved" {
        assert!(std::time::Instant::now() < deadline, "the reservation never expired");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(app.stock_of(id).await, 4, "exactly its 2 units came back");
    assert_eq!(
        status_of(&app, &kept).await,
        "reserved",
        "a confirmed reservation never expires"
    );
    let expired = app
        .server
        .sample_sum("catalog_reservations_total", &[r#"result="expired""#])
        .await;
    assert!(
        (expired - 1.0).abs() < f64::EPSILON,
        "one expiry counted, got {expired}"
    );

    // A confirmation that comes too late learns it; confirming twice is harmless.
    let never = uuid::Uuid::new_v4().to_string();
    let late = json(
        app.post_as(
            &app.service,
            "/internal/reservations/confirm",
            &json!({"order_ids": [forgotten, kept, never, kept]}),
        )
        .await,
    )
    .await;
    assert_eq!(
        late,
        json!({"confirmed": [kept], "released": [forgotten], "unknown": [never]})
    );
    // So does a reservation retried after it expired: it takes nothing.
    let again = app
        .post_as(
            &app.service,
            "/internal/reservations",
            &reserve_body(&forgotten, &[(&a, 2)]),
        )
        .await;
    assert_eq!(again.status(), 200);
    assert_eq!(json(again).await["status"], "released");
    assert_eq!(app.stock_of(id).await, 4);
    // Releasing the confirmed one still gives its stock back.
    let r = app
        .post_as(
            &app.service,
            &format!("/internal/reservations/{kept}/release"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.stock_of(id).await, 5);
}

#[tokio::test]
async fn confirmations_the_catalog_cannot_read_are_refused() {
    let app = spawn_app().await;
    let path = "/internal/reservations/confirm";
    let too_many: Vec<String> = (0..1001).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    for (body, status) in [
        (json!({"order_ids": []}), 422),
        (json!({"order_ids": too_many}), 422),
        (json!({"order_ids": ["not-a-uuid"]}), 422),
        (json!({"order_ids": "x"}), 422),
        (json!({"order_ids": [], "extra": 1}), 422),
        (json!({}), 422),
    ] {
        let p = problem(app.post_as(&app.service, path, &body).await, status).await;
        assert!(p["detail"].is_string(), "{body}: {p}");
    }
    let r = app
        .http
        .post(app.url(path))
        .bearer_auth(&app.service)
        .header("content-type", "application/json")
        .body("{\"order_ids\": [")
        .send()
        .await
        .unwrap();
    problem(r, 400).await;
    problem(
        app.post_as(&app.customer, path, &json!({"order_ids": [uuid::Uuid::new_v4()]}))
            .await,
        403,
    )
    .await;
    let r = app
        .http
        .post(app.url(path))
        .json(&json!({"order_ids": [uuid::Uuid::new_v4()]}))
        .send()
        .await
        .unwrap();
    problem(r, 401).await;
}
