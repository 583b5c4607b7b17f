//! Sign-in under attack (issue 13), over HTTP against real PostgreSQL: parallel guesses,
//! strangers guessing an admin's account, growing delays per address and per account,
//! bounded hashing, bounded input, pruned rows, and resets that neither re-enable a
//! disabled account nor leave its delay in place. The test plays the reverse proxy
//! (`TRUSTED_PROXIES=127.0.0.1`) to name each simulated client in `X-Forwarded-For`.

use crate::common::portal::{Portal, EMAIL, PASSWORD};
use reqwest::header::RETRY_AFTER;
use reqwest::StatusCode;
use std::time::Duration;

const PROXY: (&str, &str) = ("TRUSTED_PROXIES", "127.0.0.1");

fn accepted(status: StatusCode) -> bool {
    status.is_success() || status.is_redirection()
}

fn retry_after(response: &reqwest::Response) -> Option<u64> {
    response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Sends `n` wrong passwords for `email` at once, the i-th from `address(i)`; the statuses.
async fn guesses_at_once(
    portal: &Portal,
    n: usize,
    email: &str,
    address: impl Fn(usize) -> String,
) -> Vec<StatusCode> {
    let requests = (0..n).map(|i| {
        let from = address(i);
        async move {
            let response = portal.sign_in_from(&from, email, "a wrong guess").await;
            let status = response.status();
            if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE
            {
                assert!(
                    retry_after(&response).is_some(),
                    "{status} without Retry-After"
                );
            }
            status
        }
    });
    futures::future::join_all(requests).await
}

fn checked(statuses: &[StatusCode]) -> usize {
    statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count()
}

/// Moves the throttle's clock: every delay has run out.
async fn wait_out_delays(portal: &Portal) {
    sqlx::query("UPDATE signin_throttle SET blocked_until = now() - interval '1 second'")
        .execute(&portal.pool)
        .await
        .expect("age delays");
}

#[tokio::test]
async fn parallel_guesses_get_no_more_checks_than_the_free_failures() {
    let portal = Portal::start(&[PROXY]).await;
    let statuses = guesses_at_once(&portal, 40, EMAIL, |_| "203.0.113.7".into()).await;
    assert_eq!(checked(&statuses), 5, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| [
            StatusCode::UNAUTHORIZED,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::SERVICE_UNAVAILABLE
        ]
        .contains(s)),
        "{statuses:?}"
    );
    // From 40 other addresses at once: the account's own count stops them too.
    wait_out_delays(&portal).await;
    sqlx::query("DELETE FROM signin_throttle WHERE scope = 'address'")
        .execute(&portal.pool)
        .await
        .expect("forget addresses");
    let statuses = guesses_at_once(&portal, 40, EMAIL, |i| format!("198.18.0.{}", 10 + i)).await;
    let account_failures: i32 =
        sqlx::query_scalar("SELECT failures FROM signin_throttle WHERE scope = 'account'")
            .fetch_one(&portal.pool)
            .await
            .expect("account row");
    assert_eq!(
        checked(&statuses),
        1,
        "the account was at its free limit: one more check, then its delay ({statuses:?})"
    );
    assert_eq!(account_failures, 6);
    portal.finish().await;
}

