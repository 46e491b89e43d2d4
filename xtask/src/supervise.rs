//! Keeps long-running processes up: one that dies is started again after a growing pause,
//! and the terminal is told why.
//!
//! [`Supervisor`] owns the processes (each a [`Running`] plus the recipe to start it again)
//! and is driven by the caller's loop through [`Supervisor::tick`]. The decisions are pure:
//! [`decide`] turns a process's [`Phase`], what a round saw of it and the clock into the next
//! phase and an [`Action`]; [`Policy::pause`] is the backoff schedule.

use std::fmt;
use std::net::SocketAddr;
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::services::{self, Running};

/// When to restart, and how long to wait for a restarted process to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Policy {
    /// The pause before the first restart; it doubles with each failure in a row.
    pub(crate) first_pause: Duration,
    /// The longest pause.
    pub(crate) max_pause: Duration,
    /// A process that was ready this long before it died starts over at `first_pause`.
    pub(crate) reset_after: Duration,
    /// How long a restarted process gets to answer `/health` before it is killed (a failure).
    pub(crate) start_timeout: Duration,
}

impl Policy {
    /// `cargo xtask dev`'s: 0.5 s doubling to 30 s, reset after a minute up, 30 s to start.
    pub(crate) const DEV: Self = Self {
        first_pause: Duration::from_millis(500),
        max_pause: Duration::from_secs(30),
        reset_after: Duration::from_secs(60),
        start_timeout: Duration::from_secs(30),
    };

    /// The pause before restarting after `failures` failures in a row (1: the first).
    pub(crate) fn pause(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(20);
        self.first_pause.saturating_mul(1 << doublings).min(self.max_pause)
    }
}

/// Where a supervised process is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Started at `since`; `/health` has not answered yet.
    Starting { since: Instant },
    /// `/health` answered at `since`.
    Ready { since: Instant },
    /// Down; to be started again at `until`.
    Waiting { until: Instant },
}

/// What one round saw of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seen {
    /// It runs (and, while starting, does not answer yet).
    Running,
    /// It runs and `/health` answered 200 (only asked while starting).
    Healthy,
    /// It has exited, or there is no process (waiting, or it could not be started).
    Exited,
}

/// What the supervisor does with a process after a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Nothing.
    Nothing,
    /// It answers now: say so.
    Ready,
    /// It died: start it again after `pause`.
    Restart { pause: Duration },
    /// It did not answer within the start timeout: kill it, start it again after `pause`.
    Kill { pause: Duration },
    /// The pause is over: start it.
    Spawn,
}

/// The outcome of [`decide`]: the process's next phase and failure count, and what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decision {
    pub(crate) phase: Phase,
    /// Failures in a row (a start that never answered, or a death soon after answering).
    pub(crate) failures: u32,
    pub(crate) action: Action,
}

/// Decides one round for one process: from its phase, its failures in a row, what the round
/// saw and the time.
pub(crate) fn decide(phase: Phase, failures: u32, seen: Seen, now: Instant, policy: &Policy) -> Decision {
    let stay = Decision {
        phase,
        failures,
        action: Action::Nothing,
    };
    let down = |failures: u32, action: fn(Duration) -> Action| {
        let pause = policy.pause(failures);
        Decision {
            phase: Phase::Waiting { until: now + pause },
            failures,
            action: action(pause),
        }
    };
    match (phase, seen) {
        (Phase::Waiting { until }, _) if now >= until => Decision {
            phase: Phase::Starting { since: now },
            failures,
            action: Action::Spawn,
        },
        (Phase::Waiting { .. }, _) => stay,
        (Phase::Starting { .. }, Seen::Healthy) => Decision {
            phase: Phase::Ready { since: now },
            failures,
            action: Action::Ready,
        },
        (Phase::Starting { .. }, Seen::Exited) => down(failures + 1, |pause| Action::Restart { pause }),
        (Phase::Starting { since }, Seen::Running) if now.duration_since(since) >= policy.start_timeout => {
            down(failures + 1, |pause| Action::Kill { pause })
        }
        (Phase::Ready { since }, Seen::Exited) => {
            // A process that served for a while and then died is a new story, not a crash loop.
            let before = if now.duration_since(since) >= policy.reset_after {
                0
            } else {
                failures
            };
            down(before + 1, |pause| Action::Restart { pause })
        }
        (Phase::Starting { .. } | Phase::Ready { .. }, _) => stay,
    }
}

