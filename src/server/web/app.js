// The shipshape dashboard: one page, seven views (board, environments, a run, history,
// releases in releases.js, CI pipelines and a pipeline in ci.js, hosts' pull reports in hosts.js) over the JSON API under /api/v1/ (docs/specs/api.md). No framework
// and no build step.
//
// Safety: every string that comes from the API is put into the page with textContent or as an
// attribute value through setAttribute, never parsed as HTML, so a step log line holding
// <script> shows as text. The server's Content-Security-Policy (default-src 'self') forbids
// inline script and style; this file sets no style attributes, only classes.
//
// Sign-in: the user pastes a token (`shipshape user token NAME`); it is kept in sessionStorage
// (gone when the tab closes) and sent as `Authorization: Bearer` -- no cookies, so no CSRF.
'use strict';

const TOKEN_KEY = 'shipshape.token';
const BOARD_REFRESH_MS = 5000;
const RUN_POLL_MS = 3000;

const state = {
  token: sessionStorage.getItem(TOKEN_KEY) || '',
  me: null,            // {user, roles} once the token is checked
  timer: null,         // the current view's refresh timer
  events: null,        // the current view's EventSource
  view: '',
  checkedOff: null,    // {run, step, text}: this page's last check-off, shown until another view
};

// ---- DOM helpers ---------------------------------------------------------------------------

// el('a', {href: '#/x', class: 'y'}, 'text', child, ...): an element with attributes (set with
// setAttribute, so values are never markup) and children (strings become text nodes).
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    node.setAttribute(name, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === 'string' || typeof child === 'number' ? String(child) : child);
  }
  return node;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
  append(node, children);
  return node;
}

function $(id) { return document.getElementById(id); }

// A status as a badge: colour from the class, and always the word itself.
function badge(text, kind) {
  return el('span', {class: 'badge badge-' + (kind || statusKind(text))}, text);
}

function statusKind(status) {
  switch (status) {
    case 'done': case 'ok': case 'checked-off': case 'undone': case 'pass': case 'clean':
      return 'ok';
    case 'failed': case 'undo-failed': case 'interrupted': case 'fail':
      return 'bad';
    case 'waiting':
      return 'wait';
    case 'running': case 'undoing':
      return 'run';
    default:
      return 'neutral';
  }
}

function formatDuration(ms) {
  if (ms === null || ms === undefined) return '–';
  if (ms < 1000) return ms + ' ms';
  const s = ms / 1000;
  if (s < 60) return s.toFixed(1) + ' s';
  const m = Math.floor(s / 60);
  if (m < 60) return m + ' min ' + Math.round(s % 60) + ' s';
  return Math.floor(m / 60) + ' h ' + (m % 60) + ' min';
}

function formatAge(seconds) {
  if (seconds === null || seconds === undefined) return 'never';
  if (seconds < 60) return seconds + ' s ago';
  if (seconds < 3600) return Math.floor(seconds / 60) + ' min ago';
  if (seconds < 86400) return Math.floor(seconds / 3600) + ' h ago';
  return Math.floor(seconds / 86400) + ' days ago';
}

function formatTime(ms) {
  if (!ms) return '–';
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
}

// ---- the API -------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// Fetches a JSON document; throws ApiError with the server's {"error"} text on failure.
async function api(path, options) {
  const headers = Object.assign({Accept: 'application/json'}, (options && options.headers) || {});
  if (state.token) headers.Authorization = 'Bearer ' + state.token;
  let response;
  try {
    response = await fetch(path, Object.assign({}, options, {headers}));
  } catch (e) {
    throw new ApiError(0, 'the server cannot be reached (' + e.message + ')');
  }
  let doc = null;
  try {
    doc = await response.json();
  } catch (e) {
    doc = null;
  }
  if (!response.ok) {
    const reason = doc && typeof doc.error === 'string' ? doc.error : response.statusText;
    throw new ApiError(response.status, reason + ' (HTTP ' + response.status + ')');
  }
  return doc;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
  const s = q.toString();
  return s ? '?' + s : '';
}

