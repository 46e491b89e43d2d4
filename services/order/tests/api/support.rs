//! `spawn_app()`: auth, catalog, cart and order, each on a real port; auth, catalog and order
//! on fresh databases, the cart on the test Redis. The order service reaches the catalog
//! through a [`Proxy`] that tests can make fail.

#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use reqwest::Client;
use secrecy::SecretString;
use serde_json::{Value, json};
use shop_testkit::contract::ServiceName;
use shop_testkit::{Spawned, TempKeys, TestDb};
pub use shop_testkit::{expect, json, problem};
use uuid::Uuid;

pub const ISSUER: &str = "http://auth.test";
pub const AUDIENCE: &str = "shopkeeper";
pub const CLIENT_ID: &str = "order";
pub const CLIENT_SECRET: &str = "order-secret-0123456789";

/// How the proxy treats `POST /internal/reservations`.
pub const PASS: u8 = 0;
/// Answers 503 without forwarding: nothing is reserved.
pub const REFUSE: u8 = 1;
/// Forwards, then answers 502: the stock is reserved but the order service never hears so.
pub const LOSE_REPLY: u8 = 2;
/// Reservations pass; `POST /internal/reservations/confirm` answers 503 without forwarding.
pub const REFUSE_CONFIRM: u8 = 3;

pub struct Proxy {
    pub url: String,
    mode: Arc<AtomicU8>,
}

impl Proxy {
    pub fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }
}

type ProxyState = (Arc<AtomicU8>, String, Client);

