//! Small bindings to the browser: time, randomness, connectivity, persistent storage, the
//! Web Locks leader lock, the channel between tabs, timers.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Date, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(inline_js = r#"
export function request_leadership(name, on_leader) {
  if (!navigator.locks) { on_leader(); return false; }
  // The callback's promise never settles: the lock is held while this tab lives, and the
  // next waiting tab gets it when this one closes or crashes.
  navigator.locks.request(name, () => new Promise(() => on_leader()));
  return true;
}
export function persist_storage() {
  if (!navigator.storage || !navigator.storage.persist) return Promise.resolve(false);
  return navigator.storage.persisted().then((p) => p || navigator.storage.persist());
}
"#)]
extern "C" {
    fn request_leadership(name: &str, on_leader: &JsValue) -> bool;
    fn persist_storage() -> Promise;
}

/// Milliseconds since the epoch.
pub fn now_ms() -> f64 {
    Date::now()
}

/// Now in UTC as Odoo writes datetimes: `YYYY-MM-DD HH:MM:SS`.
pub fn utc_now() -> String {
    let iso = String::from(Date::new_0().to_iso_string());
    format!("{} {}", &iso[..10], &iso[11..19])
}

/// A UTC datetime (`YYYY-MM-DD HH:MM:SS`) in the tablet's local time, for the screen.
pub fn local_time(utc: &str) -> String {
    let d = Date::new(&JsValue::from_str(&format!("{}Z", utc.replace(' ', "T"))));
    if d.get_time().is_nan() {
        return utc.to_owned();
    }
    format!("{:02}:{:02}", d.get_hours(), d.get_minutes())
}

/// Today's date in UTC (`YYYY-MM-DD`), the day key of orders.
pub fn utc_today() -> String {
    utc_now()[..10].to_owned()
}

/// A number in [0, 1).
pub fn random() -> f64 {
    js_sys::Math::random()
}

/// A random v4 uuid from the browser's cryptographic generator.
pub fn new_uuid() -> String {
    let mut bytes = [0u8; 16];
    let filled = web_sys::window()
        .and_then(|w| w.crypto().ok())
        .and_then(|c| c.get_random_values_with_u8_array(&mut bytes).ok())
        .is_some();
    if !filled {
        for b in bytes.iter_mut() {
            *b = (random() * 256.0) as u8;
        }
    }
    pos_core::uuid_v4(bytes)
}

/// `navigator.onLine`.
pub fn online() -> bool {
    web_sys::window()
        .map(|w| w.navigator().on_line())
        .unwrap_or(false)
}

/// Asks the browser not to evict this origin's storage; resolves to whether it is persistent.
pub async fn ask_persistent_storage() -> bool {
    JsFuture::from(persist_storage())
        .await
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

/// Calls `on_leader` once this tab holds the device-wide sync lock (Web Locks): at once for
/// the first tab, later for the others when the holder closes. Returns false when the
/// browser has no Web Locks (then every tab would push: the caller says so).
pub fn become_leader(on_leader: impl FnOnce() + 'static) -> bool {
    let cb = Closure::once_into_js(on_leader);
    request_leadership("pos-sync-leader", &cb)
}

/// A wake-up call for a sleeping loop: `wait(ms)` returns after `ms` or as soon as
/// `wake()` is called.
#[derive(Clone, Default)]
pub struct Waker {
    resolve: Rc<RefCell<Option<js_sys::Function>>>,
    pending: Rc<RefCell<bool>>,
}

impl Waker {
    /// Wakes the loop now (or makes its next wait return at once).
    pub fn wake(&self) {
        if let Some(f) = self.resolve.borrow_mut().take() {
            let _ = f.call0(&JsValue::NULL);
        } else {
            *self.pending.borrow_mut() = true;
        }
    }

    /// Waits up to `ms`.
    pub async fn wait(&self, ms: f64) {
        if std::mem::take(&mut *self.pending.borrow_mut()) {
            return;
        }
        let slot = self.resolve.clone();
        let promise = Promise::new(&mut |resolve, _| {
            if let Some(w) = web_sys::window() {
                let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(
                    &resolve,
                    ms.clamp(0.0, 2_147_483_647.0) as i32,
                );
            }
            *slot.borrow_mut() = Some(resolve);
        });
        let _ = JsFuture::from(promise).await;
        self.resolve.borrow_mut().take();
    }
}

/// The channel between the till's tabs on this device.
#[derive(Clone)]
pub struct Channel {
    inner: Option<web_sys::BroadcastChannel>,
}

impl Channel {
    /// Opens the channel; `on_message` gets each message other tabs post.
    pub fn open(on_message: impl Fn(String) + 'static) -> Channel {
        let inner = web_sys::BroadcastChannel::new("pos").ok();
        if let Some(ch) = &inner {
            let cb =
                Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
                    if let Some(s) = e.data().as_string() {
                        on_message(s);
                    }
                });
            ch.set_onmessage(Some(cb.as_ref().unchecked_ref()));
            cb.forget();
        }
        Channel { inner }
    }

    /// Tells the other tabs.
    pub fn post(&self, message: &str) {
        if let Some(ch) = &self.inner {
            let _ = ch.post_message(&JsValue::from_str(message));
        }
    }
}

