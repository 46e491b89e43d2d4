//! Test support for Shopkeeper services.
//!
//! - [`fresh_database`]: a new, empty Postgres database per test, on the private server that
//!   `cargo xtask test` starts (`SHOP_TEST_DATABASE_URL`, a superuser URL).
//! - [`redis_url`]: the private Redis of the test run (`SHOP_TEST_REDIS_URL`).
//! - [`temp_keys`]: a fresh Ed25519 key pair on disk, as auth and the verifiers read them;
//!   [`token`], [`service_token`] and [`scoped_token`] sign tokens as auth would, and
//!   [`write_service_clients`] writes auth's clients file with the contract's scopes.
//! - [`spawn`]: runs a bound [`Server`] on `127.0.0.1:0` in the background; [`Spawned`] knows
//!   its URLs and stops it gracefully.
//! - [`json`], [`expect`], [`problem`]: read a response's body, asserting its status (and, for
//!   a problem, its RFC 9457 shape).
//! - [`webdriver_connector`]: how the browser tests' fantoccini reaches a local chromedriver.
//! - [`promql`]: the metric names a PromQL expression reads and a `/metrics` page exports.

pub mod promql;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

pub use shop_contract as contract;
use shop_kit::server::Server;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Installs the crypto provider and, with `TEST_LOG=1`, a log subscriber. Idempotent.
pub fn init() {
    shop_kit::install_crypto_provider();
    if std::env::var_os("TEST_LOG").is_some() {
        // SAFETY of intent: tests are single-process; only logging configuration is touched.
        let _ = shop_kit::telemetry::init("test");
    }
}

fn env_or_explain(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: the tests need the private Postgres and Redis that `cargo xtask test` starts. \
             Run `cargo xtask test` (or `cargo xtask test -- <filter>` for some tests)."
        )
    })
}

/// A database created for one test.
#[derive(Debug, Clone)]
pub struct TestDb {
    /// Its URL (a superuser on the private test server).
    pub url: String,
    /// Its name.
    pub name: String,
    /// A small pool on it.
    pub pool: PgPool,
}

