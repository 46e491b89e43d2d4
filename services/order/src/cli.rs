//! The command line: `shop-order [serve]`, `shop-order migrate`.

use std::process::ExitCode;

use crate::config::Config;

const USAGE: &str = "usage: shop-order [serve | migrate]
  serve    run the service (default)
  migrate  apply the migrations of the order database (DATABASE_URL) and exit";

/// Runs the command named by the arguments.
pub fn main() -> ExitCode {
    shop_kit::cli::run("shop-order", USAGE, |command, _args| match command {
        "serve" => Some(shop_kit::cli::block_on(serve())),
        "migrate" => Some(shop_kit::cli::block_on(shop_kit::cli::migrate(
            "order",
            &crate::MIGRATOR,
        ))),
        _ => None,
    })
}

async fn serve() -> anyhow::Result<()> {
    shop_kit::telemetry::init("order")?;
    let config = Config::from_env()?;
    let server = crate::build(config).await?;
    server.run(shop_kit::server::shutdown_signal()).await
}
