//! The point-of-sale till: a Trunk-built wasm app (Leptos, client-side rendered) that sells
//! with no network and sends every order to the tenant's Odoo exactly once.
//!
//! - [`till`]: the state and what the cashier's actions do (sign-in, session, selling,
//!   payment, the sync loop, closing);
//! - [`idb`]: IndexedDB, shared by the device's tabs;
//! - [`browser`]: Web Locks, the channel between tabs, time, randomness;
//! - [`ui`]: the screens.
//!
//! The logic that needs no browser (taxes, totals, the sync engine) is `pos-core`.

mod browser;
mod idb;
mod till;
mod ui;

use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = r#"
export function apply_update() {
  // index.html keeps the waiting worker; it reloads once the new one controls the page.
  if (window.__posApplyUpdate) window.__posApplyUpdate(); else location.reload();
}
"#)]
extern "C" {
    fn apply_update();
}

fn main() {
    // From the navigation's start to the app's first instruction (the shell loaded).
    browser::metric("wasm_start_ms", browser::perf_now());
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(ui::App);
}