// ---- sign-in -------------------------------------------------------------------------------

async function checkToken() {
  if (!state.token) {
    state.me = null;
    return;
  }
  try {
    const me = await api('/api/v1/me');
    state.me = {user: String(me.user), roles: Array.isArray(me.roles) ? me.roles.map(String) : []};
  } catch (e) {
    state.me = null;
    if (e.status === 401) {
      state.token = '';
      sessionStorage.removeItem(TOKEN_KEY);
    }
    throw e;
  }
}

function renderAuth() {
  const who = $('who');
  if (state.me) {
    who.textContent = state.me.user + (state.me.roles.length ? ' (' + state.me.roles.join(', ') + ')' : '');
  } else {
    who.textContent = 'not signed in';
  }
  $('signin-open').hidden = !!state.me;
  $('signout').hidden = !state.me;
}

function setupAuth() {
  const form = $('signin');
  $('signin-open').addEventListener('click', () => {
    form.hidden = false;
    $('signin-error').textContent = '';
    $('token').focus();
  });
  $('signin-cancel').addEventListener('click', () => {
    form.hidden = true;
    $('signin-open').focus();
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const token = $('token').value.trim();
    state.token = token;
    try {
      await checkToken();
      sessionStorage.setItem(TOKEN_KEY, token);
      $('token').value = '';
      form.hidden = true;
      renderAuth();
      route();
    } catch (e) {
      state.token = '';
      sessionStorage.removeItem(TOKEN_KEY);
      $('signin-error').textContent = e.status === 404
        ? 'This server has no sign-in (GET /api/v1/me answered 404).'
        : 'Sign-in failed: ' + e.message;
      renderAuth();
    }
  });
  $('signout').addEventListener('click', () => {
    state.token = '';
    state.me = null;
    sessionStorage.removeItem(TOKEN_KEY);
    renderAuth();
    route();
    $('signin-open').focus();
  });
}

// ---- views ---------------------------------------------------------------------------------

function stopView() {
  if (state.timer) clearInterval(state.timer);
  state.timer = null;
  if (state.events) state.events.close();
  state.events = null;
}

function mainWith(title, ...content) {
  const main = $('main');
  main.replaceChildren(el('h1', {id: 'view-title', tabindex: '-1'}, title), ...content);
  document.title = title + ' · shipshape';
  return main;
}

function errorBox(e) {
  return el('p', {class: 'error', role: 'alert'}, e.message);
}

// -- board --

const COLUMN_TITLES = {
  planned: 'Planned',
  running: 'Running',
  waiting: 'Waiting for check-off',
  failed: 'Failed',
  done: 'Done',
};
const COLUMN_HINTS = {
  planned: 'manual steps not reached yet in active runs',
  running: 'runs executing steps',
  waiting: 'manual steps waiting for a person',
  failed: 'failing CI pipelines, and runs that failed or were interrupted',
  done: 'runs that finished',
};

function boardCard(column, card) {
  if (card.kind === 'ci') return ciBoardCard(card);
  const link = el('a', {href: '#/runs/' + encodeURIComponent(card.run), class: 'card-link'},
    el('span', {class: 'card-title'}, card.checklist),
    el('span', {class: 'card-env'}, card.env));
  const lines = [link];
  if (column === 'waiting' || column === 'planned') {
    lines.push(el('p', {class: 'card-step'},
      (column === 'waiting' ? 'waits for ' : 'then ') , el('strong', {}, card.role || '?'),
      ': step ', el('code', {}, card.step || '?')));
  } else if (column === 'running' && card.step) {
    lines.push(el('p', {class: 'card-step'}, 'running ', el('code', {}, card.step)));
  }
  lines.push(el('p', {class: 'card-meta'}, el('code', {}, card.run), ' · ', card.user || ''));
  return el('li', {class: 'card card-' + column, 'data-run': card.run, 'data-step': card.step || ''},
    lines);
}

