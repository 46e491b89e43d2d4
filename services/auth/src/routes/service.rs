//! Internal clients and key publication: `POST /auth/token` (client credentials, with the
//! client's scopes or a subset it asks for), `GET /.well-known/jwks.json`.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use shop_kit::Problem;
use shop_kit::auth::Scope;
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
    /// Space-separated scopes, a subset of the client's; absent or blank: all of them.
    pub scope: Option<String>,
}

/// The scopes to put in the token: all of `granted` when `requested` is absent or blank, else
/// the requested ones, each of which must be granted (RFC 6749 §3.3). Ordered as granted.
fn narrow(granted: &[Scope], requested: Option<&str>) -> Result<Vec<Scope>, Problem> {
    let Some(requested) = requested.filter(|r| !r.trim().is_empty()) else {
        return Ok(granted.to_vec());
    };
    let mut wanted = Vec::new();
    for name in requested.split_ascii_whitespace() {
        match Scope::parse(name) {
            Some(scope) if granted.contains(&scope) => wanted.push(scope),
            Some(scope) => return Err(invalid_scope(format!("this client is not granted `{scope}`"))),
            None => {
                let name: String = name.chars().take(64).collect();
                return Err(invalid_scope(format!("unknown scope `{name}`")));
            }
        }
    }
    Ok(granted.iter().copied().filter(|s| wanted.contains(s)).collect())
}

fn invalid_scope(detail: String) -> Problem {
    Problem::bad_request(detail).with("error", "invalid_scope")
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
    responses((status = 200, body = TokenResponse), (status = 400, description = "unsupported grant (`error: unsupported_grant_type`) or a scope the client is not granted (`error: invalid_scope`)"), (status = 401, description = "invalid client")))]
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
    let Some(granted) = state.clients.authenticate(&id, &secret) else {
        AuthMetrics::count(&state.metrics.service_tokens, "invalid_client");
        tracing::warn!(client_id = %id.chars().take(64).collect::<String>(), "client authentication failed");
        return Err(invalid_client());
    };
    let scopes = narrow(granted, req.scope.as_deref()).inspect_err(|_| {
        AuthMetrics::count(&state.metrics.service_tokens, "invalid_scope");
        tracing::warn!(client_id = %id, "client asked for a scope it is not granted");
    })?;
    let issued = state.issuer.service_token(&id, &scopes).map_err(Problem::internal)?;
    AuthMetrics::count(&state.metrics.service_tokens, "issued");
    let body = TokenResponse {
        scope: (!scopes.is_empty()).then(|| Scope::join(&scopes)),
        ..TokenResponse::new(issued, None)
    };
    Ok(([(header::CACHE_CONTROL, "no-store")], axum::Json(body)).into_response())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_its_scopes_or_a_subset_and_never_more() {
        let granted = [Scope::CatalogRead, Scope::CartRead, Scope::CartClear];
        assert_eq!(narrow(&granted, None).expect("all"), granted);
        assert_eq!(narrow(&granted, Some("  ")).expect("blank is all"), granted);
        assert_eq!(
            narrow(&granted, Some("cart:clear catalog:read cart:clear")).expect("a subset"),
            [Scope::CatalogRead, Scope::CartClear]
        );
        for over in ["catalog:reserve", "cart:read catalog:reserve", "cart:write"] {
            let err = narrow(&granted, Some(over)).expect_err(over);
            assert_eq!(err.status(), axum::http::StatusCode::BAD_REQUEST, "{over}");
        }
        assert!(narrow(&[], None).expect("none").is_empty());
        assert!(narrow(&[], Some("catalog:read")).is_err());
    }
}
