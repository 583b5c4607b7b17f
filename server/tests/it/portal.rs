//! The superadmin portal over HTTP against real PostgreSQL: sign-in, cookies, idle expiry, CSRF, and the server-rendered tenants table (search, filter, sort, pages).

use reqwest::header::{HeaderMap, HeaderValue, COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use reqwest::StatusCode;

use crate::common::portal::{Portal, EMAIL, PASSWORD};

#[tokio::test]
async fn anonymous_visitors_are_sent_to_sign_in_and_calls_refused() {
    let portal = Portal::start(&[]).await;
    let response = portal.get("/admin/tenants?state=active", None).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()[LOCATION],
        "/admin/login?next=%2Fadmin%2Ftenants%3Fstate%3Dactive"
    );
    let call = portal
        .http
        .post(format!("{}/sfn/admin/dashboard", portal.base))
        .send()
        .await
        .expect("call");
    assert_eq!(call.status(), StatusCode::UNAUTHORIZED);
    assert!(call.text().await.expect("body").contains("Sign in first"));
    // The sign-in page itself is public.
    assert_eq!(
        portal.get("/admin/login", None).await.status(),
        StatusCode::OK
    );
    portal.finish().await;
}

#[tokio::test]
async fn signing_in_sets_a_strict_cookie_and_opens_the_portal() {
    let portal = Portal::start(&[]).await;
    let response = portal.sign_in(EMAIL, PASSWORD).await;
    let set_cookie = response.headers()[SET_COOKIE]
        .to_str()
        .expect("ascii")
        .to_owned();
    for part in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(set_cookie.contains(part), "{part} missing in {set_cookie}");
    }
    let cookie = set_cookie.split(';').next().unwrap_or_default().to_owned();
    let html = portal.page("/admin", &cookie).await;
    assert!(html.contains(EMAIL), "the dashboard names who is signed in");
    assert!(html.contains("Dashboard"));
    // Only the token's hash is stored.
    let token = cookie.trim_start_matches("saas_admin=");
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM admin_sessions WHERE token_sha256 = sha256(convert_to($1, 'UTF8'))",
    )
    .bind(token)
    .fetch_one(&portal.pool)
    .await
    .expect("query");
    assert_eq!(stored, 1);
    let plain: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM admin_sessions WHERE encode(token_sha256, 'hex') = $1",
    )
    .bind(token)
    .fetch_one(&portal.pool)
    .await
    .expect("query");
    assert_eq!(plain, 0);
    // Signed in, the sign-in page sends to the dashboard.
    let again = portal.get("/admin/login", Some(&cookie)).await;
    assert!(again.status().is_redirection());
    portal.finish().await;
}

#[tokio::test]
async fn wrong_passwords_are_refused_and_unknown_accounts_get_the_same_answer() {
    let portal = Portal::start(&[]).await;
    for _ in 0..2 {
        let response = portal.sign_in(EMAIL, "not the password").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers().get(SET_COOKIE).is_none());
        assert!(response
            .text()
            .await
            .expect("body")
            .contains("Wrong email or password."));
    }
    let unknown = portal.sign_in("nobody@example.com", PASSWORD).await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert!(unknown
        .text()
        .await
        .expect("body")
        .contains("Wrong email or password."));
    assert!(portal.sign_in(EMAIL, PASSWORD).await.status().is_success());
    portal.finish().await;
}

