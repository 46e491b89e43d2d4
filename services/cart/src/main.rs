//! `shop-cart`: `serve` (the default).

fn main() -> std::process::ExitCode {
    shop_cart::cli::main()
}
