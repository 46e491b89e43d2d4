//! Access tokens: claims, JWKS with two keys, client credentials, and every kind of bad token.

use std::sync::Arc;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use shop_kit::auth::{Role, TokenError, TokenVerifier};

use crate::support::*;

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn header_of(token: &str) -> Value {
    let h = token.split('.').next().unwrap();
    serde_json::from_slice(&base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, h).unwrap())
        .unwrap()
}

#[tokio::test]
async fn access_tokens_carry_the_claims_and_verify_via_jwks() {
    let app = spawn_app().await;
    let t = app.customer("tina@example.com").await;
    let header = header_of(access(&t));
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["kid"], app.keys.kid.as_str());
    let c = claims_of(access(&t));
    for claim in ["sub", "email", "role", "plan", "exp", "iat", "iss", "aud", "jti", "sid"] {
        assert!(!c[claim].is_null(), "missing {claim}: {c}");
    }
    assert_eq!(c["email"], "tina@example.com");
    assert_eq!(c["iss"], ISSUER);
    assert_eq!(c["aud"], AUDIENCE);
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 900);

    // A peer service verifying with auth's JWKS endpoint, fetched over HTTP.
    let verifier = TokenVerifier::with_jwks(ISSUER, AUDIENCE, app.url("/.well-known/jwks.json")).unwrap();
    let claims = verifier.verify(access(&t)).await.unwrap();
    assert_eq!(claims.role, Role::Customer);
    assert_eq!(claims.email.as_deref(), Some("tina@example.com"));
}

#[tokio::test]
async fn two_keys_sign_with_the_newest_and_accept_both() {
    let db = shop_testkit::fresh_database().await;
    shop_kit::db::migrate(&db.pool, &shop_auth::MIGRATOR).await.unwrap();
    let keys = shop_testkit::temp_keys();
    let old_kid = keys.kid.clone();
    let new_kid = keys.rotate();
    let server = shop_testkit::spawn(shop_auth::build(test_config(&db, &keys)).await.unwrap());
    let app = TestApp {
        server,
        db,
        keys,
        http: shop_testkit::client(),
    };

    let r = app.http.get(app.url("/.well-known/jwks.json")).send().await.unwrap();
    assert_eq!(r.headers()["cache-control"], "public, max-age=300");
    let jwks = json(r).await;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, [old_kid.as_str(), new_kid.as_str()]);
    for k in jwks["keys"].as_array().unwrap() {
        assert_eq!(k["kty"], "OKP");
        assert_eq!(k["crv"], "Ed25519");
        assert_eq!(k["use"], "sig");
        assert!(k.get("d").is_none(), "never the private part: {k}");
    }

    let t = app.customer("uma@example.com").await;
    assert_eq!(header_of(access(&t))["kid"], new_kid.as_str(), "the newest key signs");

    // A token signed earlier with the old key is still accepted, by auth and by peers.
    let old_pem = std::fs::read(app.keys.signing_dir().join(format!("{old_kid}.pem"))).unwrap();
    let mut claims = claims_of(access(&t));
    claims["jti"] = json!("old-key-token");
    let old_token = sign(
        &old_kid,
        Algorithm::EdDSA,
        &EncodingKey::from_ed_pem(&old_pem).unwrap(),
        &claims,
    );
    assert_eq!(app.me(&old_token).await.status(), 200);
    let peer = TokenVerifier::with_jwks(ISSUER, AUDIENCE, app.url("/.well-known/jwks.json")).unwrap();
    assert!(peer.verify(&old_token).await.is_ok());
    let from_dir = TokenVerifier::from_config(&shop_kit::auth::VerifierConfig {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        keys: shop_kit::auth::KeyConfig::Dir(app.keys.public_dir()),
        auth_url: None,
    })
    .unwrap();
    assert!(from_dir.verify(&old_token).await.is_ok());
    assert!(from_dir.verify(access(&t)).await.is_ok());
}

fn sign(kid: &str, alg: Algorithm, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn b64(v: &Value) -> String {
    base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        serde_json::to_vec(v).unwrap(),
    )
}

