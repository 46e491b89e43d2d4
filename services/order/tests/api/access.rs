//! Who may call what: anonymous, customer A, customer B, admin and service on every route.

use uuid::Uuid;

use crate::support::*;

#[tokio::test]
async fn authorization_matrix() {
    let app = spawn_app().await;
    let p = app.product("10.00", 100).await;
    let a = app.shopper();
    let b = app.shopper();
    app.add_to_cart(&a, p, 1).await;
    let order = expect(app.checkout(&a.token, "a-1").await, 201).await;
    let id = order["id"].as_str().unwrap().to_owned();

    // Routes that change nothing for these callers, with the status each one gets.
    // (anonymous, A, B, admin, service)
    let get_order = format!("/orders/{id}");
    let reads: [(&str, [u16; 5]); 4] = [
        ("/orders", [401, 200, 200, 200, 403]),
        (&get_order, [401, 200, 404, 404, 403]),
        ("/admin/orders", [401, 403, 403, 200, 403]),
        ("/admin/stats", [401, 403, 403, 200, 403]),
    ];
    let callers = [
        None,
        Some(&a.token),
        Some(&b.token),
        Some(&app.admin),
        Some(&app.service),
    ];
    for (path, expected) in reads {
        for (caller, want) in callers.iter().zip(expected) {
            let mut req = app.http.get(app.order.url(path));
            if let Some(t) = caller {
                req = req.bearer_auth(t);
            }
            let r = req.send().await.unwrap();
            assert_eq!(
                r.status().as_u16(),
                want,
                "GET {path} as caller #{:?}",
                caller.map(|t| &t[..10])
            );
        }
    }
    // B sees an empty list, not A's order.
    assert_eq!(expect(app.get(&b.token, "/orders").await, 200).await["total"], 0);

    // Checkout: anonymous 401, service 403 (before the key is even looked at).
    let r = app.http.post(app.order.url("/orders/checkout")).send().await.unwrap();
    problem(r, 401).await;
    problem(app.checkout(&app.service, "s").await, 403).await;

    // Cancel: B and the admin (on the user route) get 404; anonymous 401; service 403.
    let cancel = format!("/orders/{id}/cancel");
    problem(app.http.patch(app.order.url(&cancel)).send().await.unwrap(), 401).await;
    problem(app.patch(&b.token, &cancel).await, 404).await;
    problem(app.patch(&app.admin, &cancel).await, 404).await;
    problem(app.patch(&app.service, &cancel).await, 403).await;
    let admin_cancel = format!("/admin/orders/{id}/cancel");
    problem(app.http.patch(app.order.url(&admin_cancel)).send().await.unwrap(), 401).await;
    problem(app.patch(&a.token, &admin_cancel).await, 403).await;
    problem(app.patch(&b.token, &admin_cancel).await, 403).await;
    problem(app.patch(&app.service, &admin_cancel).await, 403).await;
    assert_eq!(app.stock(p).await, 99, "nobody canceled it");
    // A may.
    expect(app.patch(&a.token, &cancel).await, 200).await;

    // Malformed and unknown ids; a token that does not verify.
    problem(app.get(&a.token, "/orders/not-a-uuid").await, 400).await;
    problem(app.get(&a.token, &format!("/orders/{}", Uuid::new_v4())).await, 404).await;
    problem(
        app.patch(&app.admin, &format!("/admin/orders/{}/cancel", Uuid::new_v4()))
            .await,
        404,
    )
    .await;
    problem(app.get("not-a-token", "/orders").await, 401).await;
    problem(app.get(&a.token, "/orders?per_page=0").await, 422).await;
    problem(app.get(&a.token, "/orders?sort=price").await, 400).await;
}
