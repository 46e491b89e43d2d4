//! Access tokens: the claims, the verifier, and the extractors handlers ask for.
//!
//! Only auth holds private keys. Every service verifies tokens with auth's public keys, either
//! from PEM files (`JWT_PUBLIC_KEYS_DIR`, mounted from a Secret) or from auth's JWKS endpoint
//! (`JWKS_URL`), cached and refetched when a token names a key id we have not seen (at most
//! once per [`JWKS_MIN_REFRESH`], so forged key ids cannot make us hammer auth).
//!
//! Each key is accepted with exactly one algorithm, so `alg: none`, `HS256` signed with a public
//! key, and other algorithm-confusion tricks fail; `iss`, `aud`, `exp`, `iat` and `sub` are
//! required, `nbf` is honoured when present, a `crit` header is refused (we implement no JWS
//! extension, RFC 7515 §4.1.11), and no token is accepted that claims to live longer than
//! [`MAX_LIFETIME_SECS`] or to be issued in the future. Clocks may differ by [`LEEWAY_SECS`].
//!
//! A token of an ended session (logout, password change, deactivation, role change) is
//! refused once the verifier's [`Revocations`] list has it: within about a second everywhere
//! (see [`crate::revocation`]).
//!
//! Service tokens carry scopes (`scope`, from `shop_contract::ServiceName::scopes`); internal
//! routes take a [`ServiceScope`] of the one they need and refuse the rest with 403.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};
pub use shop_contract::Scope;
use uuid::Uuid;

use crate::Problem;
use crate::client::HttpClient;
use crate::config::{self, ConfigError};
use crate::keys::{self, VerifyingKey};
use crate::revocation::{self, Revocations};

/// The least time between two JWKS fetches caused by unknown key ids.
pub const JWKS_MIN_REFRESH: Duration = Duration::from_secs(10);
/// How long a fetched JWKS is trusted; the first request after that refetches it (and waits).
pub const JWKS_MAX_AGE: Duration = Duration::from_secs(300);
/// Clock skew tolerated on `exp`, `nbf` and `iat`: small, because the services' clocks are
/// NTP-synchronised and every second of leeway is a second an expired token still works.
pub const LEEWAY_SECS: u64 = 5;
/// The longest lifetime (`exp - iat`) a verifier accepts, whatever the signer chose: a leaked
/// key or a misconfigured issuer cannot mint day-long tokens. Auth refuses to start with an
/// access- or service-token lifetime above it.
pub const MAX_LIFETIME_SECS: i64 = 3600;

/// Who a token speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A shopper.
    Customer,
    /// A shop administrator.
    Admin,
    /// An internal service (client-credentials grant).
    Service,
}

impl Role {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Admin => "admin",
            Self::Service => "service",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "customer" => Ok(Self::Customer),
            "admin" => Ok(Self::Admin),
            "service" => Ok(Self::Service),
            other => Err(format!("unknown role `{other}`")),
        }
    }
}

/// The subscription plan in effect (an expired premium is `free`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    /// The default.
    #[default]
    Free,
    /// Paid (granted by an admin; there is no payment provider).
    Premium,
}

impl Plan {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Premium => "premium",
        }
    }
}

impl std::str::FromStr for Plan {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "free" => Ok(Self::Free),
            "premium" => Ok(Self::Premium),
            other => Err(format!("unknown plan `{other}`")),
        }
    }
}

