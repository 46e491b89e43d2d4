//! `/docs` (Swagger UI, its assets embedded in the binary, one page with a selector over every
//! service's document), `/api/v1/openapi/{service}.json` (one service's document as seen
//! through the gateway) and `/api/v1/openapi.json` (all of them merged).

use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use shop_kit::Problem;
use tokio::sync::Mutex;

use crate::AppState;
use crate::config::Upstream;
use crate::routes::proxy::PREFIX;

/// How long a merged document is reused.
const MERGED_TTL: Duration = Duration::from_secs(60);

/// The merged document, remembered for a minute.
#[derive(Default)]
pub struct DocsCache {
    merged: Mutex<Option<(Instant, Value)>>,
}

/// Swagger UI's configuration: the four services' documents and the merged one, made once.
static SWAGGER_CONFIG: LazyLock<Arc<utoipa_swagger_ui::Config<'static>>> = LazyLock::new(|| {
    let urls = Upstream::ALL
        .iter()
        .map(|u| {
            let url: &'static str = match u {
                Upstream::Auth => "/api/v1/openapi/auth.json",
                Upstream::Catalog => "/api/v1/openapi/catalog.json",
                Upstream::Cart => "/api/v1/openapi/cart.json",
                Upstream::Order => "/api/v1/openapi/order.json",
            };
            utoipa_swagger_ui::Url::new(u.as_str(), url)
        })
        .chain([utoipa_swagger_ui::Url::new("all (merged)", "/api/v1/openapi.json")]);
    Arc::new(utoipa_swagger_ui::Config::new(urls))
});

/// `GET /docs`: redirects to `/docs/` so the page's relative asset paths resolve.
pub async fn root() -> Response {
    (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, "/docs/")]).into_response()
}

/// `GET /docs/` and `GET /docs/{*file}`: Swagger UI.
pub async fn page(file: Option<Path<String>>) -> Response {
    let file = file.map(|Path(f)| f).unwrap_or_default();
    match utoipa_swagger_ui::serve(&file, SWAGGER_CONFIG.clone()) {
        Ok(Some(asset)) => {
            let mut answer = (
                [
                    (header::CONTENT_TYPE, asset.content_type),
                    (header::CACHE_CONTROL, "public, max-age=3600".to_owned()),
                ],
                asset.bytes.into_owned(),
            )
                .into_response();
            if asset.gzpipped {
                answer
                    .headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            answer
        }
        Ok(None) => Problem::not_found(format!("no file /docs/{file}")).into_response(),
        Err(err) => Problem::internal(anyhow::anyhow!("swagger ui: {err}")).into_response(),
    }
}

/// One service's document, fetched from it.
async fn fetch(state: &AppState, upstream: Upstream) -> Result<Value, Problem> {
    let answer = state
        .upstreams
        .call(upstream, Method::GET, "/openapi.json")
        .send()
        .await
        .map_err(|_| {
            Problem::new(StatusCode::BAD_GATEWAY, "upstream-unreachable", "Upstream unreachable")
                .detail(format!("{} is unreachable", upstream.as_str()))
        })?;
    if !answer.status().is_success() {
        return Err(
            Problem::new(StatusCode::BAD_GATEWAY, "upstream-error", "Upstream error").detail(format!(
                "{} answered {}",
                upstream.as_str(),
                answer.status().as_u16()
            )),
        );
    }
    answer.json().await.map_err(|_| {
        Problem::new(StatusCode::BAD_GATEWAY, "upstream-error", "Upstream error").detail("not a JSON document")
    })
}

/// What the gateway itself may answer on any forwarded operation, beyond the service's own.
const GATEWAY_STATUSES: [(&str, &str); 5] = [
    ("413", "the body is larger than the gateway forwards"),
    ("429", "over the plan's rate limit; retry after `Retry-After` seconds"),
    ("502", "the service is unreachable"),
    (
        "503",
        "the service is unavailable, or failing so often that the gateway stopped calling it for a while; `Retry-After`",
    ),
    ("504", "the service did not answer in time"),
];

/// A service's document as the gateway exposes it: served under `/api/v1`, without the
/// `internal/` operations a shopper can never reach, each operation listing the statuses the
/// gateway adds (a problem document, as the service's own errors are).
pub fn public_view(mut doc: Value) -> Value {
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        paths.retain(|path, _| !path.split('/').any(|s| s == "internal") && path != "/openapi.json");
        let problem = json!({"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}});
        let operations = paths
            .values_mut()
            .filter_map(Value::as_object_mut)
            .flat_map(|item| item.iter_mut())
            .filter(|(method, _)| matches!(method.as_str(), "get" | "put" | "post" | "delete" | "patch"))
            .filter_map(|(_, op)| op.get_mut("responses").and_then(Value::as_object_mut));
        for responses in operations {
            for (status, description) in GATEWAY_STATUSES {
                responses
                    .entry(status)
                    .or_insert_with(|| json!({"description": description, "content": problem}));
            }
        }
    }
    if let Some(object) = doc.as_object_mut() {
        object.insert("servers".into(), json!([{"url": PREFIX}]));
    }
    doc
}

/// `GET /api/v1/openapi/{service}.json`.
pub async fn one(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let Some(upstream) = file
        .strip_suffix(".json")
        .and_then(|name| Upstream::ALL.into_iter().find(|u| u.as_str() == name))
    else {
        return Problem::not_found(format!("no document {file}")).into_response();
    };
    match fetch(&state, upstream).await {
        Ok(doc) => axum::Json(public_view(doc)).into_response(),
        Err(problem) => problem.into_response(),
    }
}

/// Replaces every `$ref` to `#/components/schemas/{from}` with one to `{to}`.
fn rename_refs(value: &mut Value, from: &str, to: &str) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if key == "$ref"
                    && let Value::String(target) = v
                    && target == &format!("#/components/schemas/{from}")
                {
                    *target = format!("#/components/schemas/{to}");
                } else {
                    rename_refs(v, from, to);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rename_refs(v, from, to)),
        _ => {}
    }
}

