//! The `ClientIp` extractor: who is calling, for throttling.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use shop_kit::Problem;

use crate::AppState;

/// The client's address (see `shop_kit::observe::client_ip` for `TRUSTED_PROXY_HOPS`).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
        let ip = shop_kit::observe::client_ip(&parts.headers, peer, state.config.trusted_proxy_hops)
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        Ok(Self(ip))
    }
}
