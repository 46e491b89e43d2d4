//! Sessions end when they are ended: logout, a password change, deactivation and a role change
//! make the session's access tokens useless at once on this replica, within seconds on every
//! other verifier (another auth replica, a service polling `/internal/revoked-sessions`).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shop_kit::auth::{TokenError, TokenVerifier, VerifierConfig};

use crate::support::*;

const PASSWORD: &str = "a-decent-passphrase";

fn sid_of(tokens: &Value) -> String {
    let payload = access(tokens).split('.').nth(1).unwrap();
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).unwrap();
    serde_json::from_slice::<Value>(&bytes).unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn second_session(app: &TestApp, email: &str) -> Value {
    let r = app.login(email, PASSWORD).await;
    assert_eq!(r.status(), 200);
    json(r).await
}

async fn revoked_list(app: &TestApp) -> Vec<String> {
    let r = app
        .http
        .get(app.url("/internal/revoked-sessions"))
        .send()
        .await
        .unwrap();
    let body = json(r).await;
    assert_eq!(body["window_secs"], 900 + shop_kit::auth::LEEWAY_SECS, "{body}");
    body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

async fn ended(r: reqwest::Response) {
    let body = problem(r, 401).await;
    assert_eq!(body["detail"], "the session has ended", "{body}");
}

/// Waits (up to 5 s) until `check` holds.
async fn within_seconds(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: not within 5 s");
}

#[tokio::test]
async fn logout_ends_the_access_token_at_once_and_only_that_session() {
    let app = spawn_app().await;
    let first = app.customer("lou@example.com").await;
    let second = second_session(&app, "lou@example.com").await;
    assert_eq!(app.me(access(&first)).await.status(), 200);

    let body = json!({"refresh_token": refresh(&first)});
    assert_eq!(app.post_json("/auth/logout", &body).await.status(), 204);
    ended(app.me(access(&first)).await).await;
    assert_eq!(
        app.me(access(&second)).await.status(),
        200,
        "the other session lives on"
    );

    let list = revoked_list(&app).await;
    assert!(list.contains(&sid_of(&first)), "{list:?}");
    assert!(!list.contains(&sid_of(&second)), "{list:?}");
}

#[tokio::test]
async fn a_password_change_ends_the_other_sessions_but_not_the_one_that_changed_it() {
    let app = spawn_app().await;
    let here = app.customer("meg@example.com").await;
    let elsewhere = second_session(&app, "meg@example.com").await;
    let r = app
        .patch_auth(
            "/auth/me",
            access(&here),
            &json!({"current_password": PASSWORD, "new_password": "another-decent-passphrase"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    ended(app.me(access(&elsewhere)).await).await;
    assert_eq!(app.me(access(&here)).await.status(), 200);
}

#[tokio::test]
async fn deactivation_and_a_role_change_end_every_session_of_the_user() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let promoted = app.customer("ned@example.com").await;
    let removed = app.customer("ola@example.com").await;
    let id_of = async |tokens: &Value| {
        json(app.me(access(tokens)).await).await["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (promoted_id, removed_id) = (id_of(&promoted).await, id_of(&removed).await);

    let r = app
        .patch_auth(
            &format!("/users/{promoted_id}"),
            access(&admin),
            &json!({"role": "admin"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    ended(app.me(access(&promoted)).await).await;
    let again = second_session(&app, "ned@example.com").await;
    assert_eq!(
        json(app.me(access(&again)).await).await["role"],
        "admin",
        "signed in again, as what they now are"
    );

    // A change that leaves the role as it was ends nothing.
    let r = app
        .patch_auth(
            &format!("/users/{promoted_id}"),
            access(&admin),
            &json!({"role": "admin"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.me(access(&again)).await.status(), 200);

    let r = app
        .patch_auth(
            &format!("/users/{removed_id}"),
            access(&admin),
            &json!({"is_active": false}),
        )
        .await;
    assert_eq!(r.status(), 200);
    ended(app.me(access(&removed)).await).await;
    assert_eq!(app.me(access(&admin)).await.status(), 200);
}

#[tokio::test]
async fn another_auth_replica_and_a_polling_service_refuse_an_ended_session_within_seconds() {
    let app = spawn_app().await;
    let replica = shop_testkit::spawn(shop_auth::build(test_config(&app.db, &app.keys)).await.unwrap());
    // What catalog, cart, order and the gateway build: keys from the directory, the list of
    // ended sessions polled from auth.
    let service = TokenVerifier::start(&VerifierConfig {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        keys: shop_kit::auth::KeyConfig::Dir(app.keys.public_dir()),
        auth_url: Some(app.url("")),
    })
    .unwrap();
    let tokens = app.customer("pia@example.com").await;
    let on_replica = |token: String| {
        let http = app.http.clone();
        let url = replica.url("/auth/me");
        async move { http.get(url).bearer_auth(token).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(on_replica(access(&tokens).to_owned()).await, 200);
    assert!(service.verify(access(&tokens)).await.is_ok());

    let body = json!({"refresh_token": refresh(&tokens)});
    assert_eq!(app.post_json("/auth/logout", &body).await.status(), 204);
    let token = access(&tokens).to_owned();
    within_seconds("the second auth replica", async || {
        on_replica(token.clone()).await == 401
    })
    .await;
    within_seconds("a polling service", async || {
        service.verify(&token).await == Err(TokenError::Revoked)
    })
    .await;
}

#[tokio::test]
async fn a_bad_bearer_token_is_refused_on_public_routes_too() {
    let app = spawn_app().await;
    let jwks = "/.well-known/jwks.json";
    assert_eq!(app.http.get(app.url(jwks)).send().await.unwrap().status(), 200);
    for header in ["Bearer not.a.jwt", "Bearer", "bearer    ", "BEARER x.y.z"] {
        let r = app
            .http
            .get(app.url(jwks))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.headers()["www-authenticate"],
            "Bearer error=\"invalid_token\"",
            "{header}"
        );
        problem(r, 401).await;
    }
    // Another scheme is not ours to judge on a route that needs none.
    let r = app
        .http
        .get(app.url(jwks))
        .header("authorization", "Basic b3JkZXI6eA==")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
