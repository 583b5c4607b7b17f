//! The till's state (signals shared by every screen) and what the cashier's actions do.
//!
//! Non-reactive services (storage, the Odoo web session, the channel between tabs, the sync
//! loop's waker) live in a thread-local: the app is single-threaded wasm.

use std::cell::RefCell;
use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use odoo_rpc::{FetchTransport, KwCaller, OdooError, OdooVersion, RpcError, WebSession};
use pos_core::sync::{NewPartner, QueuedOrder, QueuedPartner, Stop, SyncEngine, SyncStatus};
use pos_core::{Catalogue, NewOrder, Order, OrderLine, OrderState, PartnerRef, Payment};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::browser;
use crate::idb::{Db, StorageError};

/// Who and where this device sells (in IndexedDB under `device`; no password, no token:
/// Odoo's HttpOnly `session_id` cookie stays the browser's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Device {
    /// Odoo database.
    pub db: String,
    /// The cashier's login (to prefill a new sign-in).
    pub login: String,
    /// The cashier's user id.
    pub uid: i64,
    /// The cashier's name.
    pub user_name: String,
    /// Odoo major version (16, 17, 18...).
    pub version: u32,
    /// `pos.config` id.
    pub config_id: i64,
    /// `pos.session` id.
    pub session_id: i64,
    /// This device's login number in the session (`pos.session.login`).
    pub login_number: i64,
}

impl Device {
    fn odoo_version(&self) -> OdooVersion {
        match self.version {
            16 => OdooVersion::V16,
            17 => OdooVersion::V17,
            _ => OdooVersion::V18,
        }
    }
}

/// A shop the signed-in user may open.
#[derive(Debug, Clone, PartialEq)]
pub struct ShopChoice {
    /// `pos.config` id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Its open session, if any.
    pub session_id: Option<i64>,
    /// That session's state.
    pub session_state: Option<String>,
}

/// The screen shown.
#[derive(Debug, Clone, PartialEq)]
pub enum Screen {
    /// Opening the device's storage.
    Loading,
    /// The till cannot work here (no storage).
    Fatal(String),
    /// Sign in with the Odoo login.
    SignIn,
    /// Pick the shop.
    Shops(Vec<ShopChoice>),
    /// Count the opening cash of a shop with no open session.
    OpenSession(ShopChoice),
    /// Products and cart.
    Sell,
    /// Customers (search, create).
    Customers,
    /// Payment of the current order.
    Pay,
    /// The receipt of a paid order.
    Receipt(String),
    /// Today's orders.
    Orders,
    /// Closing the session.
    Close,
}

/// The state of the sync, shown in the header.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum SyncState {
    /// Nothing to say.
    #[default]
    Idle,
    /// Pushing now.
    Syncing,
    /// Odoo unreachable: waiting, retrying.
    Offline(String),
    /// Odoo's session ended: sign in again (nothing is lost).
    SignIn(String),
    /// Odoo refuses this user.
    Blocked(String),
}

/// A message for the cashier.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// Error (red) or information.
    pub error: bool,
    /// Text.
    pub text: String,
}

/// The till's reactive state.
#[derive(Clone, Copy)]
pub struct Till {
    /// The screen.
    pub screen: RwSignal<Screen>,
    /// The device record.
    pub device: RwSignal<Option<Device>>,
    /// What the shop sells.
    pub catalogue: RwSignal<Option<Catalogue>>,
    /// The order being built in this tab.
    pub order: RwSignal<Option<Order>>,
    /// The selected line of the cart.
    pub selected: RwSignal<Option<usize>>,
    /// `navigator.onLine`.
    pub online: RwSignal<bool>,
    /// Orders waiting for Odoo (all tabs).
    pub waiting: RwSignal<u32>,
    /// Orders Odoo refused.
    pub refused: RwSignal<u32>,
    /// The sync's state.
    pub sync: RwSignal<SyncState>,
    /// A message.
    pub notice: RwSignal<Option<Notice>>,
    /// A new release is installed and waits for a reload.
    pub update_ready: RwSignal<bool>,
    /// Whether the browser promised not to evict the storage.
    pub persistent: RwSignal<Option<bool>>,
    /// This tab pushes the orders (holds the Web Lock).
    pub leader: RwSignal<bool>,
    /// Something is in progress (buttons disabled).
    pub busy: RwSignal<bool>,
    /// Bumped when the device's orders change (lists reload).
    pub orders_rev: RwSignal<u32>,
    /// Database name from the platform (for sign-in), if known.
    pub tenant_db: RwSignal<Option<String>>,
    /// Tenant display name.
    pub tenant_name: RwSignal<Option<String>>,
}

struct Services {
    db: Db,
    rpc: Rc<WebSession<FetchTransport>>,
    channel: browser::Channel,
    waker: browser::Waker,
    tab: String,
}

