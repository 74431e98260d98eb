// The dashboard's CI view (issue #19): the pipelines of the store's CI queue per commit over
// GET /api/v1/ci/pipelines, and one pipeline with each job's results (failed tests, faults,
// artifacts) and a link to its run's view, over GET /api/v1/ci/pipelines/{id}
// (docs/specs/api.md, "CI"). Uses the helpers of app.js (el, api, mainWith, badge, errorBox,
// state, query, formatTime, formatDuration), loaded before it; showCi and showPipeline are
// called by app.js's router, ciBoardCard by the board.
//
// Safety as in app.js: API strings reach the page only as text nodes or setAttribute values.
'use strict';

const CI_REFRESH_MS = 5000;
// The roles the server lets cancel a pipeline (server/ci_pipelines.hpp); the server enforces it.
const CI_CANCEL_ROLES = ['admin', 'dev', 'ops'];

function shortCommit(commit) {
  return commit ? String(commit).slice(0, 10) : 'working tree';
}

function shortRef(ref) {
  return String(ref || '').replace(/^refs\/heads\//, '');
}

function ciStatusKind(status) {
  switch (status) {
    case 'passed': return 'ok';
    case 'failed': return 'bad';
    case 'running': return 'run';
    case 'queued': return 'wait';
    default: return 'neutral';
  }
}

function ciBadge(status) {
  return badge(String(status), ciStatusKind(status));
}

function ageOf(ms) {
  return ms ? formatAge(Math.max(0, Math.floor((Date.now() - ms) / 1000))) : '–';
}

function mayCancelCi() {
  return !!state.me && state.me.roles.some((r) => CI_CANCEL_ROLES.includes(r));
}

// A failing pipeline's card on the board (kind "ci" in the failed column).
function ciBoardCard(card) {
  const link = el('a', {href: '#/ci/' + encodeURIComponent(card.pipeline), class: 'card-link'},
    el('span', {class: 'card-title'}, 'CI ', shortRef(card.ref)),
    el('span', {class: 'card-env'}, el('code', {}, shortCommit(card.commit))));
  const lines = [link];
  lines.push(el('p', {class: 'card-step ci-failing'},
    card.job ? ['job ', el('strong', {}, card.job), ': '] : null,
    el('code', {}, card.failing || 'failed')));
  if (card.detail) lines.push(el('p', {class: 'card-meta ci-detail'}, card.detail));
  lines.push(el('p', {class: 'card-meta'}, 'pipeline ' + card.pipeline + ' · ' + ageOf(card.updated_at_ms)));
  return el('li', {class: 'card card-failed card-ci', 'data-pipeline': String(card.pipeline)}, lines);
}

function jobChip(job) {
  return el('li', {class: 'ci-job', 'data-job': job.name},
    el('span', {class: 'ci-job-name'}, job.name), ' ', ciBadge(job.status),
    job.failing ? [' ', el('code', {class: 'ci-failing'}, job.failing)] : null);
}

async function showCi(params) {
  const ref = params.get('ref') || '';
  const status = params.get('status') || '';
  const list = el('div', {id: 'ci-list'}, el('p', {class: 'loading'}, 'Loading…'));
  mainWith('CI', el('p', {class: 'hint'},
    'Pipelines per pushed commit (and local ci run), newest first.',
    ref || status ? [' Showing ', ref ? 'ref ' + ref + ' ' : '', status ? 'status ' + status : '',
      ' (', el('a', {href: '#/ci'}, 'all'), ').'] : null), list);
  let last = '';
  const load = async () => {
    let doc;
    try {
      doc = await api('/api/v1/ci/pipelines' + query({ref, status, limit: '100'}));
    } catch (e) {
      list.replaceChildren(errorBox(e));
      last = '';
      return;
    }
    const text = JSON.stringify(doc);
    if (text === last || state.view !== 'ci') return;
    last = text;
    const pipelines = doc.pipelines || [];
    if (!pipelines.length) {
      list.replaceChildren(el('p', {class: 'empty'},
        'No pipelines yet. Push to a repository with the hook (shipshape ci hook install), ' +
        'or run shipshape ci run in a working tree.'));
      return;
    }
    const rows = pipelines.map((p) => el('tr', {'data-pipeline': String(p.id), 'data-status': p.status},
      el('td', {}, ciBadge(p.status)),
      el('td', {}, el('a', {href: '#/ci/' + encodeURIComponent(p.id)}, '#' + p.id)),
      el('td', {}, el('a', {href: '#/ci' + query({ref: p.ref})}, shortRef(p.ref))),
      el('td', {}, el('code', {title: p.commit || ''}, shortCommit(p.commit))),
      el('td', {title: formatTime(p.created_at_ms)}, ageOf(p.created_at_ms)),
      el('td', {}, p.reason
        ? el('p', {class: 'error'}, p.reason)
        : el('ul', {class: 'ci-jobs'}, (p.jobs || []).map(jobChip)))));
    list.replaceChildren(el('div', {class: 'table-wrap'}, el('table', {class: 'ci-table'},
      el('thead', {}, el('tr', {},
        ['status', 'pipeline', 'ref', 'commit', 'age', 'jobs'].map((h) => el('th', {scope: 'col'}, h)))),
      el('tbody', {}, rows))));
  };
  await load();
  if (state.view === 'ci') state.timer = setInterval(load, CI_REFRESH_MS);
}

function resultsBlock(job) {
  const r = job.results;
  const out = [];
  if (job.results_error) out.push(el('p', {class: 'error'}, 'results unreadable: ' + job.results_error));
  if (!r) return out;
  const t = r.tests || {};
  if (t.total) {
    out.push(el('p', {class: 'ci-tests'}, t.total + ' tests: ' + t.passed + ' passed, ' + t.failed +
      ' failed, ' + t.errors + ' errors, ' + t.skipped + ' skipped'));
  }
  if ((r.failed_tests || []).length) {
    out.push(el('h4', {}, 'Failed tests'), el('ul', {class: 'ci-failed-tests'},
      r.failed_tests.map((f) => el('li', {},
        el('code', {class: 'ci-test-name'}, f.name), ' ', badge(f.status, 'bad'),
        f.message ? el('p', {class: 'detail'}, f.message) : null,
        f.output ? el('pre', {class: 'log'}, f.output) : null))));
  }
  if ((r.failed_steps || []).length) {
    out.push(el('p', {}, 'failed steps: ', r.failed_steps.map((s, i) =>
      [i ? ', ' : '', el('code', {}, s)])));
  }
  if ((r.faults || []).length) {
    out.push(el('h4', {}, 'Faults'), el('ul', {class: 'ci-faults'}, r.faults.map((f) =>
      el('li', {}, el('code', {}, f.step), ': ', f.fault, ' ', badge(f.fired ? 'fired' : 'not fired',
        f.fired ? 'wait' : 'neutral')))));
  }
  if ((r.artifacts || []).length) {
    out.push(el('h4', {}, 'Artifacts'), el('ul', {class: 'ci-artifacts'},
      r.artifacts.map((a) => el('li', {}, el('code', {}, a)))));
  }
  return out;
}

function cancelForm(p, reload) {
  const message = el('p', {class: 'error', role: 'alert', id: 'ci-cancel-error'});
  const button = el('button', {type: 'button', id: 'ci-cancel'}, 'Cancel pipeline ' + p.id);
  button.addEventListener('click', async () => {
    button.disabled = true;
    message.textContent = '';
    try {
      const doc = await api('/api/v1/ci/pipelines/' + encodeURIComponent(p.id) + '/cancel',
        {method: 'POST'});
      message.className = 'ok';
      message.textContent = 'Cancelled by ' + doc.by + ': ' + doc.changed_jobs + ' job(s).';
      reload();
    } catch (e) {
      message.textContent = 'Cancel refused: ' + e.message;
      button.disabled = false;
    }
  });
  return el('div', {class: 'ci-cancel'}, button, message);
}

async function showPipeline(id) {
  const body = el('div', {}, el('p', {class: 'loading'}, 'Loading…'));
  mainWith('Pipeline ' + id, body);
  let last = '';
  const load = async () => {
    let p;
    try {
      p = await api('/api/v1/ci/pipelines/' + encodeURIComponent(id));
    } catch (e) {
      body.replaceChildren(errorBox(e));
      last = '';
      return;
    }
    const text = JSON.stringify(p) + (state.me ? state.me.user : '');
    if (text === last || state.view !== 'pipeline') return;
    last = text;
    const active = p.status === 'queued' || p.status === 'running';
    body.replaceChildren(
      el('dl', {class: 'run-meta'},
        el('dt', {}, 'status'), el('dd', {id: 'pipeline-status'}, ciBadge(p.status)),
        el('dt', {}, 'ref'), el('dd', {}, el('a', {href: '#/ci' + query({ref: p.ref})}, shortRef(p.ref))),
        el('dt', {}, 'commit'), el('dd', {}, el('code', {}, p.commit || 'working tree (uncommitted)')),
        el('dt', {}, 'repository'), el('dd', {}, el('code', {}, p.repo)),
        el('dt', {}, 'source'), el('dd', {}, p.source),
        el('dt', {}, 'queued'), el('dd', {}, formatTime(p.created_at_ms))),
      p.reason ? el('pre', {class: 'error ci-reason'}, p.reason) : null,
      active && mayCancelCi() ? cancelForm(p, load) : null,
      el('ol', {class: 'ci-job-list'}, (p.jobs || []).map((j) =>
        el('li', {class: 'ci-job-detail', 'data-job': j.name, 'data-status': j.status},
          el('h2', {}, el('span', {class: 'ci-job-name'}, j.name), ' ', ciBadge(j.status)),
          j.failing ? el('p', {class: 'ci-failing'}, 'failing: ', el('code', {}, j.failing)) : null,
          j.detail ? el('p', {class: 'detail'}, j.detail) : null,
          el('p', {class: 'card-meta'},
            j.run ? el('a', {href: '#/runs/' + encodeURIComponent(j.run), class: 'ci-run-link'},
              'run ' + j.run) : 'no run yet',
            j.worker ? ' · worker ' + j.worker : '',
            j.finished_at_ms && j.started_at_ms
              ? ' · ' + formatDuration(j.finished_at_ms - j.started_at_ms) : '',
            j.cancel_requested ? ' · cancel requested' : ''),
          resultsBlock(j)))));
  };
  await load();
  if (state.view === 'pipeline') state.timer = setInterval(load, CI_REFRESH_MS);
}
