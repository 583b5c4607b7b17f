// The portal's home page: rendered on the server, hydrated, and its server function
// reads the platform database.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_URL, freshContext, screenshot } from '../lib/browser.mjs';

test('the home page is rendered on the server before any script runs', async () => {
  const response = await fetch(BASE_URL + '/');
  assert.equal(response.status, 200);
  const html = await response.text();
  assert.match(html, /<h1>Odoo SaaS Platform<\/h1>/);
  assert.match(html, /id="check-database"/);
  assert.match(html, /Not checked yet\./);
});

test('the home page hydrates and a click reads the database through a server function', async () => {
  const { context, errors } = await freshContext();
  try {
    const page = await context.newPage();
    await page.goto(BASE_URL + '/');
    await page.waitForSelector('body[data-hydrated="true"]', { timeout: 20000 });
    await page.click('#check-database');
    await page.waitForSelector('#db-name', { timeout: 10000 });
    assert.equal(await page.textContent('#db-name'), process.env.E2E_DATABASE);
    assert.match(await page.textContent('#db-version'), /^PostgreSQL \d+/);
    assert.ok(Number(await page.textContent('#db-migrations')) >= 1);
    await screenshot(page, 'home-after-database-check');
    assert.deepEqual(errors, [], 'no uncaught errors in the page');
  } finally {
    await context.close();
  }
});

test('the home page says which Odoo the platform drives', async () => {
  const { context } = await freshContext();
  try {
    const page = await context.newPage();
    await page.goto(BASE_URL + '/');
    const text = await page.textContent('#odoo-target');
    assert.equal(process.env.E2E_ODOO_SIMULATED, 'true', 'the e2e stack runs odoo-sim');
    assert.match(text, /Using the bundled Odoo simulator \(odoo-sim\) at http:\/\/127\.0\.0\.1:\d+/);
    assert.match(text, /Set ODOO_URL to drive a real Odoo/);
  } finally {
    await context.close();
  }
});

test('an unknown page answers 404 with a way back', async () => {
  const response = await fetch(BASE_URL + '/no/such/page');
  assert.equal(response.status, 404);
  assert.match(await response.text(), /Page not found/);
});
