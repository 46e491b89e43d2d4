//! `shop-contract`: the shop's services and the environment each one reads — the
//! configuration contract of `DESIGN.md`, defined once.
//!
//! `cargo xtask dev` runs the services as local processes and the operator runs them as
//! Deployments; both ask this crate which services exist, what each owns (a database, Redis,
//! client credentials), whom each calls, and which variables each gets. What differs between
//! the two places (addresses, where secrets come from, key directories) is a [`Placement`],
//! which each implements; [`environment`] assembles the variables from it. A variable added
//! to a service is added here and reaches both.
//!
//! The scopes each service client's token carries, and the line of auth's clients file that
//! grants them, are in [`scopes`]: both places write the file from [`ServiceName::scopes`].
//!
//! No dependencies: no Kubernetes, no HTTP, nothing but the table and the assembly.

use std::fmt;

pub mod scopes;

pub use scopes::{CLIENTS_FILE_HEADER, ClientLine, ClientLineError, SCOPES, Scope, client_line, clients_file};

/// One of the shop's services.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServiceName {
    Auth,
    Catalog,
    Cart,
    Order,
    Gateway,
}

/// Every service, in start order: auth first (the others verify its tokens), gateway last.
pub const SERVICES: [ServiceName; 5] = [
    ServiceName::Auth,
    ServiceName::Catalog,
    ServiceName::Cart,
    ServiceName::Order,
    ServiceName::Gateway,
];

/// The audience of every token (`JWT_AUDIENCE`).
pub const JWT_AUDIENCE: &str = "shopkeeper";

/// A glibc mmap threshold that returns auth's 19 MiB argon2 buffers to the OS once its hashing
/// workers go idle (the adaptive threshold keeps them in the heap); see docs/operations.md.
pub const AUTH_MALLOC_MMAP_THRESHOLD: &str = "131072";

impl ServiceName {
    /// The short name (`auth`): object names, labels, database names, client ids.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::Catalog => "catalog",
            Self::Cart => "cart",
            Self::Order => "order",
            Self::Gateway => "gateway",
        }
    }

    /// Looks a service up by its short name.
    pub fn parse(name: &str) -> Option<Self> {
        SERVICES.into_iter().find(|service| service.as_str() == name)
    }

    /// The upper-case name of its variables: `AUTH_URL`, `SHOP_AUTH_PORT`.
    pub const fn env_name(self) -> &'static str {
        match self {
            Self::Auth => "AUTH",
            Self::Catalog => "CATALOG",
            Self::Cart => "CART",
            Self::Order => "ORDER",
            Self::Gateway => "GATEWAY",
        }
    }

    /// The binary (`shop-auth`), in `target/<profile>/` and in the image.
    pub const fn binary(self) -> &'static str {
        match self {
            Self::Auth => "shop-auth",
            Self::Catalog => "shop-catalog",
            Self::Cart => "shop-cart",
            Self::Order => "shop-order",
            Self::Gateway => "shop-gateway",
        }
    }

    /// The API and admin ports of the local dev stack (`cargo xtask dev`).
    pub const fn local_ports(self) -> (u16, u16) {
        match self {
            Self::Gateway => (8000, 9000),
            Self::Auth => (8001, 9001),
            Self::Catalog => (8002, 9002),
            Self::Cart => (8003, 9003),
            Self::Order => (8004, 9004),
        }
    }

    /// Whether it owns a Postgres database named after it (and has a `migrate` subcommand).
    pub const fn owns_database(self) -> bool {
        matches!(self, Self::Auth | Self::Catalog | Self::Order)
    }

    /// Whether it uses Redis (`REDIS_URL`).
    pub const fn uses_redis(self) -> bool {
        matches!(self, Self::Cart | Self::Gateway)
    }

    /// Whether it calls internal APIs with its own client credentials.
    pub const fn is_service_client(self) -> bool {
        matches!(self, Self::Cart | Self::Order | Self::Gateway)
    }

    /// The services it calls (its `<PEER>_URL` variables and its network egress).
    pub const fn calls(self) -> &'static [ServiceName] {
        match self {
            Self::Auth => &[],
            Self::Catalog => &[Self::Auth],
            Self::Cart => &[Self::Auth, Self::Catalog],
            Self::Order => &[Self::Auth, Self::Catalog, Self::Cart],
            Self::Gateway => &[Self::Auth, Self::Catalog, Self::Cart, Self::Order],
        }
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A variable's value: written out, or read from a secret the placement holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// The value itself.
    Plain(String),
    /// Key `key` of secret `name` (a Kubernetes Secret; locally, xtask resolves it itself).
    Secret { name: String, key: String },
}

