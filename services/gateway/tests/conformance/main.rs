//! The contract matches the services: schemathesis (`SHOP_TEST_SCHEMATHESIS`, installed by
//! `cargo xtask test` at the version pinned in `xtask/python/schemathesis.txt`) generates
//! inputs for every operation of every service's OpenAPI document — valid ones and invalid
//! ones — against the whole shop on fresh databases, and fails on any 5xx, any status the
//! document does not list, any other content type, and any body that breaks its schema.
//!
//! Each operation is called as the caller it is for: an internal route (a `bearer` scope) with
//! order's service token, an admin route (tag `admin` or `users`) with an admin's token, any
//! other secured route with a customer's. The run is bounded and seeded, so a failure
//! reproduces: run this test alone with
//! `cargo xtask test --no-lint -- -E 'binary(conformance)'`.

#![allow(clippy::unwrap_used)]

#[path = "../api/support.rs"]
mod support;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::{Value, json};

use crate::support::{ORDER_CLIENT, ORDER_SECRET, PASSWORD, Shop, client};

/// The seed of every run: the same inputs each time, so CI is reproducible.
const SEED: &str = "20261130";

/// Examples per operation and phase. With the coverage phase's boundary cases this keeps the
/// four services within about a minute on two cores. `SHOP_CONFORMANCE_EXAMPLES` (and
/// `SHOP_CONFORMANCE_SEED`) override it for a deeper run by hand.
const MAX_EXAMPLES: &str = "25";

/// Explicit examples, the boundary and negative cases of every parameter and field, then
/// random inputs. (The stateful phase needs links the documents do not declare.)
const PHASES: &str = "examples,coverage,fuzzing";

/// The checks: a 5xx, a status, content type, header or body the document does not promise,
/// and a secured operation that answers without its token.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
    response_headers_conformance,response_schema_conformance,ignored_auth";

/// `SHOP_CONFORMANCE_CHECKS` overrides [`CHECKS`] (`all`, say, by hand).
fn checks() -> String {
    setting("SHOP_CONFORMANCE_CHECKS", CHECKS)
}

/// The tokens each kind of operation is called with.
struct Tokens {
    customer: String,
    admin: String,
    service: String,
}

/// The `schemathesis` command; the test fails without it (run it through `cargo xtask test`).
fn schemathesis() -> PathBuf {
    let Some(path) = std::env::var_os("SHOP_TEST_SCHEMATHESIS") else {
        panic!(
            "SHOP_TEST_SCHEMATHESIS is not set: run the conformance test through `cargo xtask test` \
             (it installs schemathesis into target/xtask/schemathesis)"
        );
    };
    let path = PathBuf::from(path);
    assert!(
        path.exists(),
        "SHOP_TEST_SCHEMATHESIS={} does not exist",
        path.display()
    );
    path
}

/// Logs `email` in at auth; the access token.
async fn login(shop: &Shop, email: &str) -> String {
    let resp = client()
        .post(shop.auth.url("/auth/login"))
        .form(&[("email", email), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    let body = shop_testkit::expect(resp, 200).await;
    body["access_token"].as_str().unwrap().to_owned()
}

async fn tokens(shop: &Shop) -> Tokens {
    let customer = support::register(shop).await;
    let admin = support::register(shop).await;
    shop_auth::store::seed_admin(&shop.auth_db.pool, &admin, None)
        .await
        .unwrap();
    let resp = client()
        .post(shop.auth.url("/auth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", ORDER_CLIENT),
            ("client_secret", ORDER_SECRET),
        ])
        .send()
        .await
        .unwrap();
    let service = shop_testkit::expect(resp, 200).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    Tokens {
        customer: login(shop, &customer).await,
        admin: login(shop, &admin).await,
        service,
    }
}

/// Some data for the generated requests to meet: a category and a product in it (its id).
async fn seed_catalog(shop: &Shop, admin: &str, name: &str) -> String {
    let resp = client()
        .post(shop.catalog.url("/categories"))
        .bearer_auth(admin)
        .json(&json!({"slug": format!("hats-{name}"), "name": "Hats"}))
        .send()
        .await
        .unwrap();
    shop_testkit::expect(resp, 201).await;
    let resp = client()
        .post(shop.catalog.url("/products"))
        .bearer_auth(admin)
        .json(
            &json!({"sku": format!("HAT-{name}"), "name": "A hat", "price": "12.50", "stock": 100,
            "categories": [format!("hats-{name}")]}),
        )
        .send()
        .await
        .unwrap();
    let product = shop_testkit::expect(resp, 201).await;
    product["id"].as_str().unwrap().to_owned()
}

/// A line in the customer's cart, so a checkout can get past "your cart is empty".
async fn put_in_cart(shop: &Shop, customer: &str, product: &str) {
    let resp = client()
        .post(shop.cart.url("/cart/add"))
        .bearer_auth(customer)
        .json(&json!({"product_id": product, "qty": 1}))
        .send()
        .await
        .unwrap();
    shop_testkit::expect(resp, 200).await;
}

/// The token an operation is called with, from its document entry.
fn token_for<'a>(operation: &Value, tokens: &'a Tokens) -> Option<&'a str> {
    let requirements = operation.get("security")?.as_array()?;
    let scoped = requirements.iter().any(|r| {
        r.as_object()
            .into_iter()
            .flat_map(|r| r.values())
            .any(|scopes| scopes.as_array().is_some_and(|s| !s.is_empty()))
    });
    let tagged = |tag: &str| {
        operation["tags"]
            .as_array()
            .is_some_and(|tags| tags.iter().any(|t| t == tag))
    };
    Some(if scoped {
        &tokens.service
    } else if tagged("admin") || tagged("users") {
        &tokens.admin
    } else {
        &tokens.customer
    })
}

