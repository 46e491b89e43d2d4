//! Closed-loop loads on goose: `get` and `checkout`. A fixed number of users, each sending its
//! next request as soon as the last one answered (no think time), for a fixed time: the
//! throughput and latency of one path at one concurrency, which is what the per-service
//! benchmarks measure. The shopper mix ([`crate::shop`]) runs on the same engine.
//!
//! Goose starts every user within a tenth of a second.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use goose::config::GooseConfiguration;
use goose::metrics::GooseMetrics;
use goose::prelude::*;

use crate::round;

/// A goose attack of `users` users for `seconds` (0: until each ran its iterations), quiet,
/// with no report: its metrics come back to the caller.
fn attack(users: usize, seconds: u64, host: &str) -> anyhow::Result<GooseAttack> {
    let config = GooseConfiguration::parse_args_default(&Vec::<String>::new())?;
    let attack = GooseAttack::initialize_with_config(config)?
        .set_default(GooseDefault::Host, host)?
        .set_default(GooseDefault::Users, users)?
        // Every user at once: the run measures the steady load, not a ramp.
        .set_default(GooseDefault::IncreaseRate, format!("{}", users * 10).as_str())?
        .set_default(GooseDefault::NoPrintMetrics, true)?
        .set_default(GooseDefault::Quiet, 1)?
        .set_default(GooseDefault::NoTelnet, true)?
        .set_default(GooseDefault::NoWebSocket, true)?;
    // Goose refuses a run time (and keeping its counts, which it does anyway) beside iterations.
    Ok(*if seconds > 0 {
        attack
            .set_default(GooseDefault::RunTime, usize::try_from(seconds)?)?
            // The orders counted from the answers cover the whole run, so goose's figures do
            // too (the start takes a tenth of a second).
            .set_default(GooseDefault::NoResetMetrics, true)?
    } else {
        attack
    })
}

/// Runs `attack`; its metrics and how long it ran, in seconds (goose's own `duration` is whole
/// seconds).
async fn run(attack: GooseAttack) -> anyhow::Result<(GooseMetrics, f64)> {
    let start = Instant::now();
    let metrics = Box::pin(attack.execute()).await?;
    Ok((metrics, start.elapsed().as_secs_f64()))
}

/// Requests named `name` in `secs`: (answered, failed, per second, latency percentiles in ms).
fn figures<'m>(metrics: &'m GooseMetrics, secs: f64, name: &str) -> (usize, usize, f64, impl Fn(f32) -> f64 + 'm) {
    let aggregate = metrics.requests.values().find(|r| r.path == name);
    let (ok, failed) = aggregate.map_or((0, 0), |r| (r.success_count, r.fail_count));
    let percentile = move |p: f32| aggregate.map_or(0.0, |r| round(r.raw_data.percentile_us(p) as f64 / 1000.0));
    (ok, failed, round(ok as f64 / secs), percentile)
}

static URLS: OnceLock<Vec<String>> = OnceLock::new();
static NEXT: AtomicUsize = AtomicUsize::new(0);
static GET_NAME: OnceLock<String> = OnceLock::new();

/// One GET of the next URL of the list (round-robin over all users), body read.
async fn get_next(user: &mut GooseUser) -> TransactionResult {
    let urls = URLS.get().map(Vec::as_slice).unwrap_or_default();
    let name = GET_NAME.get().map_or("get", String::as_str);
    let url = &urls[NEXT.fetch_add(1, Ordering::Relaxed) % urls.len()];
    let answer = user.get_named(url, name).await?;
    if let Ok(response) = answer.response {
        let _ = response.bytes().await;
    }
    Ok(())
}

