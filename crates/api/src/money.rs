//! Money on the wire: one reading of a price, the same in a JSON body and in a query string.
//!
//! A body's `Decimal` field (rust_decimal's serde) takes a decimal string or a JSON number, in
//! plain or exponent notation (`"19.90"`, `19.9`, `"1e3"`, `1e3`). [`parse`] reads query
//! parameters the same way, so `?price_min=1e3` means what `{"price": "1e3"}` means. The range
//! and the two decimal places are the owning service's check, after this.

use std::str::FromStr;

use rust_decimal::Decimal;

/// A price as text, in plain or exponent notation; `None` when it is neither.
pub fn parse(text: &str) -> Option<Decimal> {
    Decimal::from_str(text).or_else(|_| Decimal::from_scientific(text)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a body's `Decimal` field reads from `json`.
    fn from_body(json: &str) -> Option<Decimal> {
        serde_json::from_str::<Decimal>(json).ok()
    }

    #[test]
    fn a_query_reads_a_price_as_a_body_does() {
        for (text, json) in [
            ("19.90", r#""19.90""#),
            ("1e3", r#""1e3""#),
            ("1e3", "1e3"),
            ("1.5E2", "1.5e2"),
            ("19.9", "19.9"),
            ("0", "0"),
            ("-1", "-1"),
            ("1e-3", r#""1e-3""#),
        ] {
            assert_eq!(parse(text), from_body(json), "{text} vs {json}");
            assert!(parse(text).is_some(), "{text}");
        }
        for text in ["", "abc", "1,5", "0x10", "1e", "NaN"] {
            assert_eq!(parse(text), None, "{text}");
            assert_eq!(from_body(&format!("{text:?}")), None, "{text}");
        }
        assert_eq!(parse("1e3").map(|d| d.normalize().to_string()), Some("1000".to_owned()));
    }
}
