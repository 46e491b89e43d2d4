//! Kubernetes quantities (`500m`, `1Gi`): their size in bytes, and the canonical form the API
//! server stores (`0.5` → `500m`, `2048Ki` → `2Mi`), so desired objects compare equal to live ones.

use serde_json::Value;

/// Bytes (or cores) of a quantity (`1Gi`, `500M`, `1073741824`); `None` when unparsable.
pub fn bytes(q: &str) -> Option<f64> {
    let q = q.trim();
    let split = q.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(q.len());
    let (number, suffix) = q.split_at(split);
    let factor = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024.0_f64.powi(2),
        "Gi" => 1024.0_f64.powi(3),
        "Ti" => 1024.0_f64.powi(4),
        "Pi" => 1024.0_f64.powi(5),
        "Ei" => 1024.0_f64.powi(6),
        _ => return None,
    };
    number.parse::<f64>().ok().map(|n| n * factor)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Binary,
    DecimalSi,
    Exponent,
}

const DECIMAL: [(&str, i32); 10] = [
    ("n", -9),
    ("u", -6),
    ("m", -3),
    ("", 0),
    ("k", 3),
    ("M", 6),
    ("G", 9),
    ("T", 12),
    ("P", 15),
    ("E", 18),
];
const BINARY: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];

/// The form the API server stores a quantity in (apimachinery's `CanonicalizeBytes`): the
/// suffix family of the input, the largest suffix that keeps the number whole; binary values
/// below 1024 or with a fraction become decimal; precision below `1n` rounds up. `None` when
/// `q` is not a quantity (or too large to handle exactly).
pub fn canonical(q: &str) -> Option<String> {
    let q = q.trim();
    let (negative, rest) = match q.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, q.strip_prefix('+').unwrap_or(q)),
    };
    let split = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(split);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
        return None;
    }
    let digits = format!("{whole}{fraction}");
    let mut mantissa: i128 = if digits.is_empty() { 0 } else { digits.parse().ok()? };
    let mut exponent = -i32::try_from(fraction.len()).ok()?;
    let format = if let Some(power) = BINARY.iter().skip(1).position(|s| *s == suffix) {
        mantissa = mantissa.checked_mul(1024_i128.checked_pow(u32::try_from(power + 1).ok()?)?)?;
        Format::Binary
    } else if let Some((_, e)) = DECIMAL.iter().find(|(s, _)| *s == suffix) {
        exponent += e;
        Format::DecimalSi
    } else if let Some(e) = suffix.strip_prefix(['e', 'E']) {
        exponent += e.parse::<i32>().ok()?;
        Format::Exponent
    } else {
        return None;
    };
    if mantissa == 0 {
        return Some("0".to_owned());
    }
    // Round up to nano, as the API server's parser does.
    if exponent < -9 {
        let divisor = 10_i128.checked_pow(u32::try_from(-9 - exponent).ok()?)?;
        mantissa = (mantissa + divisor - 1) / divisor;
        exponent = -9;
    }
    let sign = if negative { "-" } else { "" };
    if format == Format::Binary {
        // Whole bytes of at least 1024 stay binary.
        let whole = if exponent >= 0 {
            mantissa.checked_mul(10_i128.checked_pow(u32::try_from(exponent).ok()?)?)
        } else {
            let divisor = 10_i128.pow(u32::try_from(-exponent).ok()?);
            (mantissa % divisor == 0).then(|| mantissa / divisor)
        };
        if let Some(mut value) = whole.filter(|v| *v >= 1024) {
            let mut power = 0;
            while value % 1024 == 0 && power < 6 {
                value /= 1024;
                power += 1;
            }
            return Some(format!("{sign}{value}{}", BINARY[power]));
        }
    }
    while mantissa % 10 == 0 {
        mantissa /= 10;
        exponent += 1;
    }
    while exponent.rem_euclid(3) != 0 {
        mantissa = mantissa.checked_mul(10)?;
        exponent -= 1;
    }
    if format == Format::Exponent {
        return Some(if exponent == 0 {
            format!("{sign}{mantissa}")
        } else {
            format!("{sign}{mantissa}e{exponent}")
        });
    }
    while exponent > 18 {
        mantissa = mantissa.checked_mul(1000)?;
        exponent -= 3;
    }
    let suffix = DECIMAL.iter().find(|(_, e)| *e == exponent)?.0;
    Some(format!("{sign}{mantissa}{suffix}"))
}

