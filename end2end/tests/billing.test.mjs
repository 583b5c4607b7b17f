// Paid sign-up in headless Chromium, against localstripe (Stripe's protocol, its Checkout
// stand-in page, webhooks signed with Stripe's official library) and maildev: an owner
// signs up on a paid plan, is sent to Checkout, is told a declined card was refused, pays,
// comes back to the tenant's page while it is provisioned, gets the welcome mail, then
// changes plan after seeing the proration preview, switches to yearly billing and cancels
// at the period's end. Another owner never sees the tenant or its billing. A second owner
// gives up a paid sign-up before paying: nothing is made and the name is free.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_URL, freshContext, screenshot } from '../lib/browser.mjs';
import { hydrated, mail, sql } from '../lib/platform.mjs';

const RUN = process.env.E2E_RUN_ID;
const SLUG = `paid-e2e-${RUN}`;
const TEAM = `team_${RUN}`;
const BUSINESS = `business_${RUN}`;
const PASSWORD = 'a quiet harbour at dawn';

/** An owner account opened and confirmed through the API, its link read from the inbox. */
async function confirmedOwner(email) {
  const post = (path, body) => fetch(`${BASE_URL}/api/v1${path}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  assert.equal((await post('/owner/signup', { name: 'Paula Payer', email, password: PASSWORD })).status, 202);
  const message = await mail(email, 'Confirm your email address');
  const token = /token=([0-9a-f]+)/.exec(message.text)[1];
  assert.equal((await post('/owner/verify', { token })).status, 200);
}

async function ownerSignedIn(email) {
  const { context, errors } = await freshContext();
  const page = await context.newPage();
  await page.goto(BASE_URL + '/signin');
  await hydrated(page);
  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  await page.click('main.login button[type="submit"]');
  await page.waitForURL(/\/my$/, { timeout: 20000 });
  return { context, errors, page };
}

/** Fills the rest of the sign-up form (plan already chosen) and follows it to Checkout. */
async function submitPaidSignup(page, slug, company) {
  await page.fill('#slug', slug);
  await page.fill('#company_name', company);
  await page.fill('#odoo_password', 'paid odoo secret');
  await page.fill('#odoo_password_confirm', 'paid odoo secret');
  await page.click('#create-odoo');
  await page.waitForURL(/\/checkout\/pay\/cs_/, { timeout: 30000 });
}

test('an owner pays at Checkout, gets a running Odoo, changes plan and cancels', async () => {
  // Two paid plans (the platform mirrors them to Stripe when they are first sold).
  sql(`INSERT INTO plans (key, name, modules, price_cents, currency, max_companies) VALUES
       ('${TEAM}', 'E2E Team', '{point_of_sale}', 2900, 'EUR', 3),
       ('${BUSINESS}', 'E2E Business', '{point_of_sale}', 4900, 'EUR', 3)`);
  const email = `paula-${RUN}@billing.example.com`;
  await confirmedOwner(email);
  const { context, errors, page } = await ownerSignedIn(email);
  try {
    // The sign-up sends the owner to Stripe Checkout; nothing is made yet.
    await page.goto(BASE_URL + `/my/new?plan=${TEAM}`);
    await hydrated(page);
    await page.check(`#plan-${TEAM}`);
    // Both periods are offered (yearly = 12 × monthly when the plan sets no yearly price);
    // monthly is the default.
    assert.match(await page.textContent(`label[for="plan-${TEAM}"]`), /29\.00 EUR \/ month or 348\.00 EUR \/ year/);
    assert.equal(await page.isChecked('#interval-month'), true);
    assert.equal(await page.isChecked('#interval-year'), false);
    await submitPaidSignup(page, SLUG, 'Paid Shop Ltd');
    assert.match(await page.textContent('[data-testid="checkout-summary"]'), /E2E Team: EUR 29\.00 per month/);
    assert.equal(sql(`SELECT state FROM tenants WHERE slug = '${SLUG}'`), 'awaiting_payment');
    assert.equal(sql(`SELECT count(*) FROM jobs j JOIN tenants t ON t.id = j.tenant_id
                      WHERE t.slug = '${SLUG}' AND j.kind = 'tenant.provision'`), '0');
    await screenshot(page, 'billing-checkout');

    // A declined card: Checkout says so, and the owner tries another card.
    await page.fill('#card', '4000 0000 0000 0002');
    await page.click('#submit');
    await page.waitForSelector('.error[role="alert"]', { timeout: 20000 });
    assert.match(await page.textContent('.error[role="alert"]'), /declined/);
    await page.fill('#card', '4242 4242 4242 4242');
    await page.click('#submit');

    // Back on the tenant's page: the payment is confirmed, the Odoo is made.
    await page.waitForURL(/\/my\/tenants\/[0-9a-f-]+\?checkout=done&session_id=cs_/, { timeout: 30000 });
    await hydrated(page);
    await page.waitForSelector('#checkout-result[data-outcome="subscribed"]', { timeout: 30000 });
    await page.waitForFunction(
      () => document.querySelector('#tenant-state .badge')?.textContent.trim() === 'active',
      null, { timeout: 180000 },
    );
    await page.waitForSelector('#ready', { timeout: 30000 });
    assert.equal(sql(`SELECT count(*) FROM jobs j JOIN tenants t ON t.id = j.tenant_id
                      WHERE t.slug = '${SLUG}' AND j.kind = 'tenant.provision'`), '1', 'provisioned once');
    const welcome = await mail(email, 'is ready');
    assert.match(welcome.text, new RegExp(`${SLUG}\\.`));
    await screenshot(page, 'billing-tenant-active');

    // Billing: the plan, its status, the next invoice and the paid invoice with its pages.
    await page.waitForSelector('#billing-status[data-status="active"]', { timeout: 30000 });
    assert.match(await page.textContent('#billing-plan'), /E2E Team · EUR 29\.00 \/ month/);
    assert.match(await page.textContent('#next-invoice'), /EUR 29\.00/);
    await page.waitForSelector('#invoices a:has-text("PDF")', { timeout: 20000 });

    // Change plan: the preview first, then the confirmation.
    await page.selectOption('#new-plan', BUSINESS);
    await page.click('#preview-change');
    await page.waitForSelector(`#change-preview[data-plan="${BUSINESS}"]`, { timeout: 20000 });
    assert.match(await page.textContent('#change-preview'), /New price: EUR 49\.00 \/ month/);
    assert.match(await page.textContent('#preview-amount-due'), /Next invoice: EUR /);
    await screenshot(page, 'billing-change-preview');
    await page.click('#confirm-change');
    await page.waitForSelector(`#billing-plan[data-plan="${BUSINESS}"]`, { timeout: 30000 });
    assert.match(await page.textContent('#billing-plan'), /E2E Business · EUR 49\.00 \/ month/);
    await page.waitForSelector('#change-preview', { state: 'detached', timeout: 10000 });

    // The same plan billed yearly: the current plan and period are the defaults, which
    // change nothing and say so; yearly is previewed, then confirmed.
    assert.equal(await page.inputValue('#new-plan'), BUSINESS);
    assert.equal(await page.inputValue('#new-interval'), 'month');
    await page.click('#preview-change');
    await page.waitForSelector('#change-plan-form + .alert.error', { timeout: 20000 });
    assert.match(await page.textContent('#change-plan-form + .alert.error'), /already on this plan, billed this way/);
    await page.selectOption('#new-interval', 'year');
    await page.click('#preview-change');
    await page.waitForSelector(`#change-preview[data-plan="${BUSINESS}"][data-interval="year"]`, { timeout: 20000 });
    assert.match(await page.textContent('#change-preview'), /New price: EUR 588\.00 \/ year/);
    await page.click('#confirm-change');
    await page.waitForFunction(
      () => /EUR 588\.00 \/ year/.test(document.querySelector('#billing-plan')?.textContent ?? ''),
      null,
      { timeout: 30000 },
    );
    assert.equal(sql(`SELECT s.plan_interval FROM subscriptions s JOIN tenants t ON t.id = s.tenant_id
                      WHERE t.slug = '${SLUG}'`), 'year');
    assert.equal(await page.inputValue('#new-interval'), 'year');

    // Cancel at the period's end: the tenant keeps running until then.
    await page.click('#cancel-subscription');
    await page.waitForSelector('#resume-subscription', { timeout: 30000 });
    assert.match(await page.textContent('#billing-cancelling'), /ends on \d{4}-\d{2}-\d{2}/);
    assert.equal((await page.textContent('#tenant-state .badge')).trim(), 'active');
    assert.equal(sql(`SELECT s.cancel_at_period_end FROM subscriptions s JOIN tenants t ON t.id = s.tenant_id
                      WHERE t.slug = '${SLUG}'`), 't');
    await screenshot(page, 'billing-cancelled');
    assert.deepEqual(errors, [], 'no uncaught errors in the page');

    // Another owner: the tenant's page (and so its billing) is not found.
    const id = sql(`SELECT id FROM tenants WHERE slug = '${SLUG}'`);
    const other = `otto-${RUN}@billing.example.com`;
    await confirmedOwner(other);
    const stranger = await ownerSignedIn(other);
    try {
      await stranger.page.goto(BASE_URL + `/my/tenants/${id}`);
      await hydrated(stranger.page);
      await stranger.page.waitForSelector('.alert.error', { timeout: 20000 });
      assert.match(await stranger.page.textContent('main'), /no such tenant/i);
      assert.equal(await stranger.page.$('#billing-facts'), null, 'no billing of another owner');
      assert.doesNotMatch(await stranger.page.content(), /E2E Business · EUR/);
    } finally {
      await stranger.context.close();
    }
  } finally {
    await context.close();
  }
});

