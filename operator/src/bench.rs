//! `shop-operator bench`: the reconciler against the in-memory API server, and `render`.
//! Prints API calls per pass (writes separately: the goal is none in steady state), wall time
//! per reconcile, and the time to render 100 Shops.

use std::io::Write as _;
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use kube::runtime::events::{Recorder, Reporter};
use serde_json::json;

use crate::Shop;
use crate::metrics::Metrics;
use crate::mock::FakeApi;
use crate::reconcile::{Context, reconcile};

fn writes(calls: &[String]) -> usize {
    calls
        .iter()
        .filter(|c| !c.starts_with("LIST") && !c.starts_with("GET"))
        .count()
}

/// Runs the benchmark and prints its table.
pub fn main() -> anyhow::Result<()> {
    shop_kit::install_crypto_provider();
    let out = tokio::runtime::Runtime::new()?.block_on(run())?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.as_bytes())?;
    Ok(())
}

async fn run() -> anyhow::Result<String> {
    let mut out = String::new();
    let api = FakeApi::new();
    let client = api.client();
    let ctx = Arc::new(Context::new(
        client.clone(),
        Recorder::new(
            client,
            Reporter {
                controller: "shop-operator".to_owned(),
                instance: Some("bench".to_owned()),
            },
        ),
        Arc::new(Metrics::default()),
        true,
    ));
    api.insert(
        "shops",
        json!({"apiVersion": "shopkeeper.dev/v1alpha1", "kind": "Shop",
               "metadata": {"name": "bench", "namespace": "shop", "uid": "bench-uid"},
               "spec": {"image": "shopkeeper/shop:0.1.0"}}),
    );
    let shop = || -> anyhow::Result<Arc<Shop>> {
        let value = api
            .get("shops", "shop", "bench")
            .ok_or_else(|| anyhow::anyhow!("no shop"))?;
        Ok(Arc::new(serde_json::from_value(value)?))
    };

    out.push_str("new Shop, pass by pass (the cluster settles in between):\n");
    out.push_str(&format!(
        "{:<6} {:>6} {:>7} {:>10}  phase\n",
        "pass", "calls", "writes", "ms"
    ));
    for pass in 1..=6 {
        api.take_calls();
        let start = Instant::now();
        reconcile(shop()?, ctx.clone()).await?;
        let ms = start.elapsed().as_secs_f64() * 1e3;
        let calls = api.take_calls();
        let phase = shop()?
            .status
            .as_ref()
            .map(|s| format!("{:?}", s.phase))
            .unwrap_or_default();
        out.push_str(&format!(
            "{pass:<6} {:>6} {:>7} {ms:>10.2}  {phase}\n",
            calls.len(),
            writes(&calls)
        ));
        api.settle("", false);
    }

    let n = 200;
    api.take_calls();
    let start = Instant::now();
    for _ in 0..n {
        reconcile(shop()?, ctx.clone()).await?;
    }
    let per = start.elapsed().as_secs_f64() * 1e3 / f64::from(n);
    let calls = api.take_calls();
    out.push_str(&format!(
        "\nsteady state, {n} reconciles: {:.1} calls and {} writes per reconcile, {per:.3} ms per reconcile\n",
        calls.len() as f64 / f64::from(n),
        writes(&calls),
    ));

    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/full.yaml")).unwrap_or_else(|_| {
            "apiVersion: shopkeeper.dev/v1alpha1\nkind: Shop\nmetadata: {name: x}\nspec: {image: i}\n".to_owned()
        });
    let template: Shop = serde_yaml::from_str(&text)?;
    let start = Instant::now();
    let mut bytes = 0;
    for i in 0..100 {
        let mut shop = template.clone();
        shop.metadata.name = Some(format!("shop-{i}"));
        bytes += crate::cli::render(shop, Utc::now(), &mut rand::rngs::OsRng)?.len();
    }
    let ms = start.elapsed().as_secs_f64() * 1e3;
    out.push_str(&format!(
        "render of 100 Shops (examples/full.yaml): {ms:.1} ms in all, {:.2} ms each, {} KiB of YAML\n",
        ms / 100.0,
        bytes / 1024
    ));
    Ok(out)
}