/// `shop-bench get`: `concurrency` users GET `urls` round-robin for `duration`; one JSON line.
pub(crate) async fn get(name: &str, urls: Vec<String>, concurrency: usize, duration: Duration) -> anyhow::Result<()> {
    // Warm-up: every URL once, and it must answer 200.
    let http = reqwest::Client::new();
    for u in &urls {
        let r = http.get(u).send().await?;
        anyhow::ensure!(r.status().is_success(), "{u}: {}", r.status());
    }
    let host = reqwest::Url::parse(&urls[0])?.origin().ascii_serialization();
    let _ = URLS.set(urls);
    let _ = GET_NAME.set(name.to_owned());
    let (metrics, secs) = Box::pin(run(attack(concurrency, duration.as_secs(), &host)?
        .register_scenario(scenario!("get").register_transaction(transaction!(get_next)))))
    .await?;
    let (ok, errors, per_second, percentile) = figures(&metrics, secs, name);
    println!(
        "{}",
        serde_json::json!({"bench": name, "concurrency": concurrency, "ok": ok, "errors": errors,
            "seconds": round(secs), "per_second": per_second, "p50_ms": percentile(0.5), "p99_ms": percentile(0.99)})
    );
    Ok(())
}

/// What the checkout load needs: the services' URLs, the product and the users' tokens.
struct Checkout {
    cart: String,
    order: String,
    product: String,
    tokens: Vec<String>,
}

static CHECKOUT: OnceLock<Checkout> = OnceLock::new();
static NEXT_USER: AtomicUsize = AtomicUsize::new(0);
static PLACED: AtomicU64 = AtomicU64::new(0);
static REJECTED: AtomicU64 = AtomicU64::new(0);
static PENDING: AtomicU64 = AtomicU64::new(0);

/// Each goose user takes its own accounts (`users / concurrency` of them, never shared: two
/// users on one cart would mix their lines) and cycles through them.
#[derive(Debug, Clone, Default)]
struct Accounts {
    tokens: Vec<String>,
    next: usize,
}

async fn take_accounts(user: &mut GooseUser) -> TransactionResult {
    let setup = CHECKOUT
        .get()
        .ok_or_else(|| TransactionError::Custom("no set-up".into()))?;
    let concurrency = user.config.users.unwrap_or(1).max(1);
    let w = NEXT_USER.fetch_add(1, Ordering::Relaxed);
    let tokens = setup.tokens.iter().skip(w).step_by(concurrency).cloned().collect();
    user.set_session_data(Accounts { tokens, next: 0 });
    Ok(())
}

/// Add one unit to the cart, then check out with a fresh key.
async fn add_and_check_out(user: &mut GooseUser) -> TransactionResult {
    let setup = CHECKOUT
        .get()
        .ok_or_else(|| TransactionError::Custom("no set-up".into()))?;
    let accounts = user.get_session_data_unchecked_mut::<Accounts>();
    let token = accounts.tokens[accounts.next % accounts.tokens.len()].clone();
    accounts.next += 1;
    let add = user
        .get_request_builder(&GooseMethod::Post, &format!("{}/cart/add", setup.cart))?
        .bearer_auth(&token)
        .json(&serde_json::json!({"product_id": setup.product, "qty": 1}));
    let answer = user
        .request(GooseRequest::builder().name("add").set_request_builder(add).build())
        .await?;
    match answer.response {
        Ok(r) if r.status().is_success() => drop(r.bytes().await),
        // Goose counted the failure; a checkout now would find an empty cart.
        _ => return Ok(()),
    }
    let checkout = user
        .get_request_builder(&GooseMethod::Post, &format!("{}/orders/checkout", setup.order))?
        .bearer_auth(&token)
        .header("Idempotency-Key", uuid::Uuid::new_v4().to_string());
    let mut answer = user
        .request(
            GooseRequest::builder()
                .name("checkout")
                .set_request_builder(checkout)
                .build(),
        )
        .await?;
    let body: serde_json::Value = match answer.response {
        Ok(r) if r.status().is_success() => r.json().await.unwrap_or_default(),
        _ => return Ok(()),
    };
    match body["status"].as_str() {
        Some("placed") => PLACED.fetch_add(1, Ordering::Relaxed),
        Some("rejected") => REJECTED.fetch_add(1, Ordering::Relaxed),
        Some("pending") => PENDING.fetch_add(1, Ordering::Relaxed),
        other => {
            return user.set_failure(
                &format!("checkout answered status {other:?}"),
                &mut answer.request,
                None,
                None,
            );
        }
    };
    Ok(())
}

