// The Hosts view of the dashboard (issue #20) in a real browser: two hosts in pull mode send
// their reports to the real `shipshape serve` with their own tokens (one converged, one failed
// with drift and an error holding markup, which must show as text), and the page lists each
// host's newest report with its result as a badge.
import assert from 'node:assert/strict';
import {test} from 'node:test';

import {screenshot, session} from './harness.mjs';

const HTML_ERROR = 'apply failed: <img src=x onerror=window.__xss=1>';

function token(repo, user, roles) {
  let r = repo.shipshape('user', 'add', user, '--roles', roles);
  assert.equal(r.code, 0, r.out + r.err);
  r = repo.shipshape('user', 'token', user);
  assert.equal(r.code, 0, r.out + r.err);
  return r.out.trim();
}

function report(host, run, result) {
  const failed = result !== 'converged';
  return {
    format: 'shipshape.pull-report/1', host, run,
    commit: '3b1f2c4d5e6f708192a3b4c5d6e7f8091a2b3c4d',
    applied_commit: '3b1f2c4d5e6f708192a3b4c5d6e7f8091a2b3c4d', branch: 'main',
    started_at: 1796601600000, finished_at: 1796601600412, result, exit_code: failed ? 1 : 0,
    error: failed ? HTML_ERROR : '', apply: {resources: 12, changed: 1, failed: failed ? 1 : 0},
    drift: failed ? {drifted: 2, resources: ['file:/etc/motd', 'service:nginx']}
      : {drifted: 0, resources: []},
    facts: null,
  };
}

async function send(url, tokenText, doc) {
  const r = await fetch(url + '/api/v1/hosts/' + doc.host + '/reports', {method: 'POST',
    headers: {'Content-Type': 'application/json', Authorization: 'Bearer ' + tokenText},
    body: JSON.stringify(doc)});
  assert.equal(r.status, 201, await r.text());
}

test('the Hosts view lists each host\'s newest report with its result, text only', async (t) => {
  const s = await session(t, async (repo, context) => {
    context.web1 = token(repo, 'web-1', 'host');
    context.web2 = token(repo, 'web-2', 'host');
  });
  await send(s.url, s.web1, report('web-1', '0000000000000001', 'failed'));
  await send(s.url, s.web1, report('web-1', '0000000000000002', 'converged'));
  await send(s.url, s.web2, report('web-2', '0000000000000003', 'failed'));
  await s.page.goto(s.url + '/#/hosts');
  const rows = s.page.locator('table.hosts-table tbody tr');
  await rows.first().waitFor();
  assert.equal(await rows.count(), 2);
  assert.deepEqual(await rows.evaluateAll((n) => n.map((r) => [r.getAttribute('data-host'),
    r.getAttribute('data-result')])), [['web-1', 'converged'], ['web-2', 'failed']]);
  const failed = s.page.locator('tr[data-host="web-2"]');
  assert.equal(await failed.locator('.badge-bad').innerText(), 'failed');
  assert.equal(await s.page.locator('tr[data-host="web-1"] .badge-ok').innerText(), 'converged');
  const text = await failed.innerText();
  assert.ok(text.includes(HTML_ERROR), text);
  assert.match(text, /3b1f2c4d5e6f/);
  assert.match(text, /file:\/etc\/motd, service:nginx/);
  assert.equal(await s.page.locator('main img').count(), 0);
  assert.equal(await s.page.locator('#tab-hosts').getAttribute('aria-current'), 'page');
  assert.match(await s.page.locator('.hosts-summary').innerText(), /2 hosts: 1 converged, 1 failed/);
  await screenshot(s.page, 'hosts');
  assert.equal(await s.page.evaluate(() => window.__xss), undefined);
  assert.deepEqual(s.errors, []);
});
