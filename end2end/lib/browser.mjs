// Headless Chromium from Debian, driven by playwright-core (no browser download).
import { chromium } from 'playwright-core';
import { mkdtempSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BASE_URL = process.env.BASE_URL ?? 'http://127.0.0.1:3000';
export const ARTIFACTS = process.env.E2E_ARTIFACTS ?? 'end2end/artifacts';
mkdirSync(ARTIFACTS, { recursive: true });

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'];

/** A browser context with a fresh profile; service workers and IndexedDB live in it. */
export async function freshContext() {
  const { context, errors } = await profileContext();
  return { context, errors };
}

/** Saves a full-page screenshot as a test artifact. */
export async function screenshot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** A browser on a profile directory that outlives it: close it and launch it again on `dir`. */
export async function profileContext(dir = mkdtempSync(join(tmpdir(), 'saas-e2e-'))) {
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ARGS,
  });
  const errors = [];
  context.on('weberror', (e) => errors.push(String(e.error())));
  // A script, style or request the page's Content-Security-Policy refused is an error too
  // (Chromium reports it on the console): hydration, the till and their requests must run
  // under the policies the server sends.
  context.on('console', (m) => {
    // E2E_CONSOLE=1 echoes every page's console, to read a failure's context.
    if (process.env.E2E_CONSOLE) {
      process.stderr.write(`[browser ${m.type()}] ${m.text()}\n`);
      // With a hydration error: the resources the server sent for hydration, by id.
      if (m.text().includes('hydration error')) {
        m.page()
          ?.evaluate(() => JSON.stringify(window.__RESOLVED_RESOURCES ?? null).slice(0, 3000))
          .then((d) => process.stderr.write(`[browser resources] ${d}\n`))
          .catch(() => {});
      }
      // A node among the arguments (Leptos's hydration errors pass the unexpected node).
      for (const arg of m.args()) {
        arg
          .evaluate((n) => (n && n.nodeType ? `${n.nodeName} ${(n.outerHTML ?? n.textContent ?? '').slice(0, 300)} | parent: ${(n.parentNode?.outerHTML ?? '').slice(0, 600)}` : null))
          .then((d) => d && process.stderr.write(`[browser node] ${d}\n`))
          .catch(() => {});
      }
    }
    if (m.type() === 'error' && m.text().includes('Content Security Policy')) errors.push(`CSP: ${m.text()}`);
    // A Rust panic in the WASM (console_error_panic_hook): its message, not only the
    // `RuntimeError: unreachable` that follows it.
    if (m.type() === 'error' && m.text().includes('panicked at')) errors.push(`panic: ${m.text()}`);
    // Leptos names the component whose server HTML did not match just before it panics.
    if (m.type() === 'error' && m.text().includes('hydration error')) errors.push(`hydration: ${m.text()}`);
  });
  return { context, errors, dir };
}