async function filterOptions() {
  const envs = new Set();
  const lists = new Set();
  try {
    const doc = await api('/api/v1/environments');
    for (const e of doc.environments || []) envs.add(String(e));
  } catch (e) { /* the filter still works by hand-picked values */ }
  try {
    const runs = await api('/api/v1/runs?limit=1000');
    for (const r of runs) {
      envs.add(String(r.env));
      lists.add(String(r.checklist));
    }
  } catch (e) { /* as above */ }
  return {envs: [...envs].sort(), checklists: [...lists].sort()};
}

function select(id, label, values, current) {
  const s = el('select', {id, name: id}, el('option', {value: ''}, 'any'));
  for (const v of values) s.append(el('option', {value: v, selected: v === current}, v));
  if (current && !values.includes(current)) s.append(el('option', {value: current, selected: true}, current));
  return el('label', {class: 'filter'}, label + ' ', s);
}

async function showBoard(params) {
  const env = params.get('env') || '';
  const checklist = params.get('checklist') || '';
  const columns = el('div', {class: 'board', id: 'board'}, el('p', {class: 'loading'}, 'Loading…'));
  const filters = el('form', {class: 'filters', id: 'board-filters'});
  mainWith('Board', filters, columns);
  const options = await filterOptions();
  if (state.view !== 'board') return;
  filters.append(select('filter-env', 'Environment', options.envs, env),
    select('filter-checklist', 'Checklist', options.checklists, checklist));
  filters.addEventListener('change', () => {
    location.hash = '#/board' + query({
      env: $('filter-env').value, checklist: $('filter-checklist').value});
  });
  let last = '';
  const load = async () => {
    let doc;
    try {
      doc = await api('/api/v1/board' + query({env, checklist}));
    } catch (e) {
      columns.replaceChildren(errorBox(e));
      last = '';
      return;
    }
    const text = JSON.stringify(doc);
    if (text === last || state.view !== 'board') return;  // unchanged: keep focus where it is
    last = text;
    const total = doc.columns.reduce((n, c) => n + c.count, 0);
    const parts = doc.columns.map((c) => {
      const list = el('ul', {class: 'cards'}, c.cards.map((card) => boardCard(c.name, card)));
      const more = c.count > c.cards.length
        ? el('p', {class: 'more'}, (c.count - c.cards.length) + ' more not shown') : null;
      return el('section', {class: 'column column-' + c.name, 'data-column': c.name,
        'aria-labelledby': 'col-' + c.name},
        el('h2', {id: 'col-' + c.name},
          COLUMN_TITLES[c.name] || c.name, ' ', el('span', {class: 'count', title: 'work in progress'}, String(c.count))),
        el('p', {class: 'hint'}, COLUMN_HINTS[c.name] || ''),
        c.cards.length ? list : el('p', {class: 'empty'}, 'Nothing here.'), more);
    });
    const empty = total === 0
      ? el('p', {class: 'empty-board'}, env || checklist
        ? 'No runs match these filters.'
        : 'No runs yet. Start one with `shipshape run CHECKLIST`; it shows here.')
      : null;
    columns.replaceChildren(...(empty ? [empty] : []), ...parts);
  };
  await load();
  if (state.view === 'board') state.timer = setInterval(load, BOARD_REFRESH_MS);
}

// -- environments --

function driftKind(drift) {
  if (drift === 'clean') return 'ok';
  if (drift === 'unknown') return 'neutral';
  return 'bad';
}