/// Why a process is down.
#[derive(Debug)]
pub(crate) enum Why {
    /// It exited on its own (or was killed by someone else).
    Exited(ExitStatus),
    /// It did not answer `/health` in time, so the supervisor killed it.
    NoAnswer(Duration),
    /// It could not be started at all.
    NoStart(String),
}

/// Something that happened to a supervised process in a round (each is also printed).
#[derive(Debug)]
pub(crate) enum Event {
    /// It went down and will be started again after `pause`.
    Down {
        name: String,
        why: Why,
        /// Its last lines of output.
        last_lines: Vec<String>,
        pause: Duration,
        /// Failures in a row, this one included.
        failures: u32,
    },
    /// It was started again.
    Started { name: String, pid: u32 },
    /// It answers `/health`.
    Ready { name: String, restarts: u32 },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Down {
                name,
                why,
                last_lines,
                pause,
                failures,
            } => {
                match why {
                    Why::Exited(status) => write!(f, "{name} exited unexpectedly ({status})")?,
                    Why::NoAnswer(timeout) => {
                        write!(
                            f,
                            "{name} did not answer /health within {}; killed it",
                            seconds(*timeout)
                        )?;
                    }
                    Why::NoStart(err) => write!(f, "{name} could not be started: {err}")?,
                }
                write!(f, "; restarting it in {}", seconds(*pause))?;
                if *failures > 1 {
                    write!(f, " ({failures} failures in a row)")?;
                }
                if !last_lines.is_empty() {
                    write!(f, ". Its last lines:")?;
                    for line in last_lines {
                        write!(f, "\n    {line}")?;
                    }
                }
                Ok(())
            }
            Self::Started { name, pid } => write!(f, "{name} started again (pid {pid})"),
            Self::Ready { name, restarts: 0 } => write!(f, "{name} is ready"),
            Self::Ready { name, restarts } => write!(f, "{name} is ready again (restart {restarts})"),
        }
    }
}

/// `0.5 s`, `2 s`.
fn seconds(duration: Duration) -> String {
    let text = format!("{:.1}", duration.as_secs_f64());
    format!("{} s", text.strip_suffix(".0").unwrap_or(&text))
}

/// Makes the command that starts a process (again).
pub(crate) type Recipe = Box<dyn Fn() -> Command>;

/// One supervised process.
struct Supervised {
    name: String,
    /// Its admin port (`/health`).
    health_port: u16,
    recipe: Recipe,
    child: Option<Running>,
    phase: Phase,
    failures: u32,
    restarts: u32,
}

impl Supervised {
    /// One round: looks at the process, decides, acts; returns what happened.
    fn round(&mut self, policy: &Policy, now: Instant) -> Option<Event> {
        let seen = match self.child.as_mut().map(Running::exited) {
            None | Some(Ok(Some(_))) => Seen::Exited,
            // `try_wait` failing is not a death; look again next round.
            Some(Ok(None) | Err(_)) => {
                if matches!(self.phase, Phase::Starting { .. }) && self.answers() {
                    Seen::Healthy
                } else {
                    Seen::Running
                }
            }
        };
        let decision = decide(self.phase, self.failures, seen, now, policy);
        self.phase = decision.phase;
        self.failures = decision.failures;
        match decision.action {
            Action::Nothing => None,
            Action::Ready => Some(Event::Ready {
                name: self.name.clone(),
                restarts: self.restarts,
            }),
            Action::Restart { pause } => {
                let mut child = self.child.take()?;
                let status = child.exited().ok().flatten()?;
                Some(self.down(Why::Exited(status), child.last_lines(), pause))
            }
            Action::Kill { pause } => {
                let mut last_lines = Vec::new();
                if let Some(mut child) = self.child.take() {
                    child.stop(Duration::from_secs(5)).ok();
                    last_lines = child.last_lines();
                }
                Some(self.down(Why::NoAnswer(policy.start_timeout), last_lines, pause))
            }
            Action::Spawn => match services::spawn_prefixed(&self.name, &mut (self.recipe)()) {
                Ok(child) => {
                    self.restarts += 1;
                    let pid = child.pid();
                    self.child = Some(child);
                    Some(Event::Started {
                        name: self.name.clone(),
                        pid,
                    })
                }
                Err(err) => {
                    let decision = decide(self.phase, self.failures, Seen::Exited, now, policy);
                    self.phase = decision.phase;
                    self.failures = decision.failures;
                    let Action::Restart { pause } = decision.action else {
                        return None;
                    };
                    Some(self.down(Why::NoStart(format!("{err:#}")), Vec::new(), pause))
                }
            },
        }
    }

