//! The browser of the journeys: one chromedriver per test process, a fresh headless Chromium
//! session per test, and for every step a screenshot at desktop and phone widths (under
//! `target/screens/<journey>/`) and an axe-core accessibility check.
//!
//! Needs `SHOP_TEST_CHROMIUM`, `SHOP_TEST_CHROMEDRIVER` and `SHOP_TEST_AXE`, which
//! `cargo xtask test` exports; without them a test fails, it never passes silently.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use fantoccini::elements::Element;
use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// How long [`Browser::wait_for`], [`Browser::submit`] and chromedriver's start may take.
pub const WAIT: Duration = Duration::from_secs(10);
/// The desktop viewport (CSS pixels): every page is shown and screenshotted at this size.
pub const DESKTOP: (u32, u32) = (1280, 900);
/// The phone viewport of the second screenshot of each step.
pub const PHONE: (u32, u32) = (375, 812);
/// The `Accept-Language` of [`Browser::open`].
pub const DEFAULT_LANG: &str = "en-US";

/// Chromium's flags (TOOLING.md); `--user-data-dir` and `--lang` are added per session.
/// `--hide-scrollbars`: pages lay out at the full 1280 or 375 px, as on a phone's overlay
/// scrollbars, whatever their length.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--window-size=1280,900",
];

/// Stops chromedriver once the test process is gone: statics are never dropped, so a small
/// shell outlives us by at most a second and ends the driver ($1: our pid, $2: the driver's).
const WATCHDOG: &str = r#"while kill -0 "$1" 2>/dev/null; do sleep 1; done; kill "$2" 2>/dev/null"#;

/// Runs axe on the page and hands back the violations, trimmed to what a report shows.
const AXE_RUN: &str = r#"
const done = arguments[arguments.length - 1];
axe.run(document, { resultTypes: ['violations'] })
  .then((results) => done({ violations: results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl, count: v.nodes.length,
    targets: v.nodes.slice(0, 3).map((node) => node.target.join(' >>> ')),
  })) }))
  .catch((err) => done({ error: String(err && err.stack || err) }));
"#;

/// The one chromedriver of this test process.
static DRIVER: tokio::sync::OnceCell<Driver> = tokio::sync::OnceCell::const_new();

/// The content of `SHOP_TEST_AXE`, read once.
static AXE_SOURCE: OnceLock<String> = OnceLock::new();

/// A running chromedriver.
struct Driver {
    /// `http://127.0.0.1:PORT`.
    url: String,
    /// Its log file (warnings and errors), for failure messages.
    log: PathBuf,
    /// Kept so the process handle lives as long as the driver; the watchdog ends it.
    _child: Mutex<Child>,
}