/// The claims of a Shopkeeper access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The user id (UUID) or, for service tokens, the client id.
    pub sub: String,
    /// The user's email; absent on service tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The role.
    pub role: Role,
    /// The effective plan when the token was issued.
    #[serde(default)]
    pub plan: Plan,
    /// When a premium plan ends (Unix seconds); absent for free plans and for premium
    /// without an end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_expires_at: Option<i64>,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Expiry (Unix seconds).
    pub exp: i64,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Token id.
    pub jti: String,
    /// The session (refresh-token family) this token was issued for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
    /// Service tokens: the scopes granted, space-separated (OAuth 2.0, RFC 8693 §4.2); absent
    /// on user tokens and on a service token granted none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl Claims {
    /// The plan in effect at `now` (Unix seconds): premium lapses at its end even while the
    /// token lives on.
    pub fn plan_at(&self, now: i64) -> Plan {
        match (self.plan, self.plan_expires_at) {
            (Plan::Premium, Some(end)) if end <= now => Plan::Free,
            (plan, _) => plan,
        }
    }

    /// The scopes of a service token that this build knows (unknown names grant nothing).
    pub fn scopes(&self) -> Vec<Scope> {
        let mut scopes: Vec<Scope> = self
            .scope
            .as_deref()
            .unwrap_or_default()
            .split_ascii_whitespace()
            .filter_map(Scope::parse)
            .collect();
        scopes.sort_unstable();
        scopes.dedup();
        scopes
    }

    /// Whether the token carries `scope`.
    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scope
            .as_deref()
            .is_some_and(|s| s.split_ascii_whitespace().any(|name| name == scope.as_str()))
    }
}

/// Why a token was refused. Every variant is a 401.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// Not a JWT, or a header we cannot read.
    #[error("malformed token")]
    Malformed,
    /// The header names no key id we accept.
    #[error("unknown signing key")]
    UnknownKey,
    /// Signature, algorithm, issuer, audience or a required claim is wrong.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// `exp` is past.
    #[error("token expired")]
    Expired,
    /// The session the token was issued for has ended (logout, password change, ...).
    #[error("the session has ended")]
    Revoked,
}

enum KeySource {
    Static(HashMap<String, VerifyingKey>),
    Jwks(Jwks),
}

struct Jwks {
    url: String,
    client: HttpClient,
    cache: RwLock<Arc<HashMap<String, VerifyingKey>>>,
    fetched_at: tokio::sync::Mutex<Option<Instant>>,
}

impl Jwks {
    fn get(&self, kid: &str) -> Option<VerifyingKey> {
        self.cache.read().ok()?.get(kid).cloned()
    }

    /// Refetches when the cache is older than `min_age` (the lock makes concurrent callers
    /// wait for one fetch instead of all fetching).
    async fn refresh(&self, min_age: Duration) {
        let mut fetched_at = self.fetched_at.lock().await;
        if fetched_at.is_some_and(|t| t.elapsed() < min_age) {
            return;
        }
        *fetched_at = Some(Instant::now());
        match self.fetch().await {
            Ok(keys) => {
                tracing::info!(url = %self.url, keys = keys.len(), "JWKS refreshed");
                if let Ok(mut cache) = self.cache.write() {
                    *cache = Arc::new(keys);
                }
            }
            Err(e) => tracing::warn!(url = %self.url, error = %e, "JWKS fetch failed; keeping the cached keys"),
        }
    }

