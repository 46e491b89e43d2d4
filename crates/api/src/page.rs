//! The page envelope of every list, and the paging parameters that select a page.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The first page.
pub const FIRST_PAGE: i64 = 1;
/// The last page a client may ask for (deep offsets cost the database more than they show).
pub const MAX_PAGE: i64 = 100_000;
/// Items per page unless asked otherwise.
pub const DEFAULT_PER_PAGE: i64 = 20;
/// The most items per page.
pub const MAX_PER_PAGE: i64 = 100;

/// One page of a list: `{items, page, per_page, total}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The page number, from 1.
    pub page: i64,
    pub per_page: i64,
    /// How many items match, over all pages; a lower bound when `total_exact` is false.
    pub total: i64,
    /// Present, and `false`, only when `total` is a lower bound: the catalog counts at most
    /// [`COUNT_BOUND`] products of a listing, since counting more would cost more than the
    /// page itself.
    #[serde(default = "exact", skip_serializing_if = "is_exact")]
    #[schema(default = true)]
    pub total_exact: bool,
    /// On product listings: an opaque cursor for the page after this one, to send as `after=`
    /// (keyset paging: a deep page costs what the first does). Absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// The most matches a product listing counts exactly.
pub const COUNT_BOUND: i64 = 1000;

pub(crate) fn exact() -> bool {
    true
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `skip_serializing_if` passes a reference.
pub(crate) fn is_exact(exact: &bool) -> bool {
    *exact
}

impl<T> Page<T> {
    /// The page `paging` selected, holding `items` of `total`.
    pub fn new(items: Vec<T>, paging: Paging, total: i64) -> Self {
        Self {
            items,
            page: paging.page,
            per_page: paging.per_page,
            total,
            total_exact: true,
            next: None,
        }
    }

    /// How many pages there are (at least 1).
    pub fn pages(&self) -> i64 {
        if self.per_page <= 0 {
            return 1;
        }
        ((self.total + self.per_page - 1) / self.per_page).max(1)
    }
}

/// `?page=&per_page=` as a client sends them (both optional).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// From 1 to 100 000 (default 1).
    pub page: Option<i64>,
    /// From 1 to 100 (default 20).
    pub per_page: Option<i64>,
}

/// A checked page selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub page: i64,
    pub per_page: i64,
}

impl Default for Paging {
    fn default() -> Self {
        Self {
            page: FIRST_PAGE,
            per_page: DEFAULT_PER_PAGE,
        }
    }
}

impl Paging {
    /// Rows to skip.
    pub fn offset(self) -> i64 {
        (self.page - 1) * self.per_page
    }

    /// The rows to fetch.
    pub fn limit(self) -> i64 {
        self.per_page
    }
}

impl PageParams {
    /// Applies the defaults and checks the bounds; each error names its parameter (`page`,
    /// `per_page`) and says what is allowed.
    pub fn check(self) -> Result<Paging, Vec<(&'static str, String)>> {
        let page = self.page.unwrap_or(FIRST_PAGE);
        let per_page = self.per_page.unwrap_or(DEFAULT_PER_PAGE);
        let mut errors = Vec::new();
        if !(FIRST_PAGE..=MAX_PAGE).contains(&page) {
            errors.push(("page", format!("must be from {FIRST_PAGE} to {MAX_PAGE}")));
        }
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            errors.push(("per_page", format!("must be from 1 to {MAX_PER_PAGE}")));
        }
        if errors.is_empty() {
            Ok(Paging { page, per_page })
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn defaults_and_bounds() {
        assert_eq!(PageParams::default().check(), Ok(Paging { page: 1, per_page: 20 }));
        let p = PageParams {
            page: Some(3),
            per_page: Some(100),
        };
        assert_eq!(p.check().unwrap().offset(), 200);
        let bad = PageParams {
            page: Some(0),
            per_page: Some(101),
        }
        .check()
        .unwrap_err();
        assert_eq!(bad.iter().map(|(k, _)| *k).collect::<Vec<_>>(), ["page", "per_page"]);
        assert!(
            PageParams {
                page: Some(MAX_PAGE + 1),
                per_page: None
            }
            .check()
            .is_err()
        );
    }

    #[test]
    fn the_envelope_keeps_its_shape() {
        let page = Page::new(vec![1, 2], Paging { page: 2, per_page: 2 }, 5);
        assert_eq!(
            serde_json::to_value(&page).unwrap(),
            serde_json::json!({"items": [1, 2], "page": 2, "per_page": 2, "total": 5})
        );
        assert_eq!(page.pages(), 3);
        assert_eq!(Page::<i32>::new(vec![], Paging::default(), 0).pages(), 1);
    }
}
