// POS service worker: keeps the app shell (HTML, wasm, JS glue, CSS, icons) of one release
// in a versioned cache, so the till starts and reloads with no network, and a new release
// waits until the cashier chooses to reload (never in the middle of a sale).
// Odoo's JSON-RPC and /pos/tenant.json are never cached.
'use strict';

// Replaced at build time by a hash of the release's files (pos-pwa/stamp-sw.mjs, a Trunk
// post_build hook), so every release is a new worker the browser installs beside the old.
const VERSION = '__POS_BUILD__';
const PREFIX = 'pos-shell-';
const SHELL_CACHE = PREFIX + VERSION;
const SCOPE = new URL(self.registration.scope).pathname; // "/pos/"

// Trunk hashes the wasm/js/css names, so the shell list is read from index.html itself.
async function shellUrls() {
  const response = await fetch(SCOPE, { cache: 'no-store' });
  if (!response.ok) throw new Error(`index.html: HTTP ${response.status}`);
  const html = await response.text();
  const urls = new Set([SCOPE, SCOPE + 'manifest.json', SCOPE + 'icons/icon-192.png', SCOPE + 'icons/icon-512.png']);
  const pattern = new RegExp(SCOPE.replace(/\//g, '\\/') + '[^"\'\\s)]+', 'g');
  for (const match of html.matchAll(pattern)) {
    if (!match[0].endsWith('sw.js')) urls.add(match[0]);
  }
  // wasm-bindgen snippets are imported by the JS glue, not named in index.html.
  const glue = [...urls].find((u) => u.endsWith('.js') && !u.includes('/snippets/'));
  if (glue) {
    const js = await (await fetch(glue, { cache: 'no-store' })).text();
    for (const m of js.matchAll(/['"]\.\/(snippets\/[^'"]+)['"]/g)) urls.add(SCOPE + m[1]);
  }
  return [...urls];
}

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(SHELL_CACHE);
    await cache.addAll(await shellUrls());
    // The very first install takes over at once (so the first visit is enough to start
    // offline); an update waits for the page's "Reload".
    if (!self.registration.active) await self.skipWaiting();
  })());
});

self.addEventListener('message', (event) => {
  if (event.data === 'SKIP_WAITING') self.skipWaiting();
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith(PREFIX) && name !== SHELL_CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin || !url.pathname.startsWith(SCOPE)) {
    return; // not ours: Odoo's JSON-RPC and everything else go straight to the network
  }
  if (request.mode === 'navigate') {
    // This release's shell, from the cache: the page and its assets always match, online
    // or not. A new release arrives as a new worker (the browser checks sw.js on
    // navigation) and shows "new version, reload".
    event.respondWith((async () => {
      const cache = await caches.open(SHELL_CACHE);
      const cached = await cache.match(SCOPE);
      if (cached) return cached;
      return fetch(request);
    })());
    return;
  }
  event.respondWith((async () => {
    const cache = await caches.open(SHELL_CACHE);
    const cached = await cache.match(request, { ignoreSearch: true });
    return cached || fetch(request);
  })());
});
