//! Each user's preferences in Redis: one hash `prefs:{user_id}` of key → compact JSON, with
//! the key limit enforced by one atomic Lua script (no read-modify-write across replicas).

use std::collections::BTreeMap;
use std::sync::Arc;

use redis::{AsyncCommands, Script};
use shop_kit::Problem;
use shop_kit::redis::Redis;
use uuid::Uuid;

use crate::config::PrefLimits;

/// Replaces a field, or adds it when the hash has room. Returns 1 (added), 0 (replaced) or -1
/// (the hash already holds the most keys allowed).
const SET: &str = r"
local key, field, value, max_keys = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
if redis.call('HEXISTS', key, field) == 1 then
  redis.call('HSET', key, field, value)
  return 0
end
if redis.call('HLEN', key) >= max_keys then return -1 end
redis.call('HSET', key, field, value)
return 1
";

/// A preference's key: 1 to 64 ASCII letters, digits, `_`, `-` or `.`, starting with a letter
/// or digit (see [`shop_api::preferences::valid_key`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefKey(String);

impl PrefKey {
    /// Checks a key from the path; a bad one is a 422 naming `key`.
    pub fn parse(key: String) -> Result<Self, Problem> {
        if shop_api::preferences::valid_key(&key) {
            Ok(Self(key))
        } else {
            Err(Problem::invalid(
                "key",
                format!(
                    "must be 1 to {} ASCII letters, digits, '_', '-' or '.', starting with a letter or digit",
                    shop_api::preferences::MAX_KEY_LEN
                ),
            ))
        }
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A value checked against the size limit: its compact JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefValue(String);

impl PrefValue {
    /// Serializes `value` compactly; more than `max_bytes` is a 413.
    pub fn new(value: &serde_json::Value, max_bytes: u32) -> Result<Self, Problem> {
        let text = serde_json::to_string(value).map_err(Problem::internal)?;
        if text.len() > max_bytes as usize {
            return Err(Problem::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                "value-too-large",
                "Value too large",
            )
            .detail(format!(
                "a preference holds at most {max_bytes} bytes of JSON; this one has {}",
                text.len()
            ))
            .with("max_value_bytes", max_bytes));
        }
        Ok(Self(text))
    }
}

/// What storing a preference came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    Added,
    Replaced,
    /// A new key, but the user already has the most keys allowed.
    Full,
}

/// Access to the preferences.
#[derive(Clone)]
pub struct PrefStore {
    redis: Redis,
    limits: PrefLimits,
    set: Arc<Script>,
}

fn key(user: Uuid) -> String {
    format!("prefs:{user}")
}

/// Reads a stored value; anything that is not JSON (written by hand in Redis) reads as a string.
fn parse(text: String) -> serde_json::Value {
    serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
}

impl PrefStore {
    /// A store with these limits.
    pub fn new(redis: Redis, limits: PrefLimits) -> Self {
        Self {
            redis,
            limits,
            set: Arc::new(Script::new(SET)),
        }
    }

    /// The limits.
    pub fn limits(&self) -> PrefLimits {
        self.limits
    }

    /// All of a user's preferences, by key.
    pub async fn all(&self, user: Uuid) -> Result<BTreeMap<String, serde_json::Value>, redis::RedisError> {
        let mut conn = self.redis.conn().await?;
        let raw: BTreeMap<String, String> = conn.hgetall(key(user)).await?;
        Ok(raw.into_iter().map(|(k, v)| (k, parse(v))).collect())
    }

    /// One preference.
    pub async fn get(&self, user: Uuid, pref: &PrefKey) -> Result<Option<serde_json::Value>, redis::RedisError> {
        let mut conn = self.redis.conn().await?;
        let raw: Option<String> = conn.hget(key(user), pref.as_str()).await?;
        Ok(raw.map(parse))
    }

    /// Adds or replaces a preference, within the key limit, in one atomic step.
    pub async fn set(&self, user: Uuid, pref: &PrefKey, value: &PrefValue) -> Result<Stored, redis::RedisError> {
        let mut conn = self.redis.conn().await?;
        let result: i64 = self
            .set
            .key(key(user))
            .arg(pref.as_str())
            .arg(&value.0)
            .arg(self.limits.max_keys)
            .invoke_async(&mut conn)
            .await?;
        Ok(match result {
            1 => Stored::Added,
            0 => Stored::Replaced,
            _ => Stored::Full,
        })
    }

    /// Removes a preference; `false` when there was none.
    pub async fn delete(&self, user: Uuid, pref: &PrefKey) -> Result<bool, redis::RedisError> {
        let mut conn = self.redis.conn().await?;
        let removed: i64 = conn.hdel(key(user), pref.as_str()).await?;
        Ok(removed == 1)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    #[test]
    fn keys_are_checked() {
        assert_eq!(PrefKey::parse("page_size".into()).unwrap().as_str(), "page_size");
        for bad in ["", "../x", "a b", "prefs:other", &"k".repeat(65)] {
            assert_eq!(PrefKey::parse(bad.into()).unwrap_err().status(), 422, "{bad:?}");
        }
    }

    #[test]
    fn values_are_measured_as_compact_json() {
        assert_eq!(PrefValue::new(&json!({"a": [1, 2]}), 16).unwrap().0, r#"{"a":[1,2]}"#);
        let big = json!("x".repeat(20));
        assert_eq!(PrefValue::new(&big, 22).unwrap().0.len(), 22);
        assert_eq!(PrefValue::new(&big, 21).unwrap_err().status(), 413);
    }

    #[test]
    fn stored_text_reads_back() {
        assert_eq!(parse(r#"{"a":1}"#.into()), json!({"a": 1}));
        assert_eq!(parse("not json".into()), json!("not json"));
    }
}
