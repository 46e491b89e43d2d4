//! Which metric names a PromQL expression reads, and which a `/metrics` page exports: enough
//! to prove that every name the dashboards and alert rules use is one the services export.
//!
//! Not a PromQL parser: strings, label matchers, ranges and grouping clauses are dropped, and
//! what remains that looks like a name and is not a function call, a keyword or a number is a
//! metric name.

use std::collections::BTreeSet;

const KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "inf",
    "nan",
    "Inf",
    "NaN",
];
const GROUPING: &[&str] = &["by", "without", "on", "ignoring", "group_left", "group_right"];

/// The metric names `expr` reads.
pub fn metric_names(expr: &str) -> BTreeSet<String> {
    let text = strip_enclosed(&strip_strings(expr));
    let tokens = tokens(&text);
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < tokens.len() {
        let (token, next) = (&tokens[i], tokens.get(i + 1).map(String::as_str));
        if GROUPING.contains(&token.as_str()) && next == Some("(") {
            // Skip the label list of `by (...)` and its kin.
            while i < tokens.len() && tokens[i] != ")" {
                i += 1;
            }
        } else if is_name(token)
            && next != Some("(")
            // `sum by (x) (...)`: an aggregation whose grouping comes first.
            && !next.is_some_and(|n| n == "by" || n == "without")
            && !KEYWORDS.contains(&token.as_str())
        {
            names.insert(token.clone());
        }
        i += 1;
    }
    names
}

/// Every sample name a Prometheus text exposition holds, with the names its `# TYPE` lines
/// imply (a counter `x` is sampled as `x_total`, a histogram as `x_bucket`, `x_sum`, `x_count`),
/// so a family counts even before its first sample.
pub fn exported_names(exposition: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in exposition.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
                continue;
            };
            let suffixes: &[&str] = match kind {
                "counter" => &["_total", ""],
                "histogram" => &["_bucket", "_sum", "_count", "_created"],
                "summary" => &["", "_sum", "_count"],
                "info" => &["_info"],
                _ => &[""],
            };
            names.extend(suffixes.iter().map(|suffix| format!("{name}{suffix}")));
        } else if !line.starts_with('#') && !line.is_empty() {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            names.insert(line[..end].to_owned());
        }
    }
    names
}

fn strip_strings(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len());
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in expr.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None if c == '"' || c == '\'' || c == '`' => quote = Some(c),
            None => out.push(c),
        }
    }
    out
}

/// Drops `{...}` and `[...]`.
fn strip_enclosed(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len());
    let mut depth = 0usize;
    for c in expr.chars() {
        match c {
            '{' | '[' => depth += 1,
            '}' | ']' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

fn tokens(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '.' | '$') {
            current.push(c);
            continue;
        }
        if !current.is_empty() {
            tokens.push(std::mem::take(&mut current));
        }
        if matches!(c, '(' | ')') {
            tokens.push(c.to_string());
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

fn is_name(token: &str) -> bool {
    token.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && token.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(expr: &str) -> Vec<String> {
        metric_names(expr).into_iter().collect()
    }

    #[test]
    fn functions_labels_ranges_groupings_and_numbers_are_not_names() {
        assert_eq!(
            names(
                r#"histogram_quantile(0.99, sum by (service, le) (rate(http_request_duration_seconds_bucket{namespace="$namespace", route=~"/x|y"}[$__rate_interval])))"#
            ),
            ["http_request_duration_seconds_bucket"]
        );
        assert_eq!(
            names(
                r#"sum(increase(order_revenue_total[1h])) / sum without (pod) (orders_total{status="placed"}) > 1e3"#
            ),
            ["order_revenue_total", "orders_total"]
        );
        assert_eq!(
            names("time() - max by (shop) (last_success_seconds) == 1 and on (shop) up offset 5m"),
            ["last_success_seconds", "up"]
        );
        assert_eq!(
            names(r#"absent(up{job="x"}) or shop:slo_errors:ratio_rate5m > bool 0.1"#),
            ["shop:slo_errors:ratio_rate5m", "up"]
        );
    }

    #[test]
    fn an_exposition_yields_its_samples_and_the_names_its_types_imply() {
        let text = "# HELP orders Orders.\n# TYPE orders counter\n# TYPE d_seconds histogram\n\
                    d_seconds_bucket{le=\"0.1\"} 1\n# TYPE up_now gauge\nup_now 1\n# EOF\n";
        let names = exported_names(text);
        for name in [
            "orders_total",
            "d_seconds_bucket",
            "d_seconds_sum",
            "d_seconds_count",
            "up_now",
        ] {
            assert!(names.contains(name), "{name}: {names:?}");
        }
        assert!(!names.contains("EOF"));
    }
}