/// Creates a new database on the test server and returns it.
pub async fn fresh_database() -> TestDb {
    init();
    let admin_url = env_or_explain("SHOP_TEST_DATABASE_URL");
    // The name carries its birth time, so that later tests can drop it once it is idle.
    let born = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let name = format!("t_{born}_{}", uuid::Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(&admin_url)
        .await
        .expect("connect to the test Postgres");
    drop_idle_databases(&mut conn, born).await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
        .execute(&mut conn)
        .await
        .expect("create the test database");
    let _ = conn.close().await;
    let options = PgConnectOptions::from_str(&admin_url)
        .expect("SHOP_TEST_DATABASE_URL parses")
        .database(&name);
    let url = with_database(&admin_url, &name);
    let pool = PgPoolOptions::new()
        .max_connections(5)
        .connect_with(options)
        .await
        .expect("connect to the test database");
    TestDb { url, name, pool }
}

/// A test database older than this with no session on it is finished with.
const IDLE_DATABASE_AGE_SECS: u64 = 60;

/// Drops the databases earlier tests left behind: a whole run leaves hundreds (about 4 GiB)
/// otherwise. Only those born more than [`IDLE_DATABASE_AGE_SECS`] ago with no session are
/// dropped, and `DROP DATABASE` refuses one that gained a session meanwhile; every failure
/// (another test dropped it first, it is in use) leaves it for a later test.
async fn drop_idle_databases(conn: &mut PgConnection, now: u64) {
    let idle: Vec<String> = sqlx::query_scalar(
        "SELECT d.datname FROM pg_database d \
         WHERE d.datname LIKE 't\\_%\\_%' \
           AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datid = d.oid)",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap_or_default();
    for name in idle {
        let born = name.split('_').nth(1).and_then(|s| s.parse::<u64>().ok());
        if born.is_some_and(|born| born + IDLE_DATABASE_AGE_SECS < now) {
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(r#"DROP DATABASE IF EXISTS "{name}""#)))
                .execute(&mut *conn)
                .await;
        }
    }
}

fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let base = match base.rfind('/') {
        Some(i) if i > "postgres://".len() => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

/// The test run's private Redis.
pub fn redis_url() -> String {
    env_or_explain("SHOP_TEST_REDIS_URL")
}

/// A directory with `signing/<kid>.pem` and `public/<kid>.pem` of a new Ed25519 key.
#[derive(Debug, Clone)]
pub struct TempKeys {
    /// The directory holding `signing/` and `public/`.
    pub dir: PathBuf,
    /// The kid of the first key.
    pub kid: String,
}

impl TempKeys {
    /// The private keys' directory (`JWT_SIGNING_KEYS_DIR`).
    pub fn signing_dir(&self) -> PathBuf {
        self.dir.join("signing")
    }
    /// The public keys' directory (`JWT_PUBLIC_KEYS_DIR`).
    pub fn public_dir(&self) -> PathBuf {
        self.dir.join("public")
    }
    /// Adds another (newer) key and returns its kid.
    pub fn rotate(&self) -> String {
        std::thread::sleep(Duration::from_millis(1100)); // kids sort by the second
        shop_kit::keys::generate_into(&self.dir).expect("generate key")
    }
}

/// Signs `claims` with `keys`' first key.
fn sign(keys: &TempKeys, claims: &serde_json::Value) -> String {
    let pem = std::fs::read(keys.signing_dir().join(format!("{}.pem", keys.kid))).expect("read the signing key");
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(keys.kid.clone());
    let key = jsonwebtoken::EncodingKey::from_ed_pem(&pem).expect("an Ed25519 key");
    jsonwebtoken::encode(&header, claims, &key).expect("sign")
}

/// An access token signed with `keys`' first key, as auth would issue it (15 minutes). A
/// `service` token made here carries no scope: see [`service_token`].
pub fn token(keys: &TempKeys, issuer: &str, audience: &str, sub: &str, role: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = serde_json::json!({"sub": sub, "email": format!("{role}@example.com"), "role": role, "plan": "free",
        "iss": issuer, "aud": audience, "iat": now, "exp": now + 900, "jti": uuid::Uuid::new_v4().to_string()});
    sign(keys, &claims)
}

/// The token auth issues to service client `client` (client id = its name), with the scopes
/// the contract grants it (`shop_contract::ServiceName::scopes`).
pub fn service_token(keys: &TempKeys, issuer: &str, audience: &str, client: shop_contract::ServiceName) -> String {
    scoped_token(keys, issuer, audience, client.as_str(), client.scopes())
}

/// A `service` token for client id `sub` carrying exactly `scopes` (none: no `scope` claim),
/// as auth would issue it (5 minutes).
pub fn scoped_token(
    keys: &TempKeys,
    issuer: &str,
    audience: &str,
    sub: &str,
    scopes: &[shop_contract::Scope],
) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut claims = serde_json::json!({"sub": sub, "role": "service", "plan": "free",
        "iss": issuer, "aud": audience, "iat": now, "exp": now + 300, "jti": uuid::Uuid::new_v4().to_string()});
    if !scopes.is_empty() {
        claims["scope"] = shop_contract::Scope::join(scopes).into();
    }
    sign(keys, &claims)
}

/// Writes auth's clients file (`SERVICE_CLIENTS_FILE`) at `path`: one line per `(client,
/// secret)`, with the scopes the contract grants that client, as xtask and the operator write it.
pub fn write_service_clients(path: &std::path::Path, clients: &[(shop_contract::ServiceName, &str)]) {
    let mut file = format!("{}\n", shop_contract::CLIENTS_FILE_HEADER);
    for (client, secret) in clients {
        file.push_str(&shop_contract::client_line(*client, secret));
        file.push('\n');
    }
    std::fs::write(path, file).expect("write the service clients file");
}

/// What a service under test verifies [`token`]s with: `keys`' public directory.
pub fn verifier_config(keys: &TempKeys, issuer: &str, audience: &str) -> shop_kit::auth::VerifierConfig {
    shop_kit::auth::VerifierConfig {
        issuer: issuer.to_owned(),
        audience: audience.to_owned(),
        keys: shop_kit::auth::KeyConfig::Dir(keys.public_dir()),
        auth_url: None,
    }
}

/// Listeners on `127.0.0.1:0` with a short drain, for services under test.
pub fn server_config() -> shop_kit::config::ServerConfig {
    shop_kit::config::ServerConfig {
        drain_timeout: Duration::from_secs(2),
        ..shop_kit::config::ServerConfig::for_tests()
    }
}

/// A new key directory under the system temp dir.
pub fn temp_keys() -> TempKeys {
    let dir = std::env::temp_dir()
        .join("shopkeeper-tests")
        .join(uuid::Uuid::new_v4().simple().to_string());
    let kid = shop_kit::keys::generate_into(&dir).expect("generate key");
    TempKeys { dir, kid }
}

/// A server running in the background of a test.
#[derive(Debug)]
pub struct Spawned {
    /// The API address.
    pub api: SocketAddr,
    /// The admin address.
    pub admin: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Spawned {
    /// `http://{api}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.api)
    }
    /// `http://{admin}{path}`.
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin)
    }
    /// The service's `/metrics` page (admin port).
    pub async fn metrics(&self) -> String {
        client()
            .get(self.admin_url("/metrics"))
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("the /metrics body")
    }
    /// The sum of the samples of `metric` on the `/metrics` page whose labels contain every
    /// one of `labels` (`route="/cart/add"`, or a prefix of one, `route="/internal/`): 0 when
    /// none does.
    pub async fn sample_sum(&self, metric: &str, labels: &[&str]) -> f64 {
        sample_sum(&self.metrics().await, metric, labels)
    }
    /// Triggers graceful shutdown without waiting for it.
    pub fn begin_shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
    /// Shuts down gracefully and waits until the server has stopped.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.begin_shutdown();
        match self.handle.take() {
            Some(h) => h.await?,
            None => Ok(()),
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        self.begin_shutdown();
    }
}

/// The sum of the samples of `metric` in an exposition whose labels contain every one of
/// `labels` (see [`Spawned::sample_sum`]).
pub fn sample_sum(exposition: &str, metric: &str, labels: &[&str]) -> f64 {
    exposition
        .lines()
        .filter_map(|line| line.strip_prefix(metric))
        .filter(|rest| rest.starts_with('{') || rest.starts_with(' '))
        .filter(|rest| labels.iter().all(|l| rest.contains(l)))
        .filter_map(|rest| rest.split(" # ").next()?.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Runs a bound server until the [`Spawned`] is stopped or dropped.
pub fn spawn(server: Server) -> Spawned {
    let api = server.api_addr();
    let admin = server.admin_addr();
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    Spawned {
        api,
        admin,
        stop: Some(tx),
        handle: Some(handle),
    }
}

/// The JSON body of a response (panics, showing the body, when it is not JSON).
pub async fn json(resp: reqwest::Response) -> serde_json::Value {
    let text = resp.text().await.expect("read the body");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

/// Asserts the status of a response and returns its JSON body (`null` when the body is empty
/// or not JSON, e.g. a 204).
pub async fn expect(resp: reqwest::Response, status: u16) -> serde_json::Value {
    let got = resp.status().as_u16();
    let text = resp.text().await.expect("read the body");
    assert_eq!(got, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
}

/// Asserts that a response is an RFC 9457 problem document with `status` (status line, content
/// type, `status`, a Shopkeeper `type` and a `title`) and returns it.
pub async fn problem(resp: reqwest::Response, status: u16) -> serde_json::Value {
    let got = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = resp.text().await.expect("read the body");
    assert_eq!(got, status, "unexpected status; body: {text}");
    assert_eq!(content_type, "application/problem+json", "content type; body: {text}");
    let body: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    assert_eq!(body["status"], status, "{body}");
    assert!(
        body["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("https://shopkeeper.dev/problems/")),
        "{body}"
    );
    assert!(body["title"].is_string(), "{body}");
    body
}

/// An HTTP client for tests: no redirects, a generous timeout.
pub fn client() -> reqwest::Client {
    init();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("build the test client")
}

/// The plain-HTTP connector a fantoccini `ClientBuilder::new` needs to reach a chromedriver on
/// 127.0.0.1: the browser tests build fantoccini without its TLS features (they would bring a
/// second rustls crypto provider), and then it has no connector of its own.
pub fn webdriver_connector() -> hyper_util::client::legacy::connect::HttpConnector {
    hyper_util::client::legacy::connect::HttpConnector::new()
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_is_swapped_in_the_url() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5999/postgres", "t_1"),
            "postgres://postgres@127.0.0.1:5999/t_1"
        );
        assert_eq!(
            with_database("postgres://u@h:1/postgres?sslmode=disable", "x"),
            "postgres://u@h:1/x?sslmode=disable"
        );
    }

    #[test]
    fn sample_sums_pick_the_metric_and_labels_asked_for() {
        let text = "# TYPE http_requests counter
http_requests_total{method=\"GET\",route=\"/internal/a\",status=\"200\"} 2
http_requests_total{method=\"POST\",route=\"/internal/b\",status=\"200\"} 3
http_requests_total{method=\"GET\",route=\"/cart\",status=\"200\"} 5
http_requests_total_extra{route=\"/internal/a\"} 100
plain_total 7
bucket{le=\"0.1\"} 4 # {trace_id=\"abc\"} 0.05
";
        assert_eq!(
            super::sample_sum(text, "http_requests_total", &["route=\"/internal/"]),
            5.0
        );
        assert_eq!(super::sample_sum(text, "http_requests_total", &[]), 10.0);
        assert_eq!(super::sample_sum(text, "plain_total", &[]), 7.0);
        assert_eq!(
            super::sample_sum(text, "bucket", &[]),
            4.0,
            "the exemplar is not the value"
        );
        assert_eq!(super::sample_sum(text, "missing_total", &[]), 0.0);
    }
}