/// A value of `sessionStorage` (per tab, survives a reload of that tab).
pub fn tab_id() -> String {
    let storage = web_sys::window().and_then(|w| w.session_storage().ok().flatten());
    if let Some(s) = &storage {
        if let Ok(Some(id)) = s.get_item("pos-tab") {
            return id;
        }
    }
    let id = new_uuid();
    if let Some(s) = storage {
        let _ = s.set_item("pos-tab", &id);
    }
    id
}

/// Adds a listener on `window` for the page's lifetime.
pub fn on_window(event: &str, f: impl Fn() + 'static) {
    if let Some(w) = web_sys::window() {
        let cb = Closure::<dyn Fn()>::new(f);
        let _ = w.add_event_listener_with_callback(event, cb.as_ref().unchecked_ref());
        cb.forget();
    }
}

/// Whether index.html saw a new release waiting (before the app listened for the event).
pub fn update_waiting() -> bool {
    web_sys::window()
        .and_then(|w| Reflect::get(&w, &JsValue::from_str("__posUpdateReady")).ok())
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

/// Barcode scanners type fast and end with Enter. Keystrokes outside any input field, each
/// within 60 ms of the previous, ending with Enter, are a scan (`on_scan` gets the code), so
/// scanning works whatever has the focus; the barcode field takes the same input typed by hand.
pub fn on_scanner(on_scan: impl Fn(String) + 'static) {
    let Some(w) = web_sys::window() else { return };
    let buffer = Rc::new(RefCell::new((String::new(), 0.0f64)));
    let cb = Closure::<dyn Fn(web_sys::KeyboardEvent)>::new(move |e: web_sys::KeyboardEvent| {
        let in_field = e
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"));
        if in_field {
            return;
        }
        let now = perf_now();
        let mut b = buffer.borrow_mut();
        if now - b.1 > 60.0 {
            b.0.clear();
        }
        b.1 = now;
        let key = e.key();
        if key == "Enter" {
            let code = std::mem::take(&mut b.0);
            if code.len() >= 3 {
                e.prevent_default();
                on_scan(code);
            }
        } else if key.chars().count() == 1 {
            b.0.push_str(&key);
        }
    });
    let _ = w.add_event_listener_with_callback("keydown", cb.as_ref().unchecked_ref());
    cb.forget();
}

/// `performance.now()`.
pub fn perf_now() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now())
        .unwrap_or_else(now_ms)
}

/// Records a measurement the benchmark reads (`window.__posMetrics[name]`, a list).
pub fn metric(name: &str, value: f64) {
    let Some(w) = web_sys::window() else { return };
    let key = JsValue::from_str("__posMetrics");
    let metrics = Reflect::get(&w, &key)
        .ok()
        .filter(|v| v.is_object())
        .unwrap_or_else(|| {
            let o: JsValue = js_sys::Object::new().into();
            let _ = Reflect::set(&w, &key, &o);
            o
        });
    let list = Reflect::get(&metrics, &JsValue::from_str(name))
        .ok()
        .and_then(|v| v.dyn_into::<js_sys::Array>().ok())
        .unwrap_or_else(|| {
            let a = js_sys::Array::new();
            let _ = Reflect::set(&metrics, &JsValue::from_str(name), &a);
            a
        });
    list.push(&JsValue::from_f64(value));
}

/// Opens the print dialog.
pub fn print() {
    if let Some(w) = web_sys::window() {
        let _ = w.print();
    }
}
