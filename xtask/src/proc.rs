//! Processes and signals: the Ctrl-C/SIGTERM flag, running children so that a signal stops
//! them, terminating them politely, and the workspace paths every command shares.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// How many SIGINT/SIGTERM/SIGHUP the process has received.
static SIGNALS: AtomicUsize = AtomicUsize::new(0);

/// How often waiting loops look at their child and at the signal flag.
pub(crate) const POLL: Duration = Duration::from_millis(100);

/// Installs the one signal handler of the process (SIGINT, SIGTERM and SIGHUP).
///
/// The handler only records the signal; the code that waits notices it, stops its children and
/// unwinds normally, so every `Drop` (the [`crate::stack::Stack`] above all) runs.
pub(crate) fn install_signal_handler() -> Result<()> {
    ctrlc::set_handler(|| {
        if SIGNALS.fetch_add(1, Ordering::SeqCst) > 0 {
            eprintln!("xtask: still stopping (the database and Redis are being shut down)…");
        }
    })
    .context("installing the Ctrl-C/SIGTERM handler")
}

/// Whether the process was asked to stop (Ctrl-C, SIGTERM, SIGHUP).
pub(crate) fn interrupted() -> bool {
    SIGNALS.load(Ordering::SeqCst) > 0
}

/// Fails with "interrupted" once a stop signal arrived; sprinkled between long steps.
pub(crate) fn check_interrupted() -> Result<()> {
    if interrupted() {
        bail!("interrupted");
    }
    Ok(())
}

/// The workspace root (the parent of `xtask/`).
pub(crate) fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map_or_else(|| manifest_dir.to_path_buf(), Path::to_path_buf)
}

/// Cargo's target directory: `CARGO_TARGET_DIR` when set, else `<root>/target`.
pub(crate) fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => workspace_root().join(dir),
        _ => workspace_root().join("target"),
    }
}