async function showEnvironments() {
  const body = el('div', {}, el('p', {class: 'loading'}, 'Loading…'));
  mainWith('Environments', body);
  let doc;
  try {
    doc = await api('/api/v1/environments');
  } catch (e) {
    body.replaceChildren(errorBox(e));
    return;
  }
  if (!doc.hosts.length) {
    body.replaceChildren(el('p', {class: 'empty'},
      'No hosts yet: list them in inventory.toml under [env.NAME] hosts = [...].'));
    return;
  }
  const envs = doc.environments.slice();
  if (doc.hosts.some((h) => !h.env)) envs.push('');
  const head = el('tr', {}, el('th', {scope: 'col'}, 'Host'),
    envs.map((e) => el('th', {scope: 'col'}, e || '(no environment)')));
  const rows = doc.hosts.map((h) => el('tr', {'data-host': h.host},
    el('th', {scope: 'row'}, h.host),
    envs.map((e) => el('td', {}, e === h.env ? hostCell(h) : el('span', {class: 'none'}, '–')))));
  body.replaceChildren(
    el('p', {class: 'hint'}, 'Version from the last apply (or the project package in the latest facts), ' +
      'drift from the last `drift --save`, requirements checked against the latest facts.'),
    el('div', {class: 'table-wrap'},
      el('table', {class: 'matrix', id: 'env-matrix'},
        el('caption', {}, 'Hosts × environments'),
        el('thead', {}, head), el('tbody', {}, rows))));
}

function hostCell(h) {
  return el('dl', {class: 'host'},
    el('dt', {}, 'version'), el('dd', {class: 'version'}, h.version,
      h.version_source ? el('span', {class: 'source'}, ' (' + h.version_source + ')') : null),
    el('dt', {}, 'drift'), el('dd', {}, badge(h.drift, driftKind(h.drift))),
    el('dt', {}, 'requirements'), el('dd', {title: h.requirements_detail || ''},
      badge(h.requirements, h.requirements === 'pass' ? 'ok' : h.requirements === 'fail' ? 'bad' : 'neutral'),
      h.requirements_detail ? el('span', {class: 'detail'}, ' ' + h.requirements_detail) : null),
    el('dt', {}, 'facts'), el('dd', {}, formatAge(h.facts_age_s)));
}

// -- a run --

// Waves from `needs`: a step's wave is 1 + the largest wave of what it needs; a host row
// ("step@host") sits in its step's wave.
function waves(steps) {
  const byId = new Map(steps.filter((s) => s.kind !== 'host').map((s) => [s.id, s]));
  const wave = new Map();
  const waveOf = (id, depth) => {
    if (wave.has(id)) return wave.get(id);
    const s = byId.get(id);
    if (!s || depth > byId.size) return 1;
    const needs = s.needs || [];
    const w = needs.length ? 1 + Math.max(...needs.map((n) => waveOf(n, depth + 1))) : 1;
    wave.set(id, w);
    return w;
  };
  const groups = new Map();
  for (const s of steps) {
    const parent = s.kind === 'host' ? s.id.split('@')[0] : s.id;
    const w = waveOf(parent, 0);
    if (!groups.has(w)) groups.set(w, []);
    groups.get(w).push(s);
  }
  return [...groups.entries()].sort((a, b) => a[0] - b[0]);
}

function canCheckOff(step) {
  return step.kind === 'manual' && step.status === 'waiting' && state.me &&
    state.me.roles.includes(step.role);
}

function checkOffForm(run, step, onDone) {
  const note = el('textarea', {id: 'note-' + step.id, maxlength: 4096, rows: 2});
  const message = el('p', {class: 'error', role: 'alert', id: 'checkoff-error-' + step.id});
  const button = el('button', {type: 'submit', class: 'primary', id: 'checkoff-' + step.id},
    'Check off ' + step.id + ' as ' + step.role);
  const form = el('form', {class: 'checkoff'},
    el('label', {for: 'note-' + step.id}, 'Note (optional)'), note, button, message);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    button.disabled = true;
    message.textContent = '';
    const body = note.value ? {note: note.value} : {};
    try {
      const doc = await api('/api/v1/runs/' + encodeURIComponent(run) + '/steps/' +
        encodeURIComponent(step.id) + '/check-off', {
        method: 'POST',
        headers: {'Content-Type': 'application/json'},
        body: JSON.stringify(body),
      });
      // Kept in the state, not only in this form: the step's own event may re-render the run
      // before this answer arrives, and the confirmation must survive that.
      state.checkedOff = {run, step: step.id, text: 'Checked off by ' + doc.by + ' as ' + doc.role + '.'};
      form.replaceChildren(checkedOffNote(state.checkedOff));
      onDone();
    } catch (e) {
      message.textContent = 'Check-off refused: ' + e.message;
      button.disabled = false;
    }
  });
  return form;
}

