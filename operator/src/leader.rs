//! Leader election through a `coordination.k8s.io/v1` Lease, so two replicas never reconcile
//! at once (kube 5 ships no elector of its own; this follows client-go's rules).
//!
//! - Expiry is judged by the candidate's own monotonic clock, never by comparing the holder's
//!   `renewTime` with the local wall clock (clocks skew): a candidate notes when it first saw
//!   the current Lease record and takes over only when that record stayed unchanged for the
//!   Lease's `leaseDurationSeconds`.
//! - Every API call is bounded ([`LeaderElector::call_timeout`]); the holder stops leading when
//!   it could not renew within the renew deadline, which is shorter than the Lease duration,
//!   so it has stopped before any candidate may take over.
//! - Updates carry the `resourceVersion` read, so two candidates racing for an expired Lease
//!   cannot both win (the loser gets 409).

use std::sync::Mutex;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, ObjectMeta, PostParams};
use tokio::time::Instant;

/// Why a call for the Lease failed.
#[derive(Debug, thiserror::Error)]
pub enum ElectionError {
    #[error(transparent)]
    Kube(#[from] kube::Error),
    #[error("the API server did not answer within {0:?}")]
    Timeout(Duration),
}

/// One candidate for the Lease.
pub struct LeaderElector {
    api: Api<Lease>,
    name: String,
    identity: String,
    duration: Duration,
    /// The bound of each API call.
    pub call_timeout: Duration,
    /// Another holder's Lease record as last read, and when this candidate first saw it.
    observed: Mutex<Option<(String, Instant)>>,
}

impl std::fmt::Debug for LeaderElector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderElector")
            .field("name", &self.name)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

fn conflict(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == 409)
}

impl LeaderElector {
    pub fn new(client: Client, namespace: &str, name: &str, identity: &str, duration: Duration) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            name: name.to_owned(),
            identity: identity.to_owned(),
            duration,
            call_timeout: Duration::from_secs(2),
            observed: Mutex::new(None),
        }
    }

    async fn bounded<T>(&self, call: impl Future<Output = Result<T, kube::Error>>) -> Result<T, ElectionError> {
        match tokio::time::timeout(self.call_timeout, call).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(ElectionError::Timeout(self.call_timeout)),
        }
    }

    /// Whether another holder's Lease may be taken: its record has not changed for its
    /// duration, as timed by this candidate since it first saw the record.
    fn expired(&self, spec: &LeaseSpec) -> bool {
        let record = serde_json::to_string(spec).unwrap_or_default();
        let held_for = spec
            .lease_duration_seconds
            .map_or(self.duration, |s| Duration::from_secs(u64::try_from(s).unwrap_or(0)));
        let now = Instant::now();
        let mut observed = self.observed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match observed.as_ref() {
            Some((seen, since)) if *seen == record => now.duration_since(*since) >= held_for,
            _ => {
                *observed = Some((record, now));
                false
            }
        }
    }

    /// Takes or renews the Lease; `Ok(true)` while this candidate holds it.
    pub async fn try_acquire(&self) -> Result<bool, ElectionError> {
        let now = Timestamp::now();
        let seconds = i32::try_from(self.duration.as_secs()).unwrap_or(i32::MAX);
        let Some(mut lease) = self.bounded(self.api.get_opt(&self.name)).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.identity.clone()),
                    lease_duration_seconds: Some(seconds),
                    acquire_time: Some(MicroTime(now)),
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.bounded(self.api.create(&PostParams::default(), &lease)).await {
                Ok(_) => Ok(true),
                Err(ElectionError::Kube(err)) if conflict(&err) => Ok(false),
                Err(err) => Err(err),
            };
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        let holder = spec.holder_identity.clone().unwrap_or_default();
        if holder != self.identity && !holder.is_empty() && !self.expired(spec) {
            return Ok(false);
        }
        if holder != self.identity {
            spec.acquire_time = Some(MicroTime(now));
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
            spec.holder_identity = Some(self.identity.clone());
        }
        spec.renew_time = Some(MicroTime(now));
        spec.lease_duration_seconds = Some(seconds);
        match self
            .bounded(self.api.replace(&self.name, &PostParams::default(), &lease))
            .await
        {
            Ok(_) => Ok(true),
            Err(ElectionError::Kube(err)) if conflict(&err) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Renews every `retry` while this candidate holds the Lease; returns (with why) once it
    /// does not: another took it, or no renewal succeeded for `renew_deadline` (keep it below
    /// the Lease duration so the leader stops before anyone may take over).
    pub async fn keep(&self, retry: Duration, renew_deadline: Duration) -> String {
        let mut renewed = Instant::now();
        loop {
            tokio::time::sleep(retry).await;
            let left = renew_deadline.saturating_sub(renewed.elapsed());
            match tokio::time::timeout(left, self.try_acquire()).await {
                Ok(Ok(true)) => renewed = Instant::now(),
                Ok(Ok(false)) => return "another candidate holds the Lease".to_owned(),
                Ok(Err(err)) if renewed.elapsed() < renew_deadline => {
                    tracing::warn!(error = %err, "renewing the Lease");
                }
                Ok(Err(err)) => return format!("no renewal within {renew_deadline:?}: {err}"),
                Err(_) => return format!("no renewal within {renew_deadline:?}"),
            }
        }
    }

    /// Gives the Lease up (on shutdown) so a standby takes over at once.
    pub async fn release(&self) -> Result<(), ElectionError> {
        if let Some(mut lease) = self.bounded(self.api.get_opt(&self.name)).await?
            && let Some(spec) = lease.spec.as_mut()
            && spec.holder_identity.as_deref() == Some(self.identity.as_str())
        {
            spec.holder_identity = None;
            spec.renew_time = None;
            self.bounded(self.api.replace(&self.name, &PostParams::default(), &lease))
                .await?;
        }
        Ok(())
    }
}
