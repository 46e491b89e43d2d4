//! Finding (and, as root, installing) the programs the commands need: the PostgreSQL server
//! binaries, Redis, optionally Chromium and chromedriver, and whether `cargo-nextest` is there.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::proc;

/// The programs found on this machine, by absolute path.
#[derive(Debug, Clone)]
pub(crate) struct Tools {
    /// `initdb`: creates a Postgres data directory.
    pub(crate) initdb: PathBuf,
    /// `pg_ctl`: starts and stops a Postgres server.
    pub(crate) pg_ctl: PathBuf,
    /// `postgres`: the server itself (handed to `pg_ctl -p` so both come from one version).
    pub(crate) postgres: PathBuf,
    /// `psql`: runs SQL (the existence check before creating a database, smoke tests).
    pub(crate) psql: PathBuf,
    /// `createdb`: creates a database (quotes the name, so `order` works).
    pub(crate) createdb: PathBuf,
    /// `pg_isready`, when installed (readiness probe; `psql` is the fallback).
    pub(crate) pg_isready: Option<PathBuf>,
    /// `redis-server`.
    pub(crate) redis_server: PathBuf,
    /// `redis-cli`.
    pub(crate) redis_cli: PathBuf,
    /// `chromium` (or Chrome), when asked for and found (`SHOP_TEST_CHROMIUM` for the tests).
    pub(crate) chromium: Option<PathBuf>,
    /// `chromedriver`, when asked for and found (`SHOP_TEST_CHROMEDRIVER` for the tests).
    pub(crate) chromedriver: Option<PathBuf>,
    /// Whether `cargo nextest` works (then tests run with it, else with `cargo test`).
    pub(crate) nextest: bool,
    /// Whether we run as root (then the Postgres binaries run as the `postgres` user).
    pub(crate) root: bool,
    /// `runuser`, found when running as root.
    pub(crate) runuser: Option<PathBuf>,
}

/// The Debian packages that provide the stack (and the browser).
const STACK_PACKAGES: &[&str] = &["postgresql", "redis-server"];
const BROWSER_PACKAGES: &[&str] = &["chromium", "chromium-driver"];

/// Finds every program the stack needs; installs the missing ones with apt when running as
/// root, otherwise fails with the exact `sudo apt-get install …` line to run.
pub(crate) fn ensure_tools(need_chromium: bool) -> Result<Tools> {
    let root = is_root();
    match find(need_chromium, root) {
        Ok(tools) => return Ok(tools),
        Err(missing) if !root => {
            let mut packages = STACK_PACKAGES.to_vec();
            if need_chromium {
                packages.extend_from_slice(BROWSER_PACKAGES);
            }
            bail!(
                "missing programs: {}\ninstall them with:\n    sudo apt-get install -y {}",
                missing.join(", "),
                packages.join(" ")
            );
        }
        Err(missing) => eprintln!("xtask: missing {}; installing with apt-get", missing.join(", ")),
    }

    let mut packages = STACK_PACKAGES.to_vec();
    if need_chromium {
        packages.extend_from_slice(BROWSER_PACKAGES);
    }
    apt_install(&packages)?;
    find(need_chromium, root).map_err(|missing| {
        anyhow::anyhow!(
            "still missing after `apt-get install {}`: {}",
            packages.join(" "),
            missing.join(", ")
        )
    })
}

/// Installs Debian packages with `apt-get` (as root, non-interactively, no recommends).
pub(crate) fn apt_install(packages: &[&str]) -> Result<()> {
    proc::run_ok(Command::new("apt-get").arg("update"))?;
    proc::run_ok(
        Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "--no-install-recommends"])
            .args(packages),
    )
}

/// Whether the effective user is root (`id -u` prints 0).
pub(crate) fn is_root() -> bool {
    proc::output_ok(Command::new("id").arg("-u")).is_ok_and(|uid| uid.trim() == "0")
}

