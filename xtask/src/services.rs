//! The shop's services as xtask runs them: the one table of services and local ports, the
//! dev secrets (JWT keys, service clients), the environment each service gets, and running
//! a service binary with its output prefixed and its `/health` awaited.

use std::collections::VecDeque;
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use shop_contract::{CONTRACT_VARS, ClientLine, Placement, SERVICES as CONTRACT_SERVICES, ServiceName, Value};

use crate::proc;
use crate::stack::Stack;

/// One service of the shop as xtask runs it: the contract's facts (`shop-contract`) in a
/// table, so the rest of xtask reads plain fields.
#[derive(Debug)]
pub(crate) struct Service {
    /// Which one.
    pub(crate) kind: ServiceName,
    /// Short name: `auth`, also its database name and the `SHOP_<NAME>_…` variables.
    pub(crate) name: &'static str,
    /// The binary (`target/<profile>/<binary>`).
    pub(crate) binary: &'static str,
    /// Default local API port.
    pub(crate) port: u16,
    /// Default local admin port (`/health`, `/ready`, `/metrics`).
    pub(crate) admin_port: u16,
    /// Owns a Postgres database named after the service (and has a `migrate` subcommand).
    pub(crate) database: bool,
    /// Calls internal APIs with its own client-credentials (`SERVICE_CLIENT_ID`/`_SECRET`).
    pub(crate) client: bool,
}

const fn entry(kind: ServiceName) -> Service {
    Service {
        kind,
        name: kind.as_str(),
        binary: kind.binary(),
        port: kind.local_ports().0,
        admin_port: kind.local_ports().1,
        database: kind.owns_database(),
        client: kind.is_service_client(),
    }
}

/// Every service, in the contract's start order (auth first, gateway last).
pub(crate) const SERVICES: &[Service] = &[
    entry(CONTRACT_SERVICES[0]),
    entry(CONTRACT_SERVICES[1]),
    entry(CONTRACT_SERVICES[2]),
    entry(CONTRACT_SERVICES[3]),
    entry(CONTRACT_SERVICES[4]),
];

impl Service {
    /// The upper-case name used in variables: `auth` → `AUTH`.
    pub(crate) fn env_name(&self) -> &'static str {
        self.kind.env_name()
    }

    /// `target/<profile>/<binary>` (`profile` is `debug` or `release`).
    pub(crate) fn binary_path(&self, profile: &str) -> PathBuf {
        proc::target_dir().join(profile).join(self.binary)
    }

    /// Whether the binary was built for `profile` (services appear as they are written).
    pub(crate) fn exists(&self, profile: &str) -> bool {
        self.binary_path(profile).is_file()
    }

    /// Its database name, when it owns one.
    pub(crate) fn database_name(&self) -> Option<&'static str> {
        self.database.then_some(self.name)
    }
}

/// Looks a service up by name.
pub(crate) fn service(name: &str) -> Result<&'static Service> {
    SERVICES
        .iter()
        .find(|service| service.name == name)
        .with_context(|| format!("no service called {name:?}"))
}

/// The API and admin ports of one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ports {
    /// `LISTEN_ADDR` port.
    pub(crate) api: u16,
    /// `ADMIN_ADDR` port.
    pub(crate) admin: u16,
}

/// A service placed on its local ports.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Instance {
    /// The service.
    pub(crate) service: &'static Service,
    /// Where it listens.
    pub(crate) ports: Ports,
}

impl Instance {
    /// `http://127.0.0.1:<api port>`.
    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.api)
    }

    /// `http://127.0.0.1:<admin port>`.
    pub(crate) fn admin_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.admin)
    }
}

