//! The listing cache: each catalog process keeps the pages of `GET /products` and `GET /search`
//! it served (the products and the total), keyed by their parsed parameters, so the home
//! page's listing costs a lookup instead of three queries.
//!
//! A write anywhere empties it, on every replica:
//! - the tables a listing reads (`products`, `product_categories`, `categories`) carry
//!   statement triggers that `NOTIFY catalog_changed` (migration `0002`), delivered when the
//!   writing transaction commits. Every process `LISTEN`s on a connection of its own and empties
//!   its cache on each notification: well within a second of the commit;
//! - the process that served a write empties its own cache before answering it, so its next
//!   read never sees the page from before;
//! - a page read while a notification arrived is not kept: entries carry the generation they
//!   were read at, and only the current generation is served;
//! - while the listening connection is down (and until it is up at start-up) nothing is cached
//!   or served from the cache: notifications could be missed. After it reconnects the cache is
//!   emptied.
//!
//! `catalog_list_cache_requests_total{result=hit|miss|bypass}` counts what it did.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use quick_cache::sync::Cache;
use sqlx::PgPool;
use sqlx::postgres::PgListener;

use crate::metrics::CatalogMetrics;
use crate::routes::params::ListParams;
use crate::store::products::Product;

/// The channel the triggers notify.
pub const CHANNEL: &str = "catalog_changed";

/// Pages kept per process.
pub const CAPACITY: usize = 512;

/// A page: its products and the total that match.
pub type Page = Arc<(Vec<Product>, i64)>;

/// The cache shared by a process's handlers.
pub struct ListCache {
    pages: Cache<ListParams, (u64, Page)>,
    generation: AtomicU64,
    listening: AtomicBool,
    metrics: CatalogMetrics,
}

impl std::fmt::Debug for ListCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListCache")
            .field("pages", &self.pages.len())
            .field("generation", &self.generation.load(Ordering::Relaxed))
            .field("listening", &self.listening.load(Ordering::Relaxed))
            .finish()
    }
}

/// What a lookup found.
#[derive(Debug)]
pub enum Lookup {
    /// A current page.
    Hit(Page),
    /// Not cached: read it, then [`ListCache::keep`] it with this generation.
    Miss(u64),
    /// The cache is off (not listening): read it and do not keep it.
    Bypass,
}

impl ListCache {
    /// An empty cache, off until [`listen`] is listening.
    pub fn new(metrics: CatalogMetrics) -> Self {
        Self {
            pages: Cache::new(CAPACITY),
            generation: AtomicU64::new(0),
            listening: AtomicBool::new(false),
            metrics,
        }
    }

    /// The page for `key` (parameters as the query will run them), if current.
    pub fn lookup(&self, key: &ListParams) -> Lookup {
        if !self.listening.load(Ordering::Acquire) {
            self.metrics.list_cache("bypass");
            return Lookup::Bypass;
        }
        let generation = self.generation.load(Ordering::Acquire);
        match self.pages.get(key) {
            Some((at, page)) if at == generation => {
                self.metrics.list_cache("hit");
                Lookup::Hit(page)
            }
            _ => {
                self.metrics.list_cache("miss");
                Lookup::Miss(generation)
            }
        }
    }

    /// Keeps a page read at `generation` (a page read across a change is never served: its
    /// generation is no longer current).
    pub fn keep(&self, key: ListParams, generation: u64, page: Page) {
        if self.generation.load(Ordering::Acquire) == generation {
            self.pages.insert(key, (generation, page));
        }
    }

    /// Forgets every page: something a listing reads has changed.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.pages.clear();
    }

    fn set_listening(&self, on: bool) {
        if on {
            // Whatever was missed while off is forgotten before pages are served again.
            self.invalidate();
        }
        self.listening.store(on, Ordering::Release);
    }
}

/// Listens for changes for as long as the process lives, reconnecting after a failure.
pub async fn listen(db: PgPool, cache: Arc<ListCache>) {
    let mut failures = 0u32;
    loop {
        match PgListener::connect_with(&db).await {
            Ok(mut listener) => match listener.listen(CHANNEL).await {
                Ok(()) => {
                    cache.set_listening(true);
                    if failures > 0 {
                        tracing::info!("listening for catalog changes again; the listing cache is on");
                    }
                    failures = 0;
                    loop {
                        match listener.try_recv().await {
                            Ok(Some(_)) => cache.invalidate(),
                            // The connection was lost and re-established: changes may have
                            // been missed in between.
                            Ok(None) => cache.invalidate(),
                            Err(err) => {
                                tracing::warn!(error = %err, "lost the catalog-change listener; the listing cache is off");
                                break;
                            }
                        }
                    }
                }
                Err(err) => tracing::debug!(error = %err, "cannot LISTEN for catalog changes yet"),
            },
            Err(err) => tracing::debug!(error = %err, "cannot connect the catalog-change listener yet"),
        }
        cache.set_listening(false);
        failures = failures.saturating_add(1);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
