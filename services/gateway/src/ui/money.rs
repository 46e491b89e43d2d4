//! Prices as the shop shows them: `1.234.567,89 ₸` by default.
//!
//! The format is configured by example (`PRICE_FORMAT`): a sample price `1<g>234<d>56` with
//! the currency sign `¤` before or after it, for instance `1.234,56 ¤` (the default),
//! `¤1,234.56`, `1 234,56 ¤` or `1234 ¤`. The sample gives the grouping separator (none when
//! `1234`), the decimal separator and the number of decimals (the digits after it), and where
//! the sign goes. The sign is the currency's symbol (`CURRENCY`: `KZT` → `₸`), or its code
//! when it has none here.

use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};

/// How prices are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceFormat {
    /// Between groups of three digits (`None`: no grouping).
    pub grouping: Option<char>,
    /// Between the whole part and the decimals.
    pub decimal: char,
    /// Digits after the decimal separator (0–4).
    pub decimals: u32,
    /// Text before the number (the symbol and a space, or nothing).
    pub prefix: String,
    /// Text after the number.
    pub suffix: String,
}

/// Why a `PRICE_FORMAT` sample was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError(String);

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FormatError {}

/// The default sample: dots between thousands, a decimal comma, the sign after a space.
pub const DEFAULT_FORMAT: &str = "1.234,56 ¤";

/// The symbol of a currency code, or the code itself.
pub fn symbol(currency: &str) -> String {
    match currency.to_ascii_uppercase().as_str() {
        "KZT" => "₸".to_owned(),
        "RUB" => "₽".to_owned(),
        "USD" => "$".to_owned(),
        "EUR" => "€".to_owned(),
        "GBP" => "£".to_owned(),
        "UAH" => "₴".to_owned(),
        "TRY" => "₺".to_owned(),
        "INR" => "₹".to_owned(),
        "JPY" | "CNY" => "¥".to_owned(),
        other => other.to_owned(),
    }
}

impl PriceFormat {
    /// Reads a sample such as `1.234,56 ¤` for `currency`.
    pub fn parse(sample: &str, currency: &str) -> Result<Self, FormatError> {
        let bad = |why: &str| FormatError(format!("`{sample}`: {why} (expected a sample such as `1.234,56 ¤`)"));
        let sign = symbol(currency);
        let (before, after) = sample
            .split_once('¤')
            .ok_or_else(|| bad("no `¤` for the currency sign"))?;
        if after.contains('¤') {
            return Err(bad("more than one `¤`"));
        }
        let (prefix, number, suffix) = if before.trim().is_empty() {
            let number = after.trim_start();
            (
                format!("{sign}{}", &after[..after.len() - number.len()]),
                number,
                String::new(),
            )
        } else if after.trim().is_empty() {
            let number = before.trim_end();
            (String::new(), number, format!("{}{sign}", &before[number.len()..]))
        } else {
            return Err(bad("the sign must come before or after the number"));
        };
        let rest = number
            .strip_prefix('1')
            .ok_or_else(|| bad("the number must start with 1"))?;
        let (grouping, rest) = match rest.strip_prefix("234") {
            Some(rest) => (None, rest),
            None => {
                let mut chars = rest.chars();
                let sep = chars.next().ok_or_else(|| bad("the number is too short"))?;
                let rest = chars
                    .as_str()
                    .strip_prefix("234")
                    .ok_or_else(|| bad("expected `234` after the grouping separator"))?;
                (Some(sep), rest)
            }
        };
        let (decimal, decimals) = if rest.is_empty() {
            ('.', 0)
        } else {
            let mut chars = rest.chars();
            let sep = chars.next().ok_or_else(|| bad("the number is too short"))?;
            let digits = chars.as_str();
            if digits.is_empty() || digits.len() > 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
                return Err(bad("1 to 4 decimals must follow the decimal separator"));
            }
            (sep, u32::try_from(digits.len()).unwrap_or(2))
        };
        if sep_is_bad(decimal) || grouping.is_some_and(sep_is_bad) || grouping == Some(decimal) {
            return Err(bad("the separators must be two different non-digit characters"));
        }
        Ok(Self {
            grouping,
            decimal,
            decimals,
            prefix,
            suffix,
        })
    }

    /// `amount`, rounded half away from zero to the format's decimals.
    pub fn format(&self, amount: Decimal) -> String {
        let rounded = amount.round_dp_with_strategy(self.decimals, RoundingStrategy::MidpointAwayFromZero);
        let negative = rounded.is_sign_negative() && !rounded.is_zero();
        let digits = rounded.abs().trunc().to_string();
        let mut out = String::with_capacity(digits.len() + 16);
        if negative {
            out.push('-');
        }
        out.push_str(&self.prefix);
        let first = match digits.len() % 3 {
            0 => 3,
            n => n,
        };
        for (i, c) in digits.chars().enumerate() {
            if i > 0
                && (i + 3 - first) % 3 == 0
                && let Some(sep) = self.grouping
            {
                out.push(sep);
            }
            out.push(c);
        }
        if self.decimals > 0 {
            out.push(self.decimal);
            let fraction = (rounded.abs().fract() * Decimal::from(10_u64.pow(self.decimals))).trunc();
            out.push_str(&format!("{:0width$}", fraction, width = self.decimals as usize));
        }
        out.push_str(&self.suffix);
        out
    }
}

