//! The `rules` step of `cargo xtask test`: the Shop's PrometheusRule proven with `promtool`.
//! `monitoring/rules.yaml` (the rule of `examples/minimal.yaml`, rendered by
//! `shop-operator rules`) must be current and pass `promtool check rules`; the unit tests in
//! `monitoring/tests/` must pass `promtool test rules` (each alert firing on the series that
//! should fire it, quiet on healthy ones); the rule of every other example must pass
//! `promtool check rules` too. promtool comes with Debian's `prometheus` package: installed with
//! apt when missing and running as root, else the step fails with the command to run.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{proc, tools};

/// The Debian package that ships `promtool`.
const PACKAGE: &str = "prometheus";

pub(crate) fn check() -> Result<((), String)> {
    let promtool = ensure_promtool()?;
    let version = proc::output_ok(Command::new(&promtool).arg("--version"))?;
    let version = version
        .split_whitespace()
        .nth(2)
        .unwrap_or("unknown version")
        .to_owned();
    let root = proc::workspace_root();
    proc::run_ok(proc::cargo().args(["build", "-q", "-p", "shop-operator"]))?;
    let operator = proc::target_dir().join("debug/shop-operator");
    let out_dir = proc::target_dir().join("xtask/rules");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;

    // The committed file is what the operator makes of the minimal example.
    let committed = root.join("monitoring/rules.yaml");
    let rendered = render(&operator, &root.join("examples/minimal.yaml"))?;
    if std::fs::read_to_string(&committed).unwrap_or_default() != rendered {
        bail!(
            "monitoring/rules.yaml is stale; regenerate it with\n    \
             cargo run -p shop-operator -- rules -f examples/minimal.yaml > monitoring/rules.yaml"
        );
    }
    let mut checked = vec![committed];
    for example in yaml_files(&root.join("examples"))? {
        let rules = render(&operator, &example)?;
        let file = out_dir.join(example.file_name().unwrap_or_default());
        std::fs::write(&file, rules).with_context(|| format!("writing {}", file.display()))?;
        checked.push(file);
    }
    let out = promtool_ok(Command::new(&promtool).args(["check", "rules"]).args(&checked))?;
    // One `SUCCESS: <n> rules found` per file.
    let rules: usize = out
        .lines()
        .filter_map(|line| line.trim().strip_prefix("SUCCESS: ")?.strip_suffix(" rules found"))
        .filter_map(|n| n.parse::<usize>().ok())
        .sum();

    let tests = yaml_files(&root.join("monitoring/tests"))?;
    if tests.is_empty() {
        bail!("no monitoring/tests/*.yaml: the alerts are untested");
    }
    promtool_ok(Command::new(&promtool).args(["test", "rules"]).args(&tests))?;
    let cases: usize = tests
        .iter()
        .map(|t| {
            std::fs::read_to_string(t)
                .unwrap_or_default()
                .lines()
                .filter(|l| l.starts_with("  - name:"))
                .count()
        })
        .sum();
    Ok((
        (),
        format!(
            "promtool {version}: {rules} rules in {} files checked; {cases} unit tests in {} files pass",
            checked.len(),
            tests.len()
        ),
    ))
}

/// `promtool`, installed from Debian when missing (as root).
fn ensure_promtool() -> Result<PathBuf> {
    if let Some(found) = tools::which("promtool") {
        return Ok(found);
    }
    if !tools::is_root() {
        bail!("promtool is missing; install it with:\n    sudo apt-get install -y {PACKAGE}");
    }
    eprintln!("xtask: promtool is missing; installing `{PACKAGE}` with apt-get");
    tools::apt_install(&[PACKAGE])?;
    tools::which("promtool").with_context(|| format!("still no promtool after `apt-get install {PACKAGE}`"))
}

/// The rules file `shop-operator rules` makes of a Shop.
fn render(operator: &Path, shop: &Path) -> Result<String> {
    proc::output_ok(Command::new(operator).arg("rules").arg("-f").arg(shop))
}

/// Runs promtool; on failure shows everything it printed (its test failures go to stdout).
fn promtool_ok(cmd: &mut Command) -> Result<String> {
    let out = proc::output(cmd)?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "`{}` failed ({}):\n{stdout}{}",
            proc::display(cmd),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(stdout)
}

/// The `*.yaml` files of a directory, sorted.
fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    Ok(files)
}
