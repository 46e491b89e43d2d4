//! The image proxy behind `/img?url=…&w=…&h=…&fit=contain|cover`: the shop's own images
//! (fetched from the catalog directly) and allow-listed remote ones, resized, re-encoded as
//! WebP or JPEG, cached on disk under a hash of the normalized request. Concurrent requests for
//! the same uncached image share one download.
//!
//! [`fetch`] downloads safely, [`transform`] decodes and resizes, [`cache`] keeps the results.

pub mod cache;
pub mod fetch;
pub mod transform;

use shop_kit::client::SendTraced as _;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use bytes::Bytes;
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use sha2::{Digest, Sha256};
use shop_kit::Problem;
use url::Url;

use crate::config::{Config, Upstream};
use crate::metrics::GatewayMetrics;
use crate::routes::proxy::{PREFIX, owner};
use crate::upstream::Upstreams;
use cache::{DiskCache, Entry};
use fetch::Fetcher;
use transform::{Fit, Format, Transform};

/// Why an image could not be served. Cloned to every request sharing a download.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ImgError {
    /// Malformed parameters: 400.
    #[error("{0}")]
    BadRequest(String),
    /// A host, scheme or address we do not fetch from: 403.
    #[error("{0}")]
    Forbidden(String),
    /// The source is not an image we read: 422.
    #[error("{0}")]
    NotAnImage(String),
    /// The source is too large to download or decode: 422.
    #[error("{0}")]
    TooLarge(String),
    /// The shop has no such image: 404.
    #[error("{0}")]
    NotFound(String),
    /// The source failed or answered an error: 502.
    #[error("{0}")]
    Upstream(String),
    /// The download did not finish in time: 504.
    #[error("the image did not download in time")]
    Timeout,
    /// Our own failure: 500.
    #[error("{0}")]
    Internal(String),
}

impl ImgError {
    /// Its metrics outcome.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::BadRequest(_) | Self::NotFound(_) | Self::Forbidden(_) | Self::NotAnImage(_) | Self::TooLarge(_) => {
                "refused"
            }
            Self::Upstream(_) | Self::Timeout | Self::Internal(_) => "failed",
        }
    }
}

impl From<ImgError> for Problem {
    fn from(err: ImgError) -> Self {
        let detail = err.to_string();
        match err {
            ImgError::BadRequest(_) => Problem::bad_request(detail),
            ImgError::NotFound(_) => Problem::not_found(detail),
            ImgError::Forbidden(_) => Problem::new(
                StatusCode::FORBIDDEN,
                "image-source-forbidden",
                "Image source not allowed",
            )
            .detail(detail),
            ImgError::NotAnImage(_) => {
                Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "not-an-image", "Not an image").detail(detail)
            }
            ImgError::TooLarge(_) => {
                Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "image-too-large", "Image too large").detail(detail)
            }
            ImgError::Upstream(_) => {
                Problem::new(StatusCode::BAD_GATEWAY, "image-source-failed", "Image source failed").detail(detail)
            }
            ImgError::Timeout => Problem::new(
                StatusCode::GATEWAY_TIMEOUT,
                "image-source-timeout",
                "Image source timed out",
            )
            .detail(detail),
            ImgError::Internal(_) => Problem::internal(anyhow::anyhow!(detail)),
        }
    }
}

/// Where an image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// One of the shop's own (`/api/v1/images/…`, relative or on `PUBLIC_URL`): the path on the
    /// catalog.
    Own(String),
    /// An allow-listed remote URL.
    Remote(Url),
}

impl Source {
    /// The normalized form hashed into the cache key.
    pub fn normalized(&self) -> String {
        match self {
            Self::Own(path) => format!("own:{path}"),
            Self::Remote(url) => url.as_str().to_owned(),
        }
    }
}

/// A parsed `/img` request.
#[derive(Debug, Clone)]
pub struct Request {
    pub source: Source,
    pub transform: Transform,
}

