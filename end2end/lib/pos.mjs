// The POS end-to-end tests' stack: a tenant with point_of_sale provisioned through the
// platform's API, its shop ready to sell, the till reached at http://<slug>.localhost:<port>/pos/
// with Odoo on the same origin (as Traefik serves it), and the tenant's database read
// directly to count orders by uuid.
import { execFileSync } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { randomBytes } from 'node:crypto';
import { api } from './platform.mjs';
import { TRAEFIK_PORT } from './topology.mjs';

const PG = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
const RUN = process.env.E2E_RUN_ID ?? randomBytes(3).toString('hex');

/** Rows of a query in a database (psql, tab-separated). */
export function sql(db, query) {
  const out = execFileSync('psql', [`${PG}/${db}`, '-At', '-F', '\t', '-v', 'ON_ERROR_STOP=1', '-c', query]).toString();
  return out.split('\n').filter(Boolean).map((l) => l.split('\t'));
}

// ------------------------------------------------------------------ same-origin front

/**
 * The tenant-facing origin, through the run's Traefik (end2end/run.mjs): /pos/ goes to the
 * server, everything else to the tenant's Odoo, the Host passed through (so Odoo's dbfilter
 * picks the tenant's database), exactly as in production.
 */
export function tenantOrigin(slug) {
  return `http://${slug}.localhost:${TRAEFIK_PORT}`;
}

/** HTTP status of a GET through Traefik (Node connects to loopback and sends the Host). */
function statusOf(url) {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port: url.port, path: url.pathname, headers: { host: url.host } }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

/**
 * Waits until Traefik routes the tenant's host to its Odoo: its route table is a poll behind
 * the database, and until then the server answers "back in a moment" (503).
 */