#[tokio::test]
async fn strangers_guessing_an_account_do_not_keep_its_admin_out() {
    let portal = Portal::start(&[PROXY]).await;
    let office = "198.51.100.10";
    assert!(accepted(
        portal.sign_in_from(office, EMAIL, PASSWORD).await.status()
    ));
    guesses_at_once(&portal, 40, EMAIL, |_| "203.0.113.7".into()).await;
    guesses_at_once(&portal, 40, EMAIL, |i| format!("198.18.0.{}", 10 + i)).await;

    // From the address the admin signed in from before: straight in.
    let known = portal.sign_in_from(office, EMAIL, PASSWORD).await;
    assert!(accepted(known.status()), "{}", known.status());

    // Attack again; from a new address the admin waits at most the account's short
    // delay (a minute), never the quarter of an hour an address can be given.
    guesses_at_once(&portal, 20, EMAIL, |i| format!("198.18.1.{}", 10 + i)).await;
    let fresh = portal.sign_in_from("192.0.2.44", EMAIL, PASSWORD).await;
    assert_eq!(fresh.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait = retry_after(&fresh).expect("Retry-After");
    assert!((1..=60).contains(&wait), "waits {wait} s");
    assert!(fresh
        .text()
        .await
        .expect("body")
        .contains("Too many failed sign-ins. Wait"));
    // The attacker's own address waits far longer than the account.
    let attacker = portal
        .sign_in_from("203.0.113.7", EMAIL, "another guess")
        .await;
    assert_eq!(attacker.status(), StatusCode::TOO_MANY_REQUESTS);

    // The operator's way out: a password reset from the command line ends the account's
    // delay at once.
    server::admin::auth::create_superadmin(&portal.pool, EMAIL, "a brand new passphrase", true)
        .await
        .expect("reset");
    let after_reset = portal
        .sign_in_from("192.0.2.44", EMAIL, "a brand new passphrase")
        .await;
    assert!(accepted(after_reset.status()), "{}", after_reset.status());
    portal.finish().await;
}

#[tokio::test]
async fn delays_grow_per_address_and_a_quiet_window_forgets_them() {
    let portal = Portal::start(&[PROXY, ("SIGNIN_FREE_FAILURES", "3")]).await;
    let from = "203.0.113.50";
    // Different accounts: the address's own count applies across them.
    for i in 0..3 {
        let r = portal
            .sign_in_from(from, &format!("user{i}@example.com"), "guess")
            .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let mut waits = Vec::new();
    for i in 3..7 {
        let refused = portal
            .sign_in_from(from, &format!("user{i}@example.com"), "guess")
            .await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        waits.push(retry_after(&refused).expect("Retry-After"));
        wait_out_delays(&portal).await;
        let r = portal
            .sign_in_from(from, &format!("user{i}@example.com"), "guess")
            .await;
        assert_eq!(
            r.status(),
            StatusCode::UNAUTHORIZED,
            "checked once the delay ran out"
        );
    }
    assert_eq!(
        waits,
        [1, 2, 4, 8],
        "each failure past the free ones doubles the delay"
    );
    // Another address is not concerned.
    assert!(accepted(
        portal
            .sign_in_from("198.51.100.77", EMAIL, PASSWORD)
            .await
            .status()
    ));
    // Fifteen quiet minutes later the address starts from zero.
    sqlx::query(
        "UPDATE signin_throttle SET last_failure_at = now() - interval '16 minutes', \
         blocked_until = now() - interval '1 second'",
    )
    .execute(&portal.pool)
    .await
    .expect("age");
    for i in 0..3 {
        let r = portal
            .sign_in_from(from, &format!("late{i}@example.com"), "guess")
            .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    portal.finish().await;
}

#[tokio::test]
async fn a_flood_of_sign_ins_is_refused_as_busy_not_hashed_without_bound() {
    let portal = Portal::start(&[PROXY]).await;
    let office = "198.51.100.10";
    assert!(accepted(
        portal.sign_in_from(office, EMAIL, PASSWORD).await.status()
    ));
    // 150 sign-ins of random accounts from 150 addresses, all at once, while the admin
    // signs in from the office.
    let flood = async {
        let requests = (0..150).map(|i| {
            let from = format!("10.1.{}.{}", i / 200, i % 200);
            let email = format!("random{i}@flood.example.com");
            let portal = &portal;
            async move {
                let r = portal.sign_in_from(&from, &email, "guess").await;
                (r.status(), retry_after(&r))
            }
        });
        futures::future::join_all(requests).await
    };
    let admin = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        portal.sign_in_from(office, EMAIL, PASSWORD).await.status()
    };
    let (flood, admin) = tokio::join!(flood, admin);
    let busy = flood
        .iter()
        .filter(|(s, _)| *s == StatusCode::SERVICE_UNAVAILABLE)
        .count();
    assert!(busy > 0, "some were told to come back: {flood:?}");
    assert!(
        flood.iter().all(|(s, wait)| *s == StatusCode::UNAUTHORIZED
            || (*s == StatusCode::SERVICE_UNAVAILABLE && *wait == Some(1))),
        "only checked (401) or busy (503, Retry-After: 1), never an error: {flood:?}"
    );
    assert!(
        accepted(admin),
        "the admin got in during the flood: {admin}"
    );
    portal.finish().await;
}

#[tokio::test]
async fn oversized_input_is_refused_before_hashing_and_old_rows_are_pruned() {
    let portal = Portal::start(&[PROXY]).await;
    // A 100 kB email is refused by the body limit.
    let huge = format!("{}@example.com", "x".repeat(100_000));
    let r = portal.sign_in_from("203.0.113.9", &huge, "guess").await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Longer than any email, or a password longer than anyone types: refused, not stored.
    let long = format!("{}@example.com", "x".repeat(300));
    let r = portal.sign_in_from("203.0.113.9", &long, "guess").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = portal
        .sign_in_from("203.0.113.9", EMAIL, &"p".repeat(2000))
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let longest: Option<i32> = sqlx::query_scalar("SELECT max(length(key)) FROM signin_throttle")
        .fetch_one(&portal.pool)
        .await
        .expect("rows");
    assert!(longest.unwrap_or(0) <= 300, "no oversized key stored");

    // Failures of random accounts leave rows; once quiet for the window they go.
    for i in 0..20 {
        portal
            .sign_in_from(
                &format!("10.9.0.{i}"),
                &format!("r{i}@example.com"),
                "guess",
            )
            .await;
    }
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM signin_throttle")
            .fetch_one(&portal.pool)
            .await
            .expect("count")
    };
    assert!(count().await >= 40);
    sqlx::query(
        "UPDATE signin_throttle SET last_failure_at = now() - interval '16 minutes', \
         blocked_until = now() - interval '1 minute'",
    )
    .execute(&portal.pool)
    .await
    .expect("age");
    let config = portal.db.config(&[]);
    let guard = server::signin::SigninGuard::new(
        portal.pool.clone(),
        server::signin::ThrottlePolicy::new(config.signin_free_failures),
        1,
    );
    assert!(guard.prune().await.expect("prune") >= 40);
    assert_eq!(count().await, 0);
    portal.finish().await;
}

#[tokio::test]
async fn a_password_reset_leaves_a_disabled_superadmin_disabled() {
    let portal = Portal::start(&[]).await;
    let cookie = portal.session().await;
    server::admin::auth::set_superadmin_disabled(&portal.pool, EMAIL, true)
        .await
        .expect("disable");
    assert_eq!(
        portal.get("/admin", Some(&cookie)).await.status(),
        StatusCode::SEE_OTHER,
        "disabling ends the sessions"
    );
    let change =
        server::admin::auth::create_superadmin(&portal.pool, EMAIL, "a brand new passphrase", true)
            .await
            .expect("reset");
    assert_eq!(
        change,
        server::admin::auth::SuperadminChange::PasswordReset { disabled: true }
    );
    let refused = portal.sign_in(EMAIL, "a brand new passphrase").await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    server::admin::auth::set_superadmin_disabled(&portal.pool, EMAIL, false)
        .await
        .expect("enable");
    assert!(accepted(
        portal
            .sign_in(EMAIL, "a brand new passphrase")
            .await
            .status()
    ));
    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE action LIKE 'superadmin.%abled' ORDER BY id",
    )
    .fetch_all(&portal.pool)
    .await
    .expect("audit");
    assert_eq!(actions, ["superadmin.disabled", "superadmin.enabled"]);
    portal.finish().await;
}