    async fn fetch(&self) -> anyhow::Result<HashMap<String, VerifyingKey>> {
        let set: jsonwebtoken::jwk::JwkSet = self
            .client
            .get(&self.url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(set
            .keys
            .iter()
            .filter_map(keys::from_jwk)
            .map(|k| (k.kid.clone(), k))
            .collect())
    }

    fn age_exceeds(&self, age: Duration) -> bool {
        self.fetched_at
            .try_lock()
            .map(|t| t.is_none_or(|t| t.elapsed() > age))
            .unwrap_or(false)
    }
}

/// How many verified tokens a verifier remembers.
pub const CACHE_ENTRIES: usize = 4096;

/// Verifies access tokens.
///
/// Tokens that verified are remembered (by their full text, never a hash of it, so a different
/// token can never hit another's entry) until they expire: a session sends the same token with
/// every request for its whole life, and the signature check is the expensive part. A cached
/// token is still refused once it expires or its key is no longer published.
pub struct TokenVerifier {
    issuer: String,
    audience: String,
    source: KeySource,
    verified: quick_cache::sync::Cache<Box<str>, Arc<Claims>>,
    revocations: Arc<Revocations>,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

/// Where the verification keys come from.
#[derive(Debug, Clone)]
pub enum KeyConfig {
    /// `JWT_PUBLIC_KEYS_DIR`: a directory of `<kid>.pem` public keys.
    Dir(PathBuf),
    /// `JWKS_URL`: auth's JWKS endpoint.
    JwksUrl(String),
}

/// What a verifying service reads from its environment.
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// `JWT_ISSUER`.
    pub issuer: String,
    /// `JWT_AUDIENCE`.
    pub audience: String,
    /// `JWT_PUBLIC_KEYS_DIR` or `JWKS_URL` (the directory wins when both are set).
    pub keys: KeyConfig,
    /// `AUTH_URL`: where the list of ended sessions is polled from (`None`: not polled, so a
    /// token of an ended session works until it expires; only tests leave it out).
    pub auth_url: Option<String>,
}

impl VerifierConfig {
    /// Reads `JWT_ISSUER`, `JWT_AUDIENCE` and `JWT_PUBLIC_KEYS_DIR` or `JWKS_URL`.
    pub fn from_env() -> Result<Self, ConfigError> {
        let keys = match (
            config::optional::<PathBuf>("JWT_PUBLIC_KEYS_DIR")?,
            config::optional::<String>("JWKS_URL")?,
        ) {
            (Some(dir), _) => KeyConfig::Dir(dir),
            (None, Some(url)) => {
                url::Url::parse(&url).map_err(|e| ConfigError::new("JWKS_URL", e))?;
                KeyConfig::JwksUrl(url)
            }
            (None, None) => {
                return Err(ConfigError::new(
                    "JWT_PUBLIC_KEYS_DIR",
                    "either JWT_PUBLIC_KEYS_DIR or JWKS_URL must be set",
                ));
            }
        };
        let auth_url = config::optional::<String>("AUTH_URL")?;
        if let Some(url) = &auth_url {
            url::Url::parse(url).map_err(|e| ConfigError::new("AUTH_URL", e))?;
        }
        Ok(Self {
            issuer: config::required("JWT_ISSUER")?,
            audience: config::required("JWT_AUDIENCE")?,
            keys,
            auth_url,
        })
    }
}

impl TokenVerifier {
    /// A verifier over a fixed set of keys (auth itself, and `JWT_PUBLIC_KEYS_DIR`).
    pub fn with_keys(issuer: impl Into<String>, audience: impl Into<String>, keys: Vec<VerifyingKey>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            source: KeySource::Static(keys.into_iter().map(|k| (k.kid.clone(), k)).collect()),
            verified: quick_cache::sync::Cache::new(CACHE_ENTRIES),
            revocations: Arc::default(),
        }
    }