#[tokio::test]
async fn an_idle_session_expires_and_sign_out_ends_it() {
    let portal = Portal::start(&[("ADMIN_SESSION_IDLE_MINUTES", "30")]).await;
    let cookie = portal.session().await;
    assert_eq!(
        portal.get("/admin", Some(&cookie)).await.status(),
        StatusCode::OK
    );
    sqlx::query("UPDATE admin_sessions SET last_seen_at = now() - interval '31 minutes'")
        .execute(&portal.pool)
        .await
        .expect("age session");
    let response = portal.get("/admin/jobs", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()[LOCATION].to_str().expect("ascii");
    assert!(location.ends_with("&expired=1"), "{location}");
    assert!(response.headers()[SET_COOKIE]
        .to_str()
        .expect("ascii")
        .contains("Max-Age=0"));

    let cookie = portal.session().await;
    let csrf = portal.csrf(&cookie).await;
    let out = portal
        .http
        .post(format!("{}/sfn/admin/sign_out", portal.base))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .expect("sign out");
    assert!(out.status().is_success() || out.status().is_redirection());
    assert_eq!(
        portal.get("/admin", Some(&cookie)).await.status(),
        StatusCode::SEE_OTHER
    );
    portal.finish().await;
}

#[tokio::test]
async fn changes_without_the_sessions_csrf_token_or_from_another_site_are_refused() {
    let portal = Portal::start(&[]).await;
    let cookie = portal.session().await;
    let csrf = portal.csrf(&cookie).await;
    let plan = |csrf: &str| {
        vec![
            ("csrf", csrf.to_owned()),
            ("key", "basic".to_owned()),
            ("name", "Basic".to_owned()),
            ("price", "29.90".to_owned()),
            ("currency", "EUR".to_owned()),
            ("modules", "point_of_sale, sale".to_owned()),
            ("max_users", String::new()),
            ("max_companies", "2".to_owned()),
            ("storage_mb", String::new()),
        ]
    };
    let forged = portal
        .http
        .post(format!("{}/sfn/admin/save_plan", portal.base))
        .header(COOKIE, &cookie)
        .form(&plan("0123456789abcdef"))
        .send()
        .await
        .expect("forged");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let mut cross = HeaderMap::new();
    cross.insert(ORIGIN, HeaderValue::from_static("https://evil.example.net"));
    let cross_site = portal
        .http
        .post(format!("{}/sfn/admin/save_plan", portal.base))
        .header(COOKIE, &cookie)
        .headers(cross)
        .form(&plan(&csrf))
        .send()
        .await
        .expect("cross-site");
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    let plans: i64 = sqlx::query_scalar("SELECT count(*) FROM plans")
        .fetch_one(&portal.pool)
        .await
        .expect("count");
    assert_eq!(plans, 0, "nothing was created by the refused requests");

    let genuine = portal
        .http
        .post(format!("{}/sfn/admin/save_plan", portal.base))
        .header(COOKIE, &cookie)
        .form(&plan(&csrf))
        .send()
        .await
        .expect("genuine");
    assert!(genuine.status().is_success(), "{}", genuine.status());
    let (price, modules, actor): (i32, Vec<String>, String) = sqlx::query_as(
        "SELECT p.price_cents, p.modules, a.actor FROM plans p JOIN audit_log a ON a.action = 'plan.created' WHERE p.key = 'basic'",
    )
    .fetch_one(&portal.pool)
    .await
    .expect("plan");
    assert_eq!(price, 2990);
    assert_eq!(modules, vec!["point_of_sale", "sale"]);
    assert_eq!(actor, format!("superadmin:{EMAIL}"));

    // A bad field is named in the answer.
    let mut bad = plan(&csrf);
    bad[1].1 = "basic2".into();
    bad[3].1 = "12.345".into();
    let invalid = portal
        .http
        .post(format!("{}/sfn/admin/save_plan", portal.base))
        .header(COOKIE, &cookie)
        .form(&bad)
        .send()
        .await
        .expect("invalid");
    assert_eq!(invalid.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let error: serde_json::Value = invalid.json().await.expect("json");
    assert_eq!(error["field"], "price_cents");
    portal.finish().await;
}

#[tokio::test]
async fn the_tenants_table_searches_filters_sorts_and_pages_on_the_server() {
    let portal = Portal::start(&[]).await;
    let plan: uuid::Uuid =
        sqlx::query_scalar("INSERT INTO plans (key, name) VALUES ('basic', 'Basic') RETURNING id")
            .fetch_one(&portal.pool)
            .await
            .expect("plan");
    sqlx::query(
        "INSERT INTO tenants (slug, db_name, hostname, plan_id, state, owner_email, owner_name, company_name, created_at) \
         SELECT 'shop-' || lpad(n::text, 3, '0'), 't_shop_' || n, 'shop-' || n || '.localhost', $1, \
                CASE WHEN n % 10 = 0 THEN 'suspended' ELSE 'active' END, \
                'owner' || n || '@example.com', 'Owner', CASE WHEN n = 7 THEN 'Bakery Seven' ELSE 'Shop' END, \
                now() - n * interval '1 minute' \
         FROM generate_series(1, 60) AS n",
    )
    .bind(plan)
    .execute(&portal.pool)
    .await
    .expect("tenants");
    let cookie = portal.session().await;

    let html = portal.page("/admin/tenants", &cookie).await;
    assert!(html.contains("Page 1 of 3 · 60 tenants"), "default page");
    assert!(html.contains("data-slug=\"shop-001\""), "newest first");
    assert!(!html.contains("data-slug=\"shop-030\""));

    let html = portal
        .page(
            "/admin/tenants?sort=slug&dir=desc&page=2&per_page=50",
            &cookie,
        )
        .await;
    assert!(html.contains("Page 2 of 2 · 60 tenants"));
    assert!(html.contains("data-slug=\"shop-010\"") && !html.contains("data-slug=\"shop-011\""));

    let html = portal.page("/admin/tenants?state=suspended", &cookie).await;
    assert!(html.contains("Page 1 of 1 · 6 tenants"));

    let html = portal.page("/admin/tenants?q=bakery", &cookie).await;
    assert!(html.contains("1 tenants") && html.contains("data-slug=\"shop-007\""));

    // A search lists its matches in the chosen order (ids first, then those rows).
    for (dir, first, last) in [
        ("desc", "shop-001", "shop-019"),
        ("asc", "shop-019", "shop-001"),
    ] {
        let html = portal
            .page(
                &format!("/admin/tenants?q=OWNER1&sort=created&dir={dir}"),
                &cookie,
            )
            .await;
        assert!(html.contains("Page 1 of 1 · 11 tenants"), "{dir}");
        let slugs: Vec<&str> = html
            .match_indices("data-slug=\"")
            .map(|(i, m)| &html[i + m.len()..i + m.len() + 8])
            .collect();
        assert_eq!(slugs.len(), 11, "{slugs:?}");
        assert_eq!((slugs[0], slugs[10]), (first, last), "{slugs:?}");
        let mut sorted = slugs.clone();
        sorted.sort_unstable_by_key(|s| {
            let n: u32 = s[5..].parse().expect("number");
            if dir == "desc" {
                n
            } else {
                u32::MAX - n
            }
        });
        assert_eq!(slugs, sorted, "{dir}");
    }

    // Wildcards in the search are taken literally.
    let html = portal.page("/admin/tenants?q=%25", &cookie).await;
    assert!(html.contains("No tenant matches."));

    // A tenant's page.
    let html = portal.page("/admin/tenants/shop-007", &cookie).await;
    assert!(html.contains("Bakery Seven") && html.contains("t_shop_7"));
    let missing = portal.get("/admin/tenants/nope-404", Some(&cookie)).await;
    assert!(missing
        .text()
        .await
        .expect("body")
        .contains("There is no such tenant."));
    portal.finish().await;
}

#[tokio::test]
async fn jobs_are_listed_with_their_tenant_and_can_be_cancelled_and_retried() {
    let portal = Portal::start(&[]).await;
    let queue = job_queue::Queue::new(portal.pool.clone());
    // Due in an hour: no worker runs in this test, the job stays queued.
    let job = queue
        .enqueue(
            job_queue::NewJob::new("noop", serde_json::json!({}))
                .run_at(chrono::Utc::now() + chrono::Duration::hours(1)),
        )
        .await
        .expect("enqueue");
    let cookie = portal.session().await;
    let csrf = portal.csrf(&cookie).await;
    let html = portal.page("/admin/jobs", &cookie).await;
    assert!(html.contains(&format!("data-job-id=\"{job}\"")));
    assert!(html.contains("Queued and running"));

    let act = |op: &'static str| {
        let request = portal
            .http
            .post(format!("{}/sfn/admin/job_op", portal.base))
            .header(COOKIE, &cookie)
            .form(&[
                ("csrf", csrf.clone()),
                ("id", job.to_string()),
                ("op", op.to_owned()),
            ]);
        async move { request.send().await.expect("job op").status() }
    };
    assert!(act("cancel").await.is_success());
    let state: String = sqlx::query_scalar("SELECT state FROM jobs WHERE id = $1")
        .bind(job)
        .fetch_one(&portal.pool)
        .await
        .expect("state");
    assert_eq!(state, "cancelled");
    // Cancelling again is refused with a reason.
    assert_eq!(act("cancel").await, StatusCode::CONFLICT);
    assert!(act("retry").await.is_success());
    let state: String = sqlx::query_scalar("SELECT state FROM jobs WHERE id = $1")
        .bind(job)
        .fetch_one(&portal.pool)
        .await
        .expect("state");
    assert_eq!(state, "queued");
    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE job_id = $1 AND actor = $2 ORDER BY id",
    )
    .bind(job)
    .bind(format!("superadmin:{EMAIL}"))
    .fetch_all(&portal.pool)
    .await
    .expect("audit");
    assert_eq!(actions, vec!["job.cancelled", "job.retried"]);
    portal.finish().await;
}

