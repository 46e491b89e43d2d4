//! Attribute templates: a name and a JSON Schema that products using the template must satisfy.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use shop_api::{CreateTemplate, Template, UpdateTemplate};
use shop_kit::Problem;
use shop_kit::auth::AdminUser;
use shop_kit::extract::{Json, Path};
use uuid::Uuid;

use super::conflict_on;
use crate::AppState;
use crate::domain::{self, Errors};
use crate::store::constraints::{PRODUCT_TEMPLATE_FK, TEMPLATE_NAME_UNIQUE};
use crate::store::templates;

/// The template routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/templates", get(list).post(create))
        .route("/templates/{id}", get(show).patch(update).delete(delete))
}

/// Every template: `GET /templates`.
#[utoipa::path(get, path = "/templates", tag = "templates", responses((status = 200, body = Vec<Template>)))]
pub async fn list(State(state): State<AppState>) -> Result<axum::Json<Vec<Template>>, Problem> {
    Ok(axum::Json(templates::list(&state.db).await?))
}

/// One template: `GET /templates/{id}`.
#[utoipa::path(get, path = "/templates/{id}", tag = "templates", responses((status = 200, body = Template), (status = 404)))]
pub async fn show(State(state): State<AppState>, Path(id): Path<Uuid>) -> Result<axum::Json<Template>, Problem> {
    templates::get(&state.db, id)
        .await?
        .map(axum::Json)
        .ok_or_else(|| Problem::not_found("no such template"))
}

const TAKEN: &str = "a template with this name already exists";

fn check_schema(schema: &serde_json::Value, errors: &mut Errors) {
    if serde_json::to_vec(schema).map_or(0, |v| v.len()) > 32 * 1024 {
        errors.add("/schema", "must be at most 32 KiB");
    } else if let Err(e) = domain::json_schema(schema) {
        errors.add("/schema", e);
    }
}

/// Creates a template; its schema must itself be a valid JSON Schema: `POST /templates` (admin).
#[utoipa::path(post, path = "/templates", tag = "admin", request_body = CreateTemplate,
    responses((status = 201, body = Template), (status = 409), (status = 422, description = "invalid JSON Schema")), security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    _admin: AdminUser,
    Json(req): Json<CreateTemplate>,
) -> Result<Response, Problem> {
    let mut errors = Errors::default();
    let name = errors.check("/name", domain::text(&req.name, 100));
    let description = req
        .description
        .as_deref()
        .and_then(|d| errors.check("/description", domain::text(d, 1000)));
    check_schema(&req.schema, &mut errors);
    errors.finish()?;
    let Some(name) = name else {
        return Err(Problem::internal(anyhow::anyhow!("validated name missing")));
    };
    let t = templates::insert(&state.db, &name, description.as_deref(), &req.schema)
        .await
        .map_err(|e| conflict_on(e, TEMPLATE_NAME_UNIQUE, "template-name-taken", TAKEN))?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/templates/{}", t.id))],
        axum::Json(t),
    )
        .into_response())
}

/// Changes a template: `PATCH /templates/{id}` (admin). Products keep their attributes; the
/// new schema applies to their next change.
#[utoipa::path(patch, path = "/templates/{id}", tag = "admin", request_body = UpdateTemplate,
    responses((status = 200, body = Template), (status = 404), (status = 409), (status = 422)), security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<Uuid>,
    Json(req): Json<UpdateTemplate>,
) -> Result<axum::Json<Template>, Problem> {
    let mut errors = Errors::default();
    let name = req
        .name
        .as_deref()
        .and_then(|s| errors.check("/name", domain::text(s, 100)));
    let description = match &req.description {
        None => None,
        Some(None) => Some(None),
        Some(Some(d)) => errors.check("/description", domain::text(d, 1000)).map(Some),
    };
    if let Some(schema) = &req.schema {
        check_schema(schema, &mut errors);
    }
    errors.finish()?;
    templates::update(
        &state.db,
        id,
        name.as_deref(),
        description.as_ref().map(|d| d.as_deref()),
        req.schema.as_ref(),
    )
    .await
    .map_err(|e| conflict_on(e, TEMPLATE_NAME_UNIQUE, "template-name-taken", TAKEN))?
    .map(axum::Json)
    .ok_or_else(|| Problem::not_found("no such template"))
}

/// Deletes a template no product uses: `DELETE /templates/{id}` (admin); 409 while in use.
#[utoipa::path(delete, path = "/templates/{id}", tag = "admin", responses((status = 204), (status = 404), (status = 409)), security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, Problem> {
    match templates::delete(&state.db, id).await {
        Ok(true) => Ok(StatusCode::NO_CONTENT),
        Ok(false) => Err(Problem::not_found("no such template")),
        Err(e) if shop_kit::db::constraint(&e) == Some(PRODUCT_TEMPLATE_FK) => Err(Problem::conflict(
            "template-in-use",
            "products use this template; move them to another first",
        )),
        Err(e) => Err(e.into()),
    }
}
