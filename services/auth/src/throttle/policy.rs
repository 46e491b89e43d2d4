//! The throttling decision, pure: from the three counters of an attempt to admit or refuse.

use std::time::Duration;

use crate::config::ThrottleConfig;

/// An account backoff starts at this and doubles with each further failure.
pub const EMAIL_BACKOFF_BASE: Duration = Duration::from_secs(1);

/// One counter as it stands now (failures older than the window already forgotten).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counter {
    /// Failures remembered (zero once a window has passed since the last failure and the end
    /// of the block).
    pub failures: u32,
    /// How much longer the counter's block lasts (zero: not blocked).
    pub blocked_for: Duration,
    /// How long until an address counter forgets (the window after its last failure; address
    /// counters are never blocked).
    pub forgets_in: Duration,
}

/// The counters of one attempt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// This email from this address.
    pub pair: Counter,
    /// This email from every address.
    pub email: Counter,
    /// This address, on every email.
    pub ip: Counter,
}

/// Which limit refused an attempt (for logs; the client sees only `Retry-After`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The email from this address failed too often.
    Pair,
    /// The email is in backoff and this address has failed on it.
    Email,
    /// The address failed too often across emails.
    Ip,
}

impl Scope {
    /// The log value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pair => "pair",
            Self::Email => "email",
            Self::Ip => "ip",
        }
    }
}

/// What an admitted attempt writes. It is counted as a failure *before* the password is
/// checked, so concurrent guesses cannot slip past a limit; a success takes it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charge {
    /// The pair's failures with this one.
    pub pair_failures: u32,
    /// The pair's block from now, when this failure reaches the pair limit.
    pub pair_block: Option<Duration>,
    /// The email's failures with this one.
    pub email_failures: u32,
    /// The email's backoff from now, when this failure reaches the email threshold.
    pub email_block: Option<Duration>,
    /// The address's failures with this one, when it counts there (`None`: the pair is past
    /// its own limit, so one email cannot push its address over the address limit alone).
    pub ip_failures: Option<u32>,
}

/// Admit (with what to write) or refuse (with how long to wait).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Check the password.
    Admit(Charge),
    /// 429: the longest wait among the limits that refuse.
    Refuse {
        /// `Retry-After`.
        retry_after: Duration,
        /// The limit that asks for the longest wait.
        scope: Scope,
    },
}

/// `base · 2^exponent`, at most `cap`.
fn doubling(base: Duration, exponent: u32, cap: Duration) -> Duration {
    base.saturating_mul(1u32 << exponent.min(20)).min(cap)
}

