// An owner's whole journey in headless Chromium, through Traefik on the local topology:
// sign up on the front door, read the verification mail from the SMTP sink (maildev's
// REST API) and follow its link, create an Odoo on a free plan and watch it provision
// live, get the welcome mail, sign in to the tenant's Odoo (odoo-sim on <slug>.localhost)
// with the chosen password, reset that password from the owner portal (the old one is then
// refused), and delete the tenant with its name typed, which sends the deletion mail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_URL, freshContext, screenshot } from '../lib/browser.mjs';
import { api, hydrated, mail } from '../lib/platform.mjs';
import { TRAEFIK_URL, hostUrl } from '../lib/topology.mjs';

const RUN = process.env.E2E_RUN_ID;
const PLAN = `free_${RUN}`;
const SLUG = `journey-${RUN}`;
const EMAIL = `nora.${RUN}@journey.example`;
const PASSWORD = 'a quiet harbour at dawn';
const ODOO_PASSWORD = 'first odoo secret 1';
const NEW_ODOO_PASSWORD = 'second odoo secret 2';

/** Waits until the tenant's host answers `path` with `status` through Traefik (it polls
 * the route table every few seconds). */
async function waitHost(page, path, status, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  let last = 0;
  for (;;) {
    last = (await page.goto(hostUrl(SLUG, path))).status();
    if (last === status) return;
    assert.ok(Date.now() < deadline, `${SLUG} answered ${path} with ${last}, not ${status}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Signs in to the tenant's Odoo with its login form: true when its web client opens. */
async function odooLogin(page, password) {
  await page.goto(hostUrl(SLUG, '/web/login'));
  await page.fill('#login', EMAIL);
  await page.fill('#password', password);
  await page.click('.oe_login_buttons button');
  // Odoo answers with its web client (signed in) or the form again with its error.
  await page.waitForSelector('.o_web_client, .alert-danger', { timeout: 20000 });
  return (await page.$('.o_web_client')) !== null;
}

test('an owner signs up, gets a running Odoo, resets its password and deletes it, all from the browser', async () => {
  const plan = await api('POST', '/plans', { key: PLAN, name: 'Journey Free', price_cents: 0, max_companies: 2 });
  assert.equal(plan.status, 201, plan.text);

  const { context, errors } = await freshContext();
  try {
    const page = await context.newPage();

    // The front door through Traefik's apex: its plans, and the sign-up.
    await page.goto(TRAEFIK_URL + '/');
    await hydrated(page);
    assert.match(await page.textContent('body'), /Journey Free/);
    await page.click('#signup-link');
    await page.waitForURL(/\/signup/);
    await hydrated(page);
    await page.fill('#name', 'Nora Journey');
    await page.fill('#email', EMAIL);
    await page.fill('#password', PASSWORD);
    await page.click('main button[type="submit"]');
    await page.waitForSelector('#signup-sent', { timeout: 20000 });
    assert.match(await page.textContent('#signup-sent'), new RegExp(EMAIL.replace(/\./g, '\\.')));
    await screenshot(page, 'owner-signup-sent');

    // The verification mail, read from the sink, and its link followed as mailed.
    const verify = await mail(EMAIL, 'Confirm your email address');
    const link = verify.text.match(/https?:\/\/\S+\/verify\?token=[0-9a-f]+/)?.[0];
    assert.ok(link, `a verification link in: ${verify.text}`);
    await page.goto(link);
    await hydrated(page);
    await page.click('#confirm-email');
    await page.waitForURL(/\/signin\?verified=/, { timeout: 20000 });

    // Sign in on the apex, through Traefik.
    await page.goto(TRAEFIK_URL + '/signin');
    await hydrated(page);
    await page.fill('#email', EMAIL);
    await page.fill('#password', PASSWORD);
    await page.click('main button[type="submit"]');
    await page.waitForSelector('[data-testid="owner-signed-in-as"]', { timeout: 20000 });
    assert.equal((await page.textContent('[data-testid="owner-signed-in-as"]')).trim(), EMAIL);
    assert.equal(await page.$('#verify-banner'), null, 'the address is confirmed');

    // A new Odoo on the free plan: the subdomain is checked live, then the progress page.
    await page.goto(`${TRAEFIK_URL}/my/new?plan=${PLAN}`);
    await hydrated(page);
    assert.equal(await page.isChecked(`#plan-${PLAN}`), true);
    await page.fill('#slug', 'admin');
    await page.waitForSelector('#slug-status [data-available="false"]', { timeout: 10000 });
    assert.match(await page.textContent('#slug-status'), /reserved/);
    await page.fill('#slug', SLUG);
    await page.waitForSelector('#slug-status [data-available="true"]', { timeout: 10000 });
    await page.fill('#company_name', 'Journey Ltd');
    await page.fill('#odoo_password', ODOO_PASSWORD);
    await page.fill('#odoo_password_confirm', ODOO_PASSWORD);
    await page.click('#create-odoo');
    await page.waitForURL(/\/my\/tenants\/[0-9a-f-]{36}$/, { timeout: 20000 });
    const tenantPage = page.url();
    await hydrated(page);

    // Provisioning followed live on the same document: the bar moves, then "ready".
    await page.evaluate(() => { window.__sameDocument = true; });
    const percents = [];
    const deadline = Date.now() + 180000;
    while (!(await page.$('#ready'))) {
      const bar = await page.$('#progress');
      if (bar) percents.push(Number(await bar.getAttribute('data-percent')));
      assert.ok(Date.now() < deadline, `not ready in time; progress seen ${JSON.stringify(percents)}`);
      await page.waitForTimeout(100);
    }
    // A provisioning faster than the first look leaves nothing to watch: say so.
    if (percents.length === 0) console.log('[owner-journey] the Odoo was ready before the page first looked');
    for (let i = 1; i < percents.length; i += 1) {
      assert.ok(percents[i] >= percents[i - 1], `progress never goes back: ${JSON.stringify(percents)}`);
    }
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page followed without a reload');
    assert.equal((await page.textContent('#odoo-login')).trim(), EMAIL);
    assert.match(await page.textContent('#odoo-url'), new RegExp(`${SLUG}\\.`));
    assert.match(await page.textContent('#pos-url'), new RegExp(`${SLUG}\\..*/pos/`));
    await screenshot(page, 'owner-tenant-ready');

    // The welcome mail, with the addresses and never a password.
    const welcome = await mail(EMAIL, 'is ready');
    assert.match(welcome.subject, /Journey Ltd/);
    assert.match(welcome.text, new RegExp(`${SLUG}\\..*/pos/`));
    assert.ok(!welcome.text.includes(ODOO_PASSWORD), 'the password is never emailed');

    // The tenant's Odoo through Traefik on its own host: the chosen password signs in.
    const odoo = await context.newPage();
    await waitHost(odoo, '/web/health', 200);
    assert.equal(await odooLogin(odoo, ODOO_PASSWORD), true, 'the chosen password signs in');
    assert.equal(new URL(odoo.url()).host, new URL(hostUrl(SLUG)).host);
    await screenshot(odoo, 'owner-odoo-signed-in');
    await odoo.close();

    // Reset the Odoo administrator's password from the portal (a job, followed live).
    await page.fill('#admin-password', NEW_ODOO_PASSWORD);
    await page.fill('#admin-confirm', NEW_ODOO_PASSWORD);
    await page.click('#reset-admin-form button[type="submit"]');
    await page.waitForSelector('#progress, #ready', { timeout: 20000 });
    const fresh = await context.newPage();
    const until = Date.now() + 120000;
    for (;;) {
      if (await odooLogin(fresh, NEW_ODOO_PASSWORD)) break;
      assert.ok(Date.now() < until, 'the new Odoo password did not start working in time');
      await new Promise((r) => setTimeout(r, 500));
    }
    await fresh.close();
    await page.waitForSelector('#ready', { timeout: 60000 });
    // The old one is refused now, with Odoo's own message (a fresh Odoo session).
    await context.clearCookies({ domain: new URL(hostUrl(SLUG)).hostname });
    const old = await context.newPage();
    assert.equal(await odooLogin(old, ODOO_PASSWORD), false, 'the old password no longer signs in');
    assert.match(await old.textContent('.alert-danger'), /Wrong login\/password/);
    await screenshot(old, 'owner-odoo-old-password-refused');
    await old.close();

    // Delete with the typed name: the button waits for the exact name.
    await page.goto(tenantPage);
    await hydrated(page);
    await page.click('#delete-open');
    await page.fill('#confirm', SLUG.slice(0, -1));
    assert.equal(await page.isDisabled('#delete-confirm'), true, 'a wrong name cannot delete');
    await page.fill('#confirm', SLUG);
    assert.equal(await page.isDisabled('#delete-confirm'), false);
    await page.click('#delete-confirm');
    await page.waitForSelector('#tenant-state .badge:text-is("deleted")', { timeout: 180000 });
    await screenshot(page, 'owner-tenant-deleted');
    const deleted = await mail(EMAIL, 'has been deleted');
    assert.match(deleted.text, /A final backup/);
    // Its host no longer answers with an Odoo: our 404 page.
    const gone = await context.newPage();
    await waitHost(gone, '/web/login', 404);
    await gone.waitForSelector('main[data-page="not-found"]');
    await gone.close();

    assert.deepEqual(errors, [], 'no uncaught errors in the pages');
  } finally {
    await context.close();
  }
});
