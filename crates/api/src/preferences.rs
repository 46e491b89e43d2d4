//! A user's preferences (`/me/preferences`, served by cart): small JSON values by key, for the
//! UI's sort order, page size and language.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The longest key.
pub const MAX_KEY_LEN: usize = 64;

/// Whether `key` may name a preference: 1 to [`MAX_KEY_LEN`] ASCII letters, digits, `_`, `-`
/// or `.`, starting with a letter or digit.
pub fn valid_key(key: &str) -> bool {
    let bytes = key.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_KEY_LEN
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// One preference: `GET` and `PUT /me/preferences/{key}` answer it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Preference {
    pub key: String,
    /// Any JSON value.
    pub value: serde_json::Value,
}

/// All of a user's preferences, and the limits they live within: `GET /me/preferences`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Preferences {
    /// Key → value, sorted by key.
    pub items: BTreeMap<String, serde_json::Value>,
    /// The most keys a user may hold.
    pub max_keys: u32,
    /// The largest value, in bytes of compact JSON.
    pub max_value_bytes: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        for ok in ["sort", "page_size", "ui.lang", "a", "A-1", &"k".repeat(MAX_KEY_LEN)] {
            assert!(valid_key(ok), "{ok}");
        }
        for bad in [
            "",
            "_x",
            ".hidden",
            "a b",
            "a/b",
            "ключ",
            "a:b",
            "a\0",
            &"k".repeat(MAX_KEY_LEN + 1),
        ] {
            assert!(!valid_key(bad), "{bad:?}");
        }
    }
}