function checkedOffNote(done) {
  return el('p', {class: 'ok', role: 'status'}, done.text);
}

function stepRow(run, step, openLog, refresh) {
  const parts = [
    el('span', {class: 'step-id'}, el('code', {}, step.id)),
    badge(step.status),
    el('span', {class: 'duration'}, step.started_at_ms ? formatDuration(step.duration_ms) : ''),
  ];
  const extra = [];
  if (step.kind === 'manual') {
    extra.push(el('p', {class: 'role'}, 'role: ', el('strong', {}, step.role || '?')));
    for (const c of step.check_offs || []) {
      extra.push(el('p', {class: 'checked'}, 'checked off by ' + c.by + ' (' + c.role + ') ' +
        formatTime(c.at_ms) + (c.note ? ': ' : ''), c.note ? el('q', {}, c.note) : null));
    }
    const done = state.checkedOff;
    if (done && done.run === run && done.step === step.id && step.status !== 'waiting') {
      extra.push(el('div', {class: 'checkoff'}, checkedOffNote(done)));
    }
    if (step.status === 'waiting') {
      if (canCheckOff(step)) {
        extra.push(checkOffForm(run, step, refresh));
      } else if (state.me) {
        extra.push(el('p', {class: 'hint'}, 'Waiting for someone with the role ' + step.role +
          ' (you have: ' + (state.me.roles.join(', ') || 'no roles') + ').'));
      } else {
        extra.push(el('p', {class: 'hint'}, 'Waiting for someone with the role ' + step.role +
          '. Sign in to check it off.'));
      }
    }
  } else if (step.has_log || step.status === 'running') {
    parts.push(el('button', {type: 'button', class: 'log-button', 'data-step': step.id},
      'Log of ' + step.id));
    parts[parts.length - 1].addEventListener('click', () => openLog(step.id));
  }
  if (step.detail) extra.push(el('p', {class: 'detail'}, step.detail));
  return el('li', {class: 'step step-' + step.kind, 'data-step': step.id, 'data-status': step.status},
    el('div', {class: 'step-head'}, parts), extra);
}

