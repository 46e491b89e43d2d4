//! `cargo xtask bench gateway`: what the gateway costs. Builds catalog, gateway, auth (for
//! keys) and `shop-bench` in release, starts catalog (demo data) and the gateway on a fresh
//! private stack, then prints, at one concurrency: the category listing straight from the
//! catalog and through `/api/v1` (requests/s, p50, p99, and the throughput the gateway costs;
//! aim ≤ 25 %), the rendered home page of that category (aim ≥ 60 % of the JSON listing
//! through the gateway) and its HTML size, product pages (p99), `/img` for a cached image
//! (aim ≥ 5 000/s), and the gateway's resident memory idle (aim ≤ 15 MiB) and under load.

use std::time::Duration;

use anyhow::Result;

use super::{bench_binary, bench_env, build_release, flag, http_load, local_instances, memory_kib};
use crate::services::{self, ShopEnv};
use crate::stack::{Stack, StackOptions};
use crate::tools;

/// User plus system CPU time of a process, in clock ticks (1/100 s on Linux).
fn cpu_ticks(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) start after the last `)`.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let field = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    Ok(field(11) + field(12))
}

pub(crate) fn run(args: &[String]) -> Result<()> {
    let concurrency: usize = flag(args, "--concurrency", 64)?;
    let seconds: u64 = flag(args, "--seconds", 10)?;
    let tools = tools::ensure_tools(false)?;
    build_release(&["shop-catalog", "shop-gateway", "shop-auth", "shop-bench"])?;

    let stack = Stack::start(&tools, &StackOptions::new("bench-gateway", true))?;
    stack.create_database("catalog")?;
    let secrets = services::ensure_secrets(stack.dir(), &bench_binary("shop-auth"))?;
    let instances = local_instances(&["catalog", "gateway"])?;
    let (catalog, gateway) = (instances[0], instances[1]);
    let shop = ShopEnv {
        instances: &instances,
        stack: &stack,
        secrets: &secrets,
        admin_email: "unused@example.com",
        admin_password: "unused-password",
        log_format: "json",
    };
    let catalog_binary = bench_binary("shop-catalog");
    let catalog_env = bench_env(&catalog, &shop);
    services::run_prefixed(
        "migrate",
        services::command(&catalog_binary, &catalog_env).arg("migrate"),
    )?;
    services::run_prefixed("seed", services::command(&catalog_binary, &catalog_env).arg("seed"))?;
    let mut gateway_env = bench_env(&gateway, &shop);
    // One load generator on one address: the limits would measure themselves, not the
    // gateway. The Redis call per request still happens.
    for (key, value) in [("RATE_LIMIT_API_FREE", "1000000000/1h"), ("IMAGE_PROXY", "true")] {
        gateway_env.retain(|(k, _)| k != key);
        gateway_env.push((key.to_owned(), value.to_owned()));
    }
    let mut catalog_process =
        services::spawn_prefixed("catalog", &mut services::command(&catalog_binary, &catalog_env))?;
    catalog_process.wait_healthy(catalog.ports.admin, Duration::from_secs(30))?;
    let mut gateway_process = services::spawn_prefixed(
        "gateway",
        &mut services::command(&bench_binary("shop-gateway"), &gateway_env),
    )?;
    gateway_process.wait_healthy(gateway.ports.admin, Duration::from_secs(30))?;
    std::thread::sleep(Duration::from_secs(2));
    let idle = memory_kib(gateway_process.pid(), "VmRSS")?;
    println!(
        "{{\"bench\":\"gateway_idle_memory\",\"rss_mib\":{:.1},\"aim_mib\":15}}",
        idle as f64 / 1024.0
    );

    let category = "clothing";
    let cpu_before = (cpu_ticks(catalog_process.pid())?, cpu_ticks(gateway_process.pid())?);
    let direct = http_load(
        &stack,
        "catalog_list_direct",
        &[format!("{}/products?category={category}&per_page=20", catalog.url())],
        concurrency,
        seconds,
    )?;
    let cpu_direct = (cpu_ticks(catalog_process.pid())?, cpu_ticks(gateway_process.pid())?);
    let through = http_load(
        &stack,
        "catalog_list_through_gateway",
        &[format!(
            "{}/api/v1/products?category={category}&per_page=20",
            gateway.url()
        )],
        concurrency,
        seconds,
    )?;
    let cpu_through = (cpu_ticks(catalog_process.pid())?, cpu_ticks(gateway_process.pid())?);
    // CPU per request from the processes' own accounting (ticks of 10 ms), so the gateway's
    // share can be told apart from what the machine's other processes take.
    let per_request = |ticks: u64, rps: f64| ticks as f64 * 10_000.0 / (rps * seconds as f64);
    println!(
        "{{\"bench\":\"gateway_cpu\",\"catalog_us_per_request_direct\":{:.0},\"catalog_us_per_request_through\":{:.0},\"gateway_us_per_request\":{:.0}}}",
        per_request(cpu_direct.0 - cpu_before.0, direct),
        per_request(cpu_through.0 - cpu_direct.0, through),
        per_request(cpu_through.1 - cpu_direct.1, through),
    );
    println!(
        "{{\"bench\":\"gateway_cost\",\"throughput_cost\":{:.3},\"aim\":0.25}}",
        1.0 - through / direct
    );
    // The web UI: the home page of the same category (two catalog calls: the page and the
    // category list) and product pages (the product and its template).
    let home_path = format!("/?category={category}&per_page=24");
    let (status, html) = services::http_get(
        ([127, 0, 0, 1], gateway.ports.api).into(),
        &home_path,
        Duration::from_secs(10),
        4 * 1024 * 1024,
    )?;
    anyhow::ensure!(status == 200, "the home page answered {status}");
    let home = http_load(
        &stack,
        "gateway_home_html",
        &[format!("{}{home_path}", gateway.url())],
        concurrency,
        seconds,
    )?;
    println!(
        "{{\"bench\":\"gateway_home_vs_json\",\"ratio\":{:.3},\"aim\":0.6,\"html_bytes\":{}}}",
        home / through,
        html.len()
    );
    let ids = stack.psql(
        "catalog",
        "SELECT id FROM products WHERE is_active ORDER BY sku LIMIT 20",
    )?;
    let product_pages: Vec<String> = ids
        .lines()
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(|id| format!("{}/products/{id}", gateway.url()))
        .collect();
    http_load(&stack, "gateway_product_page", &product_pages, concurrency, seconds)?;
    let slug = stack
        .psql(
            "catalog",
            "SELECT images[1] FROM products WHERE images <> '{}' ORDER BY sku LIMIT 1",
        )?
        .trim()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let image = format!("{}/img?url=/api/v1/images/{slug}&w=200", gateway.url());
    let img_rps = http_load(&stack, "gateway_img_cached", &[image], concurrency, seconds)?;
    println!("{{\"bench\":\"gateway_img\",\"per_second\":{img_rps:.0},\"aim\":5000}}");
    let peak = memory_kib(gateway_process.pid(), "VmHWM")?;
    let now = memory_kib(gateway_process.pid(), "VmRSS")?;
    println!(
        "{{\"bench\":\"gateway_memory_under_load\",\"peak_rss_mib\":{:.1},\"rss_after_mib\":{:.1}}}",
        peak as f64 / 1024.0,
        now as f64 / 1024.0
    );
    gateway_process.stop(Duration::from_secs(10))?;
    catalog_process.stop(Duration::from_secs(10))?;
    Ok(())
}
