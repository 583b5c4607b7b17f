// The local topology of scripts/run.sh in headless Chromium: every page through Traefik by
// host name, as in production. The portal on admin.localhost, a tenant's Odoo on
// <slug>.localhost (odoo-sim, that tenant's database only), its POS shell on the same
// origin (served by the server), the paused page of a suspended tenant and our 404 page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_URL, freshContext, screenshot } from '../lib/browser.mjs';
import { api } from '../lib/platform.mjs';
import { hostUrl } from '../lib/topology.mjs';

const RUN = process.env.E2E_RUN_ID;
const SLUG = `shop-e2e-${RUN}`;
const PLAN = `topo_${RUN}`;
const OWNER = `owner@${SLUG}.example`;
const OWNER_PASSWORD = 'owner-password-1';

async function tenantState(slug) {
  const { json: body } = await api('GET', `/tenants/${slug}`);
  return body;
}

async function waitTenant(slug, state, timeoutMs = 120000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const t = await tenantState(slug);
    if (t?.state === state && t.pending_op === null) return t;
    assert.notEqual(t?.state, 'failed', `tenant failed: ${JSON.stringify(t)}`);
    assert.ok(Date.now() < deadline, `tenant not ${state} in time: ${JSON.stringify(t)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

test('portal, tenant Odoo, POS shell, paused and 404 pages, all through Traefik by host', async () => {
  let r = await api('POST', '/plans', { key: PLAN, name: 'Topology plan' });
  assert.equal(r.status, 201, r.text);
  r = await api('POST', '/tenants', {
    slug: SLUG, plan: PLAN, owner_email: OWNER, owner_name: 'Olive Owner',
    owner_password: OWNER_PASSWORD, company_name: 'Topology Shop',
  });
  assert.equal(r.status, 202, r.text);
  const tenant = await waitTenant(SLUG, 'active');

  const { context, errors } = await freshContext();
  try {
    const page = await context.newPage();

    // The operations portal on admin.localhost: sign in and see the dashboard.
    await page.goto(hostUrl('admin', '/admin'));
    await page.waitForURL(/admin\.localhost:\d+\/admin\/login/);
    await page.waitForSelector('body[data-hydrated="true"]', { timeout: 30000 });
    await page.fill('#email', process.env.E2E_ADMIN_EMAIL);
    await page.fill('#password', process.env.E2E_ADMIN_PASSWORD);
    await page.click('main.login button[type="submit"]');
    await page.waitForSelector('[data-testid="signed-in-as"]', { timeout: 20000 });
    await screenshot(page, 'topology-portal');

    // The tenant's Odoo on its own host: odoo-sim answers with that tenant's database
    // only, and the owner signs in over JSON-RPC from the tenant's origin.
    const odoo = await context.newPage();
    const health = await odoo.goto(hostUrl(SLUG, '/web/health'));
    assert.equal(health.status(), 200);
    const rpc = await odoo.evaluate(async ([login, password]) => {
      const call = async (path, params) => (await fetch(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', method: 'call', id: 1, params }),
      })).json();
      const dbs = await call('/web/database/list', {});
      const auth = await call('/web/session/authenticate', { db: dbs.result[0], login, password });
      return { dbs: dbs.result, uid: auth.result?.uid, error: auth.error?.data?.message };
    }, [OWNER, OWNER_PASSWORD]);
    assert.deepEqual(rpc.dbs, [tenant.db_name]);
    assert.equal(rpc.uid, 2, `owner login: ${JSON.stringify(rpc)}`);

    // The POS shell on the tenant's origin, from the server: same origin as its Odoo.
    const pos = await context.newPage();
    await pos.goto(hostUrl(SLUG, '/pos/'));
    await pos.waitForSelector('#pos-app[data-ready="true"]', { timeout: 30000 });
    assert.equal(new URL(pos.url()).host, new URL(hostUrl(SLUG)).host);
    await screenshot(pos, 'topology-pos');

    // An unknown host: our 404 page.
    const unknown = await context.newPage();
    const missing = await unknown.goto(hostUrl(`nobody-${RUN}`, '/web/login'));
    assert.equal(missing.status(), 404);
    await unknown.waitForSelector('main[data-page="not-found"]');
    await screenshot(unknown, 'topology-not-found');

    // Suspended: the paused page, with the owner's way back.
    r = await api('POST', `/tenants/${SLUG}/deactivate`, {});
    assert.equal(r.status, 202, r.text);
    await waitTenant(SLUG, 'suspended');
    const paused = await context.newPage();
    const deadline = Date.now() + 10000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await paused.goto(hostUrl(SLUG, '/web/login'))).status();
      if (status === 503) break;
      await new Promise((res) => setTimeout(res, 200));
    }
    assert.equal(status, 503);
    await paused.waitForSelector('main[data-page="paused"]');
    assert.match(await paused.getAttribute('#owner-link', 'href'), /^http:\/\/localhost:\d+\/$/);
    await screenshot(paused, 'topology-paused');
    assert.deepEqual(errors, [], 'no uncaught errors in the pages');
  } finally {
    await context.close();
  }
});
