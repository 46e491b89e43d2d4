//! Categories: the list with their product counts, create, edit (renaming a slug renames it
//! everywhere) and delete (the products stay, without it).

use askama::Template;
use axum::extract::Path;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use shop_api::catalog::{Category, CreateCategory, UpdateCategory};
use uuid::Uuid;

use crate::config::Upstream;
use crate::ui::admin::{Confirm, Errors, field_errors, posted, refused_text, with_status};
use crate::ui::{ApiError, Ctx, FormInput, Problem};

#[derive(Template)]
#[template(path = "admin/categories.html")]
struct ListPage<'a> {
    ctx: &'a Ctx,
    categories: Vec<Category>,
}

/// `GET /admin/categories`.
pub async fn list(ctx: Ctx) -> Response {
    if let Err(refusal) = ctx.need_admin() {
        return refusal;
    }
    match ctx.get::<Vec<Category>>(Upstream::Catalog, "/categories").await {
        Ok(categories) => ctx.render(ListPage { ctx: &ctx, categories }.render()),
        Err(err) => ctx.fail(&err),
    }
}

/// The form's values, as typed.
#[derive(Debug, Clone, Default)]
pub struct CategoryForm {
    pub slug: String,
    pub name: String,
    pub description: String,
}

impl CategoryForm {
    fn posted(fields: &crate::ui::admin::Fields) -> Self {
        Self {
            slug: fields.get("slug").to_owned(),
            name: fields.get("name").to_owned(),
            description: fields.get("description").to_owned(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/category.html")]
struct FormPage<'a> {
    ctx: &'a Ctx,
    /// `None` when creating.
    category: Option<Category>,
    form: CategoryForm,
    errors: Errors,
    alert: Option<String>,
}

impl FormPage<'_> {
    fn action(&self) -> String {
        self.category.as_ref().map_or_else(
            || "/admin/categories/new".into(),
            |c| format!("/admin/categories/{}", c.id),
        )
    }
}

fn form_page(
    ctx: &Ctx,
    category: Option<Category>,
    form: CategoryForm,
    errors: Errors,
    alert: Option<String>,
    status: StatusCode,
) -> Response {
    with_status(
        ctx.render(
            FormPage {
                ctx,
                category,
                form,
                errors,
                alert,
            }
            .render(),
        ),
        status,
    )
}

/// `GET /admin/categories/new`.
pub async fn new(ctx: Ctx) -> Response {
    if let Err(refusal) = ctx.need_admin() {
        return refusal;
    }
    form_page(&ctx, None, CategoryForm::default(), Errors::new(), None, StatusCode::OK)
}

async fn load(ctx: &Ctx, id: &str) -> Result<Category, Response> {
    let Ok(id) = Uuid::parse_str(id) else {
        return Err(ctx.error_page(StatusCode::NOT_FOUND, "error-not-found"));
    };
    ctx.get::<Category>(Upstream::Catalog, &format!("/categories/{id}"))
        .await
        .map_err(|err| ctx.fail(&err))
}

/// `GET /admin/categories/{id}`.
pub async fn edit(ctx: Ctx, Path(id): Path<String>) -> Response {
    if let Err(refusal) = ctx.need_admin() {
        return refusal;
    }
    match load(&ctx, &id).await {
        Ok(c) => {
            let form = CategoryForm {
                slug: c.slug.clone(),
                name: c.name.clone(),
                description: c.description.clone().unwrap_or_default(),
            };
            form_page(&ctx, Some(c), form, Errors::new(), None, StatusCode::OK)
        }
        Err(answer) => answer,
    }
}

/// The messages of a refused save.
fn refused(ctx: &Ctx, p: &Problem) -> (Errors, Option<String>) {
    match p.slug.as_str() {
        "slug-taken" => (
            Errors::from([("slug".to_owned(), ctx.t("admin-rule-slug-taken"))]),
            None,
        ),
        _ if p.errors.is_empty() => (Errors::new(), Some(refused_text(ctx, p))),
        _ => (field_errors(ctx, p), None),
    }
}

fn status_of(p: &Problem) -> StatusCode {
    StatusCode::from_u16(p.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY)
}

/// `POST /admin/categories/new`.
pub async fn create(ctx: Ctx, form: FormInput<Vec<(String, String)>>) -> Response {
    let fields = match posted(&ctx, form) {
        Ok(f) => f,
        Err(refusal) => return refusal,
    };
    let form = CategoryForm::posted(&fields);
    let body = CreateCategory {
        slug: form.slug.clone(),
        name: form.name.clone(),
        description: Some(form.description.clone()).filter(|d| !d.is_empty()),
    };
    match ctx
        .send::<Category>(Upstream::Catalog, Method::POST, "/categories", &body)
        .await
    {
        Ok(_) => ctx.redirect("/admin/categories?notice=admin-category-created"),
        Err(ApiError::Problem(p)) if p.status == 422 || p.status == 409 => {
            let (errors, alert) = refused(&ctx, &p);
            form_page(&ctx, None, form, errors, alert, status_of(&p))
        }
        Err(err) => ctx.fail(&err),
    }
}

/// `POST /admin/categories/{id}` (an empty description clears it).
pub async fn update(ctx: Ctx, Path(id): Path<String>, form: FormInput<Vec<(String, String)>>) -> Response {
    let fields = match posted(&ctx, form) {
        Ok(f) => f,
        Err(refusal) => return refusal,
    };
    let current = match load(&ctx, &id).await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let form = CategoryForm::posted(&fields);
    let body = UpdateCategory {
        slug: Some(form.slug.clone()),
        name: Some(form.name.clone()),
        description: Some(Some(form.description.clone()).filter(|d| !d.is_empty())),
    };
    match ctx
        .send::<Category>(
            Upstream::Catalog,
            Method::PATCH,
            &format!("/categories/{}", current.id),
            &body,
        )
        .await
    {
        Ok(_) => ctx.redirect("/admin/categories?notice=admin-category-saved"),
        Err(ApiError::Problem(p)) if p.status == 422 || p.status == 409 => {
            let (errors, alert) = refused(&ctx, &p);
            form_page(&ctx, Some(current), form, errors, alert, status_of(&p))
        }
        Err(err) => ctx.fail(&err),
    }
}

/// `GET /admin/categories/{id}/delete`: asks to confirm.
pub async fn confirm_delete(ctx: Ctx, Path(id): Path<String>) -> Response {
    if let Err(refusal) = ctx.need_admin() {
        return refusal;
    }
    let c = match load(&ctx, &id).await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    ctx.render(
        Confirm {
            ctx: &ctx,
            title: ctx.t("admin-category-delete"),
            question: ctx.t1("admin-category-delete-question", "count", c.product_count),
            details: vec![
                (ctx.t("admin-field-name"), c.name.clone()),
                (ctx.t("admin-field-slug"), c.slug.clone()),
            ],
            action: format!("/admin/categories/{}/delete", c.id),
            confirm: ctx.t("admin-delete-confirm"),
            back: format!("/admin/categories/{}", c.id),
            alert: None,
            hidden: Vec::new(),
        }
        .render(),
    )
}

/// `POST /admin/categories/{id}/delete`.
pub async fn delete(ctx: Ctx, Path(id): Path<String>, form: FormInput<Vec<(String, String)>>) -> Response {
    if let Err(refusal) = posted(&ctx, form) {
        return refusal;
    }
    let Ok(id) = Uuid::parse_str(&id) else {
        return ctx.error_page(StatusCode::NOT_FOUND, "error-not-found");
    };
    match ctx
        .call(Upstream::Catalog, Method::DELETE, &format!("/categories/{id}"), None)
        .await
    {
        Ok(()) => ctx.redirect("/admin/categories?notice=admin-category-deleted"),
        Err(err) => ctx.fail(&err),
    }
}