thread_local! {
    static SERVICES: RefCell<Option<Rc<Services>>> = const { RefCell::new(None) };
}

fn services() -> Option<Rc<Services>> {
    SERVICES.with(|s| s.borrow().clone())
}

fn rpc() -> Rc<WebSession<FetchTransport>> {
    services()
        .map(|s| s.rpc.clone())
        .unwrap_or_else(|| Rc::new(new_session()))
}

fn new_session() -> WebSession<FetchTransport> {
    WebSession::new(odoo_rpc::Client::new(FetchTransport::new("")))
}

/// The catalogue kept on the device (Odoo's `load_data` answer), parsed.
async fn read_catalogue(db: &Db) -> Option<Catalogue> {
    let raw = db.get("catalogue").await.ok().flatten()?;
    let data: Value = serde_json::from_str(&raw).ok()?;
    Catalogue::from_load_data(&data).ok()
}

fn open_key() -> String {
    format!(
        "open:{}",
        services().map(|s| s.tab.clone()).unwrap_or_default()
    )
}

/// What an Odoo or network failure means for the cashier, in words.
pub fn explain(e: &RpcError) -> String {
    match e {
        RpcError::Odoo(OdooError::AccessDenied(_)) => "Wrong login or password.".into(),
        RpcError::Odoo(OdooError::SessionExpired(_)) => {
            "Your Odoo session has expired: sign in again.".into()
        }
        RpcError::Odoo(o) => o.message().to_owned(),
        RpcError::Transport(_) => "No connection to Odoo. Check the network and try again.".into(),
        RpcError::Http {
            status: 502..=504, ..
        } => "Odoo is not answering (the proxy says it is unreachable). Try again in a moment."
            .into(),
        RpcError::Http { status, .. } => {
            format!("Odoo answered HTTP {status}. Try again in a moment.")
        }
        other => other.to_string(),
    }
}

impl Till {
    /// Fresh state.
    pub fn new() -> Till {
        Till {
            screen: RwSignal::new(Screen::Loading),
            device: RwSignal::new(None),
            catalogue: RwSignal::new(None),
            order: RwSignal::new(None),
            selected: RwSignal::new(None),
            online: RwSignal::new(browser::online()),
            waiting: RwSignal::new(0),
            refused: RwSignal::new(0),
            sync: RwSignal::new(SyncState::Idle),
            notice: RwSignal::new(None),
            update_ready: RwSignal::new(false),
            persistent: RwSignal::new(None),
            leader: RwSignal::new(false),
            busy: RwSignal::new(false),
            orders_rev: RwSignal::new(0),
            tenant_db: RwSignal::new(None),
            tenant_name: RwSignal::new(None),
        }
    }

    /// Shows an error.
    pub fn error(&self, text: impl Into<String>) {
        self.notice.set(Some(Notice {
            error: true,
            text: text.into(),
        }));
    }

    /// Shows an information.
    pub fn info(&self, text: impl Into<String>) {
        self.notice.set(Some(Notice {
            error: false,
            text: text.into(),
        }));
    }

    /// Starts the till: storage, the device's state, the sync leader, the listeners.
    pub fn boot(self) {
        spawn_local(async move {
            let db = match Db::open().await {
                Ok(db) => db,
                Err(e) => {
                    self.screen.set(Screen::Fatal(e.to_string()));
                    return;
                }
            };
            let till = self;
            let channel = browser::Channel::open(move |m| till.on_message(&m));
            let svc = Rc::new(Services {
                db,
                rpc: Rc::new(new_session()),
                channel,
                waker: browser::Waker::default(),
                tab: browser::tab_id(),
            });
            SERVICES.with(|s| *s.borrow_mut() = Some(svc.clone()));

            browser::on_window("online", move || {
                till.online.set(true);
                if let Some(s) = services() {
                    s.waker.wake();
                }
                till.refresh_catalogue_quietly();
            });
            browser::on_window("offline", move || till.online.set(false));
            browser::on_window("pos-update-ready", move || till.update_ready.set(true));
            if browser::update_waiting() {
                till.update_ready.set(true);
            }
            // Synced orders older than a week leave the device (Odoo has them).
            let _ = svc
                .db
                .prune_synced(browser::now_ms() - 7.0 * 86_400_000.0)
                .await;

            let device: Option<Device> = svc
                .db
                .get("device")
                .await
                .ok()
                .flatten()
                .and_then(|j| serde_json::from_str(&j).ok());
            let catalogue = read_catalogue(&svc.db).await;
            let open: Option<Order> = svc
                .db
                .get(&open_key())
                .await
                .ok()
                .flatten()
                .and_then(|j| serde_json::from_str(&j).ok());
            self.refresh_counts().await;
            match (device, catalogue) {
                (Some(d), Some(c)) if c.session.id == d.session_id => {
                    self.device.set(Some(d));
                    self.catalogue.set(Some(c));
                    self.order.set(open.filter(|o| o.state == OrderState::Open));
                    self.screen.set(Screen::Sell);
                    // From the navigation's start (performance.now()) to a till ready to sell.
                    browser::metric("cold_start_to_till_ms", browser::perf_now());
                    self.refresh_catalogue_quietly();
                }
                (d, _) => {
                    if let Some(d) = d {
                        // Signed in before, but no shop chosen: the sign-in form knows the login.
                        self.device.set(Some(d));
                    }
                    self.screen.set(Screen::SignIn);
                }
            }
            self.load_tenant().await;
            let persistent = browser::ask_persistent_storage().await;
            self.persistent.set(Some(persistent));
            let has_locks = browser::become_leader(move || {
                till.leader.set(true);
                spawn_local(till.sync_loop());
                // The pushing tab also keeps the catalogue fresh (every 15 minutes online).
                spawn_local(async move {
                    let timer = browser::Waker::default();
                    loop {
                        timer.wait(15.0 * 60_000.0).await;
                        till.refresh_catalogue_quietly();
                    }
                });
            });
            browser::on_scanner(move |code| {
                if till.screen.get_untracked() == Screen::Sell {
                    till.scan(&code);
                }
            });
            if !has_locks {
                self.error("This browser has no Web Locks: use one tab only for the till.");
            }
        });
    }

