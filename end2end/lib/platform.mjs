// What the tests share about the platform under test (end2end/run.mjs starts it): its
// database, its API with a superadmin token made by the server's own CLI, the SMTP sink's
// inbox, and the wait for a page's hydration.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { BASE_URL } from './browser.mjs';

/** The first value(s) of a query in the platform's database (psql, unaligned, trimmed). */
export function sql(query) {
  return execFileSync('psql', [process.env.E2E_DATABASE_URL, '-At', '-v', 'ON_ERROR_STOP=1', '-c', query])
    .toString()
    .trim();
}

/** Waits until the page's WASM has hydrated it (the app marks `<body>`). */
export async function hydrated(page) {
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 30000 });
}

let token;
/** A superadmin API token made with the server's own CLI (one per test process). */
export function apiToken() {
  if (!token) {
    const out = execFileSync(process.env.SERVER_BIN ?? 'target/debug/server', ['create-api-token', `e2e-${randomBytes(4).toString('hex')}`], {
      env: { ...process.env, DATABASE_URL: process.env.E2E_DATABASE_URL, RUST_LOG: 'error' },
    }).toString();
    token = out.trim().split(/\s+/).pop();
  }
  return token;
}

/** Calls the platform's API as the superadmin: the status, the JSON answer (or null) and its text. */
export async function api(method, path, body) {
  const r = await fetch(`${BASE_URL}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${apiToken()}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, json, text };
}

/** Waits for a message to `to` whose subject contains `subject` in the SMTP sink (maildev's REST API). */
export async function mail(to, subject, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const all = await (await fetch(`${process.env.E2E_INBOX_URL}/api/email`)).json();
    const mine = all.filter((m) => (m.to ?? []).some((a) => a.address.toLowerCase() === to.toLowerCase()));
    const found = mine.find((m) => (m.subject ?? '').includes(subject));
    if (found) return found;
    assert.ok(Date.now() < deadline, `no mail to ${to} with "${subject}"; got ${JSON.stringify(mine.map((m) => m.subject))}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