impl Request {
    /// The cache key: a hash of the normalized parameters.
    pub fn key(&self) -> String {
        let t = &self.transform;
        let text = format!(
            "v1|{}|{:?}|{:?}|{:?}|{:?}",
            self.source.normalized(),
            t.width,
            t.height,
            t.fit,
            t.format
        );
        Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

type Pending = Shared<BoxFuture<'static, Result<Entry, ImgError>>>;

/// The proxy.
pub struct ImageProxy {
    public_url: Url,
    max_dimension: u32,
    max_pixels: u64,
    max_source_bytes: u64,
    fetcher: Fetcher,
    upstreams: Arc<Upstreams>,
    cache: DiskCache,
    pending: Mutex<HashMap<String, Pending>>,
    metrics: Arc<GatewayMetrics>,
}

impl ImageProxy {
    /// The proxy of `config`; opens the cache directory.
    pub async fn new(config: &Config, upstreams: Arc<Upstreams>, metrics: Arc<GatewayMetrics>) -> anyhow::Result<Self> {
        let images = &config.images;
        let dir = images.cache_dir.clone();
        let max = images.cache_max_bytes;
        let cache = tokio::task::spawn_blocking(move || DiskCache::open(&dir, max))
            .await?
            .map_err(|e| anyhow::anyhow!("IMAGE_CACHE_DIR={}: {e}", images.cache_dir.display()))?;
        metrics
            .image_cache_bytes
            .set(i64::try_from(cache.total_bytes()).unwrap_or(i64::MAX));
        Ok(Self {
            public_url: Url::parse(&config.public_url)?,
            max_dimension: images.max_dimension,
            max_pixels: images.max_source_pixels,
            max_source_bytes: images.max_source_bytes,
            fetcher: Fetcher::new(images)?,
            upstreams,
            cache,
            pending: Mutex::new(HashMap::new()),
            metrics,
        })
    }

    /// Parses the query parameters; `accept` picks WebP or JPEG.
    pub fn parse(&self, params: &HashMap<String, String>, accept: &str) -> Result<Request, ImgError> {
        for key in params.keys() {
            if !matches!(key.as_str(), "url" | "w" | "h" | "fit") {
                return Err(ImgError::BadRequest(format!("unknown parameter `{key}`")));
            }
        }
        let raw = params
            .get("url")
            .filter(|u| !u.is_empty())
            .ok_or_else(|| ImgError::BadRequest("`url` is required".into()))?;
        if raw.len() > 2048 {
            return Err(ImgError::BadRequest("`url` is longer than 2048 characters".into()));
        }
        let dimension = |name: &str| -> Result<Option<u32>, ImgError> {
            params
                .get(name)
                .map(|v| {
                    v.parse::<u32>()
                        .ok()
                        .filter(|n| (1..=self.max_dimension).contains(n))
                        .ok_or_else(|| {
                            ImgError::BadRequest(format!(
                                "`{name}` must be a whole number from 1 to {}",
                                self.max_dimension
                            ))
                        })
                })
                .transpose()
        };
        let width = dimension("w")?;
        let height = dimension("h")?;
        let fit = match params.get("fit").map(String::as_str) {
            None | Some("contain") => Fit::Contain,
            Some("cover") => Fit::Cover,
            Some(other) => {
                return Err(ImgError::BadRequest(format!(
                    "`fit` must be contain or cover, not `{other}`"
                )));
            }
        };
        if fit == Fit::Cover && (width.is_none() || height.is_none()) {
            return Err(ImgError::BadRequest("`fit=cover` needs both `w` and `h`".into()));
        }
        let format = if accept.contains("image/webp") {
            Format::Webp
        } else {
            Format::Jpeg
        };
        Ok(Request {
            source: self.source(raw)?,
            transform: Transform {
                width,
                height,
                fit,
                format,
                max_dimension: self.max_dimension,
                max_pixels: self.max_pixels,
            },
        })
    }

    /// Own image (a catalog path under `/api/v1`, relative or on our origin) or remote URL.
    fn source(&self, raw: &str) -> Result<Source, ImgError> {
        let url = self
            .public_url
            .join(raw)
            .map_err(|_| ImgError::BadRequest("`url` is not a URL".into()))?;
        if url.origin() == self.public_url.origin() {
            let path = url.path().strip_prefix(PREFIX).unwrap_or_default();
            return match owner(path) {
                Some(Upstream::Catalog) if path.starts_with("/images/") && url.query().is_none() => {
                    Ok(Source::Own(path.to_owned()))
                }
                _ => Err(ImgError::Forbidden(
                    "only the shop's own /api/v1/images are served from this origin".into(),
                )),
            };
        }
        if raw.starts_with('/') && !raw.starts_with("//") {
            return Err(ImgError::Forbidden("not one of the shop's images".into()));
        }
        let mut url = url;
        url.set_fragment(None);
        Ok(Source::Remote(url))
    }

    /// The image for `request`: from the cache, or made once however many ask at once.
    /// Returns the entry and whether it came from the cache.
    pub async fn serve(self: &Arc<Self>, request: Request) -> Result<(Entry, bool), ImgError> {
        if let Source::Remote(url) = &request.source {
            // Refuse before touching the cache, so a host taken off the list stops at once.
            self.fetcher.check(url)?;
        }
        let key = request.key();
        if let Some(entry) = self.cache.get(&key).await {
            return Ok((entry, true));
        }
        let pending = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending
                .entry(key.clone())
                .or_insert_with(|| {
                    let this = self.clone();
                    let key = key.clone();
                    async move {
                        let outcome = this.make(&request).await;
                        if let Ok(entry) = &outcome
                            && let Err(err) = this.cache.put(&key, entry).await
                        {
                            tracing::warn!(error = %err, "image cache write failed");
                        }
                        this.metrics
                            .image_cache_bytes
                            .set(i64::try_from(this.cache.total_bytes()).unwrap_or(i64::MAX));
                        this.pending.lock().unwrap_or_else(|e| e.into_inner()).remove(&key);
                        outcome
                    }
                    .boxed()
                    .shared()
                })
                .clone()
        };
        pending.await.map(|entry| (entry, false))
    }

    async fn make(&self, request: &Request) -> Result<Entry, ImgError> {
        let (bytes, content_type) = match &request.source {
            Source::Own(path) => self.own(path).await?,
            Source::Remote(url) => {
                let downloaded = self.fetcher.fetch(url.clone()).await?;
                (downloaded.bytes, downloaded.content_type)
            }
        };
        if content_type.starts_with("image/svg+xml") {
            // Only our own SVGs get here (remote ones fail to decode below); they are vector
            // images already and are served as they are, under a sandboxing CSP.
            if matches!(request.source, Source::Own(_)) {
                return Ok(Entry {
                    bytes,
                    content_type: "image/svg+xml",
                });
            }
        }
        let transform = request.transform;
        let encoded = tokio::task::spawn_blocking(move || transform::apply(&bytes, &transform))
            .await
            .map_err(|e| ImgError::Internal(format!("resize task: {e}")))??;
        Ok(Entry {
            bytes: Bytes::from(encoded),
            content_type: request.transform.format.content_type(),
        })
    }

    async fn own(&self, path: &str) -> Result<(Bytes, String), ImgError> {
        let answer = self
            .upstreams
            .call(Upstream::Catalog, reqwest::Method::GET, path)
            .send_traced()
            .await
            .map_err(|_| ImgError::Upstream("the catalog is unreachable".into()))?;
        match answer.status().as_u16() {
            200 => {}
            404 => return Err(ImgError::NotFound("no such image".into())),
            code => return Err(ImgError::Upstream(format!("the catalog answered {code}"))),
        }
        let content_type = fetch::content_type(&answer);
        let bytes = fetch::read_limited(answer, self.max_source_bytes).await?;
        Ok((bytes, content_type))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_requests_share_a_key_and_different_ones_do_not() {
        let t = Transform {
            width: Some(100),
            height: None,
            fit: Fit::Contain,
            format: Format::Webp,
            max_dimension: 2048,
            max_pixels: 1,
        };
        let a = Request {
            source: Source::Own("/images/a.svg".into()),
            transform: t,
        };
        let mut b = a.clone();
        assert_eq!(a.key(), b.key());
        b.transform.format = Format::Jpeg;
        assert_ne!(a.key(), b.key());
        assert_eq!(a.key().len(), 64);
    }
}
