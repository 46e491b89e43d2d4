//! The catalog client: one batch call prices a whole cart.

use std::time::Duration;

use rust_decimal::Decimal;
use serde::Deserialize;
use shop_kit::client::HttpClient;
use uuid::Uuid;

/// What the cart needs of a product.
#[derive(Debug, Clone, Deserialize)]
pub struct CatalogProduct {
    pub id: Uuid,
    pub sku: String,
    pub name: String,
    pub price: Decimal,
    pub stock: i64,
    pub is_active: bool,
    #[serde(default)]
    pub images: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Batch {
    items: Vec<CatalogProduct>,
}

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
    pub async fn products(&self, ids: &[Uuid]) -> anyhow::Result<Vec<CatalogProduct>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let batch: Batch = self
            .http
            .post(&self.batch_url)
            .json(&serde_json::json!({ "ids": ids }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(batch.items)
    }
}
