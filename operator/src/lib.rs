//! The Shopkeeper operator: turns one `Shop` custom resource into a running shop.
//!
//! Layout, following kube-rs `controller-rs` and the Stackable operators:
//! - [`crd`]: the `Shop` types (`shopkeeper.dev/v1alpha1`) and their CEL rules.
//! - [`build`]: `validate` (a `Shop` checked, its defaults resolved) and `build`, pure functions
//!   from that and what was observed to the desired objects, typed `k8s-openapi` structs
//!   serialized at the edge (the CRDs of CloudNativePG and the Prometheus Operator stay JSON).
//! - [`secrets`]: the generated Secrets (database roles, JWT keys, admin, service clients).
//! - [`reconcile`]: `reconcile`/`error_policy`, the pipeline validate → observe → assess → build →
//!   apply → status; only I/O and orchestration.
//! - [`assess`]: pure decisions from the live objects: stage reached, rollouts, the status, backoff.
//! - [`status`]: conditions with stable `lastTransitionTime`, the phase.
//! - [`quantity`]: quantities in bytes and in the API server's canonical form.
//! - [`metrics`], [`leader`]: operator metrics and the Lease-based leader election.
//! - [`run`]: the controller process (admin port, leader election, watches, shutdown).
//! - `mock`, `bench` (feature `mock`, off in the image): an in-memory API server for tests, and
//!   the benchmark that uses it.
//! - [`cli`]: the `crd`, `render`, `run` and `bench` subcommands.

pub mod assess;
#[cfg(feature = "mock")]
pub mod bench;
pub mod build;
pub mod cli;
pub mod crd;
pub mod leader;
pub mod metrics;
#[cfg(feature = "mock")]
pub mod mock;
pub mod quantity;
pub mod reconcile;
pub mod run;
pub mod secrets;
pub mod status;

pub use crd::{Shop, ShopSpec, ShopStatus};

/// The field manager of every server-side apply.
pub const MANAGER: &str = "shop-operator";

/// Everything that can fail in a reconcile.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Kubernetes API call failed.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The spec cannot be turned into objects.
    #[error("invalid spec: {0}")]
    InvalidSpec(String),
    /// An object could not be (de)serialized.
    #[error("serialization: {0}")]
    Serialization(#[from] serde_json::Error),
    /// A Secret could not be generated.
    #[error("secret generation: {0}")]
    SecretGeneration(String),
}

impl Error {
    /// A short, fixed label for the failures metric.
    pub fn metric_label(&self) -> String {
        match self {
            Self::Kube(kube::Error::Api(status)) => format!("api_{}", status.code),
            Self::Kube(_) => "kube".to_owned(),
            Self::InvalidSpec(_) => "invalid_spec".to_owned(),
            Self::Serialization(_) => "serialization".to_owned(),
            Self::SecretGeneration(_) => "secret_generation".to_owned(),
        }
    }
}

/// The operator's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
