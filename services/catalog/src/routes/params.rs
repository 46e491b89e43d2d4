//! Query parameters of the product list and search, parsed by hand so that a key may repeat
//! (`category=a&category=b`) as well as carry a comma list (`category=a,b`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use shop_kit::Problem;
use shop_kit::problem::FieldError;
use uuid::Uuid;

use crate::store::products::Sort;

/// The largest page (the same bound as every other list).
pub use shop_api::page::MAX_PER_PAGE;
/// The most words a text query may have.
pub const MAX_TERMS: usize = 10;

/// `GET /products` parameters (also the listing cache's key: see `crate::cache`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListParams {
    pub q: Option<String>,
    pub categories: Vec<String>,
    pub price_min: Option<Decimal>,
    pub price_max: Option<Decimal>,
    pub in_stock: bool,
    pub include_inactive: bool,
    pub sort: Sort,
    pub page: i64,
    pub per_page: i64,
    /// `after=`: keyset paging, from just after this product in the list's order.
    pub after: Option<Cursor>,
}

/// Where a keyset page starts: the sort key and id of the last product of the page before.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor {
    pub key: Key,
    pub id: Uuid,
}

/// The sort key of a [`Cursor`], by order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    Newest(DateTime<Utc>),
    PriceAsc(Decimal),
    PriceDesc(Decimal),
    /// The name as the product has it (compared through `lower()` in SQL).
    Name(String),
}

/// A cursor on the wire: `{"k": order, "v": key, "id": id}`, base64url.
#[derive(serde::Serialize, serde::Deserialize)]
struct Wire {
    k: String,
    v: String,
    id: Uuid,
}

impl Cursor {
    /// The cursor after `product` in the order `sort` (relevance without a text query is newest;
    /// with one, lists page by offset only).
    pub fn after(product: &crate::store::products::Product, sort: Sort) -> Self {
        let key = match sort {
            Sort::Relevance | Sort::Newest => Key::Newest(product.created_at),
            Sort::PriceAsc => Key::PriceAsc(product.price),
            Sort::PriceDesc => Key::PriceDesc(product.price),
            Sort::Name => Key::Name(product.name.clone()),
        };
        Self { key, id: product.id }
    }

    /// The `after=` value.
    pub fn encode(&self) -> String {
        let (k, v) = match &self.key {
            Key::Newest(at) => ("newest", at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
            Key::PriceAsc(p) => ("price_asc", p.to_string()),
            Key::PriceDesc(p) => ("price_desc", p.to_string()),
            Key::Name(n) => ("name", n.clone()),
        };
        let wire = Wire {
            k: k.to_owned(),
            v,
            id: self.id,
        };
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&wire).unwrap_or_default())
    }

    fn decode(raw: &str) -> Result<Self, String> {
        const BAD: &str = "is not a cursor this listing gave";
        if raw.len() > 512 {
            return Err(BAD.into());
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw.trim()).map_err(|_| BAD.to_owned())?;
        let wire: Wire = serde_json::from_slice(&bytes).map_err(|_| BAD.to_owned())?;
        let key = match wire.k.as_str() {
            "newest" => Key::Newest(
                DateTime::parse_from_rfc3339(&wire.v)
                    .map_err(|_| BAD.to_owned())?
                    .to_utc(),
            ),
            "price_asc" => Key::PriceAsc(wire.v.parse().map_err(|_| BAD.to_owned())?),
            "price_desc" => Key::PriceDesc(wire.v.parse().map_err(|_| BAD.to_owned())?),
            "name" if wire.v.chars().count() <= 200 && !wire.v.contains('\0') => Key::Name(wire.v),
            _ => return Err(BAD.into()),
        };
        Ok(Self { key, id: wire.id })
    }

    /// Whether the cursor was made for the order `sort` (relevance without a query is newest).
    fn fits(&self, sort: Sort, text_query: bool) -> bool {
        matches!(
            (&self.key, sort),
            (Key::Newest(_), Sort::Newest)
                | (Key::PriceAsc(_), Sort::PriceAsc)
                | (Key::PriceDesc(_), Sort::PriceDesc)
                | (Key::Name(_), Sort::Name)
        ) || (matches!(self.key, Key::Newest(_)) && sort == Sort::Relevance && !text_query)
    }
}

impl Default for ListParams {
    fn default() -> Self {
        Self {
            q: None,
            categories: Vec::new(),
            price_min: None,
            price_max: None,
            in_stock: false,
            include_inactive: false,
            sort: Sort::Relevance,
            page: shop_api::page::FIRST_PAGE,
            per_page: shop_api::page::DEFAULT_PER_PAGE,
            after: None,
        }
    }
}

fn boolean(v: &str) -> Result<bool, String> {
    match v {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" | "" => Ok(false),
        _ => Err("must be true or false".into()),
    }
}

fn money(v: &str) -> Result<Decimal, String> {
    // Read as a body's price is (exponent form too), then held to the same rules.
    let d = shop_api::money::parse(v.trim()).ok_or_else(|| "must be a decimal number".to_owned())?;
    crate::domain::price(d)
}

fn int(v: &str, min: i64, max: i64) -> Result<i64, String> {
    match v.trim().parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("must be a whole number from {min} to {max}")),
    }
}

