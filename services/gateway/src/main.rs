//! `shop-gateway`: `serve` (the default).

fn main() -> std::process::ExitCode {
    shop_gateway::cli::main()
}
