//! Signing in, registering and the profile.
//!
//! The login form posts to `POST /login` ([`crate::routes::session::login`]); registering
//! creates the account at auth and signs the shopper in. Auth's rules stay auth's: its
//! answers are turned into messages in the shopper's language, next to the field at fault.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use crate::config::Upstream;
use crate::ratelimit::Policy;
use crate::routes::session::local_path;
use crate::session::{Peer, Sessions, Tokens};
use crate::ui::{ApiError, Ctx, FormInput, Problem};

/// `?next=…&error=…` of the login page.
#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "shop/login.html")]
struct Login<'a> {
    ctx: &'a Ctx,
    next: String,
    message: Option<String>,
}

/// `GET /login`.
pub async fn login(ctx: Ctx, query: Result<Query<LoginQuery>, QueryRejection>) -> Response {
    let q = query.map(|q| q.0).unwrap_or_default();
    let message = q.error.as_deref().map(|code| {
        ctx.t(match code {
            "credentials" => "login-error-credentials",
            "throttled" => "login-error-throttled",
            "expired" => "login-error-expired",
            _ => "login-error-unavailable",
        })
    });
    let next = local_path(q.next.as_deref());
    ctx.render(
        Login {
            ctx: &ctx,
            next,
            message,
        }
        .render(),
    )
}

/// The register form.
#[derive(Debug, Default, Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    name: String,
    next: Option<String>,
    #[serde(rename = "_csrf")]
    pub(super) csrf: Option<String>,
}

#[derive(Template)]
#[template(path = "shop/register.html")]
struct Register<'a> {
    ctx: &'a Ctx,
    email: String,
    name: String,
    next: String,
    /// Field → message.
    errors: BTreeMap<String, String>,
    message: Option<String>,
}

/// `GET /register`.
pub async fn register_page(ctx: Ctx, query: Result<Query<LoginQuery>, QueryRejection>) -> Response {
    let next = local_path(query.ok().and_then(|q| q.0.next).as_deref());
    ctx.render(
        Register {
            ctx: &ctx,
            email: String::new(),
            name: String::new(),
            next,
            errors: BTreeMap::new(),
            message: None,
        }
        .render(),
    )
}

/// The shopper's words for what auth said about a field (auth's rules, in
/// `services/auth/src/domain`); anything unforeseen falls back to a general message.
pub fn field_message(ctx: &Ctx, field: &str, message: &str) -> String {
    let key = match field {
        "email" if message.contains("empty") => "rule-email-empty",
        "email" => "rule-email-invalid",
        "password" | "new_password" if message.contains("at least") => "rule-password-short",
        "password" | "new_password" if message.contains("at most") => "rule-password-long",
        "password" | "new_password" if message.contains("control") => "rule-control",
        "password" | "new_password" if message.contains("email") => "rule-password-email",
        "password" | "new_password" if message.contains("common") => "rule-password-common",
        "current_password" => "rule-current-password",
        "phone" => "rule-phone",
        _ if message.contains("control") => "rule-control",
        _ if message.contains("long") || message.contains("at most") => "rule-too-long",
        _ if message.contains("empty") => "rule-empty",
        _ => "rule-invalid",
    };
    ctx.t(key)
}

fn field_messages(ctx: &Ctx, problem: &Problem) -> BTreeMap<String, String> {
    problem
        .fields()
        .into_iter()
        .map(|(field, message)| {
            let text = field_message(ctx, &field, &message);
            (field, text)
        })
        .collect()
}

