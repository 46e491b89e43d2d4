//! Ended sessions: the list every verifier refuses tokens of.
//!
//! An access token is a signed statement that lives until it expires; logging out, changing a
//! password, deactivating a user or changing their role ends the session (the refresh-token
//! family) in auth's database, but the access tokens already handed out would verify for the
//! rest of their life. So auth publishes the sessions ended within the last access-token
//! lifetime (plus leeway) at `GET /internal/revoked-sessions`, every service polls it every
//! [`POLL_INTERVAL`], and [`crate::auth::TokenVerifier::verify`] refuses a token whose `sid`
//! is on the list. Auth feeds its own list from its database on the same beat and adds what
//! it revokes at once, so its own routes refuse a logged-out token immediately.
//!
//! Fails open: when auth cannot be reached the last list stays in force and the signature
//! and expiry checks go on; the failure is logged once, and so is its recovery.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::client::HttpClient;

/// How often a service asks auth for the list: a logout takes effect everywhere within about
/// this long (plus one request to auth).
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Auth's path of the list.
pub const PATH: &str = "/internal/revoked-sessions";
/// How long an entry added locally (auth's own revocations) survives a refresh from a
/// snapshot that may have been read before the revocation committed.
const LOCAL_GRACE: Duration = Duration::from_secs(10);

/// `GET /internal/revoked-sessions`: the sessions ended recently enough that an access token
/// issued for them may still be unexpired.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RevokedSessions {
    /// How far back the list reaches, in seconds: the longest access-token lifetime plus the
    /// verifiers' leeway.
    pub window_secs: u64,
    /// The session ids (`sid` claims) ended within the window.
    pub sessions: Vec<Uuid>,
}

/// The set of ended sessions one process refuses.
#[derive(Debug, Default)]
pub struct Revocations {
    sessions: RwLock<Arc<HashSet<Uuid>>>,
    /// Entries added here (not learned from a poll), kept through [`LOCAL_GRACE`].
    local: Mutex<Vec<(Uuid, Instant)>>,
    /// When the list was last refreshed from its source.
    refreshed: Mutex<Option<Instant>>,
}

impl Revocations {
    /// Whether session `sid` has ended.
    pub fn contains(&self, sid: &Uuid) -> bool {
        self.sessions.read().is_ok_and(|set| set.contains(sid))
    }