    /// A verifier that fetches keys from a JWKS URL (lazily, on first use).
    pub fn with_jwks(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        url: impl Into<String>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            issuer: issuer.into(),
            audience: audience.into(),
            source: KeySource::Jwks(Jwks {
                url: url.into(),
                client: HttpClient::new(Duration::from_secs(3))?,
                cache: RwLock::new(Arc::new(HashMap::new())),
                fetched_at: tokio::sync::Mutex::new(None),
            }),
            verified: quick_cache::sync::Cache::new(CACHE_ENTRIES),
            revocations: Arc::default(),
        })
    }

    /// Builds the verifier a service's configuration asks for.
    pub fn from_config(config: &VerifierConfig) -> anyhow::Result<Self> {
        match &config.keys {
            KeyConfig::Dir(dir) => Ok(Self::with_keys(
                &config.issuer,
                &config.audience,
                keys::load_public_keys(dir)?,
            )),
            KeyConfig::JwksUrl(url) => Self::with_jwks(&config.issuer, &config.audience, url),
        }
    }

    /// Builds the verifier a service's configuration asks for and starts polling auth's list
    /// of ended sessions (when `AUTH_URL` is set). Needs a Tokio runtime.
    pub fn start(config: &VerifierConfig) -> anyhow::Result<Arc<Self>> {
        let verifier = Arc::new(Self::from_config(config)?);
        if let Some(auth_url) = &config.auth_url {
            revocation::spawn_poll(&verifier.revocations, auth_url)?;
        }
        Ok(verifier)
    }

    /// The sessions this verifier refuses: auth adds what it ends and refreshes it from its
    /// database; everyone else's is polled from auth by [`Self::start`].
    pub fn revocations(&self) -> &Arc<Revocations> {
        &self.revocations
    }

    async fn key(&self, kid: &str) -> Option<VerifyingKey> {
        match &self.source {
            KeySource::Static(keys) => keys.get(kid).cloned(),
            KeySource::Jwks(jwks) => {
                if jwks.age_exceeds(JWKS_MAX_AGE) {
                    jwks.refresh(JWKS_MAX_AGE).await;
                }
                if let Some(k) = jwks.get(kid) {
                    return Some(k);
                }
                jwks.refresh(JWKS_MIN_REFRESH).await;
                jwks.get(kid)
            }
        }
    }

    /// Whether `kid` is among the keys currently accepted (without fetching).
    fn still_published(&self, kid: &str) -> bool {
        match &self.source {
            KeySource::Static(keys) => keys.contains_key(kid),
            KeySource::Jwks(jwks) => jwks.get(kid).is_some(),
        }
    }

    /// Verifies a token and returns its claims.
    pub async fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let claims = self.verify_signed(token).await?;
        if claims.sid.is_some_and(|sid| self.revocations.contains(&sid)) {
            return Err(TokenError::Revoked);
        }
        Ok(claims)
    }

    /// [`Self::verify`] without the revocation list.
    async fn verify_signed(&self, token: &str) -> Result<Claims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        if let Some(claims) = self.verified.get(token) {
            if claims.exp + LEEWAY_SECS as i64 <= chrono::Utc::now().timestamp() {
                return Err(TokenError::Expired);
            }
            if self.still_published(&kid) {
                return Ok(Claims::clone(&claims));
            }
        }
        let claims = self.verify_uncached(token).await?;
        self.verified.insert(token.into(), Arc::new(claims.clone()));
        Ok(claims)
    }

    /// Verifies a token without the cache: header, key lookup, signature and claims.
    pub async fn verify_uncached(&self, token: &str) -> Result<Claims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let key = self.key(&kid).await.ok_or(TokenError::UnknownKey)?;
        self.verify_with(&key, token)
    }

    /// Verifies with a known key (synchronous; the hot path of [`Self::verify`]). It does not
    /// consult the revocation list.
    pub fn verify_with(&self, key: &VerifyingKey, token: &str) -> Result<Claims, TokenError> {
        let mut validation = Validation::new(key.alg);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        match jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation) {
            Ok(data) => {
                if data.header.crit.is_some() {
                    return Err(TokenError::Invalid(
                        "unsupported critical header extension (crit)".into(),
                    ));
                }
                let claims = data.claims;
                if claims.iat > chrono::Utc::now().timestamp() + LEEWAY_SECS as i64 {
                    return Err(TokenError::Invalid("issued in the future (iat)".into()));
                }
                if claims.exp - claims.iat > MAX_LIFETIME_SECS {
                    return Err(TokenError::Invalid(format!(
                        "lives longer than {MAX_LIFETIME_SECS} s (exp - iat)"
                    )));
                }
                Ok(claims)
            }
            Err(e) => Err(match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                jsonwebtoken::errors::ErrorKind::InvalidToken | jsonwebtoken::errors::ErrorKind::Base64(_) => {
                    TokenError::Malformed
                }
                other => TokenError::Invalid(format!("{other:?}")),
            }),
        }
    }

    /// The algorithms keys are accepted with (for docs and tests).
    pub fn algorithms(&self) -> Vec<Algorithm> {
        match &self.source {
            KeySource::Static(keys) => keys.values().map(|k| k.alg).collect(),
            KeySource::Jwks(_) => vec![Algorithm::EdDSA, Algorithm::RS256],
        }
    }
}

