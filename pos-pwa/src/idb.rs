//! The device's storage: IndexedDB, shared by every tab of the till on this origin.
//!
//! Stores (database `pos`, version 1):
//! - `kv`: the device record (who is signed in, which session; never a password or a
//!   token), the catalogue, each tab's open order;
//! - `counters`: this device's order sequence per session;
//! - `orders`: paid orders (key `uuid`, indexes `status`, `day`);
//! - `partners`: customers created on the device (key `uuid`, index `status`).
//!
//! Records keep the Rust value as a JSON string in `json`, beside the few fields the
//! indexes need. A paid order is written with `durability: "strict"` (flushed to disk before
//! the transaction completes) and the screen says "Paid" only after `complete`.

use js_sys::{Array, Object, Promise, Reflect};
use pos_core::sync::{QueuedOrder, QueuedPartner, SyncStatus, SyncStore};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    IdbCursorWithValue, IdbDatabase, IdbIndexParameters, IdbObjectStore, IdbObjectStoreParameters,
    IdbOpenDbRequest, IdbRequest, IdbTransaction, IdbTransactionMode,
};

const DB_NAME: &str = "pos";
const DB_VERSION: u32 = 1;

/// Why the device's storage failed.
#[derive(Debug, Clone, PartialEq)]
pub enum StorageError {
    /// IndexedDB cannot be used at all (private mode, disabled, blocked).
    Unavailable(String),
    /// The disk or the origin's quota is full.
    Full(String),
    /// Anything else.
    Failed(String),
}

impl std::fmt::Display for StorageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StorageError::Unavailable(m) => write!(
                f,
                "This browser does not let the till keep orders on the device ({m}). Private windows cannot be used: open the till in a normal window."
            ),
            StorageError::Full(m) => write!(
                f,
                "The device's storage is full ({m}): the order was not saved. Free some space, then pay again."
            ),
            StorageError::Failed(m) => write!(f, "The device's storage failed: {m}"),
        }
    }
}

fn js_message(e: &JsValue) -> (String, String) {
    let name = Reflect::get(e, &"name".into())
        .ok()
        .and_then(|n| n.as_string())
        .unwrap_or_default();
    let message = Reflect::get(e, &"message".into())
        .ok()
        .and_then(|n| n.as_string())
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"));
    (name, message)
}

fn storage_err(e: JsValue) -> StorageError {
    let (name, message) = js_message(&e);
    match name.as_str() {
        "QuotaExceededError" => StorageError::Full(message),
        "InvalidStateError" | "SecurityError" | "UnknownError"
            if message.contains("backing store") =>
        {
            StorageError::Unavailable(message)
        }
        "SecurityError" => StorageError::Unavailable(message),
        _ if message.is_empty() => StorageError::Failed(name),
        _ => StorageError::Failed(format!("{name}: {message}")),
    }
}

/// Resolves with the request's result (or rejects with its error).
async fn request(r: &IdbRequest) -> Result<JsValue, StorageError> {
    let r2 = r.clone();
    let r3 = r.clone();
    let promise = Promise::new(&mut |resolve, reject| {
        let r2 = r2.clone();
        let r3 = r3.clone();
        let ok = Closure::once_into_js(move || {
            let _ = resolve.call1(&JsValue::NULL, &r2.result().unwrap_or(JsValue::UNDEFINED));
        });
        let err = Closure::once_into_js(move || {
            let e = r3
                .error()
                .ok()
                .flatten()
                .map(JsValue::from)
                .unwrap_or(JsValue::NULL);
            let _ = reject.call1(&JsValue::NULL, &e);
        });
        r.set_onsuccess(Some(ok.unchecked_ref()));
        r.set_onerror(Some(err.unchecked_ref()));
    });
    JsFuture::from(promise).await.map_err(storage_err)
}