impl Value {
    /// A plain value.
    pub fn plain(value: impl Into<String>) -> Self {
        Self::Plain(value.into())
    }

    /// A secret reference.
    pub fn secret(name: impl Into<String>, key: impl Into<String>) -> Self {
        Self::Secret {
            name: name.into(),
            key: key.into(),
        }
    }
}

/// One environment variable of a service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Var {
    /// Its name (`DATABASE_URL`).
    pub name: &'static str,
    /// Its value.
    pub value: Value,
}

/// Where the services run: what differs between the local dev stack and a cluster.
pub trait Placement {
    /// `LISTEN_ADDR` of `service`.
    fn listen_addr(&self, service: ServiceName) -> String;
    /// `ADMIN_ADDR` of `service`.
    fn admin_addr(&self, service: ServiceName) -> String;
    /// `LOG_FORMAT`: `json` in containers, `text` for a person.
    fn log_format(&self) -> String;
    /// `RUST_LOG` of `service`.
    fn log_filter(&self, service: ServiceName) -> String;
    /// The base URL other services reach `service` at (`<PEER>_URL`).
    fn url(&self, service: ServiceName) -> String;
    /// `JWT_ISSUER`: auth's `iss`, checked by every service.
    fn jwt_issuer(&self) -> String;
    /// `DATABASE_URL` of a database-owning service.
    fn database_url(&self, service: ServiceName) -> Value;
    /// `REDIS_URL`.
    fn redis_url(&self) -> Value;
    /// `JWT_SIGNING_KEYS_DIR` (auth).
    fn signing_keys_dir(&self) -> String;
    /// `JWT_PUBLIC_KEYS_DIR` (everyone else).
    fn public_keys_dir(&self) -> String;
    /// `SERVICE_CLIENTS_FILE` (auth).
    fn clients_file(&self) -> String;
    /// `ADMIN_EMAIL` (auth's idempotent admin seed).
    fn admin_email(&self) -> String;
    /// `ADMIN_PASSWORD`.
    fn admin_password(&self) -> Value;
    /// `SERVICE_CLIENT_SECRET` of a calling service (`None`: it gets no credentials).
    fn client_secret(&self, service: ServiceName) -> Option<Value>;
    /// `SHUTDOWN_DELAY_SECS`: how long `/ready` fails before the listeners stop (0 locally).
    fn shutdown_delay_secs(&self) -> u32;
    /// `TRUSTED_PROXY_HOPS` of the services that read the client address (auth, gateway):
    /// how many proxies in front of `service` append to `X-Forwarded-For`.
    fn trusted_proxy_hops(&self, service: ServiceName) -> u32;
    /// `CURRENCY` of the shop (order records it, the gateway renders it).
    fn currency(&self) -> String;
    /// The shop's origin as shoppers reach it (`http://localhost:8000`, `https://shop.local`):
    /// the gateway's `PUBLIC_URL`; the catalog's is this plus `/api/v1` (its demo images).
    fn public_url(&self) -> String;
    /// `COOKIE_SECURE`: whether session cookies carry `Secure` (off only for plain-http dev).
    fn secure_cookies(&self) -> bool;
    /// `SESSION_SECRET` of the gateway: signs CSRF tokens; every replica must share it.
    fn session_secret(&self) -> Value;
    /// `IMAGE_PROXY`: whether the gateway's `/img` proxy is on.
    fn image_proxy(&self) -> bool;
    /// `IMAGE_CACHE_DIR` of the gateway's image proxy.
    fn image_cache_dir(&self) -> String;
    /// `IMAGE_ALLOWED_HOSTS`: remote hosts the image proxy may fetch from (comma-separated).
    fn image_allowed_hosts(&self) -> String;
    /// Where spans go (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_TRACES_SAMPLER*`); `None`: nowhere,
    /// or, locally, wherever the developer's own `OTEL_*` variables say.
    fn traces(&self) -> Option<Traces> {
        None
    }
}