    fn on_message(self, m: &str) {
        match m {
            "queue" => {
                spawn_local(async move {
                    self.refresh_counts().await;
                    self.orders_rev.update(|v| *v += 1);
                });
                if self.leader.get_untracked() {
                    if let Some(s) = services() {
                        s.waker.wake();
                    }
                }
            }
            "signin-needed" => self
                .sync
                .set(SyncState::SignIn("Your Odoo session has expired.".into())),
            "signed-in" => {
                if matches!(self.sync.get_untracked(), SyncState::SignIn(_)) {
                    self.sync.set(SyncState::Idle);
                }
                if let Some(s) = services() {
                    s.waker.wake();
                }
            }
            "device" => spawn_local(async move { self.reload_device().await }),
            _ => {}
        }
    }

    async fn reload_device(self) {
        let Some(s) = services() else { return };
        let device: Option<Device> =
            s.db.get("device")
                .await
                .ok()
                .flatten()
                .and_then(|j| serde_json::from_str(&j).ok());
        let catalogue = read_catalogue(&s.db).await;
        let closed = device.as_ref().is_some_and(|d| d.session_id == 0);
        self.device.set(device);
        if closed {
            // Another tab closed the session.
            self.catalogue.set(None);
            self.order.set(None);
            self.screen.set(Screen::SignIn);
        } else if catalogue.is_some() {
            self.catalogue.set(catalogue);
            if self.screen.get_untracked() == Screen::SignIn {
                self.screen.set(Screen::Sell);
            }
        }
    }

    /// Reads the tenant's database name from the platform (`/pos/tenant.json`).
    async fn load_tenant(self) {
        if let Some(d) = self.device.get_untracked() {
            self.tenant_db.set(Some(d.db));
        }
        let Some(window) = web_sys::window() else {
            return;
        };
        let Ok(resp) =
            wasm_bindgen_futures::JsFuture::from(window.fetch_with_str("/pos/tenant.json")).await
        else {
            return;
        };
        let resp: web_sys::Response = match wasm_bindgen::JsCast::dyn_into(resp) {
            Ok(r) => r,
            Err(_) => return,
        };
        if !resp.ok() {
            return;
        }
        let Ok(text) = resp.text() else { return };
        let Ok(text) = wasm_bindgen_futures::JsFuture::from(text).await else {
            return;
        };
        let Some(v) = text
            .as_string()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        else {
            return;
        };
        if let Some(db) = v.get("db").and_then(Value::as_str) {
            self.tenant_db.set(Some(db.to_owned()));
        }
        if let Some(n) = v.get("name").and_then(Value::as_str) {
            self.tenant_name.set(Some(n.to_owned()));
        }
    }

    /// Recounts waiting and refused orders.
    pub async fn refresh_counts(&self) {
        let Some(s) = services() else { return };
        if let Ok((w, r)) = s.db.counts().await {
            self.waiting.set(w);
            self.refused.set(r);
        }
    }

    fn broadcast(&self, m: &str) {
        if let Some(s) = services() {
            s.channel.post(m);
        }
    }

    // ------------------------------------------------------------------ sign-in

    /// Signs in with Odoo (`/web/session/authenticate`); `password` is dropped afterwards.
    pub async fn sign_in(self, db: String, login: String, password: String) {
        let db = db.trim().to_owned();
        let login = login.trim().to_owned();
        if db.is_empty() || login.is_empty() || password.is_empty() {
            self.error("Enter the login and the password.");
            return;
        }
        self.busy.set(true);
        let result = self.sign_in_inner(&db, &login, &password).await;
        drop(password);
        self.busy.set(false);
        if let Err(e) = result {
            self.error(e);
        }
    }

