//! `shop-bench`: the load generators behind `cargo xtask bench` (which starts the services and
//! the private stack, then runs these). Each prints one JSON line of results. Every load runs
//! on goose: `login`, `get` and `checkout` as closed loops ([`closed`]), `shop` as the shopper
//! mix; the set-up before a load and the contended race after it use a plain client.
//!
//! - `verify [--seconds N]`: access-token verifications per second on one thread, through the
//!   same `TokenVerifier::verify` every service runs on every request.
//! - `login --url URL --email E --password P [--concurrency C] [--requests N]`: registers the
//!   user if needed, then N logins from C concurrent clients; latency percentiles.
//! - `get --name NAME --urls-file FILE [--concurrency C] [--seconds S]`: GETs the URLs of the
//!   file round-robin from C concurrent clients for S seconds; requests/s and percentiles.
//! - `checkout --auth URL --catalog URL --cart URL --order URL --admin-email E --admin-password P
//!   [--users N] [--concurrency C] [--seconds S] [--contended-users U] [--contended-stock K]`:
//!   sets up through the real APIs (the admin creates products, N users register and log in),
//!   then C goose users, each with its own of the N accounts, add one unit to their cart and
//!   check out for S seconds (orders/s, checkout p50/p99); then U users race for a product with stock K (placed, rejected, oversell, final
//!   stock). With `--watch NAME=PID,…` also the CPU time each of those processes (with its
//!   children: a Postgres server's backends) and the generator spent per add + checkout.
//!   Three JSON lines.
//! - `shop --host URL [options] [goose options]`: the shopper mix ([`shop`]): browsing and
//!   buying sessions through the gateway's public API on goose; per-step requests/s and
//!   percentiles, orders placed and rejected, an HTML report. Text, then one JSON line.
#![allow(clippy::print_stdout)] // A benchmark prints its numbers.

mod closed;
mod cpu;
mod shop;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use shop_kit::auth::{Claims, Plan, Role, TokenVerifier};

fn main() -> anyhow::Result<()> {
    shop_kit::install_crypto_provider();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    match args.first().map(String::as_str) {
        Some("verify") => {
            let seconds: u64 = flag("--seconds").map_or(Ok(3), |s| s.parse()).context("--seconds")?;
            // One core: a current-thread runtime, nothing else running on it.
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            rt.block_on(verify(Duration::from_secs(seconds)))
        }
        Some("login") => {
            let url = flag("--url").context("--url is required")?;
            let email = flag("--email").context("--email is required")?;
            let password = flag("--password").context("--password is required")?;
            let concurrency: usize = flag("--concurrency")
                .map_or(Ok(8), |s| s.parse())
                .context("--concurrency")?;
            let requests: usize = flag("--requests")
                .map_or(Ok(400), |s| s.parse())
                .context("--requests")?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            rt.block_on(login(&url, &email, &password, concurrency, requests))
        }
        Some("get") => {
            let name = flag("--name").unwrap_or_else(|| "get".to_owned());
            let file = flag("--urls-file").context("--urls-file is required")?;
            let urls: Vec<String> = std::fs::read_to_string(&file)?
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect();
            anyhow::ensure!(!urls.is_empty(), "{file} lists no URL");
            let concurrency: usize = flag("--concurrency")
                .map_or(Ok(64), |s| s.parse())
                .context("--concurrency")?;
            let seconds: u64 = flag("--seconds").map_or(Ok(10), |s| s.parse()).context("--seconds")?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            rt.block_on(Box::pin(closed::get(
                &name,
                urls,
                concurrency,
                Duration::from_secs(seconds),
            )))
        }
        Some("checkout") => {
            let number = |name: &str, default: usize| -> anyhow::Result<usize> {
                flag(name)
                    .map_or(Ok(default), |s| s.parse())
                    .with_context(|| name.to_owned())
            };
            let urls = Urls {
                auth: flag("--auth").context("--auth is required")?,
                catalog: flag("--catalog").context("--catalog is required")?,
                cart: flag("--cart").context("--cart is required")?,
                order: flag("--order").context("--order is required")?,
            };
            let options = CheckoutOptions {
                admin_email: flag("--admin-email").context("--admin-email is required")?,
                admin_password: flag("--admin-password").context("--admin-password is required")?,
                concurrency: number("--concurrency", 32)?.max(1),
                // At least one user per worker: two workers on one cart would mix their lines.
                users: number("--users", 64)?.max(number("--concurrency", 32)?.max(1)),
                seconds: number("--seconds", 10)? as u64,
                contended_users: number("--contended-users", 200)?,
                contended_stock: number("--contended-stock", 50)?,
                watch: cpu::Watch::parse(flag("--watch").as_deref())?,
            };
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            rt.block_on(checkout(&urls, &options))
        }
        Some("shop") => shop::run(&args[1..]),
        _ => bail!(
            "usage: shop-bench verify [--seconds N] | login --url URL --email E --password P [--concurrency C] \
             [--requests N] | get --name NAME --urls-file FILE [--concurrency C] [--seconds S] | checkout \
             --auth URL --catalog URL --cart URL --order URL --admin-email E --admin-password P [--users N] \
             [--concurrency C] [--seconds S] [--contended-users U] [--contended-stock K] [--watch NAME=PID,…] | shop --host URL \
             [--help for its options]"
        ),
    }
}

