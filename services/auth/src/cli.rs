//! The command line: `shop-auth [serve]`, `shop-auth migrate`, `shop-auth keygen --out DIR`.

use std::process::ExitCode;
use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};

use crate::AppState;
use crate::config::Config;

const USAGE: &str = "usage: shop-auth [serve | migrate | keygen --out DIR]
  serve    run the service (default)
  migrate  apply the migrations of the auth database (DATABASE_URL) and exit
  keygen   write a new Ed25519 key pair: DIR/signing/<kid>.pem and DIR/public/<kid>.pem";

/// Runs the command named by the arguments.
pub fn main() -> ExitCode {
    shop_kit::cli::run("shop-auth", USAGE, |command, args| match command {
        "serve" => Some(shop_kit::cli::block_on(serve())),
        "migrate" => Some(shop_kit::cli::block_on(shop_kit::cli::migrate(
            "auth",
            &crate::MIGRATOR,
        ))),
        "keygen" => Some(keygen(args)),
        _ => None,
    })
}

async fn serve() -> anyhow::Result<()> {
    shop_kit::telemetry::init("auth")?;
    let config = Config::from_env()?;
    let server = crate::build(config).await?;
    server.run(shop_kit::server::shutdown_signal()).await
}

fn keygen(args: &[String]) -> anyhow::Result<()> {
    let dir = match args {
        [flag, dir] if flag == "--out" => std::path::PathBuf::from(dir),
        _ => anyhow::bail!("{USAGE}"),
    };
    let kid = shop_kit::keys::generate_into(&dir)?;
    #[allow(clippy::print_stdout)]
    {
        println!("{kid}");
    }
    Ok(())
}

/// Seeds the admin from `ADMIN_EMAIL`/`ADMIN_PASSWORD` (validated by `Config`), retrying while
/// the database is not reachable yet. Idempotent: an existing user is made an active admin, its
/// password kept. The password is hashed only when the admin has to be created, so a restarted
/// service does no argon2 work (and holds none of its memory) until someone logs in.
pub async fn seed_admin_until_done(state: AppState, email: String, password: SecretString) {
    let mut delay = Duration::from_millis(200);
    loop {
        match seed_admin(&state, &email, &password).await {
            Ok(created) => {
                tracing::info!(%email, created, "admin seeded");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), retry_in_ms = delay.as_millis() as u64, "cannot seed the admin yet");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
    }
}

async fn seed_admin(state: &AppState, email: &str, password: &SecretString) -> anyhow::Result<bool> {
    let hash = match crate::store::user_by_email(&state.db, email).await? {
        Some(_) => None,
        None => Some(state.hasher.hash(password.expose_secret()).await?),
    };
    Ok(crate::store::seed_admin(&state.db, email, hash.as_deref()).await?)
}