/// Resolves when the transaction commits (rejects on abort or error).
async fn complete(tx: &IdbTransaction) -> Result<(), StorageError> {
    let t2 = tx.clone();
    let promise = Promise::new(&mut |resolve, reject| {
        let ok = Closure::once_into_js(move || {
            let _ = resolve.call0(&JsValue::NULL);
        });
        let reject2 = reject.clone();
        let t3 = t2.clone();
        let err = Closure::once_into_js(move || {
            let e = t3.error().map(JsValue::from).unwrap_or(JsValue::NULL);
            let _ = reject2.call1(&JsValue::NULL, &e);
        });
        let t4 = t2.clone();
        let abort = Closure::once_into_js(move || {
            let e = t4
                .error()
                .map(JsValue::from)
                .unwrap_or_else(|| JsValue::from_str("the transaction was aborted"));
            let _ = reject.call1(&JsValue::NULL, &e);
        });
        t2.set_oncomplete(Some(ok.unchecked_ref()));
        t2.set_onerror(Some(err.unchecked_ref()));
        t2.set_onabort(Some(abort.unchecked_ref()));
    });
    JsFuture::from(promise)
        .await
        .map(|_| ())
        .map_err(storage_err)
}

fn record(fields: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in fields {
        let _ = Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o.into()
}

fn field_string(v: &JsValue, k: &str) -> Option<String> {
    Reflect::get(v, &JsValue::from_str(k))
        .ok()
        .and_then(|x| x.as_string())
}

fn status_key(s: &SyncStatus) -> &'static str {
    match s {
        SyncStatus::Waiting => "waiting",
        SyncStatus::Synced { .. } => "synced",
        SyncStatus::Refused { .. } => "refused",
    }
}

fn order_record(q: &QueuedOrder) -> Result<JsValue, StorageError> {
    let json = serde_json::to_string(q).map_err(|e| StorageError::Failed(e.to_string()))?;
    let day = q.order.created_at.get(..10).unwrap_or("").to_owned();
    Ok(record(&[
        ("uuid", JsValue::from_str(&q.order.uuid)),
        ("status", JsValue::from_str(status_key(&q.status))),
        ("day", JsValue::from_str(&day)),
        ("session", JsValue::from_f64(q.order.session_id as f64)),
        ("next", JsValue::from_f64(q.next_attempt_at)),
        ("saved", JsValue::from_f64(q.saved_at)),
        ("json", JsValue::from_str(&json)),
    ]))
}

fn partner_record(p: &QueuedPartner) -> Result<JsValue, StorageError> {
    let json = serde_json::to_string(p).map_err(|e| StorageError::Failed(e.to_string()))?;
    Ok(record(&[
        ("uuid", JsValue::from_str(&p.uuid)),
        ("status", JsValue::from_str(status_key(&p.status))),
        ("json", JsValue::from_str(&json)),
    ]))
}

fn decode<T: serde::de::DeserializeOwned>(v: &JsValue) -> Option<T> {
    field_string(v, "json").and_then(|j| serde_json::from_str(&j).ok())
}

/// The open database.
#[derive(Clone)]
pub struct Db {
    db: IdbDatabase,
}