    fn down(&self, why: Why, last_lines: Vec<String>, pause: Duration) -> Event {
        Event::Down {
            name: self.name.clone(),
            why,
            last_lines,
            pause,
            failures: self.failures,
        }
    }

    /// Whether `/health` answers 200.
    fn answers(&self) -> bool {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.health_port));
        services::http_status(addr, "/health", Duration::from_secs(2)).is_ok_and(|code| code == 200)
    }
}

/// Long-running processes kept up: started with [`Supervisor::add`], awaited once with
/// [`Supervisor::wait_ready`], then restarted by [`Supervisor::tick`] whenever one dies.
pub(crate) struct Supervisor {
    policy: Policy,
    processes: Vec<Supervised>,
}

impl Supervisor {
    /// No processes yet.
    pub(crate) fn new(policy: Policy) -> Self {
        Self {
            policy,
            processes: Vec::new(),
        }
    }

    /// Starts a process called `name` from `recipe` (its output prefixed with `name`) whose
    /// `/health` answers on `health_port`; returns its pid.
    pub(crate) fn add(&mut self, name: &str, health_port: u16, recipe: Recipe) -> Result<u32> {
        let child = services::spawn_prefixed(name, &mut recipe())?;
        let pid = child.pid();
        self.processes.push(Supervised {
            name: name.to_owned(),
            health_port,
            recipe,
            child: Some(child),
            phase: Phase::Starting { since: Instant::now() },
            failures: 0,
            restarts: 0,
        });
        Ok(pid)
    }

