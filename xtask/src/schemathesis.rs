//! schemathesis for the conformance test: a venv at `target/xtask/schemathesis` holding the
//! version pinned in `xtask/python/schemathesis.txt`, handed to the tests as
//! `SHOP_TEST_SCHEMATHESIS` (the path of its `schemathesis` command).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::proc;

/// The requirements file, relative to the workspace root.
const REQUIREMENTS: &str = "xtask/python/schemathesis.txt";

/// Returns the `schemathesis` command and its version, installing the pinned version with pip
/// when it is missing or another version.
pub(crate) fn ensure() -> Result<(PathBuf, String)> {
    let requirements = proc::workspace_root().join(REQUIREMENTS);
    let text = std::fs::read_to_string(&requirements).with_context(|| format!("reading {}", requirements.display()))?;
    let pinned = pinned_version(&text).with_context(|| format!("{REQUIREMENTS} pins no `schemathesis==` version"))?;
    let venv = proc::target_dir().join("xtask/schemathesis");
    let command = venv.join("bin/schemathesis");
    if installed_version(&command).as_deref() == Some(pinned) {
        return Ok((command, pinned.to_owned()));
    }
    eprintln!("xtask: installing schemathesis {pinned} into {}", venv.display());
    super::manifests::create_venv(&venv)?;
    proc::run_ok(
        Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--requirement"])
            .arg(&requirements),
    )?;
    match installed_version(&command) {
        Some(version) if version == pinned => Ok((command, version)),
        other => bail!("pip installed schemathesis {other:?}, not the pinned {pinned}"),
    }
}

/// The version after `schemathesis==` in a requirements file.
fn pinned_version(requirements: &str) -> Option<&str> {
    requirements
        .lines()
        .map(|line| line.split('#').next().unwrap_or_default().trim())
        .find_map(|line| line.strip_prefix("schemathesis=="))
        .map(str::trim)
        .filter(|version| !version.is_empty())
}

/// What `schemathesis --version` says (`schemathesis, version 4.32.5` → `4.32.5`).
fn installed_version(command: &Path) -> Option<String> {
    if !command.exists() {
        return None;
    }
    let out = proc::output(Command::new(command).arg("--version")).ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split("version").nth(1).map(|v| v.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::pinned_version;

    #[test]
    fn the_pin_is_read_past_comments() {
        assert_eq!(
            pinned_version("# the fuzzer\nschemathesis==4.32.5  # pinned\n"),
            Some("4.32.5")
        );
        assert_eq!(pinned_version("schemathesis>=4\n"), None);
        assert_eq!(pinned_version(""), None);
    }
}
