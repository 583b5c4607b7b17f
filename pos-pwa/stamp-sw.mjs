// Trunk post_build hook: writes a hash of the release's files into the staged sw.js, so a
// new release is a new service worker (the browser installs it beside the running one and
// the till offers "new version, reload"). Reads TRUNK_STAGING_DIR; nothing else.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const dir = process.env.TRUNK_STAGING_DIR;
if (!dir) {
  console.error('stamp-sw: TRUNK_STAGING_DIR is not set (run through trunk build)');
  process.exit(1);
}
const files = [];
(function walk(d) {
  for (const name of readdirSync(d).sort()) {
    const p = join(d, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name !== 'sw.js') files.push(p);
  }
})(dir);
const hash = createHash('sha256');
for (const f of files) {
  hash.update(relative(dir, f));
  hash.update(readFileSync(f));
}
const version = hash.digest('hex').slice(0, 16);
const sw = join(dir, 'sw.js');
const text = readFileSync(sw, 'utf8');
if (!text.includes('__POS_BUILD__')) {
  console.error('stamp-sw: sw.js has no __POS_BUILD__ placeholder');
  process.exit(1);
}
writeFileSync(sw, text.replace('__POS_BUILD__', version));
console.log(`stamp-sw: release ${version}`);
