//! `cargo xtask bench <what>`: benchmarks that print their numbers (they are not tests: shared
//! machines make timed assertions flaky, so a human or a dashboard reads these).
//!
//! `catalog`: builds `shop-catalog` in release, loads the demo catalog plus generated products,
//! and drives `GET /products?category=…` (a page of 20) and `GET /products/{id}` at
//! concurrency 64 next to pgbench running the same SQL at the same concurrency; prints
//! requests/s, p50, p99, the service/pgbench ratio, and resident memory idle and under load.
//!
//! `gateway`: see `bench_gateway.rs`.
//!
//! `operator`: `shop-operator bench` in release: API calls and wall time of reconciling a new
//! and a steady-state Shop against the operator's in-memory API server, and `render` of 100
//! Shops.
//!
//! `auth`: builds `shop-auth` and `shop-bench` in release, starts a fresh private stack and
//! shop-auth on it, and prints shop-auth's idle resident memory, login latency (argon2-bound)
//! at a given concurrency with the memory under that load, and access-token verifications per
//! second on one core.
//!
//! `order`: builds auth, catalog, cart, order and `shop-bench` in release, starts all four on a
//! fresh private stack, and has `shop-bench checkout` set up through the real APIs (the seeded
//! admin creates a product with ample stock; users register and log in), then drive "add one
//! unit, check out" at a given concurrency (orders/s, checkout p50/p99), then race 200 users for
//! a product with stock 50 (oversell, which must be 0, and the final stock); prints each
//! service's peak resident memory.
//!
//! `shop`: the shopper mix on goose through the gateway; see `bench_shop.rs`.

use std::fs;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::proc;
use crate::services::{self, Instance, Ports, ShopEnv};
use crate::stack::{Stack, StackOptions};
use crate::tools;

// `cargo xtask bench gateway` (its own file to keep this one short).
#[path = "bench_gateway.rs"]
mod gateway;
// `cargo xtask bench shop`.
#[path = "bench_shop.rs"]
mod shop;

const PROFILE: &str = "release";

/// Runs `cargo xtask bench <what> [options]`.
pub(crate) fn run(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("auth") => auth(&args[1..]),
        Some("catalog") => catalog(&args[1..]),
        Some("order") => order(&args[1..]),
        Some("gateway") => gateway::run(&args[1..]),
        Some("shop") => shop::run(&args[1..]),
        // The operator benchmarks itself against its in-memory API server; no stack needed.
        Some("operator") => proc::run_ok(proc::cargo().args([
            "run",
            "--release",
            "-q",
            "-p",
            "shop-operator",
            "--features",
            "mock",
            "--",
            "bench",
        ])),
        _ => bail!(
            "usage: cargo xtask bench auth [--concurrency C] [--requests N] [--seconds S]\n       cargo xtask bench catalog [--concurrency C] [--seconds S] [--products N]\n       cargo xtask bench order [--concurrency C] [--seconds S] [--users N]\n       cargo xtask bench gateway [--concurrency C] [--seconds S]\n       cargo xtask bench shop [--seconds S] [--users N] [--host URL] [-- shop-bench shop options]\n       cargo xtask bench operator"
        ),
    }
}

fn flag<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> Result<T> {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("{name} needs a number")),
        None => Ok(default),
    }
}

/// `VmRSS` or `VmHWM` of a process, in KiB.
fn memory_kib(pid: u32, field: &str) -> Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)?
                .trim_start_matches(':')
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .with_context(|| format!("no {field} in /proc/{pid}/status"))
}

fn bench_binary(name: &str) -> std::path::PathBuf {
    proc::target_dir().join(PROFILE).join(name)
}

/// Builds `packages` in release, saying so.
fn build_release(packages: &[&str]) -> Result<()> {
    eprintln!("xtask: building {} (release)", packages.join(", "));
    let mut cargo = proc::cargo();
    cargo.args(["build", "--release"]);
    for package in packages {
        cargo.args(["-p", package]);
    }
    proc::run_ok(&mut cargo)
}

/// `names` placed on free local ports.
fn local_instances(names: &[&str]) -> Result<Vec<Instance>> {
    let ports = proc::free_ports(names.len() * 2)?;
    names
        .iter()
        .zip(ports.chunks(2))
        .map(|(name, ports)| {
            Ok(Instance {
                service: services::service(name)?,
                ports: Ports {
                    api: ports[0],
                    admin: ports[1],
                },
            })
        })
        .collect()
}