/// Every service with its ports: the defaults of [`SERVICES`], overridden by
/// `SHOP_<NAME>_PORT` and `SHOP_<NAME>_ADMIN_PORT`. Fails on a malformed or repeated port.
pub(crate) fn resolve_ports() -> Result<Vec<Instance>> {
    let instances = SERVICES
        .iter()
        .map(|service| {
            let prefix = format!("SHOP_{}", service.env_name());
            Ok(Instance {
                service,
                ports: Ports {
                    api: env_port(&format!("{prefix}_PORT"))?.unwrap_or(service.port),
                    admin: env_port(&format!("{prefix}_ADMIN_PORT"))?.unwrap_or(service.admin_port),
                },
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut seen = Vec::new();
    for instance in &instances {
        for port in [instance.ports.api, instance.ports.admin] {
            if seen.contains(&port) {
                bail!("port {port} is given to two listeners (see SHOP_*_PORT)");
            }
            seen.push(port);
        }
    }
    Ok(instances)
}

/// Reads a port from an environment variable; `None` when unset or empty.
pub(crate) fn env_port(var: &str) -> Result<Option<u16>> {
    match std::env::var(var) {
        Ok(value) if !value.trim().is_empty() => value
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|port| *port > 0)
            .map(Some)
            .with_context(|| format!("{var}={value:?} is not a port number")),
        _ => Ok(None),
    }
}

/// The instance of the service called `name`.
pub(crate) fn instance<'a>(instances: &'a [Instance], name: &str) -> Result<&'a Instance> {
    instances
        .iter()
        .find(|instance| instance.service.name == name)
        .with_context(|| format!("no service called {name:?}"))
}

/// The credentials every service needs, generated once into a directory and then reused.
#[derive(Debug, Clone)]
pub(crate) struct Secrets {
    /// Auth's private keys (`JWT_SIGNING_KEYS_DIR`).
    pub(crate) signing_keys_dir: PathBuf,
    /// The matching public keys (`JWT_PUBLIC_KEYS_DIR`).
    pub(crate) public_keys_dir: PathBuf,
    /// `client_id:secret:scopes` lines (`SERVICE_CLIENTS_FILE`).
    pub(crate) clients_file: PathBuf,
    /// The same clients: `(id, secret)`.
    pub(crate) clients: Vec<(String, String)>,
    /// The gateway's `SESSION_SECRET` (`<dir>/session-secret`, mode 0600).
    pub(crate) session_secret: String,
}

impl Secrets {
    /// The secret of client `id`.
    pub(crate) fn client_secret(&self, id: &str) -> Option<&str> {
        self.clients
            .iter()
            .find(|(client, _)| client == id)
            .map(|(_, secret)| secret.as_str())
    }
}

/// Makes the secrets under `dir` unless they exist: JWT keys through `<auth> keygen --out
/// <dir>/keys` (only when `keys/signing/` holds no `.pem`), and `<dir>/service-clients` (mode
/// 0600) with one random secret per calling service, kept across runs; each run rewrites the
/// file's lines with the scopes the contract grants now (`shop_contract::client_line`).
pub(crate) fn ensure_secrets(dir: &Path, auth_binary: &Path) -> Result<Secrets> {
    let keys = dir.join("keys");
    let signing_keys_dir = keys.join("signing");
    let public_keys_dir = keys.join("public");
    if !has_pem(&signing_keys_dir) {
        let mut keygen = Command::new(auth_binary);
        keygen.arg("keygen").arg("--out").arg(&keys);
        let kid = proc::output_ok(&mut keygen).context("generating the JWT signing key")?;
        eprintln!("xtask: new JWT signing key {} in {}", kid.trim(), keys.display());
        if !has_pem(&signing_keys_dir) {
            bail!(
                "`{}` wrote no .pem into {}",
                proc::display(&keygen),
                signing_keys_dir.display()
            );
        }
    }

    let clients_file = dir.join("service-clients");
    let mut clients = read_clients(&clients_file)?;
    for service in SERVICES.iter().filter(|service| service.client) {
        if !clients.iter().any(|(id, _)| id == service.name) {
            clients.push((service.name.to_owned(), random_hex(32)?));
        }
    }
    write_clients(&clients_file, &clients)?;
    let session_secret = read_or_create_secret(&dir.join("session-secret"))?;
    Ok(Secrets {
        signing_keys_dir,
        public_keys_dir,
        clients_file,
        clients,
        session_secret,
    })
}

/// The secret in `path`, made (32 random bytes, hex, mode 0600) when the file is missing.
fn read_or_create_secret(path: &Path) -> Result<String> {
    match fs::read_to_string(path) {
        Ok(secret) if !secret.trim().is_empty() => return Ok(secret.trim().to_owned()),
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
    }
    let secret = random_hex(32)?;
    fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| file.write_all(secret.as_bytes()))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(secret)
}

