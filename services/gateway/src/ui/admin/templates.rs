//! Product templates: a name and the JSON Schema that products' attributes must satisfy (and
//! that the product form is drawn from). The schema is edited as JSON text: text that is not
//! JSON is refused here, next to the field, without calling the catalog.

use askama::Template;
use axum::extract::Path;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use shop_api::catalog::{CreateTemplate, Template as ProductTemplate, UpdateTemplate};
use uuid::Uuid;

use crate::config::Upstream;
use crate::ui::admin::{Confirm, Errors, add_error, field_errors, posted, refused_text, with_status};
use crate::ui::schema::{self, Field};
use crate::ui::{ApiError, Ctx, FormInput};

/// What a new template's schema starts as.
const STARTER: &str = r#"{
  "type": "object",
  "properties": {
    "size": {"type": "string", "enum": ["S", "M", "L"]}
  },
  "required": [],
  "additionalProperties": false
}"#;

#[derive(Template)]
#[template(path = "admin/templates.html")]
struct ListPage<'a> {
    ctx: &'a Ctx,
    /// Each template with the number of attribute fields its schema defines.
    templates: Vec<(ProductTemplate, usize)>,
}

/// `GET /admin/templates`.
pub async fn list(ctx: Ctx) -> Response {
    if let Err(refusal) = ctx.need_admin() {
        return refusal;
    }
    match ctx.get::<Vec<ProductTemplate>>(Upstream::Catalog, "/templates").await {
        Ok(templates) => {
            let templates = templates
                .into_iter()
                .map(|t| {
                    let n = schema::fields(&t.schema).len();
                    (t, n)
                })
                .collect();
            ctx.render(ListPage { ctx: &ctx, templates }.render())
        }
        Err(err) => ctx.fail(&err),
    }
}

/// The form's values, as typed.
#[derive(Debug, Clone, Default)]
pub struct TemplateForm {
    pub name: String,
    pub description: String,
    pub schema: String,
}

#[derive(Template)]
#[template(path = "admin/template.html")]
struct FormPage<'a> {
    ctx: &'a Ctx,
    /// `None` when creating.
    id: Option<Uuid>,
    form: TemplateForm,
    /// The fields the product form will show (from the saved schema).
    preview: Vec<Field>,
    errors: Errors,
    alert: Option<String>,
}

impl FormPage<'_> {
    fn action(&self) -> String {
        self.id
            .map_or_else(|| "/admin/templates/new".into(), |id| format!("/admin/templates/{id}"))
    }

    fn kind(&self, field: &Field) -> String {
        let key = match field.kind {
            schema::Kind::Text { .. } => "admin-kind-text",
            schema::Kind::Integer { .. } => "admin-kind-integer",
            schema::Kind::Number => "admin-kind-number",
            schema::Kind::Boolean => "admin-kind-boolean",
            schema::Kind::Choice(_) => "admin-kind-choice",
        };
        self.ctx.t(key)
    }
}

fn form_page(
    ctx: &Ctx,
    id: Option<Uuid>,
    form: TemplateForm,
    preview: Vec<Field>,
    errors: Errors,
    alert: Option<String>,
    status: StatusCode,
) -> Response {
    with_status(
        ctx.render(
            FormPage {
                ctx,
                id,
                form,
                preview,
                errors,
                alert,
            }
            .render(),
        ),
        status,
    )
}

/// `GET /admin/templates/new`.
pub async fn new(ctx: Ctx) -> Response {
    if let Err(refusal) = ctx.need_admin() {
        return refusal;
    }
    let form = TemplateForm {
        schema: STARTER.into(),
        ..TemplateForm::default()
    };
    form_page(&ctx, None, form, Vec::new(), Errors::new(), None, StatusCode::OK)
}

async fn load(ctx: &Ctx, id: &str) -> Result<ProductTemplate, Response> {
    let Ok(id) = Uuid::parse_str(id) else {
        return Err(ctx.error_page(StatusCode::NOT_FOUND, "error-not-found"));
    };
    ctx.get::<ProductTemplate>(Upstream::Catalog, &format!("/templates/{id}"))
        .await
        .map_err(|err| ctx.fail(&err))
}

fn form_of(t: &ProductTemplate) -> TemplateForm {
    TemplateForm {
        name: t.name.clone(),
        description: t.description.clone().unwrap_or_default(),
        schema: serde_json::to_string_pretty(&t.schema).unwrap_or_default(),
    }
}

/// `GET /admin/templates/{id}`.
pub async fn edit(ctx: Ctx, Path(id): Path<String>) -> Response {
    if let Err(refusal) = ctx.need_admin() {
        return refusal;
    }
    match load(&ctx, &id).await {
        Ok(t) => form_page(
            &ctx,
            Some(t.id),
            form_of(&t),
            schema::fields(&t.schema),
            Errors::new(),
            None,
            StatusCode::OK,
        ),
        Err(answer) => answer,
    }
}

/// The schema text as JSON, or the message for the field.
fn parse_schema(ctx: &Ctx, text: &str) -> Result<serde_json::Value, String> {
    if text.trim().is_empty() {
        return Err(ctx.t("admin-rule-empty"));
    }
    serde_json::from_str(text).map_err(|e| {
        let at = |n: usize| i64::try_from(n).unwrap_or(0);
        format!(
            "{} ({}, {})",
            ctx.t("admin-schema-not-json"),
            ctx.t1("admin-schema-line", "count", at(e.line())),
            ctx.t1("admin-schema-column", "count", at(e.column()))
        )
    })
}

