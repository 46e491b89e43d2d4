//! `cargo xtask dev`: builds the services and runs the whole shop locally on a private
//! Postgres and Redis, until Ctrl-C.
//!
//! Steps: build (debug, like the tests) → dev stack (`target/xtask/dev`, data kept between
//! runs) → secrets (generated once) → per database owner: create the database, `migrate`,
//! `seed` → start every built service and wait for its `/health` → write
//! `target/dev/stack.env` → print the banner → supervise → stop everything.
//!
//! Supervising ([`crate::supervise`]): a service that dies is started again after a pause
//! (0.5 s doubling to 30 s) and announced when it answers again; Postgres or Redis dying ends
//! the run, since nothing works without them. Ctrl-C (SIGINT, SIGTERM, SIGHUP) stops it all.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::proc;
use crate::services::{self, Instance, SERVICES, ShopEnv};
use crate::stack::{Stack, StackOptions};
use crate::supervise::{Event, Policy, Supervisor};
use crate::tools;

/// The profile dev builds and runs: the one the tests use, so nothing compiles twice.
const PROFILE: &str = "debug";

/// The demo administrator auth seeds. These well-known credentials exist only here, in the
/// local dev command; every real shop gets a generated password from the operator.
const ADMIN_EMAIL: &str = "admin@example.com";
const ADMIN_PASSWORD: &str = "admin123";

/// Services whose binary has a `seed` subcommand (idempotent demo data), run after `migrate`
/// unless `SHOP_DEV_SKIP_SEED` is set. A service adds its name here once it has one.
const SEEDS: &[&str] = &["catalog"];

/// How long a service gets to answer `/health` at start (a restart gets
/// [`Policy::start_timeout`]), and to drain after SIGTERM.
const START_TIMEOUT: Duration = Duration::from_secs(30);
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Runs `cargo xtask dev [--reset] [--observe]`.
pub(crate) fn run(args: &[String]) -> Result<()> {
    let (mut reset, mut observe) = (false, false);
    for arg in args {
        match arg.as_str() {
            "--reset" => reset = true,
            "--observe" => observe = true,
            "-h" | "--help" => {
                println!("{}", usage());
                return Ok(());
            }
            other => bail!("unknown argument {other:?}\n\n{}", usage()),
        }
    }

    let tools = tools::ensure_tools(false)?;
    eprintln!("xtask: building the services");
    proc::run_ok(proc::cargo().args(["build", "--workspace", "--exclude", "xtask", "--bins"]))?;

    let instances = services::resolve_ports()?;
    let built: Vec<Instance> = instances
        .iter()
        .copied()
        .filter(|instance| instance.service.exists(PROFILE))
        .collect();
    let auth = services::service("auth")?;
    if !auth.exists(PROFILE) {
        bail!(
            "{} is missing after the build: dev needs auth (it makes the JWT keys)",
            auth.binary_path(PROFILE).display()
        );
    }

    let dev_dir = proc::target_dir().join("xtask").join("dev");
    stop_leftover_services(&dev_dir);
    for instance in &built {
        for port in [instance.ports.api, instance.ports.admin] {
            if proc::port_in_use(port) {
                bail!(
                    "port {port} ({}) is already in use: another `cargo xtask dev`? \
                     Or move it with SHOP_{}_PORT / SHOP_{}_ADMIN_PORT",
                    instance.service.name,
                    instance.service.env_name(),
                    instance.service.env_name()
                );
            }
        }
    }

    let mut options = StackOptions::new("dev", reset);
    options.pg_port = services::env_port("SHOP_DEV_PG_PORT")?;
    options.redis_port = services::env_port("SHOP_DEV_REDIS_PORT")?;
    let mut stack = Stack::start(&tools, &options)?;
    let secrets = services::ensure_secrets(stack.dir(), &auth.binary_path(PROFILE))?;
    let shop = ShopEnv {
        instances: &instances,
        stack: &stack,
        secrets: &secrets,
        admin_email: ADMIN_EMAIL,
        admin_password: ADMIN_PASSWORD,
        log_format: "text",
    };

    prepare_databases(&built, &shop)?;
    let prometheus = if observe {
        let operator = proc::target_dir().join(PROFILE).join("shop-operator");
        match crate::observe::start(&dev_dir, &built, &operator) {
            Ok(prometheus) => Some(prometheus),
            Err(err) => {
                let _ = stack.stop();
                return Err(err);
            }
        }
    } else {
        None
    };
    if let Some(prometheus) = &prometheus {
        eprintln!(
            "xtask: Prometheus at {} scrapes every service and loads the rules (namespace `local`, shop `shop`)",
            prometheus.url
        );
    }
    let result = serve(&built, &shop, &dev_dir);
    drop(prometheus);
    let stopped = stack.stop();
    result.and(stopped)
}