/// The policy (docs/api/auth.md#throttling):
/// 1. an address with `per_ip` failures is refused until it forgets them;
/// 2. a pair with `per_pair` failures is refused for `pair_lock`, doubling with each further
///    failure, at most the window;
/// 3. an email with `per_email` failures backs off for 1 s, doubling, at most
///    `email_backoff_max`, but only for addresses that have failed on it: a *clean* address
///    (no failure on this email within the window) is never refused by the email's backoff.
pub fn decide(config: &ThrottleConfig, c: &Counters) -> Decision {
    let mut refusal: Option<(Duration, Scope)> = None;
    let mut refuse = |wait: Duration, scope: Scope| {
        if refusal.is_none_or(|(longest, _)| wait > longest) {
            refusal = Some((wait, scope));
        }
    };
    if c.ip.failures >= config.per_ip {
        refuse(c.ip.forgets_in, Scope::Ip);
    }
    if !c.pair.blocked_for.is_zero() {
        refuse(c.pair.blocked_for, Scope::Pair);
    }
    if c.pair.failures > 0 && !c.email.blocked_for.is_zero() {
        refuse(c.email.blocked_for, Scope::Email);
    }
    if let Some((retry_after, scope)) = refusal {
        return Decision::Refuse {
            retry_after: retry_after.max(Duration::from_secs(1)),
            scope,
        };
    }
    let pair_failures = c.pair.failures.saturating_add(1);
    let email_failures = c.email.failures.saturating_add(1);
    Decision::Admit(Charge {
        pair_failures,
        pair_block: (pair_failures >= config.per_pair)
            .then(|| doubling(config.pair_lock, pair_failures - config.per_pair, config.window)),
        email_failures,
        email_block: (email_failures >= config.per_email).then(|| {
            doubling(
                EMAIL_BACKOFF_BASE,
                email_failures - config.per_email,
                config.email_backoff_max,
            )
        }),
        ip_failures: (pair_failures <= config.per_pair).then(|| c.ip.failures.saturating_add(1)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    fn config() -> ThrottleConfig {
        ThrottleConfig {
            per_pair: 3,
            pair_lock: S(60),
            per_email: 5,
            email_backoff_max: S(60),
            per_ip: 10,
            window: S(900),
        }
    }

    fn failed(failures: u32) -> Counter {
        Counter {
            failures,
            blocked_for: Duration::ZERO,
            forgets_in: S(800),
        }
    }

    fn blocked(failures: u32, secs: u64) -> Counter {
        Counter {
            blocked_for: S(secs),
            ..failed(failures)
        }
    }

    fn charge(c: &Counters) -> Charge {
        match decide(&config(), c) {
            Decision::Admit(charge) => charge,
            refused => panic!("refused: {refused:?}"),
        }
    }

    fn refusal(c: &Counters) -> (u64, Scope) {
        match decide(&config(), c) {
            Decision::Refuse { retry_after, scope } => (retry_after.as_secs(), scope),
            admitted => panic!("admitted: {admitted:?}"),
        }
    }

    #[test]
    fn a_first_attempt_is_admitted_and_counted_everywhere() {
        let c = charge(&Counters::default());
        assert_eq!(
            c,
            Charge {
                pair_failures: 1,
                pair_block: None,
                email_failures: 1,
                email_block: None,
                ip_failures: Some(1),
            }
        );
    }

    #[test]
    fn the_pair_limit_blocks_for_a_doubling_time_up_to_the_window() {
        let blocks: Vec<Option<u64>> = (0..10)
            .map(|f| {
                charge(&Counters {
                    pair: failed(f),
                    ..Counters::default()
                })
                .pair_block
                .map(|d| d.as_secs())
            })
            .collect();
        let want = [
            None,
            None,
            Some(60),
            Some(120),
            Some(240),
            Some(480),
            Some(900),
            Some(900),
        ];
        assert_eq!(blocks[..8], want);
        assert_eq!(blocks[9], Some(900));
    }

    #[test]
    fn a_blocked_pair_is_refused_until_its_block_ends() {
        let c = Counters {
            pair: blocked(3, 42),
            ..Counters::default()
        };
        assert_eq!(refusal(&c), (42, Scope::Pair));
    }

    #[test]
    fn the_email_backoff_doubles_from_one_second_to_its_cap() {
        let blocks: Vec<Option<u64>> = (3..13)
            .map(|f| {
                charge(&Counters {
                    email: failed(f),
                    ..Counters::default()
                })
                .email_block
                .map(|d| d.as_secs())
            })
            .collect();
        let want = [
            None,
            Some(1),
            Some(2),
            Some(4),
            Some(8),
            Some(16),
            Some(32),
            Some(60),
            Some(60),
            Some(60),
        ];
        assert_eq!(blocks, want);
    }

    #[test]
    fn the_email_backoff_spares_a_clean_address() {
        let backing_off = blocked(9, 30);
        let clean = Counters {
            email: backing_off,
            ..Counters::default()
        };
        let c = charge(&clean);
        assert_eq!((c.pair_failures, c.email_failures), (1, 10));
        assert_eq!(c.email_block, Some(S(32)), "its failure still lengthens the backoff");
        let failing = Counters {
            pair: failed(1),
            email: backing_off,
            ..Counters::default()
        };
        assert_eq!(refusal(&failing), (30, Scope::Email));
    }

    #[test]
    fn an_address_over_its_limit_is_refused_until_it_forgets() {
        let c = Counters {
            ip: failed(10),
            ..Counters::default()
        };
        assert_eq!(refusal(&c), (800, Scope::Ip));
        let under = Counters {
            ip: failed(9),
            ..Counters::default()
        };
        assert_eq!(charge(&under).ip_failures, Some(10));
    }

    #[test]
    fn one_email_adds_at_most_the_pair_limit_to_its_address() {
        let at = |f| {
            charge(&Counters {
                pair: failed(f),
                ip: failed(4),
                ..Counters::default()
            })
            .ip_failures
        };
        assert_eq!(at(2), Some(5), "the pair's third failure counts");
        assert_eq!(at(3), None, "later ones, after a block, do not");
    }

    #[test]
    fn the_longest_wait_wins() {
        let c = Counters {
            pair: blocked(4, 120),
            email: blocked(9, 30),
            ip: Counter {
                forgets_in: S(500),
                ..failed(10)
            },
        };
        assert_eq!(refusal(&c), (500, Scope::Ip));
        let c = Counters { ip: failed(0), ..c };
        assert_eq!(refusal(&c), (120, Scope::Pair));
    }

    #[test]
    fn a_refusal_asks_for_at_least_a_second() {
        let c = Counters {
            pair: Counter {
                blocked_for: Duration::from_millis(10),
                ..failed(3)
            },
            ..Counters::default()
        };
        assert_eq!(refusal(&c), (1, Scope::Pair));
    }
}
