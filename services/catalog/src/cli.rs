//! The command line: `shop-catalog [serve]`, `shop-catalog migrate`, `shop-catalog seed`.

use std::process::ExitCode;

use crate::config::Config;

const USAGE: &str = "usage: shop-catalog [serve | migrate | seed]
  serve    run the service (default)
  migrate  apply the migrations of the catalog database (DATABASE_URL) and exit
  seed     load the demo catalog (idempotent; images served by this service at PUBLIC_URL)";

/// Runs the command named by the arguments.
pub fn main() -> ExitCode {
    shop_kit::cli::run("shop-catalog", USAGE, |command, _args| match command {
        "serve" => Some(shop_kit::cli::block_on(serve())),
        "migrate" => Some(shop_kit::cli::block_on(shop_kit::cli::migrate(
            "catalog",
            &crate::MIGRATOR,
        ))),
        "seed" => Some(shop_kit::cli::block_on(seed())),
        _ => None,
    })
}

async fn serve() -> anyhow::Result<()> {
    shop_kit::telemetry::init("catalog")?;
    let config = Config::from_env()?;
    let server = crate::build(config).await?;
    server.run(shop_kit::server::shutdown_signal()).await
}

async fn seed() -> anyhow::Result<()> {
    shop_kit::telemetry::init("catalog")?;
    let url = shop_kit::config::secret("DATABASE_URL")?;
    let public_url = crate::config::public_url()?;
    let pool = shop_kit::db::pool("DATABASE_URL", &url, "shop-catalog-seed", 2)?;
    let summary = crate::seed::seed(&pool, &public_url).await?;
    tracing::info!(?summary, "demo catalog seeded");
    Ok(())
}
