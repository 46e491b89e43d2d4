//! What the API sends back.

use chrono::{DateTime, Utc};
use serde::Serialize;
use shop_kit::auth::{Plan, Role};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::store::User;
use crate::tokens::Issued;

/// A user as the API shows it (never the password hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub role: Role,
    pub is_active: bool,
    /// The plan in effect now (an expired premium is `free`).
    pub plan: Plan,
    /// The subscription as stored.
    pub subscription: SubscriptionView,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The stored subscription.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionView {
    /// `free` or `premium`.
    pub plan: String,
    /// When premium ends; `null` for no end.
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether premium is in effect now.
    pub active: bool,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        let plan = u.effective_plan(Utc::now());
        Self {
            id: u.id,
            email: u.email.clone(),
            name: u.name.clone(),
            phone: u.phone.clone(),
            address: u.address.clone(),
            role: u.role(),
            is_active: u.is_active,
            plan,
            subscription: SubscriptionView {
                plan: u.plan.clone(),
                expires_at: u.plan_expires_at,
                active: plan == Plan::Premium,
            },
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// The answer of login and refresh (OAuth2 token response).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Present for user sessions; absent on service tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Always `bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Service tokens: the scopes granted, space-separated (RFC 6749 §5.1); absent when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl TokenResponse {
    /// A token response.
    pub fn new(access: Issued, refresh: Option<String>) -> Self {
        Self {
            access_token: access.token,
            refresh_token: refresh,
            token_type: "bearer",
            expires_in: access.expires_in,
            scope: None,
        }
    }
}

/// A page of users.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<UserView>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
}
