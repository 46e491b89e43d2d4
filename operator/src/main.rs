//! `shop-operator`: see [`shop_operator::cli`].

fn main() -> std::process::ExitCode {
    shop_operator::cli::main()
}
