//! Values that validate when they are constructed.

use rust_decimal::Decimal;
use shop_kit::problem::FieldError;

/// The highest price: `NUMERIC(12,2)` holds 10 digits before the point.
pub const MAX_PRICE: Decimal = Decimal::from_parts(3_567_587_327, 232, 0, false, 2); // 9_999_999_999.99

/// Collects field errors while a request is checked.
#[derive(Debug, Default)]
pub struct Errors(pub Vec<FieldError>);

impl Errors {
    /// Records the error of `result` under `pointer`, returning its value if any.
    pub fn check<T>(&mut self, pointer: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(message) => {
                self.0.push(FieldError::new(pointer, message));
                None
            }
        }
    }

    /// Records an error.
    pub fn add(&mut self, pointer: &str, message: impl Into<String>) {
        self.0.push(FieldError::new(pointer, message));
    }

    /// `Err(422)` when anything was recorded.
    pub fn finish(self) -> Result<(), shop_kit::Problem> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(shop_kit::Problem::validation(self.0))
        }
    }
}

/// A SKU: 1-64 characters of letters, digits, `.`, `_`, `-`, starting with a letter or digit.
/// Unique whatever its case; stored as given.
pub fn sku(raw: &str) -> Result<String, String> {
    let s = raw.trim();
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(s.to_owned())
    } else {
        Err("must be 1-64 letters, digits, '.', '_' or '-'".into())
    }
}

/// A slug: lower-case words of letters and digits joined by single dashes, at most 64.
pub fn slug(raw: &str) -> Result<String, String> {
    let s = raw.trim();
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.split('-')
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    if ok {
        Ok(s.to_owned())
    } else {
        Err("must be lower-case words of letters and digits joined by '-'".into())
    }
}

/// A name or title: trimmed, 1 to `max` characters, no control characters.
pub fn text(raw: &str, max: usize) -> Result<String, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if s.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(s.to_owned())
}

/// A description: up to 10 000 characters; line breaks and tabs allowed.
pub fn description(raw: &str) -> Result<String, String> {
    let s = raw.trim().replace("\r\n", "\n");
    if s.chars().count() > 10_000 {
        return Err("must be at most 10000 characters".into());
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err("must not contain control characters".into());
    }
    Ok(s)
}

/// A price: 0 to 9 999 999 999.99 with at most two decimals.
pub fn price(p: Decimal) -> Result<Decimal, String> {
    if p.is_sign_negative() && !p.is_zero() {
        return Err("must not be negative".into());
    }
    if p > MAX_PRICE {
        return Err("must be at most 9999999999.99".into());
    }
    if p.normalize().scale() > 2 {
        return Err("must have at most two decimal places".into());
    }
    Ok(p.round_dp(2))
}

/// A stock level: 0 to 1 000 000 000.
pub fn stock(n: i64) -> Result<i32, String> {
    match i32::try_from(n) {
        Ok(v) if (0..=1_000_000_000).contains(&v) => Ok(v),
        _ if n < 0 => Err("must not be negative".into()),
        _ => Err("must be at most 1000000000".into()),
    }
}

/// The image list: at most 20 absolute `http`/`https` URLs without credentials, each at most
/// 2048 characters.
pub fn images(raw: &[String]) -> Result<Vec<String>, String> {
    if raw.len() > 20 {
        return Err("at most 20 images".into());
    }
    raw.iter()
        .enumerate()
        .map(|(i, u)| {
            let parsed = url::Url::parse(u.trim()).map_err(|e| format!("image {i}: not a URL ({e})"))?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
                return Err(format!("image {i}: only http and https URLs are allowed"));
            }
            if !parsed.username().is_empty() || parsed.password().is_some() {
                return Err(format!("image {i}: URLs with credentials are not allowed"));
            }
            if u.len() > 2048 {
                return Err(format!("image {i}: longer than 2048 characters"));
            }
            Ok(parsed.to_string())
        })
        .collect()
}