async function waitForRoute(origin, timeoutMs = 30000) {
  const url = new URL(`${origin}/web/health`);
  const deadline = Date.now() + timeoutMs;
  let last = 0;
  while (Date.now() < deadline) {
    last = await statusOf(url);
    if (last === 200) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url.host} is not routed to its Odoo: HTTP ${last}`);
}

// ------------------------------------------------------------------ Odoo as its admin

/** A JSON-RPC web session with the tenant's Odoo (cookie kept here), as a manager would use it. */
export class Odoo {
  constructor(origin, db) {
    this.origin = origin;
    this.db = db;
    this.cookie = '';
  }

  // Node does not resolve *.localhost as Chromium does: connect to loopback, send the Host.
  post(path, params) {
    const url = new URL(this.origin + path);
    const body = JSON.stringify({ jsonrpc: '2.0', method: 'call', id: 1, params });
    return new Promise((resolve, reject) => {
      const req = httpRequest({
        host: '127.0.0.1', port: url.port, method: 'POST', path: url.pathname,
        headers: { host: url.host, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), cookie: this.cookie },
      }, (res) => {
        const set = res.headers['set-cookie'];
        if (set && set.length) this.cookie = set[0].split(';')[0];
        let data = '';
        res.on('data', (c) => { data += c; });
        res.on('end', () => {
          try {
            const json = JSON.parse(data);
            if (json.error) reject(new Error(`${path}: ${json.error.data?.message ?? json.error.message}`));
            else resolve(json.result);
          } catch {
            reject(new Error(`${path}: HTTP ${res.statusCode} ${data.slice(0, 200)}`));
          }
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  login(login, password) {
    return this.post('/web/session/authenticate', { db: this.db, login, password });
  }

  call(model, method, args = [], kwargs = {}) {
    return this.post(`/web/dataset/call_kw/${model}/${method}`, { model, method, args, kwargs });
  }
}

// ------------------------------------------------------------------ a tenant with a shop

let planReady;
async function posPlan() {
  const key = `pos_${RUN}`;
  if (!planReady) {
    planReady = api('POST', '/plans', { key, name: `POS ${RUN}`, modules: ['point_of_sale'] }).then((r) => {
      if ((r.status < 200 || r.status > 299) && r.status !== 409) throw new Error(`plan: ${r.status} ${r.text}`);
    });
  }
  await planReady;
  return key;
}

/**
 * A fresh tenant of a plan with point_of_sale, active, with a shop (Cash and Card, three
 * products with a 15% tax) and an owner who signs in to the till.
 */
export async function posTenant(tag) {
  const plan = await posPlan();
  const slug = `p${RUN}-${tag}`.toLowerCase();
  const owner = { login: `owner-${tag}@example.com`, password: `pw-${randomBytes(6).toString('hex')}` };
  const created = await api('POST', '/tenants', {
    slug, plan, owner_email: owner.login, owner_name: 'Owner', owner_password: owner.password, company_name: `Shop ${tag}`,
  });
  if (created.status !== 202) throw new Error(`tenant: ${created.status} ${created.text}`);
  const deadline = Date.now() + 180_000;
  let tenant;
  while (Date.now() < deadline) {
    tenant = (await api('GET', `/tenants/${slug}`)).json;
    if (tenant?.state === 'active') break;
    if (tenant?.state === 'failed') throw new Error(`tenant failed: ${tenant.last_error}`);
    await new Promise((r) => setTimeout(r, 300));
  }
  if (tenant?.state !== 'active') throw new Error(`tenant ${slug} not active: ${JSON.stringify(tenant)}`);
  const origin = tenantOrigin(slug);
  await waitForRoute(origin);
  const db = tenant.db_name ?? `t_${slug}`;
  const odoo = new Odoo(origin, db);
  await odoo.login(owner.login, owner.password);
  const shop = await ensureShop(odoo);
  return { slug, db, origin, url: `${origin}/pos/`, owner, odoo, ...shop };
}

/** The shop Odoo's POS onboarding makes, made here when the tenant has none yet. */
async function ensureShop(odoo) {
  let configs = await odoo.call('pos.config', 'search_read', [[]], { fields: ['id', 'name', 'payment_method_ids'] });
  let methods = await odoo.call('pos.payment.method', 'search_read', [[]], { fields: ['id', 'name', 'is_cash_count'] });
  if (!methods.some((m) => m.name === 'Cash')) {
    const journals = await odoo.call('account.journal', 'search_read', [[['type', 'in', ['cash', 'bank']]]], { fields: ['id', 'type'], order: 'id' });
    const journal = (t) => journals.find((j) => j.type === t)?.id ?? false;
    await odoo.call('pos.payment.method', 'create', [{ name: 'Cash', is_cash_count: true, journal_id: journal('cash') }]);
    await odoo.call('pos.payment.method', 'create', [{ name: 'Card', journal_id: journal('bank') }]);
    methods = await odoo.call('pos.payment.method', 'search_read', [[]], { fields: ['id', 'name', 'is_cash_count'] });
  }
  const cash = methods.find((m) => m.name === 'Cash');
  const card = methods.find((m) => m.name === 'Card');
  if (!configs.length) {
    await odoo.call('pos.config', 'create', [{ name: 'Shop', payment_method_ids: [[6, 0, [cash.id, card.id]]] }]);
    configs = await odoo.call('pos.config', 'search_read', [[]], { fields: ['id', 'name', 'payment_method_ids'] });
  }
  let taxes = await odoo.call('account.tax', 'search_read', [[['type_tax_use', '=', 'sale'], ['amount', '=', 15]]], { fields: ['id'] });
  if (!taxes.length) {
    await odoo.call('account.tax', 'create', [{ name: '15%', amount: 15, amount_type: 'percent', type_tax_use: 'sale' }]);
    taxes = await odoo.call('account.tax', 'search_read', [[['type_tax_use', '=', 'sale'], ['amount', '=', 15]]], { fields: ['id'] });
  }
  const tax = taxes[0].id;
  const products = {};
  for (const [name, price, barcode] of [['E2E Espresso', 2.35, '2000000000017'], ['E2E Bagel', 3.1, '2000000000024'], ['E2E Juice', 4.05, '2000000000031']]) {
    const found = await odoo.call('product.product', 'search_read', [[['name', '=', name]]], { fields: ['id'] });
    products[name] = found.length
      ? found[0].id
      : await odoo.call('product.product', 'create', [{ name, list_price: price, available_in_pos: true, sale_ok: true, taxes_id: [[6, 0, [tax]]], barcode }]);
  }
  return { config: configs[0], cash, card, tax, products };
}

// ------------------------------------------------------------------ driving the till

/** Signs in (owner by default), opens or joins the shop's session, waits for the product grid. */
export async function signInAndOpen(page, t, { login = t.owner.login, password = t.owner.password, openingCash = '0' } = {}) {
  await page.goto(t.url);
  await page.waitForSelector('#pos-app[data-ready="true"]', { timeout: 30000 });
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', password);
  await page.click('form.signin button[type=submit]');
  await page.waitForSelector('[data-test=open-shop]', { timeout: 20000 });
  await page.click('[data-test=open-shop]');
  const next = await Promise.race([
    page.waitForSelector('[data-test=open-session]', { timeout: 20000 }).then(() => 'open'),
    page.waitForSelector('.grid .product', { timeout: 20000 }).then(() => 'grid'),
  ]);
  if (next === 'open') {
    await page.fill('input[name=opening-cash]', openingCash);
    await page.click('[data-test=open-session]');
  }
  await page.waitForSelector('.grid .product', { timeout: 20000 });
  await waitForLeader(page);
}

/** Waits until a tab of this device holds the sync lock (the first tab: at once). */
export async function waitForLeader(page) {
  await page.waitForFunction(async () => {
    if (!navigator.locks) return true;
    const s = await navigator.locks.query();
    return s.held.some((l) => l.name === 'pos-sync-leader');
  }, null, { timeout: 10000 });
}

/**
 * Sells one order: adds products by name (repeat a name for quantity), pays with the given
 * methods (`[['Cash', '20']]`, `[['Card']]` for "the rest"), validates, waits for "Paid".
 * Returns the order's uuid and the total the screen showed.
 */
export async function sell(page, names, payments = [['Cash']]) {
  for (const n of names) {
    await page.click(`.grid .product:has-text("${n}")`);
  }
  await page.waitForFunction((count) => document.querySelectorAll('.cart .line').length >= 1 && count > 0, names.length);
  const shown = (await page.textContent('#cart-total')).trim();
  await page.click('[data-test=pay]');
  await page.waitForSelector('#pay-total');
  for (const [method, amount] of payments) {
    await page.click(`.methods .method[data-method="${method}"]`);
    if (amount !== undefined) {
      const input = page.locator('input[name=payment-amount]').last();
      await input.fill(amount);
      await input.dispatchEvent('change');
    }
  }
  await page.click('[data-test=validate]');
  await page.waitForSelector('#paid', { timeout: 10000 });
  const receipt = page.locator('#receipt');
  await receipt.waitFor();
  const uuid = await receipt.getAttribute('data-uuid');
  const total = Number(await receipt.getAttribute('data-total'));
  const receiptTotal = (await page.textContent('#receipt-total')).trim();
  await page.click('[data-test=new-order]');
  await page.waitForSelector('.grid .product');
  return { uuid, total, shown, receiptTotal };
}

/** Waits until the device has no waiting order (the badge says "All sent"). */
export async function waitAllSent(page, timeout = 60000) {
  await page.waitForSelector('#queue[data-waiting="0"]', { timeout });
}

/** Orders in the tenant's database with these uuids: [{uuid, amount_total, pos_reference, ...}]. */
export function ordersByUuid(db, uuids) {
  if (!uuids.length) return [];
  const list = uuids.map((u) => `'${u.replace(/'/g, '')}'`).join(',');
  return sql(db, `SELECT uuid, amount_total, amount_tax, pos_reference, state, partner_id FROM pos_order WHERE uuid IN (${list})`)
    .map(([uuid, total, tax, ref, state, partner]) => ({ uuid, amount_total: Number(total), amount_tax: Number(tax), pos_reference: ref, state, partner_id: partner ? Number(partner) : null }));
}
