// The dashboard's live and writing side, in a real browser: a step's log streams into the run
// view (GET /api/v1/events, from h2-live), a QA user signs in with a token and checks a step off
// while `shipshape run --wait` waits for it (GET /api/v1/me and POST .../check-off, from
// h1-auth), and a user without the role gets no button and a forged POST is refused with 403.
// Where a route these need answers 404 (a branch not merged), the test is skipped naming it,
// and fails under SHIPSHAPE_REQUIRE_ALL=1.
import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {test} from 'node:test';

import {BIN, screenshot, session} from './harness.mjs';

const GATE = `
  name = "gate"
  [[step]]
  id = "build"
  sh = "echo built"
  [[step]]
  id = "qa"
  manual = "QA tries the build"
  role = "qa"
  needs = ["build"]
  [[step]]
  id = "release"
  sh = "echo released"
  needs = ["qa"]
  `;

// The step prints a line, then waits for the file `go` in the repo before printing another:
// whatever shows the second line showed it while the step ran. The quotes keep the printed
// lines apart from the command the log's header repeats.
const TALK = `
  name = "talk"
  [[step]]
  id = "talk"
  sh = "echo 'first'' line'; while [ ! -f go ]; do sleep 0.05; done; echo 'second'' line'"
  `;

// Skips the test when `route` answers 404 "no such route" (its branch is not merged); under
// SHIPSHAPE_REQUIRE_ALL=1 that is a failure instead. Returns whether the route exists.
async function needRoute(t, url, method, route, branch) {
  const controller = new AbortController();
  let status = 0;
  let body = '';
  try {
    const r = await fetch(url + route, {method, signal: controller.signal,
      headers: method === 'POST' ? {'Content-Type': 'application/json'} : {},
      body: method === 'POST' ? '{}' : undefined});
    status = r.status;
    if (status === 404) body = await r.text();
  } finally {
    controller.abort();  // an event stream would never end by itself
  }
  if (status !== 404 || !body.includes('no such route')) return true;
  const reason = `${method} ${route} answers 404: this needs the ${branch} branch merged`;
  if (process.env.SHIPSHAPE_REQUIRE_ALL === '1') assert.fail(reason + ' (SHIPSHAPE_REQUIRE_ALL=1)');
  t.skip(reason);
  return false;
}

// Starts `shipshape ARGS...` in the background; `lines` collects its stdout.
function startCli(repo, ...args) {
  const child = spawn(BIN, args, {cwd: repo.root, env: repo.env, stdio: ['ignore', 'pipe', 'pipe']});
  const out = {text: '', err: ''};
  child.stdout.on('data', (d) => { out.text += d; });
  child.stderr.on('data', (d) => { out.err += d; });
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  return {child, out, exited};
}

async function until(what, predicate, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail('timed out waiting for ' + what);
}

async function waitingRun(url, checklist) {
  const runs = await (await fetch(url + '/api/v1/runs?status=waiting&checklist=' + checklist)).json();
  return runs.length ? runs[0].id : null;
}

function token(repo, user, roles) {
  let r = repo.shipshape('user', 'add', user, '--roles', roles);
  assert.equal(r.code, 0, r.out + r.err);
  r = repo.shipshape('user', 'token', user);
  assert.equal(r.code, 0, r.out + r.err);
  return r.out.trim();
}

async function signIn(page, tokenText) {
  await page.locator('#signin-open').click();
  await page.locator('#token').fill(tokenText);
  await page.locator('#signin button[type="submit"]').click();
  await page.locator('#signout').waitFor();
}

test('a running step\'s log streams into the run view', async (t) => {
  const s = await session(t, (repo) => { repo.write('checklists/talk.toml', TALK); });
  if (!await needRoute(t, s.url, 'GET', '/api/v1/events', 'h2-live')) return;
  const run = startCli(s.repo, 'run', 'checklists/talk.toml');
  t.after(() => { if (run.child.exitCode === null) run.child.kill('SIGTERM'); });
  let runId = null;
  await until('the run to start', async () => {
    const runs = await (await fetch(s.url + '/api/v1/runs?checklist=talk')).json();
    runId = runs.length ? runs[0].id : null;
    return runId !== null;
  });
  const streams = [];
  const logFetches = [];
  s.page.on('response', (r) => {
    if (r.url().includes('/api/v1/events')) streams.push(r.status());
    if (r.url().endsWith('/steps/talk/log')) logFetches.push(r.status());
  });
  await s.page.goto(s.url + '/#/runs/' + runId);
  const talk = s.page.locator('li[data-step="talk"][data-status="running"]');
  await talk.waitFor();
  await talk.locator('button.log-button').click();
  await s.page.waitForFunction(() => /^first line$/m.test(document.getElementById('log').textContent));
  assert.doesNotMatch(await s.page.locator('#log').textContent(), /^second line$/m);
  fs.writeFileSync(path.join(s.repo.root, 'go'), '');
  await s.page.waitForFunction(() => /^second line$/m.test(document.getElementById('log').textContent));
  assert.equal(await run.exited, 0, run.out.text + run.out.err);
  // The line came over the event stream, not by fetching the log again.
  assert.deepEqual(streams.slice(0, 1), [200]);
  assert.equal(logFetches.length, 1, 'the log was fetched once, then streamed');
  const text = await s.page.locator('#log').textContent();
  assert.equal(text.match(/^second line$/gm).length, 1, 'each line once: ' + text);
  assert.equal(text.match(/^first line$/gm).length, 1, 'each line once: ' + text);
  // The run view follows the run to its end without a reload.
  await s.page.locator('#run-status .badge', {hasText: 'done'}).waitFor();
  assert.deepEqual(s.errors, []);
});