    async fn sign_in_inner(self, db: &str, login: &str, password: &str) -> Result<(), String> {
        let rpc = rpc();
        let info = rpc
            .session_authenticate(db, login, password)
            .await
            .map_err(|e| match &e {
                RpcError::Odoo(OdooError::AccessError(p))
                    if p.text().contains("Database not found") =>
                {
                    format!("Odoo has no database named {db} at this address.")
                }
                _ => explain(&e),
            })?;
        let Some(uid) = info.uid else {
            return Err(
                "This account asks for a second authentication factor, which the till does not support: use an account without two-factor authentication."
                    .into(),
            );
        };
        let version = info.odoo_version().unwrap_or(OdooVersion::V18);
        let version_num = match version {
            OdooVersion::V16 => 16,
            OdooVersion::V17 => 17,
            OdooVersion::V18 => 18,
            _ => 19,
        };
        let name = info.name.clone().unwrap_or_else(|| login.to_owned());
        // POS rights up front, with a clear message (Odoo would refuse later anyway).
        let allowed = rpc
            .call_kw(
                "res.users",
                "has_group",
                vec![json!([uid]), json!("point_of_sale.group_pos_user")],
                Map::new(),
            )
            .await;
        if let Ok(Value::Bool(false)) = allowed {
            return Err(format!(
                "{name} may not use the Point of Sale. A manager can give this user Point of Sale rights in Odoo (Settings → Users → Point of Sale: User)."
            ));
        }
        // Signing in again on a device that already sells: keep the session, resume the sync.
        if let Some(mut d) = self.device.get_untracked() {
            if d.db == db
                && self
                    .catalogue
                    .with_untracked(|c| c.as_ref().is_some_and(|c| c.session.id == d.session_id))
            {
                d.uid = uid;
                d.user_name = name;
                d.login = login.to_owned();
                self.save_device(&d).await.map_err(|e| e.to_string())?;
                self.device.set(Some(d));
                self.sync.set(SyncState::Idle);
                self.broadcast("signed-in");
                self.on_message("signed-in");
                self.notice.set(None);
                if self.screen.get_untracked() == Screen::SignIn {
                    self.screen.set(Screen::Sell);
                }
                return Ok(());
            }
        }
        let shops = self.list_shops().await?;
        let device = Device {
            db: db.to_owned(),
            login: login.to_owned(),
            uid,
            user_name: name,
            version: version_num,
            config_id: 0,
            session_id: 0,
            login_number: 0,
        };
        self.save_device(&device).await.map_err(|e| e.to_string())?;
        self.device.set(Some(device));
        self.notice.set(None);
        self.screen.set(Screen::Shops(shops));
        Ok(())
    }

