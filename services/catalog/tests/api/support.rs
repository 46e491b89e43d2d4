//! `spawn_app()`: shop-catalog on a fresh database, verifying tokens this harness signs.

#![allow(dead_code, clippy::unwrap_used)]

use std::time::Duration;

use reqwest::{Client, Response};
use secrecy::SecretString;
use serde_json::{Value, json};
use shop_catalog::config::Config;
use shop_testkit::contract::ServiceName;
use shop_testkit::{Spawned, TempKeys, TestDb};
pub use shop_testkit::{expect, json, problem};

pub const ISSUER: &str = "http://auth.test";
pub const AUDIENCE: &str = "shopkeeper";

pub struct TestApp {
    pub server: Spawned,
    pub db: TestDb,
    pub keys: TempKeys,
    pub http: Client,
    pub admin: String,
    pub customer: String,
    /// The order service's token, with the scopes the contract grants it.
    pub service: String,
}

pub fn sign(keys: &TempKeys, sub: &str, role: &str) -> String {
    shop_testkit::token(keys, ISSUER, AUDIENCE, sub, role)
}

fn config(db: &TestDb, keys: &TempKeys, reservation_ttl: Duration) -> Config {
    Config {
        server: shop_testkit::server_config(),
        database_url: SecretString::from(db.url.clone()),
        database_max_connections: 20,
        verifier: shop_testkit::verifier_config(keys, ISSUER, AUDIENCE),
        low_stock_threshold: 5,
        reservation_ttl,
    }
}

/// The default `RESERVATION_TTL_SECS`.
const TTL: Duration = Duration::from_secs(900);

pub async fn spawn_app() -> TestApp {
    spawn_app_with_ttl(TTL).await
}

/// A catalog whose unconfirmed reservations expire after `reservation_ttl`.
pub async fn spawn_app_with_ttl(reservation_ttl: Duration) -> TestApp {
    let db = shop_testkit::fresh_database().await;
    shop_kit::db::migrate(&db.pool, &shop_catalog::MIGRATOR).await.unwrap();
    let keys = shop_testkit::temp_keys();
    let server = shop_testkit::spawn(shop_catalog::build(config(&db, &keys, reservation_ttl)).await.unwrap());
    let admin = sign(&keys, &uuid::Uuid::new_v4().to_string(), "admin");
    let customer = sign(&keys, &uuid::Uuid::new_v4().to_string(), "customer");
    let service = shop_testkit::service_token(&keys, ISSUER, AUDIENCE, ServiceName::Order);
    TestApp {
        server,
        db,
        keys,
        http: shop_testkit::client(),
        admin,
        customer,
        service,
    }
}

/// The pointers of a 422's `errors`.
pub fn pointers(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|a| a.iter().map(|e| e["pointer"].as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

impl TestApp {
    /// A second catalog process on the same database (another replica).
    pub async fn replica(&self) -> Spawned {
        shop_testkit::spawn(shop_catalog::build(config(&self.db, &self.keys, TTL)).await.unwrap())
    }

    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    pub async fn get_as(&self, token: &str, path: &str) -> Response {
        self.http.get(self.url(path)).bearer_auth(token).send().await.unwrap()
    }

    pub async fn send(&self, method: reqwest::Method, token: Option<&str>, path: &str, body: &Value) -> Response {
        let mut req = self.http.request(method, self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    pub async fn post_as(&self, token: &str, path: &str, body: &Value) -> Response {
        self.send(reqwest::Method::POST, Some(token), path, body).await
    }

    pub async fn patch_as(&self, token: &str, path: &str, body: &Value) -> Response {
        self.send(reqwest::Method::PATCH, Some(token), path, body).await
    }

    pub async fn category(&self, slug: &str) -> Value {
        let r = self
            .post_as(
                &self.admin,
                "/categories",
                &json!({"slug": slug, "name": slug.replace('-', " ")}),
            )
            .await;
        assert_eq!(r.status(), 201);
        json(r).await
    }

    /// Creates a product (admin) from `fields` merged over sane defaults.
    pub async fn product(&self, fields: Value) -> Value {
        let mut body = json!({"sku": format!("SKU-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]), "name": "Thing", "price": "10.00", "stock": 10});
        for (k, v) in fields.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = self.post_as(&self.admin, "/products", &body).await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        json(r).await
    }

    pub async fn stock_of(&self, id: &str) -> i64 {
        json(self.get_as(&self.admin, &format!("/products/{id}")).await).await["stock"]
            .as_i64()
            .unwrap()
    }
}
