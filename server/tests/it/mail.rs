//! Transactional email against a real SMTP server (maildev): lifecycle messages, SMTP down
//! and back, refused recipients, retries from the outbox, and what a resend looks like.

use crate::common::harness::{Options, Platform};
use crate::common::maildev::{self, Maildev};
use serde_json::json;
use server::mail::templates::{self, Common, Recipient};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use uuid::Uuid;

async fn platform_with(mut env: Vec<(String, String)>) -> Platform {
    if !env.iter().any(|(k, _)| k == "MAIL_MAX_ATTEMPTS") {
        env.push(("MAIL_MAX_ATTEMPTS".to_owned(), "20".to_owned()));
    }
    Platform::start(Options {
        env,
        ..Options::default()
    })
    .await
}

/// A rendered message to `to` (any template will do for delivery tests).
fn message(p: &Platform, to: &str) -> server::mail::Email {
    let settings = &p.config.mail;
    templates::account_exists(
        &Recipient {
            address: to.to_owned(),
            name: "Test Owner".into(),
        },
        &templates::AccountExistsFacts {
            common: Common::new(settings, "Test Owner"),
            signin_url: "https://saas.test/signin".into(),
            reset_url: "https://saas.test/forgot".into(),
        },
    )
    .expect("render")
}

async fn queue(p: &Platform, to: &str) -> Uuid {
    let mut tx = p.pool.begin().await.expect("tx");
    let id = server::mail::enqueue(&mut tx, &p.config.mail, message(p, to))
        .await
        .expect("enqueue");
    tx.commit().await.expect("commit");
    id
}

async fn outbox_state(p: &Platform, id: Uuid) -> (String, i32, Option<String>) {
    sqlx::query_as("SELECT state, attempts, last_error FROM outbox WHERE id = $1")
        .bind(id)
        .fetch_one(&p.pool)
        .await
        .expect("outbox row")
}

