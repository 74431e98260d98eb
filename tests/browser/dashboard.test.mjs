// The dashboard in a real browser (Debian's chromium through playwright-core) against a real
// `shipshape serve` over a temporary ops repo: the board's columns and filters, the
// environments matrix, a run's waves and logs, escaping of step output, the history chart,
// phone width and keyboard use. Screenshots are saved as test artifacts (path printed).
import assert from 'node:assert/strict';
import {test} from 'node:test';

import {screenshot, session} from './harness.mjs';

const DEPLOY = `
  name = "deploy"
  [[step]]
  id = "build"
  sh = "echo building; echo '<script>window.__xss=1</script>'; echo '<img src=x onerror=window.__xss=2>'"
  [[step]]
  id = "qa"
  manual = "QA confirms the build"
  role = "qa"
  needs = ["build"]
  [[step]]
  id = "release"
  sh = "echo released"
  needs = ["qa"]
  `;

const QUICK = `
  name = "quick"
  [[step]]
  id = "hello"
  sh = "echo hello"
  `;

// A repo with a finished run of `quick` (local) and a run of `deploy` waiting for QA (staging).
async function withRuns(repo, context) {
  repo.write('checklists/deploy.toml', DEPLOY);
  repo.write('checklists/quick.toml', QUICK);
  const done = repo.run('checklists/quick.toml');
  assert.equal(done.code, 0, done.out + done.err);
  const waiting = repo.run('checklists/deploy.toml', '--env', 'staging');
  assert.equal(waiting.code, 4, waiting.out + waiting.err);
  context.doneId = done.id;
  context.waitingId = waiting.id;
}

function column(page, name) {
  return page.locator(`section[data-column="${name}"]`);
}

