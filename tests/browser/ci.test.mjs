// The CI view of the dashboard (issue #19) in a real browser, over a store filled by the real
// binary: `shipshape ci run` in two small application repositories (one whose test fails, one
// whose tests pass) and `shipshape ci enqueue` of a commit no worker takes (it stays queued),
// all with SHIPSHAPE_STORE pointing at the store `shipshape serve` reads. The failing test's
// name holds markup, which must show as text.
import assert from 'node:assert/strict';
import {spawnSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {test} from 'node:test';

import {screenshot, session} from './harness.mjs';

const HTML_TEST = 'test_add_<img src=x onerror=window.__xss=1>';

// A runner that writes JUnit XML, as pytest --junitxml would: test_add fails (or not), test_mul
// passes. The XML escapes the name; the dashboard must not unescape it into markup.
function runTests(fail) {
  return `import os, sys
from xml.sax.saxutils import escape, quoteattr
name = ${JSON.stringify(HTML_TEST)}
os.makedirs("test-results", exist_ok=True)
failure = ${fail ? '"add(2, 3) should be 5, got -1"' : 'None'}
with open("test-results/calc.xml", "w") as out:
    out.write('<?xml version="1.0"?><testsuites><testsuite name="calc" tests="2" failures="%d">' % (1 if failure else 0))
    out.write('<testcase classname="calc" name=%s time="0.001">' % quoteattr(name))
    if failure:
        out.write('<failure message=%s>%s</failure>' % (quoteattr(failure), escape(failure)))
    out.write('</testcase><testcase classname="calc" name="test_mul" time="0.001"/></testsuite></testsuites>')
print("FAIL test_add" if failure else "ok")
sys.exit(1 if failure else 0)
`;
}

const CHECKLIST = 'name = "test"\n[[step]]\nid = "unit"\nrun = ["python3", "run_tests.py"]\n';
const CI = '[job.unit]\nchecklist = "ci/test.toml"\nimage = "host"\njunit = "test-results/*.xml"\n';

function git(cwd, ...args) {
  const r = spawnSync('git', ['-c', 'user.name=dev', '-c', 'user.email=dev@example.org', ...args],
    {cwd, encoding: 'utf8'});
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return r.stdout.trim();
}

// A git working tree with one commit: the calculator's tests, failing or passing.
function makeApp(dir, fail) {
  fs.mkdirSync(path.join(dir, 'ci'), {recursive: true});
  fs.writeFileSync(path.join(dir, 'run_tests.py'), runTests(fail));
  fs.writeFileSync(path.join(dir, 'ci', 'test.toml'), CHECKLIST);
  fs.writeFileSync(path.join(dir, '.shipshape-ci.toml'), CI);
  fs.writeFileSync(path.join(dir, '.gitignore'), 'test-results/\n');
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'the calculator');
  return git(dir, 'rev-parse', 'HEAD');
}

function ciIn(repo, dir, ...args) {
  return spawnSync(repo.bin, ['ci', ...args], {cwd: dir, env: repo.env, encoding: 'utf8',
    timeout: 120000});
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

async function withPipelines(repo, context) {
  repo.env.SHIPSHAPE_STORE = path.join(repo.tmp, 'team.db');
  repo.bin = (await import('./harness.mjs')).BIN;
  const failing = path.join(repo.tmp, 'app-failing');
  const passing = path.join(repo.tmp, 'app-passing');
  makeApp(failing, true);
  context.commit = makeApp(passing, false);
  let r = ciIn(repo, failing, 'run');
  assert.equal(r.status, 1, r.stdout + r.stderr);
  r = ciIn(repo, passing, 'run');
  assert.equal(r.status, 0, r.stdout + r.stderr);
  // A pushed commit no worker takes: queued, so that it may be cancelled.
  r = ciIn(repo, passing, 'enqueue', '--repo', path.join(passing, '.git'), '--ref', 'refs/heads/main',
    context.commit);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, /queued/);
  context.devToken = token(repo, 'dana', 'dev');
  context.qaToken = token(repo, 'quinn', 'qa');
}

