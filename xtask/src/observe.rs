//! `cargo xtask dev --observe`: a local Prometheus (Debian's `prometheus` package) that scrapes
//! every service's admin port and loads the shop's alerting and recording rules, so the real
//! metrics, the dashboards' queries and the alerts can be tried at `http://localhost:9099`.
//!
//! Targets carry the labels a ServiceMonitor gives them in a cluster (`namespace="local"`,
//! `service="shop-<name>"`), and the rules are the operator's own, rendered for a Shop named
//! `shop` in namespace `local` (`shop-operator rules`), so the dashboards work here with
//! namespace `local` and shop `shop`. Its data lives in `target/xtask/dev/prometheus/`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::proc;
use crate::services::Instance;
use crate::tools;

/// The default port (`SHOP_PROMETHEUS_PORT` moves it).
pub(crate) const PORT: u16 = 9099;

/// The running Prometheus; dropping it stops it.
pub(crate) struct LocalPrometheus {
    child: Child,
    pub(crate) url: String,
}

impl Drop for LocalPrometheus {
    fn drop(&mut self) {
        eprintln!("xtask: stopping Prometheus");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Prometheus configuration: every built service's admin port, scraped every 5 s.
pub(crate) fn config(instances: &[Instance], rules: Option<&Path>) -> String {
    let mut text = String::from("global:\n  scrape_interval: 5s\n  evaluation_interval: 5s\n");
    if let Some(rules) = rules {
        text.push_str(&format!("rule_files:\n  - {}\n", rules.display()));
    }
    text.push_str("scrape_configs:\n");
    for instance in instances {
        let name = instance.service.name;
        text.push_str(&format!(
            "  - job_name: shop-{name}\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n        labels: {{namespace: local, service: shop-{name}}}\n",
            instance.ports.admin
        ));
    }
    text
}

/// The Shop the local rules are rendered for.
const LOCAL_SHOP: &str = "apiVersion: shopkeeper.dev/v1alpha1\nkind: Shop\nmetadata:\n  name: shop\n  namespace: local\nspec:\n  image: shopkeeper:dev\n";

/// Starts Prometheus for `instances` (installing the package as root when it is missing).
pub(crate) fn start(dev_dir: &Path, instances: &[Instance], operator: &Path) -> Result<LocalPrometheus> {
    let binary = ensure_prometheus()?;
    let port = crate::services::env_port("SHOP_PROMETHEUS_PORT")?.unwrap_or(PORT);
    if proc::port_in_use(port) {
        bail!("port {port} (Prometheus) is already in use; move it with SHOP_PROMETHEUS_PORT");
    }
    let dir = dev_dir.join("prometheus");
    fs::create_dir_all(&dir)?;
    let rules = if operator.is_file() {
        let shop = dir.join("shop.yaml");
        fs::write(&shop, LOCAL_SHOP)?;
        let text = proc::output_ok(Command::new(operator).arg("rules").arg("-f").arg(&shop))?;
        let path = dir.join("rules.yml");
        fs::write(&path, text)?;
        Some(path)
    } else {
        eprintln!(
            "xtask: {} is not built; Prometheus starts without the rules",
            operator.display()
        );
        None
    };
    let config_path = dir.join("prometheus.yml");
    fs::write(&config_path, config(instances, rules.as_deref()))?;
    let log = fs::File::create(dir.join("prometheus.log"))?;
    let child = Command::new(&binary)
        .arg(format!("--config.file={}", config_path.display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        // Latency buckets carry the trace ids of sampled requests (when traces are exported).
        .arg("--enable-feature=exemplar-storage")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    let prometheus = LocalPrometheus {
        child,
        url: format!("http://localhost:{port}"),
    };
    let started = Instant::now();
    while !proc::port_in_use(port) {
        if started.elapsed() > Duration::from_secs(30) {
            bail!(
                "Prometheus did not listen on {port} within 30 s; see {}",
                dir.join("prometheus.log").display()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(prometheus)
}

fn ensure_prometheus() -> Result<PathBuf> {
    if let Some(found) = tools::which("prometheus") {
        return Ok(found);
    }
    if !tools::is_root() {
        bail!("prometheus is missing; install it with:\n    sudo apt-get install -y prometheus");
    }
    eprintln!("xtask: prometheus is missing; installing it with apt-get");
    tools::apt_install(&["prometheus"])?;
    tools::which("prometheus").context("still no prometheus after `apt-get install prometheus`")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_is_a_target_with_the_labels_of_a_cluster() {
        let instances = crate::services::resolve_ports().expect("the default ports");
        let text = config(&instances, Some(Path::new("/x/rules.yml")));
        assert!(text.contains("rule_files:\n  - /x/rules.yml\n"), "{text}");
        for instance in &instances {
            let name = instance.service.name;
            assert!(
                text.contains(&format!("targets: ['127.0.0.1:{}']", instance.ports.admin)),
                "{name}: {text}"
            );
            assert!(text.contains(&format!("service: shop-{name}}}")), "{name}: {text}");
        }
        assert_eq!(text.matches("namespace: local").count(), instances.len());
    }
}
