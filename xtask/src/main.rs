//! `cargo xtask <command>`: the project's chores, in Rust so they need nothing but cargo.
//!
//! - [`dev`]: `cargo xtask dev` runs the whole shop locally on a private Postgres and Redis,
//!   restarting a service that dies ([`supervise`]).
//! - [`test`]: `cargo xtask test` runs the gates (fmt, clippy, the test suite) as CI does;
//!   [`rules`] is its `promtool` step for the Shop's alerting rules.
//! - [`bench`]: `cargo xtask bench`.
//! - Shared: [`tools`] (finds or installs Postgres/Redis), [`stack`] (the private Postgres and
//!   Redis), [`services`] (the services table, secrets, environment, running binaries),
//!   [`proc`] (signals, child processes, paths).
#![allow(clippy::print_stdout)] // A command-line tool prints by design.

mod bench;
mod dev;
mod observe;
mod proc;
mod rules;
mod services;
mod stack;
mod supervise;
mod test;
mod tools;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Dispatches `cargo xtask <command> [args]`.
fn run(args: &[String]) -> anyhow::Result<()> {
    let Some((command, rest)) = args.split_first() else {
        println!("{USAGE}");
        return Ok(());
    };
    proc::install_signal_handler()?;
    match command.as_str() {
        "dev" => dev::run(rest),
        "test" => test::run(rest),
        "bench" => bench::run(rest),
        // The `rules` step of `test` alone: promtool over the Shop's alerting rules.
        "rules" => rules::check().map(|((), detail)| println!("rules: {detail}")),
        // Hidden: starts and stops a throw-away stack to check the machine can run one.
        "stack-check" => stack::check(rest),
        "help" | "-h" | "--help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => anyhow::bail!("unknown command {other:?}\n\n{USAGE}"),
    }
}

const USAGE: &str = "usage: cargo xtask <command> [args]

commands:
  dev     build and run the whole shop locally (private Postgres and Redis), until Ctrl-C
          [--reset] wipes target/xtask/dev first
  test    cargo fmt --check, cargo clippy, and every test against a fresh private stack
          [--no-lint] skips fmt and clippy; [-- ARGS] go to the test runner (a filter)
  rules   promtool check/test of the Shop's alerting rules (the `rules` step of test)
  bench   load benchmarks

`cargo xtask <command> --help` tells more; docs/development.md tells all.";
