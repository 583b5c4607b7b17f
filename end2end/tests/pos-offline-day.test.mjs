// A day without network: the till starts cold with no network (from its service worker and
// IndexedDB), sells 50 orders with a reload in the middle, the browser is closed and opened
// again on the same profile with the orders still waiting, and when the network comes back
// exactly those 50 orders are in the tenant's database, with the totals the screen showed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { profileContext, screenshot } from '../lib/browser.mjs';
import { posTenant, signInAndOpen, sell, waitAllSent, ordersByUuid } from '../lib/pos.mjs';

const BASKETS = [
  [['E2E Espresso'], [['Cash']]],
  [['E2E Bagel', 'E2E Juice'], [['Card']]],
  [['E2E Espresso', 'E2E Espresso', 'E2E Bagel'], [['Cash', '20']]],
  [['E2E Juice'], [['Card', '1'], ['Cash']]],
  [['E2E Bagel'], [['Cash', '5']]],
];

async function openTill(context, url) {
  const page = context.pages()[0] ?? (await context.newPage());
  await context.setOffline(true);
  const response = await page.goto(url);
  assert.ok(response && response.fromServiceWorker(), 'the till came from the service worker');
  await page.waitForSelector('.grid .product', { timeout: 30000 });
  assert.equal((await page.textContent('#connectivity')).trim(), 'Offline');
  return page;
}

test('50 orders sold offline from a cold start, a reload and a browser restart in the middle, then synced exactly once', async () => {
  const t = await posTenant('day');
  let { context, dir } = await profileContext();
  const sold = [];
  try {
    // The one online moment: sign in and open the shop (the app shell and catalogue stay).
    const first = await context.newPage();
    await signInAndOpen(first, t);
    await first.waitForFunction(() => navigator.serviceWorker.controller !== null);
    await context.close();

    // Cold start with no network.
    ({ context } = await profileContext(dir));
    let page = await openTill(context, t.url);
    const cold = await page.evaluate(() => window.__posMetrics?.cold_start_to_till_ms?.[0]);
    assert.ok(cold > 0, 'cold start measured');

    for (let i = 0; i < 25; i += 1) {
      const [names, payments] = BASKETS[i % BASKETS.length];
      sold.push(await sell(page, names, payments));
    }
    // A reload in the middle of the day, still offline.
    const reloaded = await page.reload();
    assert.ok(reloaded.fromServiceWorker());
    await page.waitForSelector('#queue[data-waiting="25"]', { timeout: 20000 });
    for (let i = 25; i < 50; i += 1) {
      const [names, payments] = BASKETS[i % BASKETS.length];
      sold.push(await sell(page, names, payments));
    }
    await page.waitForSelector('#queue[data-waiting="50"]');
    await page.click('[data-test=nav-orders]');
    await page.waitForSelector('tr[data-status="waiting"]');
    assert.equal(await page.locator('tr[data-status="waiting"]').count(), 50);
    await screenshot(page, 'pos-offline-50-waiting');

    // The browser is closed and opened again: the waiting orders are still there.
    await context.close();
    ({ context } = await profileContext(dir));
    page = await openTill(context, t.url);
    await page.waitForSelector('#queue[data-waiting="50"]', { timeout: 20000 });
    assert.equal(ordersByUuid(t.db, sold.map((s) => s.uuid)).length, 0, 'nothing reached Odoo while offline');

    // The network returns.
    await context.setOffline(false);
    await waitAllSent(page, 120000);
    const rows = ordersByUuid(t.db, sold.map((s) => s.uuid));
    assert.equal(new Set(sold.map((s) => s.uuid)).size, 50);
    assert.equal(rows.length, 50, 'exactly 50 orders, each once');
    for (const s of sold) {
      const row = rows.find((r) => r.uuid === s.uuid);
      assert.equal(row.amount_total, s.total, `the total the screen showed for ${s.uuid}`);
      assert.equal(s.shown.replace(/[^0-9.]/g, ''), s.total.toFixed(2));
    }
    const refs = new Set(rows.map((r) => r.pos_reference));
    assert.equal(refs.size, 50, 'distinct references');
    await page.click('[data-test=nav-orders]');
    await page.waitForFunction(() => document.querySelectorAll('tr[data-status="synced"]').length === 50);
  } finally {
    await context.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
