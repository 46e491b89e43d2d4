//! The carts in Redis: `cart:{user_id}` hashes, changed only by atomic Lua scripts.

use std::collections::HashMap;

use redis::{AsyncCommands, Script};
use shop_kit::redis::Redis;
use uuid::Uuid;

use crate::config::Limits;

/// Sets or increments one line in one atomic step, enforcing the limits, and slides the expiry.
/// Returns the new quantity, 0 when the line was removed, -1 when the cart is full, -2 when
/// the line would exceed the quantity limit.
const CHANGE_LINE: &str = r"
local key, field = KEYS[1], ARGV[1]
local qty, mode = tonumber(ARGV[2]), ARGV[3]
local max_qty, max_lines, ttl_ms = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local current = tonumber(redis.call('HGET', key, field) or '0')
local new = qty
if mode == 'add' then new = current + qty end
if new <= 0 then
  redis.call('HDEL', key, field)
  if redis.call('EXISTS', key) == 1 then redis.call('PEXPIRE', key, ttl_ms) end
  return 0
end
if new > max_qty then return -2 end
if current == 0 and redis.call('HLEN', key) >= max_lines then return -1 end
redis.call('HSET', key, field, new)
redis.call('PEXPIRE', key, ttl_ms)
return new
";

/// Takes a cart for a checkout: moves `cart:{user}` to the checkout's held copy and returns its
/// lines; once held, the same checkout gets the held lines again (retries of one checkout see
/// one cart). KEYS: the cart, the held copy. ARGV: the held copy's expiry (ms).
const TAKE: &str = r"
if redis.call('EXISTS', KEYS[2]) == 1 then return redis.call('HGETALL', KEYS[2]) end
local lines = redis.call('HGETALL', KEYS[1])
if #lines > 0 then
  redis.call('RENAME', KEYS[1], KEYS[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[1])
end
return lines
";

/// Puts a held cart back into the cart (which may have gained lines since), within the limits,
/// once. KEYS: the cart, the held copy. ARGV: max qty, max lines, the cart's expiry (ms).
/// Returns how many lines came back.
const RESTORE: &str = r"
local held = redis.call('HGETALL', KEYS[2])
if #held == 0 then return 0 end
local max_qty, max_lines, ttl_ms = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
for i = 1, #held, 2 do
  local current = tonumber(redis.call('HGET', KEYS[1], held[i]) or '0')
  if current > 0 or redis.call('HLEN', KEYS[1]) < max_lines then
    redis.call('HSET', KEYS[1], held[i], math.min(current + tonumber(held[i + 1]), max_qty))
  end
end
redis.call('DEL', KEYS[2])
redis.call('PEXPIRE', KEYS[1], ttl_ms)
return #held / 2
";

/// What a line change came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Changed {
    /// The line's new quantity (0: removed).
    Qty(i64),
    /// The cart already has the most lines allowed.
    Full,
    /// The line would exceed the most units allowed.
    TooMany,
}

/// Access to the carts.
#[derive(Clone)]
pub struct CartStore {
    redis: Redis,
    limits: Limits,
    change: std::sync::Arc<Script>,
    take: std::sync::Arc<Script>,
    restore: std::sync::Arc<Script>,
}

fn key(user: Uuid) -> String {
    format!("cart:{user}")
}

/// The copy of a cart held by the checkout `checkout` (its idempotency key).
fn held_key(user: Uuid, checkout: &str) -> String {
    format!("cart:{user}:held:{checkout}")
}

/// A cart hash (product id → quantity) as sorted lines; a field that is not a product id is
/// skipped.
fn lines_of(hash: HashMap<String, i64>) -> Vec<(Uuid, i64)> {
    let mut lines: Vec<(Uuid, i64)> = hash
        .into_iter()
        .filter_map(|(id, qty)| Some((Uuid::parse_str(&id).ok()?, qty)))
        .collect();
    lines.sort();
    lines
}

impl CartStore {
    /// A store with these limits.
    pub fn new(redis: Redis, limits: Limits) -> Self {
        Self {
            redis,
            limits,
            change: std::sync::Arc::new(Script::new(CHANGE_LINE)),
            take: std::sync::Arc::new(Script::new(TAKE)),
            restore: std::sync::Arc::new(Script::new(RESTORE)),
        }
    }

