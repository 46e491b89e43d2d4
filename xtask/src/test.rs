//! `cargo xtask test`: the gates CI runs — fmt, clippy, and the whole test suite on a fresh
//! private Postgres and Redis — each step timed, with a summary table at the end.

use std::io::IsTerminal;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::proc;
use crate::stack::{Stack, StackOptions};
use crate::tools::{self, Tools};

// The operator's rendered manifests, validated offline (its own file to keep this one short).
#[path = "manifests.rs"]
mod manifests;

// axe-core, which the browser tests inject into every page they check.
#[path = "axe.rs"]
mod axe;

// schemathesis, which the conformance test runs over every service's OpenAPI document.
#[path = "schemathesis.rs"]
mod schemathesis;

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    Failed,
    Skipped,
}

/// One row of the summary.
#[derive(Debug)]
struct Step {
    name: &'static str,
    outcome: Outcome,
    seconds: f64,
    detail: String,
}

/// Test counts read from the runner's output.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    passed: u64,
    failed: u64,
    skipped: u64,
    seen: bool,
}

/// Runs `cargo xtask test [--no-lint] [-- <runner args>]`.
pub(crate) fn run(args: &[String]) -> Result<()> {
    let mut lint = true;
    let mut runner_args: Vec<String> = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--no-lint" => lint = false,
            "--" => runner_args.extend(iter.by_ref().cloned()),
            "-h" | "--help" => {
                println!("{}", usage());
                return Ok(());
            }
            other => bail!("unknown argument {other:?}\n\n{}", usage()),
        }
    }

    let mut steps: Vec<Step> = Vec::new();
    let started = Instant::now();

    let tools = timed(&mut steps, "tools", || {
        // Chromium, chromedriver and axe-core too: the gateway's pages are proven in a real
        // headless browser and checked for accessibility.
        let tools = tools::ensure_tools(true)?;
        let (axe, axe_version) = axe::ensure()?;
        let (schemathesis, schemathesis_version) = schemathesis::ensure()?;
        let runner = if tools.nextest {
            "cargo-nextest"
        } else {
            "cargo test (no cargo-nextest)"
        };
        Ok((
            (tools, axe, schemathesis),
            format!("{runner}, axe {axe_version}, schemathesis {schemathesis_version}"),
        ))
    });
    if lint {
        timed(&mut steps, "fmt", || {
            cargo_step(proc::cargo().args(["fmt", "--all", "--check"]))
        });
        timed(&mut steps, "clippy", || {
            cargo_step(proc::cargo().args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))
        });
    }
    timed(&mut steps, "manifests", manifests::check);
    timed(&mut steps, "rules", crate::rules::check);
    match tools {
        Some((tools, axe, schemathesis)) if !proc::interrupted() => {
            // The stack lives exactly as long as this block: stopped on every way out of it.
            let stack = timed(&mut steps, "stack", || {
                let stack = Stack::start(&tools, &StackOptions::new("test", true))?;
                let detail = format!("pg :{}, redis :{}", stack.pg_port(), stack.redis_port());
                Ok((stack, detail))
            });
            match stack {
                Some(mut stack) => {
                    timed(&mut steps, "tests", || {
                        run_tests(&tools, &axe, &schemathesis, &stack, &runner_args)
                    });
                    if let Err(err) = stack.stop() {
                        eprintln!("xtask: {err:#}");
                    }
                }
                None => skip(&mut steps, "tests"),
            }
        }
        _ => {
            skip(&mut steps, "stack");
            skip(&mut steps, "tests");
        }
    }

    print_summary(&steps, started.elapsed().as_secs_f64());
    proc::check_interrupted()?;
    let failed: Vec<&str> = steps
        .iter()
        .filter(|step| step.outcome == Outcome::Failed)
        .map(|step| step.name)
        .collect();
    if !failed.is_empty() {
        bail!("failed: {}", failed.join(", "));
    }
    Ok(())
}

