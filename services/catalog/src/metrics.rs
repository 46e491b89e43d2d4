//! Catalog's business metrics (besides the RED ones every service has).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// A `result` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    /// What happened.
    pub result: &'static str,
}

/// Reservations and low stock.
#[derive(Clone, Default)]
pub struct CatalogMetrics {
    /// `catalog_reservations_total{result=reserved|rejected|released|replayed|confirmed|expired}`.
    pub reservations: Family<Outcome, Counter>,
    /// `catalog_products_low_stock`: active products below `LOW_STOCK_THRESHOLD`.
    pub low_stock: Gauge,
    /// `catalog_list_cache_requests_total{result=hit|miss|bypass}`: listing-cache lookups.
    pub list_cache: Family<Outcome, Counter>,
}

/// The `result`s of `catalog_list_cache_requests_total`.
pub const LIST_CACHE_RESULTS: [&str; 3] = ["hit", "miss", "bypass"];

/// The `result`s of `catalog_reservations_total`.
pub const RESERVATION_RESULTS: [&str; 6] = ["reserved", "rejected", "replayed", "released", "confirmed", "expired"];

impl CatalogMetrics {
    /// Creates and registers the metrics.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        // Every result starts at 0, so a rate over one is 0, not absent, before it first happens.
        for result in RESERVATION_RESULTS {
            let _ = m.reservations.get_or_create(&Outcome { result });
        }
        registry.register(
            "catalog_reservations",
            "Stock reservation requests by result",
            m.reservations.clone(),
        );
        for result in LIST_CACHE_RESULTS {
            let _ = m.list_cache.get_or_create(&Outcome { result });
        }
        registry.register(
            "catalog_list_cache_requests",
            "Listing-cache lookups: hit, miss (read from Postgres) or bypass (cache off)",
            m.list_cache.clone(),
        );
        registry.register(
            "catalog_products_low_stock",
            "Active products below the low-stock threshold",
            m.low_stock.clone(),
        );
        m
    }

    /// Counts one listing-cache lookup.
    pub fn list_cache(&self, result: &'static str) {
        self.list_cache.get_or_create(&Outcome { result }).inc();
    }

    /// Counts one reservation outcome.
    pub fn reservation(&self, result: &'static str) {
        self.reservations_n(result, 1);
    }

    /// Counts `n` reservation outcomes at once (a batch of confirmations).
    pub fn reservations_n(&self, result: &'static str, n: usize) {
        self.reservations
            .get_or_create(&Outcome { result })
            .inc_by(u64::try_from(n).unwrap_or(u64::MAX));
    }
}
