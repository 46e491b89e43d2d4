//! The shop behind the gateway under test: real auth, catalog, cart and order services on
//! fresh databases and the test Redis, each on its own port; an `Echo` server that records
//! what reaches it (for header, streaming and slowness checks); cookie helpers.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use reqwest::Client;
use secrecy::SecretString;
use serde_json::{Value, json};
use shop_gateway::config::{BreakerConfig, Config, ImageConfig, Limits, Upstream, UpstreamConfig};
use shop_testkit::{Spawned, TempKeys, TestDb};

pub const ISSUER: &str = "http://auth.test";
pub const AUDIENCE: &str = "shopkeeper";
pub const ORDER_CLIENT: &str = "order";
pub const ORDER_SECRET: &str = "order-secret-0123456789";
pub const PASSWORD: &str = "correct horse battery staple";

/// The four services.
pub struct Shop {
    pub auth: Spawned,
    pub catalog: Spawned,
    pub cart: Spawned,
    pub order: Spawned,
    pub keys: TempKeys,
    pub auth_db: TestDb,
    pub catalog_db: TestDb,
    pub order_db: TestDb,
}

pub async fn spawn_shop() -> Shop {
    let keys = shop_testkit::temp_keys();
    let auth_db = shop_testkit::fresh_database().await;
    shop_kit::db::migrate(&auth_db.pool, &shop_auth::MIGRATOR)
        .await
        .unwrap();
    let clients_file = keys.dir.join("service-clients");
    shop_testkit::write_service_clients(
        &clients_file,
        &[(shop_testkit::contract::ServiceName::Order, ORDER_SECRET)],
    );
    let auth = shop_testkit::spawn(
        shop_auth::build(shop_auth::config::Config {
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
            trusted_proxy_hops: 1,
        })
        .await
        .unwrap(),
    );
    let catalog_db = shop_testkit::fresh_database().await;
    shop_kit::db::migrate(&catalog_db.pool, &shop_catalog::MIGRATOR)
        .await
        .unwrap();
    let catalog = shop_testkit::spawn(
        shop_catalog::build(shop_catalog::config::Config {
            server: shop_testkit::server_config(),
            database_url: SecretString::from(catalog_db.url.clone()),
            database_max_connections: 5,
            verifier: polling_verifier(&keys, &auth),
            low_stock_threshold: 5,
            reservation_ttl: std::time::Duration::from_secs(900),
        })
        .await
        .unwrap(),
    );
    let cart = shop_testkit::spawn(
        shop_cart::build(shop_cart::config::Config {
            server: shop_testkit::server_config(),
            redis_url: SecretString::from(shop_testkit::redis_url()),
            catalog_url: catalog.url(""),
            verifier: polling_verifier(&keys, &auth),
            limits: shop_cart::config::Limits::default(),
            preferences: shop_cart::config::PrefLimits::default(),
        })
        .await
        .unwrap(),
    );
    let order_db = shop_testkit::fresh_database().await;
    shop_kit::db::migrate(&order_db.pool, &shop_order::MIGRATOR)
        .await
        .unwrap();
    let order = shop_testkit::spawn(
        shop_order::build(shop_order::config::Config {
            server: shop_testkit::server_config(),
            database_url: SecretString::from(order_db.url.clone()),
            database_max_connections: 5,
            verifier: polling_verifier(&keys, &auth),
            auth_url: auth.url(""),
            catalog_url: catalog.url(""),
            cart_url: cart.url(""),
            client_id: ORDER_CLIENT.into(),
            client_secret: SecretString::from(ORDER_SECRET),
            currency: "KZT".into(),
            sweep_interval: Duration::from_secs(3600),
            sweep_grace: Duration::from_secs(60),
            fault_after_reserve: false,
        })
        .await
        .unwrap(),
    );
    Shop {
        auth,
        catalog,
        cart,
        order,
        keys,
        auth_db,
        catalog_db,
        order_db,
    }
}

/// What a service verifies tokens with: the test keys, and auth's list of ended sessions
/// polled as in production.
pub fn polling_verifier(keys: &TempKeys, auth: &Spawned) -> shop_kit::auth::VerifierConfig {
    shop_kit::auth::VerifierConfig {
        auth_url: Some(auth.url("")),
        ..shop_testkit::verifier_config(keys, ISSUER, AUDIENCE)
    }
}