/// The messages of a refused save.
fn refused(ctx: &Ctx, p: &crate::ui::Problem) -> (Errors, Option<String>) {
    match p.slug.as_str() {
        "template-name-taken" => (
            Errors::from([("name".to_owned(), ctx.t("admin-rule-template-name-taken"))]),
            None,
        ),
        _ if p.errors.is_empty() => (Errors::new(), Some(refused_text(ctx, p))),
        _ => (field_errors(ctx, p), None),
    }
}

/// `POST /admin/templates/new`.
pub async fn create(ctx: Ctx, form: FormInput<Vec<(String, String)>>) -> Response {
    let fields = match posted(&ctx, form) {
        Ok(f) => f,
        Err(refusal) => return refusal,
    };
    let form = TemplateForm {
        name: fields.get("name").to_owned(),
        description: fields.get("description").to_owned(),
        schema: fields.raw("schema").to_owned(),
    };
    let schema = match parse_schema(&ctx, &form.schema) {
        Ok(s) => s,
        Err(message) => {
            let mut errors = Errors::new();
            add_error(&mut errors, "schema", message);
            return form_page(
                &ctx,
                None,
                form,
                Vec::new(),
                errors,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let body = CreateTemplate {
        name: form.name.clone(),
        description: Some(form.description.clone()).filter(|d| !d.is_empty()),
        schema,
    };
    match ctx
        .send::<ProductTemplate>(Upstream::Catalog, Method::POST, "/templates", &body)
        .await
    {
        Ok(t) => ctx.redirect(&format!("/admin/templates/{}?notice=admin-template-created", t.id)),
        Err(ApiError::Problem(p)) if p.status == 422 || p.status == 409 => {
            let (errors, alert) = refused(&ctx, &p);
            let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            form_page(&ctx, None, form, Vec::new(), errors, alert, status)
        }
        Err(err) => ctx.fail(&err),
    }
}

/// `POST /admin/templates/{id}`. Products are not re-checked against a changed schema: it
/// applies to a product the next time its attributes are saved.
pub async fn update(ctx: Ctx, Path(id): Path<String>, form: FormInput<Vec<(String, String)>>) -> Response {
    let fields = match posted(&ctx, form) {
        Ok(f) => f,
        Err(refusal) => return refusal,
    };
    let current = match load(&ctx, &id).await {
        Ok(t) => t,
        Err(answer) => return answer,
    };
    let preview = schema::fields(&current.schema);
    let form = TemplateForm {
        name: fields.get("name").to_owned(),
        description: fields.get("description").to_owned(),
        schema: fields.raw("schema").to_owned(),
    };
    let schema = match parse_schema(&ctx, &form.schema) {
        Ok(s) => s,
        Err(message) => {
            let mut errors = Errors::new();
            add_error(&mut errors, "schema", message);
            return form_page(
                &ctx,
                Some(current.id),
                form,
                preview,
                errors,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let body = UpdateTemplate {
        name: Some(form.name.clone()),
        description: Some(Some(form.description.clone()).filter(|d| !d.is_empty())),
        schema: Some(schema),
    };
    match ctx
        .send::<ProductTemplate>(
            Upstream::Catalog,
            Method::PATCH,
            &format!("/templates/{}", current.id),
            &body,
        )
        .await
    {
        Ok(t) => ctx.redirect(&format!("/admin/templates/{}?notice=admin-template-saved", t.id)),
        Err(ApiError::Problem(p)) if p.status == 422 || p.status == 409 => {
            let (errors, alert) = refused(&ctx, &p);
            let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            form_page(&ctx, Some(current.id), form, preview, errors, alert, status)
        }
        Err(err) => ctx.fail(&err),
    }
}

fn delete_question(ctx: &Ctx, t: &ProductTemplate, alert: Option<String>) -> Response {
    ctx.render(
        Confirm {
            ctx,
            title: ctx.t("admin-template-delete"),
            question: ctx.t("admin-template-delete-question"),
            details: vec![(ctx.t("admin-field-name"), t.name.clone())],
            action: format!("/admin/templates/{}/delete", t.id),
            confirm: ctx.t("admin-delete-confirm"),
            back: format!("/admin/templates/{}", t.id),
            alert,
            hidden: Vec::new(),
        }
        .render(),
    )
}

/// `GET /admin/templates/{id}/delete`: asks to confirm.
pub async fn confirm_delete(ctx: Ctx, Path(id): Path<String>) -> Response {
    if let Err(refusal) = ctx.need_admin() {
        return refusal;
    }
    match load(&ctx, &id).await {
        Ok(t) => delete_question(&ctx, &t, None),
        Err(answer) => answer,
    }
}

/// `POST /admin/templates/{id}/delete`: refused while products use the template.
pub async fn delete(ctx: Ctx, Path(id): Path<String>, form: FormInput<Vec<(String, String)>>) -> Response {
    if let Err(refusal) = posted(&ctx, form) {
        return refusal;
    }
    let current = match load(&ctx, &id).await {
        Ok(t) => t,
        Err(answer) => return answer,
    };
    match ctx
        .call(
            Upstream::Catalog,
            Method::DELETE,
            &format!("/templates/{}", current.id),
            None,
        )
        .await
    {
        Ok(()) => ctx.redirect("/admin/templates?notice=admin-template-deleted"),
        Err(ApiError::Problem(p)) if p.status == 409 => with_status(
            delete_question(&ctx, &current, Some(ctx.t("admin-template-in-use"))),
            StatusCode::CONFLICT,
        ),
        Err(err) => ctx.fail(&err),
    }
}
