//! Admin user management, subscriptions and deactivation.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn only_admins_manage_users() {
    let app = spawn_app().await;
    let customer = app.customer("pat@example.com").await;
    problem(app.http.get(app.url("/users")).send().await.unwrap(), 401).await;
    problem(app.get_auth("/users", access(&customer)).await, 403).await;
    let admin = app.admin().await;
    assert_eq!(app.get_auth("/users", access(&admin)).await.status(), 200);
}

#[tokio::test]
async fn admin_seed_is_idempotent() {
    let app = spawn_app().await;
    app.admin().await;
    shop_auth::store::seed_admin(
        &app.db.pool,
        ADMIN_EMAIL,
        Some("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$aGFzaA"),
    )
    .await
    .unwrap();
    let (count, hash_kept): (i64, bool) = sqlx::query_as(
        "SELECT count(*), bool_and(password_hash <> '$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$aGFzaA') FROM users WHERE email = $1",
    )
    .bind(ADMIN_EMAIL)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(count, 1);
    assert!(hash_kept, "a second seed keeps the existing password");
    let me = json(app.me(access(&app.admin().await)).await).await;
    assert_eq!(me["role"], "admin");
}

#[tokio::test]
async fn list_paginates_and_searches_by_email() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    for i in 0..5 {
        app.register(&format!("shopper{i}@example.com"), "a-decent-passphrase")
            .await;
    }
    app.register("odd_one@other.org", "a-decent-passphrase").await;

    let page = json(app.get_auth("/users?per_page=2&page=1", access(&admin)).await).await;
    assert_eq!(page["total"], 7, "5 shoppers, the odd one, the admin");
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["items"][0]["email"], "odd_one@other.org", "newest first");
    let page4 = json(app.get_auth("/users?per_page=2&page=4", access(&admin)).await).await;
    assert_eq!(page4["items"].as_array().unwrap().len(), 1);

    let found = json(app.get_auth("/users?email=SHOPPER", access(&admin)).await).await;
    assert_eq!(found["total"], 5);
    // LIKE wildcards are literal: `_` matches only an underscore.
    let found = json(app.get_auth("/users?email=odd_", access(&admin)).await).await;
    assert_eq!(found["total"], 1);
    let found = json(app.get_auth("/users?email=%25", access(&admin)).await).await;
    assert_eq!(found["total"], 0);

    for (bad, status) in [
        ("/users?per_page=1000", 422),
        ("/users?per_page=0", 422),
        ("/users?page=-1", 422),
        ("/users?page=99999999999999999999", 400),
        ("/users?page=abc", 400),
        ("/users?colour=red", 400),
    ] {
        problem(app.get_auth(bad, access(&admin)).await, status).await;
    }
}

#[tokio::test]
async fn get_and_patch_one_user() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let user = json(app.register("quinn@example.com", "a-decent-passphrase").await).await;
    let id = user["id"].as_str().unwrap();

    let shown = json(app.get_auth(&format!("/users/{id}"), access(&admin)).await).await;
    assert_eq!(shown["email"], "quinn@example.com");
    problem(app.get_auth("/users/not-a-uuid", access(&admin)).await, 400).await;
    problem(
        app.get_auth("/users/00000000-0000-0000-0000-000000000000", access(&admin))
            .await,
        404,
    )
    .await;

    let updated = json(
        app.patch_auth(&format!("/users/{id}"), access(&admin), &json!({"role": "admin"}))
            .await,
    )
    .await;
    assert_eq!(updated["role"], "admin");
    let tokens = json(app.login("quinn@example.com", "a-decent-passphrase").await).await;
    assert_eq!(
        app.get_auth("/users", access(&tokens)).await.status(),
        200,
        "the new role is in the next token"
    );

    for bad in [
        json!({"role": "service"}),
        json!({"role": "root"}),
        json!({"is_active": "yes"}),
        json!({"password_hash": "x"}),
    ] {
        let r = app.patch_auth(&format!("/users/{id}"), access(&admin), &bad).await;
        problem(r, 422).await;
    }
}

#[tokio::test]
async fn an_admin_cannot_lock_themself_out() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let me = json(app.me(access(&admin)).await).await;
    let id = me["id"].as_str().unwrap();
    problem(
        app.patch_auth(&format!("/users/{id}"), access(&admin), &json!({"is_active": false}))
            .await,
        409,
    )
    .await;
    problem(
        app.patch_auth(&format!("/users/{id}"), access(&admin), &json!({"role": "customer"}))
            .await,
        409,
    )
    .await;
}

#[tokio::test]
async fn deactivated_users_can_neither_log_in_nor_refresh() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let tokens = app.customer("rita@example.com").await;
    let me = json(app.me(access(&tokens)).await).await;
    let id = me["id"].as_str().unwrap();

    let r = app
        .patch_auth(&format!("/users/{id}"), access(&admin), &json!({"is_active": false}))
        .await;
    assert_eq!(json(r).await["is_active"], false);
    problem(app.login("rita@example.com", "a-decent-passphrase").await, 403).await;
    // The access token issued before is refused: its session has ended.
    let body = problem(app.me(access(&tokens)).await, 401).await;
    assert_eq!(body["detail"], "the session has ended");
    problem(
        app.post_json("/auth/refresh", &json!({"refresh_token": refresh(&tokens)}))
            .await,
        401,
    )
    .await;

    app.patch_auth(&format!("/users/{id}"), access(&admin), &json!({"is_active": true}))
        .await;
    assert_eq!(app.login("rita@example.com", "a-decent-passphrase").await.status(), 200);
}