impl Driver {
    /// The driver of this process, started on first use.
    async fn get() -> Result<&'static Self> {
        DRIVER.get_or_try_init(Self::start).await
    }

    /// Starts chromedriver on a free port and waits until `/status` says it is ready.
    async fn start() -> Result<Self> {
        let program = env_path("SHOP_TEST_CHROMEDRIVER")?;
        remove_stale_scratch_dirs();
        let dir = scratch_dir();
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let log = dir.join("chromedriver.log");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .context("finding a free port for chromedriver")?
            .port();
        // No inherited stdio: nextest waits for the test's pipes to close, and would report
        // a driver that holds them as a leak.
        let mut child = Command::new(&program)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .arg("--log-level=WARNING")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", program.display()))?;
        Command::new("sh")
            .args(["-c", WATCHDOG, "watchdog"])
            .arg(std::process::id().to_string())
            .arg(child.id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting the chromedriver watchdog")?;

        let url = format!("http://127.0.0.1:{port}");
        let http = shop_testkit::client();
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = child.try_wait().context("watching chromedriver")? {
                bail!("chromedriver exited at start ({status}); its log:\n{}", read_log(&log));
            }
            let ready = match http.get(format!("{url}/status")).send().await {
                Ok(resp) => resp
                    .json::<Value>()
                    .await
                    .is_ok_and(|body| body["value"]["ready"] == true),
                Err(_) => false,
            };
            if ready {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!(
                    "chromedriver did not answer {url}/status within {WAIT:?}; its log:\n{}",
                    read_log(&log)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Self {
            url,
            log,
            _child: Mutex::new(child),
        })
    }
}

/// One headless Chromium session, on one journey.
///
/// Close it with [`Browser::close`] to see errors; dropping it (a failed test) still ends the
/// session and removes its profile.
pub struct Browser {
    client: Client,
    /// The site's base URL, without a trailing slash.
    base: String,
    /// The journey's name: its screenshots go to `target/screens/<journey>/`.
    journey: String,
    /// Steps screenshotted so far (the `NN` of the file names).
    shots: AtomicU32,
    /// chromedriver's URL and the session id, to end the session from `Drop`.
    driver_url: String,
    session: String,
    /// The fresh `--user-data-dir`.
    profile: PathBuf,
    closed: bool,
}

impl Browser {
    /// Opens a browser on the site at `base_url` (e.g. `gateway.url("")`) for `journey`, asking
    /// for `en-US`. Clears `target/screens/<journey>/`.
    pub async fn open(base_url: &str, journey: &str) -> Result<Self> {
        Self::open_in(base_url, journey, DEFAULT_LANG).await
    }

    /// Like [`Browser::open`], with `lang` as Chromium's `--lang` and `Accept-Language`
    /// (`"kk-KZ"`, `"ru"`, `"en-US,en;q=0.9"`).
    pub async fn open_in(base_url: &str, journey: &str, lang: &str) -> Result<Self> {
        let chromium = env_path("SHOP_TEST_CHROMIUM")?;
        axe_source()?;
        let driver = Driver::get().await?;
        let profile = scratch_dir().join(format!("profile-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&profile).with_context(|| format!("creating {}", profile.display()))?;
        let first_lang = lang.split(',').next().unwrap_or(lang).trim();
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|flag| (*flag).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.push(format!("--lang={first_lang}"));
        let capabilities: Capabilities = serde_json::from_value(json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": args,
                // `--lang` alone does not reach the header in headless mode; the preference does.
                "prefs": { "intl.accept_languages": lang },
            },
        }))?;
        let connected = ClientBuilder::new(shop_testkit::webdriver_connector())
            .capabilities(capabilities)
            .connect(&driver.url)
            .await;
        let client = match connected {
            Ok(client) => client,
            Err(err) => {
                let _ = std::fs::remove_dir_all(&profile);
                bail!(
                    "starting {} through chromedriver: {err}; chromedriver's log ({}):\n{}",
                    chromium.display(),
                    driver.log.display(),
                    read_log(&driver.log)
                );
            }
        };
        let session = client.session_id().await?.unwrap_or_default();
        // A fresh start for this journey's screenshots (the directory is made by the first).
        let journey = slug(journey);
        let _ = std::fs::remove_dir_all(screens_dir().join(&journey));
        let browser = Self {
            client,
            base: base_url.trim_end_matches('/').to_owned(),
            journey,
            shots: AtomicU32::new(0),
            driver_url: driver.url.clone(),
            session,
            profile,
            closed: false,
        };
        browser.viewport(DESKTOP).await?;
        Ok(browser)
    }

    /// Ends the session (Chromium quits).
    pub async fn close(mut self) -> Result<()> {
        let closed = self.client.clone().close().await;
        self.closed = closed.is_ok();
        closed.context("closing the browser session")
    }

    /// The fantoccini client, for what the helpers do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The absolute URL of `path` on the site.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Navigates to `path` (`"/login"`, `"/products?page=2"`) and waits for the page to load.
    pub async fn goto(&self, path: &str) -> Result<()> {
        let url = self.url(path);
        self.client.goto(&url).await.with_context(|| format!("opening {url}"))
    }

    /// Navigates to an absolute URL (another site, a `data:` page) and waits for it to load.
    pub async fn goto_url(&self, url: &str) -> Result<()> {
        self.client.goto(url).await.with_context(|| format!("opening {url}"))
    }

    /// The current URL.
    pub async fn current_url(&self) -> Result<url::Url> {
        Ok(self.client.current_url().await?)
    }

    /// The current URL's path (`"/login"`; see [`Browser::current_url`] for the query).
    pub async fn current_path(&self) -> Result<String> {
        Ok(self.current_url().await?.path().to_owned())
    }

    /// The one element matching `css` now (no waiting); the error names the page.
    pub async fn find(&self, css: &str) -> Result<Element> {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => Ok(element),
            Err(err) => Err(anyhow!("no element matches `{css}` on {}: {err}", self.here().await)),
        }
    }

    /// Whether an element matches `css` now.
    pub async fn exists(&self, css: &str) -> Result<bool> {
        Ok(!self.client.find_all(Locator::Css(css)).await?.is_empty())
    }

    /// Waits up to [`WAIT`] for an element matching `css`.
    pub async fn wait_for(&self, css: &str) -> Result<Element> {
        match self.client.wait().at_most(WAIT).for_element(Locator::Css(css)).await {
            Ok(element) => Ok(element),
            Err(err) => Err(anyhow!("no `{css}` within {WAIT:?} on {}: {err}", self.here().await)),
        }
    }

    /// Waits up to [`WAIT`] until the current path is `path`.
    pub async fn wait_for_path(&self, path: &str) -> Result<()> {
        let deadline = Instant::now() + WAIT;
        loop {
            let now = self.current_path().await?;
            if now == path {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("still on {now} after {WAIT:?}, waiting for {path}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Replaces the value of the field matching `css` with `text` (typed, as a person would).
    pub async fn fill(&self, css: &str, text: &str) -> Result<()> {
        let field = self.find(css).await?;
        field.clear().await.with_context(|| format!("clearing `{css}`"))?;
        field
            .send_keys(text)
            .await
            .with_context(|| format!("typing into `{css}`"))
    }

    /// Clicks the element matching `css` (chromedriver waits for a page it starts loading).
    pub async fn click(&self, css: &str) -> Result<()> {
        let element = self.find(css).await?;
        element.click().await.with_context(|| format!("clicking `{css}`"))
    }

    /// Submits the form matching `form_css` with its submit button (else `requestSubmit()`, so
    /// its validation runs either way) and waits up to [`WAIT`] for the next page to load.
    pub async fn submit(&self, form_css: &str) -> Result<()> {
        let form = self.find(form_css).await?;
        self.mark_page().await?;
        match form
            .find(Locator::Css(
                "button[type=submit], input[type=submit], button:not([type])",
            ))
            .await
        {
            Ok(button) => button
                .click()
                .await
                .with_context(|| format!("clicking the submit button of `{form_css}`"))?,
            Err(_) => {
                self.client
                    .execute("arguments[0].requestSubmit();", vec![serde_json::to_value(&form)?])
                    .await
                    .with_context(|| format!("submitting `{form_css}`"))?;
            }
        }
        self.wait_for_next_page(&format!("submitting `{form_css}`")).await
    }

    /// Chooses the option `value` of the `<select>` matching `select_css`, as a person would
    /// (a click on the option), and waits up to [`WAIT`] for the page its form loads: for
    /// controls that submit their form when changed (`data-autosubmit`).
    pub async fn choose(&self, select_css: &str, value: &str) -> Result<()> {
        let select = self.find(select_css).await?;
        self.mark_page().await?;
        select
            .select_by_value(value)
            .await
            .with_context(|| format!("choosing {value:?} in `{select_css}`"))?;
        self.wait_for_next_page(&format!("choosing {value:?} in `{select_css}`"))
            .await
    }

    /// Marks the current document, so that [`Browser::wait_for_next_page`] sees another one.
    pub async fn mark_page(&self) -> Result<()> {
        // A mark on this document: gone once another document has loaded.
        self.client
            .execute("window.__shopkeeperOldPage = true;", vec![])
            .await?;
        Ok(())
    }

    /// Waits up to [`WAIT`] until a document other than the one [`Browser::mark_page`] marked
    /// has loaded completely; `what` names the action for the error.
    pub async fn wait_for_next_page(&self, what: &str) -> Result<()> {
        let deadline = Instant::now() + WAIT;
        loop {
            // Errors while the old document unloads count as "not yet".
            let loaded = self
                .client
                .execute(
                    "return window.__shopkeeperOldPage === undefined && document.readyState === 'complete';",
                    vec![],
                )
                .await;
            if matches!(loaded, Ok(Value::Bool(true))) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{what} loaded no new page within {WAIT:?} (an invalid field?); still on {}",
                    self.here().await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Resizes the window so that the viewport is `width`×`height` CSS pixels (a phone:
    /// [`PHONE`]); [`Browser::shot`] and [`Browser::step`] return to [`DESKTOP`].
    pub async fn set_viewport(&self, size: (u32, u32)) -> Result<()> {
        self.viewport(size).await
    }

    /// The rendered text of the element matching `css` (as a person reads it).
    pub async fn text(&self, css: &str) -> Result<String> {
        let element = self.find(css).await?;
        Ok(element.text().await?)
    }

    /// The attribute `name` of the element matching `css`.
    pub async fn attr(&self, css: &str, name: &str) -> Result<Option<String>> {
        let element = self.find(css).await?;
        Ok(element.attr(name).await?)
    }

    /// Runs `script` in the page (`arguments[i]` are `args`; `return` gives the value back).
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        match self.client.execute(script, args).await {
            Ok(value) => Ok(value),
            Err(err) => Err(anyhow!("running a script on {}: {err}", self.here().await)),
        }
    }

    /// One journey step: [`Browser::shot`] then [`Browser::axe`] (so a failing page is seen).
    pub async fn step(&self, step: &str) -> Result<()> {
        self.shot(step).await?;
        self.axe()
            .await
            .with_context(|| format!("step `{step}` of `{}`", self.journey))
    }

    /// Saves the page at desktop and phone widths as
    /// `target/screens/<journey>/<NN>-<step>-{desktop,phone}.png` (the whole page, not only
    /// the viewport), and returns to the desktop size.
    pub async fn shot(&self, step: &str) -> Result<()> {
        let number = self.shots.fetch_add(1, Ordering::SeqCst) + 1;
        let stem = format!("{number:02}-{}", slug(step));
        let dir = screens_dir().join(&self.journey);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        self.viewport(DESKTOP).await?;
        let desktop = self.page_png().await?;
        write(&dir.join(format!("{stem}-desktop.png")), &desktop)?;
        self.viewport(PHONE).await?;
        let phone = self.page_png().await;
        self.viewport(DESKTOP).await?;
        write(&dir.join(format!("{stem}-phone.png")), &phone?)
    }

    /// Runs axe-core on the page; fails on any `serious` or `critical` violation, listing each
    /// (rule, impact, help, the first elements). Lesser ones are printed to stderr.
    pub async fn axe(&self) -> Result<()> {
        let loaded = self
            .client
            .execute("return typeof window.axe === 'object';", vec![])
            .await?;
        if loaded != Value::Bool(true) {
            self.client
                .execute(axe_source()?, vec![])
                .await
                .context("injecting axe-core into the page")?;
        }
        let result = self
            .client
            .execute_async(AXE_RUN, vec![])
            .await
            .context("running axe")?;
        if let Some(error) = result["error"].as_str() {
            bail!("axe failed on {}: {error}", self.here().await);
        }
        let violations = result["violations"].as_array().cloned().unwrap_or_default();
        let (blocking, lesser): (Vec<&Value>, Vec<&Value>) = violations
            .iter()
            .partition(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")));
        let here = self.here().await;
        if !lesser.is_empty() {
            eprintln!("axe: lesser issues on {here} (not failing):\n{}", describe(&lesser));
        }
        if !blocking.is_empty() {
            bail!(
                "axe: {} serious or critical accessibility violation(s) on {here}:\n{}",
                blocking.len(),
                describe(&blocking)
            );
        }
        Ok(())
    }

    /// Resizes the window so that the viewport is `width`×`height` CSS pixels.
    async fn viewport(&self, (width, height): (u32, u32)) -> Result<()> {
        self.client.set_window_size(width, height).await?;
        // Correct for any window frame: the viewport is what the page lays out in.
        let inner = self
            .client
            .execute("return [window.innerWidth, window.innerHeight];", vec![])
            .await?;
        let size = |i: usize| inner[i].as_i64().unwrap_or_default();
        let (dw, dh) = (i64::from(width) - size(0), i64::from(height) - size(1));
        if dw != 0 || dh != 0 {
            let grow = |base: u32, delta: i64| u32::try_from(i64::from(base) + delta).unwrap_or(base);
            self.client.set_window_size(grow(width, dw), grow(height, dh)).await?;
        }
        Ok(())
    }

    /// A PNG of the whole page (Chrome DevTools' `captureBeyondViewport`), else of the viewport.
    async fn page_png(&self) -> Result<Vec<u8>> {
        match self.full_page_png().await {
            Ok(png) => Ok(png),
            Err(err) => {
                eprintln!("browser: a full-page screenshot failed ({err:#}); taking the viewport");
                Ok(self.client.screenshot().await?)
            }
        }
    }

    async fn full_page_png(&self) -> Result<Vec<u8>> {
        let metrics = self.cdp("Page.getLayoutMetrics", json!({})).await?;
        let dimension = |size: &str, viewport: &str| {
            let content = metrics["cssContentSize"][size].as_f64().unwrap_or_default();
            let visible = metrics["cssLayoutViewport"][viewport].as_f64().unwrap_or_default();
            content.max(visible).ceil()
        };
        let (width, height) = (dimension("width", "clientWidth"), dimension("height", "clientHeight"));
        let shot = self
            .cdp(
                "Page.captureScreenshot",
                json!({
                    "format": "png",
                    "captureBeyondViewport": true,
                    "clip": {"x": 0, "y": 0, "width": width, "height": height.min(16_000.0), "scale": 1},
                }),
            )
            .await?;
        let data = shot["data"]
            .as_str()
            .context("Page.captureScreenshot returned no data")?;
        Ok(base64::engine::general_purpose::STANDARD.decode(data)?)
    }

    /// Runs a Chrome DevTools Protocol command through chromedriver.
    async fn cdp(&self, cmd: &'static str, params: Value) -> Result<Value> {
        self.client
            .issue_cmd(Cdp { cmd, params })
            .await
            .with_context(|| format!("DevTools {cmd}"))
    }

    /// The current URL for messages (or why it is unknown).
    async fn here(&self) -> String {
        match self.client.current_url().await {
            Ok(url) => url.to_string(),
            Err(err) => format!("(an unknown page: {err})"),
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A failed test never reached `close`, and its runtime may be gone: end the session
        // with a plain blocking request.
        if !self.closed {
            delete_session(&self.driver_url, &self.session);
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// chromedriver's `POST /session/{id}/goog/cdp/execute`.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/goog/cdp/execute", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({"cmd": self.cmd, "params": self.params});
        (http::Method::POST, Some(body.to_string()))
    }
}

/// `DELETE /session/{id}` over a plain socket (no runtime needed); errors are ignored.
fn delete_session(driver_url: &str, session: &str) {
    let Some(address) = driver_url.strip_prefix("http://") else {
        return;
    };
    if session.is_empty() {
        return;
    }
    let Ok(mut stream) = TcpStream::connect(address) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(WAIT));
    let request = format!(
        "DELETE /session/{session} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_ok() {
        let _ = stream.read_to_end(&mut Vec::new());
    }
}

/// Lists violations: `- rule (impact): help [N elements]`, the first targets, the help link.
fn describe(violations: &[&Value]) -> String {
    let mut text = String::new();
    for v in violations {
        let field = |name: &str| v[name].as_str().unwrap_or("?").to_owned();
        text.push_str(&format!(
            "  - {} ({}): {} [{} element(s)]\n",
            field("id"),
            field("impact"),
            field("help"),
            v["count"]
        ));
        for target in v["targets"].as_array().into_iter().flatten() {
            text.push_str(&format!("      {}\n", target.as_str().unwrap_or_default()));
        }
        text.push_str(&format!("      {}\n", field("helpUrl")));
    }
    text
}

/// A path from the environment `cargo xtask test` prepares, or an error saying to use it.
fn env_path(name: &str) -> Result<PathBuf> {
    match std::env::var_os(name) {
        Some(value) if !value.is_empty() => Ok(PathBuf::from(value)),
        _ => bail!(
            "{name} is not set: the browser tests need Chromium, chromedriver and axe-core, which \
             `cargo xtask test` installs and exports. Run `cargo xtask test` (these tests alone: \
             `cargo xtask test --no-lint -- -E 'binary(browser)'`)."
        ),
    }
}

/// axe-core's source (`SHOP_TEST_AXE`), read once per process.
fn axe_source() -> Result<&'static str> {
    if let Some(source) = AXE_SOURCE.get() {
        return Ok(source);
    }
    let path = env_path("SHOP_TEST_AXE")?;
    let source = std::fs::read_to_string(&path).with_context(|| format!("reading axe-core from {}", path.display()))?;
    Ok(AXE_SOURCE.get_or_init(|| source))
}

/// This process's scratch directory (chromedriver's log, the Chromium profiles).
fn scratch_dir() -> PathBuf {
    std::env::temp_dir()
        .join("shopkeeper-browser")
        .join(std::process::id().to_string())
}

/// Removes the scratch directories of test processes that have ended (their driver logs).
fn remove_stale_scratch_dirs() {
    let Some(parent) = scratch_dir().parent().map(Path::to_path_buf) else {
        return;
    };
    for entry in std::fs::read_dir(parent).into_iter().flatten().flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(&pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// `target/screens`: under `CARGO_TARGET_DIR` when set, else the workspace's `target/`.
pub fn screens_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.ancestors().nth(2).unwrap_or(manifest);
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    };
    target.join("screens")
}

/// `name` made safe for a file name: lower-case letters, digits, `-` and `_`.
fn slug(name: &str) -> String {
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    if slug.is_empty() { "step".to_owned() } else { slug }
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// The end of chromedriver's log, for failure messages.
fn read_log(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let start = text.len().saturating_sub(4000);
    let start = (start..text.len()).find(|&i| text.is_char_boundary(i)).unwrap_or(0);
    text[start..].to_owned()
}
