//! The gateway's pages in a real browser: journeys through the web UI in headless Chromium,
//! against the whole shop as the API tests spawn it. Every step is screenshotted at desktop
//! and phone widths (`target/screens/<journey>/`) and checked with axe-core.
//!
//! Layout: [`harness`] (chromedriver, [`harness::Browser`] and its helpers), `support` (the
//! API tests' shop spawner, shared), the journeys below.

// Not every journey uses every helper.
#[allow(dead_code)]
mod harness;
mod journeys;
#[path = "../api/support.rs"]
mod support;

use anyhow::{Result, ensure};

use crate::harness::Browser;
use crate::support::{PASSWORD, spawn_gateway};

/// What only a signed-in shopper's header has: the log-out form.
const SIGNED_IN: &str = "header form[action='/logout']";

/// Whether the page header shows `email`, as text or as the title of one of its links.
async fn header_shows(browser: &Browser, email: &str) -> Result<bool> {
    let shown = browser
        .execute(
            "const [email] = arguments; const header = document.querySelector('header');
             return !!header && (header.innerText.includes(email)
                 || [...header.querySelectorAll('[title]')].some((el) => el.title === email));",
            vec![email.into()],
        )
        .await?;
    Ok(shown == true)
}

/// A shopper opens the login page, signs in, and the header shows who is signed in.
#[tokio::test]
async fn a_shopper_signs_in_and_the_header_shows_their_email() -> Result<()> {
    let shop = support::spawn_shop().await;
    let email = support::register(&shop).await;
    let gateway = spawn_gateway(shop.config()).await;
    let browser = Browser::open(&gateway.url(""), "sign-in").await?;

    browser.goto("/login").await?;
    browser.step("login-form").await?;
    browser.fill("input[name=email]", &email).await?;
    browser.fill("input[name=password]", PASSWORD).await?;
    browser.submit("form[action='/login']").await?;

    ensure!(
        browser.current_path().await? == "/",
        "signed in, the shopper lands on the home page"
    );
    ensure!(
        browser.exists(SIGNED_IN).await?,
        "signed in, the header offers to log out"
    );
    ensure!(header_shows(&browser, &email).await?, "the header shows {email}");
    browser.step("signed-in").await?;
    browser.close().await
}

/// A login form without its CSRF token is refused: back to the form, told it expired.
#[tokio::test]
async fn a_login_form_without_its_csrf_token_is_refused() -> Result<()> {
    let shop = support::spawn_shop().await;
    let email = support::register(&shop).await;
    let gateway = spawn_gateway(shop.config()).await;
    let browser = Browser::open(&gateway.url(""), "sign-in-without-csrf").await?;

    browser.goto("/login").await?;
    browser
        .execute(
            "document.querySelector('form[action=\"/login\"] input[name=_csrf]').remove();",
            vec![],
        )
        .await?;
    ensure!(!browser.exists("input[name=_csrf]").await?, "the token is gone");
    browser.fill("input[name=email]", &email).await?;
    browser.fill("input[name=password]", PASSWORD).await?;
    browser.submit("form[action='/login']").await?;

    let url = browser.current_url().await?;
    ensure!(url.path() == "/login", "refused, the form comes back: {url}");
    ensure!(
        url.query_pairs()
            .any(|(key, value)| key == "error" && value == "expired"),
        "with error=expired: {url}"
    );
    ensure!(browser.exists("[role=alert]").await?, "the page says why");
    ensure!(!browser.exists(SIGNED_IN).await?, "nobody is signed in");
    ensure!(!header_shows(&browser, &email).await?, "the header shows no email");
    browser.step("refused").await?;
    browser.close().await
}

/// The browser sends the `Accept-Language` it was opened with (what localised pages read).
#[tokio::test]
async fn the_browser_asks_for_the_language_it_was_opened_with() -> Result<()> {
    let echo = support::spawn_echo().await;
    let browser = Browser::open_in(&echo.url, "language", "kk-KZ").await?;
    browser.goto("/hello").await?;
    let seen = echo.seen();
    let request = seen
        .iter()
        .find(|seen| seen.path_and_query == "/hello")
        .ok_or_else(|| anyhow::anyhow!("the page was not requested: {seen:?}"))?;
    let language = request.headers.get("accept-language").cloned().unwrap_or_default();
    ensure!(language.starts_with("kk-KZ"), "Accept-Language: {language:?}");
    browser.close().await
}

/// The harness itself: a page longer than the window is captured whole, and axe fails a page
/// with a critical violation (an image without a text alternative), naming the rule.
#[tokio::test]
async fn the_harness_captures_whole_pages_and_catches_inaccessible_ones() -> Result<()> {
    let browser = Browser::open("about:blank", "harness").await?;
    browser
        .goto_url(
            "data:text/html,<!doctype html><html lang=en><title>Long</title>\
             <main><h1>Long</h1><div style='height:3000px'></div><img src='data:,'></main></html>",
        )
        .await?;
    browser.shot("long-page").await?;
    let png = std::fs::read(harness::screens_dir().join("harness/01-long-page-desktop.png"))?;
    let height = png
        .get(20..24)
        .map(|bytes| u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]));
    ensure!(
        height.is_some_and(|h| h > 3000),
        "the whole page, not the window: {height:?} px high"
    );

    let Err(refused) = browser.axe().await else {
        anyhow::bail!("axe let an image without a text alternative pass");
    };
    ensure!(format!("{refused:#}").contains("image-alt (critical)"), "{refused:#}");
    browser.close().await
}
