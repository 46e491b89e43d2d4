//! Categories: public list, admin create/update/delete.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use shop_api::{Category, CreateCategory, UpdateCategory};
use shop_kit::Problem;
use shop_kit::auth::AdminUser;
use shop_kit::extract::{Json, Path};
use uuid::Uuid;

use super::conflict_on;
use crate::AppState;
use crate::domain::{self, Errors};
use crate::store::categories;
use crate::store::constraints::SLUG_UNIQUE;

/// The category routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/categories", get(list).post(create))
        .route("/categories/{id}", get(show).patch(update).delete(delete))
}

/// Every category: `GET /categories`.
#[utoipa::path(get, path = "/categories", tag = "categories", responses((status = 200, body = Vec<Category>)))]
pub async fn list(State(state): State<AppState>) -> Result<axum::Json<Vec<Category>>, Problem> {
    Ok(axum::Json(categories::list(&state.db).await?))
}

/// One category: `GET /categories/{id}`.
#[utoipa::path(get, path = "/categories/{id}", tag = "categories", responses((status = 200, body = Category), (status = 404)))]
pub async fn show(State(state): State<AppState>, Path(id): Path<Uuid>) -> Result<axum::Json<Category>, Problem> {
    categories::get(&state.db, id)
        .await?
        .map(axum::Json)
        .ok_or_else(|| Problem::not_found("no such category"))
}

const TAKEN: &str = "a category with this slug already exists";

/// Creates a category: `POST /categories` (admin).
#[utoipa::path(post, path = "/categories", tag = "admin", request_body = CreateCategory,
    responses((status = 201, body = Category), (status = 409), (status = 422)), security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    _admin: AdminUser,
    Json(req): Json<CreateCategory>,
) -> Result<Response, Problem> {
    let mut errors = Errors::default();
    let slug = errors.check("/slug", domain::slug(&req.slug));
    let name = errors.check("/name", domain::text(&req.name, 100));
    let description = req
        .description
        .as_deref()
        .and_then(|d| errors.check("/description", domain::text(d, 1000)));
    errors.finish()?;
    let (Some(slug), Some(name)) = (slug, name) else {
        return Err(Problem::internal(anyhow::anyhow!("validated fields missing")));
    };
    let c = categories::insert(&state.db, &slug, &name, description.as_deref())
        .await
        .map_err(|e| conflict_on(e, SLUG_UNIQUE, "slug-taken", TAKEN))?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/categories/{}", c.id))],
        axum::Json(c),
    )
        .into_response())
}

/// Changes a category: `PATCH /categories/{id}` (admin).
#[utoipa::path(patch, path = "/categories/{id}", tag = "admin", request_body = UpdateCategory,
    responses((status = 200, body = Category), (status = 404), (status = 409), (status = 422)), security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<Uuid>,
    Json(req): Json<UpdateCategory>,
) -> Result<axum::Json<Category>, Problem> {
    let mut errors = Errors::default();
    let slug = req.slug.as_deref().and_then(|s| errors.check("/slug", domain::slug(s)));
    let name = req
        .name
        .as_deref()
        .and_then(|s| errors.check("/name", domain::text(s, 100)));
    let description = match &req.description {
        None => None,
        Some(None) => Some(None),
        Some(Some(d)) => errors.check("/description", domain::text(d, 1000)).map(Some),
    };
    errors.finish()?;
    categories::update(
        &state.db,
        id,
        slug.as_deref(),
        name.as_deref(),
        description.as_ref().map(|d| d.as_deref()),
    )
    .await
    .map_err(|e| conflict_on(e, SLUG_UNIQUE, "slug-taken", TAKEN))?
    .map(axum::Json)
    .ok_or_else(|| Problem::not_found("no such category"))
}

/// Deletes a category; its products stay: `DELETE /categories/{id}` (admin).
#[utoipa::path(delete, path = "/categories/{id}", tag = "admin", responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, Problem> {
    if categories::delete(&state.db, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Problem::not_found("no such category"))
    }
}