/// A JSON Schema that compiles (draft detected from `$schema`, 2020-12 by default). Remote
/// `$ref`s are not fetched (the resolver has no network), so they fail here.
pub fn json_schema(schema: &serde_json::Value) -> Result<jsonschema::Validator, String> {
    if !schema.is_object() {
        return Err("must be a JSON object".into());
    }
    // The crate panics on a `$schema` it cannot detect; keep that a 422.
    match std::panic::catch_unwind(|| jsonschema::validator_for(schema)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!(
            "not a valid JSON Schema: {e} (at {})",
            e.instance_path().as_str()
        )),
        Err(_) => Err("not a valid JSON Schema: unknown $schema".into()),
    }
}

/// Validates attributes against a template's schema; the errors name JSON pointers under
/// `/attributes`.
pub fn check_attributes(validator: &jsonschema::Validator, attributes: &serde_json::Value) -> Vec<FieldError> {
    validator
        .iter_errors(attributes)
        .map(|e| FieldError::new(format!("/attributes{}", e.instance_path().as_str()), e.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn max_price_is_what_numeric_12_2_holds() {
        assert_eq!(MAX_PRICE, Decimal::from_str("9999999999.99").expect("decimal"));
    }

    #[test]
    fn prices() {
        let d = |s| Decimal::from_str(s).expect("decimal");
        assert_eq!(price(d("19.90")), Ok(d("19.90")));
        assert_eq!(price(d("0")), Ok(d("0")));
        assert_eq!(price(d("19.900")), Ok(d("19.90")), "trailing zeros are fine");
        assert!(price(d("-0.01")).is_err());
        assert!(price(d("1.999")).is_err());
        assert!(price(d("10000000000")).is_err());
    }

    #[test]
    fn skus_and_slugs() {
        assert_eq!(sku(" ab-12.X_3 "), Ok("ab-12.X_3".into()));
        for bad in ["", "-x", "a b", "x;drop", &"a".repeat(65), "ключ"] {
            assert!(sku(bad).is_err(), "{bad}");
        }
        assert_eq!(slug("home-and-garden"), Ok("home-and-garden".into()));
        for bad in ["", "Home", "a--b", "-a", "a-", "a_b", "a b"] {
            assert!(slug(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn images_are_http_only() {
        assert!(
            images(&[
                "https://cdn.example.com/a.png".into(),
                "http://localhost:8002/images/x.svg".into()
            ])
            .is_ok()
        );
        for bad in [
            "javascript:alert(1)",
            "file:///etc/passwd",
            "data:image/png;base64,AA",
            "https://u:p@x.com/a.png",
            "/relative.png",
            "ftp://x.com/a",
        ] {
            assert!(images(&[bad.to_owned()]).is_err(), "{bad}");
        }
        assert!(images(&vec!["https://x.com/a.png".to_owned(); 21]).is_err());
    }

    #[test]
    fn schemas_compile_or_explain() {
        let ok =
            serde_json::json!({"type": "object", "properties": {"size": {"enum": ["S", "M"]}}, "required": ["size"]});
        let v = json_schema(&ok).expect("valid schema");
        assert!(check_attributes(&v, &serde_json::json!({"size": "S"})).is_empty());
        let errs = check_attributes(&v, &serde_json::json!({"size": "XXL"}));
        assert_eq!(errs[0].pointer, "/attributes/size");
        assert!(json_schema(&serde_json::json!({"type": "no-such-type"})).is_err());
        assert!(json_schema(&serde_json::json!({"minLength": -1})).is_err());
        assert!(json_schema(&serde_json::json!([1, 2])).is_err());
    }

    #[test]
    fn stock_bounds() {
        assert_eq!(stock(5), Ok(5));
        assert!(stock(-1).is_err());
        assert!(stock(i64::MAX).is_err());
    }
}
