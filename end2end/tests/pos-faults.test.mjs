// Faults on the way to Odoo, and bad input: the answer to a committed push lost on the
// way back, 502s from the proxy, an order Odoo refuses while the others sync (and its
// retry once the cause is fixed), an expired Odoo session, a user without Point of Sale
// rights, a product archived and a price changed while the tablet was offline, a device
// whose storage fails. Each time: a clear message, and no order lost or created twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freshContext, screenshot } from '../lib/browser.mjs';
import { posTenant, signInAndOpen, sell, waitAllSent, ordersByUuid, sql } from '../lib/pos.mjs';

const SYNC = '**/web/dataset/call_kw/pos.order/sync_from_ui';

function pushedUuids(request) {
  try {
    return (request.postDataJSON()?.params?.args?.[0] ?? []).map((o) => o.uuid);
  } catch {
    return [];
  }
}

test('an answer lost after Odoo committed, then 502s: retried, no order twice; a refused order shows Odoo\'s reason while the others sync', async () => {
  const t = await posTenant('faults');
  const { context, errors } = await freshContext();
  try {
    const page = await context.newPage();
    await signInAndOpen(page, t);

    // 1. Three orders offline; the first push reaches Odoo (which commits) but the answer
    //    is lost, then the proxy answers 502 four times.
    await context.setOffline(true);
    const first = [];
    for (const names of [['E2E Espresso'], ['E2E Bagel'], ['E2E Juice', 'E2E Espresso']]) {
      first.push(await sell(page, names, [['Cash']]));
    }
    let calls = 0;
    const seen = [];
    await page.route(SYNC, async (route) => {
      calls += 1;
      seen.push(pushedUuids(route.request()));
      if (calls === 1) {
        // Odoo processes and commits the batch... (Node does not resolve *.localhost as
        // Chromium does: the same request goes to loopback with the tenant's Host.)
        const u = new URL(route.request().url());
        await route.fetch({ url: `http://127.0.0.1:${u.port}${u.pathname}`, headers: { ...route.request().headers(), host: u.host } });
        await route.abort('connectionreset'); // ...and the tablet never hears back.
      } else if (calls <= 5) {
        await route.fulfill({ status: 502, contentType: 'text/plain', body: 'Bad Gateway' });
      } else {
        await route.continue();
      }
    });
    await context.setOffline(false);
    await page.waitForSelector('#offline-banner:has-text("HTTP 502")', { timeout: 30000 });
    await screenshot(page, 'pos-502');
    await waitAllSent(page, 60000);
    assert.ok(calls >= 6, `retried (${calls} calls)`);
    assert.deepEqual(seen[0].sort(), first.map((o) => o.uuid).sort(), 'the lost batch was the three orders');
    const rows = ordersByUuid(t.db, first.map((o) => o.uuid));
    assert.equal(rows.length, 3, 'each order once, though pushed several times');
    for (const o of first) assert.equal(rows.find((r) => r.uuid === o.uuid).amount_total, o.total);
    await page.unroute(SYNC);

    // 2. Offline again: four orders, one paid by card; meanwhile a manager removes Card
    //    from the shop in Odoo (as its settings do, with the session open).
    await context.setOffline(true);
    const second = [];
    second.push(await sell(page, ['E2E Bagel'], [['Cash']]));
    const byCard = await sell(page, ['E2E Juice'], [['Card']]);
    second.push(byCard);
    second.push(await sell(page, ['E2E Espresso'], [['Cash', '10']]));
    second.push(await sell(page, ['E2E Espresso', 'E2E Bagel'], [['Cash']]));
    await t.odoo.call('pos.config', 'write', [[t.config.id], { payment_method_ids: [[3, t.card.id]] }],
      { context: { bypass_payment_method_ids_forbidden_change: true } });
    await context.setOffline(false);
    await page.waitForSelector('#refused:has-text("1 refused")', { timeout: 30000 });
    await waitAllSent(page);
    const synced = ordersByUuid(t.db, second.map((o) => o.uuid));
    assert.deepEqual(synced.map((r) => r.uuid).sort(), second.filter((o) => o !== byCard).map((o) => o.uuid).sort());
    await page.click('#refused');
    const row = page.locator(`tr[data-uuid="${byCard.uuid}"]`);
    await row.waitFor();
    assert.equal(await row.getAttribute('data-status'), 'refused');
    assert.match(await row.locator('.reason').textContent(), /The payment method selected is not allowed in the config of the POS session\./);
    await screenshot(page, 'pos-refused');

    // The manager puts Card back; the cashier retries the refused order.
    await t.odoo.call('pos.config', 'write', [[t.config.id], { payment_method_ids: [[4, t.card.id]] }],
      { context: { bypass_payment_method_ids_forbidden_change: true } });
    await row.locator('[data-test=retry]').click();
    await page.waitForSelector(`tr[data-uuid="${byCard.uuid}"][data-status="synced"]`, { timeout: 30000 });
    assert.equal(ordersByUuid(t.db, [byCard.uuid]).length, 1);
    const all = sql(t.db, 'SELECT count(*), count(DISTINCT uuid) FROM pos_order');
    assert.deepEqual(all, [['7', '7']], 'seven orders in Odoo, no duplicate');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('an expired Odoo session asks to sign in again and loses nothing; a user without POS rights is told why', async () => {
  const t = await posTenant('expiry');
  const { context } = await freshContext();
  try {
    const page = await context.newPage();
    await signInAndOpen(page, t);
    // Odoo forgets the session (expiry, or a manager logging the user out).
    await page.evaluate(() => fetch('/web/session/destroy', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', method: 'call', id: 1, params: {} }),
    }));
    const a = await sell(page, ['E2E Espresso'], [['Cash']]);
    const b = await sell(page, ['E2E Bagel'], [['Card']]);
    await page.waitForSelector('#signin-banner', { timeout: 30000 });
    assert.equal(await page.getAttribute('#queue', 'data-waiting'), '2');
    assert.equal(ordersByUuid(t.db, [a.uuid, b.uuid]).length, 0);
    // Selling goes on meanwhile.
    const c = await sell(page, ['E2E Juice'], [['Cash']]);
    await page.click('#signin-banner button');
    await page.fill('input[name=password]', t.owner.password);
    await page.click('form.signin button[type=submit]');
    await page.waitForSelector('.grid .product');
    await waitAllSent(page, 30000);
    assert.equal(ordersByUuid(t.db, [a.uuid, b.uuid, c.uuid]).length, 3);

    // A user without Point of Sale rights.
    const clerkPassword = 'clerk-pw-123';
    await t.odoo.call('res.users', 'create', [{ name: 'Clerk', login: 'clerk@example.com', password: clerkPassword }]);
    // Another device, signed in as the clerk.
    const { context: fresh } = await freshContext();
    try {
      const p = await fresh.newPage();
      await p.goto(t.url);
      await p.waitForSelector('form.signin');
      await p.fill('input[name=login]', 'clerk@example.com');
      await p.fill('input[name=password]', clerkPassword);
      await p.click('form.signin button[type=submit]');
      await p.waitForSelector('#notice:has-text("may not use the Point of Sale")');
      assert.match(await p.textContent('#notice'), /Clerk may not use the Point of Sale/);
    } finally {
      await fresh.close();
    }
  } finally {
    await context.close();
  }
});

test('a product archived and a price changed while offline: the order sold keeps its price, the cashier is told, the archived product cannot be paid', async () => {
  const t = await posTenant('catalogue');
  const { context } = await freshContext();
  try {
    const page = await context.newPage();
    await signInAndOpen(page, t);
    await context.setOffline(true);
    const offline = await sell(page, ['E2E Espresso'], [['Cash']]);
    assert.equal(offline.total, 2.7); // 2.35 + 15%
    await page.click('.grid .product:has-text("E2E Bagel")');
    // In Odoo, meanwhile: the bagel is archived, the espresso costs 2.60.
    const tmpl = async (name) => (await t.odoo.call('product.product', 'search_read', [[['name', '=', name]]], { fields: ['product_tmpl_id'] }))[0].product_tmpl_id[0];
    await t.odoo.call('product.template', 'write', [[await tmpl('E2E Espresso')], { list_price: 2.6 }]);
    await t.odoo.call('product.template', 'write', [[await tmpl('E2E Bagel')], { active: false }]);
    await context.setOffline(false);
    await page.waitForSelector('#notice:has-text("New prices from Odoo")', { timeout: 30000 });
    const notice = await page.textContent('#notice');
    assert.match(notice, /E2E Espresso \$\s2\.35 → \$\s2\.60/);
    assert.match(notice, /No longer sold \(archived in Odoo\): E2E Bagel/);
    await page.waitForSelector('.cart .line.gone');
    await page.click('[data-test=pay]');
    await page.click('.methods .method[data-method="Cash"]');
    await page.click('[data-test=validate]');
    await page.waitForSelector('#notice:has-text("E2E Bagel is no longer sold in Odoo: remove it from the order.")');
    await page.click('button:has-text("Back")');
    await page.click('.cart .line.gone');
    await page.click('[data-test=remove-line]');
    const online = await sell(page, ['E2E Espresso'], [['Cash']]);
    assert.equal(online.total, 2.99); // 2.60 + 15%
    await waitAllSent(page);
    const rows = ordersByUuid(t.db, [offline.uuid, online.uuid]);
    assert.equal(rows.find((r) => r.uuid === offline.uuid).amount_total, 2.7, 'the offline sale keeps the price the customer paid');
    assert.equal(rows.find((r) => r.uuid === online.uuid).amount_total, 2.99);
  } finally {
    await context.close();
  }
});

test('storage that fails: a private window cannot sell; a full disk refuses to say "Paid" and keeps the order', async () => {
  const t = await posTenant('storage');
  // A browser whose IndexedDB refuses to open (as private modes and blocked storage do).
  const { context: blocked } = await freshContext();
  try {
    await blocked.addInitScript(() => {
      IDBFactory.prototype.open = function () {
        throw new DOMException('The user denied permission to access the database.', 'SecurityError');
      };
    });
    const page = await blocked.newPage();
    await page.goto(t.url);
    await page.waitForSelector('.fatal');
    assert.match(await page.textContent('.fatal'), /Private windows cannot be used/);
  } finally {
    await blocked.close();
  }

  const { context } = await freshContext();
  try {
    await context.addInitScript(() => {
      const add = IDBObjectStore.prototype.add;
      IDBObjectStore.prototype.add = function (...args) {
        if (window.__diskFull && this.name === 'orders') throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
        return add.apply(this, args);
      };
    });
    const page = await context.newPage();
    await signInAndOpen(page, t);
    await page.evaluate(() => { window.__diskFull = true; });
    await page.click('.grid .product:has-text("E2E Juice")');
    await page.click('[data-test=pay]');
    await page.click('.methods .method[data-method="Cash"]');
    await page.click('[data-test=validate]');
    await page.waitForSelector('#notice:has-text("storage is full")');
    assert.equal(await page.locator('#paid').count(), 0, 'never "Paid" for an order that is not saved');
    // Space is freed: the same order is paid and saved.
    await page.evaluate(() => { window.__diskFull = false; });
    await page.click('[data-test=validate]');
    await page.waitForSelector('#paid');
    const uuid = await page.getAttribute('#receipt', 'data-uuid');
    await waitAllSent(page);
    assert.equal(ordersByUuid(t.db, [uuid]).length, 1);
  } finally {
    await context.close();
  }
});