/// Whether `dir` holds a `.pem` file.
fn has_pem(dir: &Path) -> bool {
    fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .filter_map(Result::ok)
            .any(|entry| entry.path().extension().is_some_and(|ext| ext == "pem"))
    })
}

/// Reads `client_id:secret` lines (blank lines and `#` comments skipped); empty when missing.
fn read_clients(path: &Path) -> Result<Vec<(String, String)>> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
    };
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            ClientLine::parse(line)
                .map(|client| (client.id.to_owned(), client.secret.to_owned()))
                .with_context(|| format!("{}: a line is not `client_id:secret[:scopes]`", path.display()))
        })
        .collect()
}

/// Writes the clients file (mode 0600, through a temporary file) when its content changes:
/// the contract's clients with their scopes, each with its secret from `clients`.
fn write_clients(path: &Path, clients: &[(String, String)]) -> Result<()> {
    let secret_of = |service: ServiceName| {
        clients
            .iter()
            .find(|(id, _)| id == service.as_str())
            .map(|(_, secret)| secret.clone())
    };
    let text = shop_contract::clients_file(secret_of);
    if fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut file = fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))
}

/// `n` random bytes from `/dev/urandom`, hex-encoded.
pub(crate) fn random_hex(n: usize) -> Result<String> {
    let mut bytes = vec![0; n];
    fs::File::open("/dev/urandom")
        .and_then(|mut urandom| urandom.read_exact(&mut bytes))
        .context("reading /dev/urandom")?;
    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// Everything the environment of a service is built from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ShopEnv<'a> {
    /// Every service and its ports (peers' URLs come from here).
    pub(crate) instances: &'a [Instance],
    /// The running Postgres and Redis.
    pub(crate) stack: &'a Stack,
    /// Keys and client credentials.
    pub(crate) secrets: &'a Secrets,
    /// Auth's seeded admin (`ADMIN_EMAIL`).
    pub(crate) admin_email: &'a str,
    /// Auth's seeded admin (`ADMIN_PASSWORD`).
    pub(crate) admin_password: &'a str,
    /// `LOG_FORMAT`: `text` locally, `json` for machines.
    pub(crate) log_format: &'a str,
}

impl ShopEnv<'_> {
    /// `http://localhost:<auth port>`: the `iss` of every token (`JWT_ISSUER`).
    pub(crate) fn jwt_issuer(&self) -> String {
        let port = instance(self.instances, "auth").map_or(8001, |auth| auth.ports.api);
        format!("http://localhost:{port}")
    }
}

/// The local dev stack as a [`Placement`]: loopback addresses, text logs, secrets written
/// out (from `target/xtask/`), plain-http cookies.
struct Local<'a, 'b> {
    instance: &'a Instance,
    shop: &'a ShopEnv<'b>,
}

impl Local<'_, '_> {
    fn ports(&self, service: ServiceName) -> Ports {
        if service == self.instance.service.kind {
            return self.instance.ports;
        }
        let (api, admin) = service.local_ports();
        instance(self.shop.instances, service.as_str()).map_or(Ports { api, admin }, |peer| peer.ports)
    }
}

