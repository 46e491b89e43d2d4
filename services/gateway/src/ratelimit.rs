//! Rate limits shared by every gateway replica: one Redis script call per request (GCRA, the
//! generic cell rate algorithm: a steady `limit / window` rate with a burst of `limit`).
//!
//! Answers carry the IETF `RateLimit-Policy` and `RateLimit` headers
//! (`"api-free";q=300;w=60`, `"api-free";r=42;t=12`); a refusal is a 429 problem with
//! `Retry-After`. When Redis fails the request goes through unlimited (fail open: the shop
//! keeps selling while its limiter is down), counted in `gateway_rate_limit_unavailable_total`
//! and reported in `/ready`.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use shop_kit::Problem;
use shop_kit::health::Check;
use shop_kit::redis::Redis;

use crate::config::Rate;
use crate::metrics::{GatewayMetrics, PolicyLabel};

/// GCRA in one atomic step. KEYS[1]: the bucket; ARGV: emission interval (µs), burst
/// (limit), cost (1). Returns `{allowed, remaining, reset_µs, retry_after_µs}`. Time comes
/// from Redis, so replicas with skewed clocks agree.
const GCRA: &str = r"
local interval = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local window = interval * limit
local new_tat = tat + interval
local allow_at = new_tat - window
if now < allow_at then
  return {0, 0, tat - now, allow_at - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1)
local remaining = math.floor((window - (new_tat - now)) / interval)
return {1, remaining, new_tat - now, 0}
";

/// A named budget.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Its name in headers, metrics and Redis keys (`api-free`).
    pub name: &'static str,
    /// The budget.
    pub rate: Rate,
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy)]
pub struct Decision {
    /// The policy checked.
    pub policy: Policy,
    /// Whether the request may go.
    pub allowed: bool,
    /// Requests left in the burst (`None`: unknown, the store failed).
    pub remaining: Option<u64>,
    /// Seconds until the budget is full again.
    pub reset_secs: u64,
    /// Seconds until a refused request may be retried.
    pub retry_after_secs: u64,
}

impl Decision {
    /// Adds `RateLimit-Policy` and `RateLimit` to `headers` (nothing when the store failed).
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        let Some(remaining) = self.remaining else {
            return;
        };
        let name = self.policy.name;
        let policy = format!(
            "\"{name}\";q={};w={}",
            self.policy.rate.limit,
            self.policy.rate.window.as_secs()
        );
        let state = format!("\"{name}\";r={remaining};t={}", self.reset_secs);
        if let (Ok(policy), Ok(state)) = (HeaderValue::from_str(&policy), HeaderValue::from_str(&state)) {
            headers.insert("ratelimit-policy", policy);
            headers.insert("ratelimit", state);
        }
    }

    /// The 429 answer for a refused request.
    pub fn refusal(&self) -> Response {
        let retry = self.retry_after_secs.max(1);
        let mut answer = Problem::new(StatusCode::TOO_MANY_REQUESTS, "rate-limited", "Too many requests")
            .detail(format!(
                "the `{}` limit is {} requests per {} s; retry in {retry} s",
                self.policy.name,
                self.policy.rate.limit,
                self.policy.rate.window.as_secs()
            ))
            .with("policy", self.policy.name)
            .header(http::header::RETRY_AFTER, retry.to_string())
            .into_response();
        self.write_headers(answer.headers_mut());
        answer
    }
}

/// The limiter.
pub struct Limiter {
    redis: Redis,
    script: redis::Script,
    metrics: Arc<GatewayMetrics>,
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Limiter {
    /// A limiter on `redis`.
    pub fn new(redis: Redis, metrics: Arc<GatewayMetrics>) -> Self {
        metrics.rate_limit_store_up.set(1);
        Self {
            redis,
            script: redis::Script::new(GCRA),
            metrics,
        }
    }

    /// Spends one request of `policy` for `subject` (a user id or a client address).
    pub async fn check(&self, policy: Policy, subject: &str) -> Decision {
        let interval = micros(policy.rate.window) / u64::from(policy.rate.limit.max(1));
        let key = format!("rl:{}:{subject}", policy.name);
        let outcome: Result<(i64, i64, i64, i64), redis::RedisError> = async {
            let mut conn = self.redis.conn().await?;
            self.script
                .key(&key)
                .arg(interval.max(1))
                .arg(policy.rate.limit)
                .invoke_async(&mut conn)
                .await
        }
        .await;
        match outcome {
            Ok((allowed, remaining, reset, retry)) => {
                self.store(true);
                let secs = |us: i64| u64::try_from(us).unwrap_or(0).div_ceil(1_000_000);
                let decision = Decision {
                    policy,
                    allowed: allowed == 1,
                    remaining: Some(u64::try_from(remaining).unwrap_or(0)),
                    reset_secs: secs(reset),
                    retry_after_secs: secs(retry),
                };
                if !decision.allowed {
                    self.metrics
                        .rate_limited
                        .get_or_create(&PolicyLabel { policy: policy.name })
                        .inc();
                }
                decision
            }
            Err(err) => {
                // Said once when the store goes away, not once per request.
                if self.metrics.rate_limit_store_up.get() == 1 {
                    tracing::warn!(error = %err, "rate-limit store unavailable: serving without limits");
                }
                self.store(false);
                self.metrics.rate_limit_unavailable.inc();
                Decision {
                    policy,
                    allowed: true,
                    remaining: None,
                    reset_secs: 0,
                    retry_after_secs: 0,
                }
            }
        }
    }

    fn store(&self, up: bool) {
        self.metrics.rate_limit_store_up.set(i64::from(up));
    }
}

/// `/ready` entry `rate-limits`: Redis answers `PING`. Never makes the gateway unready (it
/// serves without limits meanwhile).
pub struct LimiterCheck(pub Arc<Limiter>);

impl Check for LimiterCheck {
    fn name(&self) -> &'static str {
        "rate-limits"
    }
    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let answer = shop_kit::redis::RedisCheck(self.0.redis.clone()).check().await;
            answer.map_err(|e| format!("redis unavailable, serving without rate limits ({e})"))
        })
    }
    fn required(&self) -> bool {
        false
    }
}