    /// How many sessions are on the list.
    pub fn len(&self) -> usize {
        self.sessions.read().map_or(0, |set| set.len())
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Seconds since the list was last refreshed from its source (`None`: never).
    pub fn age(&self) -> Option<Duration> {
        self.refreshed.lock().ok().and_then(|t| t.map(|t| t.elapsed()))
    }

    /// Adds sessions this process has just ended (they count at once, and survive the next
    /// refreshes until the source has surely seen them).
    pub fn insert(&self, sids: impl IntoIterator<Item = Uuid>) {
        let sids: Vec<Uuid> = sids.into_iter().collect();
        if sids.is_empty() {
            return;
        }
        let now = Instant::now();
        if let Ok(mut local) = self.local.lock() {
            local.extend(sids.iter().map(|sid| (*sid, now)));
        }
        if let Ok(mut set) = self.sessions.write() {
            let mut next = HashSet::clone(&set);
            next.extend(sids);
            *set = Arc::new(next);
        }
    }

    /// Replaces the list with a fresh copy from its source (plus recent local entries).
    pub fn replace(&self, sessions: impl IntoIterator<Item = Uuid>) {
        let mut next: HashSet<Uuid> = sessions.into_iter().collect();
        if let Ok(mut local) = self.local.lock() {
            local.retain(|(_, at)| at.elapsed() < LOCAL_GRACE);
            next.extend(local.iter().map(|(sid, _)| *sid));
        }
        if let Ok(mut set) = self.sessions.write() {
            *set = Arc::new(next);
        }
        if let Ok(mut refreshed) = self.refreshed.lock() {
            *refreshed = Some(Instant::now());
        }
    }
}

/// How long a source may be unreachable at start before it is worth a warning: services start
/// together, and auth may listen a moment after the others first ask.
const STARTUP_GRACE: Duration = Duration::from_secs(10);

/// Keeps `revocations` in step with a source, every [`POLL_INTERVAL`], until `revocations` is
/// dropped. A failing source keeps the last list; the first failure (after [`STARTUP_GRACE`]
/// when the source was never reached) and the recovery are logged, not every attempt.
pub async fn keep_current<F, Fut>(revocations: Weak<Revocations>, source: &'static str, mut fetch: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Vec<Uuid>>>,
{
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let started = Instant::now();
    let (mut reached, mut failing) = (false, false);
    loop {
        tick.tick().await;
        let result = fetch().await;
        let Some(revocations) = revocations.upgrade() else {
            return;
        };
        match result {
            Ok(sessions) => {
                revocations.replace(sessions);
                reached = true;
                if failing {
                    tracing::info!(
                        source,
                        sessions = revocations.len(),
                        "revoked-session list reachable again"
                    );
                    failing = false;
                }
            }
            Err(error) => {
                if !failing && (reached || started.elapsed() >= STARTUP_GRACE) {
                    tracing::warn!(
                        source,
                        error = format!("{error:#}"),
                        "cannot refresh the revoked-session list; keeping the last one (sessions ended since are \
                         honoured when it is back)"
                    );
                    failing = true;
                }
            }
        }
    }
}

/// Polls auth's list at `auth_url` + [`PATH`] into `revocations` (see [`keep_current`]).
pub fn spawn_poll(revocations: &Arc<Revocations>, auth_url: &str) -> anyhow::Result<()> {
    let client = HttpClient::new(Duration::from_secs(2))?;
    let url = format!("{}{PATH}", auth_url.trim_end_matches('/'));
    tokio::spawn(keep_current(Arc::downgrade(revocations), "auth", move || {
        let request = client.get(&url);
        async move {
            let list: RevokedSessions = request.send().await?.error_for_status()?.json().await?;
            Ok(list.sessions)
        }
    }));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_poll_does_not_flood_the_access_log() {
        assert!(crate::observe::QUIET_ROUTES.contains(&PATH));
    }

    #[test]
    fn a_refresh_replaces_the_list_but_keeps_recent_local_entries() {
        let list = Revocations::default();
        let (polled, local, gone) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        list.replace([gone]);
        assert!(list.contains(&gone));
        list.insert([local]);
        list.replace([polled]);
        assert!(list.contains(&polled), "the polled entry is on the list");
        assert!(
            list.contains(&local),
            "a local entry outlives a snapshot that may predate it"
        );
        assert!(!list.contains(&gone), "an entry the source dropped is gone");
        assert_eq!(list.len(), 2);
        assert!(list.age().is_some_and(|age| age < Duration::from_secs(5)));
    }

    #[tokio::test(start_paused = true)]
    async fn the_poll_keeps_the_last_list_through_failures_and_stops_with_its_owner() {
        let list = Arc::new(Revocations::default());
        let sid = Uuid::new_v4();
        let calls = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counted = calls.clone();
        let task = tokio::spawn(keep_current(Arc::downgrade(&list), "test", move || {
            let n = counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move {
                match n {
                    0 => Ok(vec![sid]),
                    _ => anyhow::bail!("auth is down"),
                }
            }
        }));
        tokio::time::sleep(POLL_INTERVAL * 3).await;
        assert!(
            calls.load(std::sync::atomic::Ordering::SeqCst) >= 3,
            "it polls every interval"
        );
        assert!(list.contains(&sid), "a failing source keeps the last list");
        drop(list);
        tokio::time::sleep(POLL_INTERVAL * 2).await;
        assert!(task.is_finished(), "the poll ends once nobody holds the list");
    }
}
