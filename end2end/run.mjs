// Starts the stack for the end-to-end tests (a fresh platform database, odoo-sim as the
// local Odoo, the server built by cargo-leptos), runs `node --test` over end2end/tests, and stops
// everything. Usage: node end2end/run.mjs [test files...]
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const PG = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
const SERVER_BIN = process.env.SERVER_BIN ?? 'target/debug/server';
const SIM_BIN = process.env.SIM_BIN ?? 'target/debug/odoo-sim';
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

function psql(sql) {
  execFileSync('psql', [`${PG}/postgres`, '-v', 'ON_ERROR_STOP=1', '-qc', sql], { stdio: 'inherit' });
}

const children = [];
function start(cmd, args, env, name) {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit'] });
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

const database = `saas_e2e_${randomBytes(4).toString('hex')}`;
const port = await freePort();
const baseUrl = `http://127.0.0.1:${port}`;
let status = 1;
try {
  // The local Odoo, as scripts/run.sh starts it when no ODOO_URL is set.
  const simPort = await freePort();
  const simUrl = `http://127.0.0.1:${simPort}`;
  start(SIM_BIN, ['serve', '--port', String(simPort), '--database-url', `${PG}/postgres`, '--dbfilter', '^t_%d$'],
    { ODOO_SIM_MASTER_PASSWORD: masterPassword, RUST_LOG: 'warn' }, 'odoo-sim');
  await waitFor(`${simUrl}/web/health`, 'odoo-sim');
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
    RUST_LOG: process.env.RUST_LOG ?? 'warn,server=info',
  };
  execFileSync(SERVER_BIN, ['create-superadmin', '--email', adminEmail], {
    env: { ...process.env, ...serverEnv, SUPERADMIN_PASSWORD: adminPassword, RUST_LOG: 'warn' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  start(SERVER_BIN, ['serve'], serverEnv, 'server');
  await waitFor(`${baseUrl}/readyz`, 'the server');
  const files = process.argv.slice(2);
  const tests = files.length ? files : readdirSync('end2end/tests').filter((f) => f.endsWith('.test.mjs')).map((f) => join('end2end/tests', f));
  status = await new Promise((resolve) => {
    const runner = spawn(process.execPath, ['--test', '--test-concurrency=1', ...tests], {
      env: {
        ...process.env,
        BASE_URL: baseUrl,
        E2E_DATABASE: database,
        E2E_DATABASE_URL: `${PG}/${database}`,
        E2E_ODOO_SIMULATED: 'true',
        E2E_ADMIN_EMAIL: adminEmail,
        E2E_ADMIN_PASSWORD: adminPassword,
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
}

// Drops every database this run made: its tenants' and standbys' (named in its platform
// database), its plans' templates, then the platform database itself.
function dropRunDatabases() {
  const query = (db, sql) => execFileSync('psql', [`${PG}/${db}`, '-At', '-v', 'ON_ERROR_STOP=1', '-c', sql])
    .toString().split('\n').filter(Boolean);
  let names = [];
  try {
    names = query(database, 'SELECT db_name FROM tenants UNION SELECT db_name FROM warm_pool');
    for (const key of query(database, 'SELECT key FROM plans')) {
      names.push(...query('postgres', `SELECT datname FROM pg_database WHERE datname ~ '^tmpl_[0-9]+_${key.replace(/[^a-z0-9_]/g, '')}(_new)?$'`));
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
