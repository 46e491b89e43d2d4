//! The order service's business metrics (besides the RED ones every service has).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// A `status` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    pub status: &'static str,
}

/// A `reason` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: &'static str,
}

/// An `action` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabel {
    pub action: &'static str,
}

/// Orders, checkouts and the sweeper.
#[derive(Clone)]
pub struct OrderMetrics {
    /// `orders_total{status}`: orders entering each status.
    pub orders: Family<StatusLabel, Counter>,
    /// `order_checkout_duration_seconds`.
    pub checkout_duration: Histogram,
    /// `order_checkout_failures_total{reason}`.
    pub checkout_failures: Family<ReasonLabel, Counter>,
    /// `order_sweeper_actions_total{action}`.
    pub sweeper_actions: Family<ActionLabel, Counter>,
}

impl OrderMetrics {
    /// Creates and registers the metrics.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self {
            orders: Family::default(),
            checkout_duration: Histogram::new(exponential_buckets(0.005, 2.0, 12)),
            checkout_failures: Family::default(),
            sweeper_actions: Family::default(),
        };
        registry.register("orders", "Orders entering each status", m.orders.clone());
        registry.register(
            "order_checkout_duration_seconds",
            "Time to answer a checkout",
            m.checkout_duration.clone(),
        );
        registry.register(
            "order_checkout_failures",
            "Checkouts that did not place an order, by reason",
            m.checkout_failures.clone(),
        );
        registry.register(
            "order_sweeper_actions",
            "What the sweeper did",
            m.sweeper_actions.clone(),
        );
        m
    }

    /// Counts an order entering `status`.
    pub fn order(&self, status: shop_api::OrderStatus) {
        self.orders
            .get_or_create(&StatusLabel {
                status: status.as_str(),
            })
            .inc();
    }

    /// Counts a checkout that did not place an order.
    pub fn failure(&self, reason: &'static str) {
        self.checkout_failures.get_or_create(&ReasonLabel { reason }).inc();
    }

    /// Counts a sweeper action.
    pub fn swept(&self, action: &'static str) {
        self.sweeper_actions.get_or_create(&ActionLabel { action }).inc();
    }
}
