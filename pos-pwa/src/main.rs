//! The point-of-sale app: a Trunk-built wasm app that starts with no network.
//!
//! This first version is the app shell: it renders, shows whether the tablet is online,
//! and relies on `sw.js` to start from cache when offline.

use leptos::prelude::*;
use wasm_bindgen::prelude::*;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(PosApp);
}

fn navigator_online() -> bool {
    web_sys::window()
        .map(|w| w.navigator().on_line())
        .unwrap_or(false)
}

/// The app shell: header with connectivity, and the (for now empty) order screen.
#[component]
fn PosApp() -> impl IntoView {
    let online = RwSignal::new(navigator_online());
    if let Some(window) = web_sys::window() {
        for event in ["online", "offline"] {
            let handler = Closure::<dyn Fn()>::new(move || online.set(navigator_online()));
            let _ =
                window.add_event_listener_with_callback(event, handler.as_ref().unchecked_ref());
            // The listener lives as long as the page.
            handler.forget();
        }
    }
    view! {
        <div id="pos-app" class="pos" data-ready="true">
            <header class="pos-header">
                <h1>"Point of Sale"</h1>
                <span
                    id="connectivity"
                    class=move || if online.get() { "badge online" } else { "badge offline" }
                    role="status"
                >
                    {move || if online.get() { "Online" } else { "Offline" }}
                </span>
            </header>
            <main class="pos-main">
                <p>"Sign in to your shop to load the catalogue. Orders are kept on this device until they reach Odoo."</p>
            </main>
        </div>
    }
}
