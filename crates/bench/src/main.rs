//! `shop-bench`: the load generators behind `cargo xtask bench` (which starts the services and
//! the private stack, then runs these). Each prints one JSON line of results.
//!
//! - `verify [--seconds N]`: access-token verifications per second on one thread, through the
//!   same `TokenVerifier::verify` every service runs on every request.
//! - `login --url URL --email E --password P [--concurrency C] [--requests N]`: registers the
//!   user if needed, then N logins from C concurrent clients; latency percentiles.
//! - `get --name NAME --urls-file FILE [--concurrency C] [--seconds S]`: GETs the URLs of the
//!   file round-robin from C concurrent clients for S seconds; requests/s and percentiles.
#![allow(clippy::print_stdout)] // A benchmark prints its numbers.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use shop_kit::auth::{Claims, Plan, Role, TokenVerifier};

fn main() -> anyhow::Result<()> {
    shop_kit::install_crypto_provider();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    match args.first().map(String::as_str) {
        Some("verify") => {
            let seconds: u64 = flag("--seconds").map_or(Ok(3), |s| s.parse()).context("--seconds")?;
            // One core: a current-thread runtime, nothing else running on it.
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            rt.block_on(verify(Duration::from_secs(seconds)))
        }
        Some("login") => {
            let url = flag("--url").context("--url is required")?;
            let email = flag("--email").context("--email is required")?;
            let password = flag("--password").context("--password is required")?;
            let concurrency: usize = flag("--concurrency")
                .map_or(Ok(8), |s| s.parse())
                .context("--concurrency")?;
            let requests: usize = flag("--requests")
                .map_or(Ok(400), |s| s.parse())
                .context("--requests")?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            rt.block_on(login(&url, &email, &password, concurrency, requests))
        }
        Some("get") => {
            let name = flag("--name").unwrap_or_else(|| "get".to_owned());
            let file = flag("--urls-file").context("--urls-file is required")?;
            let urls: Vec<String> = std::fs::read_to_string(&file)?
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect();
            anyhow::ensure!(!urls.is_empty(), "{file} lists no URL");
            let concurrency: usize = flag("--concurrency")
                .map_or(Ok(64), |s| s.parse())
                .context("--concurrency")?;
            let seconds: u64 = flag("--seconds").map_or(Ok(10), |s| s.parse()).context("--seconds")?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            rt.block_on(get(&name, urls, concurrency, Duration::from_secs(seconds)))
        }
        _ => bail!(
            "usage: shop-bench verify [--seconds N] | login --url URL --email E --password P [--concurrency C] \
             [--requests N] | get --name NAME --urls-file FILE [--concurrency C] [--seconds S]"
        ),
    }
}

async fn verify(duration: Duration) -> anyhow::Result<()> {
    let (private_pem, public_pem) = shop_kit::keys::generate_ed25519_pem()?;
    let kid = "bench";
    let verifier = TokenVerifier::with_keys(
        "http://auth",
        "shopkeeper",
        vec![shop_kit::keys::parse_public_key(kid, public_pem.as_bytes())?],
    );
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        sub: uuid::Uuid::new_v4().to_string(),
        email: Some("bench@example.com".into()),
        role: Role::Customer,
        plan: Plan::Premium,
        iss: "http://auth".into(),
        aud: "shopkeeper".into(),
        exp: now + 3600,
        iat: now,
        jti: uuid::Uuid::new_v4().to_string(),
        sid: Some(uuid::Uuid::new_v4()),
    };
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.into());
    let token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_pem(private_pem.as_bytes())?)?;
    // Warm up, and prove the token is accepted: a benchmark of failures would be meaningless.
    anyhow::ensure!(
        verifier.verify_uncached(&token).await? == claims,
        "the token does not round-trip"
    );
    let uncached = rate(duration, || async { verifier.verify_uncached(&token).await }).await?;

    // The path every request takes: 1000 live sessions, each token verified once, then served
    // from the verifier's cache.
    let key = EncodingKey::from_ed_pem(private_pem.as_bytes())?;
    let mut tokens = Vec::new();
    for _ in 0..1000 {
        let mut c = claims.clone();
        c.jti = uuid::Uuid::new_v4().to_string();
        tokens.push(jsonwebtoken::encode(&header, &c, &key)?);
    }
    let mut i = 0usize;
    let cached = rate(duration, || {
        i = (i + 1) % tokens.len();
        let t = &tokens[i];
        let v = &verifier;
        async move { v.verify(t).await }
    })
    .await?;
    println!(
        "{}",
        json!({"bench": "verify", "alg": "EdDSA", "threads": 1,
               "signature_checked_per_second": uncached.0, "micros_each": uncached.1,
               "cached_1000_sessions_per_second": cached.0, "cached_micros_each": cached.1})
    );
    Ok(())
}

