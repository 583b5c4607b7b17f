// Several tabs and several devices: two tabs of one tablet sell offline at once and share
// one queue, one tab pushes (Web Locks) and every order reaches Odoo once; two tablets in one
// session number their orders apart (each takes its own login number from the session).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freshContext } from '../lib/browser.mjs';
import { posTenant, signInAndOpen, sell, waitAllSent, waitForLeader, ordersByUuid } from '../lib/pos.mjs';

const SYNC = '/web/dataset/call_kw/pos.order/sync_from_ui';

function watchPushes(page, name, log) {
  page.on('request', (r) => {
    if (!r.url().endsWith(SYNC)) return;
    let uuids = [];
    try { uuids = (r.postDataJSON()?.params?.args?.[0] ?? []).map((o) => o.uuid); } catch { /* not JSON */ }
    log.push({ tab: name, uuids });
  });
}

test('two tabs selling offline at once, then online: one tab pushes, every order once, none pushed twice', async () => {
  const t = await posTenant('tabs');
  const { context, errors } = await freshContext();
  try {
    const one = await context.newPage();
    await signInAndOpen(one, t);
    const two = await context.newPage();
    await two.goto(t.url);
    await two.waitForSelector('.grid .product', { timeout: 30000 });
    const pushes = [];
    watchPushes(one, 'one', pushes);
    watchPushes(two, 'two', pushes);

    await context.setOffline(true);
    const sellMany = async (page, names) => {
      const out = [];
      for (let i = 0; i < 10; i += 1) out.push(await sell(page, [names[i % names.length]], [[i % 2 ? 'Card' : 'Cash']]));
      return out;
    };
    // At the same time, in both tabs.
    const [a, b] = await Promise.all([
      sellMany(one, ['E2E Espresso', 'E2E Bagel']),
      sellMany(two, ['E2E Juice', 'E2E Bagel']),
    ]);
    const sold = [...a, ...b];
    // Both tabs see the same queue.
    await one.waitForSelector('#queue[data-waiting="20"]');
    await two.waitForSelector('#queue[data-waiting="20"]');

    await context.setOffline(false);
    await waitAllSent(one);
    await waitAllSent(two);
    const rows = ordersByUuid(t.db, sold.map((s) => s.uuid));
    assert.equal(rows.length, 20, 'every order once');
    assert.equal(new Set(rows.map((r) => r.pos_reference)).size, 20, 'the tabs share the device\'s sequence');
    for (const s of sold) assert.equal(rows.find((r) => r.uuid === s.uuid).amount_total, s.total);
    const tabs = new Set(pushes.map((p) => p.tab));
    assert.deepEqual([...tabs], ['one'], 'only the tab holding the lock pushed');
    const pushed = pushes.flatMap((p) => p.uuids);
    assert.equal(pushed.length, 20, 'none pushed twice');
    assert.equal(new Set(pushed).size, 20);

    // The pushing tab closes: the other one takes over.
    await one.close();
    await waitForLeader(two);
    await context.setOffline(true);
    const late = await sell(two, ['E2E Espresso'], [['Cash']]);
    await context.setOffline(false);
    await waitAllSent(two);
    assert.equal(ordersByUuid(t.db, [late.uuid]).length, 1);
    assert.ok(pushes.some((p) => p.tab === 'two' && p.uuids.includes(late.uuid)));
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('two devices in one session: each takes its own login number, their references never collide', async () => {
  const t = await posTenant('devices');
  const { context: tabletA } = await freshContext();
  const { context: tabletB } = await freshContext();
  try {
    const a = await tabletA.newPage();
    await signInAndOpen(a, t);
    const b = await tabletB.newPage();
    await signInAndOpen(b, t); // joins the session tablet A opened
    await tabletA.setOffline(true);
    await tabletB.setOffline(true);
    const sold = [];
    for (let i = 0; i < 3; i += 1) {
      sold.push(await sell(a, ['E2E Espresso'], [['Cash']]));
      sold.push(await sell(b, ['E2E Espresso'], [['Cash']]));
    }
    await tabletA.setOffline(false);
    await tabletB.setOffline(false);
    await waitAllSent(a);
    await waitAllSent(b);
    const rows = ordersByUuid(t.db, sold.map((s) => s.uuid));
    assert.equal(rows.length, 6);
    const refs = rows.map((r) => r.pos_reference);
    assert.equal(new Set(refs).size, 6, `distinct references: ${refs}`);
    const logins = new Set(refs.map((r) => r.split('-')[1]));
    assert.equal(logins.size, 2, `two login numbers: ${refs}`);
    const sessions = new Set(refs.map((r) => r.split(' ')[1].split('-')[0]));
    assert.equal(sessions.size, 1, 'one session');
  } finally {
    await tabletA.close();
    await tabletB.close();
  }
});