/// The trace exporter's settings (the Shop's `monitoring.traces`).
#[derive(Clone, Debug, PartialEq)]
pub struct Traces {
    /// The collector's OTLP/HTTP base URL.
    pub endpoint: String,
    /// The share of traces started here that are kept (`None`: all).
    pub sample_ratio: Option<f64>,
}

/// The environment of `service` at `placement`: exactly the variables it reads
/// (docs/configuration.md), in a stable order.
pub fn environment(service: ServiceName, placement: &impl Placement) -> Vec<Var> {
    let mut vars = Vec::new();
    let mut set = |name: &'static str, value: Value| vars.push(Var { name, value });
    set("LISTEN_ADDR", Value::Plain(placement.listen_addr(service)));
    set("ADMIN_ADDR", Value::Plain(placement.admin_addr(service)));
    set("LOG_FORMAT", Value::Plain(placement.log_format()));
    set("RUST_LOG", Value::Plain(placement.log_filter(service)));
    set(
        "SHUTDOWN_DELAY_SECS",
        Value::Plain(placement.shutdown_delay_secs().to_string()),
    );
    set("JWT_ISSUER", Value::Plain(placement.jwt_issuer()));
    set("JWT_AUDIENCE", Value::plain(JWT_AUDIENCE));
    for peer in service.calls() {
        set(peer_url_var(*peer), Value::Plain(placement.url(*peer)));
    }
    if service.owns_database() {
        set("DATABASE_URL", placement.database_url(service));
    }
    if service.uses_redis() {
        set("REDIS_URL", placement.redis_url());
    }
    if service == ServiceName::Catalog {
        set("PUBLIC_URL", Value::Plain(format!("{}/api/v1", placement.public_url())));
    }
    if service == ServiceName::Auth {
        set("JWT_SIGNING_KEYS_DIR", Value::Plain(placement.signing_keys_dir()));
        set("SERVICE_CLIENTS_FILE", Value::Plain(placement.clients_file()));
        set("ADMIN_EMAIL", Value::Plain(placement.admin_email()));
        set("ADMIN_PASSWORD", placement.admin_password());
        set("MALLOC_MMAP_THRESHOLD_", Value::plain(AUTH_MALLOC_MMAP_THRESHOLD));
    } else {
        set("JWT_PUBLIC_KEYS_DIR", Value::Plain(placement.public_keys_dir()));
    }
    if matches!(service, ServiceName::Auth | ServiceName::Gateway) {
        set(
            "TRUSTED_PROXY_HOPS",
            Value::Plain(placement.trusted_proxy_hops(service).to_string()),
        );
    }
    if service.is_service_client()
        && let Some(secret) = placement.client_secret(service)
    {
        set("SERVICE_CLIENT_ID", Value::plain(service.as_str()));
        set("SERVICE_CLIENT_SECRET", secret);
    }
    if matches!(service, ServiceName::Order | ServiceName::Gateway) {
        set("CURRENCY", Value::Plain(placement.currency()));
    }
    if service == ServiceName::Gateway {
        set("PUBLIC_URL", Value::Plain(placement.public_url()));
        set("COOKIE_SECURE", Value::Plain(placement.secure_cookies().to_string()));
        set("SESSION_SECRET", placement.session_secret());
        set("IMAGE_PROXY", Value::Plain(placement.image_proxy().to_string()));
        set("IMAGE_CACHE_DIR", Value::Plain(placement.image_cache_dir()));
        set("IMAGE_ALLOWED_HOSTS", Value::Plain(placement.image_allowed_hosts()));
    }
    if let Some(traces) = placement.traces() {
        set("OTEL_EXPORTER_OTLP_ENDPOINT", Value::Plain(traces.endpoint));
        if let Some(ratio) = traces.sample_ratio {
            set("OTEL_TRACES_SAMPLER", Value::plain("parentbased_traceidratio"));
            set("OTEL_TRACES_SAMPLER_ARG", Value::Plain(ratio.to_string()));
        }
    }
    vars
}

