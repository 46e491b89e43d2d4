//! An in-memory API server for tests and the benchmark: it stores what it is sent, answers
//! LIST/GET/POST/PATCH/DELETE like the real one, and records every call so a scenario can
//! assert the exact sequence. It models what decides whether a steady state is write-free on a
//! real server (canonical quantities, dropped empty lists and env values, `stringData` stored as `data`,
//! `spec.replicas` defaulting and its ownership), not
//! validation.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use http::{Request, Response, StatusCode};
use kube::client::Body;
use serde_json::{Value, json};

/// `(plural, namespace, name)`.
type Key = (String, String, String);

#[derive(Default)]
struct State {
    objects: BTreeMap<Key, Value>,
    calls: Vec<String>,
    version: u64,
    /// Calls (`"PATCH persistentvolumeclaims/x"`) answered with an error instead.
    refusals: BTreeMap<String, (u16, String)>,
}

/// The fake API server; clones share one state.
#[derive(Clone, Default)]
pub struct FakeApi {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for FakeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeApi").finish_non_exhaustive()
    }
}

/// A parsed request path.
struct Target {
    plural: String,
    namespace: String,
    name: Option<String>,
    status: bool,
}

fn parse(path: &str) -> Option<Target> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    // api/v1/namespaces/NS/PLURAL[/NAME[/status]] or apis/G/V/namespaces/NS/PLURAL[/NAME[/status]]
    let rest = match parts.first() {
        Some(&"api") => parts.get(2..)?,
        Some(&"apis") => parts.get(3..)?,
        _ => return None,
    };
    if rest.first() != Some(&"namespaces") {
        return None;
    }
    Some(Target {
        namespace: (*rest.get(1)?).to_owned(),
        plural: (*rest.get(2)?).to_owned(),
        name: rest.get(3).map(|s| (*s).to_owned()),
        status: rest.get(4) == Some(&"status"),
    })
}

/// Merges `patch` into `target` (objects key by key; anything else replaced).
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                match t.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// What the real API server does to every object it stores that matters to a comparison:
/// quantities in canonical form (`0.5` → `500m`), and empty lists gone (Go's `omitempty` on
/// every optional list field, such as a NetworkPolicy's `ingress: []`).
fn normalize(value: &mut Value) {
    crate::quantity::canonicalize(value);
    drop_empty_lists(value);
    drop_empty_env_values(value);
}

/// An environment variable's `value: ""` is `omitempty` too: the server stores the name only.
fn drop_empty_env_values(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(vars)) = map.get_mut("env") {
                for var in vars.iter_mut().filter_map(Value::as_object_mut) {
                    if var.get("value").is_some_and(|v| v == "") {
                        var.remove("value");
                    }
                }
            }
            map.values_mut().for_each(drop_empty_env_values);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_empty_env_values),
        _ => {}
    }
}

/// A Secret's `stringData` is write-only: the server merges it into `data`, base64-encoded.
fn string_data_to_data(secret: &mut Value) {
    use base64::Engine as _;
    let Some(Value::Object(strings)) = secret.as_object_mut().and_then(|o| o.remove("stringData")) else {
        return;
    };
    for (key, value) in strings {
        let encoded = base64::engine::general_purpose::STANDARD.encode(value.as_str().unwrap_or_default());
        secret["data"][key] = json!(encoded);
    }
}

fn drop_empty_lists(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !matches!(v, Value::Array(items) if items.is_empty()));
            map.values_mut().for_each(drop_empty_lists);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_empty_lists),
        _ => {}
    }
}

