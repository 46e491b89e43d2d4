//! `shop-catalog`: `serve` (default), `migrate`, `seed`.

fn main() -> std::process::ExitCode {
    shop_catalog::cli::main()
}