impl Placement for Local<'_, '_> {
    fn listen_addr(&self, service: ServiceName) -> String {
        format!("127.0.0.1:{}", self.ports(service).api)
    }
    fn admin_addr(&self, service: ServiceName) -> String {
        format!("127.0.0.1:{}", self.ports(service).admin)
    }
    fn log_format(&self) -> String {
        self.shop.log_format.to_owned()
    }
    fn log_filter(&self, _: ServiceName) -> String {
        std::env::var("RUST_LOG").unwrap_or_else(|_| "info,sqlx=warn".to_owned())
    }
    fn url(&self, service: ServiceName) -> String {
        format!("http://127.0.0.1:{}", self.ports(service).api)
    }
    fn jwt_issuer(&self) -> String {
        self.shop.jwt_issuer()
    }
    fn database_url(&self, service: ServiceName) -> Value {
        Value::Plain(self.shop.stack.database_url(service.as_str()))
    }
    fn redis_url(&self) -> Value {
        Value::Plain(self.shop.stack.redis_url())
    }
    fn signing_keys_dir(&self) -> String {
        self.shop.secrets.signing_keys_dir.display().to_string()
    }
    fn public_keys_dir(&self) -> String {
        self.shop.secrets.public_keys_dir.display().to_string()
    }
    fn clients_file(&self) -> String {
        self.shop.secrets.clients_file.display().to_string()
    }
    fn admin_email(&self) -> String {
        self.shop.admin_email.to_owned()
    }
    fn admin_password(&self) -> Value {
        Value::plain(self.shop.admin_password)
    }
    fn client_secret(&self, service: ServiceName) -> Option<Value> {
        self.shop.secrets.client_secret(service.as_str()).map(Value::plain)
    }
    fn shutdown_delay_secs(&self) -> u32 {
        0
    }
    fn trusted_proxy_hops(&self, service: ServiceName) -> u32 {
        // Locally shoppers reach the gateway directly, and auth through the gateway.
        u32::from(service == ServiceName::Auth)
    }
    fn currency(&self) -> String {
        "KZT".to_owned()
    }
    fn public_url(&self) -> String {
        format!("http://localhost:{}", self.ports(ServiceName::Gateway).api)
    }
    fn secure_cookies(&self) -> bool {
        false
    }
    fn session_secret(&self) -> Value {
        Value::Plain(self.shop.secrets.session_secret.clone())
    }
    fn image_proxy(&self) -> bool {
        true
    }
    fn image_cache_dir(&self) -> String {
        self.shop.stack.dir().join("image-cache").display().to_string()
    }
    fn image_allowed_hosts(&self) -> String {
        String::new()
    }
}

/// The environment of `instance`: the contract's ([`shop_contract::environment`]) at the
/// local placement, every value written out.
pub(crate) fn service_env(instance: &Instance, shop: &ShopEnv<'_>) -> Vec<(String, String)> {
    let local = Local { instance, shop };
    shop_contract::environment(instance.service.kind, &local)
        .into_iter()
        .map(|var| {
            let value = match var.value {
                Value::Plain(value) => value,
                // The local placement writes every value out; a reference cannot reach here.
                Value::Secret { name, key } => format!("<secret {name}/{key}>"),
            };
            (var.name.to_owned(), value)
        })
        .collect()
}

/// A `Command` for a service binary with exactly the contract variables of `env` (inherited
/// ones removed), started in the workspace root.
pub(crate) fn command(binary: &Path, env: &[(String, String)]) -> Command {
    let mut cmd = Command::new(binary);
    for var in CONTRACT_VARS {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().map(|(key, value)| (key, value)))
        .current_dir(proc::workspace_root())
        .stdin(Stdio::null());
    cmd
}

/// The coloured, padded `name | ` that starts every line of a service's output.
pub(crate) fn prefix(name: &str) -> String {
    const COLORS: &[&str] = &["36", "33", "32", "35", "34", "31"];
    let width = SERVICES.iter().map(|s| s.name.len()).max().unwrap_or(8);
    let index = SERVICES.iter().position(|s| s.name == name).unwrap_or(0);
    let label = format!("{name:<width$} |");
    if proc::color() {
        format!("\x1b[{}m{label}\x1b[0m ", COLORS[index % COLORS.len()])
    } else {
        format!("{label} ")
    }
}

