//! What hostile or clumsy clients send: every answer a problem document with the right 4xx.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn invalid_emails_are_422_on_register() {
    let app = spawn_app().await;
    for email in [
        "",
        "plain",
        "a@b",
        "a@@b.com",
        "a b@c.com",
        "x@y.com' OR '1'='1",
        "<script>@x.com",
    ] {
        let body = problem(app.register(email, "a-decent-passphrase").await, 422).await;
        assert_eq!(body["errors"][0]["pointer"], "/email", "{email}");
    }
}

#[tokio::test]
async fn weak_passwords_are_422_with_the_reason() {
    let app = spawn_app().await;
    for (password, reason) in [
        ("short", "at least 8"),
        ("password123", "too common"),
        ("12345678", "too common"),
        ("zed@example.com", "email"),
        ("zed", "at least 8"),
    ] {
        let body = problem(app.register("zed@example.com", password).await, 422).await;
        assert_eq!(body["errors"][0]["pointer"], "/password");
        assert!(
            body["errors"][0]["message"].as_str().unwrap().contains(reason),
            "{password}: {body}"
        );
    }
    let long = "x1".repeat(65);
    problem(app.register("zed@example.com", &long).await, 422).await;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE email = 'zed@example.com'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(count, 0, "nothing was stored");
}

#[tokio::test]
async fn several_problems_are_reported_together() {
    let app = spawn_app().await;
    let body = problem(
        app.post_json(
            "/auth/register",
            &json!({"email": "ok@example.com", "password": "short", "name": "\u{7}"}),
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
    assert_eq!(pointers, ["/password", "/name"]);
}

#[tokio::test]
async fn malformed_bodies_are_problems_not_plain_text() {
    let app = spawn_app().await;
    let post = |path: &'static str, ct: &'static str, body: Vec<u8>| {
        let req = app.http.post(app.url(path)).header("content-type", ct).body(body);
        async move { req.send().await.unwrap() }
    };
    // Broken JSON.
    problem(
        post("/auth/register", "application/json", b"{\"email\": ".to_vec()).await,
        400,
    )
    .await;
    // Wrong types and missing fields.
    problem(
        post(
            "/auth/register",
            "application/json",
            br#"{"email": 42, "password": true}"#.to_vec(),
        )
        .await,
        422,
    )
    .await;
    problem(
        post("/auth/register", "application/json", br#"{"email": "a@b.co"}"#.to_vec()).await,
        422,
    )
    .await;
    problem(post("/auth/register", "application/json", b"[]".to_vec()).await, 422).await;
    // Unknown fields where they matter: nobody registers themself as an admin.
    let body = problem(
        post(
            "/auth/register",
            "application/json",
            br#"{"email":"a@b.co","password":"a-decent-passphrase","role":"admin"}"#.to_vec(),
        )
        .await,
        422,
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("unknown field"), "{body}");
    // No or the wrong content type.
    problem(
        post(
            "/auth/register",
            "text/plain",
            br#"{"email":"a@b.co","password":"x"}"#.to_vec(),
        )
        .await,
        415,
    )
    .await;
    problem(post("/auth/login", "text/plain", b"hello".to_vec()).await, 415).await;
    // Broken form.
    problem(
        post(
            "/auth/login",
            "application/x-www-form-urlencoded",
            b"username=only".to_vec(),
        )
        .await,
        422,
    )
    .await;
    // Non-UTF-8 bytes.
    problem(
        post("/auth/register", "application/json", vec![0xff, 0xfe, 0x00]).await,
        400,
    )
    .await;
    // Over the body limit (64 KiB).
    let huge = format!(r#"{{"email":"a@b.co","password":"{}"}}"#, "x".repeat(70 * 1024));
    problem(post("/auth/register", "application/json", huge.into_bytes()).await, 413).await;
}

#[tokio::test]
async fn login_rejects_nonsense_before_hashing() {
    let app = spawn_app().await;
    problem(app.login("not-an-email", "whatever-password").await, 422).await;
    problem(app.login("a@example.com", "").await, 422).await;
    problem(app.login("a@example.com", &"p".repeat(5000)).await, 422).await;
    let r = app
        .http
        .post(app.url("/auth/login"))
        .form(&[
            ("username", "a@example.com"),
            ("password", "whatever-password"),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .unwrap();
    problem(r, 400).await;
}

#[tokio::test]
async fn refresh_and_logout_validate_their_input() {
    let app = spawn_app().await;
    problem(app.post_json("/auth/refresh", &json!({})).await, 422).await;
    problem(app.post_json("/auth/refresh", &json!({"refresh_token": 12})).await, 422).await;
    problem(
        app.post_json(
            "/auth/refresh",
            &json!({"refresh_token": "'; DELETE FROM refresh_tokens; --"}),
        )
        .await,
        401,
    )
    .await;
    problem(
        app.post_json("/auth/refresh", &json!({"refresh_token": "A".repeat(43)}))
            .await,
        401,
    )
    .await;
    problem(app.post_json("/auth/logout", &json!({"token": "x"})).await, 422).await;
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let app = spawn_app().await;
    problem(app.http.get(app.url("/nope")).send().await.unwrap(), 404).await;
    problem(app.http.delete(app.url("/auth/login")).send().await.unwrap(), 405).await;
    // A NUL in the path is refused before anything else looks at the request (the kit's guard).
    let body = problem(
        app.http
            .get(app.url("/users/%00"))
            .bearer_auth("x")
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(body["errors"][0]["pointer"], "path");
}