#[tokio::test]
async fn sign_in_works_as_a_plain_html_form_before_the_wasm_loads() {
    let portal = Portal::start(&[]).await;
    let login = format!("{}/admin/login", portal.base);
    let post = |password: &'static str| {
        portal
            .http
            .post(format!("{}/sfn/auth/sign_in", portal.base))
            .header("accept", "text/html")
            .header("referer", &login)
            .form(&[
                ("email", EMAIL),
                ("password", password),
                ("next", "/admin/jobs"),
            ])
            .send()
    };
    let refused = post("wrong password").await.expect("post");
    assert_eq!(refused.status(), StatusCode::FOUND);
    let back = refused.headers()[LOCATION]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(back.starts_with(&login), "{back}");
    let page = portal.http.get(&back).send().await.expect("get");
    assert!(page
        .text()
        .await
        .expect("body")
        .contains("Wrong email or password."));

    let accepted = post(PASSWORD).await.expect("post");
    assert_eq!(accepted.status(), StatusCode::FOUND);
    assert_eq!(accepted.headers()[LOCATION], "/admin/jobs");
    assert!(accepted.headers().get(SET_COOKIE).is_some());
    portal.finish().await;
}

#[tokio::test]
async fn deleting_needs_the_tenants_name_typed_and_bad_operations_are_refused() {
    let portal = Portal::start(&[]).await;
    let plan: uuid::Uuid =
        sqlx::query_scalar("INSERT INTO plans (key, name) VALUES ('basic', 'Basic') RETURNING id")
            .fetch_one(&portal.pool)
            .await
            .expect("plan");
    sqlx::query(
        "INSERT INTO tenants (slug, db_name, hostname, plan_id, state, owner_email, owner_name, company_name) \
         VALUES ('acme', 't_acme', 'acme.localhost', $1, 'active', 'o@acme.example', 'O', 'Acme')",
    )
    .bind(plan)
    .execute(&portal.pool)
    .await
    .expect("tenant");
    let cookie = portal.session().await;
    let csrf = portal.csrf(&cookie).await;
    let change = |op: &'static str, confirm: &'static str| {
        let request = portal
            .http
            .post(format!("{}/sfn/admin/tenant_op", portal.base))
            .header(COOKIE, &cookie)
            .form(&[
                ("csrf", csrf.as_str()),
                ("slug", "acme"),
                ("op", op),
                ("confirm", confirm),
            ]);
        async move {
            let response = request.send().await.expect("tenant op");
            let status = response.status();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            (status, body)
        }
    };
    let (status, body) = change("delete", "acm").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "confirm");
    let (status, body) = change("explode", "").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "op");
    let (state, jobs): (String, i64) = sqlx::query_as(
        "SELECT state, (SELECT count(*) FROM jobs) FROM tenants WHERE slug = 'acme'",
    )
    .fetch_one(&portal.pool)
    .await
    .expect("tenant");
    assert_eq!((state.as_str(), jobs), ("active", 0), "nothing was started");
    let (status, _) = change("delete", "acme").await;
    assert!(status.is_success(), "{status}");
    let state: String = sqlx::query_scalar("SELECT state FROM tenants WHERE slug = 'acme'")
        .fetch_one(&portal.pool)
        .await
        .expect("tenant");
    assert_eq!(state, "deleting");
    portal.finish().await;
}

