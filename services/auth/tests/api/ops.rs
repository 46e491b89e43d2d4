//! Operations: health, readiness, metrics, request ids, the OpenAPI document.

use std::time::Duration;

use secrecy::SecretString;
use shop_kit::config::ServerConfig;

use crate::support::*;

#[tokio::test]
async fn health_on_both_ports_metrics_only_on_admin() {
    let app = spawn_app().await;
    let api = app.http.get(app.url("/health")).send().await.unwrap();
    assert_eq!(api.status(), 200);
    let admin = app.http.get(app.server.admin_url("/health")).send().await.unwrap();
    assert_eq!(admin.status(), 200);
    problem(app.http.get(app.url("/metrics")).send().await.unwrap(), 404).await;
    let ready = app.http.get(app.server.admin_url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(json(ready).await["checks"]["postgres"], "ok");
}

#[tokio::test]
async fn red_metrics_use_the_route_template() {
    let app = spawn_app().await;
    let t = app.customer("xena@example.com").await;
    app.me(access(&t)).await;
    app.http
        .get(app.url("/users/0191d7a4-3c4e-7000-8000-000000000000"))
        .send()
        .await
        .unwrap();
    app.http.get(app.url("/no/such/page")).send().await.unwrap();
    let r = app.http.get(app.server.admin_url("/metrics")).send().await.unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = r.text().await.unwrap();
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/auth/me",status="200"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/users/{id}",status="401"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="unmatched",status="404"} 1"#),
        "{text}"
    );
    assert!(!text.contains("0191d7a4"), "raw paths never become labels");
    assert!(
        text.contains(r#"http_request_duration_seconds_bucket{le="0.005",method="GET",route="/auth/me"}"#),
        "{text}"
    );
    assert!(text.contains(r#"auth_logins_total{result="success"} 1"#), "{text}");
    assert!(text.contains("auth_registrations_total 1"), "{text}");
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let app = spawn_app().await;
    let r = app
        .http
        .get(app.url("/health"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123");
    let r = app.http.get(app.url("/health")).send().await.unwrap();
    let id = r.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    // A hostile id is replaced, not echoed.
    let r = app
        .http
        .get(app.url("/health"))
        .header("x-request-id", "<script>alert(1)</script>")
        .send()
        .await
        .unwrap();
    assert!(uuid::Uuid::parse_str(r.headers()["x-request-id"].to_str().unwrap()).is_ok());
}

#[tokio::test]
async fn ready_names_the_dependency_that_fails() {
    let db = shop_testkit::fresh_database().await;
    let keys = shop_testkit::temp_keys();
    let mut config = test_config(&db, &keys);
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    config.database_url = SecretString::from(format!("postgres://postgres@127.0.0.1:{closed}/auth"));
    config.admin = None;
    config.server = ServerConfig {
        drain_timeout: Duration::from_secs(1),
        ..ServerConfig::for_tests()
    };
    let server = shop_testkit::spawn(shop_auth::build(config).await.unwrap());
    let http = shop_testkit::client();
    let r = http.get(server.admin_url("/ready")).send().await.unwrap();
    let body = problem(r, 503).await;
    assert_eq!(body["readiness"], "not_ready");
    assert_ne!(body["checks"]["postgres"], "ok");
    assert!(body["detail"].as_str().unwrap().contains("postgres"));
    // Liveness does not depend on the database.
    assert_eq!(
        http.get(server.admin_url("/health")).send().await.unwrap().status(),
        200
    );
    // And a request that needs it is a 503 problem, not a 500.
    let r = http
        .post(server.url("/auth/login"))
        .json(&serde_json::json!({"email": "a@b.co", "password": "whatever-it-is"}))
        .send()
        .await
        .unwrap();
    problem(r, 503).await;
}

#[tokio::test]
async fn openapi_document_lists_the_routes() {
    let app = spawn_app().await;
    let doc = json(app.http.get(app.url("/openapi.json")).send().await.unwrap()).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/auth/register",
        "/auth/login",
        "/auth/refresh",
        "/auth/logout",
        "/auth/me",
        "/auth/token",
        "/users",
        "/users/{id}",
        "/.well-known/jwks.json",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test]
async fn secrets_never_reach_the_config_debug_output() {
    let db = shop_testkit::fresh_database().await;
    let keys = shop_testkit::temp_keys();
    let config = test_config(&db, &keys);
    let printed = format!("{config:?}");
    assert!(!printed.contains(ADMIN_PASSWORD), "{printed}");
    assert!(!printed.contains(&db.url), "{printed}");
}

fn shop_auth() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_shop-auth"));
    cmd.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd
}

#[tokio::test]
async fn the_binary_stops_with_the_name_of_a_missing_or_malformed_variable() {
    let out = shop_auth().arg("serve").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("DATABASE_URL") && err.contains("required"), "{err}");

    let out = shop_auth()
        .env("LISTEN_ADDR", "everywhere:80")
        .arg("serve")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("LISTEN_ADDR") && err.contains("everywhere:80"), "{err}");

    let out = shop_auth()
        .env("DATABASE_URL", "postgres://postgres:hunter2@127.0.0.1:1/auth")
        .env("JWT_ISSUER", ISSUER)
        .env("JWT_AUDIENCE", AUDIENCE)
        .env("JWT_SIGNING_KEYS_DIR", "/nonexistent/keys")
        .env("ACCESS_TOKEN_TTL_SECS", "fifteen minutes")
        .arg("serve")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ACCESS_TOKEN_TTL_SECS"), "{err}");
    assert!(!err.contains("hunter2"), "the database password never prints: {err}");

    let out = shop_auth()
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/auth")
        .env("JWT_ISSUER", ISSUER)
        .env("JWT_AUDIENCE", AUDIENCE)
        .env("JWT_SIGNING_KEYS_DIR", "/nonexistent/keys")
        .env("ADMIN_EMAIL", "root")
        .env("ADMIN_PASSWORD", "long-enough-password")
        .arg("serve")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ADMIN_EMAIL"), "{err}");

    let out = shop_auth()
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/auth")
        .env("JWT_ISSUER", ISSUER)
        .env("JWT_AUDIENCE", AUDIENCE)
        .env("JWT_SIGNING_KEYS_DIR", "/nonexistent/keys")
        .env("LOGIN_MAX_FAILURES_PER_PAIR", "0")
        .arg("serve")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("LOGIN_MAX_FAILURES_PER_PAIR") && err.contains("at least 1"),
        "{err}"
    );

    let out = shop_auth().arg("frobnicate").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage"));
}

#[tokio::test]
async fn migrate_and_keygen_subcommands_work() {
    let db = shop_testkit::fresh_database().await;
    let out = shop_auth()
        .env("DATABASE_URL", &db.url)
        .arg("migrate")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        tables,
        ["_sqlx_migrations", "login_throttle", "refresh_tokens", "users"]
    );
    // Idempotent.
    assert!(
        shop_auth()
            .env("DATABASE_URL", &db.url)
            .arg("migrate")
            .status()
            .unwrap()
            .success()
    );

    let dir = std::env::temp_dir().join(format!("keygen-{}", uuid::Uuid::new_v4().simple()));
    let out = shop_auth().args(["keygen", "--out"]).arg(&dir).output().unwrap();
    assert!(out.status.success());
    let kid = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let keys = shop_kit::keys::load_signing_keys(&dir.join("signing")).unwrap();
    assert_eq!(keys[0].kid, kid);
    assert_eq!(
        shop_kit::keys::load_public_keys(&dir.join("public")).unwrap()[0].kid,
        kid
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.join("signing").join(format!("{kid}.pem")))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "private keys are not world-readable");
    }
}