#[tokio::test]
async fn bad_tokens_are_all_401() {
    let app = spawn_app().await;
    let t = app.customer("vic@example.com").await;
    let good = claims_of(access(&t));
    let kid = app.keys.kid.clone();
    let own_key =
        EncodingKey::from_ed_pem(&std::fs::read(app.keys.signing_dir().join(format!("{kid}.pem"))).unwrap()).unwrap();
    let (stranger_pem, _) = shop_kit::keys::generate_ed25519_pem().unwrap();
    let stranger = EncodingKey::from_ed_pem(stranger_pem.as_bytes()).unwrap();
    let public_pem = std::fs::read(app.keys.public_dir().join(format!("{kid}.pem"))).unwrap();
    let now = chrono::Utc::now().timestamp();

    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = good.clone();
        f(&mut c);
        c
    };
    let cases: Vec<(&str, String)> = vec![
        (
            "expired",
            sign(
                &kid,
                Algorithm::EdDSA,
                &own_key,
                &with(&|c| {
                    c["exp"] = json!(now - 3600);
                    c["iat"] = json!(now - 7200);
                }),
            ),
        ),
        (
            "forged signature (another key, our kid)",
            sign(&kid, Algorithm::EdDSA, &stranger, &good),
        ),
        (
            "HS256 keyed with our public key",
            sign(&kid, Algorithm::HS256, &EncodingKey::from_secret(&public_pem), &good),
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "JWT", "kid": kid})),
                b64(&good)
            ),
        ),
        (
            "wrong audience",
            sign(
                &kid,
                Algorithm::EdDSA,
                &own_key,
                &with(&|c| c["aud"] = json!("someone-else")),
            ),
        ),
        (
            "wrong issuer",
            sign(
                &kid,
                Algorithm::EdDSA,
                &own_key,
                &with(&|c| c["iss"] = json!("http://evil.test")),
            ),
        ),
        (
            "no audience",
            sign(
                &kid,
                Algorithm::EdDSA,
                &own_key,
                &with(&|c| {
                    c.as_object_mut().unwrap().remove("aud");
                }),
            ),
        ),
        ("unknown kid", sign("no-such-kid", Algorithm::EdDSA, &own_key, &good)),
        (
            "no kid",
            jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &good, &own_key).unwrap(),
        ),
        ("tampered payload", {
            let parts: Vec<&str> = access(&t).split('.').collect();
            format!(
                "{}.{}.{}",
                parts[0],
                b64(&with(&|c| c["role"] = json!("admin"))),
                parts[2]
            )
        }),
        ("garbage", "not.a.jwt".to_owned()),
        ("empty segments", "..".to_owned()),
        (
            "not valid yet (nbf a minute ahead)",
            sign(&kid, Algorithm::EdDSA, &own_key, &with(&|c| c["nbf"] = json!(now + 60))),
        ),
        (
            "issued a minute in the future",
            sign(
                &kid,
                Algorithm::EdDSA,
                &own_key,
                &with(&|c| {
                    c["iat"] = json!(now + 60);
                    c["exp"] = json!(now + 600);
                }),
            ),
        ),
        (
            "lives a day (over the lifetime cap)",
            sign(
                &kid,
                Algorithm::EdDSA,
                &own_key,
                &with(&|c| {
                    c["iat"] = json!(now);
                    c["exp"] = json!(now + 24 * 3600);
                }),
            ),
        ),
        (
            "no iat",
            sign(
                &kid,
                Algorithm::EdDSA,
                &own_key,
                &with(&|c| {
                    c.as_object_mut().unwrap().remove("iat");
                }),
            ),
        ),
        (
            "expired beyond the leeway",
            sign(
                &kid,
                Algorithm::EdDSA,
                &own_key,
                &with(&|c| {
                    c["iat"] = json!(now - 900);
                    c["exp"] = json!(now - i64::try_from(shop_kit::auth::LEEWAY_SECS).unwrap() - 2);
                }),
            ),
        ),
        ("a critical header extension we do not implement", {
            let mut header = Header::new(Algorithm::EdDSA);
            header.kid = Some(kid.clone());
            header.crit = Some(vec!["exp".into()]);
            jsonwebtoken::encode(&header, &good, &own_key).unwrap()
        }),
    ];
    for (what, token) in cases {
        let r = app.me(&token).await;
        assert_eq!(r.status(), 401, "{what}");
        assert_eq!(
            r.headers()["www-authenticate"],
            "Bearer error=\"invalid_token\"",
            "{what}"
        );
        problem(r, 401).await;
    }
    // Not a bearer scheme at all.
    let r = app
        .http
        .get(app.url("/auth/me"))
        .header("authorization", format!("Basic {}", access(&t)))
        .send()
        .await
        .unwrap();
    problem(r, 401).await;
    // And the good one still works.
    assert_eq!(app.me(access(&t)).await.status(), 200);
}