test('a failed pipeline is a card on the board naming its failing test, shown as text', async (t) => {
  const s = await session(t, withPipelines);
  await s.page.goto(s.url + '/#/board');
  const card = s.page.locator('section[data-column="failed"] li.card-ci');
  await card.waitFor();
  assert.equal(await card.count(), 1, 'one card: the failing pipeline, none for the passed one');
  const text = await card.innerText();
  assert.ok(text.includes('calc.' + HTML_TEST), text);
  assert.match(text, /job unit/);
  assert.match(text, /working-tree/);
  assert.equal(await card.locator('img').count(), 0);
  // The CI job's run has no card of its own: its pipeline speaks for it.
  assert.equal(await s.page.locator('section[data-column="failed"] li.card').count(), 1);
  await card.locator('a.card-link').click();
  await s.page.locator('li.ci-job-detail[data-status="failed"]').waitFor();
  const job = await s.page.locator('li.ci-job-detail').innerText();
  assert.ok(job.includes('calc.' + HTML_TEST), job);
  assert.match(job, /add\(2, 3\) should be 5, got -1/);
  assert.match(job, /2 tests: 1 passed, 1 failed/);
  assert.equal(await s.page.locator('main img').count(), 0);
  // The job links to its run's view, which shows its step.
  await s.page.locator('a.ci-run-link').click();
  await s.page.locator('li.step[data-step="unit"]').waitFor();
  assert.equal(await s.page.evaluate(() => window.__xss), undefined);
  assert.deepEqual(s.errors, []);
});

test('the CI view lists pipelines per commit; only a role that may cancel gets the button', async (t) => {
  const s = await session(t, withPipelines);
  await s.page.goto(s.url + '/#/ci');
  const rows = s.page.locator('table.ci-table tbody tr');
  await rows.first().waitFor();
  assert.equal(await rows.count(), 3);
  assert.deepEqual(await rows.evaluateAll((n) => n.map((r) => r.getAttribute('data-status'))),
    ['queued', 'passed', 'failed']);
  const failed = await s.page.locator('tr[data-status="failed"]').innerText();
  assert.ok(failed.includes('calc.' + HTML_TEST), failed);
  const queued = await s.page.locator('tr[data-status="queued"]').innerText();
  assert.ok(queued.includes(s.commit.slice(0, 10)), queued);
  assert.match(queued, /\bmain\b/);
  assert.equal(await s.page.locator('#tab-ci').getAttribute('aria-current'), 'page');
  assert.equal(await s.page.locator('main img').count(), 0);
  await screenshot(s.page, 'ci');
  // Phone width: nothing is wider than the screen but the table, which scrolls in its box.
  await s.page.setViewportSize({width: 390, height: 844});
  const overflow = await s.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, 'the page is wider than a phone by ' + overflow + ' px');
  await s.page.setViewportSize({width: 1280, height: 800});

  // The queued pipeline: no button signed out or as qa; a dev cancels it.
  await s.page.locator('tr[data-status="queued"] a[href^="#/ci/"]').first().click();
  await s.page.locator('#pipeline-status').waitFor();
  assert.equal(await s.page.locator('#ci-cancel').count(), 0);
  await signIn(s.page, s.qaToken);
  await s.page.locator('#pipeline-status').waitFor();
  assert.equal(await s.page.locator('#ci-cancel').count(), 0);
  // The server refuses the qa user anyway.
  const refused = await s.page.evaluate(async () => {
    const id = location.hash.split('/').pop();
    const r = await fetch('/api/v1/ci/pipelines/' + id + '/cancel', {method: 'POST',
      headers: {Authorization: 'Bearer ' + sessionStorage.getItem('shipshape.token')}});
    return r.status;
  });
  assert.equal(refused, 403);
  await s.page.locator('#signout').click();
  await signIn(s.page, s.devToken);
  await s.page.locator('#ci-cancel').click();
  await s.page.locator('#pipeline-status .badge', {hasText: 'cancelled'}).waitFor();
  assert.deepEqual(s.errors, []);
});
