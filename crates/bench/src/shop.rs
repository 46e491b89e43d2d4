//! `shop-bench shop`: the shopper mix, a shop's load through the gateway's public API on goose.
//!
//! Two kinds of session, each with think time between its steps (`--think-ms`):
//! - **browse** (weight 3 by default, anonymous): the home page, the categories, a category's
//!   listing, a product from it, a search (`q=`), another product.
//! - **buy** (weight 1, a signed-in customer): a category, a product, add to cart, half the
//!   time a second product, the cart; then 70 % check out (the others leave the cart for their
//!   next session), look at their orders and cancel 15 % of what they placed. A rejected
//!   checkout empties the cart.
//!
//! Each buying user signs in once (registers `<accounts>-<n>@example.com` unless it exists,
//! then logs in) and again when its token is ten minutes old. With `--admin-email` and
//! `--admin-password` the set-up first creates `--products` products with `--stock` units
//! each, spread over the shop's categories, so the load finds stock; without them it uses
//! what the shop sells.
//!
//! Goose names each request after its step and reports them; this module prints, per step,
//! requests/s, p50/p95/p99 and errors, then the orders placed, rejected, pending and canceled
//! as counted from the answers, and one JSON line. Every option it does not know goes to goose
//! (`--host`, `--users`, `--run-time`, `--increase-rate`, `--report-file`, …).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use goose::config::GooseConfiguration;
use goose::goose::GooseResponse;
use goose::prelude::*;
use serde_json::json;
use shop_api::{Category, Order, OrderStatus, Page, Product};
use uuid::Uuid;

/// The share of buying sessions that check out, and of placed orders then canceled.
const CHECKOUT_SHARE: f64 = 0.7;
const CANCEL_SHARE: f64 = 0.15;
/// The share of buying sessions that add a second product.
const SECOND_PRODUCT_SHARE: f64 = 0.5;
/// Access tokens live 15 minutes by default; sign in again well before.
const TOKEN_MAX_AGE: Duration = Duration::from_secs(600);

const USAGE: &str = "usage: shop-bench shop --host URL [--admin-email E --admin-password P] [--products N] \
[--stock N] [--accounts PREFIX] [--password P] [--think-ms MIN-MAX] [--mix BROWSE:BUY] [goose options]

  --host URL              the shop's public base URL (the gateway), e.g. http://localhost:8000
  --admin-email, --admin-password
                          set up through the admin API first: --products products (24) with
                          --stock units (1000000) each, spread over the shop's categories
  --accounts PREFIX       buying users are PREFIX-<n>@example.com (shopper), registered when
                          missing; --password is theirs (shopper-mix-passphrase-1)
  --think-ms MIN-MAX      a user's pause between two steps, in ms (250-1500)
  --mix BROWSE:BUY        weights of browsing and buying sessions (3:1)