/// Runs a one-shot service command (`migrate`, `seed`) with its output prefixed; fails
/// unless it succeeds.
pub(crate) fn run_prefixed(name: &str, cmd: &mut Command) -> Result<()> {
    let mut child = spawn_prefixed(name, cmd)?;
    let status = proc::wait(&mut child.child)?;
    child.status = Some(status);
    child.join_output();
    proc::check_interrupted()?;
    if !status.success() {
        bail!("`{}` failed ({status})", proc::display(cmd));
    }
    Ok(())
}

/// A service process whose output goes to our terminal, prefixed with its name.
#[derive(Debug)]
pub(crate) struct Running {
    /// The service name (for messages).
    pub(crate) name: String,
    child: Child,
    output: Vec<JoinHandle<()>>,
    status: Option<ExitStatus>,
    /// Its last [`TAIL_LINES`] lines of output, for the message when it dies.
    tail: Arc<Mutex<VecDeque<String>>>,
}

/// How many lines of output a [`Running`] keeps for [`Running::last_lines`].
const TAIL_LINES: usize = 10;

/// Starts `cmd` in its own process group (so the terminal's Ctrl-C reaches only xtask, which
/// then stops it in order) with stdout and stderr forwarded line by line under `prefix(name)`.
pub(crate) fn spawn_prefixed(name: &str, cmd: &mut Command) -> Result<Running> {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting `{}`", proc::display(cmd)))?;
    let label = prefix(name);
    let tail = Arc::new(Mutex::new(VecDeque::with_capacity(TAIL_LINES)));
    let mut output = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        output.push(forward_and_keep(stdout, label.clone(), Arc::clone(&tail)));
    }
    if let Some(stderr) = child.stderr.take() {
        output.push(forward_and_keep(stderr, label, Arc::clone(&tail)));
    }
    Ok(Running {
        name: name.to_owned(),
        child,
        output,
        status: None,
        tail,
    })
}

/// Copies a child's stream to our stdout under `label`, keeping its last lines in `tail`.
fn forward_and_keep<R: Read + Send + 'static>(
    stream: R,
    label: String,
    tail: Arc<Mutex<VecDeque<String>>>,
) -> JoinHandle<()> {
    proc::forward_lines(stream, false, move |line| {
        if let Ok(mut tail) = tail.lock() {
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line.to_owned());
        }
        format!("{label}{line}")
    })
}