async fn wait_state(p: &Platform, id: Uuid, state: &str) -> (String, i32, Option<String>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let row = outbox_state(p, id).await;
        if row.0 == state {
            return row;
        }
        if Instant::now() > deadline {
            let job: Option<(String, i32, Option<String>)> = sqlx::query_as(
                "SELECT j.state, j.attempts, j.last_error FROM jobs j JOIN outbox o ON o.job_id = j.id WHERE o.id = $1",
            )
            .bind(id)
            .fetch_optional(&p.pool)
            .await
            .expect("job");
            panic!("message not {state} in time: {row:?}; its job: {job:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_owner_gets_a_message_at_each_step_of_the_tenants_life() {
    let smtp = Maildev::start().await;
    let p = platform_with(smtp.env()).await;
    let plan = p.plan_with_template("mailed", &[], 1).await;
    let key = plan["key"].as_str().expect("key").to_owned();
    let (status, accepted) = p.post("/tenants", p.tenant_body("mailed", &key)).await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["tenant"]["id"].as_str().expect("id").to_owned();
    let owner = "owner@mailed.example.com";
    p.wait_tenant(&id, "active", Duration::from_secs(60)).await;

    let welcome = smtp.wait_for(owner, "is ready").await;
    let text = welcome["text"].as_str().unwrap_or_default();
    assert!(text.contains("https://mailed.saas.test/"), "{text}");
    assert!(text.contains("https://mailed.saas.test/pos/"), "{text}");
    assert!(text.contains(&format!("Login:          {owner}")), "{text}");
    assert!(
        !text.contains("correct horse battery"),
        "never the password: {text}"
    );
    // The Message-ID is the outbox row's.
    let row_id: String = sqlx::query_scalar(
        "SELECT message_id FROM outbox WHERE template = 'tenant_welcome' AND tenant_id = $1::uuid",
    )
    .bind(&id)
    .fetch_one(&p.pool)
    .await
    .expect("welcome row");
    assert_eq!(maildev::header(&welcome, "message-id"), row_id);
    assert!(row_id.ends_with("@saas.test>"), "{row_id}");

    let (status, _) = p
        .post(&format!("/tenants/{id}/deactivate"), json!({}))
        .await;
    assert_eq!(status, 202);
    p.wait_tenant(&id, "suspended", Duration::from_secs(60))
        .await;
    let suspended = smtp.wait_for(owner, "is suspended").await;
    assert!(suspended["text"]
        .as_str()
        .unwrap_or_default()
        .contains("suspended"));

    let (status, _) = p
        .post(&format!("/tenants/{id}/reactivate"), json!({}))
        .await;
    assert_eq!(status, 202);
    p.wait_tenant(&id, "active", Duration::from_secs(60)).await;
    smtp.wait_for(owner, "is active again").await;

    let r = p
        .api(
            reqwest::Method::DELETE,
            &format!("/tenants/{id}?backup=true"),
        )
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 202);
    // DROP DATABASE waits for a checkpoint: slow on a busy machine.
    p.wait_tenant(&id, "deleted", Duration::from_secs(180))
        .await;
    let deleted = smtp.wait_for(owner, "has been deleted").await;
    assert!(
        deleted["text"]
            .as_str()
            .unwrap_or_default()
            .contains("A final backup of the database was taken"),
        "{deleted}"
    );
    // Four messages, each once.
    assert_eq!(smtp.emails_to(owner).await.len(), 4);
    p.cleanup().await;
    smtp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_message_exists_only_if_the_change_that_causes_it_commits() {
    let p = platform_with(Vec::new()).await;
    let mut tx = p.pool.begin().await.expect("tx");
    let id = server::mail::enqueue(&mut tx, &p.config.mail, message(&p, "ann@example.com"))
        .await
        .expect("enqueue");
    tx.rollback().await.expect("rollback");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE id = $1")
        .bind(id)
        .fetch_one(&p.pool)
        .await
        .expect("count");
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind = 'mail.send'")
        .fetch_one(&p.pool)
        .await
        .expect("count");
    assert_eq!((rows, jobs), (0, 0));
    p.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn smtp_down_while_a_hundred_messages_wait_then_back_delivers_each_exactly_once() {
    // The platform's SMTP port has no server yet.
    let port = maildev::free_port();
    let env = vec![
        ("SMTP_HOST".to_owned(), "127.0.0.1".to_owned()),
        ("SMTP_PORT".to_owned(), port.to_string()),
    ];
    let p = platform_with(env).await;
    let mut ids = Vec::new();
    for i in 0..100 {
        ids.push(queue(&p, &format!("owner{i}@example.com")).await);
    }
    // Every message is tried and fails while SMTP is down; none is lost or given up.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (failed, retried, other): (i64, i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE state = 'failed'), count(*) FILTER (WHERE attempts >= 2), \
             count(*) FILTER (WHERE state NOT IN ('queued', 'failed')) FROM outbox",
        )
        .fetch_one(&p.pool)
        .await
        .expect("counts");
        assert_eq!(other, 0, "nothing is sent or dead while SMTP is down");
        if failed == 100 && retried == 100 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "failed {failed}, retried {retried}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let errors: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT last_error FROM outbox WHERE last_error IS NOT NULL")
            .fetch_all(&p.pool)
            .await
            .expect("errors");
    assert!(
        !errors.is_empty() && errors.iter().all(|e| e.starts_with("SMTP")),
        "{errors:?}"
    );

    // SMTP comes back on the same port.
    let smtp = Maildev::start_on(port).await;
    for id in &ids {
        wait_state(&p, *id, "sent").await;
    }
    let expected: HashSet<String> =
        sqlx::query_scalar::<_, String>("SELECT message_id FROM outbox")
            .fetch_all(&p.pool)
            .await
            .expect("ids")
            .into_iter()
            .collect();
    // Give a straggling duplicate the chance to show up before counting.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let received = smtp.emails().await;
    let got: Vec<String> = received
        .iter()
        .map(|m| maildev::header(m, "message-id"))
        .collect();
    let distinct: HashSet<String> = got.iter().cloned().collect();
    assert_eq!(got.len(), 100, "100 delivered, none twice");
    assert_eq!(distinct, expected);
    let cleared: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE state = 'sent' AND last_error IS NULL AND sent_at IS NOT NULL",
    )
    .fetch_one(&p.pool)
    .await
    .expect("count");
    assert_eq!(cleared, 100);
    p.cleanup().await;
    smtp.stop().await;
}

