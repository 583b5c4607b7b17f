// The till in headless Chromium, measured (run through the e2e runner, which starts the
// stack): `node end2end/run.mjs end2end/bench/pos.bench.mjs` after
// `trunk build --release` (the release bundle is what tablets get).
//
// 1. "Pay" to "Paid" with the order durable in IndexedDB: 100 offline sales, the app's own
//    measure from the Validate tap to the strict-durability transaction's `complete`
//    (p50, p95; target p95 < 50 ms), against a bare IndexedDB `put` of a record of the same
//    size in the same page (default durability), measured in the same run.
// 2. Offline cold start to an interactive till: a new browser process on the tablet's
//    profile, no network, from the navigation's start to the product grid (5 runs; median),
//    against the time to the app's first instruction (the shell loaded from the service
//    worker) in the same runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { profileContext } from '../lib/browser.mjs';
import { posTenant, signInAndOpen } from '../lib/pos.mjs';

const pct = (v, p) => {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const ms = (x) => `${x.toFixed(1)} ms`;

test('POS benchmark: Pay to Paid, offline cold start', async () => {
  const t = await posTenant('bench');
  let { context, dir } = await profileContext();
  try {
    const page = await context.newPage();
    await signInAndOpen(page, t);
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
    await context.setOffline(true);

    // 1. Pay → Paid.
    for (let i = 0; i < 105; i += 1) {
      await page.click('.grid .product:has-text("E2E Espresso")');
      await page.click('.grid .product:has-text("E2E Bagel")');
      await page.click('[data-test=pay]');
      await page.click('.methods .method[data-method="Cash"]');
      await page.click('[data-test=validate]');
      await page.waitForSelector('#paid');
      await page.click('[data-test=new-order]');
      await page.waitForSelector('.grid .product');
    }
    const paid = (await page.evaluate(() => window.__posMetrics.pay_to_paid_ms)).slice(5); // 5 warm-up sales
    const recordSize = await page.evaluate(async () => {
      const db = await new Promise((res, rej) => { const r = indexedDB.open('pos'); r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
      const all = await new Promise((res) => { const r = db.transaction('orders').objectStore('orders').getAll(); r.onsuccess = () => res(r.result); });
      db.close();
      return all[0].json.length;
    });
    const baseline = await page.evaluate(async (size) => {
      const db = await new Promise((res, rej) => {
        const r = indexedDB.open(`bench-${Date.now()}`, 1);
        r.onupgradeneeded = () => r.result.createObjectStore('s', { keyPath: 'k' });
        r.onsuccess = () => res(r.result);
        r.onerror = () => rej(r.error);
      });
      const out = [];
      for (let i = 0; i < 105; i += 1) {
        const t0 = performance.now();
        await new Promise((res, rej) => {
          const tx = db.transaction('s', 'readwrite');
          tx.objectStore('s').put({ k: i, json: 'x'.repeat(size) });
          tx.oncomplete = res;
          tx.onerror = () => rej(tx.error);
        });
        out.push(performance.now() - t0);
      }
      const name = db.name;
      db.close();
      indexedDB.deleteDatabase(name);
      return out.slice(5);
    }, recordSize);

    // 2. Offline cold starts.
    await context.close();
    const cold = [];
    const shell = [];
    const external = [];
    for (let i = 0; i < 5; i += 1) {
      ({ context } = await profileContext(dir));
      await context.setOffline(true);
      const p = context.pages()[0] ?? (await context.newPage());
      const t0 = Date.now();
      await p.goto(t.url);
      await p.waitForSelector('.grid .product', { timeout: 30000 });
      external.push(Date.now() - t0);
      const m = await p.evaluate(() => window.__posMetrics);
      cold.push(m.cold_start_to_till_ms[0]);
      shell.push(m.wasm_start_ms[0]);
      await context.close();
    }
    const median = (v) => pct(v, 50);

    console.log('\nPOS in headless Chromium (release bundle)');
    console.log(`  Pay → Paid, durable (100 sales): p50 ${ms(pct(paid, 50))}, p95 ${ms(pct(paid, 95))}, max ${ms(Math.max(...paid))}; target p95 < 50 ms: ${pct(paid, 95) < 50 ? 'met' : 'MISSED'}`);
    console.log(`    baseline, a bare IndexedDB put of ${recordSize} bytes: p50 ${ms(pct(baseline, 50))}, p95 ${ms(pct(baseline, 95))}; ratio p95 ${(pct(paid, 95) / pct(baseline, 95)).toFixed(1)}×`);
    console.log(`  offline cold start to an interactive till (5 runs): median ${ms(median(cold))} (wall clock to the grid ${ms(median(external))})`);
    console.log(`    baseline, navigation to the app's first instruction (shell from the service worker): median ${ms(median(shell))}; ratio ${(median(cold) / median(shell)).toFixed(2)}×`);
    assert.equal(paid.length, 100);
  } finally {
    await context.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
});