/// A `cargo` command (the same cargo that runs xtask), started in the workspace root.
pub(crate) fn cargo() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace_root());
    // `cargo run` gave xtask the variables of its own package (CARGO_MANIFEST_DIR,
    // CARGO_PKG_NAME, …). Passed on, they differ from a plain `cargo build`'s environment and
    // make build scripts that watch them (ring's) rerun, rebuilding half the tree each time.
    for (key, _) in std::env::vars_os() {
        if let Some(key) = key.to_str()
            && (key.starts_with("CARGO_PKG_")
                || matches!(
                    key,
                    "CARGO_MANIFEST_DIR"
                        | "CARGO_MANIFEST_PATH"
                        | "CARGO_CRATE_NAME"
                        | "CARGO_BIN_NAME"
                        | "CARGO_PRIMARY_PACKAGE"
                ))
        {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Renders a command for messages: `program arg arg`.
pub(crate) fn display(cmd: &Command) -> String {
    let mut text = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        text.push(' ');
        let arg = arg.to_string_lossy();
        if arg.is_empty() || arg.contains(char::is_whitespace) {
            text.push_str(&format!("'{arg}'"));
        } else {
            text.push_str(&arg);
        }
    }
    text
}

/// Runs a command with inherited stdio and waits for it; a stop signal is passed on to it.
pub(crate) fn run(cmd: &mut Command) -> Result<ExitStatus> {
    let mut child = cmd.spawn().with_context(|| format!("starting `{}`", display(cmd)))?;
    wait(&mut child)
}

/// Like [`run`], but fails unless the command succeeds.
pub(crate) fn run_ok(cmd: &mut Command) -> Result<()> {
    let status = run(cmd)?;
    check_interrupted()?;
    if !status.success() {
        bail!("`{}` failed ({status})", display(cmd));
    }
    Ok(())
}

/// Runs a short command and captures its output (stdin closed). Does not check the status.
pub(crate) fn output(cmd: &mut Command) -> Result<Output> {
    cmd.stdin(Stdio::null())
        .output()
        .with_context(|| format!("running `{}`", display(cmd)))
}

/// Runs a short command, fails with its stderr unless it succeeds, and returns its stdout.
pub(crate) fn output_ok(cmd: &mut Command) -> Result<String> {
    let out = output(cmd)?;
    if !out.status.success() {
        bail!(
            "`{}` failed ({}): {}",
            display(cmd),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Waits for a child; when a stop signal arrives it sends the child SIGTERM (a child in our
/// process group also got the terminal's SIGINT) and keeps waiting, SIGKILL after 10 s.
pub(crate) fn wait(child: &mut Child) -> Result<ExitStatus> {
    loop {
        if let Some(status) = child.try_wait().context("waiting for a child process")? {
            return Ok(status);
        }
        if interrupted() {
            return terminate(child, Duration::from_secs(10));
        }
        thread::sleep(POLL);
    }
}

/// Sends a signal (`TERM`, `KILL`, `INT`, `0`) to a process with `kill(1)`; true on success.
pub(crate) fn signal(pid: u32, signal: &str) -> bool {
    Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Whether a process with this pid exists (and is not a zombie).
pub(crate) fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name: `pid (comm) S …`.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// The short command name of a running process (`/proc/<pid>/comm`), if any.
pub(crate) fn process_name(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|name| name.trim().to_owned())
}

/// Whether process `pid` runs `program` (a file name): its executable or one of its arguments
/// (a script's interpreter runs it) ends in `/<program>`.
pub(crate) fn runs(pid: u32, program: &str) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    cmdline
        .split(|byte| *byte == 0)
        .take(3)
        .any(|arg| Path::new(&*String::from_utf8_lossy(arg)).file_name() == Some(program.as_ref()))
}

/// Asks a child to stop with SIGTERM, waits up to `grace`, then SIGKILLs it.
pub(crate) fn terminate(child: &mut Child, grace: Duration) -> Result<ExitStatus> {
    if let Some(status) = child.try_wait()? {
        return Ok(status);
    }
    signal(child.id(), "TERM");
    wait_for_exit(child, grace)
}

/// Waits up to `grace` for a child that was already asked to stop, then SIGKILLs it.
pub(crate) fn wait_for_exit(child: &mut Child, grace: Duration) -> Result<ExitStatus> {
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        thread::sleep(POLL);
    }
    eprintln!("xtask: pid {} ignored SIGTERM for {grace:?}; killing it", child.id());
    child.kill().ok();
    child.wait().context("reaping a killed child")
}

/// Whether coloured output is wanted on stdout: a terminal, and `NO_COLOR` unset.
pub(crate) fn color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Copies a child's stream to our stdout (or stderr) line by line, each line through `line`
/// (which returns the text to print, e.g. with a prefix); returns the copying thread.
pub(crate) fn forward_lines<R, F>(stream: R, to_stderr: bool, mut line: F) -> thread::JoinHandle<()>
where
    R: Read + Send + 'static,
    F: FnMut(&str) -> String + Send + 'static,
{
    thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&buf);
                    let text = line(text.trim_end_matches(['\n', '\r']));
                    // One locked write per line keeps lines from different children whole.
                    let written = if to_stderr {
                        writeln!(std::io::stderr().lock(), "{text}")
                    } else {
                        writeln!(std::io::stdout().lock(), "{text}")
                    };
                    if written.is_err() {
                        break;
                    }
                }
            }
        }
    })
}

/// Quotes a string for a POSIX shell: `it's` → `'it'\''s'`.
pub(crate) fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Picks `n` distinct free TCP ports on 127.0.0.1 (all bound at once, then released).
pub(crate) fn free_ports(n: usize) -> Result<Vec<u16>> {
    let listeners = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0"))
        .collect::<Result<Vec<_>>>()?;
    listeners.iter().map(|l| Ok(l.local_addr()?.port())).collect()
}

/// Whether something already listens on 127.0.0.1:`port`.
pub(crate) fn port_in_use(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_err()
}