async fn login(url: &str, email: &str, password: &str, concurrency: usize, requests: usize) -> anyhow::Result<()> {
    let http = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let register = http
        .post(format!("{url}/auth/register"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await?;
    anyhow::ensure!(
        register.status().is_success() || register.status() == reqwest::StatusCode::CONFLICT,
        "register failed: {}",
        register.status()
    );
    let body = json!({"email": email, "password": password});
    // Warm-up: connections and the first login.
    let first = http.post(format!("{url}/auth/login")).json(&body).send().await?;
    anyhow::ensure!(first.status().is_success(), "login failed: {}", first.status());

    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (http, next, body, url) = (http.clone(), next.clone(), body.clone(), url.to_owned());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            while next.fetch_add(1, Ordering::Relaxed) < requests {
                let t = Instant::now();
                match http.post(format!("{url}/auth/login")).json(&body).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        latencies.push(t.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::with_capacity(requests);
    let mut errors = 0;
    for w in workers {
        let (l, e) = w.await?;
        all.extend(l);
        errors += e;
    }
    let secs = start.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| percentile(&all, p);
    println!(
        "{}",
        json!({"bench": "login", "concurrency": concurrency, "ok": all.len(), "errors": errors, "seconds": round(secs),
               "per_second": round(all.len() as f64 / secs), "p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99), "max_ms": pct(1.0)})
    );
    Ok(())
}

/// Latency percentiles of sorted samples, in milliseconds.
fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    round(sorted[i].as_secs_f64() * 1000.0)
}

async fn get(name: &str, urls: Vec<String>, concurrency: usize, duration: Duration) -> anyhow::Result<()> {
    let http = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let urls = Arc::new(urls);
    // Warm-up: every URL once, and it must answer 200.
    for u in urls.iter() {
        let r = http.get(u).send().await?;
        anyhow::ensure!(r.status().is_success(), "{u}: {}", r.status());
    }
    let start = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (http, urls, next) = (http.clone(), urls.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            while start.elapsed() < duration {
                let url = &urls[next.fetch_add(1, Ordering::Relaxed) % urls.len()];
                let t = Instant::now();
                match http.get(url).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        latencies.push(t.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (l, e) = w.await?;
        all.extend(l);
        errors += e;
    }
    let secs = start.elapsed().as_secs_f64();
    all.sort();
    println!(
        "{}",
        json!({"bench": name, "concurrency": concurrency, "ok": all.len(), "errors": errors, "seconds": round(secs),
               "per_second": round(all.len() as f64 / secs), "p50_ms": percentile(&all, 0.5), "p99_ms": percentile(&all, 0.99)})
    );
    Ok(())
}

/// Calls `f` for `duration` on this thread; returns (calls per second, microseconds each).
async fn rate<F, Fut>(duration: Duration, mut f: F) -> anyhow::Result<(f64, f64)>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Claims, shop_kit::auth::TokenError>>,
{
    let start = Instant::now();
    let mut n: u64 = 0;
    while start.elapsed() < duration {
        for _ in 0..256 {
            std::hint::black_box(f().await?);
        }
        n += 256;
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(((n as f64 / secs).round(), round(secs * 1e6 / n as f64)))
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