/// An SMTP server that answers `550 5.1.1 User unknown` to recipients starting with
/// "nobody" (tests/support/refusing-smtp.mjs, on nodemailer's smtp-server).
async fn refusing_smtp() -> (tokio::process::Child, u16) {
    use tokio::io::AsyncBufReadExt;
    let port = maildev::free_port();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/refusing-smtp.mjs"
    );
    let mut child = tokio::process::Command::new("node")
        .arg(script)
        .arg(port.to_string())
        // Resolves `smtp-server` from the workspace's node_modules.
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start node");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("refusing SMTP server started in time")
        .expect("read");
    assert_eq!(ready.as_deref(), Some("ready"));
    (child, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_recipient_the_server_refuses_is_dead_at_once_with_the_servers_reason() {
    let (mut server, port) = refusing_smtp().await;
    let env = vec![
        ("SMTP_HOST".to_owned(), "127.0.0.1".to_owned()),
        ("SMTP_PORT".to_owned(), port.to_string()),
    ];
    let p = platform_with(env).await;
    let refused = queue(&p, "nobody@example.com").await;
    let fine = queue(&p, "somebody@example.com").await;
    let (_, attempts, error) = wait_state(&p, refused, "dead").await;
    assert_eq!(attempts, 1, "a refusal for good is not retried");
    let error = error.unwrap_or_default();
    assert!(
        error.contains("refused") && error.contains("550") && error.contains("User unknown"),
        "{error}"
    );
    let (_, attempts, error) = wait_state(&p, fine, "sent").await;
    assert_eq!((attempts, error), (1, None));
    let job_id: Uuid = sqlx::query_scalar("SELECT job_id FROM outbox WHERE id = $1")
        .bind(refused)
        .fetch_one(&p.pool)
        .await
        .expect("job");
    let job = p.finished_job(&job_id.to_string()).await;
    assert_eq!(job["state"], "dead", "{job}");
    assert_eq!(job["attempts"], 1, "{job}");
    p.cleanup().await;
    let _ = server.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_message_is_sent_by_a_retry_from_the_outbox() {
    let port = maildev::free_port();
    let env = vec![
        ("SMTP_HOST".to_owned(), "127.0.0.1".to_owned()),
        ("SMTP_PORT".to_owned(), port.to_string()),
        ("MAIL_MAX_ATTEMPTS".to_owned(), "2".to_owned()),
    ];
    let p = platform_with(env).await;
    let id = queue(&p, "late@example.com").await;
    let (_, attempts, error) = wait_state(&p, id, "dead").await;
    assert_eq!(attempts, 2);
    assert!(error.is_some());
    // A sent message cannot be retried; a dead one can.
    let smtp = Maildev::start_on(port).await;
    let actor = server::audit::Actor::superadmin("ops@example.com");
    server::mail::outbox::retry(&p.services, &actor, id)
        .await
        .expect("retry");
    let (_, attempts, error) = wait_state(&p, id, "sent").await;
    assert_eq!((attempts, error), (3, None));
    let again = server::mail::outbox::retry(&p.services, &actor, id).await;
    assert!(
        matches!(again, Err(server::service::ServiceError::Conflict { .. })),
        "{again:?}"
    );
    smtp.wait_for("late@example.com", "already have").await;
    let audited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'mail.retried'")
            .fetch_one(&p.pool)
            .await
            .expect("audit");
    assert_eq!(audited, 1);
    p.cleanup().await;
    smtp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_message_resent_after_a_crash_is_recognisably_the_same_message() {
    let smtp = Maildev::start().await;
    let mut p = platform_with(smtp.env()).await;
    p.stop_workers().await;
    let id = queue(&p, "twice@example.com").await;
    // A worker hands the message to the server and dies before marking the row sent:
    // the server has it, the row still says queued.
    let message: server::mail::smtp::OutgoingMessage = sqlx::query_as(
        "SELECT to_address, to_name, subject, body_text, body_html, message_id, created_at \
         FROM outbox WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&p.pool)
    .await
    .expect("row");
    p.services
        .mailer
        .send(&message)
        .await
        .expect("first delivery");
    // The next worker delivers it again.
    p.start_workers(1);
    wait_state(&p, id, "sent").await;
    let copies = smtp.emails_to("twice@example.com").await;
    assert_eq!(
        copies.len(),
        2,
        "at-least-once: the recipient gets it twice"
    );
    for header in ["message-id", "date", "subject"] {
        assert_eq!(
            maildev::header(&copies[0], header),
            maildev::header(&copies[1], header),
            "{header} is the same on both copies"
        );
    }
    assert_eq!(
        maildev::header(&copies[0], "message-id"),
        message.message_id
    );
    p.cleanup().await;
    smtp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sensitive_bodies_are_blanked_once_sent() {
    let smtp = Maildev::start().await;
    let p = platform_with(smtp.env()).await;
    let settings = &p.config.mail;
    let email = templates::password_reset(
        &Recipient {
            address: "reset@example.com".into(),
            name: "R".into(),
        },
        &templates::LinkFacts {
            common: Common::new(settings, "R"),
            link: "https://saas.test/reset?token=secret-token-123".into(),
            hours: 1,
        },
    )
    .expect("render");
    let mut tx = p.pool.begin().await.expect("tx");
    let id = server::mail::enqueue(&mut tx, settings, email)
        .await
        .expect("enqueue");
    tx.commit().await.expect("commit");
    wait_state(&p, id, "sent").await;
    let got = smtp.wait_for("reset@example.com", "Reset your").await;
    assert!(got["text"]
        .as_str()
        .unwrap_or_default()
        .contains("secret-token-123"));
    let (text, html): (String, String) =
        sqlx::query_as("SELECT body_text, body_html FROM outbox WHERE id = $1")
            .bind(id)
            .fetch_one(&p.pool)
            .await
            .expect("row");
    assert_eq!((text.as_str(), html.as_str()), ("", ""));
    p.cleanup().await;
    smtp.stop().await;
}
