//! The peers: auth (the service token), cart (read and clear a user's cart) and catalog
//! (prices and stock reservations), all through [`HttpClient`] with a `service` token.

use shop_kit::client::SendTraced as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use shop_api::{
    BatchRequest, BatchResponse, Cart, Line, LowStock, Product, Reservation, ReserveItem, ReserveRequest, Shortfall,
};
use shop_kit::client::HttpClient;
use tokio::sync::Mutex;
use uuid::Uuid;

/// A failed call to a peer: unreachable, a timeout, a 5xx or a body we cannot read. The
/// outcome of such a call is unknown.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unreachable(String);

impl From<reqwest::Error> for Unreachable {
    fn from(e: reqwest::Error) -> Self {
        Self(e.to_string())
    }
}

/// A client-credentials token from auth, cached until 30 s before it expires.
#[derive(Clone)]
pub struct ServiceToken {
    http: HttpClient,
    url: String,
    client_id: String,
    secret: SecretString,
    cached: Arc<Mutex<Option<(String, Instant)>>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
}

impl ServiceToken {
    /// A token source for `client_id` at auth's `base` URL.
    pub fn new(http: HttpClient, base: &str, client_id: &str, secret: SecretString) -> Self {
        Self {
            http,
            url: format!("{base}/auth/token"),
            client_id: client_id.to_owned(),
            secret,
            cached: Arc::new(Mutex::new(None)),
        }
    }

    /// A valid token (one request to auth at most every few minutes).
    pub async fn get(&self) -> Result<String, Unreachable> {
        let mut cached = self.cached.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let resp = self
            .http
            .post(&self.url)
            .basic_auth(&self.client_id, Some(self.secret.expose_secret()))
            .form(&[("grant_type", "client_credentials")])
            .send_traced()
            .await?;
        if !resp.status().is_success() {
            return Err(Unreachable(format!(
                "auth refused the service token: {}",
                resp.status()
            )));
        }
        let token: TokenResponse = resp.json().await?;
        let until = Instant::now() + Duration::from_secs(token.expires_in.saturating_sub(30));
        *cached = Some((token.access_token.clone(), until));
        Ok(token.access_token)
    }

    /// Forgets the cached token (after a 401).
    pub async fn forget(&self) {
        *self.cached.lock().await = None;
    }
}

/// What a reservation request came to.
#[derive(Debug)]
pub enum Reserve {
    /// 201 or 200: the reservation (its `status` tells whether stock is held).
    Done(Reservation),
    /// 409 `insufficient-stock`: nothing was reserved.
    Insufficient(Vec<Shortfall>),
    /// Another 4xx: the catalog refused the request; nothing was reserved.
    Refused(String),
}

/// The cart and catalog, called with the service token.
#[derive(Clone)]
pub struct Peers {
    http: HttpClient,
    token: ServiceToken,
    catalog: String,
    cart: String,
}

impl Peers {
    /// Clients for the catalog and cart at their base URLs (5 s per call).
    pub fn new(token: ServiceToken, catalog: &str, cart: &str) -> anyhow::Result<Self> {
        Ok(Self {
            http: HttpClient::new(Duration::from_secs(5))?,
            token,
            catalog: catalog.to_owned(),
            cart: cart.to_owned(),
        })
    }

