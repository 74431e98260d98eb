// Shared helpers of the dashboard's browser tests: an ops repo in a temporary directory, the
// built shipshape binary (SHIPSHAPE_BIN), `shipshape serve --listen 127.0.0.1:0` over it, and
// Debian's chromium driven by playwright-core (never a downloaded browser).
import {spawn, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {createInterface} from 'node:readline';
import {fileURLToPath} from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export const BIN = process.env.SHIPSHAPE_BIN ||
  path.join(here, '..', '..', 'build', 'dev', 'src', 'cli', 'shipshape');
export const CHROMIUM = process.env.SHIPSHAPE_CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = process.env.SHIPSHAPE_BROWSER_ARTIFACTS ||
  path.join(os.tmpdir(), 'shipshape-browser-artifacts');

// Chromium as root in a container, on a machine without a network: no sandbox (root), no
// background connections to Google's hosts, a fresh profile each time.
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-dev-shm-usage',
];

export async function launchBrowser() {
  const {chromium} = await import('playwright-core');
  return chromium.launch({executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS});
}

// Saves a screenshot as a test artifact and prints where.
export async function screenshot(page, name) {
  fs.mkdirSync(ARTIFACTS, {recursive: true});
  const file = path.join(ARTIFACTS, name + '.png');
  await page.screenshot({path: file, fullPage: true});
  console.log('# screenshot: ' + file);
  return file;
}

function dedent(text) {
  const lines = text.replace(/^\n/, '').split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => l.match(/^ */)[0].length));
  return lines.map((l) => l.slice(indent)).join('\n');
}

// An ops repo with environments local (localhost) and staging (stage1), like the e2e harness.
export class Repo {
  constructor() {
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shipshape-browser-'));
    this.root = path.join(this.tmp, 'ops');
    fs.mkdirSync(path.join(this.root, 'checklists'), {recursive: true});
    this.write('shipshape.toml', 'name = "browser-test"\n');
    this.write('inventory.toml', '[env.local]\nhosts = ["localhost"]\n[env.staging]\nhosts = ["stage1"]\n');
    this.env = Object.assign({}, process.env, {NO_COLOR: '1'});
  }

  write(rel, text) {
    const file = path.join(this.root, rel);
    fs.mkdirSync(path.dirname(file), {recursive: true});
    fs.writeFileSync(file, text.startsWith('\n') ? dedent(text) : text);
    return file;
  }

  // Runs shipshape to the end: {code, out, err}.
  shipshape(...args) {
    const r = spawnSync(BIN, args, {cwd: this.root, env: this.env, encoding: 'utf8',
      timeout: 120000, stdio: ['ignore', 'pipe', 'pipe']});
    return {code: r.status, out: r.stdout, err: r.stderr};
  }

  // Starts a checklist run; returns its id (runs waiting for a check-off exit 4).
  run(checklist, ...args) {
    const r = this.shipshape('run', checklist, ...args);
    const m = /run (\d{8}-\d{6}-[0-9a-f]+)/.exec(r.out);
    if (!m) throw new Error(`no run id from shipshape run ${checklist}: exit ${r.code}\n${r.out}\n${r.err}`);
    return {id: m[1], code: r.code, out: r.out, err: r.err};
  }

  remove() {
    fs.rmSync(this.tmp, {recursive: true, force: true});
  }
}

// `shipshape serve --listen 127.0.0.1:0` over `repo`: resolves once it prints its URL.
export async function startServer(repo) {
  const child = spawn(BIN, ['serve', '--listen', '127.0.0.1:0'], {cwd: repo.root, env: repo.env,
    stdio: ['ignore', 'pipe', 'pipe']});
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const lines = createInterface({input: child.stdout});
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('serve did not start: ' + stderr)), 30000);
    lines.once('line', (line) => {
      clearTimeout(timer);
      const m = /^listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
      if (m) resolve(m[1]);
      else reject(new Error(`serve said ${JSON.stringify(line)}; stderr: ${stderr}`));
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
  });
  return {
    url,
    child,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      return exited;
    },
  };
}

// A server over a fresh repo and a browser page, for one test; `done()` stops all of it.
export async function session(t, prepare) {
  const repo = new Repo();
  const context = {repo};
  if (prepare) await prepare(repo, context);
  const server = await startServer(repo);
  const browser = await launchBrowser();
  const page = await browser.newPage({viewport: {width: 1280, height: 800}});
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  t.after(async () => {
    await browser.close();
    await server.stop();
    repo.remove();
  });
  return Object.assign(context, {server, browser, page, errors, url: server.url});
}
