//! The catalog client: one batch call prices a whole cart.

use shop_kit::client::SendTraced as _;
use std::time::Duration;

use shop_api::{BatchRequest, BatchResponse, Product};
use shop_kit::client::HttpClient;
use uuid::Uuid;

/// Calls the catalog's public batch lookup.
#[derive(Clone)]
pub struct CatalogClient {
    http: HttpClient,
    batch_url: String,
}

impl CatalogClient {
    /// A client for the catalog at `base` (2 s per call).
    pub fn new(base: &str) -> anyhow::Result<Self> {
        Ok(Self {
            http: HttpClient::new(Duration::from_secs(2))?,
            batch_url: format!("{}/products/batch", base.trim_end_matches('/')),
        })
    }

    /// The products among `ids` that exist (active or not).
    pub async fn products(&self, ids: &[Uuid]) -> anyhow::Result<Vec<Product>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let batch: BatchResponse = self
            .http
            .post(&self.batch_url)
            .json(&BatchRequest { ids: ids.to_vec() })
            .send_traced()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(batch.items)
    }
}
