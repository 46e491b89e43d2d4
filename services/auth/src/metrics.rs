//! Auth's business metrics (besides the RED ones every service has).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// A `result` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    /// What happened.
    pub result: &'static str,
}

/// Counters of logins, registrations, refreshes and service tokens.
#[derive(Clone, Default)]
pub struct AuthMetrics {
    /// `auth_logins_total{result=success|bad_credentials|inactive|throttled}`.
    pub logins: Family<Outcome, Counter>,
    /// `auth_registrations_total`.
    pub registrations: Counter,
    /// `auth_refreshes_total{result=rotated|reuse_detected|invalid|inactive}`.
    pub refreshes: Family<Outcome, Counter>,
    /// `auth_service_tokens_total{result=issued|invalid_client|invalid_scope}`.
    pub service_tokens: Family<Outcome, Counter>,
}

impl AuthMetrics {
    /// Creates and registers the counters.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register("auth_logins", "Login attempts by result", m.logins.clone());
        registry.register("auth_registrations", "Accounts registered", m.registrations.clone());
        registry.register(
            "auth_refreshes",
            "Refresh-token presentations by result",
            m.refreshes.clone(),
        );
        registry.register(
            "auth_service_tokens",
            "Client-credentials requests by result",
            m.service_tokens.clone(),
        );
        m
    }

    /// Counts one outcome.
    pub fn count(family: &Family<Outcome, Counter>, result: &'static str) {
        family.get_or_create(&Outcome { result }).inc();
    }
}
