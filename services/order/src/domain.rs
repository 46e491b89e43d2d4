//! Types that validate on construction: the idempotency key and the cart fingerprint. (Order
//! statuses are `shop_api::OrderStatus`.)

use sha2::{Digest, Sha256};
use shop_kit::Problem;
use uuid::Uuid;

/// The longest `Idempotency-Key`.
pub const MAX_KEY_LEN: usize = 128;

/// An `Idempotency-Key`: 1–128 printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Parses the header's value; `None` (no header) is a 400, a bad value a 422.
    pub fn parse(value: Option<&[u8]>) -> Result<Self, Problem> {
        let Some(raw) = value else {
            return Err(Problem::bad_request("the Idempotency-Key header is required"));
        };
        if raw.is_empty() || raw.len() > MAX_KEY_LEN {
            return Err(Problem::invalid(
                "Idempotency-Key",
                format!("must be 1 to {MAX_KEY_LEN} characters"),
            ));
        }
        if !raw.iter().all(|b| (0x20..=0x7e).contains(b)) {
            return Err(Problem::invalid("Idempotency-Key", "must be printable ASCII"));
        }
        // Checked above: printable ASCII is valid UTF-8.
        Ok(Self(String::from_utf8_lossy(raw).into_owned()))
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The fingerprint of a cart: sha256 over its lines sorted by product, as hex.
pub fn fingerprint(lines: &[(Uuid, i64)]) -> String {
    let mut sorted = lines.to_vec();
    sorted.sort();
    let mut hasher = Sha256::new();
    for (id, qty) in sorted {
        hasher.update(format!("{id}:{qty};").as_bytes());
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(IdempotencyKey::parse(None).unwrap_err().status(), 400);
        assert_eq!(IdempotencyKey::parse(Some(b"")).unwrap_err().status(), 422);
        assert_eq!(IdempotencyKey::parse(Some(&[b'a'; 129])).unwrap_err().status(), 422);
        assert_eq!(IdempotencyKey::parse(Some(b"a\x01")).unwrap_err().status(), 422);
        assert_eq!(IdempotencyKey::parse(Some(&[b'k'; 128])).unwrap().as_str().len(), 128);
        assert_eq!(IdempotencyKey::parse(Some(b"order 1")).unwrap().as_str(), "order 1");
    }

    #[test]
    fn fingerprints_ignore_line_order() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        assert_eq!(fingerprint(&[(a, 1), (b, 2)]), fingerprint(&[(b, 2), (a, 1)]));
        assert_ne!(fingerprint(&[(a, 1), (b, 2)]), fingerprint(&[(a, 2), (b, 1)]));
        assert_eq!(fingerprint(&[]).len(), 64);
    }
}