async fn verify(duration: Duration) -> anyhow::Result<()> {
    let (private_pem, public_pem) = shop_kit::keys::generate_ed25519_pem()?;
    let kid = "bench";
    let verifier = TokenVerifier::with_keys(
        "http://auth",
        "shopkeeper",
        vec![shop_kit::keys::parse_public_key(kid, public_pem.as_bytes())?],
    );
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        sub: uuid::Uuid::new_v4().to_string(),
        email: Some("bench@example.com".into()),
        role: Role::Customer,
        plan: Plan::Premium,
        plan_expires_at: None,
        iss: "http://auth".into(),
        aud: "shopkeeper".into(),
        exp: now + 3600,
        iat: now,
        jti: uuid::Uuid::new_v4().to_string(),
        sid: Some(uuid::Uuid::new_v4()),
        scope: None,
    };
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.into());
    let token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_pem(private_pem.as_bytes())?)?;
    // Warm up, and prove the token is accepted: a benchmark of failures would be meaningless.
    anyhow::ensure!(
        verifier.verify_uncached(&token).await? == claims,
        "the token does not round-trip"
    );
    let uncached = rate(duration, || async { verifier.verify_uncached(&token).await }).await?;

    // The path every request takes: 1000 live sessions, each token verified once, then served
    // from the verifier's cache.
    let key = EncodingKey::from_ed_pem(private_pem.as_bytes())?;
    let mut tokens = Vec::new();
    for _ in 0..1000 {
        let mut c = claims.clone();
        c.jti = uuid::Uuid::new_v4().to_string();
        tokens.push(jsonwebtoken::encode(&header, &c, &key)?);
    }
    let mut i = 0usize;
    let cached = rate(duration, || {
        i = (i + 1) % tokens.len();
        let t = &tokens[i];
        let v = &verifier;
        async move { v.verify(t).await }
    })
    .await?;
    println!(
        "{}",
        json!({"bench": "verify", "alg": "EdDSA", "threads": 1,
               "signature_checked_per_second": uncached.0, "micros_each": uncached.1,
               "cached_1000_sessions_per_second": cached.0, "cached_micros_each": cached.1})
    );
    Ok(())
}

