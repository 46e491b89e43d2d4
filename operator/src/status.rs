//! The Shop's status: conditions a machine can trust (stable `lastTransitionTime`,
//! `observedGeneration`) and a phase a person can read.

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::crd::{Phase, ShopStatus};

pub const DATABASE_READY: &str = "DatabaseReady";
pub const CACHE_READY: &str = "CacheReady";
pub const MIGRATED: &str = "Migrated";
pub const SERVICES_AVAILABLE: &str = "ServicesAvailable";
pub const READY: &str = "Ready";
/// `reason` of `Migrated=False` when a migration Job failed.
pub const MIGRATION_FAILED: &str = "MigrationFailed";

/// One condition as observed: type, whether it holds, reason, message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    pub type_: &'static str,
    pub ok: bool,
    pub reason: String,
    pub message: String,
}

impl Observed {
    pub fn new(type_: &'static str, ok: bool, reason: &str, message: impl Into<String>) -> Self {
        Self {
            type_,
            ok,
            reason: reason.to_owned(),
            message: message.into(),
        }
    }
}

/// The conditions for `observed`, keeping each one's `lastTransitionTime` from `previous`
/// unless its status changed.
pub fn conditions(
    previous: &[Condition],
    observed: &[Observed],
    generation: Option<i64>,
    now: DateTime<Utc>,
) -> Vec<Condition> {
    observed
        .iter()
        .map(|o| {
            let status = if o.ok { "True" } else { "False" };
            let since = previous
                .iter()
                .find(|c| c.type_ == o.type_ && c.status == status)
                .map(|c| c.last_transition_time.clone());
            Condition {
                type_: o.type_.to_owned(),
                status: status.to_owned(),
                reason: o.reason.clone(),
                message: o.message.clone(),
                observed_generation: generation,
                last_transition_time: since.unwrap_or_else(|| Time(now_timestamp(now))),
            }
        })
        .collect()
}

fn now_timestamp(now: DateTime<Utc>) -> k8s_openapi::jiff::Timestamp {
    k8s_openapi::jiff::Timestamp::from_second(now.timestamp()).unwrap_or(k8s_openapi::jiff::Timestamp::UNIX_EPOCH)
}

/// The phase and its reason, from the conditions (without `Ready`, which is derived here too).
pub fn phase(observed: &[Observed], previous: Option<&ShopStatus>, anything_exists: bool) -> (Phase, String) {
    let get = |t: &str| observed.iter().find(|o| o.type_ == t);
    let failing: Vec<&Observed> = observed.iter().filter(|o| !o.ok && o.type_ != READY).collect();
    let was_serving = previous.is_some_and(|s| s.version.is_some());
    if !anything_exists {
        return (Phase::Pending, "nothing created yet".to_owned());
    }
    if let Some(m) = get(MIGRATED).filter(|m| !m.ok && m.reason == MIGRATION_FAILED) {
        let serving = if was_serving {
            "; the previous version keeps serving"
        } else {
            ""
        };
        return (Phase::Degraded, format!("{}{serving}", m.message));
    }
    let Some(first) = failing.first() else {
        return (Phase::Ready, "every service is available".to_owned());
    };
    let phase = match first.type_ {
        MIGRATED => Phase::Migrating,
        _ if was_serving => Phase::Degraded,
        _ => Phase::Provisioning,
    };
    (phase, format!("{}: {}", first.type_, first.message))
}

/// The `Ready` condition: every other one holds.
pub fn ready(observed: &[Observed]) -> Observed {
    match observed.iter().find(|o| !o.ok) {
        None => Observed::new(READY, true, "Ready", "the shop is serving at the target version"),
        Some(o) => Observed::new(READY, false, "NotReady", format!("{} is False: {}", o.type_, o.reason)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn transition_time_is_kept_while_the_status_holds() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let t1 = Utc.with_ymd_and_hms(2026, 1, 1, 1, 0, 0).unwrap();
        let up = [Observed::new(DATABASE_READY, true, "Running", "up")];
        let first = conditions(&[], &up, Some(1), t0);
        let again = conditions(
            &first,
            &[Observed::new(DATABASE_READY, true, "Running", "still up")],
            Some(2),
            t1,
        );
        assert_eq!(again[0].last_transition_time, first[0].last_transition_time);
        assert_eq!(again[0].observed_generation, Some(2));
        let down = conditions(
            &again,
            &[Observed::new(DATABASE_READY, false, "Starting", "down")],
            Some(2),
            t1,
        );
        assert_ne!(down[0].last_transition_time, first[0].last_transition_time);
    }

    #[test]
    fn a_failed_migration_degrades() {
        let observed = [
            Observed::new(DATABASE_READY, true, "Bootstrapped", ""),
            Observed::new(
                MIGRATED,
                false,
                MIGRATION_FAILED,
                "demo-migrate-auth-x failed: BackoffLimitExceeded",
            ),
        ];
        let serving = ShopStatus {
            version: Some("img:1".to_owned()),
            ..ShopStatus::default()
        };
        let (phase, reason) = phase(&observed, Some(&serving), true);
        assert_eq!(phase, Phase::Degraded);
        assert!(reason.contains("BackoffLimitExceeded") && reason.contains("previous version"));
        assert_eq!(super::phase(&observed[..1], None, true).0, Phase::Ready);
        assert_eq!(super::phase(&[], None, false).0, Phase::Pending);
    }
}