/// The bearer token of a request, if it has one.
pub fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

fn invalid_token(e: &TokenError) -> Problem {
    Problem::unauthorized(e.to_string()).header(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(r#"Bearer error="invalid_token""#),
    )
}

/// Refuses, on every route of `router`, a request whose `Authorization: Bearer` token does not
/// verify (401 `invalid_token`), public routes included: a client with a forged, expired or
/// ended token learns so at once, the same way everywhere, instead of being served as
/// anonymous by one route and refused by the next. Other schemes (HTTP Basic for the
/// client-credentials grant) pass untouched. The verified caller is kept for the extractors.
pub fn refuse_bad_bearer(router: axum::Router, verifier: Arc<TokenVerifier>) -> axum::Router {
    router.layer(axum::middleware::from_fn_with_state(verifier, check_bearer))
}

async fn check_bearer(
    axum::extract::State(verifier): axum::extract::State<Arc<TokenVerifier>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let is_bearer = request.headers().get(header::AUTHORIZATION).is_some_and(|value| {
        let bytes = value.as_bytes();
        bytes.len() >= 6 && bytes[..6].eq_ignore_ascii_case(b"bearer")
    });
    if !is_bearer {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let Some(token) = bearer_token(&parts) else {
        return invalid_token(&TokenError::Malformed).into_response();
    };
    match verifier.verify(token).await {
        Ok(claims) => {
            parts.extensions.insert(Caller(claims));
            next.run(axum::extract::Request::from_parts(parts, body)).await
        }
        Err(e) => invalid_token(&e).into_response(),
    }
}

/// Any verified caller: a user or a service. Handlers usually want one of the narrower
/// extractors below.
#[derive(Debug, Clone)]
pub struct Caller(pub Claims);

impl<S> FromRequestParts<S> for Caller
where
    S: Send + Sync,
    Arc<TokenVerifier>: FromRef<S>,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let token = bearer_token(parts).ok_or_else(|| Problem::unauthorized("a bearer token is required"))?;
        let verifier = Arc::<TokenVerifier>::from_ref(state);
        let claims = verifier.verify(token).await.map_err(|e| invalid_token(&e))?;
        let caller = Caller(claims);
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }
}

/// A signed-in user (customer or admin). Service tokens are refused (403).
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// The user id.
    pub id: Uuid,
    /// The user's email.
    pub email: String,
    /// `customer` or `admin`.
    pub role: Role,
    /// The effective plan when the token was issued.
    pub plan: Plan,
    /// The session the token belongs to.
    pub session_id: Option<Uuid>,
}

impl AuthUser {
    /// Whether the user is an admin.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

impl TryFrom<&Claims> for AuthUser {
    type Error = Problem;
    fn try_from(c: &Claims) -> Result<Self, Problem> {
        if c.role == Role::Service {
            return Err(Problem::forbidden("this endpoint is for users, not services"));
        }
        let id =
            Uuid::parse_str(&c.sub).map_err(|_| invalid_token(&TokenError::Invalid("sub is not a user id".into())))?;
        Ok(Self {
            id,
            email: c.email.clone().unwrap_or_default(),
            role: c.role,
            plan: c.plan,
            session_id: c.sid,
        })
    }
}

impl<S> FromRequestParts<S> for AuthUser
where
    S: Send + Sync,
    Arc<TokenVerifier>: FromRef<S>,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Caller(claims) = Caller::from_request_parts(parts, state).await?;
        AuthUser::try_from(&claims)
    }
}

/// `Option<AuthUser>`: `None` without an `Authorization` header (or for a service token); a
/// header that does not verify is still a 401, never silently anonymous.
impl<S> axum::extract::OptionalFromRequestParts<S> for AuthUser
where
    S: Send + Sync,
    Arc<TokenVerifier>: FromRef<S>,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Option<Self>, Self::Rejection> {
        if !parts.headers.contains_key(header::AUTHORIZATION) {
            return Ok(None);
        }
        let Caller(claims) = Caller::from_request_parts(parts, state).await?;
        Ok(AuthUser::try_from(&claims).ok())
    }
}

