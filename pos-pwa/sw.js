// POS service worker: keeps the app shell (HTML, wasm, JS glue, CSS, icons) so the till
// starts and reloads with no network. JSON-RPC calls to Odoo are never cached.
'use strict';

const SHELL_CACHE = 'pos-shell-v1';
const SCOPE = new URL(self.registration.scope).pathname; // "/pos/"

// Trunk hashes the wasm/js/css names, so the shell list is read from index.html itself.
async function shellUrls() {
  const response = await fetch(SCOPE, { cache: 'no-store' });
  const html = await response.text();
  const urls = new Set([SCOPE, SCOPE + 'manifest.json']);
  const pattern = new RegExp(SCOPE.replace(/\//g, '\\/') + '[^"\'\\s)]+', 'g');
  for (const match of html.matchAll(pattern)) {
    if (!match[0].endsWith('sw.js')) urls.add(match[0]);
  }
  return { urls: [...urls], index: response };
}

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(SHELL_CACHE);
    const { urls } = await shellUrls();
    await cache.addAll(urls);
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name !== SHELL_CACHE) await caches.delete(name);
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
    // Network first so a new release is picked up; the cached shell when offline.
    event.respondWith((async () => {
      const cache = await caches.open(SHELL_CACHE);
      try {
        const fresh = await fetch(request);
        if (fresh.ok) await cache.put(SCOPE, fresh.clone());
        return fresh;
      } catch (_) {
        return (await cache.match(SCOPE)) || Response.error();
      }
    })());
    return;
  }
  // Assets: cache first (their names change with their content), then network.
  event.respondWith((async () => {
    const cache = await caches.open(SHELL_CACHE);
    const cached = await cache.match(request);
    if (cached) return cached;
    const fresh = await fetch(request);
    if (fresh.ok) await cache.put(request, fresh.clone());
    return fresh;
  })());
});
