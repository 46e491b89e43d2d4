//! The command line every service binary shares: `serve` (the default), `migrate`, and the
//! service's own commands, with one way of reporting failure.

use std::process::ExitCode;

/// Runs the command named by the process arguments. `commands` gets the command and its
/// arguments and returns `None` for a command it does not know.
pub fn run<F>(binary: &str, usage: &str, commands: F) -> ExitCode
where
    F: FnOnce(&str, &[String]) -> Option<anyhow::Result<()>>,
{
    crate::install_crypto_provider();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, rest) = match args.split_first() {
        Some((c, rest)) => (c.as_str(), rest),
        None => ("serve", &[][..]),
    };
    if matches!(command, "-h" | "--help" | "help") {
        eprintln!("{usage}");
        return ExitCode::SUCCESS;
    }
    let result =
        commands(command, rest).unwrap_or_else(|| Err(anyhow::anyhow!("unknown command `{command}`\n{usage}")));
    // The last spans leave before the process does.
    #[cfg(feature = "otel")]
    crate::trace::shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "{binary} failed");
            eprintln!("{binary}: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a future on a new multi-threaded runtime.
pub fn block_on<F: Future<Output = anyhow::Result<()>>>(future: F) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(future)
}

/// The `migrate` command: applies `migrator` to `DATABASE_URL` and exits.
#[cfg(feature = "db")]
pub async fn migrate(service: &'static str, migrator: &sqlx::migrate::Migrator) -> anyhow::Result<()> {
    crate::telemetry::init(service)?;
    let url = crate::config::secret("DATABASE_URL")?;
    let pool = crate::db::pool("DATABASE_URL", &url, &format!("shop-{service}-migrate"), 1)?;
    crate::db::migrate(&pool, migrator).await
}