    async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&(impl serde::Serialize + Sync)>,
    ) -> Result<reqwest::Response, Unreachable> {
        for attempt in 0..2 {
            let token = self.token.get().await?;
            let mut req = self.http.request(method.clone(), url).bearer_auth(token);
            if let Some(body) = body {
                req = req.json(body);
            }
            let resp = req.send_traced().await?;
            if resp.status() == StatusCode::UNAUTHORIZED && attempt == 0 {
                // The token expired early or the keys rotated: fetch a new one once.
                self.token.forget().await;
                continue;
            }
            if resp.status().is_server_error() || resp.status() == StatusCode::UNAUTHORIZED {
                return Err(Unreachable(format!("{url}: {}", resp.status())));
            }
            return Ok(resp);
        }
        Err(Unreachable(format!("{url}: unauthorized")))
    }

    /// The lines of a user's cart.
    pub async fn cart(&self, user: Uuid) -> Result<Vec<Line>, Unreachable> {
        let url = format!("{}/internal/carts/{user}", self.cart);
        let resp = self.send(reqwest::Method::GET, &url, None::<&()>).await?;
        if !resp.status().is_success() {
            return Err(Unreachable(format!("cart: {}", resp.status())));
        }
        Ok(resp.json::<Cart>().await?.items)
    }

    /// Takes a user's cart for the checkout `key` (see cart's `…/take`): its lines, held apart.
    pub async fn take_cart(&self, user: Uuid, key: &str) -> Result<Vec<Line>, Unreachable> {
        let url = format!("{}/internal/carts/{user}/take", self.cart);
        let body = shop_api::HeldCart { key: key.to_owned() };
        let resp = self.send(reqwest::Method::POST, &url, Some(&body)).await?;
        if !resp.status().is_success() {
            return Err(Unreachable(format!("cart take: {}", resp.status())));
        }
        Ok(resp.json::<Cart>().await?.items)
    }

    /// Puts the cart the checkout `key` took back (it placed no order).
    pub async fn restore_cart(&self, user: Uuid, key: &str) -> Result<(), Unreachable> {
        let url = format!("{}/internal/carts/{user}/restore", self.cart);
        let body = shop_api::HeldCart { key: key.to_owned() };
        let resp = self.send(reqwest::Method::POST, &url, Some(&body)).await?;
        if !resp.status().is_success() {
            return Err(Unreachable(format!("cart restore: {}", resp.status())));
        }
        Ok(())
    }

    /// Empties a user's cart.
    pub async fn clear_cart(&self, user: Uuid) -> Result<(), Unreachable> {
        let url = format!("{}/internal/carts/{user}/clear", self.cart);
        let resp = self.send(reqwest::Method::POST, &url, None::<&()>).await?;
        if !resp.status().is_success() {
            return Err(Unreachable(format!("cart clear: {}", resp.status())));
        }
        Ok(())
    }

    /// The products among `ids` that exist (active or not).
    pub async fn products(&self, ids: &[Uuid]) -> Result<Vec<Product>, Unreachable> {
        let url = format!("{}/internal/products/batch", self.catalog);
        let body = BatchRequest { ids: ids.to_vec() };
        let resp = self.send(reqwest::Method::POST, &url, Some(&body)).await?;
        if !resp.status().is_success() {
            return Err(Unreachable(format!("catalog batch: {}", resp.status())));
        }
        Ok(resp.json::<BatchResponse>().await?.items)
    }

    /// Active products with less than `threshold` in stock, lowest first.
    pub async fn low_stock(&self, threshold: i64) -> Result<Vec<LowStock>, Unreachable> {
        let url = format!(
            "{}/internal/products/low-stock?threshold={threshold}&limit=20",
            self.catalog
        );
        let resp = self.send(reqwest::Method::GET, &url, None::<&()>).await?;
        if !resp.status().is_success() {
            return Err(Unreachable(format!("catalog low-stock: {}", resp.status())));
        }
        let products: Vec<Product> = resp.json().await?;
        Ok(products.into_iter().map(LowStock::from).collect())
    }

    /// Reserves stock for an order (idempotent by order id).
    pub async fn reserve(&self, order_id: Uuid, items: &[ReserveItem]) -> Result<Reserve, Unreachable> {
        let url = format!("{}/internal/reservations", self.catalog);
        let body = ReserveRequest {
            order_id,
            items: items.to_vec(),
        };
        let resp = self.send(reqwest::Method::POST, &url, Some(&body)).await?;
        let status = resp.status();
        if status.is_success() {
            return Ok(Reserve::Done(resp.json().await?));
        }
        let problem: serde_json::Value = resp.json().await.unwrap_or_default();
        let slug = problem["type"].as_str().unwrap_or_default();
        if status == StatusCode::CONFLICT && slug.ends_with("/insufficient-stock") {
            let shortfalls = serde_json::from_value(problem["shortfalls"].clone())
                .map_err(|e| Unreachable(format!("catalog shortfalls: {e}")))?;
            return Ok(Reserve::Insufficient(shortfalls));
        }
        if status == StatusCode::CONFLICT {
            // `reservation-mismatch`: this order id holds another reservation; its state is
            // for the sweeper to read, not for us to guess.
            return Err(Unreachable(format!("catalog reservation conflict: {slug}")));
        }
        let detail = problem["detail"].as_str().unwrap_or_default();
        Ok(Reserve::Refused(format!("{status}: {detail}")))
    }

    /// Confirms the reservations of placed orders, so that the catalog never expires them.
    pub async fn confirm(&self, order_ids: &[Uuid]) -> Result<shop_api::ConfirmResponse, Unreachable> {
        let url = format!("{}/internal/reservations/confirm", self.catalog);
        let body = shop_api::ConfirmRequest {
            order_ids: order_ids.to_vec(),
        };
        let resp = self.send(reqwest::Method::POST, &url, Some(&body)).await?;
        if !resp.status().is_success() {
            return Err(Unreachable(format!("catalog confirm: {}", resp.status())));
        }
        Ok(resp.json().await?)
    }

    /// The reservation of an order; `None` when none is committed (404).
    pub async fn reservation(&self, order_id: Uuid) -> Result<Option<Reservation>, Unreachable> {
        let url = format!("{}/internal/reservations/{order_id}", self.catalog);
        let resp = self.send(reqwest::Method::GET, &url, None::<&()>).await?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => Ok(Some(resp.json().await?)),
            s => Err(Unreachable(format!("catalog reservation: {s}"))),
        }
    }

    /// Gives an order's stock back (exactly once, however often called). `Ok(false)` when the
    /// order never reserved.
    pub async fn release(&self, order_id: Uuid) -> Result<bool, Unreachable> {
        let url = format!("{}/internal/reservations/{order_id}/release", self.catalog);
        let resp = self.send(reqwest::Method::POST, &url, None::<&()>).await?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(false),
            s if s.is_success() => Ok(true),
            s => Err(Unreachable(format!("catalog release: {s}"))),
        }
    }
}
