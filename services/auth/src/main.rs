//! `shop-auth`: `serve` (default), `migrate`, `keygen --out DIR`.

fn main() -> std::process::ExitCode {
    shop_auth::cli::main()
}
