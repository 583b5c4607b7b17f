//! Every Stripe object billing reads decodes in both shapes it meets: the current API's
//! (`testdata/stripe/objects.json`, from Stripe's OpenAPI fixtures) and localstripe's
//! 2017-era answers for the same objects. Events built from the fixtures, signed with
//! Stripe's official library, pass the platform's webhook.

use crate::common::harness::{Options, Platform};
use crate::common::stripe::LocalStripe;
use serde_json::{json, Value};
use server::billing::objects::{
    CheckoutSession, Customer, Event, Invoice, List, PaymentMethod, Price, Product, SetupIntent,
    Status, Subscription, SubscriptionItem,
};

fn fixtures() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/stripe/objects.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("objects.json")).expect("JSON")
}

fn decode<T: serde::de::DeserializeOwned>(what: &str, v: &Value) -> T {
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{what} does not decode: {e}\n{v}"))
}

#[test]
fn every_current_api_object_the_platform_reads_decodes() {
    let f = fixtures();
    let customer: Customer = decode("customer", &f["customer"]);
    assert_eq!(customer.id, "cus_QXg1o8vcGmoR32");
    assert!(customer.invoice_settings.is_some());

    let product: Product = decode("product", &f["product"]);
    assert_eq!(product.name.as_deref(), Some("T-shirt"));

    let price: Price = decode("price", &f["price"]);
    assert_eq!(price.unit_amount, Some(2000));
    assert_eq!(price.period(), Some(("month", 1)));
    assert_eq!(price.product.as_deref(), Some("prod_QXg1hqf4jFNsqG"));

    // A plan is the same object as its price (same id) in the old shape.
    let plan: Price = decode("plan", &f["plan"]);
    assert_eq!(plan.id, price.id);
    assert_eq!(plan.unit_amount, Some(2000));
    assert_eq!(plan.period(), Some(("month", 1)));

    // Today the period is on the item, not on the subscription.
    let sub: Subscription = decode("subscription", &f["subscription"]);
    assert_eq!(sub.status, Status::Active);
    assert!(f["subscription"].get("current_period_end").is_none());
    assert_eq!(sub.current_period_end(), Some(976287773));
    assert_eq!(
        sub.price().map(|p| p.id.as_str()),
        Some("price_1PgafmB7WZ01zgkW6dKueIc5")
    );
    assert!(sub.cancel_at_period_end);
    assert_eq!(sub.customer.as_deref(), Some("cus_QXg1o8vcGmoR32"));

    let item: SubscriptionItem = decode("subscription_item", &f["subscription_item"]);
    assert_eq!(item.current_period_end, Some(976287773));
    assert_eq!(item.price().and_then(|p| p.unit_amount), Some(2000));

    // Today an invoice names its subscription under `parent`.
    let invoice: Invoice = decode("invoice", &f["invoice"]);
    assert_eq!(invoice.subscription_id(), Some("subscription"));
    assert_eq!(invoice.amount_due, 1000);
    assert_eq!(invoice.status.as_deref(), Some("draft"));
    assert!(invoice.lines.data[0].is_proration());

    let session: CheckoutSession = decode("checkout.session", &f["checkout.session"]);
    assert_eq!(session.status.as_deref(), Some("open"));
    assert!(session
        .url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://checkout.stripe.com/")));

    let intent: SetupIntent = decode("setup_intent", &f["setup_intent"]);
    assert_eq!(intent.status.as_deref(), Some("requires_payment_method"));

    let pm: PaymentMethod = decode("payment_method", &f["payment_method"]);
    assert_eq!(pm.card.and_then(|c| c.last4).as_deref(), Some("4242"));

    let event: Event = decode("event", &f["event"]);
    assert_eq!(event.type_, "plan.created");
    assert_eq!(event.object_id(), Some("price_1PgafmB7WZ01zgkW6dKueIc5"));
}

#[tokio::test]
async fn localstripes_answers_for_the_same_objects_decode() {
    let ls = LocalStripe::start().await;
    let (_, customer) = ls
        .post("/v1/customers", &[("email", "owner@example.com")])
        .await;
    let cus = customer["id"].as_str().expect("customer id").to_owned();
    let (_, product) = ls
        .post(
            "/v1/products",
            &[("id", "prod_saas_decode"), ("name", "Starter")],
        )
        .await;
    let (status, price) = ls
        .post(
            "/v1/prices",
            &[
                ("product", "prod_saas_decode"),
                ("unit_amount", "2900"),
                ("currency", "eur"),
                ("recurring[interval]", "month"),
                ("lookup_key", "decode_month"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{price}");
    let price_id = price["id"].as_str().expect("price id").to_owned();
    let (status, session) = ls
        .post(
            "/v1/checkout/sessions",
            &[
                ("mode", "subscription"),
                ("customer", &cus),
                ("line_items[0][price]", &price_id),
                ("line_items[0][quantity]", "1"),
                ("success_url", "http://127.0.0.1:9/ok"),
                ("subscription_data[metadata][tenant_id]", "t1"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{session}");
    let session_id = session["id"].as_str().expect("session id").to_owned();
    let (status, done) = ls.complete_session(&session_id, "pm_card_visa").await;
    assert_eq!(status, 200, "{done}");

    let c: Customer = decode("customer", &ls.get(&format!("/v1/customers/{cus}")).await);
    let pm_id = c
        .invoice_settings
        .and_then(|s| s.default_payment_method)
        .expect("default payment method");
    let _: Product = decode("product", &product);
    let p: Price = decode("price", &ls.get(&format!("/v1/prices/{price_id}")).await);
    assert_eq!(p.unit_amount, Some(2900));
    let plan: Price = decode("plan", &ls.get(&format!("/v1/plans/{price_id}")).await);
    assert_eq!(plan.period(), Some(("month", 1)));

    let s: CheckoutSession = decode(
        "checkout.session",
        &ls.get(&format!("/v1/checkout/sessions/{session_id}")).await,
    );
    assert_eq!(s.status.as_deref(), Some("complete"));
    let sub_id = s.subscription.expect("subscription");

    // localstripe: the period on the subscription, the plan (no price) on the item.
    let raw = ls.get(&format!("/v1/subscriptions/{sub_id}")).await;
    assert!(raw["items"]["data"][0].get("price").is_none(), "{raw}");
    let sub: Subscription = decode("subscription", &raw);
    assert_eq!(sub.status, Status::Active);
    assert!(sub.current_period_end().is_some());
    assert_eq!(sub.price().map(|p| p.id.clone()), Some(price_id.clone()));
    assert_eq!(
        sub.metadata.get("tenant_id").map(String::as_str),
        Some("t1")
    );

    // localstripe: the subscription at the top of the invoice.
    let invoice_id = sub.latest_invoice.expect("invoice");
    let raw = ls.get(&format!("/v1/invoices/{invoice_id}")).await;
    let inv: Invoice = decode("invoice", &raw);
    assert_eq!(inv.subscription_id(), Some(sub_id.as_str()));
    assert_eq!(inv.status.as_deref(), Some("paid"));
    assert_eq!(inv.amount_paid, 2900);
    assert!(inv.hosted_invoice_url.is_some() && inv.invoice_pdf.is_some());
    let list: List<Invoice> = decode(
        "invoice list",
        &ls.get(&format!("/v1/invoices?subscription={sub_id}")).await,
    );
    assert_eq!(list.data.len(), 1);

    let pm: PaymentMethod = decode(
        "payment_method",
        &ls.get(&format!("/v1/payment_methods/{pm_id}")).await,
    );
    assert_eq!(pm.card.and_then(|c| c.last4).as_deref(), Some("4242"));

    // A setup session saves a card through a setup intent.
    let (_, setup) = ls
        .post(
            "/v1/checkout/sessions",
            &[
                ("mode", "setup"),
                ("customer", &cus),
                ("currency", "eur"),
                ("success_url", "http://127.0.0.1:9/ok"),
            ],
        )
        .await;
    let setup_id = setup["id"].as_str().expect("setup session").to_owned();
    let (status, _) = ls.complete_session(&setup_id, "pm_card_visa").await;
    assert_eq!(status, 200);
    let s: CheckoutSession = decode(
        "checkout.session",
        &ls.get(&format!("/v1/checkout/sessions/{setup_id}")).await,
    );
    let intent: SetupIntent = decode(
        "setup_intent",
        &ls.get(&format!(
            "/v1/setup_intents/{}",
            s.setup_intent.expect("intent")
        ))
        .await,
    );
    assert_eq!(intent.status.as_deref(), Some("succeeded"));
    assert!(intent.payment_method.is_some());

    // Every event localstripe made decodes (2017 shape: no pending_webhooks).
    let events = ls.events().await;
    assert!(events.len() >= 8, "{} events", events.len());
    for raw in &events {
        let e: Event = decode("event", raw);
        assert!(e.object_id().is_some(), "{raw}");
    }
    ls.stop().await;
}

/// An event of the current API around a fixture object.
fn event_of(id: &str, type_: &str, object: &Value) -> String {
    serde_json::to_string(&json!({
        "id": id,
        "object": "event",
        "api_version": server::billing::STRIPE_API_VERSION,
        "created": chrono::Utc::now().timestamp(),
        "data": {"object": object},
        "livemode": false,
        "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "type": type_,
    }))
    .expect("JSON")
}

#[tokio::test]
async fn events_built_from_the_fixtures_and_signed_by_stripes_library_are_accepted() {
    let t = Platform::start(Options {
        stripe: true,
        workers: false,
        ..Options::default()
    })
    .await;
    let f = fixtures();
    // The fixtures' customer must be one of ours, or the events are ignored.
    let (status, plan) = t
        .post(
            "/plans",
            json!({"key": t.plan_key("fx"), "name": "Fixture", "modules": []}),
        )
        .await;
    assert_eq!(status, 201, "{plan}");
    let (status, tenant) = t
        .post(
            "/tenants",
            t.tenant_body(&format!("fx-{}", t.id), &t.plan_key("fx")),
        )
        .await;
    assert_eq!(status, 202, "{tenant}");
    sqlx::query("INSERT INTO subscriptions (tenant_id, stripe_customer_id) VALUES ($1::uuid, 'cus_QXg1o8vcGmoR32')")
        .bind(tenant["tenant"]["id"].as_str().expect("tenant id"))
        .execute(&t.pool)
        .await
        .expect("subscription row");
    let cases = [
        (
            "evt_fx_sub",
            "customer.subscription.updated",
            &f["subscription"],
        ),
        ("evt_fx_inv", "invoice.payment_failed", &f["invoice"]),
        (
            "evt_fx_cs",
            "checkout.session.completed",
            &f["checkout.session"],
        ),
    ];
    let payloads: Vec<String> = cases
        .iter()
        .map(|(id, ty, obj)| event_of(id, ty, obj))
        .collect();
    let headers = t.stripe().sign(&payloads, &t.webhook_secret, None).await;
    for ((id, ty, _), (payload, header)) in cases.iter().zip(payloads.iter().zip(&headers)) {
        let r = t
            .http
            .post(format!("{}/webhooks/stripe", t.base))
            .header("Stripe-Signature", header)
            .header("Content-Type", "application/json")
            .body(payload.clone())
            .send()
            .await
            .expect("POST");
        let status = r.status().as_u16();
        let body: Value = r.json().await.expect("JSON");
        assert_eq!(
            (status, body["outcome"].as_str()),
            (200, Some("accepted")),
            "{id} {ty}: {body}"
        );
    }
    let stored: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT id, type, object_id FROM stripe_events ORDER BY id")
            .fetch_all(&t.pool)
            .await
            .expect("events");
    assert_eq!(
        stored,
        vec![
            (
                "evt_fx_cs".into(),
                "checkout.session.completed".into(),
                Some("cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY".into())
            ),
            (
                "evt_fx_inv".into(),
                "invoice.payment_failed".into(),
                Some("in_1Pgc6tB7WZ01zgkWu9fdqL6I".into())
            ),
            (
                "evt_fx_sub".into(),
                "customer.subscription.updated".into(),
                Some("sub_1Pgc6rB7WZ01zgkWNy0Cn5nw".into())
            ),
        ]
    );
    t.cleanup().await;
}