/// Rewrites every quantity under `requests`, `limits`, `sizeLimit` and `storage` of `value` in
/// canonical form (what the API server does to any object it stores).
pub fn canonicalize(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                match (key.as_str(), &mut *child) {
                    ("requests" | "limits", Value::Object(quantities)) => {
                        for q in quantities.values_mut() {
                            canonicalize_one(q);
                        }
                    }
                    ("sizeLimit" | "storage", q @ Value::String(_)) => canonicalize_one(q),
                    _ => canonicalize(child),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(canonicalize),
        _ => {}
    }
}

fn canonicalize_one(q: &mut Value) {
    let canonical = match q {
        Value::String(s) => canonical(s),
        Value::Number(n) => canonical(&n.to_string()),
        _ => None,
    };
    if let Some(c) = canonical {
        *q = Value::String(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_servers_canonical_forms() {
        // Pairs checked against apimachinery's `resource.MustParse(x).String()`.
        for (given, stored) in [
            ("0.5", "500m"),
            ("1000m", "1"),
            ("1.5", "1500m"),
            ("0.1", "100m"),
            ("100m", "100m"),
            ("2048Ki", "2Mi"),
            ("1536Mi", "1536Mi"),
            ("1024Mi", "1Gi"),
            ("0.5Gi", "512Mi"),
            ("1.5Gi", "1536Mi"),
            ("512", "512"),
            ("1000", "1k"),
            ("1500000", "1500k"),
            ("128974848", "128974848"),
            ("100M", "100M"),
            ("1e3", "1e3"),
            ("1.5e3", "1500"),
            ("1Ki", "1Ki"),
            ("0.5Ki", "512"),
            ("0", "0"),
            ("0Gi", "0"),
            ("1Gi", "1Gi"),
            ("64Mi", "64Mi"),
        ] {
            assert_eq!(canonical(given).as_deref(), Some(stored), "{given}");
        }
        assert_eq!(canonical("lots"), None);
        assert_eq!(canonical("1.2.3"), None);
    }

    #[test]
    fn quantities_compare_by_bytes() {
        assert_eq!(bytes("1Gi"), Some(1073741824.0));
        assert!(bytes("1024Mi") == bytes("1Gi"));
        assert!(bytes("2G").unwrap_or_default() < bytes("2Gi").unwrap_or_default());
        assert_eq!(bytes("1.5Ki"), Some(1536.0));
        assert_eq!(bytes("500m"), Some(0.5));
        assert_eq!(bytes("lots"), None);
    }

    #[test]
    fn canonicalize_rewrites_resources_and_storage_only() {
        let mut v = serde_json::json!({"spec": {
            "containers": [{"resources": {"requests": {"cpu": 0.5, "memory": "2048Ki"}, "limits": {"memory": "1024Mi"}}}],
            "volumes": [{"emptyDir": {"sizeLimit": "0.5Gi"}}],
            "note": "0.5",
        }});
        canonicalize(&mut v);
        let c = &v["spec"]["containers"][0]["resources"];
        assert_eq!(c["requests"]["cpu"], "500m");
        assert_eq!(c["requests"]["memory"], "2Mi");
        assert_eq!(c["limits"]["memory"], "1Gi");
        assert_eq!(v["spec"]["volumes"][0]["emptyDir"]["sizeLimit"], "512Mi");
        assert_eq!(v["spec"]["note"], "0.5");
    }
}
