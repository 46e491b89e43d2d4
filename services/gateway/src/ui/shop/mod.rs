//! The shopper's pages: browsing ([`catalog`]), signing in and the profile ([`account`]), the
//! cart and checkout ([`cart`]), and orders ([`orders`]).

pub mod account;
pub mod cart;
pub mod catalog;
pub mod orders;

use askama::Template;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::ui::Ctx;
use crate::ui::i18n::{LANG_COOKIE, Lang};

/// The forms that carry the CSRF token in an optional `csrf` field (`_csrf` on the wire).
macro_rules! csrf_forms {
    ($($form:ty),*) => {$(
        impl crate::ui::CsrfForm for $form {
            fn csrf(&self) -> Option<&str> {
                self.csrf.as_deref()
            }
        }
    )*};
}

csrf_forms!(
    account::RegisterForm,
    account::ProfileForm,
    cart::LineForm,
    cart::CheckoutForm,
    orders::CancelForm
);

/// A page that says what went wrong.
#[derive(Template)]
#[template(path = "shop/error.html")]
pub struct ErrorPage<'a> {
    pub ctx: &'a Ctx,
    pub title: String,
    pub status: u16,
}

/// `?next=…`
#[derive(Debug, Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// `GET /lang/{code}?next=…`: remembers the language (a cookie for a year) and goes back.
pub async fn switch_language(
    ctx: Ctx,
    Path(code): Path<String>,
    next: Result<axum::extract::Query<Next>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(lang) = Lang::from_code(&code) else {
        return ctx.error_page(StatusCode::NOT_FOUND, "error-not-found");
    };
    let next = next.ok().and_then(|n| n.0.next);
    let mut answer = ctx.redirect(next.as_deref().unwrap_or("/"));
    let cookie = cookie::Cookie::build((LANG_COOKIE, lang.code()))
        .path("/")
        .same_site(cookie::SameSite::Lax)
        .secure(ctx.state.config.cookie_secure)
        .max_age(cookie::time::Duration::days(365))
        .build();
    if let Ok(value) = cookie.to_string().parse() {
        answer.headers_mut().append(header::SET_COOKIE, value);
    }
    answer
}

/// Any address no route takes: a page for a browser (it asks for `text/html`), a problem
/// document for everyone else.
pub async fn not_found(ctx: Ctx, headers: HeaderMap, uri: axum::http::Uri) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_html {
        ctx.error_page(StatusCode::NOT_FOUND, "error-not-found")
    } else {
        shop_kit::Problem::not_found(format!("no route for {}", uri.path())).into_response()
    }
}
