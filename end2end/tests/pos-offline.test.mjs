// The POS PWA: its service worker registers, caches the app shell, and the app reloads
// and starts while the browser is offline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_URL, freshContext, screenshot } from '../lib/browser.mjs';

test('/pos/ registers its service worker and reloads from cache while offline', async () => {
  const { context, errors } = await freshContext();
  try {
    const page = await context.newPage();
    await page.goto(BASE_URL + '/pos/');
    await page.waitForSelector('#pos-app[data-ready="true"]', { timeout: 20000 });
    const state = await page.evaluate(async () => {
      // `ready` resolves once a worker is active, which may still be 'activating' (its
      // activate handler running): wait for the end of that, with a bound.
      const registration = await navigator.serviceWorker.ready;
      const worker = registration.active;
      if (worker && worker.state === 'activating') {
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, 10000);
          worker.addEventListener('statechange', () => {
            if (worker.state !== 'activating') { clearTimeout(timer); resolve(); }
          });
        });
      }
      return { scope: registration.scope, state: worker && worker.state };
    });
    assert.equal(state.scope, BASE_URL + '/pos/');
    assert.equal(state.state, 'activated');
    // The shell is cached at install time (no second online load needed).
    const cached = await page.evaluate(async () => {
      const names = (await caches.keys()).filter((n) => n.startsWith('pos-shell-'));
      if (names.length !== 1) return names;
      const cache = await caches.open(names[0]);
      return (await cache.keys()).map((r) => new URL(r.url).pathname);
    });
    assert.ok(cached.some((p) => p.endsWith('.wasm')), `wasm cached: ${cached}`);
    assert.ok(cached.some((p) => p.endsWith('.js')), `js cached: ${cached}`);
    assert.ok(cached.some((p) => p.includes('/snippets/')), `wasm-bindgen snippets cached: ${cached}`);
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 10000 });

    await context.setOffline(true);
    const response = await page.reload();
    assert.ok(response, 'the offline reload produced a response');
    assert.ok(response.fromServiceWorker(), 'the page came from the service worker');
    await page.waitForSelector('#pos-app[data-ready="true"]', { timeout: 20000 });
    assert.equal((await page.textContent('#connectivity')).trim(), 'Offline');
    await screenshot(page, 'pos-offline');

    // A brand-new tab opened while offline starts too.
    const second = await context.newPage();
    await second.goto(BASE_URL + '/pos/');
    await second.waitForSelector('#pos-app[data-ready="true"]', { timeout: 20000 });

    await context.setOffline(false);
    await page.reload();
    await page.waitForSelector('#connectivity:has-text("Online")', { timeout: 10000 });
    assert.deepEqual(errors, [], 'no uncaught errors in the page');
  } finally {
    await context.close();
  }
});

test('/pos redirects to /pos/ so the service worker scope covers the page', async () => {
  const response = await fetch(BASE_URL + '/pos', { redirect: 'manual' });
  assert.equal(response.status, 308);
  assert.equal(response.headers.get('location'), '/pos/');
  const sw = await fetch(BASE_URL + '/pos/sw.js');
  assert.equal(sw.status, 200);
  assert.equal(sw.headers.get('cache-control'), 'no-cache');
  const manifest = await (await fetch(BASE_URL + '/pos/manifest.json')).json();
  assert.equal(manifest.start_url, '/pos/');
  assert.ok(manifest.icons.length >= 2);
});
