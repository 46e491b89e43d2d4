//! The generated Secrets: created once when absent, never overwritten, never logged.
//!
//! - `<shop>-postgres`: the Postgres superuser password (managed Postgres).
//! - `<shop>-db-<service>`: `username`, `password`, `url` of each database owner's role.
//! - `<shop>-redis`: `password`, `url` (managed Redis).
//! - `<shop>-jwt-signing`: auth's Ed25519 private key, `<kid>.pem` (PKCS#8 v1 PEM).
//! - `<shop>-jwt-public`: the matching public key, `<kid>.pem`, for every other service.
//! - `<shop>-admin`: the admin's generated `password`.
//! - `<shop>-service-clients`: `clients` (auth's `SERVICE_CLIENTS_FILE`: each caller's id, secret
//!   and scopes, from `shop_contract::clients_file`) and one key per caller.
//! - `<shop>-gateway`: `session-secret`, the key every gateway replica signs CSRF tokens with.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{EncodePrivateKey, EncodePublicKey};
use k8s_openapi::api::core::v1::Secret;
use rand::{CryptoRng, RngCore};
use serde_json::Value;

use base64::Engine as _;

use crate::build::{Ctx, Object, Resolved, Stage, short_hash};
use crate::crd::{PostgresMode, SERVICES};
use crate::{Error, Result};

/// The names of the Secrets a Shop needs, in creation order.
pub fn wanted(spec: &Resolved) -> Vec<String> {
    let ctx = Ctx::new(spec);
    let mut names = Vec::new();
    if spec.postgres_mode() == PostgresMode::Single {
        names.push(ctx.child("postgres"));
    }
    if spec.postgres_mode() != PostgresMode::External {
        names.extend(
            SERVICES
                .into_iter()
                .filter(|s| s.owns_database())
                .map(|s| ctx.db_secret(s)),
        );
    }
    if matches!(spec.redis, crate::build::Redis::Managed { .. }) {
        names.push(ctx.child("redis"));
    }
    names.extend(["jwt-signing", "jwt-public", "admin", "service-clients", "gateway"].map(|s| ctx.child(s)));
    names
}