/// Looks every program up; on failure returns the names of the missing ones.
fn find(need_chromium: bool, root: bool) -> std::result::Result<Tools, Vec<String>> {
    let pg_dir = postgres_bindir();
    let mut missing = Vec::new();
    let mut pg = |name: &str| {
        let found = pg_dir
            .as_deref()
            .map(|dir| dir.join(name))
            .filter(|path| is_executable(path))
            .or_else(|| which(name));
        if found.is_none() {
            missing.push(name.to_owned());
        }
        found.unwrap_or_default()
    };
    let initdb = pg("initdb");
    let pg_ctl = pg("pg_ctl");
    let postgres = pg("postgres");
    let psql = pg("psql");
    let createdb = pg("createdb");
    let pg_isready = pg_dir
        .as_deref()
        .map(|dir| dir.join("pg_isready"))
        .filter(|path| is_executable(path))
        .or_else(|| which("pg_isready"));

    let mut other = |name: &str| {
        let found = which(name);
        if found.is_none() {
            missing.push(name.to_owned());
        }
        found.unwrap_or_default()
    };
    let redis_server = other("redis-server");
    let redis_cli = other("redis-cli");

    // Root runs Postgres through `runuser`, which lives in sbin (often not on a user's PATH).
    let runuser = if root {
        let found = which_system("runuser");
        if found.is_none() {
            missing.push("runuser".to_owned());
        }
        found
    } else {
        None
    };

    let (chromium, chromedriver) = if need_chromium {
        let chromium = ["chromium", "chromium-browser", "google-chrome"]
            .iter()
            .find_map(|name| which(name));
        if chromium.is_none() {
            missing.push("chromium".to_owned());
        }
        let driver = which("chromedriver");
        if driver.is_none() {
            missing.push("chromedriver".to_owned());
        }
        (chromium, driver)
    } else {
        (None, None)
    };

    if !missing.is_empty() {
        return Err(missing);
    }
    Ok(Tools {
        initdb,
        pg_ctl,
        postgres,
        psql,
        createdb,
        pg_isready,
        redis_server,
        redis_cli,
        chromium,
        chromedriver,
        nextest: has_nextest(),
        root,
        runuser,
    })
}

/// The PostgreSQL server's bin directory: `pg_config --bindir` when it holds `initdb`, else the
/// newest `/usr/lib/postgresql/<version>/bin`, else none (then `PATH` is searched).
fn postgres_bindir() -> Option<PathBuf> {
    let from_pg_config = proc::output_ok(Command::new("pg_config").arg("--bindir"))
        .ok()
        .map(|dir| PathBuf::from(dir.trim()))
        .filter(|dir| is_executable(&dir.join("initdb")));
    if from_pg_config.is_some() {
        return from_pg_config;
    }
    let versions = std::fs::read_dir("/usr/lib/postgresql").ok()?;
    versions
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = version_key(&entry.file_name().to_string_lossy())?;
            let bin = entry.path().join("bin");
            is_executable(&bin.join("initdb")).then_some((version, bin))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, bin)| bin)
}

/// `"15"` → `[15]`, `"9.6"` → `[9, 6]`; `None` for names that are not versions.
fn version_key(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

/// Whether `cargo nextest` is installed.
fn has_nextest() -> bool {
    proc::output(proc::cargo().args(["nextest", "--version"])).is_ok_and(|out| out.status.success())
}

/// Searches `PATH` for an executable.
pub(crate) fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

/// Searches `PATH`, then the sbin directories (system tools such as `runuser`, `useradd`).
pub(crate) fn which_system(name: &str) -> Option<PathBuf> {
    which(name).or_else(|| {
        ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
            .iter()
            .map(|dir| Path::new(dir).join(name))
            .find(|candidate| is_executable(candidate))
    })
}

/// Whether `path` is a regular file with an execute bit.
fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Makes sure the `postgres` system user exists (as root, before running Postgres as it).
pub(crate) fn ensure_postgres_user() -> Result<()> {
    if proc::output(Command::new("id").args(["-u", "postgres"]))?
        .status
        .success()
    {
        return Ok(());
    }
    let useradd = which_system("useradd").unwrap_or_else(|| PathBuf::from("useradd"));
    proc::output_ok(Command::new(useradd).args(["--system", "--no-create-home", "postgres"]))
        .context("creating the `postgres` system user")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::version_key;

    #[test]
    fn versions_sort_numerically() {
        assert!(version_key("15") > version_key("9.6"));
        assert!(version_key("16") > version_key("15"));
        assert_eq!(version_key("common"), None);
    }
}