/// A service's environment for a benchmark: the contract variables, quiet logs, and for auth
/// throttling limits far beyond what a load generator logging in from one address needs.
fn bench_env(instance: &Instance, shop: &ShopEnv<'_>) -> Vec<(String, String)> {
    let mut env = services::service_env(instance, shop);
    let mut overrides = vec![("RUST_LOG", "warn")];
    if instance.service.name == "auth" {
        overrides.extend([
            ("LOGIN_MAX_FAILURES_PER_EMAIL", "100000000"),
            ("LOGIN_MAX_FAILURES_PER_IP", "100000000"),
        ]);
    }
    for (k, v) in overrides {
        env.retain(|(key, _)| key != k);
        env.push((k.to_owned(), v.to_owned()));
    }
    env
}

/// Runs `shop-bench` and passes its JSON result line through.
fn run_bench(args: &[&str]) -> Result<()> {
    let mut cmd = std::process::Command::new(bench_binary("shop-bench"));
    cmd.args(args);
    let out = proc::output_ok(&mut cmd)?;
    println!("{}", out.lines().last().unwrap_or_default());
    Ok(())
}

fn auth(args: &[String]) -> Result<()> {
    let concurrency: usize = flag(args, "--concurrency", 8)?;
    let requests: usize = flag(args, "--requests", 400)?;
    let seconds: u64 = flag(args, "--seconds", 3)?;
    let tools = tools::ensure_tools(false)?;
    build_release(&["shop-auth", "shop-bench"])?;

    let stack = Stack::start(&tools, &StackOptions::new("bench", true))?;
    stack.create_database("auth")?;
    let auth_binary = bench_binary("shop-auth");
    let secrets = services::ensure_secrets(stack.dir(), &auth_binary)?;
    let instances = local_instances(&["auth"])?;
    let instance = instances[0];
    let shop = ShopEnv {
        instances: &instances,
        stack: &stack,
        secrets: &secrets,
        admin_email: "bench-admin@example.com",
        admin_password: &services::random_hex(16)?,
        log_format: "json",
    };
    let env = bench_env(&instance, &shop);
    services::run_prefixed("migrate", services::command(&auth_binary, &env).arg("migrate"))?;
    let mut auth = services::spawn_prefixed("auth", services::command(&auth_binary, &env).arg("serve"))?;
    auth.wait_healthy(instance.ports.admin, Duration::from_secs(30))?;
    // Start-up work (creating the admin hashes its password) is over, and the password workers
    // have released their buffers (after 5 s idle).
    std::thread::sleep(Duration::from_secs(7));
    let idle_kib = memory_kib(auth.pid(), "VmRSS")?;
    println!(
        "{{\"bench\":\"auth_idle_memory\",\"rss_kib\":{idle_kib},\"rss_mib\":{:.1}}}",
        idle_kib as f64 / 1024.0
    );

    let url = instance.url();
    run_bench(&[
        "login",
        "--url",
        &url,
        "--email",
        "bench-user@example.com",
        "--password",
        "bench-passphrase-1",
        "--concurrency",
        &concurrency.to_string(),
        "--requests",
        &requests.to_string(),
    ])?;
    let peak_kib = memory_kib(auth.pid(), "VmHWM")?;
    let after_kib = memory_kib(auth.pid(), "VmRSS")?;
    println!(
        "{{\"bench\":\"auth_memory_under_load\",\"peak_rss_mib\":{:.1},\"rss_after_mib\":{:.1}}}",
        peak_kib as f64 / 1024.0,
        after_kib as f64 / 1024.0
    );
    // The password workers give their buffers back after 5 s without work.
    std::thread::sleep(Duration::from_secs(8));
    let settled_kib = memory_kib(auth.pid(), "VmRSS")?;
    println!(
        "{{\"bench\":\"auth_memory_after_load\",\"rss_mib\":{:.1}}}",
        settled_kib as f64 / 1024.0
    );
    auth.stop(Duration::from_secs(10))?;
    drop(stack);

    run_bench(&["verify", "--seconds", &seconds.to_string()])?;
    Ok(())
}

/// The columns `shop-catalog` selects for a product (kept equal to its `store::products`), so
/// pgbench runs the same SQL as the service.
const PRODUCT_COLUMNS: &str = "p.id, p.sku, p.name, p.description, p.price, p.stock, p.is_active, p.attributes, \
    p.template_id, p.images, p.version, p.created_at, p.updated_at, ARRAY(SELECT c.slug FROM product_categories pc \
    JOIN categories c ON c.id = pc.category_id WHERE pc.product_id = p.id ORDER BY c.slug) AS categories";