fn usage() -> String {
    "usage: cargo xtask dev [--reset] [--observe]\n\n\
     Builds the services and runs every built one on a private Postgres and Redis\n\
     (target/xtask/dev), until Ctrl-C.\n\n\
     --reset   wipe target/xtask/dev (database, Redis, keys, client secrets) first\n\
     --observe also run Prometheus on http://localhost:9099, scraping every service and\n\
               loading the shop's rules (Debian's `prometheus` package)\n\n\
     Ports: SHOP_<NAME>_PORT, SHOP_<NAME>_ADMIN_PORT, SHOP_DEV_PG_PORT, SHOP_DEV_REDIS_PORT,\n\
     SHOP_PROMETHEUS_PORT.\n\
     SHOP_DEV_SKIP_SEED=1 skips the demo data."
        .to_owned()
}

/// Creates each built owner's database, migrates it and seeds it.
fn prepare_databases(built: &[Instance], shop: &ShopEnv<'_>) -> Result<()> {
    let seed = std::env::var_os("SHOP_DEV_SKIP_SEED").is_none();
    for instance in built {
        let service = instance.service;
        let Some(db) = service.database_name() else {
            continue;
        };
        shop.stack.create_database(db)?;
        let env = services::service_env(instance, shop);
        let binary = service.binary_path(PROFILE);
        services::run_prefixed(service.name, services::command(&binary, &env).arg("migrate"))
            .with_context(|| format!("migrating the {db} database"))?;
        if seed && SEEDS.contains(&service.name) {
            services::run_prefixed(service.name, services::command(&binary, &env).arg("seed"))
                .with_context(|| format!("seeding the {db} database"))?;
        }
    }
    Ok(())
}

/// Starts the services, writes `stack.env`, prints the banner and supervises them until
/// Ctrl-C (or until Postgres or Redis dies); then stops them all.
fn serve(built: &[Instance], shop: &ShopEnv<'_>, dev_dir: &Path) -> Result<()> {
    let pid_file = dev_dir.join("services.pid");
    let env_file = proc::target_dir().join("dev").join("stack.env");
    let mut supervisor = Supervisor::new(Policy::DEV);

    let result = (|| -> Result<()> {
        for instance in built {
            let env = services::service_env(instance, shop);
            let binary = instance.service.binary_path(PROFILE);
            // A restart runs the binary as it is then: rebuilt, if the developer rebuilt it.
            let recipe = Box::new(move || services::command(&binary, &env));
            supervisor.add(instance.service.name, instance.ports.admin, recipe)?;
            write_pid_file(&pid_file, &supervisor)?;
        }
        supervisor.wait_ready(START_TIMEOUT)?;
        write_stack_env(&env_file, shop)?;
        println!("{}", banner(built, shop, &env_file));
        supervise(&mut supervisor, &backing_servers(shop.stack), &pid_file)
    })();

    if !supervisor.is_empty() {
        eprintln!("xtask: stopping the services");
    }
    supervisor.stop(STOP_GRACE);
    fs::remove_file(&env_file).ok();
    fs::remove_file(&pid_file).ok();
    result
}