impl Running {
    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its exit status, if it has exited.
    pub(crate) fn exited(&mut self) -> Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self.child.try_wait()?;
        }
        Ok(self.status)
    }

    /// Waits until `http://127.0.0.1:<admin_port>/health` answers 200; fails when the process
    /// exits first, on a stop signal, or after `timeout`.
    pub(crate) fn wait_healthy(&mut self, admin_port: u16, timeout: Duration) -> Result<()> {
        let addr = SocketAddr::from(([127, 0, 0, 1], admin_port));
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited()? {
                bail!("{} exited while starting ({status})", self.name);
            }
            if http_status(addr, "/health", Duration::from_secs(2)).is_ok_and(|code| code == 200) {
                return Ok(());
            }
            proc::check_interrupted()?;
            if Instant::now() > deadline {
                bail!(
                    "{}: http://{addr}/health did not answer 200 within {timeout:?}",
                    self.name
                );
            }
            thread::sleep(proc::POLL);
        }
    }

    /// Sends SIGTERM without waiting (to stop several services at once).
    pub(crate) fn request_stop(&mut self) -> Result<()> {
        if self.exited()?.is_none() {
            proc::signal(self.pid(), "TERM");
        }
        Ok(())
    }

    /// Stops it: SIGTERM, up to `grace` to drain, then SIGKILL; returns its exit status.
    pub(crate) fn stop(&mut self, grace: Duration) -> Result<ExitStatus> {
        if let Some(status) = self.exited()? {
            return Ok(status);
        }
        self.request_stop()?;
        let status = proc::wait_for_exit(&mut self.child, grace)?;
        self.status = Some(status);
        self.join_output();
        Ok(status)
    }

    /// Its last lines of output (at most [`TAIL_LINES`]); once it has exited, up to its very
    /// last line (the output threads are joined first).
    pub(crate) fn last_lines(&mut self) -> Vec<String> {
        if self.status.is_some() {
            self.join_output();
        }
        self.tail
            .lock()
            .map(|tail| tail.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Waits for the output threads (after the process exited) so no line is lost.
    fn join_output(&mut self) {
        for handle in self.output.drain(..) {
            handle.join().ok();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Err(err) = self.stop(Duration::from_secs(10)) {
            eprintln!("xtask: stopping {}: {err:#}", self.name);
        }
    }
}

/// `GET path` over plain HTTP/1.1 and returns the status code.
pub(crate) fn http_status(addr: SocketAddr, path: &str, timeout: Duration) -> Result<u16> {
    http_get(addr, path, timeout, 64 * 1024).map(|(status, _)| status)
}

/// `GET path` over plain HTTP/1.1: the status code and the body (answers of at most `limit`
/// bytes, sent with a `Content-Length`).
pub(crate) fn http_get(addr: SocketAddr, path: &str, timeout: Duration, limit: usize) -> Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: xtask\r\nConnection: close\r\n\r\n"
    )?;
    // Read the whole (small) answer: closing early makes the server log a reset connection.
    // A server that keeps the connection open anyway ends the read by the timeout.
    let mut response = Vec::new();
    let mut chunk = [0_u8; 4096];
    while response.len() < limit {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => response.extend_from_slice(&chunk[..n]),
            Err(_) if !response.is_empty() => break,
            Err(err) => return Err(err.into()),
        }
    }
    let line = String::from_utf8_lossy(&response[..response.len().min(64)]);
    let status = line
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("not an HTTP response from {addr}: {line:?}"))?;
    let body = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|end| response[end + 4..].to_vec())
        .unwrap_or_default();
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn the_table_has_unique_names_and_ports() {
        let mut ports: Vec<u16> = SERVICES.iter().flat_map(|s| [s.port, s.admin_port]).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), SERVICES.len() * 2);
        assert!(service("auth").is_ok_and(|auth| auth.database && auth.binary == "shop-auth"));
    }

    #[test]
    fn clients_file_lines_parse() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("xtask-clients-{}", std::process::id()));
        fs::create_dir_all(&dir)?;
        let file = dir.join("service-clients");
        fs::write(&file, "# comment\norder:abc\n\ncart: def :catalog:read\n")?;
        let clients = read_clients(&file)?;
        assert_eq!(
            clients,
            vec![
                ("order".to_owned(), "abc".to_owned()),
                ("cart".to_owned(), "def".to_owned())
            ]
        );
        // A file from before scopes is rewritten with the contract's, keeping the secrets.
        write_clients(&file, &clients)?;
        let text = fs::read_to_string(&file)?;
        let mode = fs::metadata(&file)?.permissions().mode() & 0o777;
        fs::remove_dir_all(&dir)?;
        assert!(
            text.contains("\norder:abc:catalog:read,catalog:reserve,cart:read,cart:clear\n"),
            "{text}"
        );
        assert!(text.contains("\ncart:def:catalog:read\n"), "{text}");
        assert_eq!(mode, 0o600);
        Ok(())
    }

    #[test]
    fn random_hex_has_two_digits_per_byte() -> Result<()> {
        let secret = random_hex(32)?;
        assert_eq!(secret.len(), 64);
        assert!(secret.chars().all(|c| c.is_ascii_hexdigit()));
        Ok(())
    }
}
