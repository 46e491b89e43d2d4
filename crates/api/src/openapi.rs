//! What every service's OpenAPI document shares: the bearer scheme, the problem document, and
//! the statuses the service kit answers on any route.

use serde::{Deserialize, Serialize};
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, PartialSchema, ToSchema};

/// The name handlers refer to with `security(("bearer" = []))`.
pub const BEARER: &str = "bearer";

/// The media type of every error answer.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// Declares the `bearer` security scheme (a JWT from auth). Use as
/// `#[openapi(modifiers(&BearerAuth))]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// An RFC 9457 problem document, the body of every error answer (`application/problem+json`).
/// Members beyond these are extensions a status documents itself (`error` on OAuth errors).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// `https://shopkeeper.dev/problems/<slug>`: what kind of problem, for code to branch on.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong this time, for a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// On a 422: each failing field, by JSON pointer or name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    /// On a 429: seconds until a retry may succeed (also the `Retry-After` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

/// One failing field of a request (in a 422 [`Problem`]'s `errors`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    /// Where in the input: a JSON pointer (`/items/0/qty`), a field name, or `path`.
    pub pointer: String,
    /// What is wrong there.
    pub message: String,
}

/// Completes every operation's responses with what the service kit (`shop-kit`) may answer on
/// any route, and gives every error status the [`Problem`] body. A route annotates only the
/// statuses its own code chooses (404, 409, a 422 of its own validation); this adds, by the
/// operation's shape:
///
/// - every operation: 400 (a path or query that is not UTF-8 once percent-decoded, a parameter
///   that does not parse, a body that is not JSON where JSON may be sent), 422 (a NUL character
///   in the path, the query or a body), 431 (a header over 8 KiB), 500 (a bug; logged, never
///   explained): the kit's guard sees every request, declared parameters or not;
/// - one with a body: 413 (over the body limit), 415 (not the documented media type), 422 (a
///   field of the wrong type or missing);
/// - one with a `bearer` requirement: 401 (no token, or one that does not verify) and 403 (a
///   token that may not call it: a user's on an internal route, a service's on a user's);
/// - every operation but those in [`ProblemResponses::self_contained`]: 503 (the database,
///   Redis or a service called is unavailable; `Retry-After`).
///
/// Use as `#[openapi(modifiers(&BearerAuth, &KIT_STATUSES))]` (a `const`: the macro takes a path).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProblemResponses {
    /// Operation ids that reach no dependency (the JWKS from memory), so never answer 503.
    pub self_contained: &'static [&'static str],
}

/// [`ProblemResponses`] for a service whose every route reaches its store or another service.
pub const KIT_STATUSES: ProblemResponses = ProblemResponses { self_contained: &[] };

impl ProblemResponses {
    /// The statuses the kit may answer on `operation`.
    fn kit_statuses(&self, operation: &Operation) -> Vec<u16> {
        let has_body = operation.request_body.as_ref().is_some_and(|body| match body {
            RefOr::T(body) => !body.content.is_empty(),
            RefOr::Ref(_) => true,
        });
        let secured = operation.security.as_ref().is_some_and(|reqs| !reqs.is_empty());
        let id = operation.operation_id.as_deref().unwrap_or_default();

        let mut statuses = vec![400, 422, 431, 500];
        if has_body {
            statuses.extend([413, 415]);
        }
        if secured {
            statuses.extend([401, 403]);
        }
        if !self.self_contained.contains(&id) {
            statuses.push(503);
        }
        statuses
    }
}

/// What a status means when the route says nothing more.
fn description(status: u16) -> &'static str {
    match status {
        400 => {
            "malformed request: a path or query parameter that does not parse, invalid UTF-8, or a body that is not JSON"
        }
        401 => "no bearer token, or one that does not verify (expired, revoked, wrong issuer)",
        403 => "the token may not call this operation",
        404 => "not found",
        409 => "conflicts with the current state",
        413 => "the body is larger than the service's limit (`MAX_BODY_BYTES`)",
        415 => "the body is not in a media type this operation accepts",
        422 => "invalid input: `errors` names each failing field (a NUL character anywhere is one)",
        429 => "too many requests; retry after `Retry-After` seconds",
        431 => "a request header is larger than 8 KiB",
        500 => "the server failed; the cause is logged, never shown",
        503 => "a dependency (database, Redis, a service called) is unavailable; retry after `Retry-After`",
        _ => "an error",
    }
}