async function showRun(id) {
  const body = el('div', {}, el('p', {class: 'loading'}, 'Loading…'));
  mainWith('Run ' + id, body);
  const logTitle = el('h2', {id: 'log-title'}, 'Log');
  const logPre = el('pre', {class: 'log', id: 'log', tabindex: '0', 'aria-live': 'polite'},
    'Choose a step to see its log.');
  let logStep = '';
  let detail = null;
  let loading = false;

  const load = async () => {
    if (loading) return;
    loading = true;
    try {
      detail = await api('/api/v1/runs/' + encodeURIComponent(id));
    } catch (e) {
      body.replaceChildren(errorBox(e));
      return;
    } finally {
      loading = false;
    }
    if (state.view !== 'run') return;
    const active = document.activeElement;
    const keep = active && body.contains(active) && active.tagName === 'TEXTAREA' ? active : null;
    if (keep) return;  // someone is typing a note: refresh later
    const r = detail;
    body.replaceChildren(
      el('dl', {class: 'run-meta'},
        el('dt', {}, 'checklist'), el('dd', {}, r.checklist),
        el('dt', {}, 'environment'), el('dd', {}, r.env),
        el('dt', {}, 'status'), el('dd', {id: 'run-status'}, badge(r.status)),
        el('dt', {}, 'started'), el('dd', {}, formatTime(r.started_at_ms) + ' by ' + r.user),
        el('dt', {}, 'duration'), el('dd', {}, r.ended_at_ms
          ? formatDuration(r.ended_at_ms - r.started_at_ms) : 'not ended')),
      el('div', {class: 'run-layout'},
        el('div', {class: 'waves'}, waves(r.steps).map(([w, steps]) =>
          el('section', {class: 'wave', 'aria-labelledby': 'wave-' + w},
            el('h2', {id: 'wave-' + w}, 'Wave ' + w),
            el('ol', {class: 'steps'}, steps.map((s) => stepRow(id, s, openLog, load)))))),
        el('section', {class: 'log-pane', 'aria-labelledby': 'log-title'}, logTitle, logPre)));
  };

  // Lines the stream delivers while the stored log is being fetched: appended after it,
  // unless the fetched text already ends with them.
  let pending = null;
  const openLog = async (step) => {
    logStep = step;
    logTitle.textContent = 'Log of ' + step;
    logPre.textContent = '';
    pending = [];
    let text = '';
    try {
      const doc = await api('/api/v1/runs/' + encodeURIComponent(id) + '/steps/' +
        encodeURIComponent(step) + '/log');
      text = doc.log || '';
    } catch (e) {
      text = e.message + '\n';
    }
    if (logStep !== step) return;
    const have = text.split('\n');
    if (have[have.length - 1] === '') have.pop();
    let overlap = Math.min(pending.length, have.length);
    while (overlap > 0 &&
      have.slice(have.length - overlap).join('\n') !== pending.slice(0, overlap).join('\n')) {
      overlap--;
    }
    logPre.textContent = text + pending.slice(overlap).map((l) => l + '\n').join('');
    pending = null;
  };

  await load();
  if (state.view !== 'run') return;
  // Live: the server's event stream (step and run changes, log lines). Where it is missing or
  // breaks, the run is polled instead.
  startEvents(id, {
    log: (data) => {
      if (data.step !== logStep) return;
      if (pending) {
        pending.push(String(data.line));
        return;
      }
      logPre.append(String(data.line) + '\n');
      logPre.scrollTop = logPre.scrollHeight;
    },
    change: () => load(),
    fallback: () => {
      if (!state.timer) {
        state.timer = setInterval(() => {
          load();
          if (logStep) openLog(logStep);
        }, RUN_POLL_MS);
      }
    },
  });
}

function startEvents(run, handlers) {
  if (typeof EventSource === 'undefined') {
    handlers.fallback();
    return;
  }
  const source = new EventSource('/api/v1/events' + query({run}));
  state.events = source;
  const parse = (event) => {
    try { return JSON.parse(event.data); } catch (e) { return null; }
  };
  source.addEventListener('log', (event) => {
    const data = parse(event);
    if (data && data.run === run) handlers.log(data);
  });
  for (const kind of ['step', 'run']) {
    source.addEventListener(kind, (event) => {
      const data = parse(event);
      if (data && data.run === run) handlers.change(data);
    });
  }
  source.addEventListener('error', () => {
    // A stream the server refused (no such route) is closed; a dropped one reconnects itself.
    if (source.readyState === EventSource.CLOSED) {
      if (state.events === source) state.events = null;
      handlers.fallback();
    }
  });
}

// -- history --