    /// Waits, in order, until each process answers `/health`. Fails when one exits first,
    /// on a stop signal, or after `timeout` for one: at start, a failure is the developer's to
    /// see, not to retry.
    pub(crate) fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        for process in &mut self.processes {
            if let Some(child) = &mut process.child {
                child.wait_healthy(process.health_port, timeout)?;
                process.phase = Phase::Ready { since: Instant::now() };
            }
        }
        Ok(())
    }

    /// One round over every process: notices deaths, restarts those whose pause is over,
    /// announces those that answer again. Prints each event and returns them.
    pub(crate) fn tick(&mut self) -> Vec<Event> {
        let now = Instant::now();
        let events: Vec<Event> = self
            .processes
            .iter_mut()
            .filter_map(|process| process.round(&self.policy, now))
            .collect();
        for event in &events {
            eprintln!("xtask: {event}");
        }
        events
    }

    /// The name and pid of every process that runs now.
    pub(crate) fn pids(&self) -> Vec<(&str, u32)> {
        self.processes
            .iter()
            .filter_map(|process| Some((process.name.as_str(), process.child.as_ref()?.pid())))
            .collect()
    }

    /// Whether it supervises no process.
    pub(crate) fn is_empty(&self) -> bool {
        self.processes.is_empty()
    }

    /// Stops every process: SIGTERM to all at once, then up to `grace` each before SIGKILL.
    pub(crate) fn stop(&mut self, grace: Duration) {
        for child in self.processes.iter_mut().filter_map(|process| process.child.as_mut()) {
            child.request_stop().ok();
        }
        for child in self.processes.iter_mut().filter_map(|process| process.child.as_mut()) {
            if let Err(err) = child.stop(grace) {
                eprintln!("xtask: stopping {}: {err:#}", child.name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read as _, Write as _};
    use std::net::TcpListener;
    use std::os::unix::process::ExitStatusExt as _;
    use std::thread;

    use anyhow::{Context as _, bail};

    use super::*;
    use crate::proc;

    const POLICY: Policy = Policy::DEV;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn the_pause_doubles_from_half_a_second_to_thirty() {
        let pauses: Vec<f64> = (1..=9).map(|n| POLICY.pause(n).as_secs_f64()).collect();
        assert_eq!(pauses, [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]);
        assert_eq!(POLICY.pause(0), secs(0.5));
        assert_eq!(POLICY.pause(u32::MAX), secs(30.0));
    }

    #[test]
    fn a_death_soon_after_answering_doubles_the_pause() {
        let t0 = Instant::now();
        let now = t0 + secs(10.0);
        let decision = decide(Phase::Ready { since: t0 }, 2, Seen::Exited, now, &POLICY);
        assert_eq!(
            decision,
            Decision {
                phase: Phase::Waiting { until: now + secs(2.0) },
                failures: 3,
                action: Action::Restart { pause: secs(2.0) },
            }
        );
    }

    #[test]
    fn a_death_after_a_minute_up_starts_the_pauses_over() {
        let t0 = Instant::now();
        let now = t0 + secs(61.0);
        let decision = decide(Phase::Ready { since: t0 }, 7, Seen::Exited, now, &POLICY);
        assert_eq!(decision.failures, 1);
        assert_eq!(decision.action, Action::Restart { pause: secs(0.5) });
    }

    #[test]
    fn a_start_that_exits_or_never_answers_is_a_failure() {
        let t0 = Instant::now();
        let starting = Phase::Starting { since: t0 };
        let exited = decide(starting, 1, Seen::Exited, t0 + secs(1.0), &POLICY);
        assert_eq!(
            (exited.failures, exited.action),
            (2, Action::Restart { pause: secs(1.0) })
        );

        let slow = decide(starting, 0, Seen::Running, t0 + secs(29.0), &POLICY);
        assert_eq!(slow.action, Action::Nothing);
        let stuck = decide(starting, 0, Seen::Running, t0 + secs(30.0), &POLICY);
        assert_eq!((stuck.failures, stuck.action), (1, Action::Kill { pause: secs(0.5) }));
    }

    #[test]
    fn an_answer_makes_it_ready_without_forgetting_its_failures() {
        let t0 = Instant::now();
        let now = t0 + secs(3.0);
        let decision = decide(Phase::Starting { since: t0 }, 4, Seen::Healthy, now, &POLICY);
        assert_eq!(
            decision,
            Decision {
                phase: Phase::Ready { since: now },
                failures: 4,
                action: Action::Ready,
            }
        );
        // Once ready, nothing happens while it runs, however long.
        let later = decide(decision.phase, 4, Seen::Running, now + secs(3600.0), &POLICY);
        assert_eq!(later.action, Action::Nothing);
    }

    #[test]
    fn a_pause_ends_in_a_start_and_not_before() {
        let t0 = Instant::now();
        let waiting = Phase::Waiting { until: t0 + secs(2.0) };
        assert_eq!(
            decide(waiting, 3, Seen::Exited, t0 + secs(1.9), &POLICY).action,
            Action::Nothing
        );
        let due = decide(waiting, 3, Seen::Exited, t0 + secs(2.0), &POLICY);
        assert_eq!(
            due,
            Decision {
                phase: Phase::Starting { since: t0 + secs(2.0) },
                failures: 3,
                action: Action::Spawn,
            }
        );
    }

    #[test]
    fn events_read_well() {
        let down = Event::Down {
            name: "catalog".to_owned(),
            why: Why::NoAnswer(secs(30.0)),
            last_lines: vec!["listening".to_owned()],
            pause: secs(0.5),
            failures: 2,
        };
        assert_eq!(
            down.to_string(),
            "catalog did not answer /health within 30 s; killed it; restarting it in 0.5 s \
             (2 failures in a row). Its last lines:\n    listening"
        );
        let ready = Event::Ready {
            name: "catalog".to_owned(),
            restarts: 1,
        };
        assert_eq!(ready.to_string(), "catalog is ready again (restart 1)");
    }

    /// The variable that turns [`health_server`] on, with the port to serve.
    const HEALTH_PORT_VAR: &str = "XTASK_TEST_HEALTH_SERVER_PORT";

    /// Not a test: the process the supervisor tests supervise, started by them from this same
    /// test binary. It answers every request with `200 ok` until it is killed.
    #[test]
    #[ignore = "a helper process for the supervisor tests; does nothing on its own"]
    fn health_server() -> Result<()> {
        let Ok(port) = std::env::var(HEALTH_PORT_VAR) else {
            return Ok(());
        };
        let listener = TcpListener::bind(("127.0.0.1", port.parse::<u16>()?))?;
        println!("serving /health on port {port} (pid {})", std::process::id());
        for stream in listener.incoming() {
            let mut stream = stream?;
            // Read the whole request: closing on unread data would reset the connection.
            let mut request = Vec::new();
            let mut chunk = [0_u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&chunk[..n]),
                }
            }
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                .ok();
        }
        Ok(())
    }

    /// A recipe for [`health_server`] on `port`.
    fn health_server_recipe(port: u16) -> Result<Recipe> {
        let exe = std::env::current_exe().context("finding the test binary")?;
        Ok(Box::new(move || {
            let mut cmd = Command::new(&exe);
            cmd.args(["supervise::tests::health_server", "--exact", "--ignored", "--nocapture"])
                .env(HEALTH_PORT_VAR, port.to_string());
            cmd
        }))
    }

    /// Ticks until `done` holds for an event seen so far, or fails after `timeout`; returns
    /// every event seen.
    fn tick_until(supervisor: &mut Supervisor, timeout: Duration, done: impl Fn(&Event) -> bool) -> Result<Vec<Event>> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            seen.extend(supervisor.tick());
            if seen.iter().any(&done) {
                return Ok(seen);
            }
            if Instant::now() > deadline {
                bail!("not done within {timeout:?}; events: {seen:#?}");
            }
            thread::sleep(proc::POLL);
        }
    }

    #[test]
    fn a_killed_process_is_started_again_and_answers_again() -> Result<()> {
        let port = proc::free_ports(1)?[0];
        let mut supervisor = Supervisor::new(POLICY);
        let first = supervisor.add("probe", port, health_server_recipe(port)?)?;
        supervisor.wait_ready(Duration::from_secs(60))?;

        assert!(proc::signal(first, "KILL"), "could not kill pid {first}");
        let events = tick_until(&mut supervisor, Duration::from_secs(60), |event| {
            matches!(event, Event::Ready { restarts: 1, .. })
        })?;

        let killed = events.iter().any(|event| {
            matches!(event, Event::Down { why: Why::Exited(status), failures: 1, pause, .. }
                if status.signal() == Some(9) && *pause == POLICY.first_pause)
        });
        assert!(killed, "no death by SIGKILL among {events:#?}");
        let [("probe", second)] = supervisor.pids()[..] else {
            bail!("expected one process, got {:?}", supervisor.pids());
        };
        assert_ne!(second, first);
        assert!(proc::alive(second));
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        assert_eq!(services::http_status(addr, "/health", Duration::from_secs(10))?, 200);

        supervisor.stop(Duration::from_secs(10));
        assert!(!proc::alive(second), "pid {second} survived stop");
        Ok(())
    }

    #[test]
    fn a_process_that_keeps_dying_is_restarted_after_growing_pauses() -> Result<()> {
        // Nothing listens on this port: the process never answers, it only dies.
        let port = proc::free_ports(1)?[0];
        let mut supervisor = Supervisor::new(POLICY);
        let recipe: Recipe = Box::new(|| {
            let mut cmd = Command::new("sh");
            cmd.args(["-c", "echo \"boom from $$\"; exit 3"]);
            cmd
        });
        supervisor.add("crasher", port, recipe)?;
        let events = tick_until(&mut supervisor, Duration::from_secs(60), |event| {
            matches!(event, Event::Down { failures: 3, .. })
        })?;

        let downs: Vec<(Option<i32>, Duration, bool)> = events
            .iter()
            .filter_map(|event| match event {
                Event::Down {
                    why: Why::Exited(status),
                    pause,
                    last_lines,
                    ..
                } => Some((
                    status.code(),
                    *pause,
                    last_lines.iter().any(|line| line.starts_with("boom from")),
                )),
                _ => None,
            })
            .collect();
        assert_eq!(
            downs,
            [
                (Some(3), secs(0.5), true),
                (Some(3), secs(1.0), true),
                (Some(3), secs(2.0), true)
            ]
        );
        let starts = events
            .iter()
            .filter(|event| matches!(event, Event::Started { .. }))
            .count();
        assert_eq!(starts, 2);
        supervisor.stop(Duration::from_secs(10));
        Ok(())
    }
}
