//! `cargo xtask bench shop [--seconds N] [--users N] [--host URL] [-- ARGS]`: the shopper mix
//! (`shop-bench shop`, on goose) through the gateway's public API.
//!
//! Without `--host`: builds the five services and `shop-bench` in release, starts them on a
//! fresh private stack (the catalog seeded with its demo data, the gateway's rate limits
//! lifted), lets the generator set up its products as the seeded admin, and prints each
//! service's peak resident memory after.
//! With `--host`: builds only `shop-bench` and runs it against that shop (a kind cluster, say);
//! set-up as an admin needs `-- --admin-email E --admin-password P`. ARGS after `--` go to
//! `shop-bench shop` (`--think-ms`, `--mix`, goose's options). The HTML report (latency over
//! time included) is `target/bench/shop.html`.

use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};

use super::{bench_binary, bench_env, build_release, flag, local_instances, memory_kib};
use crate::proc;
use crate::services::{self, ShopEnv};
use crate::stack::{Stack, StackOptions};
use crate::tools;

/// The services the shop runs, in start order (the gateway last: it checks its upstreams).
const SHOP_SERVICES: [&str; 5] = ["auth", "catalog", "cart", "order", "gateway"];

/// The gateway's rate limits, lifted: one load generator on one address would only measure them.
const UNLIMITED: [&str; 6] = [
    "RATE_LIMIT_API_FREE",
    "RATE_LIMIT_API_PREMIUM",
    "RATE_LIMIT_SEARCH_FREE",
    "RATE_LIMIT_SEARCH_PREMIUM",
    "RATE_LIMIT_LOGIN",
    "RATE_LIMIT_REGISTER",
];

/// Services that have demo data (`seed`).
const SEEDED: [&str; 1] = ["catalog"];

pub(crate) fn run(args: &[String]) -> Result<()> {
    let (ours, passed) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (args, &args[args.len()..]),
    };
    let seconds: u64 = flag(ours, "--seconds", 30)?;
    let users: usize = flag(ours, "--users", 100)?;
    let host = match ours.iter().position(|a| a == "--host") {
        Some(i) => Some(ours.get(i + 1).context("--host needs a URL")?.clone()),
        None => None,
    };
    let report = proc::target_dir().join("bench").join("shop.html");
    std::fs::create_dir_all(report.parent().context("the report has no folder")?)?;
    let mut generator = Command::new(bench_binary("shop-bench"));
    generator
        .args(["shop", "--users", &users.to_string(), "--run-time"])
        .arg(format!("{seconds}s"))
        .arg("--report-file")
        .arg(&report);

    if let Some(host) = host {
        build_release(&["shop-bench"])?;
        generator.args(["--host", &host]).args(passed);
        return proc::run_ok(&mut generator);
    }

    let tools = tools::ensure_tools(false)?;
    // Each service's package is named after its binary.
    let mut packages = SHOP_SERVICES
        .iter()
        .map(|name| services::service(name).map(|s| s.binary))
        .collect::<Result<Vec<_>>>()?;
    packages.push("shop-bench");
    build_release(&packages)?;

    let stack = Stack::start(&tools, &StackOptions::new("bench-shop", true))?;
    let secrets = services::ensure_secrets(stack.dir(), &bench_binary("shop-auth"))?;
    let instances = local_instances(&SHOP_SERVICES)?;
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
    let mut gateway_url = String::new();
    for instance in &instances {
        let service = instance.service;
        let binary = bench_binary(service.binary);
        let mut env = bench_env(instance, &shop);
        if let Some(db) = service.database_name() {
            stack.create_database(db)?;
            services::run_prefixed("migrate", services::command(&binary, &env).arg("migrate"))?;
            if SEEDED.contains(&service.name) {
                services::run_prefixed("seed", services::command(&binary, &env).arg("seed"))?;
            }
        }
        if service.name == "gateway" {
            gateway_url = instance.url();
            for key in UNLIMITED {
                env.retain(|(k, _)| k != key);
                env.push((key.to_owned(), "1000000000/1h".to_owned()));
            }
        }
        let mut child = services::spawn_prefixed(service.name, services::command(&binary, &env).arg("serve"))?;
        child.wait_healthy(instance.ports.admin, Duration::from_secs(30))?;
        running.push(child);
    }

    generator
        .args(["--host", &gateway_url, "--admin-email", admin_email, "--admin-password"])
        .arg(&admin_password)
        .args(passed);
    let result = proc::run_ok(&mut generator);
    for child in &running {
        if let Ok(peak) = memory_kib(child.pid(), "VmHWM") {
            println!(
                "{{\"bench\":\"shop_memory_under_load\",\"service\":\"{}\",\"peak_rss_mib\":{:.1}}}",
                child.name,
                peak as f64 / 1024.0
            );
        }
    }
    // Callers before the services they call.
    for mut child in running.into_iter().rev() {
        child.stop(Duration::from_secs(10))?;
    }
    drop(stack);
    result
}