/// A Secret's `stringData`.
fn keys<const N: usize>(pairs: [(&str, String); N]) -> BTreeMap<String, String> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// Random lower-case hex.
fn hex(rng: &mut (impl RngCore + CryptoRng), bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rng.fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A key id that sorts by age: `YYYYMMDDTHHMMSSZ-xxxxxx`.
pub fn kid(now: DateTime<Utc>, rng: &mut (impl RngCore + CryptoRng)) -> String {
    format!("{}-{}", now.format("%Y%m%dT%H%M%SZ"), hex(rng, 3))
}

/// Generates every wanted Secret whose name is in `missing` (the JWT pair together: when
/// either is missing and the other exists, only the missing one can be made consistent, so
/// both must be absent — otherwise that is reported).
pub fn generate(
    spec: &Resolved,
    missing: &[String],
    now: DateTime<Utc>,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<Vec<Object>> {
    let ctx = Ctx::new(spec);
    let wants = |suffix: &str| missing.contains(&ctx.child(suffix));
    let mut out = Vec::new();
    let cnpg = spec.postgres_mode() == PostgresMode::CloudNativePg;
    let mut secret = |name: String, app: &str, data: BTreeMap<String, String>| -> Result<()> {
        // CloudNativePG reads a managed role's password from a basic-auth Secret.
        let type_ = if cnpg && data.contains_key("username") {
            "kubernetes.io/basic-auth"
        } else {
            "Opaque"
        };
        let secret = Secret {
            metadata: ctx.metadata(&name, app, "secret"),
            type_: Some(type_.to_owned()),
            string_data: Some(data),
            ..Secret::default()
        };
        out.push(ctx.typed(Stage::Data, &secret)?);
        Ok(())
    };
    if wants("postgres") {
        secret(ctx.child("postgres"), "postgres", keys([("password", hex(rng, 16))]))?;
    }
    for service in SERVICES.into_iter().filter(|s| s.owns_database()) {
        let name = ctx.db_secret(service);
        if missing.contains(&name) {
            let password = hex(rng, 16);
            // CloudNativePG's primary is behind `<cluster>-rw`.
            let host = if cnpg {
                crate::build::cnpg_rw_service(&ctx)
            } else {
                ctx.child("postgres")
            };
            let url = format!("postgres://{service}:{password}@{host}:5432/{service}");
            secret(
                name,
                "postgres",
                keys([
                    ("username", service.as_str().to_owned()),
                    ("password", password),
                    ("url", url),
                ]),
            )?;
        }
    }
    if wants("redis") {
        let password = hex(rng, 16);
        let url = format!("redis://:{password}@{}:6379", ctx.child("redis"));
        secret(
            ctx.child("redis"),
            "redis",
            keys([("password", password), ("url", url)]),
        )?;
    }
    match (wants("jwt-signing"), wants("jwt-public")) {
        (true, true) => {
            let kid = kid(now, rng);
            let key = ed25519_dalek::SigningKey::generate(rng);
            let private = key
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| Error::SecretGeneration(format!("PKCS#8 encoding: {e}")))?;
            let public = key
                .verifying_key()
                .to_public_key_pem(LineEnding::LF)
                .map_err(|e| Error::SecretGeneration(format!("SPKI encoding: {e}")))?;
            let file = format!("{kid}.pem");
            secret(
                ctx.child("jwt-signing"),
                "auth",
                keys([(file.as_str(), private.as_str().to_owned())]),
            )?;
            secret(ctx.child("jwt-public"), "auth", keys([(file.as_str(), public)]))?;
        }
        (false, false) => {}
        _ => {
            return Err(Error::SecretGeneration(format!(
                "only one of {} and {} exists; delete the other to generate a new key pair",
                ctx.child("jwt-signing"),
                ctx.child("jwt-public")
            )));
        }
    }
    if wants("admin") {
        secret(ctx.child("admin"), "auth", keys([("password", hex(rng, 12))]))?;
    }
    if wants("service-clients") {
        let mut data = BTreeMap::new();
        for client in SERVICES.into_iter().filter(|s| s.is_service_client()) {
            data.insert(client.as_str().to_owned(), hex(rng, 32));
        }
        // Each client's line carries the scopes the contract grants it.
        let file = shop_contract::clients_file(|client| data.get(client.as_str()).cloned());
        data.insert("clients".to_owned(), file);
        secret(ctx.child("service-clients"), "auth", data)?;
    }
    if wants("gateway") {
        secret(
            ctx.child("gateway"),
            "gateway",
            keys([("session-secret", hex(rng, 32))]),
        )?;
    }
    Ok(out)
}

/// Every Secret a new Shop gets (for `render` and tests).
pub fn generate_all(spec: &Resolved, now: DateTime<Utc>, rng: &mut (impl RngCore + CryptoRng)) -> Result<Vec<Object>> {
    generate(spec, &wanted(spec), now, rng)
}

/// A Secret's values, decoded (`data` base64, `stringData` as is); values that are not UTF-8
/// are left out.
pub fn decoded_data(secret: &Value) -> BTreeMap<String, String> {
    use base64::Engine as _;
    let mut out = BTreeMap::new();
    if let Some(data) = secret["data"].as_object() {
        for (key, value) in data {
            if let Some(text) = value
                .as_str()
                .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
                .and_then(|bytes| String::from_utf8(bytes).ok())
            {
                out.insert(key.clone(), text);
            }
        }
    }
    if let Some(data) = secret["stringData"].as_object() {
        for (key, value) in data {
            if let Some(text) = value.as_str() {
                out.insert(key.clone(), text.to_owned());
            }
        }
    }
    out
}

/// The `clients` file the service-clients Secret should hold, when it differs from the one it
/// holds: each caller's line rebuilt from its own key with the scopes the contract grants (a
/// Shop made before service tokens had scopes has lines without them). `None` when the file is
/// current, or when a per-caller key is missing (a Secret made by hand is left alone).
pub fn current_clients_file(data: &BTreeMap<String, String>) -> Option<String> {
    let mut complete = true;
    let wanted = shop_contract::clients_file(|client| {
        let secret = data.get(client.as_str()).cloned();
        complete &= secret.is_some();
        secret
    });
    (complete && data.get("clients") != Some(&wanted)).then_some(wanted)
}

/// A hash of a Secret's content (its keys and decoded values, from `data` and `stringData` as
/// the API server merges them), so a changed value is seen without keeping or logging it.
pub fn content_hash(secret: &Value) -> String {
    let mut content: std::collections::BTreeMap<&str, Vec<u8>> = std::collections::BTreeMap::new();
    if let Some(data) = secret["data"].as_object() {
        for (key, value) in data {
            let bytes = value
                .as_str()
                .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
                .unwrap_or_default();
            content.insert(key, bytes);
        }
    }
    if let Some(data) = secret["stringData"].as_object() {
        for (key, value) in data {
            content.insert(key, value.as_str().unwrap_or_default().as_bytes().to_vec());
        }
    }
    let parts: Vec<String> = content
        .iter()
        .map(|(key, value)| {
            format!(
                "{key}={}",
                short_hash(&[&base64::engine::general_purpose::STANDARD.encode(value)], 64)
            )
        })
        .collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    short_hash(&parts, 16)
}
