//! `spawn_app()`: shop-auth on a fresh database and fresh keys, on 127.0.0.1:0.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use reqwest::{Client, Response};
use secrecy::SecretString;
use serde_json::{Value, json};
use shop_auth::config::{Config, ThrottleConfig};
use shop_kit::config::ServerConfig;
use shop_testkit::{Spawned, TempKeys, TestDb};
pub use shop_testkit::{json, problem};

pub const ADMIN_EMAIL: &str = "root@shop.test";
pub const ADMIN_PASSWORD: &str = "admin-secret-123";
pub const CLIENT_ID: &str = "order";
pub const CLIENT_SECRET: &str = "order-secret-0123456789";
/// A client whose secret needs form-encoding in HTTP Basic; its line, in the format from
/// before scopes, grants none.
pub const ODD_CLIENT_ID: &str = "odd.client";
pub const ODD_CLIENT_SECRET: &str = "p+ss%word:/0123456789";
pub const ISSUER: &str = "http://auth.test";
pub const AUDIENCE: &str = "shopkeeper";

pub struct TestApp {
    pub server: Spawned,
    pub db: TestDb,
    pub keys: TempKeys,
    pub http: Client,
}

pub fn test_config(db: &TestDb, keys: &TempKeys) -> Config {
    let clients_file: PathBuf = keys.dir.join("service-clients");
    std::fs::write(
        &clients_file,
        format!(
            "{}\n{ODD_CLIENT_ID}:{ODD_CLIENT_SECRET}\n",
            shop_testkit::contract::client_line(shop_testkit::contract::ServiceName::Order, CLIENT_SECRET)
        ),
    )
    .unwrap();
    Config {
        server: ServerConfig::for_tests(),
        database_url: SecretString::from(db.url.clone()),
        database_max_connections: 5,
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        signing_keys_dir: keys.signing_dir(),
        access_ttl: Duration::from_secs(900),
        refresh_ttl: Duration::from_secs(3600),
        service_ttl: Duration::from_secs(300),
        admin: Some((ADMIN_EMAIL.into(), SecretString::from(ADMIN_PASSWORD))),
        service_clients_file: Some(clients_file),
        throttle: ThrottleConfig::default(),
        trusted_proxy_hops: 0,
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let db = shop_testkit::fresh_database().await;
    shop_kit::db::migrate(&db.pool, &shop_auth::MIGRATOR).await.unwrap();
    let keys = shop_testkit::temp_keys();
    let mut config = test_config(&db, &keys);
    tweak(&mut config);
    let server = shop_testkit::spawn(shop_auth::build(config).await.unwrap());
    TestApp {
        server,
        db,
        keys,
        http: shop_testkit::client(),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.http.post(self.url(path)).json(body).send().await.unwrap()
    }

    pub async fn register(&self, email: &str, password: &str) -> Response {
        self.post_json("/auth/register", &json!({"email": email, "password": password}))
            .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post_json("/auth/login", &json!({"email": email, "password": password}))
            .await
    }

    /// Registers and logs in a customer; returns the token response.
    pub async fn customer(&self, email: &str) -> Value {
        let r = self.register(email, "a-decent-passphrase").await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let r = self.login(email, "a-decent-passphrase").await;
        assert_eq!(r.status(), 200);
        json(r).await
    }

    /// Logs the seeded admin in (the seed runs in the background at start).
    pub async fn admin(&self) -> Value {
        for _ in 0..100 {
            let r = self.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
            if r.status() == 200 {
                return json(r).await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the admin was never seeded");
    }

    pub async fn get_auth(&self, path: &str, token: &str) -> Response {
        self.http.get(self.url(path)).bearer_auth(token).send().await.unwrap()
    }

    pub async fn patch_auth(&self, path: &str, token: &str, body: &Value) -> Response {
        self.http
            .patch(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn me(&self, token: &str) -> Response {
        self.get_auth("/auth/me", token).await
    }
}

impl TestApp {
    /// `POST /auth/token` with client credentials in the form and, when given, `scope`.
    pub async fn client_token(&self, id: &str, secret: &str, scope: Option<&str>) -> Response {
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        self.http
            .post(self.url("/auth/token"))
            .form(&form)
            .send()
            .await
            .unwrap()
    }
}

pub fn access(tokens: &Value) -> &str {
    tokens["access_token"].as_str().unwrap()
}

pub fn refresh(tokens: &Value) -> &str {
    tokens["refresh_token"].as_str().unwrap()
}
