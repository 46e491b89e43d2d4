//! Login throttling per (email, address) pair, per email and per address, in Postgres so every
//! replica shares it. The policy is [`policy::decide`]; this module reads and writes counters.
//!
//! Per attempt, under two transaction-scoped advisory locks (the email's, then the address's;
//! always in that order, so no deadlock), the three counters are read, the policy decides, and
//! an admitted attempt is counted as a failure *before* the password is checked, so concurrent
//! guesses cannot slip past a limit. A success ([`Admitted::succeeded`]) deletes the pair's
//! counter and takes the attempt back from the email's and the address's. Unknown emails are
//! counted like known ones: the throttle never reveals whether an account exists.

pub mod policy;

use std::net::IpAddr;
use std::time::Duration;

use sqlx::PgPool;

use self::policy::{Counter, Counters, Decision, Scope};
use crate::config::ThrottleConfig;

/// The counter keys of one attempt: `pair:<email> <address>`, `email:<email>`, `ip:<address>`.
#[derive(Debug, Clone)]
pub struct Keys {
    pair: String,
    email: String,
    ip: String,
}

impl Keys {
    /// The keys for a normalised email and a client address (emails hold no spaces).
    pub fn new(email: &str, ip: IpAddr) -> Self {
        Self {
            pair: format!("pair:{email} {ip}"),
            email: format!("email:{email}"),
            ip: format!("ip:{ip}"),
        }
    }
}

/// A refused attempt: answer 429 with `Retry-After`.
#[derive(Debug, Clone, Copy)]
pub struct Refused {
    /// How long to wait.
    pub retry_after: Duration,
    /// Which limit refused (for logs only).
    pub scope: Scope,
}

impl Refused {
    /// `Retry-After` in whole seconds, rounded up.
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after.as_secs() + u64::from(self.retry_after.subsec_nanos() > 0)
    }
}

/// An admitted attempt, already counted as a failure: check the password, then call
/// [`Admitted::succeeded`] if it was right.
#[derive(Debug)]
#[must_use = "a successful attempt must call `succeeded`"]
pub struct Admitted {
    keys: Keys,
    counted_ip: bool,
}

/// Reads the counters, decides, and counts an admitted attempt; `Err` when it is refused.
pub async fn attempt(
    db: &PgPool,
    config: &ThrottleConfig,
    keys: Keys,
) -> Result<Result<Admitted, Refused>, sqlx::Error> {
    let window = config.window.as_secs_f64();
    let mut tx = db.begin().await?;
    for key in [&keys.email, &keys.ip] {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(key)
            .execute(&mut *tx)
            .await?;
    }
    // A counter forgets its failures a window after its last failure *and* the end of its
    // block (so a block as long as the window is not followed by a fresh start).
    let rows: Vec<(String, i32, f64, f64)> = sqlx::query_as(
        "SELECT key,
             CASE WHEN GREATEST(last_failed_at, blocked_until) > now() - make_interval(secs => $2)
                  THEN failures ELSE 0 END,
             GREATEST(0, COALESCE(EXTRACT(EPOCH FROM blocked_until - now()), 0))::float8,
             GREATEST(0, COALESCE(EXTRACT(EPOCH FROM last_failed_at + make_interval(secs => $2) - now()), 0))::float8
         FROM login_throttle WHERE key = ANY($1)",
    )
    .bind([keys.pair.as_str(), keys.email.as_str(), keys.ip.as_str()])
    .bind(window)
    .fetch_all(&mut *tx)
    .await?;
    let mut counters = Counters::default();
    for (key, failures, blocked_for, forgets_in) in rows {
        let counter = Counter {
            failures: u32::try_from(failures).unwrap_or(0),
            blocked_for: Duration::from_secs_f64(blocked_for),
            forgets_in: Duration::from_secs_f64(forgets_in),
        };
        if key == keys.pair {
            counters.pair = counter;
        } else if key == keys.email {
            counters.email = counter;
        } else {
            counters.ip = counter;
        }
    }
    let charge = match policy::decide(config, &counters) {
        Decision::Refuse { retry_after, scope } => return Ok(Err(Refused { retry_after, scope })),
        Decision::Admit(charge) => charge,
    };
    let mut writes: Vec<(&str, u32, Option<Duration>)> = vec![
        (keys.pair.as_str(), charge.pair_failures, charge.pair_block),
        (keys.email.as_str(), charge.email_failures, charge.email_block),
    ];
    if let Some(failures) = charge.ip_failures {
        writes.push((keys.ip.as_str(), failures, None));
    }
    let (names, failures, blocks): (Vec<&str>, Vec<i32>, Vec<Option<f64>>) = writes
        .into_iter()
        .map(|(k, f, b)| (k, i32::try_from(f).unwrap_or(i32::MAX), b.map(|d| d.as_secs_f64())))
        .collect();
    // A block never shortens one already running (a clean address's failure during an email's
    // backoff lengthens it; it cannot lift it).
    sqlx::query(
        "INSERT INTO login_throttle AS t (key, failures, last_failed_at, blocked_until)
         SELECT k, f, now(), now() + make_interval(secs => b)
         FROM unnest($1::text[], $2::int4[], $3::float8[]) AS u(k, f, b)
         ON CONFLICT (key) DO UPDATE SET
             failures = EXCLUDED.failures,
             last_failed_at = EXCLUDED.last_failed_at,
             blocked_until = GREATEST(t.blocked_until, EXCLUDED.blocked_until)",
    )
    .bind(names)
    .bind(failures)
    .bind(blocks)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Ok(Admitted {
        counted_ip: charge.ip_failures.is_some(),
        keys,
    }))
}

impl Admitted {
    /// After the right password: the pair starts afresh (its block lifted), the email and the
    /// address get this attempt back. The email's backoff stays: it only ever holds back
    /// addresses that have failed on it.
    pub async fn succeeded(self, db: &PgPool) -> Result<(), sqlx::Error> {
        let give_back: Vec<&str> = if self.counted_ip {
            vec![self.keys.email.as_str(), self.keys.ip.as_str()]
        } else {
            vec![self.keys.email.as_str()]
        };
        sqlx::query(
            "WITH gone AS (DELETE FROM login_throttle WHERE key = $1)
             UPDATE login_throttle SET failures = GREATEST(failures - 1, 0) WHERE key = ANY($2)",
        )
        .bind(&self.keys.pair)
        .bind(give_back)
        .execute(db)
        .await?;
        Ok(())
    }
}