/// Runs pgbench with `script` and returns its JSON result line.
fn pgbench(
    tools: &tools::Tools,
    stack: &Stack,
    name: &str,
    script: &str,
    concurrency: usize,
    seconds: u64,
) -> Result<f64> {
    let file = stack.dir().join(format!("{name}.sql"));
    fs::write(&file, script)?;
    let pgbench = tools.initdb.with_file_name("pgbench");
    let mut cmd = std::process::Command::new(pgbench);
    cmd.args(["-n", "-h", "127.0.0.1", "-U", "postgres", "-p"])
        .arg(stack.pg_port().to_string())
        .args([
            "-c",
            &concurrency.to_string(),
            "-j",
            "2",
            "-T",
            &seconds.to_string(),
            "-f",
        ])
        .arg(&file)
        .arg("catalog");
    let out = proc::output_ok(&mut cmd)?;
    let field = |prefix: &str| -> Option<f64> {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(prefix)?.split_whitespace().next()?.parse().ok())
    };
    let tps = field("tps = ").context("pgbench printed no tps")?;
    let latency = field("latency average = ").unwrap_or(0.0);
    println!(
        "{{\"bench\":\"{name}\",\"concurrency\":{concurrency},\"per_second\":{tps:.1},\"latency_avg_ms\":{latency}}}"
    );
    Ok(tps)
}

/// Runs `shop-bench get` over `urls` and returns its requests per second.
fn http_load(stack: &Stack, name: &str, urls: &[String], concurrency: usize, seconds: u64) -> Result<f64> {
    let file = stack.dir().join(format!("{name}.urls"));
    fs::write(&file, urls.join("\n"))?;
    let mut cmd = std::process::Command::new(bench_binary("shop-bench"));
    cmd.args(["get", "--name", name, "--urls-file"]).arg(&file).args([
        "--concurrency",
        &concurrency.to_string(),
        "--seconds",
        &seconds.to_string(),
    ]);
    let out = proc::output_ok(&mut cmd)?;
    let line = out.lines().last().unwrap_or_default().to_owned();
    println!("{line}");
    line.split("\"per_second\":")
        .nth(1)
        .and_then(|r| r.split([',', '}']).next()?.parse().ok())
        .context("shop-bench printed no per_second")
}