/// Opens the live jobs stream and reads its first event.
async fn open_jobs_stream(portal: &Portal, cookie: &str) -> reqwest::Response {
    let mut stream = portal
        .http
        .get(format!("{}/admin/events/jobs", portal.base))
        .header(COOKIE, cookie)
        .send()
        .await
        .expect("stream");
    assert_eq!(stream.status(), StatusCode::OK);
    let first = tokio::time::timeout(std::time::Duration::from_secs(10), stream.chunk())
        .await
        .expect("a first event in time")
        .expect("read")
        .expect("a chunk");
    assert!(String::from_utf8_lossy(&first).contains("event: jobs"));
    stream
}

/// Reads the stream until it ends; panics if it is still open after `secs` seconds.
async fn stream_ends_within(mut stream: reqwest::Response, secs: u64) -> String {
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        match tokio::time::timeout_at(deadline, stream.chunk()).await {
            Ok(Ok(Some(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
            Ok(Ok(None)) | Ok(Err(_)) => return text,
            Err(_) => panic!("the stream was still open after {secs} s: {text:?}"),
        }
    }
}

#[tokio::test]
async fn the_live_jobs_stream_closes_soon_after_its_session_ends() {
    let portal = Portal::start(&[]).await;

    // Sign-out.
    let cookie = portal.session().await;
    let stream = open_jobs_stream(&portal, &cookie).await;
    let csrf = portal.csrf(&cookie).await;
    let out = portal
        .http
        .post(format!("{}/sfn/admin/sign_out", portal.base))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .expect("sign out");
    assert!(out.status().is_success() || out.status().is_redirection());
    let rest = stream_ends_within(stream, 5).await;
    assert!(rest.contains("event: session\ndata: ended"), "{rest:?}");

    // Expiry (the absolute limit passed).
    let cookie = portal.session().await;
    let stream = open_jobs_stream(&portal, &cookie).await;
    sqlx::query("UPDATE admin_sessions SET expires_at = now() - interval '1 second'")
        .execute(&portal.pool)
        .await
        .expect("expire");
    stream_ends_within(stream, 5).await;

    // A password reset.
    let cookie = portal.session().await;
    let stream = open_jobs_stream(&portal, &cookie).await;
    server::admin::auth::create_superadmin(&portal.pool, EMAIL, PASSWORD, true)
        .await
        .expect("reset");
    stream_ends_within(stream, 5).await;

    // A disabled account (its session row is still there for a moment: disable it by hand).
    let cookie = portal.session().await;
    let stream = open_jobs_stream(&portal, &cookie).await;
    sqlx::query("UPDATE superadmins SET disabled_at = now()")
        .execute(&portal.pool)
        .await
        .expect("disable");
    stream_ends_within(stream, 5).await;
    portal.finish().await;
}

#[tokio::test]
async fn the_outbox_page_lists_messages_by_state_and_retries_a_dead_one() {
    let portal = Portal::start(&[]).await;
    let config = portal.db.config(&[]);
    let cookie = portal.session().await;
    // Two messages: one waiting, one that died with the server's reason.
    let mut ids = Vec::new();
    for (to, name) in [("ann@example.com", "Ann"), ("bob@example.com", "Bob")] {
        let email = server::mail::templates::account_exists(
            &server::mail::templates::Recipient {
                address: to.into(),
                name: name.into(),
            },
            &server::mail::templates::AccountExistsFacts {
                common: server::mail::templates::Common::new(&config.mail, name),
                signin_url: "https://saas.test/signin".into(),
                reset_url: "https://saas.test/forgot".into(),
            },
        )
        .expect("render");
        let mut tx = portal.pool.begin().await.expect("tx");
        ids.push(
            server::mail::enqueue(&mut tx, &config.mail, email)
                .await
                .expect("enqueue"),
        );
        tx.commit().await.expect("commit");
    }
    let dead = ids[1];
    sqlx::query(
        "UPDATE outbox SET state = 'dead', attempts = 20, last_error = 'the SMTP server refused the message: 550 no such user' WHERE id = $1",
    )
    .bind(dead)
    .execute(&portal.pool)
    .await
    .expect("kill");
    sqlx::query(
        "UPDATE jobs SET state = 'dead' WHERE id = (SELECT job_id FROM outbox WHERE id = $1)",
    )
    .bind(dead)
    .execute(&portal.pool)
    .await
    .expect("kill job");

    let html = portal.page("/admin/outbox", &cookie).await;
    assert!(
        html.contains("ann@example.com") && html.contains("bob@example.com"),
        "{html}"
    );
    assert!(html.contains("550 no such user"), "the last error is shown");
    assert!(html.contains(r#"data-state="queued""#) && html.contains(r#"data-state="dead""#));
    let only_dead = portal.page("/admin/outbox?state=dead", &cookie).await;
    assert!(only_dead.contains("bob@example.com") && !only_dead.contains("ann@example.com"));
    // Retry needs the session's CSRF token.
    let retry = |csrf: String, id: String| {
        portal
            .http
            .post(format!("{}/sfn/admin/outbox_retry", portal.base))
            .header(COOKIE, &cookie)
            .form(&[("csrf", csrf), ("id", id)])
            .send()
    };
    let forged = retry("0".repeat(64), dead.to_string()).await.expect("post");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let csrf = portal.csrf(&cookie).await;
    let ok = retry(csrf.clone(), dead.to_string()).await.expect("post");
    assert_eq!(
        ok.status(),
        StatusCode::OK,
        "{}",
        ok.text().await.unwrap_or_default()
    );
    let (state, job_state): (String, String) = sqlx::query_as(
        "SELECT o.state, j.state FROM outbox o JOIN jobs j ON j.id = o.job_id WHERE o.id = $1",
    )
    .bind(dead)
    .fetch_one(&portal.pool)
    .await
    .expect("row");
    assert_eq!((state.as_str(), job_state.as_str()), ("queued", "queued"));
    // A queued message cannot be retried.
    let again = retry(csrf, ids[0].to_string()).await.expect("post");
    assert_eq!(again.status(), StatusCode::CONFLICT);
    portal.finish().await;
}
