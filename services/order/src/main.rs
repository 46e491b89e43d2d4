//! `shop-order`: `serve` (default), `migrate`.

fn main() -> std::process::ExitCode {
    shop_order::cli::main()
}
