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

/// Installs the global subscriber from `LOG_FORMAT` and `RUST_LOG` (default `info`).
/// Secrets never reach the logs: configuration holds them in `SecretString`, and tokens and
/// passwords are never recorded as fields.
pub fn init(service: &'static str) -> Result<(), ConfigError> {
    init_with(service, "info,sqlx=warn,tower_http=warn")
}

/// [`init`] with another filter when `RUST_LOG` is unset (the operator quiets `kube`).
pub fn init_with(service: &'static str, default_filter: &str) -> Result<(), ConfigError> {
    let format = config::or("LOG_FORMAT", LogFormat::Text)?;
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => {
            EnvFilter::try_new(&spec).map_err(|e| ConfigError::new("RUST_LOG", e))?
        }
        _ => EnvFilter::new(default_filter),
    };
    let builder = fmt().with_env_filter(filter).with_target(true);
    let result = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.compact().try_init(),
    };
    // A second init (tests) keeps the first subscriber.
    drop(result);
    tracing::debug!(service, "telemetry initialised");
    Ok(())
}