/// A gateway configuration pointing at `urls` (auth, catalog, cart, order), with generous
/// limits unless a test lowers them.
pub fn config(keys: &TempKeys, urls: [String; 4]) -> Config {
    let [auth, catalog, cart, order] = urls;
    let upstream = |url: String| UpstreamConfig {
        url,
        timeout: Duration::from_secs(5),
    };
    let mut limits = Limits::default();
    let generous: shop_gateway::config::Rate = "100000/1m".parse().unwrap();
    limits.api_free = generous;
    limits.api_premium = generous;
    limits.search_free = generous;
    limits.search_premium = generous;
    limits.login = generous;
    limits.register = generous;
    Config {
        server: shop_testkit::server_config(),
        verifier: shop_testkit::verifier_config(keys, ISSUER, AUDIENCE),
        upstreams: vec![
            (Upstream::Auth, upstream(auth)),
            (Upstream::Catalog, upstream(catalog)),
            (Upstream::Cart, upstream(cart)),
            (Upstream::Order, upstream(order)),
        ],
        breaker: BreakerConfig {
            failures: 5,
            open_for: Duration::from_secs(10),
        },
        redis_url: SecretString::from(shop_testkit::redis_url()),
        public_url: "http://shop.test".into(),
        cookie_secure: false,
        session_secret: Some(SecretString::from("a-test-session-secret-of-some-length")),
        trusted_proxy_hops: 0,
        limits,
        images: ImageConfig::disabled(),
        ui: shop_gateway::config::UiConfig::default(),
    }
}

impl Shop {
    pub fn urls(&self) -> [String; 4] {
        [
            self.auth.url(""),
            self.catalog.url(""),
            self.cart.url(""),
            self.order.url(""),
        ]
    }

    /// A gateway in front of this shop, polling its auth's list of ended sessions.
    pub fn config(&self) -> Config {
        let mut config = config(&self.keys, self.urls());
        config.verifier.auth_url = Some(self.auth.url(""));
        config
    }

    /// An access token as auth would issue it, for `role` and `plan`.
    pub fn token(&self, sub: &str, role: &str, plan: &str) -> String {
        mint(&self.keys, sub, role, plan)
    }
}

/// Signs an access token with `keys`.
pub fn mint(keys: &TempKeys, sub: &str, role: &str, plan: &str) -> String {
    mint_until(keys, sub, role, plan, None)
}

/// Signs an access token whose plan ends at `plan_expires_at` (Unix seconds).
pub fn mint_until(keys: &TempKeys, sub: &str, role: &str, plan: &str, plan_expires_at: Option<i64>) -> String {
    let pem = std::fs::read(keys.signing_dir().join(format!("{}.pem", keys.kid))).unwrap();
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"sub": sub, "email": format!("{role}@example.com"), "role": role, "plan": plan,
        "plan_expires_at": plan_expires_at,
        "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 900, "jti": uuid::Uuid::new_v4().to_string(),
        "sid": uuid::Uuid::new_v4()});
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(keys.kid.clone());
    let key = jsonwebtoken::EncodingKey::from_ed_pem(&pem).unwrap();
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

pub async fn spawn_gateway(config: Config) -> Spawned {
    shop_testkit::spawn(shop_gateway::build(config).await.unwrap())
}

pub fn client() -> Client {
    shop_testkit::client()
}

