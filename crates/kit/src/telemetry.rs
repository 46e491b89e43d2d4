//! Logging: `tracing` with JSON (`LOG_FORMAT=json`) or readable output and a `RUST_LOG` filter.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt;

use crate::config::{self, ConfigError};

/// The log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line, for containers.
    Json,
    /// Human-readable, for a terminal.
    Text,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "json" => Ok(Self::Json),
            "text" | "pretty" | "plain" => Ok(Self::Text),
            other => Err(format!("expected `json` or `text`, got `{other}`")),
        }
    }
}

/// Installs the global subscriber from `LOG_FORMAT` and `RUST_LOG` (default `info`), and the
/// span exporter when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (see [`crate::trace`]).
/// Secrets never reach the logs: configuration holds them in `SecretString`, and tokens and
/// passwords are never recorded as fields.
pub fn init(service: &'static str) -> Result<(), ConfigError> {
    init_with(service, "info,sqlx=warn,tower_http=warn")
}

/// [`init`] with another filter when `RUST_LOG` is unset (the operator quiets `kube`).
pub fn init_with(service: &'static str, default_filter: &str) -> Result<(), ConfigError> {
    #[cfg(feature = "otel")]
    let traces_url = crate::trace::traces_url_from_env();
    #[cfg(not(feature = "otel"))]
    let traces_url: Option<String> = None;
    install(service, default_filter, traces_url.as_deref())
}

/// [`init`], with spans exported to `traces_url` whatever the environment says (tests).
#[cfg(feature = "otel")]
pub fn init_traced(service: &'static str, traces_url: &str) -> Result<(), ConfigError> {
    install(service, "info,sqlx=warn,tower_http=warn", Some(traces_url))
}

fn install(service: &'static str, default_filter: &str, traces_url: Option<&str>) -> Result<(), ConfigError> {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    let format = config::or("LOG_FORMAT", LogFormat::Text)?;
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => {
            EnvFilter::try_new(&spec).map_err(|e| ConfigError::new("RUST_LOG", e))?
        }
        _ => EnvFilter::new(default_filter),
    };
    let logs = match format {
        // The current span's fields ride on every line: a request's `request_id` and `trace_id`.
        LogFormat::Json => fmt::layer()
            .with_target(true)
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
        LogFormat::Text => fmt::layer().with_target(true).compact().boxed(),
    }
    .with_filter(filter);
    #[cfg(feature = "otel")]
    let spans = traces_url
        .map(|url| crate::trace::layer(service, url))
        .transpose()
        .map_err(|e| ConfigError::new("OTEL_EXPORTER_OTLP_ENDPOINT", format!("{e:#}")))?;
    let subscriber = tracing_subscriber::registry().with(logs);
    #[cfg(feature = "otel")]
    let subscriber = subscriber.with(spans);
    // A second init (tests) keeps the first subscriber.
    drop(subscriber.try_init());
    tracing::debug!(service, traces = traces_url.unwrap_or("off"), "telemetry initialised");
    Ok(())
}