test('a waiting run is on the board in the waiting column, naming its step and role', async (t) => {
  const s = await session(t, withRuns);
  await s.page.goto(s.url + '/');
  const waiting = column(s.page, 'waiting');
  const card = waiting.locator(`li[data-run="${s.waitingId}"]`);
  await card.waitFor();
  assert.match(await card.innerText(), /waits for qa: step qa/);
  assert.match(await card.innerText(), /deploy/);
  assert.equal(await waiting.locator('.count').innerText(), '1');
  // The later manual step of the same run is not waiting: nothing else is planned, and the
  // finished run is done.
  assert.equal(await column(s.page, 'done').locator(`li[data-run="${s.doneId}"]`).count(), 1);
  assert.equal(await column(s.page, 'running').locator('.count').innerText(), '0');
  assert.match(await column(s.page, 'running').innerText(), /Nothing here/);
  await screenshot(s.page, 'board');
  // A card opens its run.
  await card.locator('a').click();
  await s.page.waitForURL(/#\/runs\//);
  await s.page.locator('h1', {hasText: 'Run ' + s.waitingId}).waitFor();
  assert.deepEqual(s.errors, []);
});

test('the board filters by environment and checklist', async (t) => {
  const s = await session(t, withRuns);
  await s.page.goto(s.url + '/');
  await s.page.locator(`li[data-run="${s.waitingId}"]`).waitFor();
  await s.page.locator('#filter-env').selectOption('local');
  await s.page.waitForURL(/env=local/);
  await s.page.locator(`li[data-run="${s.doneId}"]`).waitFor();
  assert.equal(await s.page.locator(`li[data-run="${s.waitingId}"]`).count(), 0);
  assert.equal(await column(s.page, 'waiting').locator('.count').innerText(), '0');

  await s.page.goto(s.url + '/#/board?checklist=deploy');
  await s.page.locator(`li[data-run="${s.waitingId}"]`).waitFor();
  assert.equal(await s.page.locator(`li[data-run="${s.doneId}"]`).count(), 0);
  assert.equal(await s.page.locator('#filter-checklist').inputValue(), 'deploy');

  // No match: an honest empty state.
  await s.page.goto(s.url + '/#/board?env=local&checklist=deploy');
  await s.page.locator('.empty-board', {hasText: 'No runs match these filters.'}).waitFor();
  assert.deepEqual(s.errors, []);
});

test('an empty store says so', async (t) => {
  const s = await session(t);
  await s.page.goto(s.url + '/');
  await s.page.locator('.empty-board', {hasText: 'No runs yet'}).waitFor();
  await s.page.locator('#tab-history').click();
  await s.page.locator('.empty', {hasText: 'No runs in the last 30 days.'}).waitFor();
});

test('the environments matrix shows each host with version, drift, requirements and facts age', async (t) => {
  const s = await session(t, async (repo, context) => {
    await withRuns(repo, context);
    repo.write('requirements.toml', '[resources]\nmemory = "1MiB"\n');
    const facts = repo.shipshape('facts', '--save');
    assert.equal(facts.code, 0, facts.out + facts.err);
  });
  await s.page.goto(s.url + '/#/environments');
  const matrix = s.page.locator('#env-matrix');
  await matrix.waitFor();
  const head = await matrix.locator('thead').innerText();
  assert.match(head, /local/);
  assert.match(head, /staging/);
  const local = matrix.locator('tr[data-host="localhost"]');
  const text = await local.innerText();
  assert.match(text, /version\s+unknown/);
  assert.match(text, /drift\s+unknown/);
  assert.match(text, /requirements\s+pass/);  // this machine has a MiB free
  assert.match(text, /facts\s+\d+ s ago/);
  const stage = await matrix.locator('tr[data-host="stage1"]').innerText();
  assert.match(stage, /facts\s+never/);
  assert.match(stage, /requirements\s+unknown/);
  // Colour is never alone: the badge carries the word.
  assert.equal(await local.locator('.badge-ok').innerText(), 'pass');
  await screenshot(s.page, 'environments');
  assert.deepEqual(s.errors, []);
});

test('step output is text: <script> and onerror in a log never run', async (t) => {
  const s = await session(t, withRuns);
  await s.page.goto(s.url + `/#/runs/${s.waitingId}`);
  // The steps in their waves: build, then qa, then release.
  for (const [wave, step] of [[1, 'build'], [2, 'qa'], [3, 'release']]) {
    const section = s.page.locator('section.wave', {has: s.page.locator(`h2#wave-${wave}`)});
    await section.locator(`li[data-step="${step}"]`).waitFor();
  }
  assert.equal(await s.page.locator('li[data-step="build"]').getAttribute('data-status'), 'ok');
  assert.equal(await s.page.locator('li[data-step="qa"]').getAttribute('data-status'), 'waiting');
  await s.page.locator('button.log-button[data-step="build"]').click();
  const log = s.page.locator('#log');
  await s.page.waitForFunction(() => document.getElementById('log').textContent.includes('onerror'));
  const shown = await log.textContent();
  assert.ok(shown.includes('<script>window.__xss=1</script>'), shown);
  assert.ok(shown.includes('<img src=x onerror=window.__xss=2>'), shown);
  assert.equal(await log.locator('script, img').count(), 0);
  assert.equal(await s.page.evaluate(() => window.__xss), undefined);
  await screenshot(s.page, 'run');
  assert.deepEqual(s.errors, []);
});

test('without a sign-in, a waiting step says who may check it off and offers no button', async (t) => {
  const s = await session(t, withRuns);
  await s.page.goto(s.url + `/#/runs/${s.waitingId}`);
  const qa = s.page.locator('li[data-step="qa"]');
  await qa.waitFor();
  assert.match(await qa.innerText(), /Waiting for someone with the role qa\. Sign in to check it off\./);
  assert.equal(await s.page.locator('#checkoff-qa').count(), 0);
});

test('history draws durations and failure rate as SVG, with a table', async (t) => {
  const s = await session(t, async (repo, context) => {
    await withRuns(repo, context);
    repo.write('checklists/broken.toml', '\nname = "broken"\n[[step]]\nid = "x"\nsh = "exit 3"\n');
    const r = repo.shipshape('run', 'checklists/broken.toml');
    assert.equal(r.code, 1, r.out + r.err);
  });
  await s.page.goto(s.url + '/#/history');
  const broken = s.page.locator('section.history[data-checklist="broken"]');
  await broken.waitFor();
  assert.equal(await broken.locator('svg.chart').count(), 2);
  assert.equal(await broken.locator('svg.chart rect').count(), 1);  // one day with a failure bar
  assert.match(await broken.locator('svg.chart').nth(1).textContent(), /% failed/);
  assert.match(await broken.locator('svg.chart').first().textContent(), /day \(UTC\)/);
  await broken.locator('summary').click();
  assert.match(await broken.locator('table').innerText(), /1\s+1\s+100 %/);
  await screenshot(s.page, 'history');
  assert.deepEqual(s.errors, []);
});

test('at phone width the columns stack and nothing scrolls sideways', async (t) => {
  const s = await session(t, withRuns);
  await s.page.setViewportSize({width: 390, height: 844});
  await s.page.goto(s.url + '/');
  await s.page.locator(`li[data-run="${s.waitingId}"]`).waitFor();
  const boxes = [];
  for (const name of ['planned', 'running', 'waiting', 'failed', 'done']) {
    boxes.push(await column(s.page, name).boundingBox());
  }
  for (let i = 1; i < boxes.length; i++) {
    assert.equal(Math.round(boxes[i].x), Math.round(boxes[0].x), 'columns share one left edge');
    assert.ok(boxes[i].y > boxes[i - 1].y, 'each column is below the one before');
  }
  const overflow = await s.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the phone`);
  await screenshot(s.page, 'board-phone');
  await s.page.goto(s.url + `/#/runs/${s.waitingId}`);
  await s.page.locator('li[data-step="qa"]').waitFor();
  const runOverflow = await s.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(runOverflow <= 0, `the run view is ${runOverflow}px wider than the phone`);
});

test('the keyboard reaches every tab, and focus is visible', async (t) => {
  const s = await session(t, withRuns);
  await s.page.goto(s.url + '/');
  await s.page.locator(`li[data-run="${s.waitingId}"]`).waitFor();
  const reached = [];
  for (let i = 0; i < 8; i++) {
    await s.page.keyboard.press('Tab');
    reached.push(await s.page.evaluate(() => document.activeElement.id || document.activeElement.textContent.trim()));
  }
  for (const id of ['tab-board', 'tab-environments', 'tab-history', 'signin-open']) {
    assert.ok(reached.includes(id), `${id} not reached by Tab: ${reached.join(', ')}`);
  }
  await s.page.focus('#tab-environments');
  const outline = await s.page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, 'none');
  await s.page.keyboard.press('Enter');
  await s.page.locator('#env-matrix').waitFor();
  assert.equal(await s.page.locator('#tab-environments').getAttribute('aria-current'), 'page');
  // The sign-in form opens from the keyboard, and a bad token says why.
  await s.page.focus('#signin-open');
  await s.page.keyboard.press('Enter');
  assert.equal(await s.page.evaluate(() => document.activeElement.id), 'token');
});

test('the page is served with its security headers and unknown paths are 404', async (t) => {
  const s = await session(t);
  const page = await fetch(s.url + '/');
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-security-policy'), /^default-src 'self'/);
  assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
  for (const p of ['/index.html', '/assets/../../etc/passwd', '/assets/..%2f..%2fetc%2fpasswd', '/nope']) {
    const r = await fetch(s.url + p);
    assert.equal(r.status, 404, p);
    assert.ok(!(await r.text()).includes('root:'), p);
  }
});