impl Db {
    /// Opens (and creates or upgrades) the database.
    pub async fn open() -> Result<Db, StorageError> {
        let window =
            web_sys::window().ok_or_else(|| StorageError::Unavailable("no window".into()))?;
        let factory = window
            .indexed_db()
            .map_err(storage_err)?
            .ok_or_else(|| StorageError::Unavailable("IndexedDB is not available".into()))?;
        let open: IdbOpenDbRequest = factory
            .open_with_u32(DB_NAME, DB_VERSION)
            .map_err(storage_err)?;
        let upgrade = Closure::<dyn FnMut(web_sys::IdbVersionChangeEvent)>::new(
            move |e: web_sys::IdbVersionChangeEvent| {
                let Some(target) = e.target() else { return };
                let Ok(req) = target.dyn_into::<IdbOpenDbRequest>() else {
                    return;
                };
                let Ok(result) = req.result() else { return };
                let db: IdbDatabase = result.unchecked_into();
                let names = db.object_store_names();
                let has = |n: &str| names.contains(n);
                if !has("kv") {
                    let _ = db.create_object_store("kv");
                }
                if !has("counters") {
                    let _ = db.create_object_store("counters");
                }
                let keyed = IdbObjectStoreParameters::new();
                keyed.set_key_path(&JsValue::from_str("uuid"));
                if !has("orders") {
                    if let Ok(store) =
                        db.create_object_store_with_optional_parameters("orders", &keyed)
                    {
                        let p = IdbIndexParameters::new();
                        let _ = store
                            .create_index_with_str_and_optional_parameters("status", "status", &p);
                        let _ =
                            store.create_index_with_str_and_optional_parameters("day", "day", &p);
                    }
                }
                if !has("partners") {
                    if let Ok(store) =
                        db.create_object_store_with_optional_parameters("partners", &keyed)
                    {
                        let p = IdbIndexParameters::new();
                        let _ = store
                            .create_index_with_str_and_optional_parameters("status", "status", &p);
                    }
                }
            },
        );
        open.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
        let result = request(&open).await;
        drop(upgrade);
        let db: IdbDatabase = result
            .map_err(|e| match e {
                StorageError::Failed(m) => StorageError::Unavailable(m),
                other => other,
            })?
            .unchecked_into();
        // Another tab's newer version: close so it can upgrade.
        let db2 = db.clone();
        let on_change = Closure::<dyn FnMut()>::new(move || db2.close());
        db.set_onversionchange(Some(on_change.as_ref().unchecked_ref()));
        on_change.forget();
        Ok(Db { db })
    }

    fn tx(&self, stores: &[&str], write: bool) -> Result<IdbTransaction, StorageError> {
        let names = Array::new();
        for s in stores {
            names.push(&JsValue::from_str(s));
        }
        let mode = if write {
            IdbTransactionMode::Readwrite
        } else {
            IdbTransactionMode::Readonly
        };
        self.db
            .transaction_with_str_sequence_and_mode(&names, mode)
            .map_err(storage_err)
    }

    fn strict_tx(&self, stores: &[&str]) -> Result<IdbTransaction, StorageError> {
        let names = Array::new();
        for s in stores {
            names.push(&JsValue::from_str(s));
        }
        // `db.transaction(names, "readwrite", {durability: "strict"})`: web-sys has the
        // options only behind its unstable-API flag, so the call goes through Reflect.
        let options = record(&[("durability", JsValue::from_str("strict"))]);
        let f: js_sys::Function = Reflect::get(&self.db, &JsValue::from_str("transaction"))
            .map_err(storage_err)?
            .dyn_into()
            .map_err(storage_err)?;
        f.call3(&self.db, &names, &JsValue::from_str("readwrite"), &options)
            .map_err(storage_err)?
            .dyn_into::<IdbTransaction>()
            .map_err(storage_err)
    }

    fn store(tx: &IdbTransaction, name: &str) -> Result<IdbObjectStore, StorageError> {
        tx.object_store(name).map_err(storage_err)
    }

    /// A value of the `kv` store.
    pub async fn get(&self, key: &str) -> Result<Option<String>, StorageError> {
        let tx = self.tx(&["kv"], false)?;
        let r = Self::store(&tx, "kv")?
            .get(&JsValue::from_str(key))
            .map_err(storage_err)?;
        Ok(request(&r).await?.as_string())
    }

    /// Writes a value of the `kv` store.
    pub async fn put(&self, key: &str, value: &str) -> Result<(), StorageError> {
        let tx = self.tx(&["kv"], true)?;
        Self::store(&tx, "kv")?
            .put_with_key(&JsValue::from_str(value), &JsValue::from_str(key))
            .map_err(storage_err)?;
        complete(&tx).await
    }

