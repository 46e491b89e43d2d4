//! The web UI the gateway renders: the shop for shoppers ([`shop`]) and its admin ([`admin`]).
//!
//! Pages are askama templates (checked at compile time) filled from the four services' APIs,
//! called with the shopper's own token, so every rule stays where it lives. Every text comes
//! from the translation files ([`i18n`]); prices are written by [`money`]. Forms post
//! `application/x-www-form-urlencoded` with the session's CSRF token in `_csrf` and are
//! answered with `303 See Other` (post/redirect/get), so the main journey needs no JavaScript.

pub mod admin;
pub mod assets;
pub mod i18n;
pub mod money;
pub mod schema;
pub mod shop;

use shop_kit::client::SendTraced as _;
use std::collections::BTreeMap;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use rust_decimal::Decimal;
use serde::Serialize;
use serde::de::DeserializeOwned;
use shop_kit::auth::Role;

use crate::AppState;
use crate::config::Upstream;
use crate::session::Resolved;
use crate::ui::i18n::{Arg, Lang};

/// The signed-in user, as the token says.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub email: String,
    pub admin: bool,
}

/// Everything a page needs about the request: who, which language, the CSRF token, and a way
/// to call the services as that user.
pub struct Ctx {
    pub state: AppState,
    pub lang: Lang,
    pub user: Option<User>,
    /// The CSRF token for forms (`_csrf`).
    pub csrf: String,
    /// The path and query of this page (where login and the language switch come back to).
    pub here: String,
    /// A notice carried by `?notice=…` after a redirect, already translated.
    pub notice: Option<String>,
    resolved: Resolved,
    cookies: Vec<HeaderValue>,
    forwarded: HeaderMap,
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let resolved = parts.extensions.get::<Resolved>().cloned().unwrap_or_default();
        let lang = Lang::negotiate(&parts.headers);
        let (csrf, nonce_cookie) = state.sessions.csrf_for(&resolved);
        let user = resolved.claims.as_ref().and_then(|c| {
            Some(User {
                id: c.sub.clone(),
                email: c.email.clone()?,
                admin: c.role == Role::Admin,
            })
        });
        let here = parts
            .uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |pq| pq.as_str().to_owned());
        let notice = parts.uri.query().and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "notice")
                .map(|(_, v)| format!("notice-{v}"))
                .filter(|key| key.len() < 64 && lang.has(key))
                .map(|key| lang.t(&key))
        });
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0);
        let forwarded = crate::routes::proxy::own_call_headers(
            &parts.headers,
            &resolved,
            peer,
            state.config.public_url.starts_with("https:"),
        );
        Ok(Self {
            state: state.clone(),
            lang,
            user,
            csrf,
            here,
            notice,
            resolved,
            cookies: nonce_cookie.into_iter().collect(),
            forwarded,
        })
    }
}

/// A form that carries the session's CSRF token (the `_csrf` field): see [`Ctx::posted`].
pub trait CsrfForm {
    fn csrf(&self) -> Option<&str>;
}

/// Forms read as their fields in order (the admin's).
impl CsrfForm for Vec<(String, String)> {
    fn csrf(&self) -> Option<&str> {
        self.iter().find(|(k, _)| k == "_csrf").map(|(_, v)| v.as_str())
    }
}

/// A posted form as a handler takes it: see [`Ctx::form`].
pub type FormInput<T> = Result<axum::Form<T>, axum::extract::rejection::FormRejection>;

/// A sum of money however a template holds it (by value or behind references).
pub trait Amount {
    fn amount(&self) -> Decimal;
}

impl Amount for Decimal {
    fn amount(&self) -> Decimal {
        *self
    }
}

impl<T: Amount + ?Sized> Amount for &T {
    fn amount(&self) -> Decimal {
        (**self).amount()
    }
}

/// One entry of the language switcher.
#[derive(Debug, Clone)]
pub struct LangLink {
    pub code: &'static str,
    pub name: &'static str,
    pub href: String,
    pub current: bool,
}

/// A service's answer that is not a success.
#[derive(Debug, Clone)]
pub enum ApiError {
    /// The service did not answer (down, timed out, or answered garbage).
    Unavailable,
    /// It answered with a problem.
    Problem(Problem),
}

/// The parts of a problem document pages use.
#[derive(Debug, Clone, Default)]
pub struct Problem {
    pub status: u16,
    /// The last segment of `type` (`email-taken`, `insufficient-stock`, `validation`).
    pub slug: String,
    pub detail: Option<String>,
    /// `errors[]`: pointer (`/attributes/size`, `email`) → message.
    pub errors: Vec<(String, String)>,
    /// The whole document.
    pub body: serde_json::Value,
}