/// `schemathesis.toml` for one document: one `[[operations]]` per secured operation with its
/// `Authorization` header, and no token of schemathesis' own.
fn config(doc: &Value, tokens: &Tokens) -> String {
    // Without this schemathesis signs a user up itself and calls everything as that user.
    let mut toml = String::from("[auth]\nauto-signup = false\n");
    let methods = ["get", "put", "post", "delete", "patch"];
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in methods {
            let Some(token) = item.get(method).and_then(|op| token_for(op, tokens)) else {
                continue;
            };
            let _ = write!(
                toml,
                // One filter, the operation's name: several filters would match either.
                "\n[[operations]]\ninclude-name = \"{} {path}\"\n\
                 headers = {{ Authorization = \"Bearer {token}\" }}\n",
                method.to_uppercase()
            );
        }
    }
    toml
}

/// The report, when it says every operation of `doc` was tested (none skipped or filtered).
fn every_operation_tested(doc: &Value, report: String) -> Result<String, String> {
    let methods = ["get", "put", "post", "delete", "patch"];
    let operations = doc["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, item)| methods.iter().filter(|m| item.get(**m).is_some()).count())
        .sum::<usize>();
    let tested = format!("Tested: {operations}\n");
    if operations > 0 && report.contains(&tested) {
        Ok(report)
    } else {
        Err(format!(
            "{report}\n(expected `{}` in the summary: every operation)",
            tested.trim()
        ))
    }
}

/// The environment's `name`, else `default`.
fn setting(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// One run of schemathesis over `service`'s document; its report when it fails.
fn run(schemathesis: &Path, dir: &Path, service: &str, base_url: &str) -> Result<String, String> {
    let out = Command::new(schemathesis)
        // It keeps a cache (`.schemathesis/`) in its working directory: ours, not the crate's.
        .current_dir(dir)
        .arg("--config-file")
        .arg(dir.join(format!("{service}.toml")))
        .arg("--no-color")
        .arg("run")
        .arg(dir.join(format!("{service}.json")))
        .args(["--url", base_url, "--checks", &checks(), "--workers", "1"])
        .args(["--seed", &setting("SHOP_CONFORMANCE_SEED", SEED)])
        .args(["--max-examples", &setting("SHOP_CONFORMANCE_EXAMPLES", MAX_EXAMPLES)])
        .args(["--phases", PHASES])
        .args(["--report", "junit", "--report-dir"])
        .arg(dir.join(format!("{service}-report")))
        .output()
        .expect("running schemathesis");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() { Ok(text) } else { Err(text) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_of_every_service_keeps_its_contract() {
    let schemathesis = schemathesis();
    let shop = support::spawn_shop().await;
    let dir = std::env::temp_dir().join(format!("shop-conformance-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    let services = [
        ("auth", shop.auth.url("")),
        ("catalog", shop.catalog.url("")),
        ("cart", shop.cart.url("")),
        ("order", shop.order.url("")),
    ];
    let mut failed = Vec::new();
    for (service, base_url) in services {
        // Fresh users for each service: fuzzing auth's `PATCH /auth/me` or `POST /auth/logout`
        // may well end the customer's session.
        // A product of its own, too: the catalog's run may deactivate what it finds.
        let tokens = tokens(&shop).await;
        let product = seed_catalog(&shop, &tokens.admin, service).await;
        put_in_cart(&shop, &tokens.customer, &product).await;
        let resp = client().get(format!("{base_url}/openapi.json")).send().await.unwrap();
        let doc = shop_testkit::expect(resp, 200).await;
        std::fs::write(dir.join(format!("{service}.json")), doc.to_string()).unwrap();
        std::fs::write(dir.join(format!("{service}.toml")), config(&doc, &tokens)).unwrap();
        let started = Instant::now();
        let (st, d) = (schemathesis.clone(), dir.clone());
        let outcome = tokio::task::spawn_blocking(move || run(&st, &d, service, &base_url))
            .await
            .unwrap()
            .and_then(|report| every_operation_tested(&doc, report));
        let seconds = started.elapsed().as_secs_f64();
        match outcome {
            Ok(report) => {
                // Its warnings too (operations that only ever answered 4xx, say): shown with the
                // test's output when something else fails.
                eprintln!("conformance: {service} passed in {seconds:.0} s; schemathesis said:\n{report}");
            }
            Err(report) => {
                eprintln!("conformance: {service} FAILED in {seconds:.0} s; schemathesis said:\n{report}");
                failed.push(service);
            }
        }
    }
    assert!(
        failed.is_empty(),
        "schemathesis found contract violations in {failed:?} (reports above; inputs in {})",
        dir.display()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