fn usage() -> String {
    "usage: cargo xtask test [--no-lint] [-- <test runner args>]\n\n\
     Runs cargo fmt --check, cargo clippy -D warnings, then the whole test suite (cargo nextest\n\
     when installed, else cargo test) against a fresh private Postgres and Redis.\n\n\
     --no-lint   skip fmt and clippy\n\
     -- ARGS     passed to the test runner, e.g. `-- login` or `-- -p shop-auth`"
        .to_owned()
}

/// Runs one step, records its outcome and time, and returns its value when it succeeded.
/// `f` returns the value and a detail for the table.
fn timed<T>(steps: &mut Vec<Step>, name: &'static str, f: impl FnOnce() -> Result<(T, String)>) -> Option<T> {
    if proc::interrupted() {
        skip(steps, name);
        return None;
    }
    eprintln!("\nxtask: ── {name} ──");
    let start = Instant::now();
    let result = f();
    let seconds = start.elapsed().as_secs_f64();
    match result {
        Ok((value, detail)) => {
            steps.push(Step {
                name,
                outcome: Outcome::Ok,
                seconds,
                detail,
            });
            Some(value)
        }
        Err(err) => {
            eprintln!("xtask: {name} failed: {err:#}");
            steps.push(Step {
                name,
                outcome: Outcome::Failed,
                seconds,
                detail: first_line(&format!("{err:#}")),
            });
            None
        }
    }
}

fn skip(steps: &mut Vec<Step>, name: &'static str) {
    steps.push(Step {
        name,
        outcome: Outcome::Skipped,
        seconds: 0.0,
        detail: String::new(),
    });
}

fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() > 60 {
        format!("{}…", line.chars().take(59).collect::<String>())
    } else {
        line.to_owned()
    }
}

/// A cargo subcommand with inherited output; fails unless it succeeds.
fn cargo_step(cmd: &mut std::process::Command) -> Result<((), String)> {
    proc::run_ok(cmd)?;
    Ok(((), String::new()))
}

/// Runs the test suite against the stack, streaming its output and counting results. The
/// browser tests get Chromium, chromedriver and `axe` (the path of `axe.min.js`); the
/// conformance test gets `schemathesis`.
fn run_tests(
    tools: &Tools,
    axe: &Path,
    schemathesis: &Path,
    stack: &Stack,
    runner_args: &[String],
) -> Result<((), String)> {
    let mut cmd = proc::cargo();
    if tools.nextest {
        cmd.args(["nextest", "run", "--workspace", "--no-fail-fast"]);
    } else {
        cmd.args(["test", "--workspace", "--no-fail-fast"]);
    }
    cmd.args(runner_args)
        // A superuser URL: the tests create a fresh database per test from it.
        .env("SHOP_TEST_DATABASE_URL", stack.database_url("postgres"))
        .env("SHOP_TEST_REDIS_URL", format!("{}/", stack.redis_url()))
        .envs(tools.chromium.as_ref().map(|path| ("SHOP_TEST_CHROMIUM", path)))
        .envs(tools.chromedriver.as_ref().map(|path| ("SHOP_TEST_CHROMEDRIVER", path)))
        .env("SHOP_TEST_AXE", axe)
        // Debian's `prometheus` package, which the `rules` step installs with promtool.
        .envs(tools::which("prometheus").map(|path| ("SHOP_TEST_PROMETHEUS", path)))
        .env("SHOP_TEST_SCHEMATHESIS", schemathesis)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Output goes through a pipe (to count results); keep colours when a person watches.
    if std::env::var_os("CARGO_TERM_COLOR").is_none()
        && std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none()
    {
        cmd.env("CARGO_TERM_COLOR", "always");
    }
    eprintln!("xtask: {}", proc::display(&cmd));

    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting `{}`", proc::display(&cmd)))?;
    let counts = Arc::new(Mutex::new(Counts::default()));
    let mut readers = Vec::new();
    for (stream, to_stderr) in [
        (
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            false,
        ),
        (
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            true,
        ),
    ] {
        if let Some(stream) = stream {
            let counts = Arc::clone(&counts);
            readers.push(proc::forward_lines(stream, to_stderr, move |line| {
                if let Ok(mut counts) = counts.lock() {
                    counts.update(&strip_ansi(line));
                }
                line.to_owned()
            }));
        }
    }
    let status = proc::wait(&mut child)?;
    for reader in readers {
        reader.join().ok();
    }
    let counts = counts.lock().map(|counts| *counts).unwrap_or_default();
    let detail = if counts.seen {
        let mut detail = format!("{} passed, {} failed", counts.passed, counts.failed);
        if counts.skipped > 0 {
            detail.push_str(&format!(", {} skipped", counts.skipped));
        }
        detail
    } else {
        String::new()
    };
    proc::check_interrupted()?;
    if !status.success() {
        bail!(if detail.is_empty() {
            format!("test runner failed ({status})")
        } else {
            detail
        });
    }
    Ok(((), detail))
}