async fn forward(State((mode, target, client)): State<ProxyState>, req: axum::extract::Request) -> Response {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let reserving = req.method() == axum::http::Method::POST && path == "/internal/reservations";
    let mode = mode.load(Ordering::SeqCst);
    if mode == REFUSE_CONFIRM && path == "/internal/reservations/confirm" {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    if reserving && mode == REFUSE {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let mut out = client.request(parts.method, format!("{target}{path}")).body(bytes);
    for (k, v) in &parts.headers {
        if k != axum::http::header::HOST {
            out = out.header(k, v);
        }
    }
    let resp = out.send().await.unwrap();
    if reserving && mode == LOSE_REPLY {
        return StatusCode::BAD_GATEWAY.into_response();
    }
    let status = resp.status();
    let ct = resp.headers().get("content-type").cloned();
    let body = resp.bytes().await.unwrap();
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    if let Some(ct) = ct {
        r.headers_mut().insert("content-type", ct);
    }
    r
}

async fn spawn_proxy(target: String) -> Proxy {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let mode = Arc::new(AtomicU8::new(PASS));
    let app = axum::Router::new()
        .fallback(forward)
        .with_state((mode.clone(), target, Client::new()));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Proxy { url, mode }
}

pub struct TestApp {
    pub order: Spawned,
    pub auth: Spawned,
    pub catalog: Spawned,
    pub cart: Spawned,
    pub proxy: Proxy,
    pub order_db: TestDb,
    pub catalog_db: TestDb,
    pub keys: TempKeys,
    pub http: Client,
    pub admin: String,
    pub service: String,
}

/// Knobs of the order service under test.
#[derive(Debug, Clone, Copy)]
pub struct Knobs {
    pub sweep_interval: Duration,
    pub sweep_grace: Duration,
    pub fault_after_reserve: bool,
    /// The catalog's `RESERVATION_TTL_SECS`.
    pub reservation_ttl: Duration,
}

impl Default for Knobs {
    fn default() -> Self {
        // The sweeper stays out of the way unless a test wants it.
        Self {
            sweep_interval: Duration::from_secs(3600),
            sweep_grace: Duration::from_secs(1),
            fault_after_reserve: false,
            reservation_ttl: Duration::from_secs(900),
        }
    }
}

pub fn order_config(
    keys: &TempKeys,
    db: &TestDb,
    auth: &str,
    catalog: &str,
    cart: &str,
    knobs: Knobs,
) -> shop_order::config::Config {
    shop_order::config::Config {
        server: shop_testkit::server_config(),
        database_url: SecretString::from(db.url.clone()),
        database_max_connections: 20,
        verifier: shop_testkit::verifier_config(keys, ISSUER, AUDIENCE),
        auth_url: auth.to_owned(),
        catalog_url: catalog.to_owned(),
        cart_url: cart.to_owned(),
        client_id: CLIENT_ID.to_owned(),
        client_secret: SecretString::from(CLIENT_SECRET),
        currency: "KZT".into(),
        sweep_interval: knobs.sweep_interval,
        sweep_grace: knobs.sweep_grace,
        fault_after_reserve: knobs.fault_after_reserve,
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Knobs::default()).await
}

pub async fn spawn_app_with(knobs: Knobs) -> TestApp {
    let keys = shop_testkit::temp_keys();

    let auth_db = shop_testkit::fresh_database().await;
    shop_kit::db::migrate(&auth_db.pool, &shop_auth::MIGRATOR)
        .await
        .unwrap();
    let clients_file = keys.dir.join("service-clients");
    // With the scopes the contract grants order, as xtask and the operator write them.
    shop_testkit::write_service_clients(&clients_file, &[(ServiceName::Order, CLIENT_SECRET)]);
    let auth_config = shop_auth::config::Config {
        server: shop_testkit::server_config(),
        database_url: SecretString::from(auth_db.url.clone()),
        database_max_connections: 5,
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        signing_keys_dir: keys.signing_dir(),
        access_ttl: Duration::from_secs(900),
        refresh_ttl: Duration::from_secs(3600),
        service_ttl: Duration::from_secs(300),
        admin: None,
        service_clients_file: Some(clients_file),
        throttle: shop_auth::config::ThrottleConfig::default(),
        trusted_proxy_hops: 0,
    };
    let auth = shop_testkit::spawn(shop_auth::build(auth_config).await.unwrap());

    let catalog_db = shop_testkit::fresh_database().await;
    shop_kit::db::migrate(&catalog_db.pool, &shop_catalog::MIGRATOR)
        .await
        .unwrap();
    let catalog_config = shop_catalog::config::Config {
        server: shop_testkit::server_config(),
        database_url: SecretString::from(catalog_db.url.clone()),
        database_max_connections: 10,
        verifier: shop_testkit::verifier_config(&keys, ISSUER, AUDIENCE),
        low_stock_threshold: 5,
        reservation_ttl: knobs.reservation_ttl,
    };
    let catalog = shop_testkit::spawn(shop_catalog::build(catalog_config).await.unwrap());

    let cart_config = shop_cart::config::Config {
        server: shop_testkit::server_config(),
        redis_url: SecretString::from(shop_testkit::redis_url()),
        catalog_url: catalog.url(""),
        verifier: shop_testkit::verifier_config(&keys, ISSUER, AUDIENCE),
        limits: shop_cart::config::Limits::default(),
        preferences: shop_cart::config::PrefLimits::default(),
    };
    let cart = shop_testkit::spawn(shop_cart::build(cart_config).await.unwrap());

    let proxy = spawn_proxy(catalog.url("")).await;
    let order_db = shop_testkit::fresh_database().await;
    shop_kit::db::migrate(&order_db.pool, &shop_order::MIGRATOR)
        .await
        .unwrap();
    let config = order_config(&keys, &order_db, &auth.url(""), &proxy.url, &cart.url(""), knobs);
    let order = shop_testkit::spawn(shop_order::build(config).await.unwrap());

    let admin = shop_testkit::token(&keys, ISSUER, AUDIENCE, &Uuid::new_v4().to_string(), "admin");
    let service = shop_testkit::service_token(&keys, ISSUER, AUDIENCE, ServiceName::Order);
    TestApp {
        order,
        auth,
        catalog,
        cart,
        proxy,
        order_db,
        catalog_db,
        keys,
        http: shop_testkit::client(),
        admin,
        service,
    }
}

/// A shopper: a user id and its token.
#[derive(Debug, Clone)]
pub struct Shopper {
    pub id: Uuid,
    pub token: String,
}

impl TestApp {
    /// A customer with a token signed by auth's key (no account needed by the other services).
    pub fn shopper(&self) -> Shopper {
        let id = Uuid::new_v4();
        Shopper {
            id,
            token: shop_testkit::token(&self.keys, ISSUER, AUDIENCE, &id.to_string(), "customer"),
        }
    }

    /// A product in the catalog.
    pub async fn product(&self, price: &str, stock: i64) -> Uuid {
        let sku = format!("O-{}", &Uuid::new_v4().simple().to_string()[..10]);
        let r = self
            .http
            .post(self.catalog.url("/products"))
            .bearer_auth(&self.admin)
            .json(&json!({"sku": sku, "name": format!("Item {sku}"), "price": price, "stock": stock}))
            .send()
            .await
            .unwrap();
        let body = expect(r, 201).await;
        body["id"].as_str().unwrap().parse().unwrap()
    }

    pub async fn stock(&self, product: Uuid) -> i64 {
        let r = self
            .http
            .get(self.catalog.url(&format!("/products/{product}")))
            .send()
            .await
            .unwrap();
        expect(r, 200).await["stock"].as_i64().unwrap()
    }

    pub async fn add_to_cart(&self, who: &Shopper, product: Uuid, qty: i64) {
        let r = self
            .http
            .post(self.cart.url("/cart/add"))
            .bearer_auth(&who.token)
            .json(&json!({"product_id": product, "qty": qty}))
            .send()
            .await
            .unwrap();
        expect(r, 200).await;
    }

    pub async fn cart(&self, who: &Shopper) -> Value {
        let r = self
            .http
            .get(self.cart.url("/cart"))
            .bearer_auth(&who.token)
            .send()
            .await
            .unwrap();
        expect(r, 200).await
    }

    pub async fn checkout(&self, token: &str, key: &str) -> reqwest::Response {
        self.http
            .post(self.order.url("/orders/checkout"))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .get(self.order.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn patch(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .patch(self.order.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// Polls an order (as admin) until `done` holds, for at most 20 s.
    pub async fn wait_for(&self, order: &str, done: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..200 {
            let r = self.get(&self.admin, "/admin/orders?per_page=100").await;
            let page = expect(r, 200).await;
            if let Some(o) = page["items"].as_array().unwrap().iter().find(|o| o["id"] == order)
                && done(o)
            {
                return o.clone();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("order {order} never reached the expected state");
    }
}
