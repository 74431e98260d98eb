// The Releases view of the dashboard (issue #17) in a real browser: releases made, signed off
// (ssh-keygen keys, `shipshape sign-off`) and run through the real binary, then shown as a
// board of releases by stage. A card sits in the column of the furthest stage its run
// finished and says what the next stage lacks; a principal holding markup is shown as text;
// a repo without stages or releases shows the view without a script error.
import assert from 'node:assert/strict';
import {spawnSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {test} from 'node:test';

import {screenshot, session} from './harness.mjs';

const HTML_PRINCIPAL = '<img/src=x/onerror=window.__xss=3>';

const DEPLOY = `
  name = "deploy"
  [params.version]
  required = true
  [[step]]
  id = "install"
  sh = "echo installing {{version}}"
  `;

function keygen(dir, who) {
  const file = path.join(dir, who);
  const r = spawnSync('ssh-keygen', ['-q', '-N', '', '-t', 'ed25519', '-C', who, '-f', file],
    {encoding: 'utf8'});
  if (r.status !== 0) throw new Error('ssh-keygen: ' + r.stderr);
  return {key: file, pub: fs.readFileSync(file + '.pub', 'utf8')};
}

// Stages qa (on local) and staging (after qa, two qa sign-offs). booking-1.0 ran on local and
// has one staging sign-off (carol's); web-2.0 ran nowhere and is signed for staging by a
// principal whose name is markup; api-3.0 has a current and a superseded id.
async function withReleases(repo, context) {
  repo.write('shipshape.toml', `
    name = "browser-test"
    [stage.qa]
    env = "local"
    [stage.staging]
    after = "qa"
    sign_offs = { qa = 2 }
    `);
  repo.write('checklists/deploy.toml', DEPLOY);
  const keys = path.join(repo.tmp, 'keys');
  fs.mkdirSync(keys);
  const carol = keygen(keys, 'carol');
  const eve = keygen(keys, 'eve');
  repo.write('allowed_signers', `carol@example.org ${carol.pub}${HTML_PRINCIPAL} ${eve.pub}`);
  repo.write('signers.toml', `[signers]\nqa = ["carol@example.org", "${HTML_PRINCIPAL}"]\n`);
  repo.write('artifacts/booking.tar', 'booking 1.0\n');
  repo.write('artifacts/web.tar', 'web 2.0\n');
  const create = (name, artifact, version) => {
    const r = repo.shipshape('release', 'create', name, '--package', artifact, '--checklist',
      'checklists/deploy.toml', '--set', 'version=' + version);
    assert.equal(r.code, 0, r.out + r.err);
    return r.out.trim().split('\n').pop();
  };
  context.booking = create('booking-1.0', 'artifacts/booking.tar', '1.0');
  context.web = create('web-2.0', 'artifacts/web.tar', '2.0');
  let r = repo.shipshape('sign-off', 'booking-1.0', '--stage', 'staging', '--as', 'qa', '--key', carol.key);
  assert.equal(r.code, 0, r.out + r.err);
  r = repo.shipshape('sign-off', 'web-2.0', '--stage', 'staging', '--as', 'qa', '--key', eve.key);
  assert.equal(r.code, 0, r.out + r.err);
  r = repo.shipshape('run', 'checklists/deploy.toml', '--env', 'local', '--release', 'booking-1.0');
  assert.equal(r.code, 0, r.out + r.err);
  // api-3.0 twice, its artifact changed in between: the first id is superseded.
  repo.write('artifacts/api.tar', 'api 3.0\n');
  context.apiOld = create('api-3.0', 'artifacts/api.tar', '3.0');
  await new Promise((resolve) => setTimeout(resolve, 10));  // created_at is in ms
  repo.write('artifacts/api.tar', 'api 3.0 rebuilt\n');
  context.apiNew = create('api-3.0', 'artifacts/api.tar', '3.0');
}

function column(page, stage) {
  return page.locator(`section[data-stage="${stage}"]`);
}

test('a release sits in the column of the furthest stage it reached, naming what is missing', async (t) => {
  const s = await session(t, withReleases);
  await s.page.goto(s.url + '/#/releases');
  const card = column(s.page, 'qa').locator(`li[data-release="${s.booking}"]`);
  await card.waitFor();
  const text = await card.innerText();
  assert.match(text, /booking-1\.0/);
  assert.ok(text.includes(s.booking.slice(0, 12)), text);
  assert.match(text, /next: staging on staging/);
  assert.match(text, /needs 1 more qa sign-off \(have: carol@example\.org\)/);
  assert.match(text, /signed for staging: qa: carol@example\.org/);
  assert.equal(await column(s.page, 'qa').locator('.count').innerText(), '1');
  assert.equal(await column(s.page, 'staging').locator('.count').innerText(), '0');
  // Columns: not started, then the stages earliest first.
  const columns = await s.page.locator('#release-board section').evaluateAll(
    (nodes) => nodes.map((n) => n.getAttribute('data-stage') || n.getAttribute('data-column')));
  assert.deepEqual(columns, ['not-started', 'qa', 'staging']);
  // The tab is marked as the current view.
  assert.equal(await s.page.locator('#tab-releases').getAttribute('aria-current'), 'page');
  await screenshot(s.page, 'releases');
  // Phone width: the columns stack, nothing is wider than the screen.
  await s.page.setViewportSize({width: 390, height: 844});
  const overflow = await s.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, 'the page is wider than a phone by ' + overflow + ' px');
  await screenshot(s.page, 'releases-phone');
  assert.deepEqual(s.errors, []);
});