/// `AUTH_URL`, `CATALOG_URL`, …: the variable holding a peer's base URL.
pub fn peer_url_var(peer: ServiceName) -> &'static str {
    match peer {
        ServiceName::Auth => "AUTH_URL",
        ServiceName::Catalog => "CATALOG_URL",
        ServiceName::Cart => "CART_URL",
        ServiceName::Order => "ORDER_URL",
        ServiceName::Gateway => "GATEWAY_URL",
    }
}

/// Every variable some service reads from the contract: a runner removes these from an
/// inherited environment so a developer's shell never leaks, say, its `DATABASE_URL`.
pub const CONTRACT_VARS: &[&str] = &[
    "DATABASE_URL",
    "REDIS_URL",
    "JWT_SIGNING_KEYS_DIR",
    "JWT_PUBLIC_KEYS_DIR",
    "JWKS_URL",
    "ADMIN_EMAIL",
    "ADMIN_PASSWORD",
    "SERVICE_CLIENTS_FILE",
    "SERVICE_CLIENT_ID",
    "SERVICE_CLIENT_SECRET",
    "TRUSTED_PROXY_HOPS",
    "PUBLIC_URL",
    "COOKIE_SECURE",
    "SESSION_SECRET",
    "IMAGE_PROXY",
    "IMAGE_CACHE_DIR",
    "IMAGE_ALLOWED_HOSTS",
    "AUTH_URL",
    "CATALOG_URL",
    "CART_URL",
    "ORDER_URL",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// A placement whose every answer names what was asked, so a test sees who got what.
    struct Echo;

    impl Placement for Echo {
        fn listen_addr(&self, s: ServiceName) -> String {
            format!("listen-{s}")
        }
        fn admin_addr(&self, s: ServiceName) -> String {
            format!("admin-{s}")
        }
        fn log_format(&self) -> String {
            "json".into()
        }
        fn log_filter(&self, s: ServiceName) -> String {
            format!("info-{s}")
        }
        fn url(&self, s: ServiceName) -> String {
            format!("http://{s}")
        }
        fn jwt_issuer(&self) -> String {
            "http://auth".into()
        }
        fn database_url(&self, s: ServiceName) -> Value {
            Value::secret(format!("db-{s}"), "url")
        }
        fn redis_url(&self) -> Value {
            Value::secret("redis", "url")
        }
        fn signing_keys_dir(&self) -> String {
            "/signing".into()
        }
        fn public_keys_dir(&self) -> String {
            "/public".into()
        }
        fn clients_file(&self) -> String {
            "/clients".into()
        }
        fn admin_email(&self) -> String {
            "admin@shop.local".into()
        }
        fn admin_password(&self) -> Value {
            Value::secret("admin", "password")
        }
        fn client_secret(&self, s: ServiceName) -> Option<Value> {
            Some(Value::secret("clients", s.as_str()))
        }
        fn shutdown_delay_secs(&self) -> u32 {
            5
        }
        fn trusted_proxy_hops(&self, s: ServiceName) -> u32 {
            if s == ServiceName::Auth { 2 } else { 1 }
        }
        fn currency(&self) -> String {
            "KZT".into()
        }
        fn public_url(&self) -> String {
            "http://shop.local".into()
        }
        fn secure_cookies(&self) -> bool {
            true
        }
        fn session_secret(&self) -> Value {
            Value::secret("gateway", "session-secret")
        }
        fn image_proxy(&self) -> bool {
            true
        }
        fn image_cache_dir(&self) -> String {
            "/tmp/img".into()
        }
        fn image_allowed_hosts(&self) -> String {
            String::new()
        }
        fn traces(&self) -> Option<Traces> {
            Some(Traces {
                endpoint: "http://collector:4318".into(),
                sample_ratio: Some(0.25),
            })
        }
    }

    fn names(service: ServiceName) -> Vec<&'static str> {
        environment(service, &Echo).into_iter().map(|var| var.name).collect()
    }

    fn value(service: ServiceName, name: &str) -> Option<Value> {
        environment(service, &Echo)
            .into_iter()
            .find(|var| var.name == name)
            .map(|var| var.value)
    }

    #[test]
    fn every_service_sends_its_spans_to_the_placements_collector() {
        for service in SERVICES {
            assert_eq!(
                value(service, "OTEL_EXPORTER_OTLP_ENDPOINT"),
                Some(Value::plain("http://collector:4318")),
                "{service}"
            );
            assert_eq!(
                value(service, "OTEL_TRACES_SAMPLER"),
                Some(Value::plain("parentbased_traceidratio"))
            );
            assert_eq!(value(service, "OTEL_TRACES_SAMPLER_ARG"), Some(Value::plain("0.25")));
        }
    }

    #[test]
    fn each_service_gets_its_own_database_and_no_other() {
        for service in SERVICES {
            assert_eq!(
                value(service, "DATABASE_URL"),
                service
                    .owns_database()
                    .then(|| Value::secret(format!("db-{service}"), "url")),
                "{service}"
            );
        }
    }

    #[test]
    fn only_auth_holds_signing_keys_and_the_admin_password() {
        for service in SERVICES {
            let vars = names(service);
            let is_auth = service == ServiceName::Auth;
            assert_eq!(vars.contains(&"JWT_SIGNING_KEYS_DIR"), is_auth, "{service}");
            assert_eq!(vars.contains(&"ADMIN_PASSWORD"), is_auth, "{service}");
            assert_eq!(vars.contains(&"JWT_PUBLIC_KEYS_DIR"), !is_auth, "{service}");
        }
    }

    #[test]
    fn peers_are_exactly_the_services_called() {
        assert!(
            !names(ServiceName::Auth)
                .iter()
                .any(|v| v.ends_with("_URL") && *v != "DATABASE_URL")
        );
        let order = names(ServiceName::Order);
        for var in ["AUTH_URL", "CATALOG_URL", "CART_URL"] {
            assert!(order.contains(&var), "{var}");
        }
        assert!(!order.contains(&"ORDER_URL"));
        assert_eq!(
            value(ServiceName::Gateway, "ORDER_URL"),
            Some(Value::plain("http://order"))
        );
    }

    #[test]
    fn clients_get_their_own_id_and_secret() {
        for service in SERVICES {
            let id = value(service, "SERVICE_CLIENT_ID");
            if service.is_service_client() {
                assert_eq!(id, Some(Value::plain(service.as_str())));
                assert_eq!(
                    value(service, "SERVICE_CLIENT_SECRET"),
                    Some(Value::secret("clients", service.as_str()))
                );
            } else {
                assert_eq!(id, None, "{service}");
            }
        }
    }

    #[test]
    fn no_variable_is_set_twice_and_every_contract_var_is_listed() {
        for service in SERVICES {
            let mut vars = names(service);
            let count = vars.len();
            vars.sort_unstable();
            vars.dedup();
            assert_eq!(vars.len(), count, "{service} sets a variable twice");
            for var in vars {
                let generic = matches!(
                    var,
                    "LISTEN_ADDR"
                        | "ADMIN_ADDR"
                        | "LOG_FORMAT"
                        | "RUST_LOG"
                        | "SHUTDOWN_DELAY_SECS"
                        | "JWT_ISSUER"
                        | "JWT_AUDIENCE"
                        | "MALLOC_MMAP_THRESHOLD_"
                        | "CURRENCY"
                        | "OTEL_EXPORTER_OTLP_ENDPOINT"
                        | "OTEL_TRACES_SAMPLER"
                        | "OTEL_TRACES_SAMPLER_ARG"
                );
                assert!(
                    generic || CONTRACT_VARS.contains(&var),
                    "{var} missing from CONTRACT_VARS"
                );
            }
        }
    }

    #[test]
    fn names_parse_back_and_ports_are_unique() {
        let mut ports = Vec::new();
        for service in SERVICES {
            assert_eq!(ServiceName::parse(service.as_str()), Some(service));
            assert_eq!(service.binary(), format!("shop-{service}"));
            assert_eq!(service.env_name(), service.as_str().to_ascii_uppercase());
            let (api, admin) = service.local_ports();
            ports.extend([api, admin]);
        }
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 10);
        assert_eq!(ServiceName::parse("payments"), None);
    }
}
