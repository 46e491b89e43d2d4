//! What every service's OpenAPI document shares.

use utoipa::Modify;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

/// The name handlers refer to with `security(("bearer" = []))`.
pub const BEARER: &str = "bearer";

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

#[cfg(test)]
mod tests {
    use utoipa::OpenApi;

    use super::*;

    #[derive(OpenApi)]
    #[openapi(modifiers(&BearerAuth))]
    struct Doc;

    #[test]
    fn declares_the_bearer_scheme_even_without_components() {
        let doc = serde_json::to_value(Doc::openapi()).unwrap_or_default();
        assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
        assert_eq!(doc["components"]["securitySchemes"]["bearer"]["bearerFormat"], "JWT");
    }
}