Every other option is goose's: --users N, --run-time 30s, --increase-rate R, --report-file
FILE.html (default target/bench/shop.html), --request-log FILE, … (https://book.goose.rs).";

/// The options of `shop-bench shop` that are not goose's.
#[derive(Debug)]
struct Options {
    admin: Option<(String, String)>,
    products: usize,
    stock: u32,
    accounts: String,
    password: String,
    think: (Duration, Duration),
    mix: (usize, usize),
    /// The rest, for goose.
    goose: Vec<String>,
}

impl Options {
    fn parse(args: &[String]) -> anyhow::Result<Self> {
        let (mut admin_email, mut admin_password) = (None, None);
        let mut options = Options {
            admin: None,
            products: 24,
            stock: 1_000_000,
            accounts: "shopper".to_owned(),
            password: "shopper-mix-passphrase-1".to_owned(),
            think: (Duration::from_millis(250), Duration::from_millis(1500)),
            mix: (3, 1),
            goose: Vec::new(),
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = || args.next().cloned().with_context(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--admin-email" => admin_email = Some(value()?),
                "--admin-password" => admin_password = Some(value()?),
                "--products" => options.products = value()?.parse().context("--products")?,
                "--stock" => options.stock = value()?.parse().context("--stock")?,
                "--accounts" => options.accounts = value()?,
                "--password" => options.password = value()?,
                "--think-ms" => {
                    let v = value()?;
                    let (min, max) = v.split_once('-').context("--think-ms takes MIN-MAX")?;
                    let (min, max): (u64, u64) = (min.parse()?, max.parse()?);
                    anyhow::ensure!(min <= max, "--think-ms: {min} is more than {max}");
                    options.think = (Duration::from_millis(min), Duration::from_millis(max));
                }
                "--mix" => {
                    let v = value()?;
                    let (browse, buy) = v.split_once(':').context("--mix takes BROWSE:BUY")?;
                    options.mix = (browse.parse()?, buy.parse()?);
                    anyhow::ensure!(options.mix != (0, 0), "--mix: one weight must be above 0");
                }
                _ => options.goose.push(arg.clone()),
            }
        }
        options.admin = match (admin_email, admin_password) {
            (Some(email), Some(password)) => Some((email, password)),
            (None, None) => None,
            _ => bail!("--admin-email and --admin-password go together"),
        };
        Ok(options)
    }
}

/// What the shoppers pick from, learned before the load starts.
#[derive(Debug)]
struct Catalog {
    /// Category slugs that hold products.
    categories: Vec<String>,
    /// Words of product names, to search for.
    terms: Vec<String>,
    /// Products in stock, for a shopper whose last listing failed.
    products: Vec<Uuid>,
}

static CATALOG: OnceLock<Catalog> = OnceLock::new();

/// What the answers said about orders, counted over the whole run.
struct Outcomes {
    placed: AtomicU64,
    rejected: AtomicU64,
    pending: AtomicU64,
    canceled: AtomicU64,
    abandoned: AtomicU64,
}

static OUTCOMES: Outcomes = Outcomes {
    placed: AtomicU64::new(0),
    rejected: AtomicU64::new(0),
    pending: AtomicU64::new(0),
    canceled: AtomicU64::new(0),
    abandoned: AtomicU64::new(0),
};

/// One goose user's state between its steps.
#[derive(Debug, Clone, Default)]
struct Session {
    /// The access token and when it was issued (buyers only).
    token: Option<(String, Instant)>,
    /// Products in stock from the last listing or search.
    seen: Vec<Uuid>,
    /// The product last opened.
    product: Option<Uuid>,
    /// Units this user put in its cart and has not bought yet.
    cart_units: u32,
    /// The order placed in this session.
    order: Option<Uuid>,
    /// Whether this session checked out.
    checked_out: bool,
}

/// The buying users' email prefix and password: fixed, so a second run on a shop logs in.
static ACCOUNTS: OnceLock<(String, String)> = OnceLock::new();

/// Runs `shop-bench shop [options]`.
pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let options = Options::parse(args)?;
    let mut config = GooseConfiguration::parse_args_default(&options.goose).map_err(|e| match e {
        // Its Display says only "invalid option".
        GooseError::InvalidOption { detail, .. } => anyhow::anyhow!("{detail}"),
        e => e.into(),
    })?;
    let host = config
        .host
        .clone()
        .context("--host URL is required (the shop's public base URL)")?;
    let host = host.trim_end_matches('/').to_owned();
    if config.report_file.is_empty() {
        config.report_file.push("target/bench/shop.html".to_owned());
    }
    for file in &config.report_file {
        if let Some(dir) = std::path::Path::new(file)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
    }
    let users = config.users.unwrap_or(16);
    let reports = config.report_file.clone();
    let _ = ACCOUNTS.set((options.accounts.clone(), options.password.clone()));

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let setup = Instant::now();
        let catalog = set_up(&host, &options).await?;
        eprintln!(
            "shop-bench: {} categories, {} products in stock, {} search terms ready in {:.1} s",
            catalog.categories.len(),
            catalog.products.len(),
            catalog.terms.len(),
            setup.elapsed().as_secs_f64()
        );
        let _ = CATALOG.set(catalog);

        let (think_min, think_max) = options.think;
        let mut attack = *GooseAttack::initialize_with_config(config)?
            .set_default(GooseDefault::Users, users)?
            .set_default(GooseDefault::RunTime, 30)?
            // All users within about two seconds: the run measures the mix, not a ramp.
            .set_default(GooseDefault::IncreaseRate, format!("{}", users.div_ceil(2)).as_str())?
            // The order counts cover the whole run, so goose's figures do too.
            .set_default(GooseDefault::NoResetMetrics, true)?
            .set_default(GooseDefault::NoPrintMetrics, true)?
            // Warnings only: goose logs every user's start and stop at INFO.
            .set_default(GooseDefault::Quiet, 1)?
            .set_default(GooseDefault::NoTelnet, true)?;
        if options.mix.0 > 0 {
            attack = attack.register_scenario(browse(think_min, think_max, options.mix.0)?);
        }
        if options.mix.1 > 0 {
            attack = attack.register_scenario(buy(think_min, think_max, options.mix.1)?);
        }
        let metrics = Box::pin(attack.execute()).await?;
        print_summary(&metrics, &host, options.think, &reports);
        anyhow::Ok(())
    })
}

