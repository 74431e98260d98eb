// The ctest entry `browser.dashboard`: checks that this machine can run the browser tests
// (Debian's chromium, and playwright-core installed by `npm ci` here, as
// scripts/install-deps.sh test does), then runs them with node's own test runner, one file at
// a time. A missing piece is reported as unsupported: exit 77 (ctest: skipped), or a failure
// under SHIPSHAPE_REQUIRE_ALL=1, so that a green CI means the tests really ran.
import {spawnSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const chromium = process.env.SHIPSHAPE_CHROMIUM || '/usr/bin/chromium';

function unsupported(reason) {
  if (process.env.SHIPSHAPE_REQUIRE_ALL === '1') {
    console.error(`browser tests cannot run: ${reason} (SHIPSHAPE_REQUIRE_ALL=1 turns this skip into a failure)`);
    process.exit(1);
  }
  console.log(`browser tests skipped: ${reason}`);
  process.exit(77);
}

const major = Number(process.versions.node.split('.')[0]);
// Debian 12's nodejs is 18: playwright-core is pinned to 1.61, the last release that runs on it.
if (major < 18) unsupported(`node ${process.versions.node} is too old (playwright-core 1.61 needs 18 or later)`);
if (!fs.existsSync(chromium)) unsupported(`${chromium} is missing (Debian package chromium)`);
if (!fs.existsSync(path.join(here, 'node_modules', 'playwright-core', 'package.json'))) {
  unsupported(`playwright-core is not installed: run \`npm ci\` in ${here} (scripts/install-deps.sh test does)`);
}

const files = fs.readdirSync(here).filter((f) => f.endsWith('.test.mjs')).sort();
// One file at a time (node 18 has no --test-concurrency): each test starts its own server and
// browser, and two at once would only share the two cores.
let failed = 0;
for (const file of files) {
  const r = spawnSync(process.execPath, ['--test', file], {cwd: here, stdio: 'inherit'});
  if (r.status !== 0) failed += 1;
}
process.exit(failed === 0 ? 0 : 1);
