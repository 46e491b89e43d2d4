//! The order service's business metrics (besides the RED ones every service has).

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive as _;

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

/// A `currency` label: the shop's `CURRENCY` (one, or a few after a change; never free text).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CurrencyLabel {
    pub currency: String,
}

/// An `action` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabel {
    pub action: &'static str,
}

/// The `reason`s of `order_checkout_failures_total`.
pub const FAILURE_REASONS: [&str; 9] = [
    "empty_cart",
    "unsellable",
    "insufficient_stock",
    "reservation_refused",
    "released",
    "catalog_unavailable",
    "cart_unavailable",
    "idempotency_key_reused",
    "fault_injected",
];

/// The `action`s of `order_sweeper_actions_total`.
pub const SWEEPER_ACTIONS: [&str; 6] = ["placed", "rejected", "released", "unreachable", "confirmed", "lapsed"];

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
    /// `order_revenue_total{currency}`: the totals of placed orders, in major units.
    pub revenue: Family<CurrencyLabel, Counter<f64, AtomicU64>>,
}

impl OrderMetrics {
    /// Creates and registers the metrics.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self {
            orders: Family::default(),
            checkout_duration: Histogram::new(exponential_buckets(0.005, 2.0, 12)),
            checkout_failures: Family::default(),
            sweeper_actions: Family::default(),
            revenue: Family::default(),
        };
        // Every known label value starts at 0, so a rate or a ratio over them is 0, not absent,
        // before the first failure (and the dashboards' names are exported from the start).
        for status in [
            shop_api::OrderStatus::Pending,
            shop_api::OrderStatus::Placed,
            shop_api::OrderStatus::Rejected,
            shop_api::OrderStatus::Canceled,
        ] {
            let _ = m.orders.get_or_create(&StatusLabel {
                status: status.as_str(),
            });
        }
        for reason in FAILURE_REASONS {
            let _ = m.checkout_failures.get_or_create(&ReasonLabel { reason });
        }
        for action in SWEEPER_ACTIONS {
            let _ = m.sweeper_actions.get_or_create(&ActionLabel { action });
        }
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
            "order_revenue",
            "Totals of placed orders, in the shop's currency (major units); cancellations are not subtracted",
            m.revenue.clone(),
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

    /// Counts an order placed for `total` (`orders_total{status="placed"}` and the revenue).
    pub fn placed(&self, total: Decimal, currency: &str) {
        self.order(shop_api::OrderStatus::Placed);
        self.revenue
            .get_or_create(&CurrencyLabel {
                currency: currency.to_owned(),
            })
            .inc_by(total.to_f64().unwrap_or(0.0));
    }

    /// Counts a checkout that did not place an order.
    pub fn failure(&self, reason: &'static str) {
        self.checkout_failures.get_or_create(&ReasonLabel { reason }).inc();
    }

    /// Counts a sweeper action.
    pub fn swept(&self, action: &'static str) {
        self.swept_n(action, 1);
    }

    /// Counts `n` sweeper actions at once (a batch of confirmations).
    pub fn swept_n(&self, action: &'static str, n: usize) {
        self.sweeper_actions
            .get_or_create(&ActionLabel { action })
            .inc_by(u64::try_from(n).unwrap_or(u64::MAX));
    }
}