function chart(title, days, series, options) {
  const width = 640;
  const height = 200;
  const pad = {left: 56, right: 28, top: 12, bottom: 40};
  const innerW = width - pad.left - pad.right;
  const innerH = height - pad.top - pad.bottom;
  const max = Math.max(options.min || 0, ...series.flatMap((s) => s.values.filter((v) => v !== null)));
  const x = (i) => pad.left + (days.length === 1 ? innerW / 2 : (i * innerW) / (days.length - 1));
  const y = (v) => pad.top + innerH - (max > 0 ? (v / max) * innerH : 0);
  const root = svg('svg', {viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img',
    'aria-label': title});
  root.append(svg('title', {}, title));
  // Axes, ticks and labels.
  root.append(svg('line', {x1: pad.left, y1: pad.top + innerH, x2: pad.left + innerW, y2: pad.top + innerH, class: 'axis'}));
  root.append(svg('line', {x1: pad.left, y1: pad.top, x2: pad.left, y2: pad.top + innerH, class: 'axis'}));
  for (const frac of [0, 0.5, 1]) {
    const v = max * frac;
    root.append(svg('text', {x: pad.left - 6, y: y(v) + 4, class: 'tick', 'text-anchor': 'end'},
      options.format(v)));
    root.append(svg('line', {x1: pad.left, y1: y(v), x2: pad.left + innerW, y2: y(v), class: 'grid'}));
  }
  const labelEvery = Math.max(1, Math.ceil(days.length / 6));
  days.forEach((d, i) => {
    if (i % labelEvery === 0 || i === days.length - 1) {
      root.append(svg('text', {x: x(i), y: pad.top + innerH + 16, class: 'tick', 'text-anchor': 'middle'},
        d.slice(5)));
    }
  });
  root.append(svg('text', {x: pad.left + innerW / 2, y: height - 4, class: 'axis-label',
    'text-anchor': 'middle'}, 'day (UTC)'));
  root.append(svg('text', {x: 12, y: pad.top + innerH / 2, class: 'axis-label', 'text-anchor': 'middle',
    transform: `rotate(-90 12 ${pad.top + innerH / 2})`}, options.unit));
  series.forEach((s, n) => {
    const points = s.values.map((v, i) => (v === null ? null : [x(i), y(v)])).filter(Boolean);
    if (s.bars) {
      const w = Math.max(4, innerW / Math.max(days.length, 1) * 0.6);
      s.values.forEach((v, i) => {
        if (v === null) return;
        root.append(svg('rect', {x: x(i) - w / 2, y: y(v), width: w, height: pad.top + innerH - y(v),
          class: 'series-' + n}, svg('title', {}, days[i] + ': ' + options.format(v))));
      });
      return;
    }
    if (points.length > 1) {
      root.append(svg('polyline', {points: points.map((p) => p.join(',')).join(' '),
        class: 'line series-' + n}));
    }
    s.values.forEach((v, i) => {
      if (v === null) return;
      root.append(svg('circle', {cx: x(i), cy: y(v), r: 3.5, class: 'dot series-' + n},
        svg('title', {}, s.name + ', ' + days[i] + ': ' + options.format(v))));
    });
  });
  if (!series.some((s) => s.values.some((v) => v !== null))) {
    root.append(svg('text', {x: pad.left + innerW / 2, y: pad.top + innerH / 2, class: 'axis-label',
      'text-anchor': 'middle'}, 'no run has ended in this window'));
  }
  const legend = el('p', {class: 'legend'}, series.map((s, n) =>
    el('span', {class: 'key series-' + n + (s.bars ? ' bars' : '')}, s.name)));
  return el('figure', {class: 'chart-figure'}, root, el('figcaption', {}, title), legend);
}

// Every day of the window, so gaps show as gaps.
function windowDays(from, to) {
  const out = [];
  const end = Date.parse(to + 'T00:00:00Z');
  for (let t = Date.parse(from + 'T00:00:00Z'); t <= end; t += 86400000) {
    out.push(new Date(t).toISOString().slice(0, 10));
  }
  return out;
}