/// Merges the services' documents: their paths side by side, their components in one place.
/// A schema two services name alike but define differently keeps its name in the first and is
/// renamed `<service>.<Name>` (with its references) in the others.
pub fn merge(docs: Vec<(Upstream, Value)>, missing: &[Upstream]) -> Value {
    let mut paths = Map::new();
    let mut components: Map<String, Value> = Map::new();
    let mut tags = Vec::new();
    for (upstream, doc) in docs {
        let mut doc = public_view(doc);
        // Schemas this document names like an earlier one but defines differently: renamed
        // here, references and all, so the merge below never has to choose.
        let clashing: Vec<String> = doc
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .map(|own| {
                own.iter()
                    .filter(|(name, schema)| {
                        components
                            .get("schemas")
                            .and_then(|merged| merged.get(name.as_str()))
                            .is_some_and(|existing| existing != *schema)
                    })
                    .map(|(name, _)| name.clone())
                    .collect()
            })
            .unwrap_or_default();
        for name in clashing {
            let renamed = format!("{}.{name}", upstream.as_str());
            rename_refs(&mut doc, &name, &renamed);
            if let Some(own) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut)
                && let Some(schema) = own.remove(&name)
            {
                own.insert(renamed, schema);
            }
        }
        if let Some(doc_components) = doc.get("components").and_then(Value::as_object) {
            for (kind, entries) in doc_components {
                let slot = components.entry(kind.clone()).or_insert_with(|| json!({}));
                if let (Some(slot), Some(entries)) = (slot.as_object_mut(), entries.as_object()) {
                    for (name, entry) in entries {
                        slot.entry(name.clone()).or_insert_with(|| entry.clone());
                    }
                }
            }
        }
        if let Some(doc_paths) = doc.get("paths").and_then(Value::as_object) {
            for (path, item) in doc_paths {
                paths.entry(path.clone()).or_insert_with(|| item.clone());
            }
        }
        if let Some(doc_tags) = doc.get("tags").and_then(Value::as_array) {
            for tag in doc_tags {
                if !tags.contains(tag) {
                    tags.push(tag.clone());
                }
            }
        }
    }
    let mut merged = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Shopkeeper API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Every service's API as the gateway serves it under /api/v1.",
        },
        "servers": [{"url": PREFIX}],
        "paths": paths,
        "components": components,
    });
    if !tags.is_empty() {
        merged["tags"] = Value::Array(tags);
    }
    if !missing.is_empty() {
        merged["x-unavailable"] = json!(missing.iter().map(|u| u.as_str()).collect::<Vec<_>>());
    }
    merged
}