/// Server-side apply's ownership of a Deployment's `spec.replicas`, the one field whose
/// ownership decides something here: a field manager that stops applying a field it owned
/// alone removes it, and the server defaults it again (1 replica). Recorded in
/// `metadata.managedFields` as the real server does (other fields are not tracked).
fn own_replicas(object: &mut Value, patch: &Value, manager: &str, apply: bool) {
    let mut owners: Vec<(String, String)> = object["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| !f["fieldsV1"]["f:spec"]["f:replicas"].is_null())
        .map(|f| {
            (
                f["manager"].as_str().unwrap_or_default().to_owned(),
                f["operation"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let sets = !patch["spec"]["replicas"].is_null();
    if apply {
        let owned = owners.iter().any(|(m, _)| m == manager);
        if sets && !owned {
            owners.push((manager.to_owned(), "Apply".to_owned()));
        } else if !sets && owned {
            owners.retain(|(m, _)| m != manager);
            if owners.is_empty() {
                object["spec"].as_object_mut().map(|spec| spec.remove("replicas"));
            }
        }
    } else if sets {
        owners = vec![(manager.to_owned(), "Update".to_owned())];
    }
    if object["spec"]["replicas"].is_null() {
        object["spec"]["replicas"] = json!(1);
    }
    object["metadata"]["managedFields"] = owners
        .into_iter()
        .map(|(manager, operation)| {
            json!({"manager": manager, "operation": operation, "apiVersion": "apps/v1",
                   "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}})
        })
        .collect();
}

fn status(code: u16, reason: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": reason, "reason": reason, "code": code})
}

fn matches_selector(object: &Value, selector: &str) -> bool {
    selector
        .split(',')
        .filter(|s| !s.is_empty())
        .all(|term| match term.split_once('=') {
            Some((k, v)) => object["metadata"]["labels"][k].as_str() == Some(v),
            None => false,
        })
}

impl FakeApi {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// A kube client talking to this server.
    pub fn client(&self) -> kube::Client {
        let api = self.clone();
        let service = tower::service_fn(move |request: Request<Body>| {
            let api = api.clone();
            async move { Ok::<_, std::convert::Infallible>(api.handle(request).await) }
        });
        kube::Client::new(service, "default")
    }

    /// Answers every later `call` (as recorded: `"PATCH persistentvolumeclaims/data-x-0"`)
    /// with `code` and `message`, as an admission check or a storage class would.
    pub fn refuse(&self, call: &str, code: u16, message: &str) {
        self.lock().refusals.insert(call.to_owned(), (code, message.to_owned()));
    }

    /// Takes the calls recorded so far (`"PATCH deployments/demo-auth"`, `"LIST jobs"`, …).
    pub fn take_calls(&self) -> Vec<String> {
        std::mem::take(&mut self.lock().calls)
    }

    /// Stores an object as if it had been created by someone else.
    pub fn insert(&self, plural: &str, object: Value) {
        let mut state = self.lock();
        state.version += 1;
        let mut object = object;
        let version = state.version;
        Self::stamp(&mut object, version, true);
        let key = Self::key(plural, &object);
        state.objects.insert(key, object);
    }

    fn key(plural: &str, object: &Value) -> Key {
        (
            plural.to_owned(),
            object["metadata"]["namespace"].as_str().unwrap_or("default").to_owned(),
            object["metadata"]["name"].as_str().unwrap_or_default().to_owned(),
        )
    }

    fn stamp(object: &mut Value, version: u64, new: bool) {
        let meta = &mut object["metadata"];
        meta["resourceVersion"] = json!(version.to_string());
        if new {
            if meta["uid"].is_null() {
                meta["uid"] = json!(format!("uid-{version}"));
            }
            meta["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
            if meta["generation"].is_null() {
                meta["generation"] = json!(1);
            }
        }
    }

    /// One stored object.
    pub fn get(&self, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        self.lock()
            .objects
            .get(&(plural.to_owned(), namespace.to_owned(), name.to_owned()))
            .cloned()
    }

    /// Every stored object of a kind, by name.
    pub fn all(&self, plural: &str) -> Vec<Value> {
        self.lock()
            .objects
            .iter()
            .filter(|((p, _, _), _)| p == plural)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Removes a stored object (as a person or the garbage collector would).
    pub fn remove(&self, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        self.lock()
            .objects
            .remove(&(plural.to_owned(), namespace.to_owned(), name.to_owned()))
    }

    /// Changes a stored object in place (as the cluster or a user would).
    pub fn update(&self, plural: &str, namespace: &str, name: &str, change: impl FnOnce(&mut Value)) {
        let mut state = self.lock();
        state.version += 1;
        let version = state.version;
        if let Some(object) = state
            .objects
            .get_mut(&(plural.to_owned(), namespace.to_owned(), name.to_owned()))
        {
            change(object);
            Self::stamp(object, version, false);
        }
    }

    /// Plays the cluster: HPAs scale their Deployments to `minReplicas`, StatefulSets and
    /// Deployments become ready, Jobs whose name contains `jobs` complete (or fail when `fail`
    /// is set).
    pub fn settle(&self, jobs: &str, fail: bool) {
        let mut state = self.lock();
        // HPAs keep their Deployment at `minReplicas` at least (an update by the controller).
        let minimums: Vec<(Key, i64)> = state
            .objects
            .iter()
            .filter(|((plural, _, _), _)| plural == "horizontalpodautoscalers")
            .map(|((_, ns, name), hpa)| {
                let key = ("deployments".to_owned(), ns.clone(), name.clone());
                (key, hpa["spec"]["minReplicas"].as_i64().unwrap_or(1))
            })
            .collect();
        for (key, min) in minimums {
            if let Some(d) = state.objects.get_mut(&key)
                && d["spec"]["replicas"].as_i64().unwrap_or(1) < min
            {
                own_replicas(d, &json!({"spec": {"replicas": min}}), "kube-controller-manager", false);
                d["spec"]["replicas"] = json!(min);
            }
        }
        for ((plural, _, name), object) in state.objects.iter_mut() {
            match plural.as_str() {
                "statefulsets" | "deployments" => {
                    let replicas = object["spec"]["replicas"].as_i64().unwrap_or(1);
                    object["status"] = json!({
                        "observedGeneration": object["metadata"]["generation"].clone(),
                        "replicas": replicas, "readyReplicas": replicas,
                        "updatedReplicas": replicas, "availableReplicas": replicas,
                    });
                }
                // CloudNativePG: the cluster becomes Ready, each Database is applied.
                "clusters" => {
                    object["status"] = json!({"readyInstances": object["spec"]["instances"].clone(),
                        "conditions": [{"type": "Ready", "status": "True", "reason": "ClusterIsReady"}]});
                }
                "databases" => object["status"] = json!({"applied": true}),
                "jobs" if name.contains(jobs) && object["status"]["conditions"].is_null() => {
                    object["status"] = if fail {
                        json!({"failed": 5, "conditions": [{"type": "Failed", "status": "True",
                            "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]})
                    } else {
                        json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]})
                    };
                }
                _ => {}
            }
        }
    }

    async fn handle(&self, request: Request<Body>) -> Response<Body> {
        let (parts, body) = request.into_parts();
        let body = body.collect_bytes().await.map(|b| b.to_vec()).unwrap_or_default();
        let (code, value) = self.answer(&parts, &body);
        let bytes = serde_json::to_vec(&value).unwrap_or_default();
        let mut response = Response::new(Body::from(bytes));
        *response.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        response
    }

    fn answer(&self, parts: &http::request::Parts, body: &[u8]) -> (u16, Value) {
        let Some(target) = parse(parts.uri.path()) else {
            return (404, status(404, "NotFound"));
        };
        {
            let mut state = self.lock();
            let call = match (&target.name, parts.method.as_str()) {
                (Some(name), "GET") => format!("GET {}/{name}", target.plural),
                (None, "GET") => format!("LIST {}", target.plural),
                (Some(name), method) => format!("{method} {}/{name}", target.plural),
                (None, method) => format!("{method} {}", target.plural),
            };
            if let Some((code, message)) = state.refusals.get(&call).cloned() {
                state.calls.push(call);
                let mut answer = status(code, "Forbidden");
                answer["message"] = json!(message);
                return (code, answer);
            }
        }
        let query: BTreeMap<String, String> = url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
        let mut state = self.lock();
        let plural = target.plural.clone();
        let ns = target.namespace.clone();
        match (parts.method.as_str(), target.name) {
            ("GET", None) => {
                state.calls.push(format!("LIST {plural}"));
                let selector = query.get("labelSelector").cloned().unwrap_or_default();
                let metadata_only = parts
                    .headers
                    .get(http::header::ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.contains("PartialObjectMetadataList"));
                let items: Vec<Value> = state
                    .objects
                    .iter()
                    .filter(|((p, n, _), o)| *p == plural && *n == ns && matches_selector(o, &selector))
                    .map(|(_, o)| {
                        if metadata_only {
                            json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": o["metadata"]})
                        } else {
                            o.clone()
                        }
                    })
                    .collect();
                let version = state.version.to_string();
                (
                    200,
                    json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": version}, "items": items}),
                )
            }
            ("GET", Some(name)) => {
                state.calls.push(format!("GET {plural}/{name}"));
                match state.objects.get(&(plural, ns, name)) {
                    Some(o) => (200, o.clone()),
                    None => (404, status(404, "NotFound")),
                }
            }
            ("POST", None) => {
                state.calls.push(format!("POST {plural}"));
                let Ok(mut object) = serde_json::from_slice::<Value>(body) else {
                    return (400, status(400, "BadRequest"));
                };
                object["metadata"]["namespace"] = json!(ns);
                if plural == "secrets" {
                    string_data_to_data(&mut object);
                }
                let key = Self::key(&plural, &object);
                if state.objects.contains_key(&key) {
                    return (409, status(409, "AlreadyExists"));
                }
                state.version += 1;
                Self::stamp(&mut object, state.version, true);
                normalize(&mut object);
                state.objects.insert(key, object.clone());
                (201, object)
            }
            ("PATCH", Some(name)) => {
                let what = if target.status { "/status" } else { "" };
                state.calls.push(format!("PATCH {plural}/{name}{what}"));
                let Ok(patch) = serde_json::from_slice::<Value>(body) else {
                    return (400, status(400, "BadRequest"));
                };
                let patch_copy = patch.clone();
                let manager = query.get("fieldManager").cloned().unwrap_or_default();
                let apply = parts
                    .headers
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.contains("apply-patch"));
                state.version += 1;
                let version = state.version;
                let key = (plural.clone(), ns.clone(), name);
                match state.objects.get_mut(&key) {
                    Some(existing) if target.status => {
                        existing["status"] = patch["status"].clone();
                        Self::stamp(existing, version, false);
                        (200, existing.clone())
                    }
                    Some(existing) => {
                        let spec_before = existing["spec"].clone();
                        merge(existing, &patch);
                        if plural == "deployments" {
                            own_replicas(existing, &patch, &manager, apply);
                        }
                        normalize(existing);
                        if existing["spec"] != spec_before {
                            let generation = existing["metadata"]["generation"].as_i64().unwrap_or(1);
                            existing["metadata"]["generation"] = json!(generation + 1);
                        }
                        Self::stamp(existing, version, false);
                        (200, existing.clone())
                    }
                    None if target.status => (404, status(404, "NotFound")),
                    None => {
                        let mut object = patch;
                        object["metadata"]["namespace"] = json!(ns);
                        if plural == "deployments" {
                            own_replicas(&mut object, &patch_copy, &manager, apply);
                        }
                        Self::stamp(&mut object, version, true);
                        normalize(&mut object);
                        state.objects.insert(key, object.clone());
                        (201, object)
                    }
                }
            }
            ("DELETE", Some(name)) => {
                state.calls.push(format!("DELETE {plural}/{name}"));
                match state.objects.remove(&(plural, ns, name)) {
                    Some(o) => (200, o),
                    None => (404, status(404, "NotFound")),
                }
            }
            (method, _) => {
                state.calls.push(format!("{method} {plural}"));
                (405, status(405, "MethodNotAllowed"))
            }
        }
    }
}
