//! Internal clients and key publication: `POST /auth/token`, `GET /.well-known/jwks.json`.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use shop_kit::Problem;
use shop_kit::extract::Form;
use utoipa::ToSchema;

use super::views::TokenResponse;
use crate::AppState;
use crate::metrics::AuthMetrics;

/// The service routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/token", post(token))
        .route("/.well-known/jwks.json", get(jwks))
}

/// `POST /auth/token` (RFC 6749 §4.4): credentials in the form or in HTTP Basic.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenRequest {
    pub grant_type: String,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scope: Option<String>,
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    // RFC 6749 §2.3.1: both are form-urlencoded before they are put into Basic.
    let unform = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .ok()
            .map(|c| c.into_owned())
    };
    Some((unform(id)?, unform(secret)?))
}

fn invalid_client() -> Problem {
    Problem::unauthorized("unknown client or wrong secret").with("error", "invalid_client")
}

/// Issues a short-lived `service` token to an internal client: `POST /auth/token`.
#[utoipa::path(post, path = "/auth/token", tag = "service", request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = TokenResponse), (status = 400, description = "unsupported grant"), (status = 401, description = "invalid client")))]
pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(req): Form<TokenRequest>,
) -> Result<Response, Problem> {
    if req.grant_type != "client_credentials" {
        return Err(
            Problem::bad_request("only grant_type=client_credentials is supported here")
                .with("error", "unsupported_grant_type"),
        );
    }
    let (id, secret) = match (basic_credentials(&headers), req.client_id, req.client_secret) {
        (Some(pair), _, _) => pair,
        (None, Some(id), Some(secret)) => (id, secret),
        _ => {
            AuthMetrics::count(&state.metrics.service_tokens, "invalid_client");
            return Err(invalid_client());
        }
    };
    if !state.clients.authenticate(&id, &secret) {
        AuthMetrics::count(&state.metrics.service_tokens, "invalid_client");
        tracing::warn!(client_id = %id.chars().take(64).collect::<String>(), "client authentication failed");
        return Err(invalid_client());
    }
    let issued = state.issuer.service_token(&id).map_err(Problem::internal)?;
    AuthMetrics::count(&state.metrics.service_tokens, "issued");
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(TokenResponse::new(issued, None)),
    )
        .into_response())
}

/// Every currently valid public key: `GET /.well-known/jwks.json`.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "service", responses((status = 200, description = "a JWK Set")))]
pub async fn jwks(State(state): State<AppState>) -> Response {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        axum::Json(state.issuer.jwks()),
    )
        .into_response()
}