fn catalog(args: &[String]) -> Result<()> {
    let concurrency: usize = flag(args, "--concurrency", 64)?;
    let seconds: u64 = flag(args, "--seconds", 10)?;
    let extra: usize = flag(args, "--products", 5000)?;
    let tools = tools::ensure_tools(false)?;
    build_release(&["shop-catalog", "shop-auth", "shop-bench"])?;

    let stack = Stack::start(&tools, &StackOptions::new("bench-catalog", true))?;
    stack.create_database("catalog")?;
    let secrets = services::ensure_secrets(stack.dir(), &bench_binary("shop-auth"))?;
    let binary = bench_binary("shop-catalog");
    let instances = local_instances(&["catalog"])?;
    let instance = instances[0];
    let shop = ShopEnv {
        instances: &instances,
        stack: &stack,
        secrets: &secrets,
        admin_email: "unused@example.com",
        admin_password: "unused-password",
        log_format: "json",
    };
    let env = bench_env(&instance, &shop);
    services::run_prefixed("migrate", services::command(&binary, &env).arg("migrate"))?;
    services::run_prefixed("seed", services::command(&binary, &env).arg("seed"))?;
    // More rows than the demo, spread over its categories, so plans are realistic.
    stack.psql(
        "catalog",
        &format!(
            "INSERT INTO products (id, sku, name, description, price, stock)
             SELECT gen_random_uuid(), 'GEN-' || g, 'Generated product ' || g, 'A generated description of item ' || g,
                    (g % 1000) + 0.99, g % 50 FROM generate_series(1, {extra}) g;
             INSERT INTO product_categories (product_id, category_id)
             SELECT p.id, c.id FROM products p
             JOIN LATERAL (SELECT id FROM categories ORDER BY slug OFFSET (abs(hashtext(p.sku)) % 6) LIMIT 1) c ON true
             WHERE p.sku LIKE 'GEN-%';
             ANALYZE;"
        ),
    )?;
    let category = "clothing";
    let category_id = stack
        .psql(
            "catalog",
            &format!("SELECT id FROM categories WHERE slug = '{category}'"),
        )?
        .trim()
        .to_owned();
    let ids: Vec<String> = stack
        .psql(
            "catalog",
            "SELECT id FROM products WHERE is_active ORDER BY id LIMIT 1000",
        )?
        .lines()
        .map(str::to_owned)
        .collect();

    let mut service = services::spawn_prefixed("catalog", &mut services::command(&binary, &env))?;
    service.wait_healthy(instance.ports.admin, Duration::from_secs(30))?;
    std::thread::sleep(Duration::from_secs(2));
    let idle = memory_kib(service.pid(), "VmRSS")?;
    println!(
        "{{\"bench\":\"catalog_idle_memory\",\"rss_mib\":{:.1}}}",
        idle as f64 / 1024.0
    );

    let base = instance.url();
    // The listing as shoppers browse it: every category, the first three pages, two orders.
    let slugs = stack.psql("catalog", "SELECT slug FROM categories ORDER BY slug")?;
    let mut list_urls = Vec::new();
    for slug in slugs.lines().map(str::trim).filter(|s| !s.is_empty()) {
        for page in 1..=3 {
            for sort in ["newest", "price_asc"] {
                list_urls.push(format!(
                    "{base}/products?category={slug}&page={page}&per_page=20&sort={sort}"
                ));
            }
        }
    }
    let admin = std::net::SocketAddr::from(([127, 0, 0, 1], instance.ports.admin));
    let before = cache_lookups(admin)?;
    let list_rps = http_load(&stack, "catalog_list", &list_urls, concurrency, seconds)?;
    let after_list = cache_lookups(admin)?;
    print_cache("catalog_list", before, after_list);
    // Searches as shoppers type them: 2 000 different ones, more than the listing cache keeps
    // (512 pages), so most of them are read from Postgres.
    let search_urls: Vec<String> = (1..=2000)
        .map(|n| format!("{base}/search?query=product%20{n}"))
        .collect();
    let search_rps = http_load(&stack, "catalog_search", &search_urls, concurrency, seconds)?;
    print_cache("catalog_search", after_list, cache_lookups(admin)?);
    let get_urls: Vec<String> = ids.iter().map(|id| format!("{base}/products/{id}")).collect();
    let get_rps = http_load(&stack, "catalog_get", &get_urls, concurrency, seconds)?;
    let peak = memory_kib(service.pid(), "VmHWM")?;
    println!(
        "{{\"bench\":\"catalog_memory_under_load\",\"peak_rss_mib\":{:.1}}}",
        peak as f64 / 1024.0
    );
    service.stop(Duration::from_secs(10))?;

    // The same SQL the service runs on a cache miss: resolve the slug, the page, the count (to
    // its bound).
    let filter = format!(
        "WHERE TRUE AND p.is_active AND EXISTS (SELECT 1 FROM product_categories pc WHERE pc.product_id = p.id \
         AND pc.category_id = ANY(ARRAY['{category_id}']::uuid[]))"
    );
    let list_sql = format!(
        "SELECT id, slug FROM categories WHERE slug = ANY(ARRAY['{category}']);\n\
         SELECT {PRODUCT_COLUMNS} FROM products p {filter} ORDER BY p.created_at DESC, p.id LIMIT 20 OFFSET 0;\n\
         SELECT count(*) FROM (SELECT 1 FROM products p {filter} LIMIT 1001) AS matches;\n"
    );
    stack.psql(
        "catalog",
        "CREATE TABLE bench_ids AS SELECT row_number() OVER (ORDER BY id) AS n, id FROM products WHERE is_active ORDER BY id LIMIT 1000;
         CREATE UNIQUE INDEX ON bench_ids (n);",
    )?;
    let get_sql = format!(
        "\\set n random(1, {})\nSELECT {PRODUCT_COLUMNS} FROM products p WHERE p.id = (SELECT id FROM bench_ids WHERE n = :n) AND (false OR p.is_active);\n",
        ids.len()
    );
    let list_pg = pgbench(&tools, &stack, "pgbench_list", &list_sql, concurrency, seconds)?;
    let get_pg = pgbench(&tools, &stack, "pgbench_get", &get_sql, concurrency, seconds)?;
    println!(
        "{{\"bench\":\"catalog_aims\",\"products\":{},\"list_per_second\":{list_rps:.0},\"aim_list_per_second\":5000,\
         \"search_per_second\":{search_rps:.0},\"aim_search_per_second\":1500,\"get_per_second\":{get_rps:.0}}}",
        extra + 36
    );
    println!(
        "{{\"bench\":\"catalog_vs_pgbench\",\"list_ratio\":{:.2},\"get_ratio\":{:.2},\"aim_list_ratio\":0.5}}",
        list_rps / list_pg,
        get_rps / get_pg
    );
    Ok(())
}

