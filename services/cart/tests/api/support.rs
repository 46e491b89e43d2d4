//! `spawn_app()`: a catalog on a fresh database and a cart on the test Redis, both on real ports.

#![allow(dead_code, clippy::unwrap_used)]

use reqwest::{Client, Response};
use secrecy::SecretString;
use serde_json::{Value, json};
use shop_testkit::{Spawned, TempKeys, TestDb};
pub use shop_testkit::{expect, json, problem};
use uuid::Uuid;

pub const ISSUER: &str = "http://auth.test";
pub const AUDIENCE: &str = "shopkeeper";

pub struct TestApp {
    pub cart: Spawned,
    pub catalog: Spawned,
    pub db: TestDb,
    pub keys: TempKeys,
    pub http: Client,
    pub admin: String,
    /// The order service's token, with the scopes the contract grants it.
    pub service: String,
}

pub fn cart_config(keys: &TempKeys, redis_url: &str, catalog_url: &str) -> shop_cart::config::Config {
    shop_cart::config::Config {
        server: shop_testkit::server_config(),
        redis_url: SecretString::from(redis_url.to_owned()),
        catalog_url: catalog_url.to_owned(),
        verifier: shop_testkit::verifier_config(keys, ISSUER, AUDIENCE),
        limits: shop_cart::config::Limits {
            max_lines: 5,
            ..Default::default()
        },
        preferences: shop_cart::config::PrefLimits {
            max_keys: 4,
            max_value_bytes: 256,
        },
    }
}

pub async fn spawn_app() -> TestApp {
    let db = shop_testkit::fresh_database().await;
    shop_kit::db::migrate(&db.pool, &shop_catalog::MIGRATOR).await.unwrap();
    let keys = shop_testkit::temp_keys();
    let catalog_config = shop_catalog::config::Config {
        server: shop_testkit::server_config(),
        database_url: SecretString::from(db.url.clone()),
        database_max_connections: 5,
        verifier: shop_testkit::verifier_config(&keys, ISSUER, AUDIENCE),
        low_stock_threshold: 5,
        reservation_ttl: std::time::Duration::from_secs(900),
    };
    let catalog = shop_testkit::spawn(shop_catalog::build(catalog_config).await.unwrap());
    let config = cart_config(&keys, &shop_testkit::redis_url(), &catalog.url(""));
    let cart = shop_testkit::spawn(shop_cart::build(config).await.unwrap());
    let admin = shop_testkit::token(&keys, ISSUER, AUDIENCE, &Uuid::new_v4().to_string(), "admin");
    let service = shop_testkit::service_token(&keys, ISSUER, AUDIENCE, shop_testkit::contract::ServiceName::Order);
    TestApp {
        cart,
        catalog,
        db,
        keys,
        http: shop_testkit::client(),
        admin,
        service,
    }
}

/// A shopper: a new user id and its token.
pub struct Shopper {
    pub id: Uuid,
    pub token: String,
}

impl TestApp {
    pub fn shopper(&self) -> Shopper {
        let id = Uuid::new_v4();
        Shopper {
            id,
            token: shop_testkit::token(&self.keys, ISSUER, AUDIENCE, &id.to_string(), "customer"),
        }
    }

    pub async fn product(&self, price: &str, stock: i64, active: bool) -> Value {
        let sku = format!("C-{}", &Uuid::new_v4().simple().to_string()[..10]);
        let r = self
            .http
            .post(self.catalog.url("/products"))
            .bearer_auth(&self.admin)
            .json(
                &json!({"sku": sku, "name": format!("Item {sku}"), "price": price, "stock": stock, "is_active": active,
                          "images": [format!("https://cdn.example.com/{sku}.png")]}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        json(r).await
    }

    pub async fn post(&self, token: &str, path: &str, body: &Value) -> Response {
        self.http
            .post(self.cart.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, token: &str, path: &str) -> Response {
        self.http
            .get(self.cart.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }
}
