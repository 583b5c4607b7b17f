// The operations portal in headless Chromium: sign-in, a tenant's whole life watched live
// on the jobs page, the audit trail, and the refusals (wrong password, expired session,
// forged CSRF token). Screenshots of the main pages go to end2end/artifacts/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_URL, freshContext, screenshot } from '../lib/browser.mjs';
import { hydrated, sql } from '../lib/platform.mjs';

const EMAIL = process.env.E2E_ADMIN_EMAIL;
const PASSWORD = process.env.E2E_ADMIN_PASSWORD;
// Names carry the run's id so runs on one PostgreSQL server never share a database
// (t_<slug>, tmpl_<version>_<plan>).
const RUN = process.env.E2E_RUN_ID;
const SLUG = `acme-e2e-${RUN}`;
const PLAN = `e2e_${RUN}`;

async function signIn(page, password = PASSWORD) {
  await page.goto(BASE_URL + '/admin');
  await page.waitForURL(/\/admin\/login\?next=%2Fadmin/);
  await hydrated(page);
  await page.fill('#email', EMAIL);
  await page.fill('#password', password);
  await page.click('main.login button[type="submit"]');
}

async function signedIn() {
  const { context, errors } = await freshContext();
  const page = await context.newPage();
  await signIn(page);
  await page.waitForSelector('[data-testid="signed-in-as"]', { timeout: 20000 });
  return { context, errors, page };
}

async function stateOf(page) {
  return (await page.textContent('.page-head .badge')).trim();
}

test('a wrong password is refused with a clear message and no session', async () => {
  const { context } = await freshContext();
  try {
    const page = await context.newPage();
    await signIn(page, 'not-the-password');
    await page.waitForSelector('main.login .alert.error', { timeout: 20000 });
    assert.equal((await page.textContent('main.login .alert.error')).trim(), 'Wrong email or password.');
    assert.match(page.url(), /\/admin\/login/);
    const cookies = await context.cookies();
    assert.ok(!cookies.some((c) => c.name === 'saas_admin'), 'no session cookie');
    await screenshot(page, 'admin-login-refused');
  } finally {
    await context.close();
  }
});