/// An admin. Anyone else is refused (403).
#[derive(Debug, Clone)]
pub struct AdminUser(pub AuthUser);

impl<S> FromRequestParts<S> for AdminUser
where
    S: Send + Sync,
    Arc<TokenVerifier>: FromRef<S>,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        if !user.is_admin() {
            return Err(Problem::forbidden("administrators only"));
        }
        Ok(Self(user))
    }
}

/// An internal service (client-credentials token), whatever its scopes. Users, admins
/// included, are refused (403). Internal routes ask for [`ServiceScope`] instead.
#[derive(Debug, Clone)]
pub struct ServiceCaller {
    /// The client id.
    pub client_id: String,
    /// The scopes its token carries.
    pub scopes: Vec<Scope>,
}

impl ServiceCaller {
    /// `Ok` when the token carries `scope`; otherwise the 403 that names it.
    pub fn require(&self, scope: Scope) -> Result<(), Problem> {
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(insufficient_scope(scope))
        }
    }
}

/// 403 `insufficient-scope`: a service token without the scope a route needs. The scope is
/// named in `detail`, in the `missing_scope` member and in `WWW-Authenticate` (RFC 6750 §3.1).
pub fn insufficient_scope(scope: Scope) -> Problem {
    Problem::new(
        axum::http::StatusCode::FORBIDDEN,
        "insufficient-scope",
        "Insufficient scope",
    )
    .detail(format!("this client's token lacks the scope `{scope}`"))
    .with("missing_scope", scope.as_str())
    .header(
        header::WWW_AUTHENTICATE,
        format!(r#"Bearer error="insufficient_scope", scope="{scope}""#),
    )
}

impl<S> FromRequestParts<S> for ServiceCaller
where
    S: Send + Sync,
    Arc<TokenVerifier>: FromRef<S>,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Caller(claims) = Caller::from_request_parts(parts, state).await?;
        if claims.role != Role::Service {
            return Err(Problem::forbidden("internal services only"));
        }
        Ok(Self {
            scopes: claims.scopes(),
            client_id: claims.sub,
        })
    }
}

/// A scope an extractor can ask for: one marker type per [`Scope`], in [`scope`].
pub trait RequiredScope: Send + Sync + 'static {
    /// The scope.
    const SCOPE: Scope;
}

/// The marker types of [`ServiceScope`]: `ServiceScope<scope::CatalogReserve>`.
pub mod scope {
    use super::{RequiredScope, Scope};

    macro_rules! markers {
        ($($name:ident),* $(,)?) => {$(
            #[doc = concat!("[`Scope::", stringify!($name), "`].")]
            #[derive(Debug, Clone, Copy)]
            pub struct $name;
            impl RequiredScope for $name {
                const SCOPE: Scope = Scope::$name;
            }
        )*};
    }

    markers!(CatalogRead, CatalogReserve, CartRead, CartClear);
}

/// An internal service whose token carries scope `S` (`ServiceScope<scope::CartRead>`). A user
/// is refused with 403 `forbidden`; a service without the scope with 403 `insufficient-scope`
/// naming it ([`insufficient_scope`]).
#[derive(Debug, Clone)]
pub struct ServiceScope<S> {
    /// The client id.
    pub client_id: String,
    scope: std::marker::PhantomData<fn() -> S>,
}

impl<S: RequiredScope> ServiceScope<S> {
    /// The scope this caller was checked for.
    pub const fn scope(&self) -> Scope {
        S::SCOPE
    }
}