impl Counts {
    /// Reads one output line: nextest's `Summary [..] N tests run: N passed, M failed, K
    /// skipped` (the totals) or one of `cargo test`'s `test result: ok. N passed; M failed;
    /// K ignored; …` (one per test binary, summed).
    fn update(&mut self, line: &str) {
        let line = line.trim();
        // `1 test run:` or `42 tests run:`.
        if line.starts_with("Summary [")
            && let Some((_, tail)) = line.split_once(" run:")
        {
            *self = Self {
                passed: count(tail, "passed"),
                failed: count(tail, "failed") + count(tail, "timed out"),
                skipped: count(tail, "skipped"),
                seen: true,
            };
        } else if let Some(tail) = line.strip_prefix("test result:") {
            self.passed += count(tail, "passed");
            self.failed += count(tail, "failed");
            self.skipped += count(tail, "ignored");
            self.seen = true;
        }
    }
}

/// The number written before `word` in `text` (`"3 passed; 1 failed"`, `"failed"` → 1).
fn count(text: &str, word: &str) -> u64 {
    text.split([',', ';'])
        .filter_map(|part| {
            let part = part.trim().trim_start_matches(|c: char| !c.is_ascii_digit());
            let (number, rest) = part.split_once(' ')?;
            (rest.trim() == word || rest.trim().starts_with(&format!("{word} ")))
                .then(|| number.parse::<u64>().ok())
                .flatten()
        })
        .sum()
}

/// Removes ANSI colour sequences (`ESC [ … letter`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn print_summary(steps: &[Step], total: f64) {
    let color = proc::color();
    println!("\n{:<8} {:<8} {:>8}  details", "step", "result", "seconds");
    for step in steps {
        let (text, code) = match step.outcome {
            Outcome::Ok => ("ok", "32"),
            Outcome::Failed => ("FAILED", "31;1"),
            Outcome::Skipped => ("skipped", "33"),
        };
        let result = if color {
            format!("\x1b[{code}m{text:<8}\x1b[0m")
        } else {
            format!("{text:<8}")
        };
        println!("{:<8} {result} {:>8.1}  {}", step.name, step.seconds, step.detail);
    }
    println!("{:<8} {:<8} {total:>8.1}", "total", "");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nextest_summary_is_the_total() {
        let mut counts = Counts::default();
        counts.update("     Summary [  12.345s] 42 tests run: 40 passed, 2 failed, 3 skipped");
        assert_eq!(
            counts,
            Counts {
                passed: 40,
                failed: 2,
                skipped: 3,
                seen: true
            }
        );
        counts.update("     Summary [   1.000s] 1 test run: 1 passed (1 slow), 0 skipped");
        assert_eq!((counts.passed, counts.failed), (1, 0));
    }

    #[test]
    fn cargo_test_results_add_up() {
        let mut counts = Counts::default();
        counts.update("test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s");
        counts.update("test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out");
        assert_eq!((counts.passed, counts.failed, counts.skipped), (5, 1, 1));
    }

    #[test]
    fn colours_are_stripped() {
        assert_eq!(strip_ansi("\x1b[32;1mSummary\x1b[0m [ 1s]"), "Summary [ 1s]");
    }
}