async fn login(url: &str, email: &str, password: &str, concurrency: usize, requests: usize) -> anyhow::Result<()> {
    let http = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let register = http
        .post(format!("{url}/auth/register"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await?;
    anyhow::ensure!(
        register.status().is_success() || register.status() == reqwest::StatusCode::CONFLICT,
        "register failed: {}",
        register.status()
    );
    let body = json!({"email": email, "password": password});
    // Warm-up: connections and the first login.
    let first = http.post(format!("{url}/auth/login")).json(&body).send().await?;
    anyhow::ensure!(first.status().is_success(), "login failed: {}", first.status());

    Box::pin(closed::login(url, body, concurrency, requests)).await
}

/// The base URLs of the services the checkout benchmark talks to.
struct Urls {
    auth: String,
    catalog: String,
    cart: String,
    order: String,
}

struct CheckoutOptions {
    admin_email: String,
    admin_password: String,
    users: usize,
    concurrency: usize,
    seconds: u64,
    contended_users: usize,
    contended_stock: usize,
    /// Processes whose CPU time the load is charged with (`--watch NAME=PID,…`).
    watch: cpu::Watch,
}

/// A signed-in user: its access token.
#[derive(Clone)]
struct User {
    token: String,
}

/// Fails with the status and the body unless `response` succeeded; returns the JSON body.
async fn json_ok(response: reqwest::Response, what: &str) -> anyhow::Result<serde_json::Value> {
    let status = response.status();
    let body = response.text().await?;
    anyhow::ensure!(status.is_success(), "{what}: {status}: {body}");
    Ok(serde_json::from_str(&body).unwrap_or(serde_json::Value::Null))
}

async fn sign_in(http: &reqwest::Client, auth: &str, email: &str, password: &str) -> anyhow::Result<User> {
    let r = http
        .post(format!("{auth}/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await?;
    let body = json_ok(r, &format!("login {email}")).await?;
    let token = body["access_token"]
        .as_str()
        .context("the login answer has no access_token")?
        .to_owned();
    Ok(User { token })
}

/// Registers and signs in `n` users, a few at a time (each costs two argon2 hashes).
async fn make_users(http: &reqwest::Client, auth: &str, n: usize) -> anyhow::Result<Vec<User>> {
    let run = format!("{:08x}", rand_u32());
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (http, next, auth, run) = (http.clone(), next.clone(), auth.to_owned(), run.clone());
        tasks.push(tokio::spawn(async move {
            let mut users = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let email = format!("bench-{run}-{i}@example.com");
                let password = "bench-passphrase-1";
                let r = http
                    .post(format!("{auth}/auth/register"))
                    .json(&json!({"email": email, "password": password}))
                    .send()
                    .await?;
                json_ok(r, &format!("register {email}")).await?;
                users.push((i, sign_in(&http, &auth, &email, password).await?));
            }
            anyhow::Ok(users)
        }));
    }
    let mut all = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await??);
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, u)| u).collect())
}

fn rand_u32() -> u32 {
    uuid::Uuid::new_v4().as_u128() as u32
}

/// Creates an active product with `stock` units as the admin; returns its id.
async fn create_product(
    http: &reqwest::Client,
    catalog: &str,
    admin: &User,
    sku: &str,
    stock: usize,
) -> anyhow::Result<String> {
    let r = http
        .post(format!("{catalog}/products"))
        .bearer_auth(&admin.token)
        .json(&json!({"sku": sku, "name": format!("Bench product {sku}"), "price": "10.00", "stock": stock}))
        .send()
        .await?;
    let body = json_ok(r, "create product").await?;
    Ok(body["id"].as_str().context("the product has no id")?.to_owned())
}

/// What one checkout answered.
enum Outcome {
    Placed(serde_json::Value),
    Rejected,
    Pending,
}

/// `POST /orders/checkout` with a fresh key; any answer but 200/201/202 is an error.
async fn check_out(http: &reqwest::Client, order: &str, user: &User) -> anyhow::Result<Outcome> {
    let r = http
        .post(format!("{order}/orders/checkout"))
        .bearer_auth(&user.token)
        .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
        .send()
        .await?;
    let body = json_ok(r, "checkout").await?;
    Ok(match body["status"].as_str() {
        Some("placed") => Outcome::Placed(body),
        Some("rejected") => Outcome::Rejected,
        Some("pending") => Outcome::Pending,
        other => bail!("checkout answered status {other:?}"),
    })
}

async fn add_to_cart(http: &reqwest::Client, cart: &str, user: &User, product: &str) -> anyhow::Result<()> {
    let r = http
        .post(format!("{cart}/cart/add"))
        .bearer_auth(&user.token)
        .json(&json!({"product_id": product, "qty": 1}))
        .send()
        .await?;
    json_ok(r, "add to cart").await.map(drop)
}

async fn checkout(urls: &Urls, o: &CheckoutOptions) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(o.concurrency.max(o.contended_users) * 2)
        .timeout(Duration::from_secs(30))
        .build()?;
    let setup = Instant::now();
    let admin = sign_in(&http, &urls.auth, &o.admin_email, &o.admin_password).await?;
    let run = format!("{:08x}", rand_u32());
    let product = create_product(&http, &urls.catalog, &admin, &format!("BENCH-{run}-LOAD"), 1_000_000).await?;
    let users = make_users(&http, &urls.auth, o.users.max(o.contended_users)).await?;
    eprintln!(
        "shop-bench: {} users and a product ready in {:.1} s",
        users.len(),
        setup.elapsed().as_secs_f64()
    );

    // Warm-up: each load user once (connections, the services' token caches, the pools).
    let load_users = Arc::new(users[..o.users].to_vec());
    for u in load_users.iter().take(o.concurrency) {
        add_to_cart(&http, &urls.cart, u, &product).await?;
        check_out(&http, &urls.order, u).await?;
    }

    let tokens = load_users.iter().map(|u| u.token.clone()).collect();
    Box::pin(closed::checkout(
        &urls.cart,
        &urls.order,
        &product,
        tokens,
        (o.concurrency, o.seconds),
        &o.watch,
    ))
    .await?;

    contended(&http, urls, &admin, &users, o, &run).await
}