/// `POST /register`: creates the account, then signs in and goes where the shopper was.
pub async fn register(ctx: Ctx, peer: Peer, headers: HeaderMap, form: FormInput<RegisterForm>) -> Response {
    let form = match ctx.posted(form) {
        Ok(form) => form,
        Err(refusal) => return refusal,
    };
    let next = local_path(form.next.as_deref());
    let again = |errors: BTreeMap<String, String>, message: Option<String>, status: StatusCode| {
        let mut answer = ctx.render(
            Register {
                ctx: &ctx,
                email: form.email.clone(),
                name: form.name.clone(),
                next: next.clone(),
                errors,
                message,
            }
            .render(),
        );
        *answer.status_mut() = status;
        answer
    };
    let address = crate::session::client_ip(&ctx.state, &headers, peer);
    let policy = Policy {
        name: "register",
        rate: ctx.state.config.limits.register,
    };
    if !ctx.state.limiter.check(policy, &format!("ip:{address}")).await.allowed {
        return again(
            BTreeMap::new(),
            Some(ctx.t("error-throttled")),
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let body = json!({"email": form.email, "password": form.password, "name": form.name});
    match ctx
        .send::<serde_json::Value>(Upstream::Auth, Method::POST, "/auth/register", &body)
        .await
    {
        Ok(_) => {}
        Err(ApiError::Problem(p)) if p.status == 409 => {
            let errors = BTreeMap::from([("email".to_owned(), ctx.t("rule-email-taken"))]);
            return again(errors, None, StatusCode::CONFLICT);
        }
        Err(ApiError::Problem(p)) if p.status == 422 => {
            return again(field_messages(&ctx, &p), None, StatusCode::UNPROCESSABLE_ENTITY);
        }
        Err(ApiError::Problem(p)) if p.status == 429 => {
            return again(
                BTreeMap::new(),
                Some(ctx.t("error-throttled")),
                StatusCode::TOO_MANY_REQUESTS,
            );
        }
        Err(_) => {
            return again(
                BTreeMap::new(),
                Some(ctx.t("error-unavailable")),
                StatusCode::SERVICE_UNAVAILABLE,
            );
        }
    }
    // Signed up: sign in with the same credentials.
    let login = ctx
        .send::<Tokens>(
            Upstream::Auth,
            Method::POST,
            "/auth/login",
            &json!({"email": form.email, "password": form.password}),
        )
        .await;
    let Ok(tokens) = login else {
        return ctx.redirect(&format!("/login?next={}", crate::ui::encode(&next)));
    };
    let mut answer = ctx.redirect(&next);
    let nonce = Sessions::new_nonce();
    let mut cookies = ctx.state.sessions.session_cookies(&tokens);
    cookies.push(ctx.state.sessions.nonce_cookie(&nonce));
    crate::session::append_cookies(&mut answer, &cookies);
    answer
}

/// The user as auth shows it to themself.
#[derive(Debug, Deserialize)]
pub struct Me {
    pub email: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub role: String,
    pub plan: String,
    #[serde(default)]
    pub plan_expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Template)]
#[template(path = "shop/profile.html")]
struct Profile<'a> {
    ctx: &'a Ctx,
    me: Me,
    errors: BTreeMap<String, String>,
}

impl Profile<'_> {
    fn error(&self, field: &str) -> Option<&String> {
        self.errors.get(field)
    }
}

/// `GET /profile`.
pub async fn profile(ctx: Ctx) -> Response {
    if let Err(login) = ctx.need_user() {
        return login;
    }
    show_profile(&ctx, BTreeMap::new(), StatusCode::OK).await
}

async fn show_profile(ctx: &Ctx, errors: BTreeMap<String, String>, status: StatusCode) -> Response {
    match ctx.get::<Me>(Upstream::Auth, "/auth/me").await {
        Ok(me) => {
            let mut answer = ctx.render(Profile { ctx, me, errors }.render());
            *answer.status_mut() = status;
            answer
        }
        Err(err) => ctx.fail(&err),
    }
}

/// The profile form.
#[derive(Debug, Default, Deserialize)]
pub struct ProfileForm {
    name: Option<String>,
    phone: Option<String>,
    address: Option<String>,
    current_password: Option<String>,
    new_password: Option<String>,
    #[serde(rename = "_csrf")]
    pub(super) csrf: Option<String>,
}

/// `POST /profile` (name, phone, address) and `POST /profile/password`.
pub async fn update_profile(ctx: Ctx, form: FormInput<ProfileForm>) -> Response {
    if let Err(login) = ctx.need_user() {
        return login;
    }
    let form = match ctx.posted(form) {
        Ok(form) => form,
        Err(refusal) => return refusal,
    };
    let password_change = form.new_password.is_some();
    let body = if password_change {
        json!({"current_password": form.current_password.unwrap_or_default(),
               "new_password": form.new_password.unwrap_or_default()})
    } else {
        json!({"name": form.name.unwrap_or_default(), "phone": form.phone.unwrap_or_default(),
               "address": form.address.unwrap_or_default()})
    };
    match ctx
        .send::<serde_json::Value>(Upstream::Auth, Method::PATCH, "/auth/me", &body)
        .await
    {
        Ok(_) if password_change => ctx.redirect("/profile?notice=password-changed"),
        Ok(_) => ctx.redirect("/profile?notice=profile-saved"),
        Err(ApiError::Problem(p)) if p.status == 422 => {
            show_profile(&ctx, field_messages(&ctx, &p), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(err) => ctx.fail(&err),
    }
}
