//! Operator metrics (`/metrics` on the operator's admin port): reconciles, failures by reason,
//! reconcile duration, and per Shop its phase and its failed reconciles in a row (what the
//! Shop's PrometheusRule alerts on).

use std::sync::Mutex;
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::crd::Phase;

/// The `reason` label of a failure.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    pub reason: String,
}

/// Which Shop a per-Shop series is about. `shop_namespace`, not `namespace`: Prometheus gives
/// every scraped series the operator pod's own `namespace`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ShopLabels {
    pub shop_namespace: String,
    pub shop: String,
}

/// A Shop and one of its phases.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabels {
    pub shop_namespace: String,
    pub shop: String,
    pub phase: &'static str,
}

/// Every phase, in the order of `crate::crd::Phase`.
const PHASES: [(Phase, &str); 6] = [
    (Phase::Pending, "Pending"),
    (Phase::Provisioning, "Provisioning"),
    (Phase::Migrating, "Migrating"),
    (Phase::Ready, "Ready"),
    (Phase::Degraded, "Degraded"),
    (Phase::Failed, "Failed"),
];

/// Everything the operator counts.
pub struct Metrics {
    pub reconciles: Counter,
    pub failures: Family<FailureLabels, Counter>,
    pub duration: Histogram,
    pub leader: Gauge,
    /// `shop_operator_shop_phase{shop_namespace,shop,phase}`: 1 for the phase the Shop's status
    /// was last given, 0 for the others.
    pub shop_phase: Family<PhaseLabels, Gauge>,
    /// `shop_operator_shop_consecutive_failures{shop_namespace,shop}`: failed reconciles of the
    /// Shop in a row (0 after a good pass).
    pub shop_failures: Family<ShopLabels, Gauge>,
    /// `shop_operator_shop_last_success_timestamp_seconds{shop_namespace,shop}`: when the
    /// Shop was last reconciled without error (Unix seconds).
    pub shop_last_success: Family<ShopLabels, Gauge>,
    registry: Mutex<Registry>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("shop_operator");
        let reconciles = Counter::default();
        let failures = Family::<FailureLabels, Counter>::default();
        let duration = Histogram::new([0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]);
        let leader = Gauge::default();
        let shop_phase = Family::<PhaseLabels, Gauge>::default();
        let shop_failures = Family::<ShopLabels, Gauge>::default();
        let shop_last_success = Family::<ShopLabels, Gauge>::default();
        registry.register("reconciles", "Reconciles started", reconciles.clone());
        registry.register(
            "reconcile_failures",
            "Reconciles that failed, by reason",
            failures.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "How long a reconcile took",
            duration.clone(),
        );
        registry.register("leader", "1 while this replica holds the leader Lease", leader.clone());
        registry.register(
            "shop_phase",
            "1 for the phase each Shop's status shows, 0 for the other phases",
            shop_phase.clone(),
        );
        registry.register(
            "shop_consecutive_failures",
            "Failed reconciles of each Shop in a row",
            shop_failures.clone(),
        );
        registry.register(
            "shop_last_success_timestamp_seconds",
            "When each Shop was last reconciled without error (Unix seconds)",
            shop_last_success.clone(),
        );
        Self {
            reconciles,
            failures,
            duration,
            leader,
            shop_phase,
            shop_failures,
            shop_last_success,
            registry: Mutex::new(registry),
        }
    }
}

impl Metrics {
    /// Counts a reconcile and returns a guard that records its duration when dropped.
    pub fn reconcile(&self) -> ReconcileTimer<'_> {
        self.reconciles.inc();
        ReconcileTimer {
            metrics: self,
            start: Instant::now(),
        }
    }

    /// Counts a failed reconcile.
    pub fn failure(&self, error: &crate::Error) {
        self.failures
            .get_or_create(&FailureLabels {
                reason: error.metric_label(),
            })
            .inc();
    }

    /// Records the phase a Shop's status was given (one series per phase, one of them 1).
    pub fn shop_phase(&self, namespace: &str, shop: &str, phase: Phase) {
        for (candidate, name) in PHASES {
            self.shop_phase
                .get_or_create(&PhaseLabels {
                    shop_namespace: namespace.to_owned(),
                    shop: shop.to_owned(),
                    phase: name,
                })
                .set(i64::from(candidate == phase));
        }
    }

    /// Records how many reconciles of a Shop failed in a row.
    pub fn shop_failures(&self, namespace: &str, shop: &str, in_a_row: u32) {
        self.shop_failures
            .get_or_create(&ShopLabels {
                shop_namespace: namespace.to_owned(),
                shop: shop.to_owned(),
            })
            .set(i64::from(in_a_row));
    }

    /// Records that a Shop was just reconciled without error.
    pub fn shop_succeeded(&self, namespace: &str, shop: &str) {
        self.shop_last_success
            .get_or_create(&ShopLabels {
                shop_namespace: namespace.to_owned(),
                shop: shop.to_owned(),
            })
            .set(chrono::Utc::now().timestamp());
    }

    /// The Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Ok(registry) = self.registry.lock() {
            let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        }
        out
    }
}

/// Records a reconcile's duration when dropped.
pub struct ReconcileTimer<'a> {
    metrics: &'a Metrics,
    start: Instant,
}

impl Drop for ReconcileTimer<'_> {
    fn drop(&mut self) {
        self.metrics.duration.observe(self.start.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `shop_operator_*` name the operator dashboard reads is one the operator exports.
    #[test]
    fn the_operator_dashboard_reads_only_exported_names() {
        let metrics = Metrics::default();
        drop(metrics.reconcile());
        metrics.failure(&crate::Error::InvalidSpec("x".into()));
        metrics.leader.set(1);
        metrics.shop_phase("shop", "demo", Phase::Ready);
        metrics.shop_failures("shop", "demo", 0);
        metrics.shop_succeeded("shop", "demo");
        let text = metrics.encode();
        let exported: std::collections::BTreeSet<&str> = text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.split(['{', ' ']).next())
            .collect();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../monitoring/dashboards/operator.json");
        let dashboard = std::fs::read_to_string(path).expect("monitoring/dashboards/operator.json");
        let mut read = 0;
        for (at, _) in dashboard.match_indices("shop_operator_") {
            let name: String = dashboard[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            read += 1;
            assert!(exported.contains(name.as_str()), "{name} is not exported: {exported:?}");
        }
        assert!(read >= 10, "the dashboard reads the operator's metrics ({read})");
    }

    #[test]
    fn a_shop_has_one_phase_and_its_failures_in_a_row() {
        let metrics = Metrics::default();
        metrics.shop_phase("shop", "demo", Phase::Migrating);
        metrics.shop_phase("shop", "demo", Phase::Ready);
        metrics.shop_failures("shop", "demo", 3);
        let text = metrics.encode();
        assert!(
            text.contains(r#"shop_operator_shop_phase{shop_namespace="shop",shop="demo",phase="Ready"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"shop_operator_shop_phase{shop_namespace="shop",shop="demo",phase="Migrating"} 0"#),
            "{text}"
        );
        assert_eq!(text.matches("shop_operator_shop_phase{").count(), 6, "{text}");
        assert!(
            text.contains(r#"shop_operator_shop_consecutive_failures{shop_namespace="shop",shop="demo"} 3"#),
            "{text}"
        );
    }
}
