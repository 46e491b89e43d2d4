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
/// True while the Shop moves towards its spec (provisioning, migrating, rolling out).
pub const PROGRESSING: &str = "Progressing";
/// True while the shop serves (some version): data tier up, every service available.
pub const AVAILABLE: &str = "Available";
/// True when something needs a person: a failed migration or rollout, a failing step, or a
/// serving shop that lost availability. Its reason says which.
pub const DEGRADED: &str = "Degraded";
/// True while `spec.paused` holds.
pub const PAUSED: &str = "Paused";
/// `reason` of `Migrated=False` when a migration Job failed.
pub const MIGRATION_FAILED: &str = "MigrationFailed";
/// `reason` of `Degraded=True` when a Deployment exceeded its progress deadline.
pub const ROLLOUT_FAILED: &str = "RolloutFailed";
/// `reason` of `Degraded=True` when a serving shop lost availability.
pub const UNAVAILABLE: &str = "Unavailable";
/// The conditions that must hold (`True`) for `Ready`.
pub const REQUIRED: [&str; 4] = [DATABASE_READY, CACHE_READY, MIGRATED, SERVICES_AVAILABLE];

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

/// The phase and its reason, from the observed conditions.
pub fn phase(observed: &[Observed], previous: Option<&ShopStatus>, anything_exists: bool) -> (Phase, String) {
    let get = |t: &str| observed.iter().find(|o| o.type_ == t);
    let was_serving = previous.and_then(|s| s.version.as_deref());
    if !anything_exists {
        return (Phase::Pending, "nothing created yet".to_owned());
    }
    if let Some(d) = get(DEGRADED).filter(|d| d.ok) {
        let serving = match was_serving {
            Some(version) => format!("; {version} keeps serving"),
            None => String::new(),
        };
        return (Phase::Degraded, format!("{}{serving}", d.message));
    }
    let failing = observed.iter().find(|o| !o.ok && REQUIRED.contains(&o.type_));
    if let Some(first) = failing {
        let phase = match first.type_ {
            MIGRATED => Phase::Migrating,
            _ if was_serving.is_some() => Phase::Degraded,
            _ => Phase::Provisioning,
        };
        return (phase, format!("{}: {}", first.type_, first.message));
    }
    if let Some(p) = get(PROGRESSING).filter(|p| p.ok) {
        return (Phase::Provisioning, p.message.clone());
    }
    (Phase::Ready, "every service is available".to_owned())
}

/// The `Ready` condition: every required condition holds, nothing progresses, nothing is degraded.
pub fn ready(observed: &[Observed]) -> Observed {
    let blocking = observed.iter().find(|o| match o.type_ {
        PROGRESSING | DEGRADED => o.ok,
        t => REQUIRED.contains(&t) && !o.ok,
    });
    match blocking {
        None => Observed::new(READY, true, "Ready", "the shop is serving at the target version"),
        Some(o) => {
            let is = if o.ok { "True" } else { "False" };
            Observed::new(READY, false, "NotReady", format!("{} is {is}: {}", o.type_, o.reason))
        }
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
        let mut degraded = observed.to_vec();
        degraded.push(Observed::new(DEGRADED, true, MIGRATION_FAILED, "migration failed"));
        let (phase, reason) = phase(&degraded, Some(&serving), true);
        assert_eq!(phase, Phase::Degraded);
        assert!(reason.contains("img:1 keeps serving"), "{reason}");
        assert_eq!(super::phase(&observed[..1], None, true).0, Phase::Ready);
        assert_eq!(super::phase(&[], None, false).0, Phase::Pending);
    }
}

#[cfg(test)]
mod ready_tests {
    use super::*;

    fn all_up() -> Vec<Observed> {
        REQUIRED
            .iter()
            .map(|t| Observed::new(t, true, "Up", ""))
            .chain([
                Observed::new(PROGRESSING, false, "Complete", ""),
                Observed::new(DEGRADED, false, "AsExpected", ""),
            ])
            .collect()
    }

    #[test]
    fn ready_needs_a_finished_rollout_and_nothing_degraded() {
        assert!(ready(&all_up()).ok);
        let mut rolling = all_up();
        rolling[4] = Observed::new(PROGRESSING, true, "RollingOut", "rolling out img:2");
        let r = ready(&rolling);
        assert!(!r.ok);
        assert!(r.message.contains("Progressing is True"), "{}", r.message);
        assert_eq!(
            phase(&rolling, None, true),
            (Phase::Provisioning, "rolling out img:2".to_owned())
        );
        let mut degraded = all_up();
        degraded[5] = Observed::new(DEGRADED, true, ROLLOUT_FAILED, "catalog: deadline");
        assert!(!ready(&degraded).ok);
        assert_eq!(phase(&degraded, None, true).0, Phase::Degraded);
    }
}
