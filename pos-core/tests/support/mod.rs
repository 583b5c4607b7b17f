//! Shared by the sync tests and the sync benchmark: odoo-sim in real PostgreSQL, a
//! transport that can lose answers, orders as the till makes them.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use odoo_rpc::{
    Client, HttpRequest, HttpResponse, KwCaller, MaybeSend, OdooVersion, ReqwestTransport,
    RetryPolicy, Transport, TransportError, TransportErrorKind, WebSession,
};
use pos_core::order::{uuid_v4, NewOrder, Order, OrderLine, OrderState, Payment};
use pos_core::Catalogue;
use serde_json::{json, Map, Value};

const PG: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Faults on the way back: the next `n` calls whose path contains `pattern` reach Odoo,
/// which commits, and then the answer is "lost".
#[derive(Clone, Default)]
pub struct Lossy {
    inner: Option<ReqwestTransport>,
    lose: Arc<Mutex<Vec<(String, usize)>>>,
    calls: Arc<Mutex<Vec<String>>>,
}

impl Lossy {
    pub fn lose_next(&self, pattern: &str, n: usize) {
        self.lose.lock().unwrap().push((pattern.to_owned(), n));
    }
    pub fn calls_to(&self, pattern: &str) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|p| p.contains(pattern))
            .count()
    }
}

impl Transport for Lossy {
    fn post(
        &self,
        req: HttpRequest,
    ) -> impl std::future::Future<Output = Result<HttpResponse, TransportError>> + MaybeSend {
        let this = self.clone();
        async move {
            this.calls.lock().unwrap().push(req.path.clone());
            let path = req.path.clone();
            let resp = this
                .inner
                .as_ref()
                .ok_or_else(|| TransportError::new(TransportErrorKind::Connect, "offline"))?
                .post(req)
                .await?;
            let mut lose = this.lose.lock().unwrap();
            if let Some(entry) = lose
                .iter_mut()
                .find(|(p, n)| *n > 0 && path.contains(p.as_str()))
            {
                entry.1 -= 1;
                return Err(TransportError::new(
                    TransportErrorKind::Other,
                    "connection reset after the request was sent",
                ));
            }
            Ok(resp)
        }
    }
}

pub struct Env {
    server: Option<odoo_sim::RunningServer>,
    pub db: String,
    pub url: String,
}

impl Env {
    pub async fn start() -> Env {
        let db = format!("pos_core_{}", &uuid_v4(rand16())[..8]);
        // The simulator connects as its own role and serves only the databases that role
        // owns, as Odoo does (it refuses `postgres`).
        let url = odoo_sim::role_url(PG, odoo_sim::SIM_ROLE)
            .await
            .expect("the simulator's role");
        odoo_sim::init_template(&url, &db, &odoo_sim::TemplateOptions::default())
            .await
            .expect("template");
        // Odoo picks the database from the Host (`dbfilter ^%d$`), as behind the proxy.
        let cfg = odoo_sim::Config::new(&url);
        let server = odoo_sim::serve(cfg).await.expect("serve");
        let url = server.url();
        Env {
            server: Some(server),
            db,
            url,
        }
    }

    pub fn transport(&self) -> Lossy {
        Lossy {
            inner: Some(ReqwestTransport::new(self.url.clone()).expect("transport")),
            ..Lossy::default()
        }
    }

    pub fn client(&self, t: Lossy) -> Client<Lossy> {
        Client::new(t)
            .with_retry(RetryPolicy::none())
            .with_host(format!("{}.localhost", self.db))
    }

    pub async fn session(&self, t: Lossy) -> WebSession<Lossy> {
        let ws = WebSession::new(self.client(t));
        ws.session_authenticate(&self.db, "admin", "admin")
            .await
            .expect("login");
        ws
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await;
        }
        let _ = std::process::Command::new("psql")
            .args([
                PG,
                "-qc",
                &format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.db),
            ])
            .status();
    }
}

pub fn rand16() -> [u8; 16] {
    let mut b = [0u8; 16];
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    for (i, x) in b.iter_mut().enumerate() {
        *x = (t >> ((i % 16) * 7)) as u8 ^ (i as u8).wrapping_mul(37);
    }
    b
}

static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
pub fn next_uuid() -> String {
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut b = rand16();
    b[..8].copy_from_slice(&n.to_le_bytes());
    uuid_v4(b)
}

pub async fn open_catalogue(ws: &WebSession<Lossy>) -> Catalogue {
    let pos = ws.pos(OdooVersion::V18);
    let sid = pos.open_session(1, 0.0, "").await.expect("open");
    let data = pos.load_data(sid, &[]).await.expect("load");
    Catalogue::from_load_data(&data).expect("catalogue")
}

pub fn paid_order(cat: &Catalogue, seq: i64, product: i64, qty: f64, method: i64) -> Order {
    let mut o = Order::new(NewOrder {
        uuid: next_uuid(),
        session_id: cat.session.id,
        config_id: cat.config.id,
        login_number: 1,
        sequence_number: seq,
        user_id: Some(2),
        now: "2026-12-01 10:00:00".into(),
        currency: cat.currency.clone(),
        tax_company: cat.tax_company(),
        prices_include_tax: cat.config.prices_include_tax,
    });
    let p = cat.product(product).expect("product");
    o.add_product(OrderLine {
        uuid: next_uuid(),
        product_id: p.id,
        product_name: p.name.clone(),
        qty,
        price_unit: p.lst_price,
        discount: 0.0,
        taxes: cat.product_taxes(p),
        note: String::new(),
    });
    let due = o.amount_due();
    o.payments.push(Payment {
        uuid: next_uuid(),
        method_id: method,
        method_name: String::new(),
        is_cash: method == 1,
        amount: due,
    });
    o.state = OrderState::Paid;
    o.paid_at = Some("2026-12-01 10:00:05".into());
    o
}

pub async fn orders_in_odoo(ws: &WebSession<Lossy>, uuids: &[String]) -> Vec<Value> {
    let mut kw = Map::new();
    kw.insert(
        "fields".into(),
        json!([
            "uuid",
            "amount_total",
            "amount_tax",
            "pos_reference",
            "partner_id"
        ]),
    );
    let v = ws
        .call_kw_value(
            "pos.order",
            "search_read",
            vec![json!([["uuid", "in", uuids]])],
            kw,
            true,
        )
        .await
        .expect("search");
    v.as_array().cloned().unwrap_or_default()
}

pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as f64
}