impl Problem {
    fn from_body(status: u16, body: serde_json::Value) -> Self {
        let slug = body["type"]
            .as_str()
            .and_then(|t| t.rsplit('/').next())
            .unwrap_or_default()
            .to_owned();
        let errors = body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| {
                        (
                            e["pointer"].as_str().unwrap_or_default().to_owned(),
                            e["message"]
                                .as_str()
                                .or_else(|| e["detail"].as_str())
                                .unwrap_or_default()
                                .to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            status,
            slug,
            detail: body["detail"].as_str().map(str::to_owned),
            errors,
            body,
        }
    }

    /// The messages per field name (the pointer without its leading `/`; nested pointers keep
    /// their inner slashes: `attributes/size`).
    pub fn fields(&self) -> BTreeMap<String, String> {
        let mut fields = BTreeMap::new();
        for (pointer, message) in &self.errors {
            fields
                .entry(pointer.trim_start_matches('/').to_owned())
                .and_modify(|m: &mut String| {
                    m.push_str("; ");
                    m.push_str(message);
                })
                .or_insert_with(|| message.clone());
        }
        fields
    }
}

// The helpers that refuse return the refusal itself as the error: a handler hands it straight
// back to axum (`return refusal`), so boxing it would only add an allocation.
#[allow(clippy::result_large_err)]
impl Ctx {
    /// The text of `key` in the page's language.
    pub fn t(&self, key: &str) -> String {
        self.lang.t(key)
    }

    /// The text of `key` with one argument.
    pub fn t1(&self, key: &str, name: &'static str, value: impl Into<Arg>) -> String {
        self.lang.t_args(key, &[(name, value.into())])
    }

    /// A price in the shop's format.
    pub fn price(&self, amount: impl Amount) -> String {
        self.state.config.ui.price_format.format(amount.amount())
    }

    /// The address of an image at `width`×`height` pixels: through `/img` when the image proxy
    /// is on, else as it is.
    pub fn img(&self, url: &str, width: u32, height: u32) -> String {
        if !self.state.config.images.enabled || url.is_empty() {
            return url.to_owned();
        }
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("url", url)
            .append_pair("w", &width.to_string())
            .append_pair("h", &height.to_string())
            .append_pair("fit", "contain")
            .finish();
        format!("/img?{query}")
    }

    /// The stylesheet's address (content-hashed).
    pub fn stylesheet(&self) -> &'static str {
        assets::stylesheet()
    }