test('a release no stage ran is not started and may run on the first stage; markup in a principal is text', async (t) => {
  const s = await session(t, withReleases);
  await s.page.goto(s.url + '/#/releases');
  const card = s.page.locator(`section[data-column="not-started"] li[data-release="${s.web}"]`);
  await card.waitFor();
  const text = await card.innerText();
  assert.match(text, /may run next: qa on local/);
  assert.ok(text.includes('signed for staging: qa: ' + HTML_PRINCIPAL), text);
  assert.equal(await card.locator('img').count(), 0);
  assert.equal(await s.page.evaluate(() => window.__xss), undefined);
  assert.deepEqual(s.errors, []);
});

test('without stages or releases the view says so, without a script error', async (t) => {
  const s = await session(t);
  await s.page.goto(s.url + '/#/releases');
  await s.page.locator('#release-board', {hasText: 'No release stages'}).waitFor();
  assert.match(await s.page.locator('#release-board').innerText(), /No releases yet/);
  assert.equal(await s.page.locator('section[data-column="not-started"] .count').innerText(), '0');
  assert.deepEqual(s.errors, []);
});

test('a superseded id is folded away in its column and marked, its successor is current', async (t) => {
  const s = await session(t, withReleases);
  await s.page.goto(s.url + '/#/releases');
  const notStarted = s.page.locator('section[data-column="not-started"]');
  await notStarted.locator(`li[data-release="${s.apiNew}"]`).waitFor();
  // Current: web-2.0 and the new api-3.0; the old id is in the folded list only.
  assert.equal(await notStarted.locator('.count').innerText(), '2');
  assert.equal(await notStarted.locator(`ul.cards > li[data-release="${s.apiNew}"]`).count(), 1);
  const folded = notStarted.locator('details.superseded');
  assert.match(await folded.locator('summary').innerText(), /^1 superseded id$/);
  const old = folded.locator(`li[data-release="${s.apiOld}"]`);
  assert.equal(await old.isVisible(), false);
  await folded.locator('summary').click();
  const text = await old.innerText();
  assert.ok(text.includes('superseded by ' + s.apiNew.slice(0, 12)), text);
  assert.match(text, /inputs changed/);
  assert.doesNotMatch(await notStarted.locator(`li[data-release="${s.apiNew}"]`).innerText(),
    /superseded|inputs changed/);
  await screenshot(s.page, 'releases-superseded');
  assert.deepEqual(s.errors, []);
});
