//! The private stack: a Postgres and a Redis of our own under `target/xtask/<name>/`, on
//! 127.0.0.1 and free ports, never the machine's own servers; stopped on every exit path.
//!
//! Layout of `target/xtask/<name>/`: `pg/` (the data directory), `sock/` (Postgres' Unix
//! socket), `postgres.log`, `redis.pid`, `redis.log`, and whatever the command keeps beside
//! them (the dev secrets).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::proc;
use crate::tools::{self, Tools};

/// How a [`Stack`] starts.
#[derive(Debug, Clone)]
pub(crate) struct StackOptions {
    /// Directory name under `target/xtask/`: `dev`, `test`, `bench`, …
    pub(crate) name: String,
    /// Wipe `target/xtask/<name>/` first (a clean slate; tests), or keep the data (dev).
    pub(crate) fresh: bool,
    /// Postgres port; `None` picks a free one.
    pub(crate) pg_port: Option<u16>,
    /// Redis port; `None` picks a free one.
    pub(crate) redis_port: Option<u16>,
}

impl StackOptions {
    /// Options for a stack called `name` on free ports.
    pub(crate) fn new(name: &str, fresh: bool) -> Self {
        Self {
            name: name.to_owned(),
            fresh,
            pg_port: None,
            redis_port: None,
        }
    }
}

/// A running private Postgres and Redis. Dropping it stops both.
#[derive(Debug)]
pub(crate) struct Stack {
    tools: Tools,
    name: String,
    dir: PathBuf,
    pg_port: u16,
    redis_port: u16,
    pg_running: bool,
    redis_running: bool,
}

impl Stack {
    /// Starts Postgres and Redis for `options.name` and waits until both answer.
    ///
    /// Servers a previous, killed run left behind in the same directory are stopped first.
    pub(crate) fn start(tools: &Tools, options: &StackOptions) -> Result<Self> {
        let dir = proc::target_dir().join("xtask").join(&options.name);
        let free = proc::free_ports(2)?;
        let pg_port = options.pg_port.unwrap_or(free[0]);
        let redis_port = options
            .redis_port
            .unwrap_or(if free[1] == pg_port { free[0] } else { free[1] });
        if pg_port == redis_port {
            bail!("Postgres and Redis cannot share port {pg_port}");
        }
        let mut stack = Self {
            tools: tools.clone(),
            name: options.name.clone(),
            dir,
            pg_port,
            redis_port,
            pg_running: false,
            redis_running: false,
        };
        stack.stop_leftovers();
        if options.fresh && stack.dir.exists() {
            fs::remove_dir_all(&stack.dir).with_context(|| format!("wiping {}", stack.dir.display()))?;
        }
        for (what, port) in [("Postgres", pg_port), ("Redis", redis_port)] {
            if proc::port_in_use(port) {
                bail!("port {port} for the {} stack's {what} is already in use", stack.name);
            }
        }
        fs::create_dir_all(stack.sock_dir()).with_context(|| format!("creating {}", stack.sock_dir().display()))?;

        // From here on, a failure drops `stack`, which stops whatever already runs.
        stack.start_postgres()?;
        proc::check_interrupted()?;
        stack.start_redis()?;
        proc::check_interrupted()?;
        eprintln!(
            "xtask: {} stack up: Postgres 127.0.0.1:{} (data {}), Redis 127.0.0.1:{}",
            stack.name,
            stack.pg_port,
            stack.pg_data().display(),
            stack.redis_port
        );
        Ok(stack)
    }

    /// The stack's directory, `target/xtask/<name>` (absolute).
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The Postgres port on 127.0.0.1.
    pub(crate) fn pg_port(&self) -> u16 {
        self.pg_port
    }

    /// The Redis port on 127.0.0.1.
    pub(crate) fn redis_port(&self) -> u16 {
        self.redis_port
    }