test('the operator runs a tenant through its whole life from the browser', async () => {
  const { context, errors, page } = await signedIn();
  try {
    const cookie = (await context.cookies()).find((c) => c.name === 'saas_admin');
    assert.ok(cookie.httpOnly, 'the session cookie is HttpOnly');
    assert.equal(cookie.sameSite, 'Lax');
    assert.equal((await page.textContent('[data-testid="signed-in-as"]')).trim(), EMAIL);
    await screenshot(page, 'admin-dashboard');

    // A plan, from the plans page.
    await page.click('nav >> text=Plans');
    await page.waitForURL(/\/admin\/plans$/);
    await page.click('summary:has-text("New plan")');
    await page.fill('#new-plan-key', PLAN);
    await page.fill('#new-plan-name', 'E2E Plan');
    await page.fill('#new-plan-price', '19.90');
    await page.fill('#new-plan-modules', 'point_of_sale');
    await page.fill('#new-plan-max_companies', '3');
    await page.click('form.plan-form >> text=Create plan');
    await page.waitForSelector(`tr[data-plan="${PLAN}"]`, { timeout: 20000 });
    assert.match(await page.textContent(`tr[data-plan="${PLAN}"]`), /19\.90 EUR/);
    await screenshot(page, 'admin-plans');

    // The create form explains a bad field next to it, then creates the tenant.
    await page.goto(BASE_URL + '/admin/tenants/new');
    await hydrated(page);
    await page.fill('#slug', 'admin');
    await page.fill('#owner_email', 'owner@acme.example');
    await page.fill('#owner_password', 'owner-password-1');
    await page.selectOption('#plan', PLAN);
    await page.check('input[name="multi_company"]');
    await page.fill('#companies', 'Acme Europe\nAcme Asia');
    await page.click('form >> text=Create tenant');
    await page.waitForSelector('#slug-error', { timeout: 20000 });
    assert.match(await page.textContent('#slug-error'), /reserved/);
    await screenshot(page, 'admin-new-tenant-invalid');
    await page.fill('#slug', SLUG);
    await page.click('form >> text=Create tenant');
    await page.waitForURL(new RegExp(`/admin/tenants/${SLUG}$`), { timeout: 20000 });

    // The jobs page follows the provisioning live: no reload happens.
    await page.click('nav >> text=Jobs');
    await page.waitForURL(/\/admin\/jobs$/);
    await page.evaluate(() => { window.__sameDocument = true; });
    await page.waitForSelector('.live-status[data-live="true"]', { timeout: 20000 });
    await page.waitForSelector(
      `tr[data-tenant="${SLUG}"][data-state="succeeded"][data-tenant-state="active"]`,
      { timeout: 180000 },
    );
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was not reloaded');
    await screenshot(page, 'admin-jobs');

    // Deactivate, then reactivate, from the tenant's page.
    await page.goto(BASE_URL + `/admin/tenants/${SLUG}`);
    await hydrated(page);
    assert.equal(await stateOf(page), 'active');
    assert.match(await page.textContent('#tenant-facts'), /Acme Europe, Acme Asia/);
    // The tenant's till is one click away.
    assert.match(await page.getAttribute('#tenant-pos', 'href'), new RegExp(`^https?://${SLUG}\\.[^/]+/pos/$`));
    await page.click('button:has-text("Deactivate")');
    await page.waitForFunction(() => document.querySelector('.page-head .badge')?.textContent.trim() === 'suspended', null, { timeout: 60000 });
    await page.waitForSelector('button:has-text("Reactivate"):not([disabled])', { timeout: 20000 });
    await page.click('button:has-text("Reactivate")');
    await page.waitForFunction(() => document.querySelector('.page-head .badge')?.textContent.trim() === 'active', null, { timeout: 60000 });
    await page.waitForSelector('button:has-text("Delete…"):not([disabled])', { timeout: 20000 });
    await screenshot(page, 'admin-tenant');

    // Delete through the dialog: the button waits for the slug to be typed.
    await page.click('button:has-text("Delete…")');
    await page.waitForSelector('dialog.confirm[open]');
    const confirmButton = 'dialog.confirm button:has-text("Delete for good")';
    assert.equal(await page.isDisabled(confirmButton), true);
    await page.fill('#confirm', 'acme');
    assert.equal(await page.isDisabled(confirmButton), true);
    await page.fill('#confirm', SLUG);
    assert.equal(await page.isDisabled(confirmButton), false);
    await screenshot(page, 'admin-delete-dialog');
    await page.click(confirmButton);
    await page.waitForFunction(() => document.querySelector('.page-head .badge')?.textContent.trim() === 'deleted', null, { timeout: 90000 });

    // Each step is in the audit log, with who did it.
    await page.goto(BASE_URL + `/admin/audit?tenant=${SLUG}`);
    for (const action of [
      'tenant.requested', 'tenant.activated', 'tenant.deactivate_requested', 'tenant.suspended',
      'tenant.reactivate_requested', 'tenant.reactivated', 'tenant.delete_requested', 'tenant.deleted',
    ]) {
      assert.ok(await page.$(`tr[data-action="${action}"]`), `${action} is in the audit log`);
    }
    assert.match(await page.textContent('tr[data-action="tenant.delete_requested"]'), new RegExp(`superadmin:${EMAIL}`));
    await screenshot(page, 'admin-audit');

    // The tenants table finds it, deleted.
    await page.goto(BASE_URL + `/admin/tenants?q=${SLUG}`);
    assert.match(await page.textContent(`tr[data-slug="${SLUG}"]`), /deleted/);
    await screenshot(page, 'admin-tenants');
    assert.deepEqual(errors, [], 'no uncaught errors in the pages');
  } finally {
    await context.close();
  }
});

test('an expired session is refused and the operator is asked to sign in again', async () => {
  const { context, page } = await signedIn();
  try {
    sql("UPDATE admin_sessions SET last_seen_at = now() - interval '2 hours'");
    const status = await page.evaluate(async () => (await fetch('/sfn/admin/dashboard', { method: 'POST' })).status);
    assert.equal(status, 401);
    await page.goto(BASE_URL + '/admin/tenants');
    await page.waitForURL(/\/admin\/login\?next=%2Fadmin%2Ftenants&expired=1/);
    assert.match(await page.textContent('main.login'), /Your session has expired/);
  } finally {
    await context.close();
  }
});

test('a change with a forged CSRF token is refused and changes nothing', async () => {
  const { context, page } = await signedIn();
  try {
    const answer = await page.evaluate(async () => {
      const r = await fetch('/sfn/admin/plan_active', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'csrf=forged-token&id=00000000-0000-0000-0000-000000000000&active=false',
      });
      return { status: r.status, body: await r.json() };
    });
    assert.equal(answer.status, 403);
    assert.match(answer.body.message, /not sent by the portal/);

    // The same through the page's own form with its hidden token tampered with.
    await page.goto(BASE_URL + '/admin/plans');
    await hydrated(page);
    await page.waitForSelector(`tr[data-plan="${PLAN}"]`);
    await page.$eval(`tr[data-plan="${PLAN}"] form.inline input[name="csrf"]`, (el) => { el.value = 'forged-token'; });
    await page.click(`tr[data-plan="${PLAN}"] button:has-text("Archive")`);
    await page.waitForSelector('.alert.error', { timeout: 20000 });
    assert.match(await page.textContent('.alert.error'), /not sent by the portal/);
    assert.equal(sql(`SELECT active FROM plans WHERE key = '${PLAN}'`), 't');
  } finally {
    await context.close();
  }
});
