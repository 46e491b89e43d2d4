//! Login throttling (docs/api/auth.md#throttling): per (email, address) pair, per email, per
//! address. Addresses come from `X-Forwarded-For` behind one trusted proxy.

use std::time::Duration;

use reqwest::Response;
use serde_json::json;
use shop_auth::config::Config;

use crate::support::*;

const PASSWORD: &str = "a-decent-passphrase";
const WRONG: &str = "wrong-password!";
/// Addresses from the documentation ranges.
const ATTACKER: &str = "203.0.113.66";
const OWNER: &str = "198.51.100.7";
const NEIGHBOUR_OF_ATTACKER: &str = ATTACKER;

/// Auth behind one proxy (the gateway), so each request says where it comes from.
async fn spawn(tweak: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_with(|c| {
        c.trusted_proxy_hops = 1;
        tweak(c);
    })
    .await
}

async fn login_from(app: &TestApp, ip: &str, email: &str, password: &str) -> Response {
    app.http
        .post(app.url("/auth/login"))
        .header("x-forwarded-for", ip)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

async fn registered(app: &TestApp, email: &str) {
    assert_eq!(app.register(email, PASSWORD).await.status(), 201);
}

/// Asserts a 429 problem and returns its `Retry-After`, which the body repeats.
async fn throttled(r: Response) -> u64 {
    let header: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    let body = problem(r, 429).await;
    assert_eq!(body["retry_after"], header);
    header
}

/// Ends every running block of the counters whose key is like `pattern`, as if the block had
/// lasted an hour: the last failure is older than the window, only the block keeps it in memory.
async fn end_blocks(app: &TestApp, pattern: &str) {
    let sql = "UPDATE login_throttle SET blocked_until = now(), last_failed_at = now() - interval '1 hour'
               WHERE key LIKE $1";
    sqlx::query(sql).bind(pattern).execute(&app.db.pool).await.unwrap();
}

#[tokio::test]
async fn a_pair_is_refused_after_its_limit_with_retry_after() {
    let app = spawn(|c| c.throttle.per_pair = 3).await;
    registered(&app, "jack@example.com").await;
    registered(&app, "kim@example.com").await;
    for _ in 0..3 {
        problem(login_from(&app, ATTACKER, "jack@example.com", WRONG).await, 401).await;
    }
    let retry = throttled(login_from(&app, ATTACKER, "jack@example.com", PASSWORD).await).await;
    assert!(
        (55..=60).contains(&retry),
        "the first block is LOGIN_PAIR_LOCK_SECS: {retry}"
    );
    // The same account from another address, another account from the same address: open.
    assert_eq!(
        login_from(&app, OWNER, "jack@example.com", PASSWORD).await.status(),
        200
    );
    assert_eq!(
        login_from(&app, ATTACKER, "kim@example.com", PASSWORD).await.status(),
        200
    );
    // A window without failures, and the pair starts afresh.
    sqlx::query("UPDATE login_throttle SET last_failed_at = now() - interval '1 hour', blocked_until = NULL")
        .execute(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(
        login_from(&app, ATTACKER, "jack@example.com", PASSWORD).await.status(),
        200
    );
}

#[tokio::test]
async fn the_pair_block_doubles_with_each_further_failure_up_to_the_window() {
    let app = spawn(|c| {
        c.throttle.per_pair = 2;
        c.throttle.pair_lock = Duration::from_secs(10);
        c.throttle.window = Duration::from_secs(30);
    })
    .await;
    registered(&app, "lars@example.com").await;
    problem(login_from(&app, ATTACKER, "lars@example.com", WRONG).await, 401).await;
    let mut blocks = Vec::new();
    for _ in 0..4 {
        problem(login_from(&app, ATTACKER, "lars@example.com", WRONG).await, 401).await;
        blocks.push(throttled(login_from(&app, ATTACKER, "lars@example.com", WRONG).await).await);
        end_blocks(&app, "pair:%").await;
    }
    let expected = [10, 20, 30, 30];
    for (got, want) in blocks.iter().zip(expected) {
        assert!(
            *got <= want && *got + 3 >= want,
            "blocks {blocks:?}, expected about {expected:?}"
        );
    }
}

#[tokio::test]
async fn the_owner_logs_in_from_another_address_while_an_attacker_keeps_failing() {
    // The default limits, but an account backoff that starts at the pair limit.
    let app = spawn(|c| c.throttle.per_email = 5).await;
    registered(&app, "mona@example.com").await;
    let mut failures = 0;
    for i in 0..30 {
        let r = login_from(&app, ATTACKER, "mona@example.com", WRONG).await;
        match r.status().as_u16() {
            401 => failures += 1,
            429 => assert!(throttled(r).await >= 1),
            other => panic!("attacker got {other}"),
        }
        if i % 10 == 9 {
            let r = login_from(&app, OWNER, "mona@example.com", PASSWORD).await;
            assert_eq!(r.status(), 200, "the owner, attempt {i}");
        }
    }
    assert_eq!(failures, 5, "one address gets LOGIN_MAX_FAILURES_PER_PAIR guesses");
    // The owner's successes lift nothing for the attacker, and the attacker's right guess waits.
    throttled(login_from(&app, ATTACKER, "mona@example.com", PASSWORD).await).await;
    // Attackers on more addresses push the account into backoff: still the owner gets in.
    for k in 1..=3 {
        for _ in 0..5 {
            let r = login_from(&app, &format!("203.0.113.{k}"), "mona@example.com", WRONG).await;
            assert!([401, 429].contains(&r.status().as_u16()));
        }
    }
    let backoff: Option<f64> = sqlx::query_scalar(
        "SELECT EXTRACT(EPOCH FROM blocked_until - now())::float8 FROM login_throttle WHERE key = 'email:mona@example.com'",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert!(backoff.unwrap() > 0.0, "the account is backing off");
    assert_eq!(
        login_from(&app, OWNER, "mona@example.com", PASSWORD).await.status(),
        200
    );
}

#[tokio::test]
async fn an_account_backs_off_growing_for_addresses_that_failed_on_it_only() {
    let app = spawn(|c| {
        c.throttle.per_email = 1;
        c.throttle.per_pair = 10;
        c.throttle.email_backoff_max = Duration::from_secs(600);
    })
    .await;
    registered(&app, "nils@example.com").await;
    // Five addresses, one guess each: each was clean when it tried, so each got an answer.
    for k in 1..=5 {
        problem(
            login_from(&app, &format!("10.9.0.{k}"), "nils@example.com", WRONG).await,
            401,
        )
        .await;
    }
    // Five failures: 1 s doubled four times.
    let first = throttled(login_from(&app, "10.9.0.1", "nils@example.com", PASSWORD).await).await;
    assert!((8..=16).contains(&first), "{first}");
    // A sixth clean address gets its answer, and its failure doubles the backoff.
    problem(login_from(&app, "10.9.0.6", "nils@example.com", WRONG).await, 401).await;
    let second = throttled(login_from(&app, "10.9.0.1", "nils@example.com", PASSWORD).await).await;
    assert!(second > first && second <= 32, "{first} then {second}");
    // The owner, from an address with no failure on this account, is not held back.
    assert_eq!(
        login_from(&app, OWNER, "nils@example.com", PASSWORD).await.status(),
        200
    );
}

#[tokio::test]
async fn an_address_failing_across_many_accounts_is_refused() {
    let app = spawn(|c| {
        c.throttle.per_pair = 2;
        c.throttle.per_ip = 6;
    })
    .await;
    registered(&app, "olaf@example.com").await;
    for k in 0..3 {
        for _ in 0..2 {
            problem(
                login_from(&app, ATTACKER, &format!("sprayed{k}@example.com"), WRONG).await,
                401,
            )
            .await;
        }
    }
    let retry = throttled(login_from(&app, ATTACKER, "sprayed9@example.com", WRONG).await).await;
    assert!((890..=900).contains(&retry), "until the address forgets: {retry}");
    // Everyone behind that address waits: the address itself is failing.
    throttled(login_from(&app, ATTACKER, "olaf@example.com", PASSWORD).await).await;
    assert_eq!(
        login_from(&app, OWNER, "olaf@example.com", PASSWORD).await.status(),
        200
    );
}

#[tokio::test]
async fn one_address_failing_on_one_account_does_not_lock_others_behind_it() {
    let app = spawn(|c| {
        c.throttle.per_pair = 5;
        c.throttle.per_ip = 6;
    })
    .await;
    registered(&app, "pia@example.com").await;
    registered(&app, "quinn@example.com").await;
    // Far more failures on one account than the address limit, over several pair blocks...
    for _ in 0..3 {
        for _ in 0..10 {
            login_from(&app, ATTACKER, "pia@example.com", WRONG).await;
        }
        end_blocks(&app, "pair:%").await;
    }
    // ...add at most LOGIN_MAX_FAILURES_PER_PAIR to the address: a shopper behind it logs in.
    let r = login_from(&app, NEIGHBOUR_OF_ATTACKER, "quinn@example.com", PASSWORD).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn an_unknown_email_is_throttled_like_a_known_one() {
    let app = spawn(|c| {
        c.throttle.per_pair = 3;
        c.throttle.per_email = 4;
    })
    .await;
    registered(&app, "rosa@example.com").await;
    let mut answers = Vec::new();
    for email in ["rosa@example.com", "nobody@example.com"] {
        let mut seen = Vec::new();
        for ip in [ATTACKER; 4].into_iter().chain([OWNER, ATTACKER, "192.0.2.44"]) {
            let r = login_from(&app, ip, email, WRONG).await;
            let status = r.status().as_u16();
            let retry = if status == 429 { throttled(r).await } else { 0 };
            seen.push((status, retry));
        }
        answers.push(seen);
    }
    let (known, unknown) = (&answers[0], &answers[1]);
    assert_eq!(known[..4].iter().map(|a| a.0).collect::<Vec<_>>(), [401, 401, 401, 429]);
    for (k, u) in known.iter().zip(unknown) {
        assert_eq!(k.0, u.0, "statuses: {known:?} and {unknown:?}");
        assert!(k.1.abs_diff(u.1) <= 2, "retry-after: {known:?} and {unknown:?}");
    }
}

#[tokio::test]
async fn a_success_resets_the_pair() {
    let app = spawn(|c| c.throttle.per_pair = 3).await;
    registered(&app, "sven@example.com").await;
    for _ in 0..2 {
        for _ in 0..2 {
            problem(login_from(&app, OWNER, "sven@example.com", WRONG).await, 401).await;
        }
        assert_eq!(
            login_from(&app, OWNER, "sven@example.com", PASSWORD).await.status(),
            200
        );
    }
    let pair: i64 = sqlx::query_scalar("SELECT count(*) FROM login_throttle WHERE key LIKE 'pair:%'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(pair, 0, "the pair's counter is gone");
    for _ in 0..3 {
        problem(login_from(&app, OWNER, "sven@example.com", WRONG).await, 401).await;
    }
    throttled(login_from(&app, OWNER, "sven@example.com", PASSWORD).await).await;
}

#[tokio::test]
async fn concurrent_guesses_cannot_slip_past_the_pair_limit() {
    let app = spawn(|c| c.throttle.per_pair = 3).await;
    registered(&app, "tove@example.com").await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (http, url) = (app.http.clone(), app.url("/auth/login"));
            tokio::spawn(async move {
                let body = json!({"email": "tove@example.com", "password": WRONG});
                let r = http.post(url).header("x-forwarded-for", ATTACKER).json(&body).send();
                r.await.unwrap().status().as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 3, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 17, "{statuses:?}");
}