/// The catalog's listing-cache lookups so far: hits, misses, bypasses (from its `/metrics`).
fn cache_lookups(admin: std::net::SocketAddr) -> Result<[f64; 3]> {
    let (_, body) = services::http_get(admin, "/metrics", Duration::from_secs(5), 1 << 20)?;
    let text = String::from_utf8_lossy(&body);
    let count = |result: &str| {
        let series = format!("catalog_list_cache_requests_total{{result=\"{result}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(series.as_str())?.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Ok([count("hit"), count("miss"), count("bypass")])
}

/// How a load was served: from the listing cache, or from Postgres.
fn print_cache(name: &str, before: [f64; 3], after: [f64; 3]) {
    let [hits, misses, bypasses] = [0, 1, 2].map(|i| after[i] - before[i]);
    let ratio = hits / (hits + misses + bypasses).max(1.0);
    println!(
        "{{\"bench\":\"{name}_cache\",\"hits\":{hits},\"misses\":{misses},\"bypasses\":{bypasses},\"hit_ratio\":{ratio:.3}}}"
    );
}

/// The services `bench order` runs, in start order.
const ORDER_SERVICES: [&str; 4] = ["auth", "catalog", "cart", "order"];

fn order(args: &[String]) -> Result<()> {
    let concurrency: usize = flag(args, "--concurrency", 32)?;
    let seconds: u64 = flag(args, "--seconds", 10)?;
    let users: usize = flag(args, "--users", 64)?;
    let tools = tools::ensure_tools(false)?;
    build_release(&["shop-auth", "shop-catalog", "shop-cart", "shop-order", "shop-bench"])?;

    let stack = Stack::start(&tools, &StackOptions::new("bench-order", true))?;
    let secrets = services::ensure_secrets(stack.dir(), &bench_binary("shop-auth"))?;
    let instances = local_instances(&ORDER_SERVICES)?;
    let admin_email = "bench-admin@example.com";
    let admin_password = services::random_hex(16)?;
    let shop = ShopEnv {
        instances: &instances,
        stack: &stack,
        secrets: &secrets,
        admin_email,
        admin_password: &admin_password,
        log_format: "json",
    };

    let mut running = Vec::new();
    for instance in &instances {
        let service = instance.service;
        let binary = bench_binary(service.binary);
        let env = bench_env(instance, &shop);
        if let Some(db) = service.database_name() {
            stack.create_database(db)?;
            services::run_prefixed("migrate", services::command(&binary, &env).arg("migrate"))?;
        }
        let mut child = services::spawn_prefixed(service.name, services::command(&binary, &env).arg("serve"))?;
        child.wait_healthy(instance.ports.admin, Duration::from_secs(30))?;
        running.push(child);
    }

    let url = |name: &str| services::instance(&instances, name).map(Instance::url);
    // Where the CPU of a checkout goes: each service, Postgres with its backends, Redis.
    let (postgres, redis) = stack.pids();
    let watch = running
        .iter()
        .map(|c| (c.name.to_owned(), Some(c.pid())))
        .chain([("postgres".to_owned(), postgres), ("redis".to_owned(), redis)])
        .filter_map(|(name, pid)| pid.map(|pid| format!("{name}={pid}")))
        .collect::<Vec<_>>()
        .join(",");
    run_bench_lines(&[
        "checkout",
        "--watch",
        &watch,
        "--auth",
        &url("auth")?,
        "--catalog",
        &url("catalog")?,
        "--cart",
        &url("cart")?,
        "--order",
        &url("order")?,
        "--admin-email",
        admin_email,
        "--admin-password",
        &admin_password,
        "--users",
        &users.to_string(),
        "--concurrency",
        &concurrency.to_string(),
        "--seconds",
        &seconds.to_string(),
    ])?;
    for child in &running {
        let peak = memory_kib(child.pid(), "VmHWM")?;
        println!(
            "{{\"bench\":\"order_memory_under_load\",\"service\":\"{}\",\"peak_rss_mib\":{:.1}}}",
            child.name,
            peak as f64 / 1024.0
        );
    }
    // Stop in reverse order: callers before the services they call.
    for mut child in running.into_iter().rev() {
        child.stop(Duration::from_secs(10))?;
    }
    drop(stack);
    Ok(())
}

/// Runs `shop-bench` and passes every JSON result line through.
fn run_bench_lines(args: &[&str]) -> Result<()> {
    let mut cmd = std::process::Command::new(bench_binary("shop-bench"));
    cmd.args(args);
    let out = proc::output_ok(&mut cmd)?;
    for line in out.lines().filter(|l| l.starts_with('{')) {
        println!("{line}");
    }
    Ok(())
}
