//! TLS through the real Traefik with Pebble (Let's Encrypt's test CA) and its DNS stub:
//! one wildcard certificate for `<domain>` and `*.<domain>` through DNS-01 (lego's `exec`
//! provider calling the stub's API), `web` redirecting to `websecure`, HSTS, Traefik's
//! Prometheus metrics; `curl` trusting only Pebble's roots gets 200.

use crate::common::harness::{Options, Platform};
use crate::common::pebble::Pebble;
use crate::common::traefik::{free_addr, run_dir, wait_for, Traefik};
use server::routing::traefik::{AcmeChallenge, AcmeResolver, LocalTraefik};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// `curl --cacert <chain> --resolve <host>:<port>:127.0.0.1 https://<host>:<port><path>`:
/// (HTTP status, headers and body), or `None` when TLS fails.
fn curl(chain: &Path, host: &str, addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let out = std::process::Command::new("curl")
        .args(["-sS", "-i", "--max-time", "10", "--cacert"])
        .arg(chain)
        .arg("--resolve")
        .arg(format!("{host}:{}:127.0.0.1", addr.port()))
        .arg(format!("https://{host}:{}{path}", addr.port()))
        .output()
        .expect("run curl");
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let status = text
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())?;
    Some((status, text))
}

/// The subject alternative names of the certificate served for `host`.
fn served_names(host: &str, addr: SocketAddr) -> String {
    let shell = format!(
        "openssl s_client -connect 127.0.0.1:{} -servername {host} </dev/null 2>/dev/null \
         | openssl x509 -noout -issuer -ext subjectAltName",
        addr.port()
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &shell])
        .output()
        .expect("openssl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A platform with an active tenant `acme`, Pebble and its DNS stub, and Traefik with the
/// production entry points (web → websecure) and both certificate resolvers.
struct Stack {
    p: Platform,
    pebble: Pebble,
    traefik: Traefik,
    websecure: SocketAddr,
    acme: String,
}

async fn stack(env: Vec<(String, String)>) -> Stack {
    let mut pebble = Pebble::start_dns_stub().await;
    let mut vars = vec![
        ("TRAEFIK_ENTRYPOINT".into(), "websecure".into()),
        ("TRAEFIK_WILDCARD_RESOLVER".into(), "wildcard".into()),
        (
            "TRAEFIK_CUSTOM_DOMAIN_RESOLVER".into(),
            "custom-domains".into(),
        ),
        ("CUSTOM_DOMAIN_NAMESERVERS".into(), pebble.dns.to_string()),
        ("CUSTOM_DOMAIN_CHECK_SECONDS".into(), "1".into()),
    ];
    vars.extend(env);
    let p = Platform::start(Options {
        env: vars,
        ..Options::default()
    })
    .await;
    let plan = p.plan_with_template("shop", &[], 1).await;
    let plan = plan["key"].as_str().expect("key").to_owned();
    let (status, accepted) = p.post("/tenants", p.tenant_body("acme", &plan)).await;
    assert_eq!(status, 202, "{accepted}");
    let acme = accepted["tenant"]["id"].as_str().expect("id").to_owned();
    p.wait_tenant(&acme, "active", Duration::from_secs(60))
        .await;

    // Traefik's `web` port is picked just before Pebble and Traefik start (Pebble must
    // know it; Traefik binds it).
    let web = free_addr();
    pebble.start_acme(web.port()).await;
    let dir = run_dir("traefik-tls");
    let config = LocalTraefik {
        web,
        websecure: Some(free_addr()),
        admin: free_addr(),
        provider_url: LocalTraefik::provider_url_for(p.internal),
        secret: secrecy::ExposeSecret::expose_secret(
            p.config
                .routing
                .traefik_config_secret
                .as_ref()
                .expect("secret"),
        )
        .to_owned(),
        poll_interval_ms: server::routing::traefik::POLL_INTERVAL_MS,
        access_log: Some(dir.join("access.log")),
        acme: vec![
            AcmeResolver {
                name: "wildcard".into(),
                ca_server: pebble.directory.clone(),
                email: "ops@saas.test".into(),
                storage: dir.join("acme-wildcard.json"),
                challenge: AcmeChallenge::Dns {
                    provider: "exec".into(),
                    resolvers: vec![pebble.dns.to_string()],
                    skip_propagation_check: true,
                },
            },
            AcmeResolver {
                name: "custom-domains".into(),
                ca_server: pebble.directory.clone(),
                email: "ops@saas.test".into(),
                storage: dir.join("acme-custom.json"),
                challenge: AcmeChallenge::Http {
                    entrypoint: "web".into(),
                },
            },
        ],
    };
    let websecure = config.websecure.expect("websecure");
    let traefik = Traefik::start(
        config,
        dir,
        &[
            (
                "LEGO_CA_CERTIFICATES",
                pebble.https_ca.display().to_string(),
            ),
            (
                "EXEC_PATH",
                pebble.exec_provider_script().display().to_string(),
            ),
            // lego's exec provider waits 60 s between two challenges by default.
            ("EXEC_SEQUENCE_INTERVAL", "1".to_owned()),
        ],
    )
    .await;
    Stack {
        p,
        pebble,
        traefik,
        websecure,
        acme,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wildcard_certificate_through_dns01_serves_every_host_of_the_domain_over_https() {
    let Stack {
        p,
        pebble,
        traefik,
        websecure,
        ..
    } = stack(Vec::new()).await;
    let chain = pebble.issuing_chain().await;

    // The portal over HTTPS, trusted through Pebble's roots only (curl's --cacert replaces
    // the system's): the certificate was issued through DNS-01.
    let (status, admin) = wait_for(Duration::from_secs(90), "a trusted certificate", || async {
        curl(&chain, "admin.saas.test", websecure, "/healthz").filter(|(s, _)| *s == 200)
    })
    .await
    .clone();
    assert_eq!(status, 200);
    let lower = admin.to_ascii_lowercase();
    assert!(
        lower.contains("strict-transport-security: max-age=31536000; includesubdomains"),
        "{admin}"
    );
    assert!(lower.contains("x-content-type-options: nosniff"), "{admin}");
    // One wildcard certificate covers the apex and every tenant: no certificate per sign-up.
    let names = served_names("acme.saas.test", websecure);
    assert!(names.contains("DNS:*.saas.test"), "{names}");
    assert!(names.contains("DNS:saas.test"), "{names}");
    assert!(names.contains("Pebble Intermediate"), "{names}");
    assert_eq!(names, served_names("admin.saas.test", websecure));
    // Both names were proven over DNS-01 through the exec provider.
    let presented = pebble.dns01_presented();
    assert_eq!(
        presented
            .matches("present _acme-challenge.saas.test.")
            .count(),
        2,
        "{presented}"
    );
    let (status, odoo) = curl(&chain, "acme.saas.test", websecure, "/web/health").expect("tls");
    assert_eq!(status, 200, "{odoo}");
    assert!(odoo.contains("\"pass\""), "odoo-sim answered: {odoo}");

    // Plain HTTP is redirected to HTTPS, permanently (301 for GET; Traefik uses 308 for
    // other methods).
    let http = traefik.client(&["admin.saas.test"]);
    let r = http
        .get(traefik.url("admin.saas.test", "/admin"))
        .send()
        .await
        .expect("http");
    assert_eq!(r.status(), 301);
    assert_eq!(
        r.headers()["location"],
        format!("https://admin.saas.test:{}/admin", websecure.port()).as_str()
    );

    // Traefik's Prometheus metrics count requests per router.
    let metrics = reqwest::get(format!("http://{}/metrics", traefik.admin))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("traefik_router_requests_total")
                && l.contains("router=\"platform_admin@http\"")),
        "{metrics}"
    );

    traefik.stop().await;
    pebble.stop().await;
    p.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_verified_custom_domain_gets_its_own_certificate_through_http01() {
    let pos_dir = run_dir("pos");
    std::fs::write(pos_dir.join("index.html"), "<p id=\"pos-marker\">POS</p>").expect("pos");
    let Stack {
        p,
        pebble,
        traefik,
        websecure,
        acme,
    } = stack(vec![("POS_DIST_DIR".into(), pos_dir.display().to_string())]).await;
    let chain = pebble.issuing_chain().await;
    // The owner's CNAME, served by the DNS stub (which Pebble and our check both ask).
    pebble
        .dns(
            "/set-cname",
            serde_json::json!({"host": "shop.customer.test.", "target": "acme.saas.test."}),
        )
        .await;
    let (status, d) = p
        .post(
            &format!("/tenants/{acme}/domains"),
            serde_json::json!({"domain": "shop.customer.test"}),
        )
        .await;
    assert_eq!(status, 201, "{d}");
    // Verified by the job, published, fetched by Traefik: active.
    wait_for(Duration::from_secs(30), "the domain active", || async {
        let (_, d) = p
            .get(&format!("/tenants/{acme}/domains/shop.customer.test"))
            .await;
        (d["state"] == "active").then_some(())
    })
    .await;
    // Traefik asks Pebble for a certificate of this host, proven over HTTP-01 on `web`.
    let (status, body) = wait_for(Duration::from_secs(90), "a trusted certificate", || async {
        curl(&chain, "shop.customer.test", websecure, "/web/health").filter(|(s, _)| *s == 200)
    })
    .await;
    assert_eq!(status, 200);
    assert!(body.contains("\"pass\""), "odoo-sim answered: {body}");
    let names = served_names("shop.customer.test", websecure);
    assert!(names.contains("DNS:shop.customer.test"), "{names}");
    assert!(
        !names.contains("*.saas.test"),
        "its own certificate: {names}"
    );
    assert!(names.contains("Pebble Intermediate"), "{names}");
    assert!(
        pebble.log().contains("http://shop.customer.test:"),
        "validated over HTTP-01: {}",
        pebble.log()
    );
    // The POS on the custom domain is the platform's (same origin as the tenant's Odoo).
    let (status, pos) = curl(&chain, "shop.customer.test", websecure, "/pos/").expect("tls");
    assert_eq!(status, 200, "{pos}");
    assert!(pos.contains("pos-marker"), "{pos}");

    traefik.stop().await;
    pebble.stop().await;
    p.cleanup().await;
    let _ = std::fs::remove_dir_all(pos_dir);
}
