//! axe-core for the browser tests: `target/xtask/axe/axe.min.js`, taken once from the npm
//! package `axe-core` 4.x (`npm pack`, then `tar`) and handed to the tests as `SHOP_TEST_AXE`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{proc, tools};

/// What `npm pack` fetches: the newest axe-core 4.x.
const PACKAGE: &str = "axe-core@4";

/// The file the tests inject, inside the package's tarball.
const MEMBER: &str = "package/axe.min.js";

/// Returns the path of a 4.x `axe.min.js` and its version, fetching it when it is missing (or
/// another major version). Needs `npm` only then; as root it is installed with apt.
pub(crate) fn ensure() -> Result<(PathBuf, String)> {
    let dir = proc::target_dir().join("xtask/axe");
    let file = dir.join("axe.min.js");
    if let Some(version) = cached_version(&file) {
        return Ok((file, version));
    }
    let npm = ensure_npm()?;
    // A private scratch directory beside the result, so the final rename stays on one disk.
    let work = dir.join(format!(".pack-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let fetched = fetch(&npm, &work, &file);
    let _ = std::fs::remove_dir_all(&work);
    let version = fetched?;
    eprintln!("xtask: axe-core {version} kept at {}", file.display());
    Ok((file, version))
}

/// `npm pack` into `work`, extracts [`MEMBER`], checks its version and moves it to `file`.
fn fetch(npm: &Path, work: &Path, file: &Path) -> Result<String> {
    // npm writes its notices to stderr and the tarball's name to stdout; we look in `work`.
    proc::output_ok(
        Command::new(npm)
            .args(["pack", PACKAGE, "--pack-destination"])
            .arg(work)
            .current_dir(work),
    )
    .with_context(|| format!("fetching {PACKAGE} with npm"))?;
    let tarball = std::fs::read_dir(work)
        .with_context(|| format!("reading {}", work.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .find(|path| path.to_string_lossy().ends_with(".tgz"))
        .with_context(|| format!("`npm pack {PACKAGE}` left no .tgz in {}", work.display()))?;
    proc::output_ok(
        Command::new("tar")
            .arg("-xzf")
            .arg(&tarball)
            .arg("-C")
            .arg(work)
            .arg(MEMBER),
    )?;
    let extracted = work.join(MEMBER);
    let version = cached_version(&extracted).with_context(|| format!("{} is not axe-core 4.x", tarball.display()))?;
    std::fs::rename(&extracted, file)
        .with_context(|| format!("moving {} to {}", extracted.display(), file.display()))?;
    Ok(version)
}

/// The version of the axe-core 4.x build at `file`, read from its banner; `None` when the file
/// is missing, unreadable, not axe, or another major version.
fn cached_version(file: &Path) -> Option<String> {
    let mut head = [0_u8; 64];
    let mut reader = std::fs::File::open(file).ok()?;
    let len = reader.read(&mut head).ok()?;
    axe4_version(&String::from_utf8_lossy(&head[..len])).map(str::to_owned)
}

/// The version in axe's banner comment when it is a 4.x: `/*! axe v4.14.1\n * Copyright…` →
/// `4.14.1`.
fn axe4_version(head: &str) -> Option<&str> {
    let rest = head.strip_prefix("/*! axe v")?;
    let version = rest.split_whitespace().next()?;
    let well_formed = version
        .split('.')
        .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    (well_formed && version.starts_with("4.")).then_some(version)
}

/// Finds `npm`; as root installs it with apt, else fails with the command to run.
fn ensure_npm() -> Result<PathBuf> {
    if let Some(npm) = tools::which("npm") {
        return Ok(npm);
    }
    if !tools::is_root() {
        bail!(
            "npm is missing (needed once, to fetch {PACKAGE} for the browser tests); install it with:\n    \
             sudo apt-get install -y npm"
        );
    }
    eprintln!("xtask: missing npm (to fetch {PACKAGE}); installing with apt-get");
    tools::apt_install(&["npm"])?;
    tools::which("npm").context("still missing after `apt-get install npm`: npm")
}

#[cfg(test)]
mod tests {
    use super::axe4_version;

    #[test]
    fn the_version_comes_from_the_banner() {
        assert_eq!(
            axe4_version("/*! axe v4.14.1\n * Copyright (c) 2015 - 2026 Deque Systems, Inc."),
            Some("4.14.1")
        );
        assert_eq!(axe4_version("/*! axe v4.10.0-canary.1 */"), Some("4.10.0-canary.1"));
    }

    #[test]
    fn other_files_and_majors_are_refetched() {
        assert_eq!(axe4_version("/*! axe v5.0.0\n */"), None);
        assert_eq!(axe4_version("/*! axe v3.5.6 */"), None);
        assert_eq!(axe4_version("/*! jQuery v3.7.1 */"), None);
        assert_eq!(axe4_version("/*! axe v */"), None);
        assert_eq!(axe4_version(""), None);
    }
}