fn browse(think_min: Duration, think_max: Duration, weight: usize) -> Result<Scenario, GooseError> {
    Ok(scenario!("browse")
        .set_weight(weight)?
        .set_wait_time(think_min, think_max)?
        .register_transaction(transaction!(home_page).set_name("home page"))
        .register_transaction(transaction!(categories).set_name("categories"))
        .register_transaction(transaction!(category).set_name("category"))
        .register_transaction(transaction!(product).set_name("product"))
        .register_transaction(transaction!(search).set_name("search"))
        .register_transaction(transaction!(product).set_name("product")))
}

fn buy(think_min: Duration, think_max: Duration, weight: usize) -> Result<Scenario, GooseError> {
    Ok(scenario!("buy")
        .set_weight(weight)?
        .set_wait_time(think_min, think_max)?
        .register_transaction(transaction!(sign_in).set_name("sign in").set_on_start())
        .register_transaction(transaction!(start_buying).set_name("category"))
        .register_transaction(transaction!(product).set_name("product"))
        .register_transaction(transaction!(add_to_cart).set_name("add to cart"))
        .register_transaction(transaction!(maybe_second_product).set_name("second product"))
        .register_transaction(transaction!(view_cart).set_name("cart"))
        .register_transaction(transaction!(checkout).set_name("checkout"))
        .register_transaction(transaction!(my_orders).set_name("my orders"))
        .register_transaction(transaction!(maybe_cancel).set_name("cancel")))
}

// ---------------------------------------------------------------------------------------------
// Set-up, with a plain client before the load starts.

async fn set_up(host: &str, options: &Options) -> anyhow::Result<Catalog> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    let categories: Vec<Category> = get_json(&http, &format!("{host}/api/v1/categories"), None).await?;
    let slugs: Vec<String> = categories.iter().map(|c| c.slug.clone()).collect();
    let mut products = Vec::new();
    let mut names = Vec::new();
    if let Some((email, password)) = &options.admin {
        let token = log_in(&http, host, email, password).await?;
        let run = format!("{:08x}", Uuid::new_v4().as_u128() as u32);
        for i in 0..options.products {
            let name = product_name(i);
            let mut body = json!({
                "sku": format!("LOAD-{run}-{i:03}"),
                "name": name,
                "description": format!("A product of the shopper-mix load, run {run}."),
                "price": format!("{}.{:02}", 990 + 250 * (i % 40), (i * 37) % 100),
                "stock": options.stock,
            });
            if !slugs.is_empty() {
                body["categories"] = json!([slugs[i % slugs.len()]]);
            }
            let r = http
                .post(format!("{host}/api/v1/products"))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await?;
            let status = r.status();
            let text = r.text().await?;
            anyhow::ensure!(status.is_success(), "creating a product: {status}: {text}");
            let product: Product = serde_json::from_str(&text).context("the created product")?;
            products.push(product.id);
            names.push(product.name);
        }
    }
    // What an anonymous shopper sees on the first page, in stock.
    let page: Page<Product> = get_json(&http, &format!("{host}/api/v1/products?in_stock=true"), None).await?;
    for p in page.items {
        if !products.contains(&p.id) {
            products.push(p.id);
            names.push(p.name);
        }
    }
    if products.is_empty() {
        bail!("the shop at {host} sells nothing in stock: give --admin-email and --admin-password to create products");
    }
    let terms: BTreeSet<String> = names
        .iter()
        .flat_map(|n| n.split_whitespace())
        .filter(|w| w.len() >= 4 && w.chars().all(|c| c.is_ascii_alphabetic()))
        .map(str::to_lowercase)
        .collect();
    let with_products: Vec<String> = categories
        .iter()
        .filter(|c| c.product_count > 0 || options.admin.is_some())
        .map(|c| c.slug.clone())
        .collect();
    Ok(Catalog {
        categories: with_products,
        terms: terms.into_iter().collect(),
        products,
    })
}

