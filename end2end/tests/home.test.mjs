// The public front door at <domain> (rendered on the server, hydrated), and the database
// diagnostic that used to live there, now on the operations portal's dashboard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_URL, freshContext, screenshot } from '../lib/browser.mjs';

const EMAIL = process.env.E2E_ADMIN_EMAIL;
const PASSWORD = process.env.E2E_ADMIN_PASSWORD;

test('the front door is rendered on the server before any script runs', async () => {
  const response = await fetch(BASE_URL + '/');
  assert.equal(response.status, 200);
  const html = await response.text();
  assert.match(html, /Your own Odoo, running in minutes/);
  assert.match(html, /id="signup-link"/);
  assert.match(html, /id="signin-link"/);
  assert.doesNotMatch(html, /check-database/, 'no operator diagnostic for the public');
});

test('the dashboard reads the database through a server function and names the Odoo', async () => {
  const { context, errors } = await freshContext();
  try {
    const page = await context.newPage();
    await page.goto(BASE_URL + '/admin');
    await page.waitForURL(/\/admin\/login/);
    await page.waitForSelector('body[data-hydrated="true"]', { timeout: 30000 });
    await page.fill('#email', EMAIL);
    await page.fill('#password', PASSWORD);
    await page.click('main.login button[type="submit"]');
    await page.waitForSelector('#check-database', { timeout: 20000 });
    await page.waitForSelector('body[data-hydrated="true"]', { timeout: 30000 });
    const odoo = await page.textContent('#odoo-target');
    assert.equal(process.env.E2E_ODOO_SIMULATED, 'true', 'the e2e stack runs odoo-sim');
    assert.match(odoo, /Using the bundled Odoo simulator \(odoo-sim\) at http:\/\/127\.0\.0\.1:\d+/);
    await page.click('#check-database');
    await page.waitForSelector('#db-name', { timeout: 10000 });
    assert.equal(await page.textContent('#db-name'), process.env.E2E_DATABASE);
    assert.match(await page.textContent('#db-version'), /^PostgreSQL \d+/);
    assert.ok(Number(await page.textContent('#db-migrations')) >= 1);
    await screenshot(page, 'dashboard-after-database-check');
    assert.deepEqual(errors, [], 'no uncaught errors in the page');
  } finally {
    await context.close();
  }
});

test('an unknown page answers 404 with a way back', async () => {
  const response = await fetch(BASE_URL + '/no/such/page');
  assert.equal(response.status, 404);
  assert.match(await response.text(), /Page not found/);
});
