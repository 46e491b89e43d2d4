//! `GET/PATCH /auth/me`: profile fields and password change.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn me_needs_a_token() {
    let app = spawn_app().await;
    let r = app.http.get(app.url("/auth/me")).send().await.unwrap();
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    problem(r, 401).await;
}

#[tokio::test]
async fn profile_fields_can_be_set_and_cleared() {
    let app = spawn_app().await;
    let t = app.customer("mia@example.com").await;
    let r = app
        .patch_auth(
            "/auth/me",
            access(&t),
            &json!({"name": " Mia Wong ", "phone": "+7 701 123 45 67", "address": "1 Abay Ave\nAlmaty"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let me = json(r).await;
    assert_eq!(me["name"], "Mia Wong");
    assert_eq!(me["phone"], "+7 701 123 45 67");
    assert_eq!(me["address"], "1 Abay Ave\nAlmaty");

    let me = json(
        app.patch_auth("/auth/me", access(&t), &json!({"phone": null, "address": ""}))
            .await,
    )
    .await;
    assert_eq!(me["name"], "Mia Wong", "absent fields are kept");
    assert!(me["phone"].is_null());
    assert!(me["address"].is_null());
}

#[tokio::test]
async fn invalid_profile_fields_are_422_with_pointers() {
    let app = spawn_app().await;
    let t = app.customer("ned@example.com").await;
    let body = problem(
        app.patch_auth(
            "/auth/me",
            access(&t),
            &json!({"phone": "call me maybe", "name": "x".repeat(101)}),
        )
        .await,
        422,
    )
    .await;
    let pointers: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(pointers, ["/name", "/phone"]);
    let body = problem(
        app.patch_auth("/auth/me", access(&t), &json!({"role": "admin"})).await,
        422,
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("unknown field"), "{body}");
    let me = json(app.me(access(&t)).await).await;
    assert_eq!(me["role"], "customer");
}

#[tokio::test]
async fn password_change_needs_the_current_one_and_ends_other_sessions() {
    let app = spawn_app().await;
    let this = app.customer("olga@example.com").await;
    let other = json(app.login("olga@example.com", "a-decent-passphrase").await).await;

    let body = problem(
        app.patch_auth(
            "/auth/me",
            access(&this),
            &json!({"new_password": "brand-new-passphrase"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(body["errors"][0]["pointer"], "/current_password");
    let body = problem(
        app.patch_auth(
            "/auth/me",
            access(&this),
            &json!({"new_password": "brand-new-passphrase", "current_password": "wrong-one!"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(body["errors"][0]["pointer"], "/current_password");
    let body = problem(
        app.patch_auth(
            "/auth/me",
            access(&this),
            &json!({"new_password": "password1", "current_password": "a-decent-passphrase"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(body["errors"][0]["pointer"], "/new_password");

    let r = app
        .patch_auth(
            "/auth/me",
            access(&this),
            &json!({"new_password": "brand-new-passphrase", "current_password": "a-decent-passphrase"}),
        )
        .await;
    assert_eq!(r.status(), 200);

    assert_eq!(
        app.post_json("/auth/refresh", &json!({"refresh_token": refresh(&other)}))
            .await
            .status(),
        401,
        "other session ended"
    );
    assert_eq!(
        app.post_json("/auth/refresh", &json!({"refresh_token": refresh(&this)}))
            .await
            .status(),
        200,
        "this session lives"
    );
    problem(app.login("olga@example.com", "a-decent-passphrase").await, 401).await;
    assert_eq!(
        app.login("olga@example.com", "brand-new-passphrase").await.status(),
        200
    );
}

#[tokio::test]
async fn guessing_the_current_password_is_throttled() {
    let app = spawn_app_with(|c| c.throttle.per_pair = 3).await;
    let t = app.customer("yuri@example.com").await;
    let guess = json!({"new_password": "brand-new-passphrase", "current_password": "a-guess-1234"});
    for _ in 0..3 {
        problem(app.patch_auth("/auth/me", access(&t), &guess).await, 422).await;
    }
    problem(app.patch_auth("/auth/me", access(&t), &guess).await, 429).await;
}