#[tokio::test]
async fn verifier_reports_why() {
    let keys = shop_testkit::temp_keys();
    let verifier = Arc::new(
        TokenVerifier::from_config(&shop_kit::auth::VerifierConfig {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            keys: shop_kit::auth::KeyConfig::Dir(keys.public_dir()),
            auth_url: None,
        })
        .unwrap(),
    );
    assert_eq!(verifier.verify("garbage").await, Err(TokenError::Malformed));
    let key = EncodingKey::from_ed_pem(&std::fs::read(keys.signing_dir().join(format!("{}.pem", keys.kid))).unwrap())
        .unwrap();
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"sub": "x", "role": "customer", "iss": ISSUER, "aud": AUDIENCE, "iat": now - 7200, "exp": now - 3600, "jti": "j"});
    assert_eq!(
        verifier.verify(&sign(&keys.kid, Algorithm::EdDSA, &key, &claims)).await,
        Err(TokenError::Expired)
    );
    assert_eq!(
        verifier.verify(&sign("other", Algorithm::EdDSA, &key, &claims)).await,
        Err(TokenError::UnknownKey)
    );
}

#[tokio::test]
async fn client_credentials_give_short_lived_service_tokens() {
    let app = spawn_app().await;
    let r = app
        .http
        .post(app.url("/auth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let t = json(r).await;
    assert!(t.get("refresh_token").is_none());
    let c = claims_of(access(&t));
    assert_eq!(c["role"], "service");
    assert_eq!(c["sub"], CLIENT_ID);
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 300);

    // HTTP Basic works too.
    let r = app
        .http
        .post(app.url("/auth/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // RFC 6749 §2.3.1: Basic credentials are form-encoded first.
    let r = app
        .http
        .post(app.url("/auth/token"))
        .basic_auth("odd.client", Some("p%2Bss%25word%3A%2F0123456789"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(claims_of(access(&json(r).await))["sub"], ODD_CLIENT_ID);

    // A service token is not a user.
    problem(app.me(access(&t)).await, 403).await;

    let wrong = app
        .http
        .post(app.url("/auth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", "guess-guess-guess-guess"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(problem(wrong, 401).await["error"], "invalid_client");
    let unknown = app
        .http
        .post(app.url("/auth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "cart"),
            ("client_secret", CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    problem(unknown, 401).await;
    let grant = app
        .http
        .post(app.url("/auth/token"))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    assert_eq!(problem(grant, 400).await["error"], "unsupported_grant_type");
    let missing = app
        .http
        .post(app.url("/auth/token"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    problem(missing, 401).await;
}

#[tokio::test]
async fn customers_and_admins_cannot_pass_as_services() {
    // A guard for service-only routes, exercised through the kit's extractor.
    use axum::Router;
    use axum::routing::get;
    use shop_kit::auth::{ServiceCaller, ServiceScope, scope};

    let app = spawn_app().await;
    let verifier = Arc::new(TokenVerifier::with_jwks(ISSUER, AUDIENCE, app.url("/.well-known/jwks.json")).unwrap());
    let router = Router::new()
        .route("/internal", get(|s: ServiceCaller| async move { s.client_id }))
        .route(
            "/reserve",
            get(|s: ServiceScope<scope::CatalogReserve>| async move { s.client_id }),
        )
        .with_state(verifier);
    let mut config = shop_kit::config::ServerConfig::for_tests();
    config.drain_timeout = std::time::Duration::from_secs(1);
    let service = shop_kit::server::Service {
        name: "peer",
        api: router,
        metrics: shop_kit::server::Metrics::new(),
        checks: vec![],
    };
    let peer = shop_testkit::spawn(shop_kit::server::Server::bind(&config, service).await.unwrap());

    let customer = app.customer("wes@example.com").await;
    let admin = app.admin().await;
    let service = json(
        app.http
            .post(app.url("/auth/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    let call = |token: String| {
        let http = app.http.clone();
        let url = peer.url("/internal");
        async move { http.get(url).bearer_auth(token).send().await.unwrap() }
    };
    problem(call(access(&customer).to_owned()).await, 403).await;
    problem(call(access(&admin).to_owned()).await, 403).await;
    let ok = call(access(&service).to_owned()).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), CLIENT_ID);

    // From the clients file to the route's check: order's line grants `catalog:reserve`, the
    // line without scopes grants nothing.
    let reserve = |token: String| {
        let http = app.http.clone();
        let url = peer.url("/reserve");
        async move { http.get(url).bearer_auth(token).send().await.unwrap() }
    };
    assert_eq!(reserve(access(&service).to_owned()).await.status(), 200);
    let bare = json(app.client_token(ODD_CLIENT_ID, ODD_CLIENT_SECRET, None).await).await;
    let p = problem(reserve(access(&bare).to_owned()).await, 403).await;
    assert_eq!(p["missing_scope"], "catalog:reserve");
}

#[tokio::test]
async fn service_tokens_carry_the_scopes_of_the_clients_file() {
    let app = spawn_app().await;
    let all = "catalog:read catalog:reserve cart:read cart:clear";

    // No `scope` asked: every scope of the client's line, in the token and in the answer.
    let r = app.client_token(CLIENT_ID, CLIENT_SECRET, None).await;
    assert_eq!(r.status(), 200);
    let t = json(r).await;
    assert_eq!(t["scope"], all);
    assert_eq!(claims_of(access(&t))["scope"], all);
    let blank = json(app.client_token(CLIENT_ID, CLIENT_SECRET, Some(" ")).await).await;
    assert_eq!(claims_of(access(&blank))["scope"], all);

    // A subset, in any order: just that.
    let r = app
        .client_token(CLIENT_ID, CLIENT_SECRET, Some("cart:read catalog:read"))
        .await;
    assert_eq!(r.status(), 200);
    let t = json(r).await;
    assert_eq!(t["scope"], "catalog:read cart:read");
    assert_eq!(claims_of(access(&t))["scope"], "catalog:read cart:read");

    // User tokens carry no scope.
    let user = app.customer("sam@example.com").await;
    assert!(claims_of(access(&user)).get("scope").is_none());
}

#[tokio::test]
async fn asking_for_more_than_granted_is_invalid_scope() {
    let app = spawn_app().await;
    for over in ["catalog:reserve catalog:write", "payments:refund", "cart:read admin"] {
        let r = app.client_token(CLIENT_ID, CLIENT_SECRET, Some(over)).await;
        let p = problem(r, 400).await;
        assert_eq!(p["error"], "invalid_scope", "{over}");
    }
    // A client with no scopes may ask for none.
    let p = problem(
        app.client_token(ODD_CLIENT_ID, ODD_CLIENT_SECRET, Some("catalog:read"))
            .await,
        400,
    )
    .await;
    assert_eq!(p["error"], "invalid_scope");
    // The client is authenticated before its scopes are looked at.
    let p = problem(
        app.client_token(CLIENT_ID, "guess-guess-guess-guess", Some("catalog:write"))
            .await,
        401,
    )
    .await;
    assert_eq!(p["error"], "invalid_client");
}

#[tokio::test]
async fn a_line_without_scopes_gets_a_token_without_scope() {
    let app = spawn_app().await;
    let r = app.client_token(ODD_CLIENT_ID, ODD_CLIENT_SECRET, None).await;
    assert_eq!(r.status(), 200);
    let t = json(r).await;
    assert!(t.get("scope").is_none(), "{t}");
    let c = claims_of(access(&t));
    assert_eq!(c["sub"], ODD_CLIENT_ID);
    assert_eq!(c["role"], "service");
    assert!(c.get("scope").is_none(), "{c}");
}