/// A price as a person types it (`24990`, `24 990,50`, `1.234.567,89`, `19.999`), in the
/// admin's product form or the shop's price filter: the number,
/// with every decimal kept so that the catalog can say there are too many; or nothing. One
/// separator used once is the decimal point, whatever the digits after it; a separator used
/// more than once groups thousands; with both kinds, the last one is the decimal point.
pub fn typed_price(text: &str) -> Option<Decimal> {
    let t: String = text.chars().filter(|c| !c.is_whitespace() && *c != '\'').collect();
    if t.is_empty() || t.starts_with('-') {
        return None;
    }
    let point = match (t.rfind(','), t.rfind('.')) {
        (Some(c), Some(d)) => Some(c.max(d)),
        (Some(i), None) | (None, Some(i)) => {
            let sep = t.as_bytes()[i];
            (t.bytes().filter(|b| *b == sep).count() == 1).then_some(i)
        }
        (None, None) => None,
    };
    let normal = match point {
        Some(i) => format!("{}.{}", t[..i].replace([',', '.'], ""), &t[i + 1..]),
        None => t.replace([',', '.'], ""),
    };
    if normal.ends_with('.') || !normal.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    normal.parse().ok()
}

fn sep_is_bad(c: char) -> bool {
    c.is_ascii_digit() || c == '¤'
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::str::FromStr;

    use proptest::prelude::*;

    use super::*;

    fn kzt() -> PriceFormat {
        PriceFormat::parse(DEFAULT_FORMAT, "KZT").unwrap()
    }

    fn dec(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    #[test]
    fn the_default_is_dots_comma_and_tenge() {
        let f = kzt();
        assert_eq!(f.format(dec("1234567.89")), "1.234.567,89 ₸");
        assert_eq!(f.format(dec("0")), "0,00 ₸");
        assert_eq!(f.format(dec("5")), "5,00 ₸");
        assert_eq!(f.format(dec("999.999")), "1.000,00 ₸");
        assert_eq!(f.format(dec("100000")), "100.000,00 ₸");
        assert_eq!(f.format(dec("-1500.5")), "-1.500,50 ₸");
        assert_eq!(f.format(dec("-0.001")), "0,00 ₸", "no negative zero");
        assert_eq!(f.format(dec("0.005")), "0,01 ₸", "half away from zero");
        assert_eq!(f.format(dec("0.015")), "0,02 ₸", "not to even");
    }

    #[test]
    fn other_samples() {
        let usd = PriceFormat::parse("¤1,234.56", "usd").unwrap();
        assert_eq!(usd.format(dec("1234567.891")), "$1,234,567.89");
        let spaced = PriceFormat::parse("1 234,56 ¤", "RUB").unwrap();
        assert_eq!(spaced.format(dec("1234.5")), "1 234,50 ₽");
        let whole = PriceFormat::parse("1234 ¤", "XYZ").unwrap();
        assert_eq!(whole.format(dec("1234.5")), "1235 XYZ");
        let tight = PriceFormat::parse("1.234,5¤", "EUR").unwrap();
        assert_eq!(tight.format(dec("12.34")), "12,3€");
    }

    #[test]
    fn bad_samples_are_refused_with_the_reason() {
        for bad in [
            "1.234,56",
            "¤1.234,56 ¤",
            "1.234¤,56",
            "2.345,67 ¤",
            "1.234,5678912 ¤",
            "1,234,56 ¤",
            "1x234y ¤",
        ] {
            let err = PriceFormat::parse(bad, "KZT").unwrap_err();
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn prices_are_read_as_admins_type_them() {
        let d = |s: &str| s.parse::<rust_decimal::Decimal>().ok();
        assert_eq!(typed_price("24990"), d("24990"));
        assert_eq!(typed_price(" 24 990,50 "), d("24990.50"));
        assert_eq!(typed_price("24990.5"), d("24990.5"));
        assert_eq!(typed_price("1.234.567,89"), d("1234567.89"));
        assert_eq!(typed_price("1,234,567.89"), d("1234567.89"));
        assert_eq!(typed_price("1.234.567"), d("1234567"));
        // Too many decimals stay decimals: the catalog refuses them, nothing is multiplied.
        assert_eq!(typed_price("19.999"), d("19.999"));
        for bad in ["", "abc", "-5", "5,", "1e3", "5.0.0,1,2x"] {
            assert_eq!(typed_price(bad), None, "{bad}");
        }
    }

    #[test]
    fn typed_prices_are_read_like_people_write_them() {
        let d = |s: &str| Decimal::from_str(s).ok();
        assert_eq!(typed_price("5000"), d("5000"));
        assert_eq!(typed_price(" 5 000 "), d("5000"));
        assert_eq!(typed_price("5000,5"), d("5000.5"));
        assert_eq!(typed_price("5.000,50"), d("5000.50"));
        assert_eq!(typed_price("5,000.50"), d("5000.50"));
        assert_eq!(typed_price("1.234.567"), d("1234567"));
        assert_eq!(typed_price(""), None);
        assert_eq!(typed_price("abc"), None);
        assert_eq!(typed_price("-5"), None);
    }

    /// Undoes a formatting: the digits without separators, the decimal separator as `.`.
    fn unformat(f: &PriceFormat, text: &str) -> Decimal {
        let body = text.replace(&f.prefix, "").replace(&f.suffix, "");
        let mut plain: String = body.chars().filter(|c| Some(*c) != f.grouping).collect();
        if f.decimals > 0 {
            plain = plain.replace(f.decimal, ".");
        }
        dec(&plain)
    }

    proptest! {
        #[test]
        fn formatting_rounds_groups_and_keeps_the_value(
            units in -10_000_000_000_000_i64..10_000_000_000_000_i64,
            scale in 0_u32..6,
            sample in prop::sample::select(vec!["1.234,56 ¤", "¤1,234.56", "1 234,5 ¤", "1234 ¤", "1'234.567 ¤"]),
        ) {
            let f = PriceFormat::parse(sample, "KZT").unwrap();
            let amount = Decimal::new(units, scale);
            let text = f.format(amount);
            // The value survives, rounded half away from zero.
            let expected = amount.round_dp_with_strategy(f.decimals, RoundingStrategy::MidpointAwayFromZero);
            prop_assert_eq!(unformat(&f, &text), expected, "{}", text);
            // Exactly the format's decimals.
            if f.decimals > 0 {
                let (_, fraction) = text.trim_end_matches(f.suffix.as_str()).rsplit_once(f.decimal).unwrap();
                prop_assert_eq!(fraction.len(), f.decimals as usize);
            }
            // Groups of three after a first group of one to three digits.
            if let Some(sep) = f.grouping {
                let whole = text
                    .trim_start_matches('-')
                    .trim_start_matches(f.prefix.as_str())
                    .trim_end_matches(f.suffix.as_str());
                let whole = if f.decimals > 0 { whole.rsplit_once(f.decimal).unwrap().0 } else { whole };
                let groups: Vec<&str> = whole.split(sep).collect();
                prop_assert!((1..=3).contains(&groups[0].len()), "{}", text);
                prop_assert!(groups[0] == "0" || !groups[0].starts_with('0'), "{}", text);
                for group in &groups[1..] {
                    prop_assert_eq!(group.len(), 3, "{}", text);
                }
            }
        }
    }
}