async function showHistory(params) {
  const days = params.get('days') || '30';
  const checklist = params.get('checklist') || '';
  const body = el('div', {}, el('p', {class: 'loading'}, 'Loading…'));
  const daysSelect = el('select', {id: 'history-days'},
    ['7', '30', '90', '365'].map((d) => el('option', {value: d, selected: d === days}, d + ' days')));
  const form = el('form', {class: 'filters'}, el('label', {class: 'filter'}, 'Window ', daysSelect));
  daysSelect.addEventListener('change', () => {
    location.hash = '#/history' + query({days: daysSelect.value, checklist});
  });
  mainWith('History', form, body);
  let doc;
  try {
    doc = await api('/api/v1/history' + query({days, checklist}));
  } catch (e) {
    body.replaceChildren(errorBox(e));
    return;
  }
  if (!doc.checklists.length) {
    body.replaceChildren(el('p', {class: 'empty'}, 'No runs in the last ' + doc.days + ' days.'));
    return;
  }
  const all = windowDays(doc.from, doc.to);
  body.replaceChildren(...doc.checklists.map((c) => {
    const byDay = new Map(c.days.map((d) => [d.day, d]));
    const pick = (f) => all.map((d) => (byDay.has(d) ? f(byDay.get(d)) : null));
    const rate = pick((d) => (d.runs ? (100 * d.failures) / d.runs : null));
    const table = el('table', {class: 'history-table'},
      el('caption', {}, c.checklist + ': runs per day'),
      el('thead', {}, el('tr', {}, ['Day', 'Runs', 'Failures', 'Failure rate', 'p50', 'Max'].map((h) =>
        el('th', {scope: 'col'}, h)))),
      el('tbody', {}, c.days.map((d) => el('tr', {},
        el('th', {scope: 'row'}, d.day), el('td', {}, String(d.runs)), el('td', {}, String(d.failures)),
        el('td', {}, Math.round((100 * d.failures) / d.runs) + ' %'),
        el('td', {}, formatDuration(d.p50_ms)), el('td', {}, formatDuration(d.max_ms))))));
    return el('section', {class: 'history', 'data-checklist': c.checklist},
      el('h2', {}, c.checklist),
      el('div', {class: 'charts'},
        chart(c.checklist + ': run duration', all,
          [{name: 'p50', values: pick((d) => d.p50_ms)}, {name: 'max', values: pick((d) => d.max_ms)}],
          {unit: 'duration', format: (v) => formatDuration(Math.round(v))}),
        chart(c.checklist + ': failure rate', all, [{name: 'failures %', values: rate, bars: true}],
          {unit: '% failed', min: 100, format: (v) => Math.round(v) + ' %'})),
      el('details', {}, el('summary', {}, 'Table'), table));
  }));
}

// ---- routing -------------------------------------------------------------------------------

function parseHash() {
  const hash = location.hash.replace(/^#/, '') || '/board';
  const [path, q] = hash.split('?');
  return {parts: path.split('/').filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(q || '')};
}

async function route() {
  stopView();
  const {parts, params} = parseHash();
  let view = parts[0] || 'board';
  if (!['board', 'environments', 'history', 'releases', 'runs', 'ci', 'hosts'].includes(view)) view = 'board';
  state.view = view === 'runs' ? 'run' : view === 'ci' && parts[1] ? 'pipeline' : view;
  for (const tab of ['board', 'environments', 'history', 'releases', 'ci', 'hosts']) {
    const link = $('tab-' + tab);
    if (tab === view) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (view === 'environments') await showEnvironments();
  else if (view === 'history') await showHistory(params);
  else if (view === 'releases') await showReleases();
  else if (view === 'hosts') await showHosts();
  else if (view === 'runs' && parts[1]) await showRun(parts[1]);
  else if (view === 'ci' && parts[1]) await showPipeline(parts[1]);
  else if (view === 'ci') await showCi(params);
  else await showBoard(params);
}

async function start() {
  setupAuth();
  try {
    await checkToken();
  } catch (e) { /* signed out; the form says why when used */ }
  renderAuth();
  try {
    const doc = await api('/api/v1/environments');
    if (doc.project) $('project').textContent = doc.project;
  } catch (e) { /* the name is only a label */ }
  window.addEventListener('hashchange', async () => {
    await route();
    const title = $('view-title');
    if (title) title.focus();
  });
  await route();
}

document.addEventListener('DOMContentLoaded', start);