impl<S, St> FromRequestParts<St> for ServiceScope<S>
where
    S: RequiredScope,
    St: Send + Sync,
    Arc<TokenVerifier>: FromRef<St>,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, Self::Rejection> {
        let caller = ServiceCaller::from_request_parts(parts, state).await?;
        caller.require(S::SCOPE)?;
        Ok(Self {
            client_id: caller.client_id,
            scope: std::marker::PhantomData,
        })
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use tower::ServiceExt as _;

    use super::*;

    fn claims(role: Role, scope: Option<&str>) -> Claims {
        let now = chrono::Utc::now().timestamp();
        Claims {
            sub: "order".into(),
            email: None,
            role,
            plan: Plan::Free,
            plan_expires_at: None,
            iss: "http://auth".into(),
            aud: "shopkeeper".into(),
            exp: now + 300,
            iat: now,
            jti: Uuid::new_v4().to_string(),
            sid: None,
            scope: scope.map(str::to_owned),
        }
    }

    #[test]
    fn scopes_are_read_from_the_space_separated_claim() {
        let c = claims(Role::Service, Some(" cart:read  catalog:read cart:read made:up "));
        assert_eq!(c.scopes(), [Scope::CatalogRead, Scope::CartRead]);
        assert!(c.has_scope(Scope::CartRead));
        assert!(!c.has_scope(Scope::CartClear));
        assert!(claims(Role::Service, None).scopes().is_empty());
        // A scope is a whole word, never a prefix.
        assert!(!claims(Role::Service, Some("cart:readonly")).has_scope(Scope::CartRead));
        let json = serde_json::to_value(claims(Role::Service, None)).expect("serializes");
        assert!(json.get("scope").is_none(), "{json}");
    }

    /// The answers of a route behind `ServiceScope<scope::CartClear>` to tokens of each shape.
    #[tokio::test]
    async fn service_scope_admits_only_services_holding_the_scope() {
        let (private, public) = keys::generate_ed25519_pem().expect("a key");
        let verifier = Arc::new(TokenVerifier::with_keys(
            "http://auth",
            "shopkeeper",
            vec![keys::parse_public_key("k1", public.as_bytes()).expect("public key")],
        ));
        let app: Router = Router::new()
            .route(
                "/clear",
                get(|svc: ServiceScope<scope::CartClear>| async move { svc.client_id }),
            )
            .with_state(verifier);
        let signing = jsonwebtoken::EncodingKey::from_ed_pem(private.as_bytes()).expect("signing key");
        let call = |c: Claims| {
            let mut header = jsonwebtoken::Header::new(Algorithm::EdDSA);
            header.kid = Some("k1".into());
            let token = jsonwebtoken::encode(&header, &c, &signing).expect("sign");
            let app = app.clone();
            async move {
                let resp = app
                    .oneshot(
                        Request::get("/clear")
                            .header(header::AUTHORIZATION, format!("Bearer {token}"))
                            .body(Body::empty())
                            .expect("request"),
                    )
                    .await
                    .expect("infallible");
                let status = resp.status();
                let www = resp
                    .headers()
                    .get(header::WWW_AUTHENTICATE)
                    .map(|v| v.to_str().unwrap_or_default().to_owned());
                let body = axum::body::to_bytes(resp.into_body(), 1 << 16).await.expect("body");
                (status, www, serde_json::from_slice::<serde_json::Value>(&body).ok())
            }
        };

        let (status, _, _) = call(claims(Role::Service, Some("cart:read cart:clear"))).await;
        assert_eq!(status, StatusCode::OK);

        let (status, www, body) = call(claims(Role::Service, Some("cart:read catalog:reserve"))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            www.as_deref(),
            Some(r#"Bearer error="insufficient_scope", scope="cart:clear""#)
        );
        let body = body.expect("a problem document");
        assert_eq!(body["type"], "https://shopkeeper.dev/problems/insufficient-scope");
        assert_eq!(body["missing_scope"], "cart:clear");
        assert!(
            body["detail"].as_str().is_some_and(|d| d.contains("cart:clear")),
            "{body}"
        );

        let (status, _, _) = call(claims(Role::Service, None)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // An admin's token is no service token, whatever `scope` it carries.
        let (status, _, body) = call(claims(Role::Admin, Some("cart:clear"))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            body.expect("a problem document")["type"],
            "https://shopkeeper.dev/problems/forbidden"
        );
    }
}