    /// `postgres://postgres@127.0.0.1:PORT/<db>` (the superuser; trust authentication).
    pub(crate) fn database_url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.pg_port)
    }

    /// `redis://127.0.0.1:PORT`.
    pub(crate) fn redis_url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.redis_port)
    }

    /// Creates database `name` unless it exists.
    pub(crate) fn create_database(&self, name: &str) -> Result<()> {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            bail!("refusing odd database name {name:?}");
        }
        let exists = self.psql(
            "postgres",
            &format!("SELECT 1 FROM pg_database WHERE datname = '{name}'"),
        )?;
        if exists.trim() == "1" {
            return Ok(());
        }
        let mut createdb = Command::new(&self.tools.createdb);
        createdb
            .args(["-h", "127.0.0.1", "-U", "postgres", "-p"])
            .arg(self.pg_port.to_string())
            .arg(name);
        proc::output_ok(&mut createdb).with_context(|| format!("creating database {name}"))?;
        Ok(())
    }

    /// Runs one SQL command in database `db` with `psql` and returns its unaligned output.
    pub(crate) fn psql(&self, db: &str, sql: &str) -> Result<String> {
        let mut psql = Command::new(&self.tools.psql);
        psql.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-tA"])
            .args(["-h", "127.0.0.1", "-U", "postgres", "-p"])
            .arg(self.pg_port.to_string())
            .args(["-d", db, "-c", sql])
            .env("PGCONNECT_TIMEOUT", "10");
        proc::output_ok(&mut psql)
    }

    /// Stops Redis and Postgres (idempotent; [`Drop`] calls it too).
    /// The pids of the Postgres server (its postmaster; the backends are its children) and of
    /// Redis, while they run.
    pub(crate) fn pids(&self) -> (Option<u32>, Option<u32>) {
        let postmaster = fs::read_to_string(self.pg_data().join("postmaster.pid"))
            .ok()
            .and_then(|s| s.lines().next().and_then(|l| l.trim().parse().ok()));
        (postmaster, read_pid(&self.redis_pidfile()))
    }

    pub(crate) fn stop(&mut self) -> Result<()> {
        let was_running = self.redis_running || self.pg_running;
        let redis = if self.redis_running {
            self.redis_running = false;
            self.stop_redis()
        } else {
            Ok(())
        };
        let pg = if self.pg_running {
            self.pg_running = false;
            self.stop_postgres()
        } else {
            Ok(())
        };
        if was_running {
            eprintln!("xtask: {} stack stopped", self.name);
        }
        redis.and(pg)
    }

    fn pg_data(&self) -> PathBuf {
        self.dir.join("pg")
    }

    fn sock_dir(&self) -> PathBuf {
        self.dir.join("sock")
    }

    fn pg_log(&self) -> PathBuf {
        self.dir.join("postgres.log")
    }

    fn redis_pidfile(&self) -> PathBuf {
        self.dir.join("redis.pid")
    }

    /// A Postgres server binary, run as the `postgres` user when we are root (Postgres refuses
    /// to run as root).
    fn pg_command(&self, program: &Path) -> Command {
        let mut cmd = match &self.tools.runuser {
            Some(runuser) if self.tools.root => {
                let mut cmd = Command::new(runuser);
                cmd.args(["-u", "postgres", "--"]).arg(program);
                cmd
            }
            _ => Command::new(program),
        };
        // The postgres user may not be allowed into the caller's working directory.
        cmd.current_dir(if self.dir.exists() { &self.dir } else { Path::new("/") });
        cmd
    }

    /// Stops servers that a previous, killed run left in this directory.
    fn stop_leftovers(&self) {
        if let Some(pid) = read_pid(&self.redis_pidfile())
            && proc::alive(pid)
            && proc::process_name(pid).is_some_and(|name| name.starts_with("redis"))
        {
            eprintln!("xtask: stopping a Redis (pid {pid}) left by an earlier run");
            stop_pid(pid, Duration::from_secs(5));
        }
        if self.pg_data().join("postmaster.pid").exists() {
            let mut status = self.pg_command(&self.tools.pg_ctl);
            status.arg("-D").arg(self.pg_data()).arg("status");
            if proc::output(&mut status).is_ok_and(|out| out.status.success()) {
                eprintln!("xtask: stopping a Postgres left by an earlier run");
                if let Err(err) = self.stop_postgres() {
                    eprintln!("xtask: {err:#}");
                }
            }
        }
    }

    fn start_postgres(&mut self) -> Result<()> {
        let data = self.pg_data();
        if self.tools.root {
            tools::ensure_postgres_user()?;
        }
        if !data.join("PG_VERSION").exists() {
            self.initdb()?;
        }
        self.hand_to_postgres_user()?;

        // The Unix socket path is limited to 107 bytes; without one, TCP still works.
        let sock = self.sock_dir();
        let sock_arg = if sock.as_os_str().len() + ".s.PGSQL.65535".len() < 100 {
            proc::shell_quote(&sock.to_string_lossy())
        } else {
            "''".to_owned()
        };
        let options = format!(
            "-p {} -k {sock_arg} -c listen_addresses=127.0.0.1 -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off -c max_connections=500",
            self.pg_port
        );
        let mut pg_ctl = self.pg_command(&self.tools.pg_ctl);
        pg_ctl
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(self.pg_log())
            .arg("-p")
            .arg(&self.tools.postgres)
            .args(["-o", &options, "-w", "-t", "60", "start"]);
        let out = proc::output(&mut pg_ctl)?;
        // Whatever happened, a server may run now; `stop` copes with one that does not.
        self.pg_running = true;
        if !out.status.success() {
            bail!(
                "starting Postgres failed: `{}`:\n{}{}\n--- {} (last lines) ---\n{}",
                proc::display(&pg_ctl),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                self.pg_log().display(),
                tail(&self.pg_log(), 20)
            );
        }
        self.wait_for_postgres()
    }

    /// `initdb` into an empty `pg/`; retried without `--locale` where `C.UTF-8` is missing.
    fn initdb(&self) -> Result<()> {
        let data = self.pg_data();
        let mut last_error = String::new();
        for locale in [Some("--locale=C.UTF-8"), None] {
            if data.exists() {
                fs::remove_dir_all(&data).with_context(|| format!("wiping {}", data.display()))?;
            }
            fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
            self.hand_to_postgres_user()?;
            let mut initdb = self.pg_command(&self.tools.initdb);
            initdb
                .arg("-D")
                .arg(&data)
                .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
                .args(locale);
            let out = proc::output(&mut initdb)?;
            if out.status.success() {
                return Ok(());
            }
            last_error = format!(
                "`{}` failed ({}):\n{}{}",
                proc::display(&initdb),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        bail!("creating the Postgres data directory failed: {last_error}")
    }

    /// As root: gives `pg/`, `sock/` and `postgres.log` to the `postgres` user and checks it
    /// can reach them (every parent directory must let it through).
    fn hand_to_postgres_user(&self) -> Result<()> {
        if !self.tools.root {
            return Ok(());
        }
        let log = self.pg_log();
        if !log.exists() {
            fs::write(&log, "").with_context(|| format!("creating {}", log.display()))?;
        }
        let mut chown = Command::new("chown");
        chown
            .args(["-R", "postgres:postgres"])
            .arg(self.pg_data())
            .arg(self.sock_dir())
            .arg(&log);
        proc::output_ok(&mut chown)?;
        let mut probe = self.pg_command(Path::new("test"));
        probe.arg("-w").arg(self.pg_data());
        if !proc::output(&mut probe)?.status.success() {
            bail!(
                "the `postgres` user cannot write {}: a parent directory shuts it out \
                 (make them world-searchable, or set CARGO_TARGET_DIR elsewhere)",
                self.pg_data().display()
            );
        }
        Ok(())
    }

    fn wait_for_postgres(&self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = match &self.tools.pg_isready {
                Some(pg_isready) => {
                    let mut cmd = Command::new(pg_isready);
                    cmd.args(["-q", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres"])
                        .args(["-t", "2", "-p"])
                        .arg(self.pg_port.to_string());
                    proc::output(&mut cmd)?.status.success()
                }
                None => self.psql("postgres", "SELECT 1").is_ok(),
            };
            if ready {
                return Ok(());
            }
            proc::check_interrupted()?;
            if Instant::now() > deadline {
                bail!(
                    "Postgres on port {} did not answer within 30 s; see {}",
                    self.pg_port,
                    self.pg_log().display()
                );
            }
            thread::sleep(proc::POLL);
        }
    }

    fn stop_postgres(&self) -> Result<()> {
        let mut last = String::new();
        for mode in ["fast", "immediate"] {
            let mut pg_ctl = self.pg_command(&self.tools.pg_ctl);
            pg_ctl
                .arg("-D")
                .arg(self.pg_data())
                .args(["-m", mode, "-w", "-t", "30", "stop"]);
            let out = proc::output(&mut pg_ctl)?;
            let stderr = String::from_utf8_lossy(&out.stderr);
            // "PID file … does not exist / Is server running?": nothing to stop.
            if out.status.success() || stderr.contains("does not exist") {
                return Ok(());
            }
            last = format!("`{}`: {}", proc::display(&pg_ctl), stderr.trim());
        }
        bail!("stopping Postgres failed: {last}")
    }

    fn start_redis(&mut self) -> Result<()> {
        let mut redis = Command::new(&self.tools.redis_server);
        redis
            .arg("--port")
            .arg(self.redis_port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--daemonize", "yes", "--pidfile"])
            .arg(self.redis_pidfile())
            .arg("--logfile")
            .arg(self.dir.join("redis.log"))
            // Keeps any dump file Redis might still write inside the stack directory.
            .arg("--dir")
            .arg(&self.dir)
            .current_dir(&self.dir);
        proc::output_ok(&mut redis).context("starting Redis")?;
        self.redis_running = true;

        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let pong = proc::output(self.redis_cli().arg("ping"))?;
            if String::from_utf8_lossy(&pong.stdout).trim() == "PONG" {
                return Ok(());
            }
            proc::check_interrupted()?;
            if Instant::now() > deadline {
                bail!(
                    "Redis on port {} did not answer within 15 s; see {}",
                    self.redis_port,
                    self.dir.join("redis.log").display()
                );
            }
            thread::sleep(proc::POLL);
        }
    }

    fn redis_cli(&self) -> Command {
        let mut cmd = Command::new(&self.tools.redis_cli);
        cmd.args(["-h", "127.0.0.1", "-p"]).arg(self.redis_port.to_string());
        cmd
    }

    fn stop_redis(&self) -> Result<()> {
        let pid = read_pid(&self.redis_pidfile());
        // `shutdown nosave` closes the connection instead of answering; its status says nothing.
        proc::output(self.redis_cli().args(["shutdown", "nosave"]))?;
        if let Some(pid) = pid
            && proc::process_name(pid).is_some_and(|name| name.starts_with("redis"))
        {
            stop_pid(pid, Duration::from_secs(5));
            if proc::alive(pid) {
                bail!("Redis (pid {pid}) would not stop");
            }
        }
        Ok(())
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Err(err) = self.stop() {
            eprintln!("xtask: stopping the {} stack: {err:#}", self.name);
        }
    }
}

/// Reads a pid file.
fn read_pid(path: &Path) -> Option<u32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Waits for a process (not our child) to exit: SIGTERM, `grace`, then SIGKILL.
fn stop_pid(pid: u32, grace: Duration) {
    let deadline = Instant::now() + grace;
    proc::signal(pid, "TERM");
    while proc::alive(pid) && Instant::now() < deadline {
        thread::sleep(proc::POLL);
    }
    if proc::alive(pid) {
        proc::signal(pid, "KILL");
        thread::sleep(proc::POLL);
    }
}

/// The last `n` lines of a log file, for error messages.
pub(crate) fn tail(path: &Path, n: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// `cargo xtask stack-check` (hidden): starts a throw-away stack (`target/xtask/check`),
/// creates a database, runs `SELECT 1` and `PING` through the URLs it hands out, and stops it.
pub(crate) fn check(args: &[String]) -> Result<()> {
    if let Some(arg) = args.first() {
        bail!("stack-check takes no arguments, got {arg:?}");
    }
    let tools = tools::ensure_tools(false)?;
    let mut stack = Stack::start(&tools, &StackOptions::new("check", true))?;
    stack.create_database("order")?;
    // Twice: creating a database that exists must be a no-op.
    stack.create_database("order")?;
    let database_url = stack.database_url("order");
    let redis_url = stack.redis_url();
    println!("DATABASE_URL={database_url}");
    println!("REDIS_URL={redis_url}");

    let mut psql = Command::new(&tools.psql);
    psql.args(["-X", "-tA", "-c", "select 1"]).arg(&database_url);
    let one = proc::output_ok(&mut psql)?;
    println!("psql select 1 → {}", one.trim());
    if one.trim() != "1" {
        bail!("`select 1` answered {one:?}");
    }

    let mut ping = Command::new(&tools.redis_cli);
    ping.arg("-u").arg(&redis_url).arg("ping");
    let pong = proc::output_ok(&mut ping)?;
    println!("redis-cli ping → {}", pong.trim());
    if pong.trim() != "PONG" {
        bail!("`PING` answered {pong:?}");
    }
    stack.stop()?;
    println!("stack-check ok");
    Ok(())
}