    async fn list_shops(self) -> Result<Vec<ShopChoice>, String> {
        let mut kw = Map::new();
        kw.insert(
            "fields".into(),
            json!(["id", "name", "current_session_id", "current_session_state"]),
        );
        let v = rpc()
            .call_kw("pos.config", "search_read", vec![json!([])], kw)
            .await
            .map_err(|e| match &e {
                RpcError::Odoo(OdooError::AccessError(_)) => format!(
                    "This user may not use the Point of Sale ({}). Ask a manager for Point of Sale rights.",
                    explain(&e)
                ),
                _ => explain(&e),
            })?;
        let shops: Vec<ShopChoice> = v
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| ShopChoice {
                id: r.get("id").and_then(Value::as_i64).unwrap_or(0),
                name: r
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                session_id: r
                    .get("current_session_id")
                    .and_then(odoo_rpc::wire::many2one_id),
                session_state: r
                    .get("current_session_state")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            })
            .collect();
        if shops.is_empty() {
            return Err("Odoo has no Point of Sale shop yet: a manager creates one in Odoo (Point of Sale → Configuration).".into());
        }
        Ok(shops)
    }

    /// Back to the shop list (after closing a session, or to change shop).
    pub async fn show_shops(self) {
        self.busy.set(true);
        let r = self.list_shops().await;
        self.busy.set(false);
        match r {
            Ok(shops) => self.screen.set(Screen::Shops(shops)),
            Err(e) => self.error(e),
        }
    }

    async fn save_device(&self, d: &Device) -> Result<(), StorageError> {
        let Some(s) = services() else {
            return Err(StorageError::Unavailable("no storage".into()));
        };
        let json = serde_json::to_string(d).map_err(|e| StorageError::Failed(e.to_string()))?;
        s.db.put("device", &json).await
    }

    /// Opens (or joins) the shop's session, takes this device's login number, loads the
    /// catalogue.
    pub async fn open_shop(self, shop: ShopChoice, opening_cash: Option<f64>) {
        let Some(mut device) = self.device.get_untracked() else {
            self.screen.set(Screen::SignIn);
            return;
        };
        self.busy.set(true);
        let result: Result<(), String> = async {
            let rpc = rpc();
            let pos = rpc.pos(device.odoo_version());
            let session_id = match (shop.session_id, shop.session_state.as_deref()) {
                (Some(sid), Some("opened")) => sid,
                (Some(_), Some("closing_control")) => {
                    return Err(format!("{} is being closed in Odoo: a manager must finish closing it first.", shop.name))
                }
                _ => match opening_cash {
                    None => {
                        self.screen.set(Screen::OpenSession(shop.clone()));
                        return Ok(());
                    }
                    Some(cash) => pos.open_session(shop.id, cash, "").await.map_err(|e| explain(&e))?,
                },
            };
            let login_number = rpc
                .call_kw_with("pos.session", "login", vec![json!([session_id])], Map::new(), false)
                .await
                .map_err(|e| explain(&e))?;
            let login_number = login_number
                .as_i64()
                .or_else(|| login_number.as_str().and_then(|s| s.trim().parse().ok()))
                .unwrap_or(1);
            let data = pos.load_data(session_id, &[]).await.map_err(|e| explain(&e))?;
            let catalogue = Catalogue::from_load_data(&data).map_err(|e| e.to_string())?;
            device.config_id = shop.id;
            device.session_id = session_id;
            device.login_number = login_number;
            self.store_catalogue(&data).await.map_err(|e| e.to_string())?;
            self.save_device(&device).await.map_err(|e| e.to_string())?;
            self.device.set(Some(device.clone()));
            self.catalogue.set(Some(catalogue.clone()));
            self.order.set(None);
            self.broadcast("device");
            self.screen.set(Screen::Sell);
            if catalogue.config.cash_rounding {
                self.error("This shop uses cash rounding, which this till does not apply: totals are not rounded to the cash step.");
            } else {
                self.notice.set(None);
            }
            Ok(())
        }
        .await;
        self.busy.set(false);
        if let Err(e) = result {
            self.error(e);
        }
    }

    /// Keeps Odoo's `load_data` answer as it came (parsed again at start: the app then
    /// needs no serializer for the catalogue, which keeps the bundle small).
    async fn store_catalogue(&self, data: &Value) -> Result<(), StorageError> {
        let Some(s) = services() else { return Ok(()) };
        let json = serde_json::to_string(data).map_err(|e| StorageError::Failed(e.to_string()))?;
        s.db.put("catalogue", &json).await
    }

    /// Reloads products, prices, taxes... from Odoo when online; says what changed.
    pub fn refresh_catalogue_quietly(self) {
        if !browser::online() {
            return;
        }
        spawn_local(async move {
            let _ = self.refresh_catalogue().await;
        });
    }

    /// Reloads the catalogue; returns a message for the cashier.
    pub async fn refresh_catalogue(self) -> Result<(), String> {
        let Some(device) = self.device.get_untracked() else {
            return Ok(());
        };
        if device.session_id == 0 {
            return Ok(());
        }
        let data = rpc()
            .pos(device.odoo_version())
            .load_data(device.session_id, &[])
            .await;
        let data = match data {
            Ok(d) => d,
            Err(e) => {
                if e.is_session_expired() {
                    self.sync
                        .set(SyncState::SignIn("Your Odoo session has expired.".into()));
                }
                return Err(explain(&e));
            }
        };
        let fresh = Catalogue::from_load_data(&data).map_err(|e| e.to_string())?;
        let changes = self
            .catalogue
            .with_untracked(|old| old.as_ref().map(|old| fresh.changes_since(old)))
            .unwrap_or_default();
        self.store_catalogue(&data)
            .await
            .map_err(|e| e.to_string())?;
        let closed = matches!(fresh.session.state.as_str(), "closing_control" | "closed");
        self.catalogue.set(Some(fresh));
        let mut parts = Vec::new();
        if !changes.repriced.is_empty() {
            let cur = self
                .catalogue
                .with_untracked(|c| c.as_ref().map(|c| c.currency.clone()))
                .unwrap_or_default();
            parts.push(format!(
                "New prices from Odoo: {} (lines already in a cart keep their price).",
                changes
                    .repriced
                    .iter()
                    .map(|(n, a, b)| format!("{n} {} → {}", cur.format(*a), cur.format(*b)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !changes.removed.is_empty() {
            parts.push(format!(
                "No longer sold (archived in Odoo): {}.",
                changes.removed.join(", ")
            ));
        }
        if closed {
            self.error("This session was closed in Odoo. Orders already paid still go to Odoo; to keep selling, open the shop again.");
        } else if !parts.is_empty() {
            self.info(parts.join(" "));
        }
        Ok(())
    }

    // ------------------------------------------------------------------ selling

    async fn persist_open_order(self) {
        let Some(s) = services() else { return };
        let key = open_key();
        match self.order.get_untracked() {
            Some(o) if !o.lines.is_empty() || o.partner.is_some() || !o.payments.is_empty() => {
                if let Ok(json) = serde_json::to_string(&o) {
                    let _ = s.db.put(&key, &json).await;
                }
            }
            _ => {
                let _ = s.db.delete(&key).await;
            }
        }
    }

    /// Changes the current order (creating it first if needed), then keeps it on the device.
    pub fn edit_order(self, f: impl FnOnce(&mut Order) + 'static) {
        spawn_local(async move {
            if self.order.get_untracked().is_none() {
                let Some(o) = self.new_order().await else {
                    return;
                };
                self.order.set(Some(o));
            }
            self.order.update(|o| {
                if let Some(o) = o.as_mut() {
                    f(o);
                }
            });
            self.persist_open_order().await;
        });
    }

    async fn new_order(self) -> Option<Order> {
        let device = self.device.get_untracked()?;
        let s = services()?;
        let seq = match s.db.next_sequence(device.session_id).await {
            Ok(n) => n,
            Err(e) => {
                self.error(e.to_string());
                return None;
            }
        };
        self.catalogue.with_untracked(|c| {
            let c = c.as_ref()?;
            Some(Order::new(NewOrder {
                uuid: browser::new_uuid(),
                session_id: device.session_id,
                config_id: device.config_id,
                login_number: device.login_number,
                sequence_number: seq,
                user_id: Some(device.uid),
                now: browser::utc_now(),
                currency: c.currency.clone(),
                tax_company: c.tax_company(),
                prices_include_tax: c.config.prices_include_tax,
            }))
        })
    }

    /// Adds one unit of a product to the cart.
    pub fn add_product(self, product_id: i64) {
        let line = self.catalogue.with_untracked(|c| {
            let c = c.as_ref()?;
            let p = c.product(product_id)?;
            Some(OrderLine {
                uuid: browser::new_uuid(),
                product_id,
                product_name: p.name.clone(),
                qty: 1.0,
                price_unit: pos_core::money::round_decimals(p.lst_price, c.price_digits),
                discount: 0.0,
                taxes: c.product_taxes(p),
                note: String::new(),
            })
        });
        let Some(line) = line else { return };
        let selected = self.selected;
        self.edit_order(move |o| {
            let i = o.add_product(line);
            selected.set(Some(i));
        });
    }

    /// A scanned (or typed) barcode.
    pub fn scan(self, code: &str) {
        let code = code.trim().to_owned();
        if code.is_empty() {
            return;
        }
        let found = self.catalogue.with_untracked(|c| {
            c.as_ref()
                .and_then(|c| c.product_by_barcode(&code))
                .map(|p| p.id)
        });
        match found {
            Some(id) => self.add_product(id),
            None => self.error(format!("No product has the barcode {code}.")),
        }
    }

    /// Creates a customer on the device (synced before the orders that use it) and sets it
    /// on the current order.
    pub async fn create_customer(self, p: NewPartner) {
        if p.name.trim().is_empty() {
            self.error("A customer needs a name.");
            return;
        }
        let Some(s) = services() else { return };
        let q = QueuedPartner {
            uuid: browser::new_uuid(),
            partner: p,
            status: SyncStatus::Waiting,
            attempts: 0,
            next_attempt_at: browser::now_ms(),
            last_error: None,
        };
        if let Err(e) = s.db.save_partner(&q).await {
            self.error(e.to_string());
            return;
        }
        let r = PartnerRef::Local {
            uuid: q.uuid.clone(),
            name: q.partner.name.trim().to_owned(),
        };
        self.edit_order(move |o| o.partner = Some(r));
        self.broadcast("queue");
        if let Some(s) = services() {
            s.waker.wake();
        }
        self.screen.set(Screen::Sell);
    }

    /// Customers created on this device (any state), for the customer search.
    pub async fn local_customers(self) -> Vec<QueuedPartner> {
        let Some(s) = services() else {
            return Vec::new();
        };
        let mut all = Vec::new();
        for st in ["waiting", "synced", "refused"] {
            all.extend(s.db.partners_in(st).await.unwrap_or_default());
        }
        all
    }

    /// Customers matching a search in Odoo (online only).
    pub async fn search_customers_online(
        self,
        query: String,
    ) -> Result<Vec<pos_core::Partner>, String> {
        let mut kw = Map::new();
        kw.insert(
            "fields".into(),
            json!([
                "id", "name", "email", "phone", "mobile", "street", "city", "zip", "vat", "barcode"
            ]),
        );
        kw.insert("limit".into(), json!(20));
        let q = query.trim();
        let domain = json!([
            "|",
            "|",
            "|",
            ["name", "ilike", q],
            ["email", "ilike", q],
            ["phone", "ilike", q],
            ["barcode", "=", q]
        ]);
        let v = rpc()
            .call_kw("res.partner", "search_read", vec![domain], kw)
            .await
            .map_err(|e| explain(&e))?;
        Ok(v.as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
            .map(pos_core::catalogue::partner_from)
            .collect())
    }

    // ------------------------------------------------------------------ payment

    /// Adds a payment of what is still due with this method.
    pub fn add_payment(self, method_id: i64) {
        let method = self.catalogue.with_untracked(|c| {
            c.as_ref().and_then(|c| {
                c.payment_methods
                    .iter()
                    .find(|m| m.id == method_id)
                    .cloned()
            })
        });
        let Some(m) = method else { return };
        self.edit_order(move |o| {
            let due = o.amount_due();
            o.payments.push(Payment {
                uuid: browser::new_uuid(),
                method_id: m.id,
                method_name: m.name.clone(),
                is_cash: m.is_cash_count,
                amount: due,
            });
        });
    }

    /// Validates the payment: the order is written to the device (one durable transaction)
    /// before the screen says "Paid".
    pub async fn validate(self) {
        let started = browser::perf_now();
        let Some(mut order) = self.order.get_untracked() else {
            return;
        };
        if self.busy.get_untracked() {
            return;
        }
        let available = self
            .catalogue
            .with_untracked(|c| {
                c.as_ref()
                    .map(|c| c.products.iter().map(|p| p.id).collect::<Vec<_>>())
            })
            .unwrap_or_default();
        if let Err(e) = order.check_payable(|id| available.contains(&id)) {
            self.error(e.to_string());
            return;
        }
        let Some(s) = services() else { return };
        self.busy.set(true);
        order.state = OrderState::Paid;
        order.paid_at = Some(browser::utc_now());
        let q = QueuedOrder::new(order, browser::now_ms());
        let saved = s.db.save_paid(&q, &open_key()).await;
        self.busy.set(false);
        match saved {
            Ok(()) => {
                browser::metric("pay_to_paid_ms", browser::perf_now() - started);
                self.order.set(None);
                self.selected.set(None);
                self.notice.set(None);
                self.screen.set(Screen::Receipt(q.order.uuid.clone()));
                self.waiting.update(|w| *w += 1);
                self.orders_rev.update(|v| *v += 1);
                self.broadcast("queue");
                if self.leader.get_untracked() {
                    s.waker.wake();
                }
            }
            Err(e) => self.error(e.to_string()),
        }
    }

    /// One saved order.
    pub async fn saved_order(self, uuid: String) -> Option<QueuedOrder> {
        services()?.db.order(&uuid).await.ok().flatten()
    }

    /// Today's orders, plus older ones still waiting or refused.
    pub async fn todays_orders(self) -> Result<Vec<QueuedOrder>, String> {
        let Some(s) = services() else {
            return Ok(Vec::new());
        };
        let mut v =
            s.db.orders_of_day(&browser::utc_today())
                .await
                .map_err(|e| e.to_string())?;
        for st in ["waiting", "refused"] {
            for q in s.db.orders_in(st).await.map_err(|e| e.to_string())? {
                if !v.iter().any(|x| x.order.uuid == q.order.uuid) {
                    v.push(q);
                }
            }
        }
        v.sort_by(|a, b| b.saved_at.total_cmp(&a.saved_at));
        Ok(v)
    }

    /// The cashier's "Retry" on a refused order.
    pub async fn retry(self, uuid: String) {
        let Some(s) = services() else { return };
        let Ok(Some(mut q)) = s.db.order(&uuid).await else {
            return;
        };
        q.retry(browser::now_ms());
        // Its customer too, if that is what Odoo refused.
        if let Some(PartnerRef::Local { uuid, .. }) = &q.order.partner {
            if let Ok(Some(mut p)) = s.db.partner(uuid).await {
                if matches!(p.status, SyncStatus::Refused { .. }) {
                    p.status = SyncStatus::Waiting;
                    p.attempts = 0;
                    p.next_attempt_at = browser::now_ms();
                    let _ = s.db.save_partner(&p).await;
                }
            }
        }
        if let Err(e) = s.db.put_orders(std::slice::from_ref(&q)).await {
            self.error(e.to_string());
            return;
        }
        self.refresh_counts().await;
        self.orders_rev.update(|v| *v += 1);
        self.broadcast("queue");
        if self.leader.get_untracked() {
            s.waker.wake();
        }
    }

    /// Pushes now (the cashier's "Send now").
    pub fn sync_now(self) {
        self.broadcast("queue");
        if let Some(s) = services() {
            s.waker.wake();
        }
    }

    // ------------------------------------------------------------------ the sync loop

    async fn sync_loop(self) {
        let Some(s) = services() else { return };
        let engine = SyncEngine::default();
        loop {
            let Some(device) = self.device.get_untracked() else {
                s.waker.wait(30_000.0).await;
                continue;
            };
            if device.session_id == 0 || matches!(self.sync.get_untracked(), SyncState::SignIn(_)) {
                s.waker.wait(300_000.0).await;
                if matches!(self.sync.get_untracked(), SyncState::SignIn(_)) && !browser::online() {
                    continue;
                }
                // Woken (signed in again, or a new order): try once; Odoo says if it is still expired.
                self.sync.set(SyncState::Idle);
                continue;
            }
            if !browser::online() {
                self.sync.set(SyncState::Offline("No network.".into()));
                s.waker.wait(30_000.0).await;
                continue;
            }
            let (waiting, _) = s.db.counts().await.unwrap_or((0, 0));
            let partners_waiting =
                s.db.partners_in("waiting")
                    .await
                    .map(|v| v.len())
                    .unwrap_or(0);
            if waiting == 0 && partners_waiting == 0 {
                self.sync.set(SyncState::Idle);
                s.waker.wait(60_000.0).await;
                continue;
            }
            self.sync.set(SyncState::Syncing);
            let mut rand = browser::random;
            let report = engine
                .run_cycle(
                    &s.db,
                    &*s.rpc,
                    device.odoo_version(),
                    browser::now_ms(),
                    &mut rand,
                )
                .await;
            let report = match report {
                Ok(r) => r,
                Err(e) => {
                    self.sync.set(SyncState::Offline(e.to_string()));
                    s.waker.wait(10_000.0).await;
                    continue;
                }
            };
            if report.synced + report.refused + report.partners_synced > 0 {
                self.refresh_counts().await;
                self.orders_rev.update(|v| *v += 1);
                self.broadcast("queue");
            }
            match report.stop {
                Stop::Done => {
                    self.sync.set(SyncState::Idle);
                    if report.synced > 0 {
                        continue;
                    }
                    // Nothing left due now: sleep until the next retry is due.
                    let next =
                        s.db.orders_in("waiting")
                            .await
                            .ok()
                            .and_then(|v| v.iter().map(|q| q.next_attempt_at).reduce(f64::min));
                    let delay =
                        next.map_or(60_000.0, |t| (t - browser::now_ms()).clamp(500.0, 60_000.0));
                    s.waker.wait(delay).await;
                }
                Stop::Offline { error, retry_at } => {
                    self.sync.set(SyncState::Offline(error));
                    s.waker
                        .wait((retry_at - browser::now_ms()).clamp(500.0, 60_000.0))
                        .await;
                }
                Stop::SignIn(m) => {
                    self.sync.set(SyncState::SignIn(m));
                    self.broadcast("signin-needed");
                }
                Stop::Blocked(m) => {
                    self.sync.set(SyncState::Blocked(m));
                    s.waker.wait(60_000.0).await;
                }
            }
        }
    }

    // ------------------------------------------------------------------ closing

    /// What the closing screen shows (`get_closing_control_data`).
    pub async fn closing_data(self) -> Result<Value, String> {
        let device = self.device.get_untracked().ok_or("Not signed in.")?;
        rpc()
            .call_kw_with(
                "pos.session",
                "get_closing_control_data",
                vec![json!([device.session_id])],
                Map::new(),
                true,
            )
            .await
            .map_err(|e| explain(&e))
    }

    /// Closes the session in Odoo with the counted cash.
    pub async fn close_session(
        self,
        counted_cash: Option<f64>,
        notes: String,
    ) -> Result<(), String> {
        let device = self.device.get_untracked().ok_or("Not signed in.")?;
        let s = services().ok_or("No storage.")?;
        let waiting =
            s.db.orders_in("waiting")
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .filter(|q| q.order.session_id == device.session_id)
                .count();
        if waiting > 0 {
            return Err(format!(
                "{waiting} order(s) of this session have not reached Odoo yet: send them first (they would be refused once the session is closed)."
            ));
        }
        self.busy.set(true);
        let r = rpc()
            .pos(device.odoo_version())
            .close_session(device.session_id, counted_cash, &notes, &[])
            .await;
        self.busy.set(false);
        let r = r.map_err(|e| explain(&e))?;
        if !r.successful {
            return Err(r
                .message
                .unwrap_or_else(|| "Odoo did not close the session.".into()));
        }
        let mut d = device;
        d.session_id = 0;
        d.config_id = 0;
        self.save_device(&d).await.map_err(|e| e.to_string())?;
        if let Some(s) = services() {
            let _ = s.db.delete("catalogue").await;
            let _ = s.db.delete(&open_key()).await;
        }
        self.device.set(Some(d));
        self.catalogue.set(None);
        self.order.set(None);
        self.broadcast("device");
        self.info("The session is closed.");
        self.show_shops().await;
        Ok(())
    }
}

impl Default for Till {
    fn default() -> Self {
        Till::new()
    }
}