    /// The limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The lines of a cart (product id → quantity), sliding its expiry.
    #[tracing::instrument(target = "shop::span", level = "debug", name = "redis cart.get", skip_all, fields(otel.kind = "client", db.system.name = "redis"))]
    pub async fn get(&self, user: Uuid) -> Result<Vec<(Uuid, i64)>, redis::RedisError> {
        let mut conn = self.redis.conn().await?;
        let (lines, _): (HashMap<String, i64>, i64) = redis::pipe()
            .atomic()
            .hgetall(key(user))
            .pexpire(key(user), self.ttl_ms())
            .query_async(&mut conn)
            .await?;
        Ok(lines_of(lines))
    }

    fn ttl_ms(&self) -> i64 {
        i64::try_from(self.limits.ttl.as_millis()).unwrap_or(i64::MAX)
    }

    async fn run(&self, user: Uuid, product: Uuid, qty: i64, mode: &str) -> Result<Changed, redis::RedisError> {
        let mut conn = self.redis.conn().await?;
        let result: i64 = self
            .change
            .key(key(user))
            .arg(product.to_string())
            .arg(qty)
            .arg(mode)
            .arg(self.limits.max_qty)
            .arg(self.limits.max_lines)
            .arg(self.ttl_ms())
            .invoke_async(&mut conn)
            .await?;
        Ok(match result {
            -1 => Changed::Full,
            -2 => Changed::TooMany,
            n => Changed::Qty(n),
        })
    }

    /// Adds `qty` units of a product.
    #[tracing::instrument(target = "shop::span", level = "debug", name = "redis cart.add", skip_all, fields(otel.kind = "client", db.system.name = "redis"))]
    pub async fn add(&self, user: Uuid, product: Uuid, qty: i64) -> Result<Changed, redis::RedisError> {
        self.run(user, product, qty, "add").await
    }

    /// Sets a line's quantity (0 removes it).
    #[tracing::instrument(target = "shop::span", level = "debug", name = "redis cart.set", skip_all, fields(otel.kind = "client", db.system.name = "redis"))]
    pub async fn set(&self, user: Uuid, product: Uuid, qty: i64) -> Result<Changed, redis::RedisError> {
        self.run(user, product, qty, "set").await
    }

    /// Removes a line.
    #[tracing::instrument(target = "shop::span", level = "debug", name = "redis cart.remove", skip_all, fields(otel.kind = "client", db.system.name = "redis"))]
    pub async fn remove(&self, user: Uuid, product: Uuid) -> Result<(), redis::RedisError> {
        let mut conn = self.redis.conn().await?;
        let _: i64 = conn.hdel(key(user), product.to_string()).await?;
        Ok(())
    }

    /// Takes the cart for the checkout `checkout`: its lines, now held apart from the cart (which
    /// is empty, or holds what was added since). The same checkout gets the same lines again.
    #[tracing::instrument(target = "shop::span", level = "debug", name = "redis cart.take", skip_all, fields(otel.kind = "client", db.system.name = "redis"))]
    pub async fn take(&self, user: Uuid, checkout: &str) -> Result<Vec<(Uuid, i64)>, redis::RedisError> {
        let mut conn = self.redis.conn().await?;
        let held: HashMap<String, i64> = self
            .take
            .key(key(user))
            .key(held_key(user, checkout))
            .arg(self.ttl_ms())
            .invoke_async(&mut conn)
            .await?;
        Ok(lines_of(held))
    }

    /// Puts the lines held by `checkout` back into the cart (a checkout that did not place an
    /// order); how many lines came back (0: nothing held, or already restored).
    #[tracing::instrument(target = "shop::span", level = "debug", name = "redis cart.restore", skip_all, fields(otel.kind = "client", db.system.name = "redis"))]
    pub async fn restore(&self, user: Uuid, checkout: &str) -> Result<i64, redis::RedisError> {
        let mut conn = self.redis.conn().await?;
        self.restore
            .key(key(user))
            .key(held_key(user, checkout))
            .arg(self.limits.max_qty)
            .arg(self.limits.max_lines)
            .arg(self.ttl_ms())
            .invoke_async(&mut conn)
            .await
    }

    /// Empties a cart.
    #[tracing::instrument(target = "shop::span", level = "debug", name = "redis cart.clear", skip_all, fields(otel.kind = "client", db.system.name = "redis"))]
    pub async fn clear(&self, user: Uuid) -> Result<(), redis::RedisError> {
        let mut conn = self.redis.conn().await?;
        let _: i64 = conn.del(key(user)).await?;
        Ok(())
    }
}