impl Modify for ProblemResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components
            .schemas
            .insert(Problem::name().into_owned(), Problem::schema());
        components
            .schemas
            .insert(FieldError::name().into_owned(), FieldError::schema());
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
                &mut item.head,
                &mut item.options,
                &mut item.trace,
            ];
            for operation in operations.into_iter().flatten() {
                for status in self.kit_statuses(operation) {
                    operation
                        .responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| ResponseBuilder::new().into());
                }
                for (status, response) in &mut operation.responses.responses {
                    let Ok(code) = status.parse::<u16>() else { continue };
                    let RefOr::T(response) = response else { continue };
                    if code < 400 {
                        continue;
                    }
                    if response.description.is_empty() {
                        response.description = description(code).to_owned();
                    }
                    if response.content.is_empty() {
                        response.content.insert(
                            PROBLEM_CONTENT_TYPE.to_owned(),
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name(Problem::name())))
                                .build()
                                .into(),
                        );
                    }
                }
            }
        }
    }
}
#[cfg(test)]
mod tests {
    use utoipa::OpenApi;

    use super::*;

    #[derive(OpenApi)]
    #[openapi(modifiers(&BearerAuth))]
    struct Doc;

    #[utoipa::path(post, path = "/things/{id}", request_body = FieldError,
        params(("id" = u32, Path)), responses((status = 200), (status = 404, description = "no such thing")),
        security(("bearer" = [])))]
    #[allow(dead_code)]
    fn change_thing() {}

    #[utoipa::path(get, path = "/keys", responses((status = 200)))]
    #[allow(dead_code)]
    fn keys() {}

    const KEYS_IN_MEMORY: ProblemResponses = ProblemResponses {
        self_contained: &["keys"],
    };

    #[derive(OpenApi)]
    #[openapi(paths(change_thing, keys), modifiers(&KEYS_IN_MEMORY))]
    struct Things;

    #[test]
    fn every_error_status_is_a_problem_and_the_kit_statuses_follow_the_shape() {
        let doc = serde_json::to_value(Things::openapi()).unwrap_or_default();
        let responses = &doc["paths"]["/things/{id}"]["post"]["responses"];
        let statuses: Vec<&String> = responses.as_object().map(|r| r.keys().collect()).unwrap_or_default();
        assert_eq!(
            statuses,
            [
                "200", "400", "401", "403", "404", "413", "415", "422", "431", "500", "503"
            ]
        );
        assert_eq!(
            responses["404"]["description"], "no such thing",
            "the route's words are kept"
        );
        assert_eq!(
            responses["413"]["content"][PROBLEM_CONTENT_TYPE]["schema"]["$ref"],
            "#/components/schemas/Problem"
        );
        assert!(responses["200"].get("content").is_none());
        let keys = &doc["paths"]["/keys"]["get"]["responses"];
        let statuses: Vec<&String> = keys.as_object().map(|r| r.keys().collect()).unwrap_or_default();
        assert_eq!(
            statuses,
            ["200", "400", "422", "431", "500"],
            "no body, no token, no dependency: only what the guard says"
        );
        assert_eq!(
            doc["components"]["schemas"]["Problem"]["required"],
            serde_json::json!(["type", "title", "status"])
        );
        assert!(doc["components"]["schemas"]["FieldError"].is_object());
    }

    #[test]
    fn declares_the_bearer_scheme_even_without_components() {
        let doc = serde_json::to_value(Doc::openapi()).unwrap_or_default();
        assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
        assert_eq!(doc["components"]["securitySchemes"]["bearer"]["bearerFormat"], "JWT");
    }
}