/// Keeps the services up until Ctrl-C/SIGTERM (then `Ok`): restarts a service that dies,
/// keeps the pid file current. Fails when Postgres or Redis dies.
fn supervise(supervisor: &mut Supervisor, backing: &[Backing], pid_file: &Path) -> Result<()> {
    loop {
        if proc::interrupted() {
            return Ok(());
        }
        if let Some(gone) = backing.iter().find(|server| !proc::alive(server.pid)) {
            bail!(
                "{} (pid {}) is gone; the services cannot work without it, so the dev stack stops \
                 (log: {}). For an outage drill, freeze it instead of killing it: see \
                 \"When a process dies\" in docs/development.md",
                gone.what,
                gone.pid,
                display_relative(&gone.log)
            );
        }
        let events = supervisor.tick();
        if events.iter().any(|event| matches!(event, Event::Started { .. })) {
            write_pid_file(pid_file, supervisor)?;
        }
        thread::sleep(proc::POLL);
    }
}

/// `pid binary` lines for every running service, for [`stop_leftover_services`].
fn write_pid_file(path: &Path, supervisor: &Supervisor) -> Result<()> {
    let pids: String = supervisor
        .pids()
        .into_iter()
        .filter_map(|(name, pid)| Some(format!("{pid} {}\n", services::service(name).ok()?.binary)))
        .collect();
    fs::write(path, pids).with_context(|| format!("writing {}", path.display()))
}

/// Postgres or Redis of the dev stack, watched so that its death ends the run with a reason
/// instead of leaving services that cannot answer.
#[derive(Debug)]
struct Backing {
    what: &'static str,
    pid: u32,
    log: PathBuf,
}

/// Postgres' and Redis' pids, from their pid files (`pg/postmaster.pid`, whose first line is
/// the postmaster's pid, and `redis.pid`); a server whose pid cannot be read is not watched.
fn backing_servers(stack: &Stack) -> Vec<Backing> {
    let dir = stack.dir();
    [
        (
            "Postgres",
            dir.join("pg").join("postmaster.pid"),
            dir.join("postgres.log"),
        ),
        ("Redis", dir.join("redis.pid"), dir.join("redis.log")),
    ]
    .into_iter()
    .filter_map(|(what, pid_file, log)| {
        let pid = fs::read_to_string(&pid_file)
            .ok()
            .and_then(|text| text.lines().next()?.trim().parse().ok());
        if pid.is_none() {
            eprintln!("xtask: cannot read {}; {what} is not watched", pid_file.display());
        }
        Some(Backing { what, pid: pid?, log })
    })
    .collect()
}

/// Stops services a previous, killed `cargo xtask dev` left running (their pids are kept in
/// `target/xtask/dev/services.pid`), so their ports are free again.
fn stop_leftover_services(dev_dir: &Path) {
    let Ok(text) = fs::read_to_string(dev_dir.join("services.pid")) else {
        return;
    };
    for line in text.lines() {
        let Some((pid, binary)) = line.split_once(' ') else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        if proc::alive(pid) && proc::runs(pid, binary) {
            eprintln!("xtask: stopping {binary} (pid {pid}) left by an earlier run");
            proc::signal(pid, "TERM");
            for _ in 0..100 {
                if !proc::alive(pid) {
                    break;
                }
                thread::sleep(proc::POLL);
            }
            if proc::alive(pid) {
                proc::signal(pid, "KILL");
            }
        }
    }
}