test('an owner cancels a paid sign-up before paying: nothing is made, the name is free', async () => {
  const QUIT = `quit_${RUN}`;
  const slug = `quit-e2e-${RUN}`;
  sql(`INSERT INTO plans (key, name, modules, price_cents, currency, max_companies) VALUES
       ('${QUIT}', 'E2E Quit', '{point_of_sale}', 1900, 'EUR', 1)`);
  const email = `quentin-${RUN}@billing.example.com`;
  await confirmedOwner(email);
  const { context, errors, page } = await ownerSignedIn(email);
  try {
    await page.goto(BASE_URL + `/my/new?plan=${QUIT}`);
    await hydrated(page);
    await page.check(`#plan-${QUIT}`);
    await submitPaidSignup(page, slug, 'Second Thoughts Ltd');
    const id = sql(`SELECT id FROM tenants WHERE slug = '${slug}'`);
    const session = sql(`SELECT checkout_session_id FROM subscriptions WHERE tenant_id = '${id}'`);

    // Back on the tenant's page, the owner changes their mind; the dialog says what happens.
    await page.goto(BASE_URL + `/my/tenants/${id}`);
    await hydrated(page);
    await page.waitForSelector('#cancel-signup-open', { timeout: 30000 });
    await page.click('#cancel-signup-open');
    assert.match(await page.textContent('dialog[open]'), /Nothing has been charged/);
    await screenshot(page, 'billing-cancel-signup');
    await page.click('#cancel-signup-confirm');
    await page.waitForURL(/\/my$/, { timeout: 30000 });
    await hydrated(page);
    assert.equal(sql(`SELECT count(*) FROM tenants WHERE slug = '${slug}'`), '0');
    assert.doesNotMatch(await page.textContent('main'), new RegExp(slug));
    // The payment page is closed at Stripe: it can no longer be paid.
    const closed = await fetch(`${process.env.E2E_STRIPE_URL}/v1/checkout/sessions/${session}`, {
      headers: { authorization: 'Bearer sk_test_e2e_localstripe' },
    });
    assert.equal(closed.status, 200);
    assert.equal((await closed.json()).status, 'expired');
    assert.deepEqual(errors, [], 'no uncaught errors in the page');
  } finally {
    await context.close();
  }
});