/// A plausible product name, so searches find something.
fn product_name(i: usize) -> String {
    const MATERIALS: [&str; 8] = [
        "linen", "wool", "cotton", "leather", "ceramic", "walnut", "steel", "silk",
    ];
    const THINGS: [&str; 8] = ["shirt", "scarf", "mug", "lamp", "notebook", "bag", "jacket", "teapot"];
    let material = MATERIALS[i % MATERIALS.len()];
    let thing = THINGS[(i / MATERIALS.len() + i) % THINGS.len()];
    format!("Everyday {material} {thing} {i}")
}

async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
) -> anyhow::Result<T> {
    let mut request = http.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let r = request.send().await.with_context(|| format!("GET {url}"))?;
    let status = r.status();
    let text = r.text().await?;
    anyhow::ensure!(status.is_success(), "GET {url}: {status}: {text}");
    serde_json::from_str(&text).with_context(|| format!("GET {url}: unexpected body"))
}

async fn log_in(http: &reqwest::Client, host: &str, email: &str, password: &str) -> anyhow::Result<String> {
    let r = http
        .post(format!("{host}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await?;
    let status = r.status();
    let body: serde_json::Value = r.json().await.unwrap_or_default();
    anyhow::ensure!(status.is_success(), "logging in as {email}: {status}: {body}");
    Ok(body["access_token"]
        .as_str()
        .context("the login answer has no access_token")?
        .to_owned())
}

// ---------------------------------------------------------------------------------------------
// The steps.

fn chance(p: f64) -> bool {
    rand::random::<f64>() < p
}

fn pick<T>(items: &[T]) -> Option<&T> {
    (!items.is_empty()).then(|| &items[rand::random::<usize>() % items.len()])
}

fn catalog() -> Result<&'static Catalog, Box<TransactionError>> {
    CATALOG
        .get()
        .ok_or_else(|| Box::new(TransactionError::Custom("no catalog: the set-up did not run".into())))
}

fn session(user: &mut GooseUser) -> &mut Session {
    if user.get_session_data::<Session>().is_none() {
        user.set_session_data(Session::default());
    }
    user.get_session_data_unchecked_mut::<Session>()
}

/// A request named `name` for the reports, with the user's token when it has one.
async fn call(
    user: &mut GooseUser,
    method: GooseMethod,
    path: &str,
    name: &str,
    body: Option<serde_json::Value>,
    idempotency_key: bool,
) -> Result<GooseResponse, Box<TransactionError>> {
    let token = session(user).token.as_ref().map(|(t, _)| t.clone());
    let mut builder = user.get_request_builder(&method, path)?;
    if let Some(token) = token {
        builder = builder.bearer_auth(token);
    }
    if let Some(body) = body {
        builder = builder.json(&body);
    }
    if idempotency_key {
        builder = builder.header("Idempotency-Key", Uuid::new_v4().to_string());
    }
    let request = GooseRequest::builder()
        .method(method)
        .path(path)
        .name(name)
        .set_request_builder(builder)
        .build();
    user.request(request).await
}

/// The body of a successful answer as `T`; `None` when the request failed (goose has counted
/// it). A body that is not a `T` marks the request failed.
async fn body<T: serde::de::DeserializeOwned>(
    user: &mut GooseUser,
    mut goose: GooseResponse,
) -> Result<Option<T>, Box<TransactionError>> {
    let response = match goose.response {
        Ok(r) if r.status().is_success() => r,
        _ => return Ok(None),
    };
    let text = match response.text().await {
        Ok(text) => text,
        Err(e) => {
            return user
                .set_failure(&format!("reading the body: {e}"), &mut goose.request, None, None)
                .map(|()| None);
        }
    };
    match serde_json::from_str(&text) {
        Ok(value) => Ok(Some(value)),
        Err(e) => user
            .set_failure(&format!("unexpected body: {e}"), &mut goose.request, None, Some(&text))
            .map(|()| None),
    }
}

/// Remembers the in-stock products of a listing.
fn remember(user: &mut GooseUser, page: Option<Page<Product>>) {
    if let Some(page) = page {
        session(user).seen = page.items.iter().filter(|p| p.stock > 0).map(|p| p.id).collect();
    }
}

async fn home_page(user: &mut GooseUser) -> TransactionResult {
    call(user, GooseMethod::Get, "/", "home page", None, false).await?;
    Ok(())
}

async fn categories(user: &mut GooseUser) -> TransactionResult {
    call(user, GooseMethod::Get, "/api/v1/categories", "categories", None, false).await?;
    Ok(())
}

async fn category(user: &mut GooseUser) -> TransactionResult {
    let path = match pick(&catalog()?.categories) {
        Some(slug) => format!("/api/v1/products?category={slug}&per_page=20"),
        None => "/api/v1/products?per_page=20".to_owned(),
    };
    let goose = call(user, GooseMethod::Get, &path, "category", None, false).await?;
    let page = body(user, goose).await?;
    remember(user, page);
    Ok(())
}

async fn search(user: &mut GooseUser) -> TransactionResult {
    let Some(term) = pick(&catalog()?.terms) else {
        return Ok(());
    };
    let path = format!("/api/v1/products?q={term}&per_page=20");
    let goose = call(user, GooseMethod::Get, &path, "search", None, false).await?;
    let page = body(user, goose).await?;
    remember(user, page);
    Ok(())
}

/// Opens a product from the last listing (or any in stock).
async fn product(user: &mut GooseUser) -> TransactionResult {
    let id = match pick(&session(user).seen).copied() {
        Some(id) => id,
        None => match pick(&catalog()?.products) {
            Some(id) => *id,
            None => return Ok(()),
        },
    };
    session(user).product = Some(id);
    call(
        user,
        GooseMethod::Get,
        &format!("/api/v1/products/{id}"),
        "product",
        None,
        false,
    )
    .await?;
    Ok(())
}

/// Registers the user's account unless it exists, then logs in; also when the token is old.
async fn sign_in(user: &mut GooseUser) -> TransactionResult {
    if session(user)
        .token
        .as_ref()
        .is_some_and(|(_, at)| at.elapsed() < TOKEN_MAX_AGE)
    {
        return Ok(());
    }
    let (prefix, password) = ACCOUNTS
        .get()
        .cloned()
        .ok_or_else(|| Box::new(TransactionError::Custom("no accounts configured".into())))?;
    let email = format!("{prefix}-{}@example.com", user.weighted_users_index);
    let credentials = json!({"email": email, "password": password});
    if session(user).token.is_none() {
        let mut goose = call(
            user,
            GooseMethod::Post,
            "/api/v1/auth/register",
            "register",
            Some(credentials.clone()),
            false,
        )
        .await?;
        // An account from an earlier run is as good as a new one.
        if matches!(&goose.response, Ok(r) if r.status() == 409) {
            user.set_success(&mut goose.request)?;
        }
    }
    session(user).token = None;
    let goose = call(
        user,
        GooseMethod::Post,
        "/api/v1/auth/login",
        "log in",
        Some(credentials),
        false,
    )
    .await?;
    let tokens: Option<serde_json::Value> = body(user, goose).await?;
    if let Some(token) = tokens.as_ref().and_then(|t| t["access_token"].as_str()) {
        session(user).token = Some((token.to_owned(), Instant::now()));
    }
    Ok(())
}

/// The first step of a buying session: sign in if needed, then a category.
async fn start_buying(user: &mut GooseUser) -> TransactionResult {
    let s = session(user);
    s.order = None;
    s.checked_out = false;
    sign_in(user).await?;
    category(user).await
}

async fn add(user: &mut GooseUser) -> TransactionResult {
    let Some(id) = session(user).product else {
        return Ok(());
    };
    let goose = call(
        user,
        GooseMethod::Post,
        "/api/v1/cart/add",
        "add to cart",
        Some(json!({"product_id": id, "qty": 1})),
        false,
    )
    .await?;
    match &goose.response {
        Ok(r) if r.status().is_success() => session(user).cart_units += 1,
        // A line at its limit or a full cart: start over.
        Ok(r) if r.status() == 409 => clear_cart(user).await?,
        _ => {}
    }
    Ok(())
}

async fn add_to_cart(user: &mut GooseUser) -> TransactionResult {
    add(user).await
}

async fn maybe_second_product(user: &mut GooseUser) -> TransactionResult {
    if !chance(SECOND_PRODUCT_SHARE) {
        return Ok(());
    }
    product(user).await?;
    add(user).await
}

async fn view_cart(user: &mut GooseUser) -> TransactionResult {
    call(user, GooseMethod::Get, "/api/v1/cart", "cart", None, false).await?;
    Ok(())
}

async fn clear_cart(user: &mut GooseUser) -> TransactionResult {
    let goose = call(user, GooseMethod::Post, "/api/v1/cart/clear", "clear cart", None, false).await?;
    if matches!(&goose.response, Ok(r) if r.status().is_success()) {
        session(user).cart_units = 0;
    }
    Ok(())
}

async fn checkout(user: &mut GooseUser) -> TransactionResult {
    if session(user).cart_units == 0 {
        return Ok(());
    }
    if !chance(CHECKOUT_SHARE) {
        // Left for later: the cart is there at the next session.
        OUTCOMES.abandoned.fetch_add(1, Ordering::Relaxed);
        return Ok(());
    }
    session(user).checked_out = true;
    let goose = call(
        user,
        GooseMethod::Post,
        "/api/v1/orders/checkout",
        "checkout",
        None,
        true,
    )
    .await?;
    let mut request = goose.request.clone();
    let Some(order) = body::<Order>(user, goose).await? else {
        return Ok(());
    };
    match order.status {
        OrderStatus::Placed => {
            OUTCOMES.placed.fetch_add(1, Ordering::Relaxed);
            let s = session(user);
            s.order = Some(order.id);
            s.cart_units = 0;
        }
        OrderStatus::Rejected => {
            OUTCOMES.rejected.fetch_add(1, Ordering::Relaxed);
            // Sold out: the shopper empties the cart rather than fail again next time.
            clear_cart(user).await?;
        }
        OrderStatus::Pending => {
            OUTCOMES.pending.fetch_add(1, Ordering::Relaxed);
            session(user).cart_units = 0;
        }
        OrderStatus::Canceled => {
            return user.set_failure("a new order answered canceled", &mut request, None, None);
        }
    }
    Ok(())
}

async fn my_orders(user: &mut GooseUser) -> TransactionResult {
    if !session(user).checked_out {
        return Ok(());
    }
    call(
        user,
        GooseMethod::Get,
        "/api/v1/orders?per_page=10",
        "my orders",
        None,
        false,
    )
    .await?;
    Ok(())
}

async fn maybe_cancel(user: &mut GooseUser) -> TransactionResult {
    let Some(id) = session(user).order else {
        return Ok(());
    };
    if !chance(CANCEL_SHARE) {
        return Ok(());
    }
    let path = format!("/api/v1/orders/{id}/cancel");
    let goose = call(user, GooseMethod::Patch, &path, "cancel order", None, false).await?;
    if let Some(order) = body::<Order>(user, goose).await?
        && order.status == OrderStatus::Canceled
    {
        OUTCOMES.canceled.fetch_add(1, Ordering::Relaxed);
    }
    session(user).order = None;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The report.

/// The steps in the order a session takes them (others follow by name).
const STEPS: [&str; 13] = [
    "home page",
    "categories",
    "category",
    "search",
    "product",
    "register",
    "log in",
    "add to cart",
    "cart",
    "clear cart",
    "checkout",
    "my orders",
    "cancel order",
];

fn print_summary(metrics: &GooseMetrics, host: &str, think: (Duration, Duration), reports: &[String]) {
    let secs = (metrics.duration as f64).max(1.0);
    let users: Vec<String> = metrics
        .scenarios
        .iter()
        .map(|s| format!("{} {}", s.users.len(), s.name))
        .collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nshopper mix on {host}: {} users ({}), {secs:.0} s, think {}-{} ms",
        metrics.maximum_users,
        users.join(", "),
        think.0.as_millis(),
        think.1.as_millis()
    );
    let _ = writeln!(
        out,
        "{:<22} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8}",
        "step", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors"
    );
    let mut rows: Vec<_> = metrics.requests.values().collect();
    let rank = |name: &str| STEPS.iter().position(|s| *s == name).unwrap_or(STEPS.len());
    rows.sort_by(|a, b| rank(&a.path).cmp(&rank(&b.path)).then(a.path.cmp(&b.path)));
    let ms = |us: u64| us as f64 / 1000.0;
    let (mut total, mut errors) = (0usize, 0usize);
    let mut steps = serde_json::Map::new();
    for r in rows {
        let n = r.success_count + r.fail_count;
        total += n;
        errors += r.fail_count;
        let (p50, p95, p99) = (
            ms(r.raw_data.percentile_us(0.50)),
            ms(r.raw_data.percentile_us(0.95)),
            ms(r.raw_data.percentile_us(0.99)),
        );
        let _ = writeln!(
            out,
            "{:<22} {:>9} {:>9.1} {:>8.1} {:>8.1} {:>8.1} {:>8}",
            format!("{} {}", r.method_label(), r.path),
            n,
            n as f64 / secs,
            p50,
            p95,
            p99,
            r.fail_count
        );
        steps.insert(
            r.path.clone(),
            json!({"requests": n, "per_second": round(n as f64 / secs), "p50_ms": round(p50),
                   "p95_ms": round(p95), "p99_ms": round(p99), "errors": r.fail_count}),
        );
    }
    let _ = writeln!(
        out,
        "{:<22} {:>9} {:>9.1} {:>8} {:>8} {:>8} {:>8}",
        "all",
        total,
        total as f64 / secs,
        "",
        "",
        "",
        errors
    );
    let mut errors_seen: Vec<_> = metrics.errors.values().collect();
    errors_seen.sort_by_key(|e| std::cmp::Reverse(e.occurrences));
    for e in errors_seen.iter().take(8) {
        let _ = writeln!(out, "  error ×{}: {} {}: {}", e.occurrences, e.method, e.name, e.error);
    }
    let count = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let (placed, rejected, pending, canceled, abandoned) = (
        count(&OUTCOMES.placed),
        count(&OUTCOMES.rejected),
        count(&OUTCOMES.pending),
        count(&OUTCOMES.canceled),
        count(&OUTCOMES.abandoned),
    );
    let _ = writeln!(
        out,
        "orders: {placed} placed ({:.1}/s), {rejected} rejected, {pending} pending, {canceled} canceled; {abandoned} carts left for later",
        placed as f64 / secs
    );
    for report in reports {
        let _ = writeln!(out, "report: {report}");
    }
    println!("{out}");
    println!(
        "{}",
        json!({"bench": "shop", "users": metrics.maximum_users, "seconds": secs, "requests": total,
               "per_second": round(total as f64 / secs), "errors": errors, "orders_placed": placed,
               "orders_per_second": round(placed as f64 / secs), "orders_rejected": rejected,
               "orders_pending": pending, "orders_canceled": canceled, "carts_left": abandoned,
               "steps": steps})
    );
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
