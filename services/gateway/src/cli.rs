//! The command line: `shop-gateway [serve]`.

use std::process::ExitCode;

const USAGE: &str = "usage: shop-gateway [serve]
  serve    run the gateway (default)";

/// Runs the command named by the arguments.
pub fn main() -> ExitCode {
    shop_kit::cli::run("shop-gateway", USAGE, |command, _args| match command {
        "serve" => Some(shop_kit::cli::block_on(serve())),
        _ => None,
    })
}

async fn serve() -> anyhow::Result<()> {
    shop_kit::telemetry::init("gateway")?;
    let config = crate::config::Config::from_env()?;
    let server = crate::build(config).await?;
    server.run(shop_kit::server::shutdown_signal()).await
}