    /// The small script's address (content-hashed); pages work without it.
    pub fn script(&self) -> &'static str {
        assets::script()
    }

    /// Whether an admin is signed in.
    pub fn is_admin(&self) -> bool {
        self.user.as_ref().is_some_and(|u| u.admin)
    }

    /// The signed-in user's email.
    pub fn email(&self) -> Option<&str> {
        self.user.as_ref().map(|u| u.email.as_str())
    }

    /// The language switcher: every language, with the link that switches to it and comes
    /// back here.
    pub fn languages(&self) -> Vec<LangLink> {
        Lang::ALL
            .into_iter()
            .map(|lang| LangLink {
                code: lang.code(),
                name: lang.native_name(),
                href: format!("/lang/{}?next={}", lang.code(), encode(&self.here)),
                current: lang == self.lang,
            })
            .collect()
    }

    /// The login link that comes back here.
    pub fn login_href(&self) -> String {
        if self.here == "/" || self.here.starts_with("/login") || self.here.starts_with("/register") {
            "/login".to_owned()
        } else {
            format!("/login?next={}", encode(&self.here))
        }
    }

    /// The page, with the cookies this request must set, never cached (it is per user).
    pub fn render(&self, html: Result<String, askama::Error>) -> Response {
        let mut answer = match html {
            Ok(html) => Html(html).into_response(),
            Err(err) => {
                return shop_kit::Problem::internal(anyhow::anyhow!("template: {err}")).into_response();
            }
        };
        answer
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        crate::session::append_cookies(&mut answer, &self.cookies);
        answer
    }

    /// `303 See Other` to a local path, with the cookies this request must set.
    pub fn redirect(&self, to: &str) -> Response {
        let to = crate::routes::session::local_path(Some(to));
        let location = HeaderValue::from_str(&to).unwrap_or_else(|_| HeaderValue::from_static("/"));
        let mut answer = (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response();
        crate::session::append_cookies(&mut answer, &self.cookies);
        answer
    }

    /// The signed-in user, or a redirect to the login page that comes back here.
    pub fn need_user(&self) -> Result<&User, Response> {
        self.user.as_ref().ok_or_else(|| self.redirect(&self.login_href()))
    }

    /// Nothing for an admin; a login redirect for nobody; 403 for anyone else.
    pub fn need_admin(&self) -> Result<&User, Response> {
        let user = self.need_user()?;
        if user.admin {
            Ok(user)
        } else {
            Err(self.error_page(StatusCode::FORBIDDEN, "error-forbidden"))
        }
    }

    /// A form's fields, or a page saying the form could not be read (422): a body that is not
    /// a form, or a field that does not fit (never axum's plain-text rejection).
    fn form<T>(&self, input: FormInput<T>) -> Result<T, Response> {
        input
            .map(|axum::Form(form)| form)
            .map_err(|_| self.error_page(StatusCode::UNPROCESSABLE_ENTITY, "error-invalid"))
    }

    /// A posted form whose `_csrf` is this session's token; otherwise the page to answer with
    /// (422 for a body that is not a readable form, 403 for a missing or wrong token).
    pub fn posted<T: CsrfForm>(&self, input: FormInput<T>) -> Result<T, Response> {
        let form = self.form(input)?;
        self.check_csrf(form.csrf())?;
        Ok(form)
    }

    /// Whether a form's `_csrf` field is this session's token; otherwise the refusal page.
    fn check_csrf(&self, sent: Option<&str>) -> Result<(), Response> {
        if self
            .state
            .sessions
            .csrf_valid(self.resolved.nonce.as_deref(), self.resolved.session_id(), sent)
        {
            Ok(())
        } else {
            self.state.metrics.csrf_rejected.inc();
            Err(self.error_page(StatusCode::FORBIDDEN, "error-csrf"))
        }
    }

    /// A page that says what went wrong (`key` is its text), with `status`.
    pub fn error_page(&self, status: StatusCode, key: &str) -> Response {
        let mut answer = self.render(askama::Template::render(&shop::ErrorPage {
            ctx: self,
            title: self.t(key),
            status: status.as_u16(),
        }));
        *answer.status_mut() = status;
        answer
    }

    /// The page for a failed call: login for 401, the error pages otherwise.
    pub fn fail(&self, err: &ApiError) -> Response {
        match err {
            ApiError::Unavailable => {
                let mut answer = self.error_page(StatusCode::SERVICE_UNAVAILABLE, "error-unavailable");
                answer
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                answer
            }
            ApiError::Problem(p) => match p.status {
                401 => self.redirect(&self.login_href()),
                403 => self.error_page(StatusCode::FORBIDDEN, "error-forbidden"),
                404 => self.error_page(StatusCode::NOT_FOUND, "error-not-found"),
                429 => self.error_page(StatusCode::TOO_MANY_REQUESTS, "error-throttled"),
                400..=499 => self.error_page(StatusCode::UNPROCESSABLE_ENTITY, "error-invalid"),
                _ => self.error_page(StatusCode::BAD_GATEWAY, "error-unavailable"),
            },
        }
    }

    /// A call to `upstream` as the signed-in user, with the caller's address.
    pub fn request(&self, upstream: Upstream, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.state
            .upstreams
            .call(upstream, method, path)
            .headers(self.forwarded.clone())
    }

    /// `GET path` at `upstream`, as the signed-in user.
    pub async fn get<T: DeserializeOwned>(&self, upstream: Upstream, path: &str) -> Result<T, ApiError> {
        answer(self.request(upstream, Method::GET, path).send_traced().await).await
    }

    /// `method path` with a JSON body, as the signed-in user.
    pub async fn send<T: DeserializeOwned>(
        &self,
        upstream: Upstream,
        method: Method,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, ApiError> {
        answer(self.request(upstream, method, path).json(body).send_traced().await).await
    }

    /// Sends a request made with [`Ctx::request`] (one that needs more than a JSON body, such
    /// as checkout's `Idempotency-Key`) and reads its answer.
    pub async fn fetch<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<T, ApiError> {
        answer(request.send_traced().await).await
    }

    /// `method path` whose success has no body worth reading (204).
    pub async fn call(
        &self,
        upstream: Upstream,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<(), ApiError> {
        let mut request = self.request(upstream, method, path);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send_traced().await.map_err(|_| ApiError::Unavailable)?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(problem_of(response).await)
        }
    }
}

async fn problem_of(response: reqwest::Response) -> ApiError {
    let status = response.status().as_u16();
    if status >= 500 {
        return ApiError::Unavailable;
    }
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    ApiError::Problem(Problem::from_body(status, body))
}

async fn answer<T: DeserializeOwned>(sent: Result<reqwest::Response, reqwest::Error>) -> Result<T, ApiError> {
    let response = sent.map_err(|_| ApiError::Unavailable)?;
    if !response.status().is_success() {
        return Err(problem_of(response).await);
    }
    response.json().await.map_err(|err| {
        tracing::warn!(error = %err, "a service answered something the UI cannot read");
        ApiError::Unavailable
    })
}

/// The short number an order is shown by: the last 8 hex digits of its id, upper case. Order
/// ids are UUIDv7, whose leading digits are a timestamp (two orders of the same minute share
/// them); the trailing ones are random.
pub fn order_number(id: impl std::borrow::Borrow<uuid::Uuid>) -> String {
    let hex = id.borrow().simple().to_string();
    hex[hex.len() - 8..].to_ascii_uppercase()
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A query string from pairs, skipping empty values.
pub fn query(pairs: &[(&str, String)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        if !value.is_empty() {
            q.append_pair(key, value);
        }
    }
    q.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_of_the_same_moment_get_different_numbers() {
        let a = uuid::Uuid::parse_str("01a22a2e-0000-7000-8000-00000000abcd").unwrap_or_default();
        let b = uuid::Uuid::parse_str("01a22a2e-0000-7000-8000-00000000abce").unwrap_or_default();
        assert_eq!(order_number(a), "0000ABCD");
        assert_ne!(order_number(a), order_number(b));
        assert_eq!(order_number(b).len(), 8);
    }
}
