//! Bar charts drawn on the server: where each bar goes (pure arithmetic, tested here); the
//! stats template writes the bars as inline SVG in the chart's own units (its `viewBox`).

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

/// One bar's rectangle.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

/// Each value's share of the largest, from 0 to 1. Nothing above zero (an empty, zero or
/// negative series) gives all zeros; negative values count as zero.
pub fn shares(values: &[Decimal]) -> Vec<f64> {
    let max = values.iter().copied().filter(|v| *v > Decimal::ZERO).max();
    values
        .iter()
        .map(|v| match max {
            Some(max) if *v > Decimal::ZERO => (*v / max).to_f64().unwrap_or(0.0).clamp(0.0, 1.0),
            _ => 0.0,
        })
        .collect()
}

/// Columns standing on the bottom of a `width` × `height` plot, `gap` apart, the largest value
/// as tall as the plot.
pub fn columns(values: &[Decimal], width: f64, height: f64, gap: f64) -> Vec<Bar> {
    if values.is_empty() {
        return Vec::new();
    }
    let n = values.len() as f64;
    let bar_width = ((width - gap * (n - 1.0)) / n).max(0.0);
    shares(values)
        .into_iter()
        .enumerate()
        .map(|(i, share)| {
            let h = round(share * height);
            Bar {
                x: round(i as f64 * (bar_width + gap)),
                y: round(height - h),
                width: round(bar_width),
                height: h,
            }
        })
        .collect()
}

/// Bars growing rightwards from the left edge, one every `pitch` units down, `thickness`
/// thick, the largest value `width` long.
pub fn rows(values: &[Decimal], width: f64, thickness: f64, pitch: f64) -> Vec<Bar> {
    shares(values)
        .into_iter()
        .enumerate()
        .map(|(i, share)| Bar {
            x: 0.0,
            y: round(i as f64 * pitch),
            width: round(share * width),
            height: thickness,
        })
        .collect()
}

/// To a tenth of a unit: enough for a screen, and short in the page.
pub fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(values: &[i64]) -> Vec<Decimal> {
        values.iter().map(|v| Decimal::from(*v)).collect()
    }

    #[test]
    fn columns_scale_to_the_largest_value() {
        let bars = columns(&d(&[10, 5, 0, 20]), 100.0, 200.0, 0.0);
        let heights: Vec<f64> = bars.iter().map(|b| b.height).collect();
        assert_eq!(heights, [100.0, 50.0, 0.0, 200.0]);
        // They stand on the bottom edge.
        assert!(bars.iter().all(|b| (b.y + b.height - 200.0).abs() < 1e-9));
        assert_eq!(bars.iter().map(|b| b.x).collect::<Vec<_>>(), [0.0, 25.0, 50.0, 75.0]);
        assert!(bars.iter().all(|b| (b.width - 25.0).abs() < 1e-9));
    }

    #[test]
    fn gaps_narrow_the_columns() {
        let bars = columns(&d(&[1, 1]), 100.0, 10.0, 10.0);
        assert_eq!(bars[0].width, 45.0);
        assert_eq!(bars[1].x, 55.0);
    }

    #[test]
    fn a_zero_series_gives_zero_height_bars_without_dividing_by_zero() {
        let bars = columns(&d(&[0, 0, 0]), 90.0, 50.0, 0.0);
        assert_eq!(bars.len(), 3);
        for bar in &bars {
            assert_eq!(bar.height, 0.0);
            assert_eq!(bar.y, 50.0);
            assert!(bar.x.is_finite() && bar.width.is_finite());
        }
        assert!(columns(&[], 90.0, 50.0, 4.0).is_empty());
        assert!(rows(&d(&[0]), 90.0, 10.0, 20.0).iter().all(|b| b.width == 0.0));
        assert_eq!(shares(&d(&[-5, 0])), [0.0, 0.0]);
    }

    #[test]
    fn money_keeps_its_proportions() {
        let values = ["19.90", "39.80", "0.00"].map(|s| s.parse::<Decimal>().expect("decimal"));
        let bars = rows(&values, 300.0, 12.0, 30.0);
        assert_eq!(bars.iter().map(|b| b.width).collect::<Vec<_>>(), [150.0, 300.0, 0.0]);
        assert_eq!(bars.iter().map(|b| b.y).collect::<Vec<_>>(), [0.0, 30.0, 60.0]);
        assert!(bars.iter().all(|b| b.height == 12.0));
    }

    #[test]
    fn too_many_columns_for_the_width_get_no_negative_width() {
        let bars = columns(&d(&[1, 2, 3]), 10.0, 10.0, 20.0);
        assert!(bars.iter().all(|b| b.width == 0.0));
    }
}