    /// Deletes a value of the `kv` store.
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let tx = self.tx(&["kv"], true)?;
        Self::store(&tx, "kv")?
            .delete(&JsValue::from_str(key))
            .map_err(storage_err)?;
        complete(&tx).await
    }

    /// The next order sequence number of this device in `session_id` (read and increment in
    /// one transaction: two tabs never get the same number).
    pub async fn next_sequence(&self, session_id: i64) -> Result<i64, StorageError> {
        let tx = self.tx(&["counters"], true)?;
        let store = Self::store(&tx, "counters")?;
        let key = JsValue::from_str(&format!("seq:{session_id}"));
        let current = request(&store.get(&key).map_err(storage_err)?).await?;
        let next = current.as_f64().unwrap_or(0.0) as i64 + 1;
        store
            .put_with_key(&JsValue::from_f64(next as f64), &key)
            .map_err(storage_err)?;
        complete(&tx).await?;
        Ok(next)
    }

    /// Writes a paid order and removes the tab's open order, in one transaction flushed to
    /// disk. Only when this returns Ok is the order safe.
    pub async fn save_paid(&self, q: &QueuedOrder, open_key: &str) -> Result<(), StorageError> {
        let tx = self.strict_tx(&["orders", "kv"])?;
        Self::store(&tx, "orders")?
            .add(&order_record(q)?)
            .map_err(storage_err)?;
        Self::store(&tx, "kv")?
            .delete(&JsValue::from_str(open_key))
            .map_err(storage_err)?;
        complete(&tx).await
    }

    /// Writes a customer created on the device (durably, before an order uses it).
    pub async fn save_partner(&self, p: &QueuedPartner) -> Result<(), StorageError> {
        let tx = self.strict_tx(&["partners"])?;
        Self::store(&tx, "partners")?
            .put(&partner_record(p)?)
            .map_err(storage_err)?;
        complete(&tx).await
    }

    /// One order.
    pub async fn order(&self, uuid: &str) -> Result<Option<QueuedOrder>, StorageError> {
        let tx = self.tx(&["orders"], false)?;
        let r = Self::store(&tx, "orders")?
            .get(&JsValue::from_str(uuid))
            .map_err(storage_err)?;
        let v = request(&r).await?;
        Ok(if v.is_undefined() { None } else { decode(&v) })
    }

    async fn index_all(
        &self,
        store: &str,
        index: &str,
        key: &str,
    ) -> Result<Vec<JsValue>, StorageError> {
        let tx = self.tx(&[store], false)?;
        let idx = Self::store(&tx, store)?.index(index).map_err(storage_err)?;
        let r = idx
            .get_all_with_key(&JsValue::from_str(key))
            .map_err(storage_err)?;
        let arr: Array = request(&r).await?.unchecked_into();
        Ok(arr.iter().collect())
    }

    /// Orders of a day (`YYYY-MM-DD`, UTC), newest first.
    pub async fn orders_of_day(&self, day: &str) -> Result<Vec<QueuedOrder>, StorageError> {
        let mut v: Vec<QueuedOrder> = self
            .index_all("orders", "day", day)
            .await?
            .iter()
            .filter_map(decode)
            .collect();
        v.sort_by(|a, b| b.saved_at.total_cmp(&a.saved_at));
        Ok(v)
    }

    /// Orders (all days) in a status, oldest first.
    pub async fn orders_in(&self, status: &str) -> Result<Vec<QueuedOrder>, StorageError> {
        let mut v: Vec<QueuedOrder> = self
            .index_all("orders", "status", status)
            .await?
            .iter()
            .filter_map(decode)
            .collect();
        v.sort_by(|a, b| a.saved_at.total_cmp(&b.saved_at));
        Ok(v)
    }

    /// How many orders are in each status: (waiting, refused).
    pub async fn counts(&self) -> Result<(u32, u32), StorageError> {
        let tx = self.tx(&["orders"], false)?;
        let idx = Self::store(&tx, "orders")?
            .index("status")
            .map_err(storage_err)?;
        let w = idx
            .count_with_key(&JsValue::from_str("waiting"))
            .map_err(storage_err)?;
        let r = idx
            .count_with_key(&JsValue::from_str("refused"))
            .map_err(storage_err)?;
        let w = request(&w).await?.as_f64().unwrap_or(0.0) as u32;
        let r = request(&r).await?.as_f64().unwrap_or(0.0) as u32;
        Ok((w, r))
    }

    /// Writes orders back (status changes), in one transaction.
    pub async fn put_orders(&self, orders: &[QueuedOrder]) -> Result<(), StorageError> {
        if orders.is_empty() {
            return Ok(());
        }
        let tx = self.tx(&["orders"], true)?;
        let store = Self::store(&tx, "orders")?;
        for q in orders {
            store.put(&order_record(q)?).map_err(storage_err)?;
        }
        complete(&tx).await
    }

    /// Customers in a status.
    pub async fn partners_in(&self, status: &str) -> Result<Vec<QueuedPartner>, StorageError> {
        Ok(self
            .index_all("partners", "status", status)
            .await?
            .iter()
            .filter_map(decode)
            .collect())
    }

    /// One customer.
    pub async fn partner(&self, uuid: &str) -> Result<Option<QueuedPartner>, StorageError> {
        let tx = self.tx(&["partners"], false)?;
        let r = Self::store(&tx, "partners")?
            .get(&JsValue::from_str(uuid))
            .map_err(storage_err)?;
        let v = request(&r).await?;
        Ok(if v.is_undefined() { None } else { decode(&v) })
    }

    /// Deletes synced orders saved before `before` (ms), keeping the device small.
    pub async fn prune_synced(&self, before: f64) -> Result<u32, StorageError> {
        let tx = self.tx(&["orders"], true)?;
        let idx = Self::store(&tx, "orders")?
            .index("status")
            .map_err(storage_err)?;
        let r = idx
            .open_cursor_with_range(&JsValue::from_str("synced"))
            .map_err(storage_err)?;
        let mut deleted = 0;
        loop {
            let c = request(&r).await?;
            if c.is_null() || c.is_undefined() {
                break;
            }
            let cursor: IdbCursorWithValue = c.unchecked_into();
            let v = cursor.value().map_err(storage_err)?;
            let saved = Reflect::get(&v, &"saved".into())
                .ok()
                .and_then(|s| s.as_f64())
                .unwrap_or(0.0);
            if saved < before {
                cursor.delete().map_err(storage_err)?;
                deleted += 1;
            }
            cursor.continue_().map_err(storage_err)?;
        }
        complete(&tx).await?;
        Ok(deleted)
    }
}

impl SyncStore for Db {
    type Error = StorageError;

    async fn due_partners(&self, now: f64) -> Result<Vec<QueuedPartner>, StorageError> {
        Ok(self
            .partners_in("waiting")
            .await?
            .into_iter()
            .filter(|p| p.next_attempt_at <= now)
            .collect())
    }

    async fn partner(&self, uuid: &str) -> Result<Option<QueuedPartner>, StorageError> {
        Db::partner(self, uuid).await
    }

    async fn put_partner(&self, partner: &QueuedPartner) -> Result<(), StorageError> {
        self.save_partner(partner).await
    }

    async fn due_orders(&self, now: f64, limit: usize) -> Result<Vec<QueuedOrder>, StorageError> {
        let mut v: Vec<QueuedOrder> = self
            .orders_in("waiting")
            .await?
            .into_iter()
            .filter(|q| q.next_attempt_at <= now)
            .collect();
        v.truncate(limit);
        Ok(v)
    }

    async fn put_orders(&self, orders: &[QueuedOrder]) -> Result<(), StorageError> {
        Db::put_orders(self, orders).await
    }
}