test('a QA user signs in, checks the step off in the browser, and run --wait completes', async (t) => {
  const s = await session(t, (repo, context) => {
    repo.write('checklists/gate.toml', GATE);
    context.qaToken = token(repo, 'alice', 'qa');
  });
  if (!await needRoute(t, s.url, 'GET', '/api/v1/me', 'h1-auth')) return;
  const run = startCli(s.repo, 'run', 'checklists/gate.toml', '--env', 'staging', '--wait');
  t.after(() => { if (run.child.exitCode === null) run.child.kill('SIGTERM'); });
  let runId = null;
  await until('the run to wait for QA', async () => (runId = await waitingRun(s.url, 'gate')) !== null);
  assert.equal(run.child.exitCode, null, 'run --wait is still waiting: ' + run.out.err);

  await s.page.goto(s.url + '/');
  const card = s.page.locator(`section[data-column="waiting"] li[data-run="${runId}"]`);
  await card.waitFor();
  assert.match(await card.innerText(), /waits for qa: step qa/);
  await signIn(s.page, s.qaToken);
  assert.equal(await s.page.locator('#who').innerText(), 'alice (qa)');
  await card.locator('a').click();
  const button = s.page.locator('#checkoff-qa');
  await button.waitFor();
  await s.page.locator('#note-qa').fill('tried it on staging <b>ok</b>');
  await screenshot(s.page, 'run-check-off');
  await button.click();
  await s.page.locator('.checkoff .ok', {hasText: 'Checked off by alice as qa.'}).waitFor();
  // The CLI that waited goes on by itself and finishes the run.
  assert.equal(await run.exited, 0, run.out.text + run.out.err);
  const detail = await (await fetch(s.url + '/api/v1/runs/' + runId)).json();
  assert.equal(detail.status, 'done');
  const qa = detail.steps.find((x) => x.id === 'qa');
  assert.deepEqual(qa.check_offs.map((c) => [c.by, c.role, c.note]),
    [['alice', 'qa', 'tried it on staging <b>ok</b>']]);
  // The page follows: the note is shown as text.
  await s.page.locator('li[data-step="qa"] .checked q', {hasText: 'tried it on staging <b>ok</b>'}).waitFor();
  // Signing out forgets the token.
  await s.page.locator('#signout').click();
  assert.equal(await s.page.evaluate(() => sessionStorage.getItem('shipshape.token')), null);
  assert.deepEqual(s.errors, []);
});

test('a user without the role sees no button, and a forged POST gets 403', async (t) => {
  const s = await session(t, (repo, context) => {
    repo.write('checklists/gate.toml', GATE);
    const r = repo.run('checklists/gate.toml', '--env', 'staging');
    assert.equal(r.code, 4, r.out + r.err);
    context.runId = r.id;
    context.devToken = token(repo, 'bob', 'dev');
  });
  if (!await needRoute(t, s.url, 'GET', '/api/v1/me', 'h1-auth')) return;
  await s.page.goto(s.url + '/#/runs/' + s.runId);
  await signIn(s.page, s.devToken);
  const qa = s.page.locator('li[data-step="qa"]');
  await qa.locator('.hint', {hasText: 'you have: dev'}).waitFor();
  assert.equal(await s.page.locator('#checkoff-qa').count(), 0);
  // The page's own token, forged into a request the page never offers: the server refuses it.
  const forged = await s.page.evaluate(async (runId) => {
    const r = await fetch(`/api/v1/runs/${runId}/steps/qa/check-off`, {
      method: 'POST',
      headers: {'Content-Type': 'application/json',
        Authorization: 'Bearer ' + sessionStorage.getItem('shipshape.token')},
      body: JSON.stringify({note: 'forged'}),
    });
    return {status: r.status, body: await r.json()};
  }, s.runId);
  assert.equal(forged.status, 403);
  assert.match(forged.body.error, /qa/);
  const detail = await (await fetch(s.url + '/api/v1/runs/' + s.runId)).json();
  assert.equal(detail.status, 'waiting');
  assert.deepEqual(detail.steps.find((x) => x.id === 'qa').check_offs, []);
  // A bad token is refused at sign-in with the server's reason.
  await s.page.locator('#signout').click();
  await s.page.locator('#signin-open').click();
  await s.page.locator('#token').fill('ssp_nope_nope');
  await s.page.locator('#signin button[type="submit"]').click();
  await s.page.locator('#signin-error', {hasText: 'Sign-in failed'}).waitFor();
  assert.match(await s.page.locator('#signin-error').innerText(), /401/);
  assert.deepEqual(s.errors, []);
});