/// Registers a customer at auth directly; returns the email.
pub async fn register(shop: &Shop) -> String {
    let email = format!("u{}@example.com", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let resp = client()
        .post(shop.auth.url("/auth/register"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    email
}

/// Signs `email` in through the gateway's API; the access token.
pub async fn api_login(gateway: &Spawned, email: &str) -> String {
    let login = client()
        .post(gateway.url("/api/v1/auth/login"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    shop_testkit::expect(login, 200).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Puts one unit of `product` in the cart of `token`'s user, through the gateway.
pub async fn add_one(gateway: &Spawned, token: &str, product: &str) {
    let add = client()
        .post(gateway.url("/api/v1/cart/add"))
        .bearer_auth(token)
        .json(&json!({"product_id": product, "qty": 1}))
        .send()
        .await
        .unwrap();
    shop_testkit::expect(add, 200).await;
}

/// A browser's cookie jar, kept by hand so tests can read every attribute.
#[derive(Debug, Default, Clone)]
pub struct Jar(pub BTreeMap<String, String>);

impl Jar {
    /// Applies an answer's `Set-Cookie` headers; returns them as sent.
    pub fn take(&mut self, resp: &reqwest::Response) -> Vec<String> {
        let mut raw = Vec::new();
        for value in resp.headers().get_all("set-cookie") {
            let text = value.to_str().unwrap().to_owned();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || text.contains("Max-Age=0") {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_owned(), value.to_owned());
            }
            raw.push(text);
        }
        raw
    }

    /// The `Cookie` header.
    pub fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// Gets `/api/v1/session` with `jar` (taking its cookies); returns the CSRF token.
pub async fn csrf(gateway: &Spawned, jar: &mut Jar) -> String {
    let resp = client()
        .get(gateway.url("/api/v1/session"))
        .header("cookie", jar.header())
        .send()
        .await
        .unwrap();
    jar.take(&resp);
    let body: Value = resp.json().await.unwrap();
    body["csrf_token"].as_str().unwrap().to_owned()
}

/// Logs in through the gateway's form; returns the jar holding the session.
pub async fn browser_login(gateway: &Spawned, email: &str) -> Jar {
    let mut jar = Jar::default();
    let token = csrf(gateway, &mut jar).await;
    let resp = client()
        .post(gateway.url("/login"))
        .header("cookie", jar.header())
        .form(&[
            ("email", email),
            ("password", PASSWORD),
            ("_csrf", &token),
            ("next", "/cart"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/cart");
    jar.take(&resp);
    assert!(
        jar.get("sk_access").is_some() && jar.get("sk_refresh").is_some(),
        "{jar:?}"
    );
    jar
}

/// What reached an [`Echo`] server.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path_and_query: String,
    pub headers: BTreeMap<String, String>,
    pub body_len: usize,
}

/// How the echo server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// JSON describing the request.
    Echo,
    /// Waits this long first.
    Slow(Duration),
    /// A body of this many bytes, streamed in 64 KiB chunks.
    Big(usize),
}

#[derive(Clone)]
struct EchoState {
    seen: Arc<Mutex<Vec<Seen>>>,
    mode: Arc<Mutex<Mode>>,
}

/// A recording upstream.
pub struct Echo {
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    mode: Arc<Mutex<Mode>>,
}

impl Echo {
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
    pub fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }
}

async fn echo(State(state): State<EchoState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let seen = Seen {
        method: parts.method.to_string(),
        path_and_query: parts.uri.path_and_query().map(|p| p.to_string()).unwrap_or_default(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
            .collect(),
        body_len: bytes.len(),
    };
    state.seen.lock().unwrap().push(seen.clone());
    let mode = *state.mode.lock().unwrap();
    match mode {
        Mode::Echo => axum::Json(json!({"path": seen.path_and_query, "body_len": seen.body_len})).into_response(),
        Mode::Slow(d) => {
            tokio::time::sleep(d).await;
            axum::Json(json!({"slow": true})).into_response()
        }
        Mode::Big(n) => {
            let chunks = (0..n.div_ceil(65536)).map(move |i| {
                let len = (n - i * 65536).min(65536);
                Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'x'; len]))
            });
            Response::new(Body::from_stream(futures::stream::iter(chunks)))
        }
    }
}

pub async fn spawn_echo() -> Echo {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let state = EchoState {
        seen: Arc::default(),
        mode: Arc::new(Mutex::new(Mode::Echo)),
    };
    let app = axum::Router::new().fallback(echo).with_state(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Echo {
        url,
        seen: state.seen,
        mode: state.mode,
    }
}

/// A URL where nothing listens.
pub async fn dead_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// Creates an active product at the catalog (as an admin) with `stock`; returns its id.
pub async fn product(shop: &Shop, name: &str, stock: i64) -> String {
    let admin = shop.token(&uuid::Uuid::new_v4().to_string(), "admin", "free");
    let sku = format!("SKU-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let resp = client()
        .post(shop.catalog.url("/products"))
        .bearer_auth(admin)
        .json(&json!({"sku": sku, "name": name, "price": "1500.00", "stock": stock}))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// The value of one sample of the gateway's `/metrics`; a missing sample fails the test (so a
/// zero is read, never assumed).
pub async fn metric(gateway: &Spawned, sample: &str) -> f64 {
    let text = gateway.metrics().await;
    text.lines()
        .find_map(|line| line.strip_prefix(sample).and_then(|rest| rest.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no sample {sample} in /metrics:\n{text}"))
}

/// Stops a service and waits until its port refuses connections.
pub async fn stop(service: &mut Spawned) {
    service.begin_shutdown();
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(service.api).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} still accepts connections", service.api);
}

/// A page as a browser with `jar` gets it in `lang`: the status and the HTML (the jar takes
/// the answer's cookies).
pub async fn page(gateway: &Spawned, jar: &mut Jar, path: &str, lang: &str) -> (u16, String) {
    let resp = client()
        .get(gateway.url(path))
        .header("cookie", jar.header())
        .header("accept-language", lang)
        .send()
        .await
        .unwrap();
    jar.take(&resp);
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

/// A form posted as a browser with `jar` posts it, in `lang` (the jar takes the cookies).
pub async fn submit(
    gateway: &Spawned,
    jar: &mut Jar,
    path: &str,
    lang: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let resp = client()
        .post(gateway.url(path))
        .header("cookie", jar.header())
        .header("accept-language", lang)
        .form(form)
        .send()
        .await
        .unwrap();
    jar.take(&resp);
    resp
}

/// Where a redirect goes.
pub fn location(resp: &reqwest::Response) -> String {
    resp.headers()["location"].to_str().unwrap().to_owned()
}

/// The value of the first `name="…" value="…"` in a page (hidden fields, filled inputs).
pub fn field_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let rest = html
        .split(&marker)
        .nth(1)
        .unwrap_or_else(|| panic!("no field {name} in {html}"));
    rest[..rest.find('"').unwrap()].to_owned()
}
