//! `cargo xtask bench <what>`: benchmarks that print their numbers (they are not tests: shared
//! machines make timed assertions flaky, so a human or a dashboard reads these).
//!
//! `auth`: builds `shop-auth` and `shop-bench` in release, starts a fresh private stack and
//! shop-auth on it, and prints shop-auth's idle resident memory, login latency (argon2-bound)
//! at a given concurrency with the memory under that load, and access-token verifications per
//! second on one core.

use std::fs;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::proc;
use crate::services::{self, Instance, Ports, ShopEnv};
use crate::stack::{Stack, StackOptions};
use crate::tools;

const PROFILE: &str = "release";

/// Runs `cargo xtask bench <what> [options]`.
pub(crate) fn run(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("auth") => auth(&args[1..]),
        _ => bail!("usage: cargo xtask bench auth [--concurrency C] [--requests N] [--seconds S]"),
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
    eprintln!("xtask: building shop-auth and shop-bench (release)");
    proc::run_ok(proc::cargo().args(["build", "--release", "-p", "shop-auth", "-p", "shop-bench"]))?;

    let stack = Stack::start(&tools, &StackOptions::new("bench", true))?;
    stack.create_database("auth")?;
    let auth_binary = bench_binary("shop-auth");
    let secrets = services::ensure_secrets(stack.dir(), &auth_binary)?;
    let ports = proc::free_ports(2)?;
    let instance = Instance {
        service: services::service("auth")?,
        ports: Ports {
            api: ports[0],
            admin: ports[1],
        },
    };
    let instances = [instance];
    let shop = ShopEnv {
        instances: &instances,
        stack: &stack,
        secrets: &secrets,
        admin_email: "bench-admin@example.com",
        admin_password: &services::random_hex(16)?,
        log_format: "json",
    };
    let mut env = services::service_env(&instance, &shop);
    // The benchmark logs in as one user from one address, far beyond the throttling limits.
    for (k, v) in [
        ("LOGIN_MAX_FAILURES_PER_EMAIL", "100000000"),
        ("LOGIN_MAX_FAILURES_PER_IP", "100000000"),
        ("RUST_LOG", "warn"),
    ] {
        env.retain(|(key, _)| key != k);
        env.push((k.to_owned(), v.to_owned()));
    }
    services::run_prefixed("migrate", services::command(&auth_binary, &env).arg("migrate"))?;
    let mut auth = services::spawn_prefixed("auth", services::command(&auth_binary, &env).arg("serve"))?;
    auth.wait_healthy(instance.ports.admin, Duration::from_secs(30))?;
    std::thread::sleep(Duration::from_secs(2)); // let start-up work (admin seed) settle
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