/// `GET /api/v1/openapi.json`: the merged document (services that did not answer are listed
/// under `x-unavailable`, and the answer is not cached then).
pub async fn merged(State(state): State<AppState>) -> Response {
    {
        let cached = state.docs.merged.lock().await;
        if let Some((at, doc)) = cached.as_ref()
            && at.elapsed() < MERGED_TTL
        {
            return axum::Json(doc.clone()).into_response();
        }
    }
    let fetched = futures::future::join_all(Upstream::ALL.map(|u| {
        let state = state.clone();
        async move { (u, fetch(&state, u).await) }
    }))
    .await;
    let mut docs = Vec::new();
    let mut missing = Vec::new();
    for (upstream, outcome) in fetched {
        match outcome {
            Ok(doc) => docs.push((upstream, doc)),
            Err(_) => missing.push(upstream),
        }
    }
    let doc = merge(docs, &missing);
    if missing.is_empty() {
        *state.docs.merged.lock().await = Some((Instant::now(), doc.clone()));
    }
    axum::Json(doc).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_keeps_paths_drops_internal_ones_and_renames_clashing_schemas() {
        let catalog = json!({
            "openapi": "3.1.0",
            "paths": {
                "/products": {"get": {"responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Product"}}}}}}},
                "/internal/reservations": {"post": {}},
            },
            "components": {"schemas": {"Product": {"type": "object", "properties": {"stock": {"type": "integer"}}}}},
        });
        let order = json!({
            "openapi": "3.1.0",
            "paths": {"/orders": {"get": {"responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Product"}}}}}}}},
            "components": {"schemas": {"Product": {"type": "object", "properties": {"name": {"type": "string"}}}}},
        });
        let merged = merge(
            vec![(Upstream::Catalog, catalog), (Upstream::Order, order)],
            &[Upstream::Cart],
        );
        let paths = merged["paths"]
            .as_object()
            .map(|p| p.keys().cloned().collect::<Vec<_>>());
        assert_eq!(paths, Some(vec!["/orders".to_owned(), "/products".to_owned()]));
        assert_eq!(
            merged.pointer("/paths/~1orders/get/responses/200/content/application~1json/schema/$ref"),
            Some(&json!("#/components/schemas/order.Product"))
        );
        assert!(
            merged
                .pointer("/components/schemas/order.Product/properties/name")
                .is_some()
        );
        assert!(merged.pointer("/components/schemas/Product/properties/stock").is_some());
        assert_eq!(merged["servers"], json!([{"url": "/api/v1"}]));
        assert_eq!(merged["x-unavailable"], json!(["cart"]));
        let responses = merged
            .pointer("/paths/~1products/get/responses")
            .and_then(Value::as_object);
        let statuses: Vec<&str> = responses.into_iter().flatten().map(|(s, _)| s.as_str()).collect();
        assert_eq!(
            statuses,
            ["200", "413", "429", "502", "503", "504"],
            "the gateway's own"
        );
        assert_eq!(
            merged.pointer("/paths/~1products/get/responses/429/content/application~1problem+json/schema/$ref"),
            Some(&json!("#/components/schemas/Problem"))
        );
    }
}