/// The checkout load: `concurrency` users add one unit and check out for `seconds`; one JSON
/// line with orders/s and the checkout's latency.
pub(crate) async fn checkout(
    cart: &str,
    order: &str,
    product: &str,
    tokens: Vec<String>,
    (concurrency, seconds): (usize, u64),
    watch: &crate::cpu::Watch,
) -> anyhow::Result<()> {
    let users = tokens.len();
    let _ = CHECKOUT.set(Checkout {
        cart: cart.to_owned(),
        order: order.to_owned(),
        product: product.to_owned(),
        tokens,
    });
    let cpu_before = watch.sample();
    let (metrics, secs) = Box::pin(run(attack(concurrency, seconds, order)?.register_scenario(
        scenario!("checkout")
            .register_transaction(transaction!(take_accounts).set_on_start())
            .register_transaction(transaction!(add_and_check_out)),
    )))
    .await?;
    let cpu_after = watch.sample();
    let (_, add_errors, _, _) = figures(&metrics, secs, "add");
    let (pairs, checkout_errors, pairs_per_second, percentile) = figures(&metrics, secs, "checkout");
    let count = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let placed = count(&PLACED);
    println!(
        "{}",
        serde_json::json!({"bench": "checkout", "concurrency": concurrency, "users": users, "seconds": round(secs),
            "orders_per_second": round(placed as f64 / secs), "add_and_checkout_per_second": pairs_per_second,
            "p50_ms": percentile(0.5), "p90_ms": percentile(0.9), "p99_ms": percentile(0.99), "max_ms": percentile(1.0),
            "placed": placed, "rejected": count(&REJECTED), "pending": count(&PENDING),
            "errors": add_errors + checkout_errors, "checkouts": pairs})
    );
    println!(
        "{}",
        serde_json::json!({"bench": "checkout_cpu", "us_per_add_and_checkout": watch.per_unit(&cpu_before, &cpu_after, pairs as u64)})
    );
    Ok(())
}

static LOGIN: OnceLock<(String, serde_json::Value)> = OnceLock::new();

async fn log_in(user: &mut GooseUser) -> TransactionResult {
    let (url, body) = LOGIN
        .get()
        .ok_or_else(|| TransactionError::Custom("no set-up".into()))?;
    let request = user.get_request_builder(&GooseMethod::Post, url)?.json(body);
    let answer = user
        .request(
            GooseRequest::builder()
                .name("login")
                .set_request_builder(request)
                .build(),
        )
        .await?;
    if let Ok(response) = answer.response {
        let _ = response.bytes().await;
    }
    Ok(())
}

/// `shop-bench login`: `concurrency` users log in `requests` times in all (the user exists);
/// one JSON line.
pub(crate) async fn login(
    url: &str,
    body: serde_json::Value,
    concurrency: usize,
    requests: usize,
) -> anyhow::Result<()> {
    let _ = LOGIN.set((format!("{url}/auth/login"), body));
    let per_user = requests.div_ceil(concurrency).max(1);
    let (metrics, secs) = Box::pin(run(attack(concurrency, 0, url)?
        .set_default(GooseDefault::Iterations, per_user)?
        .register_scenario(scenario!("login").register_transaction(transaction!(log_in)))))
    .await?;
    let (ok, errors, per_second, pct) = figures(&metrics, secs, "login");
    println!(
        "{}",
        serde_json::json!({"bench": "login", "concurrency": concurrency, "ok": ok, "errors": errors, "seconds": round(secs),
            "per_second": per_second, "p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99), "max_ms": pct(1.0)})
    );
    Ok(())
}
