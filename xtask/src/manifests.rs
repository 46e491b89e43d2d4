//! The `manifests` step of `cargo xtask test`: renders every example Shop with
//! `shop-operator render` and validates the result offline — the Kubernetes objects against the
//! 1.37 OpenAPI schemas bundled by the PyPI package `kubernetes-validate` (strict: unknown fields
//! fail), the example Shops themselves with `jsonschema` against the CRD's `openAPIV3Schema`,
//! and the operator's Helm chart rendered by `charts/shopkeeper-operator/ci/render.py`, in its
//! cluster-wide and its namespaced mode.
//! The Python tools live in a venv under `target/xtask/venv`, made on first use.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{proc, tools};

/// The Kubernetes version the operator targets (k8s-openapi's `latest`).
const KUBERNETES: &str = "1.37.0";

/// Validates the Shop examples against the CRD schema (the CRD is YAML, the schema is in it).
const SHOP_SCHEMA_CHECK: &str = r#"
import sys, yaml, jsonschema
crd = yaml.safe_load(open(sys.argv[1]))
schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
for path in sys.argv[2:]:
    jsonschema.validate(yaml.safe_load(open(path)), schema)
    print(f"{path}: valid Shop")
"#;

pub(crate) fn check() -> Result<((), String)> {
    let root = proc::workspace_root();
    let venv = ensure_venv()?;
    proc::run_ok(proc::cargo().args(["build", "-p", "shop-operator"]))?;
    let operator = proc::target_dir().join("debug/shop-operator");
    let out_dir = proc::target_dir().join("xtask/manifests");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;

    let mut examples: Vec<PathBuf> = std::fs::read_dir(root.join("examples"))
        .context("reading examples/")?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    examples.sort();
    if examples.is_empty() {
        bail!("no examples/*.yaml to render");
    }
    let mut rendered = Vec::new();
    for example in &examples {
        let yaml = proc::output_ok(Command::new(&operator).arg("render").arg("-f").arg(example))?;
        let file = out_dir.join(example.file_name().unwrap_or_default());
        std::fs::write(&file, yaml).with_context(|| format!("writing {}", file.display()))?;
        rendered.push(file);
    }
    // The operator's Helm chart, rendered by a small stand-in for helm (not installable here):
    // cluster-wide (the default values) and namespaced (`watchNamespaces: [shop, team-b]`).
    for (file, namespaces) in [
        ("chart.yaml", &[][..]),
        ("chart-namespaced.yaml", &["shop", "team-b"][..]),
    ] {
        let chart = proc::output_ok(
            Command::new(venv.join("bin/python"))
                .arg(root.join("charts/shopkeeper-operator/ci/render.py"))
                .args(namespaces),
        )?;
        let chart_file = out_dir.join(file);
        std::fs::write(&chart_file, chart).with_context(|| format!("writing {}", chart_file.display()))?;
        rendered.push(chart_file);
    }
    // Custom resources (ServiceMonitor, PrometheusRule) have no bundled schema: --no-warn.
    proc::run_ok(
        Command::new(venv.join("bin/kubernetes-validate"))
            .args(["-k", KUBERNETES, "--strict", "--quiet", "--no-warn"])
            .args(&rendered),
    )?;
    proc::run_ok(
        Command::new(venv.join("bin/python"))
            .args(["-c", SHOP_SCHEMA_CHECK])
            .arg(root.join("crds/shop.yaml"))
            .args(&examples),
    )?;
    Ok((
        (),
        format!("{} examples + chart, Kubernetes {KUBERNETES}", examples.len()),
    ))
}

/// `target/xtask/venv` with kubernetes-validate, jsonschema and PyYAML.
fn ensure_venv() -> Result<PathBuf> {
    let venv = proc::target_dir().join("xtask/venv");
    if venv.join("bin/kubernetes-validate").exists() {
        return Ok(venv);
    }
    create_venv(&venv)?;
    proc::run_ok(Command::new(venv.join("bin/pip")).args([
        "install",
        "--quiet",
        "kubernetes-validate",
        "jsonschema",
        "pyyaml",
    ]))?;
    Ok(venv)
}

/// A fresh Python venv at `venv` (replacing what was there); as root installs `python3-venv`
/// with apt when `python3 -m venv` fails, else fails with the command to run.
pub(super) fn create_venv(venv: &Path) -> Result<()> {
    if !make_venv(venv) {
        if !tools::is_root() {
            bail!("`python3 -m venv` fails; install it with:\n    sudo apt-get install -y python3-venv");
        }
        eprintln!("xtask: python3 -m venv fails; installing python3-venv with apt-get");
        proc::run_ok(Command::new("apt-get").arg("update"))?;
        proc::run_ok(Command::new("apt-get").args(["install", "-y", "python3-venv"]))?;
        if !make_venv(venv) {
            bail!("`python3 -m venv {}` still fails", venv.display());
        }
    }
    Ok(())
}

fn make_venv(venv: &Path) -> bool {
    let _ = std::fs::remove_dir_all(venv);
    proc::run(Command::new("python3").args(["-m", "venv"]).arg(venv)).is_ok_and(|status| status.success())
}
