//! The sales figures (`GET /admin/stats` at the order service) with bar charts: the last seven
//! days, and the best sellers by quantity and by revenue; the products running out of stock.

use askama::Template;
use axum::extract::RawQuery;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use shop_api::order::{Stats, TopProduct};

use crate::config::Upstream;
use crate::ui::admin::chart::{self, Bar};
use crate::ui::admin::{Errors, Fields, add_error, field_errors, with_status};
use crate::ui::{ApiError, Ctx, query};

/// The daily chart's size (its `viewBox`): narrow, so that its text stays legible on a phone.
pub const DAILY_WIDTH: f64 = 360.0;
/// The plot's height (the bars' room); the day labels go below it.
pub const DAILY_PLOT: f64 = 150.0;
/// Room above the plot (so the tallest bar does not touch the edge) and below (labels).
pub const DAILY_TOP: f64 = 8.0;
pub const DAILY_HEIGHT: f64 = 184.0;
/// The best sellers' charts: one row every `TOP_PITCH` units, the label above its bar.
pub const TOP_WIDTH: f64 = 360.0;
pub const TOP_PITCH: f64 = 38.0;
pub const TOP_BAR: f64 = 14.0;
/// Where the bar sits in its row (the label is above it).
pub const TOP_BAR_Y: f64 = 18.0;
/// The default low-stock threshold (the order service's).
const DEFAULT_THRESHOLD: i64 = 5;

/// A day's column.
pub struct Column {
    pub bar: Bar,
    /// `17.11`
    pub label: String,
    /// The middle of the column, for its label.
    pub middle: f64,
    /// For the tooltip.
    pub title: String,
}

/// A best seller's row.
pub struct Row {
    pub bar: Bar,
    pub label: String,
}

#[derive(Template)]
#[template(path = "admin/stats.html")]
struct StatsPage<'a> {
    ctx: &'a Ctx,
    from: String,
    to: String,
    threshold: String,
    errors: Errors,
    stats: Option<Stats>,
    daily: Vec<Column>,
    by_quantity: Vec<Row>,
    by_revenue: Vec<Row>,
}

impl StatsPage<'_> {
    /// The height of a best-seller chart.
    fn rows_height(&self, rows: &[Row]) -> f64 {
        rows.len() as f64 * TOP_PITCH
    }
}

/// The columns of the daily revenue.
fn daily_columns(ctx: &Ctx, stats: &Stats) -> Vec<Column> {
    let values: Vec<Decimal> = stats.daily.iter().map(|d| d.revenue).collect();
    chart::columns(&values, DAILY_WIDTH, DAILY_PLOT, 8.0)
        .into_iter()
        .zip(&stats.daily)
        .map(|(mut bar, day)| {
            bar.y = chart::round(bar.y + DAILY_TOP);
            Column {
                middle: chart::round(bar.x + bar.width / 2.0),
                label: day.date.format("%d.%m").to_string(),
                title: format!(
                    "{}: {}, {}",
                    day.date.format("%Y-%m-%d"),
                    ctx.price(day.revenue),
                    ctx.t1("admin-stats-orders-count", "count", day.orders)
                ),
                bar,
            }
        })
        .collect()
}

/// The rows of a best-seller list, measured by `value`, labelled by `label`.
fn top_rows(
    top: &[TopProduct],
    value: impl Fn(&TopProduct) -> Decimal,
    label: impl Fn(&TopProduct) -> String,
) -> Vec<Row> {
    let values: Vec<Decimal> = top.iter().map(&value).collect();
    chart::rows(&values, TOP_WIDTH, TOP_BAR, TOP_PITCH)
        .into_iter()
        .zip(top)
        .map(|(mut bar, p)| {
            let name: String = p.name.chars().take(36).collect();
            let name = if name.len() < p.name.len() {
                format!("{name}…")
            } else {
                name
            };
            bar.y = chart::round(bar.y + TOP_BAR_Y);
            Row {
                bar,
                label: format!("{name} — {}", label(p)),
            }
        })
        .collect()
}

/// `GET /admin/stats?from=&to=&threshold=`.
pub async fn show(ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    if let Err(refusal) = ctx.need_admin() {
        return refusal;
    }
    let q = Fields::query(raw.as_deref());
    let (from, to, threshold) = (q.get("from"), q.get("to"), q.get("threshold"));
    let mut errors = Errors::new();
    for (name, value) in [("from", from), ("to", to)] {
        if !value.is_empty() && NaiveDate::parse_from_str(value, "%Y-%m-%d").is_err() {
            add_error(&mut errors, name, ctx.t("admin-rule-date"));
        }
    }
    let threshold_ok = threshold.is_empty() || threshold.parse::<i64>().is_ok_and(|t| (0..=1_000_000_000).contains(&t));
    if !threshold_ok {
        add_error(&mut errors, "threshold", ctx.t("admin-rule-threshold"));
    }
    let mut stats = None;
    if errors.is_empty() {
        let path = format!(
            "/admin/stats?{}",
            query(&[
                ("from", from.to_owned()),
                ("to", to.to_owned()),
                ("low_stock_threshold", threshold.to_owned()),
            ])
        );
        match ctx.get::<Stats>(Upstream::Order, &path).await {
            Ok(s) => stats = Some(s),
            Err(ApiError::Problem(p)) if p.status == 422 || p.status == 400 => {
                errors = field_errors(&ctx, &p);
                if let Some(message) = errors.remove("low_stock_threshold") {
                    errors.insert("threshold".into(), message);
                }
            }
            Err(err) => return ctx.fail(&err),
        }
    }
    let (daily, by_quantity, by_revenue) = stats.as_ref().map_or_else(Default::default, |s| {
        (
            daily_columns(&ctx, s),
            top_rows(
                &s.top_by_quantity,
                |p| Decimal::from(p.qty),
                |p| ctx.t1("admin-stats-units", "count", p.qty),
            ),
            top_rows(&s.top_by_revenue, |p| p.revenue, |p| ctx.price(p.revenue)),
        )
    });
    let invalid = !errors.is_empty();
    let answer = ctx.render(
        StatsPage {
            ctx: &ctx,
            from: stats.as_ref().map_or_else(|| from.to_owned(), |s| s.from.to_string()),
            to: stats.as_ref().map_or_else(|| to.to_owned(), |s| s.to.to_string()),
            threshold: if threshold.is_empty() {
                DEFAULT_THRESHOLD.to_string()
            } else {
                threshold.to_owned()
            },
            errors,
            stats,
            daily,
            by_quantity,
            by_revenue,
        }
        .render(),
    );
    if invalid {
        with_status(answer, StatusCode::UNPROCESSABLE_ENTITY)
    } else {
        answer
    }
}