/// The `KEY=value` pairs of `target/dev/stack.env`.
fn stack_env(shop: &ShopEnv<'_>) -> Vec<(String, String)> {
    let mut env = Vec::new();
    for instance in shop.instances {
        let name = instance.service.env_name();
        env.push((format!("SHOP_{name}_URL"), instance.url()));
        env.push((format!("SHOP_{name}_ADMIN_URL"), instance.admin_url()));
    }
    for service in SERVICES {
        if let Some(db) = service.database_name() {
            env.push((
                format!("DATABASE_URL_{}", service.env_name()),
                shop.stack.database_url(db),
            ));
        }
    }
    env.push(("REDIS_URL".to_owned(), shop.stack.redis_url()));
    env.push(("SHOP_ADMIN_EMAIL".to_owned(), shop.admin_email.to_owned()));
    env.push(("SHOP_ADMIN_PASSWORD".to_owned(), shop.admin_password.to_owned()));
    if let Some(secret) = shop.secrets.client_secret("order") {
        env.push(("SHOP_SERVICE_CLIENT_ID".to_owned(), "order".to_owned()));
        env.push(("SHOP_SERVICE_CLIENT_SECRET".to_owned(), secret.to_owned()));
    }
    for (id, secret) in &shop.secrets.clients {
        env.push((
            format!("SHOP_CLIENT_{}_SECRET", id.to_ascii_uppercase()),
            secret.clone(),
        ));
    }
    env.push((
        "JWT_PUBLIC_KEYS_DIR".to_owned(),
        shop.secrets.public_keys_dir.display().to_string(),
    ));
    env.push(("JWT_ISSUER".to_owned(), shop.jwt_issuer()));
    env.push(("JWT_AUDIENCE".to_owned(), shop_contract::JWT_AUDIENCE.to_owned()));
    env
}

/// Writes `stack.env` (mode 0600: it holds secrets) as `export KEY='value'` lines.
fn write_stack_env(path: &Path, shop: &ShopEnv<'_>) -> Result<()> {
    let mut text = String::from(
        "# Written by `cargo xtask dev` while the dev stack runs; removed when it stops.\n\
         # Usage: . target/dev/stack.env\n",
    );
    for (key, value) in stack_env(shop) {
        text.push_str(&format!("export {key}={}\n", proc::shell_quote(&value)));
    }
    let dir = path.parent().context("stack.env has no parent directory")?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp: PathBuf = dir.join(".stack.env.tmp");
    let mut file = fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// The text printed once everything answers.
fn banner(built: &[Instance], shop: &ShopEnv<'_>, env_file: &Path) -> String {
    let mut text = String::from("\nShopkeeper is running\n\n");
    let gateway = shop
        .instances
        .iter()
        .find(|instance| instance.service.name == "gateway");
    if let Some(gateway) = gateway {
        let note = if built.iter().any(|i| i.service.name == "gateway") {
            ""
        } else {
            "   (gateway not built yet)"
        };
        text.push_str(&format!("  UI        http://localhost:{}{note}\n\n", gateway.ports.api));
    }
    for instance in built {
        text.push_str(&format!(
            "  {:<9} {}   admin {}\n",
            instance.service.name,
            instance.url(),
            instance.admin_url()
        ));
    }
    let missing: Vec<&str> = shop
        .instances
        .iter()
        .filter(|instance| !built.iter().any(|b| b.service.name == instance.service.name))
        .map(|instance| instance.service.name)
        .collect();
    if !missing.is_empty() {
        text.push_str(&format!("  not built yet: {}\n", missing.join(", ")));
    }
    text.push_str(&format!(
        "\n  Postgres  {}\n  Redis     {}\n\n  admin     {} / {}\n  env       . {}\n  data+logs {}\n\nCtrl-C to stop.\n",
        shop.stack.database_url("<db>"),
        shop.stack.redis_url(),
        shop.admin_email,
        shop.admin_password,
        display_relative(env_file),
        display_relative(shop.stack.dir()),
    ));
    text
}

/// A path relative to the workspace root when inside it (shorter banners).
fn display_relative(path: &Path) -> String {
    path.strip_prefix(proc::workspace_root())
        .unwrap_or(path)
        .display()
        .to_string()
}
