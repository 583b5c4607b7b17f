// The session's end and the app's updates: closing the session with the counted cash (the
// difference shown) once every order reached Odoo; a new release of the till offered as
// "new version, reload", never applied by itself while a sale is open.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freshContext, screenshot } from '../lib/browser.mjs';
import { posTenant, signInAndOpen, sell, waitAllSent, sql, ordersByUuid } from '../lib/pos.mjs';

test('closing the session: waiting orders first, then the counted cash and its difference', async () => {
  const t = await posTenant('close');
  const { context } = await freshContext();
  try {
    const page = await context.newPage();
    await signInAndOpen(page, t, { openingCash: '50' });
    await context.setOffline(true);
    const a = await sell(page, ['E2E Espresso', 'E2E Bagel'], [['Cash', '10']]);
    await sell(page, ['E2E Juice'], [['Card']]);
    await page.click('[data-test=nav-close]');
    // Offline, with orders waiting: not yet.
    await page.waitForSelector('#notice:has-text("Closing the session needs the network")');
    assert.ok(await page.isDisabled('[data-test=close-session]'));
    await context.setOffline(false);
    await waitAllSent(page);
    await page.click('[data-test=nav-sell]');
    await page.click('[data-test=nav-close]');
    // Opening 50 + cash sales 6.27 = 56.27 expected.
    await page.waitForSelector('#expected-cash');
    assert.equal(a.total.toFixed(2), '6.27');
    assert.match(await page.textContent('#expected-cash'), /56\.27/);
    await page.fill('input[name=counted-cash]', '55');
    await page.waitForSelector('#cash-difference.warn');
    assert.match(await page.textContent('#cash-difference'), /-1\.27/);
    await screenshot(page, 'pos-close');
    await page.fill('input[name=closing-notes]', 'short by 1.27');
    await page.click('[data-test=close-session]');
    await page.waitForSelector('[data-test=open-shop]', { timeout: 20000 });
    const [[state, counted]] = sql(t.db, `SELECT state, cash_register_balance_end_real FROM pos_session WHERE config_id = ${t.config.id} ORDER BY id DESC LIMIT 1`);
    assert.equal(state, 'closed');
    assert.equal(Number(counted), 55);
  } finally {
    await context.close();
  }
});

test('a new release is offered as "reload", and never applied by itself while a sale is open', async () => {
  const t = await posTenant('update');
  const dist = process.env.POS_DIST_DIR ?? 'target/pos-dist';
  const swPath = join(dist, 'sw.js');
  const original = readFileSync(swPath, 'utf8');
  const { context, errors } = await freshContext();
  try {
    const page = await context.newPage();
    await signInAndOpen(page, t);
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
    const before = await page.evaluate(async () => (await caches.keys()).filter((n) => n.startsWith('pos-shell-')));
    // A sale is open.
    await page.click('.grid .product:has-text("E2E Juice")');
    await page.evaluate(() => { window.__sameDocument = true; });
    // A new release is deployed; the tablet's periodic check finds it.
    writeFileSync(swPath, original.replace(/const VERSION = '([^']+)'/, "const VERSION = '$1-next'"));
    await page.evaluate(async () => (await navigator.serviceWorker.getRegistration()).update());
    await page.waitForSelector('#update-banner:has-text("Finish the current sale")', { timeout: 20000 });
    assert.equal(await page.locator('#reload').count(), 0, 'no reload offered mid-sale');
    await page.waitForTimeout(2000);
    assert.ok(await page.evaluate(() => window.__sameDocument === true), 'the page did not reload by itself');
    // The sale ends: now the cashier may reload.
    await page.click('[data-test=pay]');
    await page.click('.methods .method[data-method="Cash"]');
    await page.click('[data-test=validate]');
    await page.waitForSelector('#paid');
    await page.click('[data-test=new-order]');
    await page.waitForSelector('#reload');
    await Promise.all([page.waitForEvent('load'), page.click('#reload')]);
    await page.waitForSelector('.grid .product', { timeout: 30000 });
    assert.ok(await page.evaluate(() => window.__sameDocument === undefined), 'reloaded');
    const after = await page.evaluate(async () => (await caches.keys()).filter((n) => n.startsWith('pos-shell-')));
    assert.equal(after.length, 1);
    assert.notDeepEqual(after, before, 'the new release\'s cache replaced the old one');
    assert.ok(after[0].endsWith('-next'));
    await waitAllSent(page);
    assert.deepEqual(errors, []);
  } finally {
    writeFileSync(swPath, original);
    await context.close();
  }
});

test('a session closed in Odoo while the tablet sold offline: the orders are refused with Odoo\'s reason, and go once the shop is open again', async () => {
  const t = await posTenant('rescue');
  const { context } = await freshContext();
  try {
    const page = await context.newPage();
    await signInAndOpen(page, t);
    await context.setOffline(true);
    const a = await sell(page, ['E2E Espresso'], [['Cash']]);
    const b = await sell(page, ['E2E Bagel'], [['Card']]);
    // A manager closes the session in Odoo meanwhile.
    const [[sid]] = sql(t.db, `SELECT id FROM pos_session WHERE config_id = ${t.config.id} AND state = 'opened'`);
    await t.odoo.call('pos.session', 'update_closing_control_state_session', [[Number(sid)], '']);
    await t.odoo.call('pos.session', 'close_session_from_ui', [[Number(sid)], []]);
    await context.setOffline(false);
    await page.waitForSelector('#refused:has-text("2 refused")', { timeout: 30000 });
    await page.click('#refused');
    assert.match(await page.textContent(`tr[data-uuid="${a.uuid}"] .reason`), /No open session available\. Please open a new session to capture the order\./);
    assert.equal(ordersByUuid(t.db, [a.uuid, b.uuid]).length, 0);
    // Open the shop again (a new session), then retry: Odoo puts the orders in it.
    await page.click('[data-test=nav-close]');
    await page.click('[data-test=change-shop]');
    await page.click('[data-test=open-shop]');
    await page.fill('input[name=opening-cash]', '0');
    await page.click('[data-test=open-session]');
    await page.waitForSelector('.grid .product');
    await page.click('[data-test=nav-orders]');
    for (const o of [a, b]) {
      await page.click(`tr[data-uuid="${o.uuid}"] [data-test=retry]`);
      await page.waitForSelector(`tr[data-uuid="${o.uuid}"][data-status="synced"]`, { timeout: 30000 });
    }
    const rows = sql(t.db, `SELECT o.uuid, s.state FROM pos_order o JOIN pos_session s ON s.id = o.session_id WHERE o.uuid IN ('${a.uuid}', '${b.uuid}')`);
    assert.equal(rows.length, 2);
    assert.ok(rows.every(([, state]) => state === 'opened'), 'in the new session');
  } finally {
    await context.close();
  }
});
