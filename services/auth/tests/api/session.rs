//! Register, login (form and JSON), refresh rotation and reuse detection, logout (throttling:
//! `throttle.rs`).

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn register_normalises_the_email_and_hides_the_hash() {
    let app = spawn_app().await;
    let r = app.register("  Alice@Example.COM ", "a-decent-passphrase").await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["location"], "/auth/me");
    let body = json(r).await;
    assert_eq!(body["email"], "alice@example.com");
    assert_eq!(body["role"], "customer");
    assert_eq!(body["plan"], "free");
    assert!(body.get("password_hash").is_none(), "{body}");
    let stored: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE email = 'alice@example.com'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
}

#[tokio::test]
async fn duplicate_email_is_409_whatever_its_case() {
    let app = spawn_app().await;
    assert_eq!(
        app.register("bob@example.com", "a-decent-passphrase").await.status(),
        201
    );
    let body = problem(app.register("BOB@example.com", "another-passphrase").await, 409).await;
    assert_eq!(body["type"], "https://shopkeeper.dev/problems/email-taken");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE email = 'bob@example.com'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn login_with_json_and_with_the_oauth2_form() {
    let app = spawn_app().await;
    app.register("carol@example.com", "a-decent-passphrase").await;

    let r = app.login("carol@example.com", "a-decent-passphrase").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let tokens = json(r).await;
    assert_eq!(tokens["token_type"], "bearer");
    assert_eq!(tokens["expires_in"], 900);
    assert_eq!(refresh(&tokens).len(), 43);

    let r = app
        .http
        .post(app.url("/auth/login"))
        .form(&[
            ("username", "Carol@Example.com"),
            ("password", "a-decent-passphrase"),
            ("grant_type", "password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let form_tokens = json(r).await;
    let me = json(app.me(access(&form_tokens)).await).await;
    assert_eq!(me["email"], "carol@example.com");
}

#[tokio::test]
async fn wrong_password_and_unknown_email_look_the_same() {
    let app = spawn_app().await;
    app.register("dave@example.com", "a-decent-passphrase").await;
    let wrong = problem(app.login("dave@example.com", "not-the-password").await, 401).await;
    let unknown = problem(app.login("nobody@example.com", "not-the-password").await, 401).await;
    assert_eq!(wrong["detail"], unknown["detail"]);
    assert_eq!(wrong["error"], "invalid_grant");
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let app = spawn_app().await;
    let first = app.customer("erin@example.com").await;

    let r = app
        .post_json("/auth/refresh", &json!({"refresh_token": refresh(&first)}))
        .await;
    assert_eq!(r.status(), 200);
    let second = json(r).await;
    assert_ne!(refresh(&first), refresh(&second));
    assert_eq!(app.me(access(&second)).await.status(), 200);

    // The first token is spent: presenting it again means someone holds a copy.
    let body = problem(
        app.post_json("/auth/refresh", &json!({"refresh_token": refresh(&first)}))
            .await,
        401,
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("reuse"), "{body}");
    // ... and the whole family is gone, including the legitimate newest token.
    problem(
        app.post_json("/auth/refresh", &json!({"refresh_token": refresh(&second)}))
            .await,
        401,
    )
    .await;

    // Another login (another family) is unaffected.
    let other = json(app.login("erin@example.com", "a-decent-passphrase").await).await;
    assert_eq!(
        app.post_json("/auth/refresh", &json!({"refresh_token": refresh(&other)}))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_let_at_most_one_through() {
    let app = spawn_app().await;
    let tokens = app.customer("frank@example.com").await;
    let body = json!({"refresh_token": refresh(&tokens)});
    let (a, b) = tokio::join!(
        app.post_json("/auth/refresh", &body),
        app.post_json("/auth/refresh", &body)
    );
    let ok = [a.status(), b.status()].iter().filter(|s| s.as_u16() == 200).count();
    assert_eq!(ok, 1, "exactly one rotation wins");
    let live: i64 =
        sqlx::query_scalar("SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NULL AND used_at IS NULL")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(live, 0, "the loser's reuse revoked the family");
}

#[tokio::test]
async fn refresh_works_with_the_form_too() {
    let app = spawn_app().await;
    let tokens = app.customer("gina@example.com").await;
    let r = app
        .http
        .post(app.url("/auth/refresh"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh(&tokens))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn logout_revokes_the_session_and_is_idempotent() {
    let app = spawn_app().await;
    let tokens = app.customer("hank@example.com").await;
    let body = json!({"refresh_token": refresh(&tokens)});
    assert_eq!(app.post_json("/auth/logout", &body).await.status(), 204);
    assert_eq!(app.post_json("/auth/logout", &body).await.status(), 204);
    problem(app.post_json("/auth/refresh", &body).await, 401).await;
    // Unknown or malformed tokens reveal nothing.
    assert_eq!(
        app.post_json("/auth/logout", &json!({"refresh_token": "nope"}))
            .await
            .status(),
        204
    );
}

#[tokio::test]
async fn expired_refresh_tokens_are_refused() {
    let app = spawn_app().await;
    let tokens = app.customer("ivy@example.com").await;
    sqlx::query("UPDATE refresh_tokens SET expires_at = now() - interval '1 second'")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let body = problem(
        app.post_json("/auth/refresh", &json!({"refresh_token": refresh(&tokens)}))
            .await,
        401,
    )
    .await;
    assert_eq!(body["detail"], "refresh token expired");
}
