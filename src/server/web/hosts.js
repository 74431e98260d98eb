// The dashboard's Hosts view (issue #20): the newest pull report of every host, over
// GET /api/v1/hosts/reports (docs/specs/pull-report.md). One row per host: its result as a
// coloured badge (the word itself too), the applied commit, how many resources drift, the
// first drifted ones, when the report came and why it failed. Uses the helpers of app.js (el,
// api, mainWith, badge, errorBox, formatAge, state), loaded before it; showHosts is called by
// app.js's router.
//
// Safety as in app.js: API strings reach the page only as text nodes or setAttribute values.
'use strict';

const HOSTS_REFRESH_MS = 5000;

function reportKind(result) {
  return result === 'converged' ? 'ok' : result === 'failed' ? 'bad' : 'wait';
}

function hostRow(r, nowMs) {
  const drift = (r.drift && Array.isArray(r.drift.resources)) ? r.drift.resources.map(String) : [];
  const drifted = Number((r.drift && r.drift.drifted) || 0);
  const commit = String(r.applied_commit || '');
  const ageS = Math.max(0, Math.floor((nowMs - Number(r.received_at || 0)) / 1000));
  return el('tr', {'data-host': r.host, 'data-result': r.result},
    el('th', {scope: 'row'}, String(r.host)),
    el('td', {}, badge(String(r.result), reportKind(r.result))),
    el('td', {}, commit ? el('code', {title: commit}, commit.slice(0, 12)) : '–'),
    el('td', {class: 'num'}, String(drifted)),
    el('td', {class: 'host-drift'}, drift.slice(0, 5).join(', ') + (drift.length > 5 ? ', …' : '')),
    el('td', {}, formatAge(ageS)),
    el('td', {class: 'host-error'}, String(r.error || '').split('\n')[0]));
}

function renderHosts(doc) {
  const hosts = Array.isArray(doc.hosts) ? doc.hosts : [];
  if (!hosts.length) {
    return [el('p', {class: 'hint'}, 'No host has reported yet (`shipshape agent pull --report URL`).')];
  }
  const counts = {};
  for (const h of hosts) counts[h.result] = (counts[h.result] || 0) + 1;
  const summary = Object.entries(counts).map(([k, n]) => n + ' ' + k).join(', ');
  const now = Date.now();
  return [
    el('p', {class: 'hosts-summary'}, hosts.length + ' hosts: ' + summary),
    el('table', {class: 'hosts-table'},
      el('thead', {}, el('tr', {},
        ['Host', 'Result', 'Applied commit', 'Drift', 'Drifted', 'Reported', 'Error']
          .map((h) => el('th', {scope: 'col'}, h)))),
      el('tbody', {}, hosts.map((r) => hostRow(r, now)))),
  ];
}

async function showHosts() {
  const body = el('div', {id: 'hosts'}, el('p', {class: 'loading'}, 'Loading…'));
  mainWith('Hosts', el('p', {class: 'hint'},
    'The newest report of every host in pull mode. One host\'s reports: ' +
    '`shipshape fleet reports --host NAME`.'), body);
  let last = '';
  const load = async () => {
    let doc;
    try {
      doc = await api('/api/v1/hosts/reports');
    } catch (e) {
      body.replaceChildren(errorBox(e));
      last = '';
      return;
    }
    const text = JSON.stringify(doc);
    if (text === last || state.view !== 'hosts') return;
    last = text;
    body.replaceChildren(...renderHosts(doc));
  };
  await load();
  if (state.view === 'hosts') state.timer = setInterval(load, HOSTS_REFRESH_MS);
}
