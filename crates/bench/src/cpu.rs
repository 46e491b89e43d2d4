//! CPU time of the processes a load runs on, read from `/proc` before and after it: where the
//! cost of one request goes (each service, Postgres, Redis, the generator itself).

/// User plus system CPU time of `pid`, in clock ticks (1/100 s on Linux); 0 once it is gone.
fn ticks(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // Fields after the command name (which may hold spaces) start after the last `)`.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let field = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // ppid is field 4 of the line (1 after the name); utime and stime 14 and 15 (11, 12).
    field(11) + field(12)
}

/// `pid` and every process whose parent it is (a Postgres server and its backends).
fn family(pid: u32) -> Vec<u32> {
    let mut pids = vec![pid];
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for entry in entries.flatten() {
        let Some(child) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let parent = std::fs::read_to_string(format!("/proc/{child}/stat"))
            .ok()
            .and_then(|s| s.rsplit_once(')').map(|(_, rest)| rest.to_owned()))
            .and_then(|rest| rest.split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok()));
        if parent == Some(pid) {
            pids.push(child);
        }
    }
    pids
}

/// The processes watched: a name and a pid, whose children count too (`NAME=PID,…`, from
/// `--watch`), and this generator.
#[derive(Debug, Clone, Default)]
pub(crate) struct Watch(Vec<(String, u32)>);

impl Watch {
    pub(crate) fn parse(arg: Option<&str>) -> anyhow::Result<Self> {
        let mut watched = vec![("shop-bench".to_owned(), std::process::id())];
        for pair in arg.unwrap_or_default().split(',').filter(|p| !p.is_empty()) {
            let (name, pid) = pair
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("--watch takes NAME=PID,…, not {pair}"))?;
            watched.push((name.to_owned(), pid.parse()?));
        }
        Ok(Self(watched))
    }

    /// CPU ticks of each watched process and its children now.
    pub(crate) fn sample(&self) -> Vec<u64> {
        self.0
            .iter()
            .map(|(_, pid)| family(*pid).into_iter().map(ticks).sum())
            .collect()
    }

    /// `{name: µs of CPU per unit}` between two samples, for `units` of work.
    pub(crate) fn per_unit(&self, before: &[u64], after: &[u64], units: u64) -> serde_json::Value {
        let tick_us = 1e6 / 100.0;
        let units = units.max(1) as f64;
        self.0
            .iter()
            .zip(before.iter().zip(after))
            .map(|((name, _), (b, a))| {
                (
                    name.clone(),
                    serde_json::json!((a.saturating_sub(*b) as f64 * tick_us / units).round()),
                )
            })
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
}
