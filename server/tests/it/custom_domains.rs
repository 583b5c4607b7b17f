//! Custom domains through the API: what is refused and why, one tenant per domain, the DNS
//! check job against a real DNS server (pebble-challtestsrv) with a real resolver, the
//! states `pending → verified → active` or `failed` with the reason, the route table, and,
//! through the real Traefik, Odoo opening the domain's own tenant's database.

use crate::common;

use crate::common::harness::{Options, Platform};
use crate::common::pebble::Pebble;
use crate::common::traefik::{wait_for, Traefik};
use serde_json::{json, Value};
use std::time::Duration;

async fn tenant(p: &Platform, plan: &str, slug: &str) -> String {
    let (status, accepted) = p.post("/tenants", p.tenant_body(slug, plan)).await;
    assert_eq!(status, 202, "{accepted}");
    accepted["tenant"]["id"].as_str().expect("id").to_owned()
}

async fn routers(p: &Platform) -> Value {
    let table = p.services.routes.current().await.expect("route table");
    let doc: Value = serde_json::from_slice(&table.document).expect("json");
    doc["http"]["routers"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_domains_are_refused_with_a_reason_and_a_domain_serves_one_tenant_only() {
    let p = Platform::start(Options {
        workers: false,
        ..Options::default()
    })
    .await;
    let plan = p.plan_key("basic");
    let (status, _) = p
        .post("/plans", json!({"key": plan, "name": "Basic"}))
        .await;
    assert_eq!(status, 201);
    let acme = tenant(&p, &plan, "acme").await;
    let globex = tenant(&p, &plan, "globex").await;

    for (domain, code) in [
        ("https://shop.acme.org/", "domain_invalid"),
        ("shop", "domain_invalid"),
        ("shop_1.acme.org", "domain_invalid"),
        ("10.1.2.3", "domain_invalid"),
        ("saas.test", "domain_ours"),
        ("shop.saas.test", "domain_ours"),
    ] {
        let (status, body) = p
            .post(
                &format!("/tenants/{acme}/domains"),
                json!({"domain": domain}),
            )
            .await;
        assert_eq!(status, 422, "{domain}: {body}");
        assert_eq!(body["error"]["code"], code, "{domain}: {body}");
        assert_eq!(body["error"]["field"], "domain");
    }
    let (status, body) = p
        .post(
            &format!("/tenants/{acme}/domains"),
            json!({"name": "x.org"}),
        )
        .await;
    assert_eq!(status, 422, "unknown field: {body}");

    // Accepted: the owner is told which CNAME to create; nothing is routed yet.
    let r = p
        .api(reqwest::Method::POST, &format!("/tenants/{acme}/domains"))
        .json(&json!({"domain": " Shop.Acme-Corp.ORG. "}))
        .send()
        .await
        .expect("add");
    assert_eq!(r.status(), 201);
    assert_eq!(
        r.headers()["location"],
        format!("/api/v1/tenants/{acme}/domains/shop.acme-corp.org").as_str()
    );
    let d: Value = r.json().await.expect("json");
    assert_eq!(d["domain"], "shop.acme-corp.org");
    assert_eq!(d["state"], "pending");
    assert_eq!(
        d["cname"],
        json!({"type": "CNAME", "name": "shop.acme-corp.org", "value": "acme.saas.test"})
    );
    assert!(routers(&p)
        .await
        .as_object()
        .expect("routers")
        .keys()
        .all(|k| !k.starts_with("domain_")));

    // One tenant only: the same name on another tenant (or twice) is a conflict.
    for owner in [&globex, &acme] {
        let (status, body) = p
            .post(
                &format!("/tenants/{owner}/domains"),
                json!({"domain": "shop.acme-corp.org"}),
            )
            .await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["error"]["code"], "domain_taken");
    }

    // Listed, then removed (and free for another tenant).
    let (status, list) = p.get("/tenants/acme/domains").await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    let r = p
        .api(
            reqwest::Method::DELETE,
            &format!("/tenants/{acme}/domains/shop.acme-corp.org"),
        )
        .send()
        .await
        .expect("remove");
    assert_eq!(r.status(), 204);
    let (status, _) = p
        .get(&format!("/tenants/{acme}/domains/shop.acme-corp.org"))
        .await;
    assert_eq!(status, 404);
    let (status, body) = p
        .post(
            &format!("/tenants/{globex}/domains"),
            json!({"domain": "shop.acme-corp.org"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let actions = p.audit_actions(&acme).await;
    assert!(actions.contains(&"domain.added".to_owned()), "{actions:?}");
    assert!(
        actions.contains(&"domain.removed".to_owned()),
        "{actions:?}"
    );

    // At most ten per tenant.
    for i in 0..10 {
        let (status, body) = p
            .post(
                &format!("/tenants/{acme}/domains"),
                json!({"domain": format!("s{i}.acme.org")}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = p
        .post(
            &format!("/tenants/{acme}/domains"),
            json!({"domain": "s10.acme.org"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "too_many_domains");
    p.cleanup().await;
}

async fn wait_domain(p: &Platform, tenant: &str, domain: &str, state: &str) -> Value {
    wait_for(
        Duration::from_secs(30),
        &format!("{domain} {state}"),
        || async {
            let (_, d) = p.get(&format!("/tenants/{tenant}/domains/{domain}")).await;
            (d["state"] == state).then_some(d)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dns_check_verifies_a_cname_or_an_ingress_address_and_fails_visibly_without() {
    // The DNS stub answers 127.0.0.1 for every name unless told otherwise; the ingress
    // address here is another one, so only a CNAME or an explicit A record verifies.
    let pebble = Pebble::start(common::traefik::free_port()).await;
    let p = Platform::start(Options {
        env: vec![
            ("CUSTOM_DOMAIN_NAMESERVERS".into(), pebble.dns.to_string()),
            ("CUSTOM_DOMAIN_CHECK_SECONDS".into(), "1".into()),
            ("CUSTOM_DOMAIN_VERIFY_TIMEOUT_SECONDS".into(), "4".into()),
            ("INGRESS_IPS".into(), "192.0.2.10".into()),
        ],
        ..Options::default()
    })
    .await;
    let plan = p.plan_with_template("shop", &[], 1).await;
    let plan = plan["key"].as_str().expect("key").to_owned();
    let acme = tenant(&p, &plan, "acme").await;
    p.wait_tenant(&acme, "active", Duration::from_secs(60))
        .await;

    // A CNAME to the tenant's host: verified, routed (→ active once Traefik fetches it).
    pebble
        .dns(
            "/set-cname",
            json!({"host": "shop.customer.test.", "target": "acme.saas.test."}),
        )
        .await;
    let (status, d) = p
        .post(
            &format!("/tenants/{acme}/domains"),
            json!({"domain": "shop.customer.test"}),
        )
        .await;
    assert_eq!(status, 201, "{d}");
    let d = wait_domain(&p, &acme, "shop.customer.test", "verified").await;
    assert_eq!(
        d["last_result"], "CNAME shop.customer.test → acme.saas.test",
        "{d}"
    );
    let routes = routers(&p).await;
    assert_eq!(
        routes["domain_shop_customer_test"]["rule"],
        "Host(`shop.customer.test`)"
    );
    assert_eq!(routes["domain_shop_customer_test"]["service"], "odoo");
    assert_eq!(
        routes["domain_shop_customer_test_pos"]["service"],
        "platform"
    );
    // Traefik's next poll publishes it: `active`.
    let r = reqwest::Client::new()
        .get(format!(
            "http://{}{}",
            p.internal,
            server::routing::CONFIG_PATH
        ))
        .header(
            "X-Traefik-Config-Secret",
            secrecy::ExposeSecret::expose_secret(
                p.config
                    .routing
                    .traefik_config_secret
                    .as_ref()
                    .expect("secret"),
            ),
        )
        .send()
        .await
        .expect("poll");
    assert_eq!(r.status(), 200);
    let d = wait_domain(&p, &acme, "shop.customer.test", "active").await;
    assert!(d["activated_at"].is_string(), "{d}");
    // The server's pages know the domain's tenant (the POS on the custom domain).
    let table = p.services.routes.current().await.expect("table");
    assert_eq!(table.hosts["shop.customer.test"].slug, "acme");

    // An apex domain with an A record to the ingress: verified too.
    pebble
        .dns(
            "/add-a",
            json!({"host": "customer-apex.test.", "addresses": ["192.0.2.10"]}),
        )
        .await;
    let (status, d) = p
        .post(
            &format!("/tenants/{acme}/domains"),
            json!({"domain": "customer-apex.test"}),
        )
        .await;
    assert_eq!(status, 201, "{d}");
    assert_eq!(
        d["alternatives"],
        json!([{"type": "A", "name": "customer-apex.test", "value": "192.0.2.10"}])
    );
    let d = wait_domain(&p, &acme, "customer-apex.test", "verified").await;
    assert!(
        d["last_result"]
            .as_str()
            .is_some_and(|r| r.contains("192.0.2.10")),
        "{d}"
    );

    // A CNAME that never comes: pending with what was found, then failed, never routed.
    let (status, _) = p
        .post(
            &format!("/tenants/{acme}/domains"),
            json!({"domain": "never.customer.test"}),
        )
        .await;
    assert_eq!(status, 201);
    let pending = wait_for(Duration::from_secs(10), "a first check", || async {
        let (_, d) = p
            .get(&format!("/tenants/{acme}/domains/never.customer.test"))
            .await;
        (d["checks"].as_i64() >= Some(1)).then_some(d)
    })
    .await;
    assert_eq!(pending["state"], "pending", "{pending}");
    assert!(
        pending["last_result"]
            .as_str()
            .is_some_and(|r| r.contains("no CNAME") && r.contains("127.0.0.1")),
        "{pending}"
    );
    let failed = wait_domain(&p, &acme, "never.customer.test", "failed").await;
    let reason = failed["last_result"].as_str().expect("reason");
    assert!(
        reason.starts_with("No CNAME from never.customer.test to acme.saas.test was seen"),
        "{reason}"
    );
    assert!(routers(&p)
        .await
        .as_object()
        .expect("routers")
        .keys()
        .all(|k| !k.contains("never")));
    assert!(p
        .audit_actions(&acme)
        .await
        .contains(&"domain.failed".to_owned()));

    // Once the owner fixes DNS, "check again" starts a new round and verifies it.
    pebble
        .dns(
            "/set-cname",
            json!({"host": "never.customer.test.", "target": "acme.saas.test."}),
        )
        .await;
    let (status, d) = p
        .post(
            &format!("/tenants/{acme}/domains/never.customer.test/verify"),
            json!({}),
        )
        .await;
    assert_eq!(status, 202, "{d}");
    wait_domain(&p, &acme, "never.customer.test", "verified").await;
    let (status, body) = p
        .post(
            &format!("/tenants/{acme}/domains/never.customer.test/verify"),
            json!({}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "domain_verified");

    // Removing a domain removes its route.
    let r = p
        .api(
            reqwest::Method::DELETE,
            &format!("/tenants/{acme}/domains/shop.customer.test"),
        )
        .send()
        .await
        .expect("remove");
    assert_eq!(r.status(), 204);
    wait_for(Duration::from_secs(5), "the route gone", || async {
        let routes = routers(&p).await;
        routes
            .get("domain_shop_customer_test")
            .is_none()
            .then_some(())
    })
    .await;

    // A deleted tenant's domains are released.
    let r = p
        .api(reqwest::Method::DELETE, &format!("/tenants/{acme}"))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 202);
    p.wait_tenant(&acme, "deleted", Duration::from_secs(30))
        .await;
    let (_, list) = p.get(&format!("/tenants/{acme}/domains")).await;
    assert_eq!(list, json!([]));

    p.cleanup().await;
    pebble.stop().await;
}

/// The `csrf_token` of an Odoo login form.
fn csrf_token(form: &str) -> Option<String> {
    let rest = form.split("name=\"csrf_token\" value=\"").nth(1)?;
    rest.split('"').next().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_custom_domain_opens_its_own_tenants_database_whatever_its_first_label_says() {
    // Odoo's dbfilter takes the database from the host's first label: `shop.customer.test`
    // alone would open tenant `shop`'s database. It belongs to tenant `other`.
    let dns = Pebble::start_dns_stub().await;
    let p = Platform::start(Options {
        env: vec![
            ("CUSTOM_DOMAIN_NAMESERVERS".into(), dns.dns.to_string()),
            ("CUSTOM_DOMAIN_CHECK_SECONDS".into(), "1".into()),
        ],
        ..Options::default()
    })
    .await;
    let plan = p.plan_with_template("shop", &[], 1).await;
    let plan = plan["key"].as_str().expect("key").to_owned();
    let shop = tenant(&p, &plan, "shop").await;
    let other = tenant(&p, &plan, "other").await;
    let shop_db = p
        .wait_tenant(&shop, "active", Duration::from_secs(60))
        .await["db_name"]
        .as_str()
        .expect("db")
        .to_owned();
    let other_db = p
        .wait_tenant(&other, "active", Duration::from_secs(60))
        .await["db_name"]
        .as_str()
        .expect("db")
        .to_owned();
    dns.dns(
        "/set-cname",
        json!({"host": "shop.customer.test.", "target": "other.saas.test."}),
    )
    .await;
    let (status, d) = p
        .post(
            &format!("/tenants/{other}/domains"),
            json!({"domain": "shop.customer.test"}),
        )
        .await;
    assert_eq!(status, 201, "{d}");
    wait_domain(&p, &other, "shop.customer.test", "verified").await;

    let secret = secrecy::ExposeSecret::expose_secret(
        p.config
            .routing
            .traefik_config_secret
            .as_ref()
            .expect("secret"),
    )
    .to_owned();
    let traefik = Traefik::local(p.internal, &secret).await;
    // A browser: cookies kept, redirects followed, every host sent to Traefik.
    let mut browser = reqwest::Client::builder()
        .cookie_store(true)
        .timeout(Duration::from_secs(10));
    for host in ["shop.customer.test", "shop.saas.test"] {
        browser = browser.resolve(host, traefik.web);
    }
    let browser = browser.build().expect("client");
    let login_url = traefik.url("shop.customer.test", "/web/login");
    let form = wait_for(
        Duration::from_secs(15),
        "Odoo on the custom domain",
        || async {
            let r = browser.get(&login_url).send().await.ok()?;
            let ok = r.status() == 200;
            let body = r.text().await.ok()?;
            (ok && body.contains("oe_login_form")).then_some(body)
        },
    )
    .await;

    // The owner of `other` signs in on the custom domain and lands in other's database.
    let token = csrf_token(&form).expect("csrf token in the login form");
    let r = browser
        .post(&login_url)
        .form(&[
            ("login", "owner@other.example.com"),
            ("password", "correct horse battery"),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await
        .expect("sign in");
    assert_eq!(r.status(), 200);
    assert_eq!(r.url().host_str(), Some("shop.customer.test"));
    assert_eq!(r.url().path(), "/odoo");
    let page = r.text().await.expect("page");
    assert!(
        page.contains(&format!("signed in to database <b>{other_db}</b>")),
        "{page}"
    );
    // Odoo's database list for that host: other's database only, never shop's.
    let list: Value = browser
        .post(traefik.url("shop.customer.test", "/web/database/list"))
        .json(&json!({"jsonrpc": "2.0", "method": "call", "id": 1, "params": {}}))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(list["result"], json!([other_db]), "{list}");
    // Tenant `shop` keeps its own database on its own host.
    let list: Value = browser
        .post(traefik.url("shop.saas.test", "/web/database/list"))
        .json(&json!({"jsonrpc": "2.0", "method": "call", "id": 1, "params": {}}))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(list["result"], json!([shop_db]), "{list}");

    traefik.stop().await;
    p.cleanup().await;
    dns.stop().await;
}