impl ListParams {
    /// Parses a raw query string. The search endpoint's names (`query`, `categories`, `limit`)
    /// are accepted as synonyms of `q`, `category` and `per_page`.
    pub fn parse(raw: Option<&str>) -> Result<Self, Problem> {
        let mut p = Self::default();
        let mut errors = Vec::new();
        let mut check = |key: &str, r: Result<(), String>| {
            if let Err(m) = r {
                errors.push(FieldError::new(key, m));
            }
        };
        for (key, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            let v = value.as_ref();
            match key.as_ref() {
                "q" | "query" => {
                    if v.chars().count() > 200 {
                        check(&key, Err("must be at most 200 characters".into()));
                    } else if !v.trim().is_empty() {
                        p.q = Some(v.trim().to_owned());
                    }
                }
                "category" | "categories" => {
                    for slug in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        match crate::domain::slug(slug) {
                            Ok(s) if p.categories.len() < 20 => p.categories.push(s),
                            Ok(_) => check(&key, Err("at most 20 categories".into())),
                            Err(m) => check(&key, Err(format!("{slug:?} {m}"))),
                        }
                    }
                }
                "price_min" => check(&key, money(v).map(|d| p.price_min = Some(d))),
                "price_max" => check(&key, money(v).map(|d| p.price_max = Some(d))),
                "in_stock" => check(&key, boolean(v).map(|b| p.in_stock = b)),
                "include_inactive" => check(&key, boolean(v).map(|b| p.include_inactive = b)),
                "sort" => check(
                    &key,
                    match v {
                        "relevance" => Ok(Sort::Relevance),
                        "newest" => Ok(Sort::Newest),
                        "price_asc" => Ok(Sort::PriceAsc),
                        "price_desc" => Ok(Sort::PriceDesc),
                        "name" => Ok(Sort::Name),
                        _ => Err("must be relevance, newest, price_asc, price_desc or name".into()),
                    }
                    .map(|s| p.sort = s),
                ),
                "page" => check(
                    &key,
                    int(v, shop_api::page::FIRST_PAGE, shop_api::page::MAX_PAGE).map(|n| p.page = n),
                ),
                "per_page" | "limit" => check(&key, int(v, 1, MAX_PER_PAGE).map(|n| p.per_page = n)),
                "after" => check(&key, Cursor::decode(v).map(|c| p.after = Some(c))),
                other => check(other, Err("is not a known parameter".into())),
            }
        }
        if let (Some(min), Some(max)) = (p.price_min, p.price_max)
            && min > max
        {
            errors.push(FieldError::new("price_min", "must not exceed price_max"));
        }
        if let Some(cursor) = &p.after {
            if p.page != shop_api::page::FIRST_PAGE {
                errors.push(FieldError::new("after", "cannot be combined with page"));
            } else if !cursor.fits(p.sort, p.q.is_some()) {
                errors.push(FieldError::new(
                    "after",
                    "was made for another order (and a text query's relevance order pages by page only)",
                ));
            }
        }
        if errors.is_empty() {
            Ok(p)
        } else {
            Err(Problem::validation(errors))
        }
    }

    /// The text query as a safe `to_tsquery` expression: each word (letters and digits only)
    /// as a prefix match, all required. `Some(None)` when the query has no word at all
    /// (only punctuation): it matches nothing.
    pub fn tsquery(&self) -> Option<Option<String>> {
        let q = self.q.as_ref()?;
        let terms: Vec<String> = q
            .split(|c: char| !c.is_alphanumeric())
            .filter(|t| !t.is_empty())
            .take(MAX_TERMS)
            .map(|t| format!("'{}':*", t.to_lowercase().chars().take(50).collect::<String>()))
            .collect();
        Some(if terms.is_empty() {
            None
        } else {
            Some(terms.join(" & "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_and_comma_separated_categories() {
        let p = ListParams::parse(Some("category=books&category=toys,games&sort=price_asc&per_page=5")).expect("valid");
        assert_eq!(p.categories, ["books", "toys", "games"]);
        assert_eq!(p.sort, Sort::PriceAsc);
        assert_eq!(p.per_page, 5);
    }

    #[test]
    fn bad_values_name_their_parameter() {
        let err = ListParams::parse(Some("per_page=1000&price_min=-1&sort=random&colour=red&in_stock=maybe"))
            .expect_err("invalid");
        let body = serde_json::to_value(&err).expect("json");
        let pointers: Vec<&str> = body["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|e| e["pointer"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(pointers, ["per_page", "price_min", "sort", "colour", "in_stock"]);
        assert!(ListParams::parse(Some("price_min=10&price_max=5")).is_err());
        assert!(ListParams::parse(Some("page=99999999999999999999")).is_err());
        assert!(ListParams::parse(Some("price_max=1e400")).is_err());
    }

    #[test]
    fn text_queries_become_safe_prefix_queries() {
        let p = |q: &str| {
            ListParams {
                q: Some(q.into()),
                ..Default::default()
            }
            .tsquery()
        };
        assert_eq!(p("Café  crème"), Some(Some("'café':* & 'crème':*".into())));
        assert_eq!(
            p("'; DROP TABLE products; --"),
            Some(Some("'drop':* & 'table':* & 'products':*".into()))
        );
        assert_eq!(p("!!! & | :*"), Some(None));
        assert_eq!(ListParams::default().tsquery(), None);
        let many = "a ".repeat(50);
        assert_eq!(p(&many).flatten().map(|s| s.matches(":*").count()), Some(MAX_TERMS));
    }
}