/// `U` users with one unit each in an otherwise empty cart check out at once a product with
/// `K` in stock: exactly `K` may be placed, and the stock must end at 0, never below.
async fn contended(
    http: &reqwest::Client,
    urls: &Urls,
    admin: &User,
    users: &[User],
    o: &CheckoutOptions,
    run: &str,
) -> anyhow::Result<()> {
    let n = o.contended_users.min(users.len());
    let stock = o.contended_stock;
    let product = create_product(http, &urls.catalog, admin, &format!("BENCH-{run}-RACE"), stock).await?;
    let racers = &users[..n];
    for u in racers {
        let r = http
            .post(format!("{}/cart/clear", urls.cart))
            .bearer_auth(&u.token)
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "clearing a cart: {}", r.status());
        add_to_cart(http, &urls.cart, u, &product).await?;
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let start = Instant::now();
    let tasks: Vec<_> = racers
        .iter()
        .map(|u| {
            let (http, order, u, barrier, product) = (
                http.clone(),
                urls.order.clone(),
                u.clone(),
                barrier.clone(),
                product.clone(),
            );
            tokio::spawn(async move {
                barrier.wait().await;
                let outcome = check_out(&http, &order, &u).await?;
                // Units of the contended product in a placed order.
                let units = match &outcome {
                    Outcome::Placed(body) => body["items"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|item| item["product_id"].as_str() == Some(product.as_str()))
                        .filter_map(|item| item["qty"].as_u64())
                        .sum::<u64>(),
                    _ => 0,
                };
                anyhow::Ok((outcome, units, u))
            })
        })
        .collect();
    let (mut placed, mut rejected, mut pending, mut errors, mut units) = (0usize, 0usize, 0usize, 0usize, 0u64);
    let mut rejected_users = Vec::new();
    for t in tasks {
        match t.await? {
            Ok((Outcome::Placed(_), u, _)) => {
                placed += 1;
                units += u;
            }
            Ok((Outcome::Rejected, _, user)) => {
                rejected += 1;
                rejected_users.push(user);
            }
            Ok((Outcome::Pending, _, _)) => pending += 1,
            Err(err) => {
                errors += 1;
                eprintln!("shop-bench: contended checkout: {err:#}");
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let r = http
        .get(format!("{}/products/{product}", urls.catalog))
        .bearer_auth(&admin.token)
        .send()
        .await?;
    let final_stock = json_ok(r, "read the product").await?["stock"]
        .as_i64()
        .context("the product has no stock")?;
    // A rejected checkout leaves the cart as it was: one unit of the product.
    let mut carts_intact = 0usize;
    for u in &rejected_users {
        let r = http
            .get(format!("{}/cart", urls.cart))
            .bearer_auth(&u.token)
            .send()
            .await?;
        let cart = json_ok(r, "read a cart").await?;
        let intact = cart["items"].as_array().is_some_and(|items| {
            items.len() == 1
                && items[0]["product_id"].as_str() == Some(product.as_str())
                && items[0]["qty"].as_u64() == Some(1)
        });
        carts_intact += usize::from(intact);
    }
    println!(
        "{}",
        json!({"bench": "checkout_contended", "users": n, "stock": stock, "seconds": round(secs),
               "placed": placed, "units_placed": units, "rejected": rejected, "pending": pending, "errors": errors,
               "oversell": units.saturating_sub(stock as u64), "final_stock": final_stock,
               "rejected_carts_intact": carts_intact})
    );
    Ok(())
}

/// Calls `f` for `duration` on this thread; returns (calls per second, microseconds each).
async fn rate<F, Fut>(duration: Duration, mut f: F) -> anyhow::Result<(f64, f64)>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Claims, shop_kit::auth::TokenError>>,
{
    let start = Instant::now();
    let mut n: u64 = 0;
    while start.elapsed() < duration {
        for _ in 0..256 {
            std::hint::black_box(f().await?);
        }
        n += 256;
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(((n as f64 / secs).round(), round(secs * 1e6 / n as f64)))
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