#[tokio::test]
async fn premium_is_granted_extended_and_expires() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let tokens = app.customer("sam@example.com").await;
    let id = json(app.me(access(&tokens)).await).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let claims = |t: &serde_json::Value| {
        let payload = access(t).split('.').nth(1).unwrap().to_owned();
        let bytes = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).unwrap();
        serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()
    };
    let claims_plan = |t: &serde_json::Value| claims(t)["plan"].as_str().unwrap().to_owned();
    assert_eq!(claims_plan(&tokens), "free");

    let u = json(
        app.patch_auth(
            &format!("/users/{id}"),
            access(&admin),
            &json!({"extend_premium_days": 30}),
        )
        .await,
    )
    .await;
    assert_eq!(u["plan"], "premium");
    let first_end: chrono::DateTime<chrono::Utc> = u["subscription"]["expires_at"].as_str().unwrap().parse().unwrap();
    let days = (first_end - chrono::Utc::now()).num_days();
    assert!((29..=30).contains(&days), "{days}");

    let u = json(
        app.patch_auth(
            &format!("/users/{id}"),
            access(&admin),
            &json!({"extend_premium_days": 10}),
        )
        .await,
    )
    .await;
    let second_end: chrono::DateTime<chrono::Utc> = u["subscription"]["expires_at"].as_str().unwrap().parse().unwrap();
    assert_eq!((second_end - first_end).num_days(), 10, "extends from the current end");

    let fresh = json(app.login("sam@example.com", "a-decent-passphrase").await).await;
    assert_eq!(claims_plan(&fresh), "premium");
    // The token says when the plan ends, so the gateway downgrades it on time.
    assert_eq!(claims(&fresh)["plan_expires_at"], second_end.timestamp());

    // Time passes: an expired premium counts as free, in the profile and in new tokens.
    sqlx::query("UPDATE users SET plan_expires_at = now() - interval '1 minute' WHERE email = 'sam@example.com'")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let me = json(app.me(access(&fresh)).await).await;
    assert_eq!(me["plan"], "free");
    assert_eq!(me["subscription"]["plan"], "premium");
    assert_eq!(me["subscription"]["active"], false);
    let after = json(app.login("sam@example.com", "a-decent-passphrase").await).await;
    assert_eq!(claims_plan(&after), "free");
    assert!(claims(&after).get("plan_expires_at").is_none());

    // An explicit end date, and back to free.
    let until = (chrono::Utc::now() + chrono::Duration::days(7)).to_rfc3339();
    let u = json(
        app.patch_auth(
            &format!("/users/{id}"),
            access(&admin),
            &json!({"plan": "premium", "plan_expires_at": until}),
        )
        .await,
    )
    .await;
    assert_eq!(u["plan"], "premium");
    let u = json(
        app.patch_auth(&format!("/users/{id}"), access(&admin), &json!({"plan": "free"}))
            .await,
    )
    .await;
    assert_eq!(u["plan"], "free");
    assert!(u["subscription"]["expires_at"].is_null());

    for bad in [
        json!({"extend_premium_days": 0}),
        json!({"extend_premium_days": 100000}),
        json!({"plan": "gold"}),
        json!({"plan": "free", "plan_expires_at": until}),
        json!({"plan": "premium", "plan_expires_at": "2001-01-01T00:00:00Z"}),
        json!({"plan": "premium", "extend_premium_days": 3}),
    ] {
        problem(app.patch_auth(&format!("/users/{id}"), access(&admin), &bad).await, 422).await;
    }
}

#[tokio::test]
async fn a_demoted_admin_loses_access_at_once() {
    let app = spawn_app().await;
    let root = app.admin().await;
    let other = json(app.register("vera@example.com", "a-decent-passphrase").await).await;
    let id = other["id"].as_str().unwrap();
    app.patch_auth(&format!("/users/{id}"), access(&root), &json!({"role": "admin"}))
        .await;
    let vera = json(app.login("vera@example.com", "a-decent-passphrase").await).await;
    assert_eq!(app.get_auth("/users", access(&vera)).await.status(), 200);
    app.patch_auth(&format!("/users/{id}"), access(&root), &json!({"role": "customer"}))
        .await;
    // Her token still says admin, but the role change ended her sessions.
    let body = problem(app.get_auth("/users", access(&vera)).await, 401).await;
    assert_eq!(body["detail"], "the session has ended");
}

#[tokio::test]
async fn housekeeping_prunes_only_what_can_no_longer_matter() {
    let app = spawn_app().await;
    let t = app.customer("walt@example.com").await;
    app.post_json("/auth/refresh", &json!({"refresh_token": refresh(&t)}))
        .await;
    app.login("walt@example.com", "wrong-password!").await;
    sqlx::query("UPDATE refresh_tokens SET expires_at = now() - interval '2 days' WHERE used_at IS NOT NULL")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let (throttle, tokens) = shop_auth::maintenance::prune(&app.db.pool, std::time::Duration::from_secs(900))
        .await
        .unwrap();
    assert_eq!((throttle, tokens), (0, 1), "the live counter and the live token stay");
    sqlx::query("UPDATE login_throttle SET last_failed_at = now() - interval '1 hour'")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let (throttle, _) = shop_auth::maintenance::prune(&app.db.pool, std::time::Duration::from_secs(900))
        .await
        .unwrap();
    assert_eq!(throttle, 3, "pair, email and address counters a window old");
}
