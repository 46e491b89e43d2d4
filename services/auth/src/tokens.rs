//! Issuing tokens: access JWTs (signed with the newest key), opaque refresh tokens, the JWKS.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Header;
use jsonwebtoken::jwk::JwkSet;
use sha2::{Digest as _, Sha256};
use shop_kit::auth::{Claims, Plan, Role, Scope, TokenVerifier};
use shop_kit::keys::{self, SigningKey};
use uuid::Uuid;

/// Signs access tokens and publishes the public keys.
pub struct TokenIssuer {
    keys: Vec<SigningKey>,
    issuer: String,
    audience: String,
    access_ttl: Duration,
    service_ttl: Duration,
}

/// A signed token and its lifetime.
#[derive(Debug)]
pub struct Issued {
    /// The JWT.
    pub token: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

impl TokenIssuer {
    /// An issuer over `keys` (oldest first; the last one signs).
    pub fn new(
        keys: Vec<SigningKey>,
        issuer: String,
        audience: String,
        access_ttl: Duration,
        service_ttl: Duration,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(!keys.is_empty(), "at least one signing key is required");
        Ok(Self {
            keys,
            issuer,
            audience,
            access_ttl,
            service_ttl,
        })
    }

    /// The key that signs new tokens.
    fn current(&self) -> &SigningKey {
        // `new` guarantees at least one key.
        &self.keys[self.keys.len() - 1]
    }

    /// Claims for `sub` with `role`, issued now and expiring after `ttl`; the optional claims
    /// are left out for the caller to fill in.
    fn claims(&self, sub: String, role: Role, ttl: Duration) -> anyhow::Result<Claims> {
        let now = chrono::Utc::now().timestamp();
        Ok(Claims {
            sub,
            email: None,
            role,
            plan: Plan::Free,
            plan_expires_at: None,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            exp: now + i64::try_from(ttl.as_secs())?,
            jti: Uuid::new_v4().to_string(),
            sid: None,
            scope: None,
        })
    }

    /// Signs `claims` with the current key.
    fn sign(&self, claims: &Claims) -> anyhow::Result<Issued> {
        let key = self.current();
        let mut header = Header::new(key.alg);
        header.kid = Some(key.kid.clone());
        header.typ = Some("JWT".into());
        let token = jsonwebtoken::encode(&header, claims, &key.encoding)?;
        Ok(Issued {
            token,
            expires_in: u64::try_from(claims.exp - claims.iat)?,
        })
    }

    /// An access token for a user, in session `sid`, with the plan in effect and, for a
    /// premium plan that ends, its end (Unix seconds).
    pub fn access_token(
        &self,
        user_id: Uuid,
        email: &str,
        role: Role,
        plan: (Plan, Option<i64>),
        sid: Uuid,
    ) -> anyhow::Result<Issued> {
        let claims = Claims {
            email: Some(email.to_owned()),
            plan: plan.0,
            plan_expires_at: plan.1,
            sid: Some(sid),
            ..self.claims(user_id.to_string(), role, self.access_ttl)?
        };
        self.sign(&claims)
    }

    /// A short-lived token with role `service` for an internal client, carrying `scopes`
    /// (the `scope` claim, space-separated; absent when there are none).
    pub fn service_token(&self, client_id: &str, scopes: &[Scope]) -> anyhow::Result<Issued> {
        let claims = Claims {
            scope: (!scopes.is_empty()).then(|| Scope::join(scopes)),
            ..self.claims(client_id.to_owned(), Role::Service, self.service_ttl)?
        };
        self.sign(&claims)
    }

    /// Every public key, for `/.well-known/jwks.json`.
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: self.keys.iter().map(|k| k.jwk.clone()).collect(),
        }
    }

    /// A verifier that accepts every configured key.
    pub fn verifier(&self) -> anyhow::Result<TokenVerifier> {
        let keys = self
            .keys
            .iter()
            .map(keys::verifying_key)
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(TokenVerifier::with_keys(&self.issuer, &self.audience, keys))
    }
}

/// A new opaque refresh token and the SHA-256 that is stored in its place.
pub fn new_refresh_token() -> (String, [u8; 32]) {
    let bytes: [u8; 32] = rand::random();
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_refresh_token(&token);
    (token, hash)
}

/// The stored form of a refresh token.
pub fn hash_refresh_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Whether a string could be one of our refresh tokens (43 base64url characters).
pub fn looks_like_refresh_token(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let (a, ha) = new_refresh_token();
        let (b, hb) = new_refresh_token();
        assert_ne!(a, b);
        assert_ne!(ha, hb);
        assert!(looks_like_refresh_token(&a), "{a}");
        assert_eq!(hash_refresh_token(&a), ha);
        assert!(!looks_like_refresh_token("short"));
        assert!(!looks_like_refresh_token(&"=".repeat(43)));
    }
}
