// The dashboard's Releases view (issue #17): a Kanban board of releases by stage over
// GET /api/v1/releases (docs/specs/api.md). One column per stage, earliest first, after a
// "Not started" column; a release's card sits in the column of the furthest stage whose run of
// it finished, and says what its next stage needs: "may run on ENV", or what is missing and
// who signed. Uses the helpers of app.js (el, api, mainWith, badge, errorBox, state), loaded
// before it; showReleases is called by app.js's router.
//
// Safety as in app.js: API strings reach the page only as text nodes or setAttribute values.
'use strict';

const RELEASES_REFRESH_MS = 5000;
const NOT_STARTED = 'not-started';

// "qa: carol@example.org, dan@example.org; ops: olga@example.org", or '' when nobody signed.
function signedText(have) {
  return Object.entries(have || {})
    .filter(([, people]) => Array.isArray(people) && people.length)
    .map(([role, people]) => role + ': ' + people.map(String).join(', '))
    .join('; ');
}

// What the release's next stage (after `reachedIndex`) says: a line for the card.
function nextStageLine(release, reachedIndex) {
  const stages = release.stages || [];
  const next = stages[reachedIndex + 1];
  if (!next) {
    return el('p', {class: 'release-next release-last'},
      stages.length ? 'Reached the last stage.' : 'No stages defined.');
  }
  if (next.ok) {
    return el('p', {class: 'release-next release-may-run'},
      badge('may run', 'ok'), ' next: ', el('strong', {}, next.name), ' on ', el('code', {}, next.env));
  }
  const missing = (next.missing || []).map(String);
  return el('div', {class: 'release-next release-blocked'},
    el('p', {}, badge('blocked', 'wait'), ' next: ', el('strong', {}, next.name), ' on ',
      el('code', {}, next.env)),
    el('ul', {class: 'missing'}, missing.map((m) => el('li', {}, m))));
}

function releaseCard(release, reachedIndex) {
  const marks = [];
  if (release.superseded_by) {
    marks.push(badge('superseded by ' + String(release.superseded_by).slice(0, 12), 'neutral'));
  }
  if ((release.changed || []).length) marks.push(badge('inputs changed', 'bad'));
  if (release.id_matches === false) marks.push(badge('record edited', 'bad'));
  const signed = (release.stages || [])
    .map((s) => [s.name, signedText(s.have)])
    .filter(([, text]) => text)
    .map(([stage, text]) => el('li', {}, 'signed for ', el('strong', {}, stage), ': ', text));
  const rejected = (release.stages || []).reduce((n, s) => n + (Number(s.rejected) || 0), 0);
  const classes = ['card', 'release-card'];
  if (release.superseded_by) classes.push('release-superseded');
  if ((release.changed || []).length) classes.push('release-changed');
  return el('li', {class: classes.join(' '), 'data-release': release.id, 'data-name': release.name,
    'data-superseded': release.superseded_by ? 'true' : 'false'},
    el('p', {class: 'card-link'}, el('span', {class: 'card-title'}, release.name),
      el('code', {class: 'card-env', title: release.id}, release.short_id)),
    marks.length ? el('p', {class: 'release-marks'}, marks) : null,
    // What changed is among the next stage's missing items; past the last stage, say it here.
    (release.changed || []).length && reachedIndex + 1 >= (release.stages || []).length
      ? el('ul', {class: 'changed'}, release.changed.map((c) => el('li', {}, String(c)))) : null,
    nextStageLine(release, reachedIndex),
    signed.length ? el('ul', {class: 'signed'}, signed) : null,
    rejected ? el('p', {class: 'hint'}, rejected + ' sign-off' + (rejected === 1 ? '' : 's') +
      ' not counted (see `shipshape release show ' + release.name + '`)') : null,
    el('p', {class: 'card-meta'}, 'created ' + formatTime(release.created_at_ms) + ' by ' +
      (release.created_by || '?')));
}

// A column: the current ids' cards (counted), then the superseded ids' cards folded away, so
// that a release rebuilt many times does not bury the rest.
function releaseColumn(key, title, hint, column) {
  const id = 'relcol-' + (key === NOT_STARTED ? NOT_STARTED : 'stage-' + key);
  const attrs = {class: 'column release-column', 'aria-labelledby': id,
    'data-column': key === NOT_STARTED ? NOT_STARTED : 'stage'};
  if (key !== NOT_STARTED) attrs['data-stage'] = key;
  const old = column.superseded;
  return el('section', attrs,
    el('h2', {id}, title, ' ', el('span', {class: 'count', title: 'current releases'},
      String(column.current.length))),
    el('p', {class: 'hint'}, hint),
    column.current.length ? el('ul', {class: 'cards'}, column.current)
      : el('p', {class: 'empty'}, 'Nothing here.'),
    old.length ? el('details', {class: 'superseded'},
      el('summary', {}, old.length + ' superseded id' + (old.length === 1 ? '' : 's')),
      el('ul', {class: 'cards'}, old)) : null);
}

function renderReleases(doc) {
  const stages = Array.isArray(doc.stages) ? doc.stages : [];
  const releases = Array.isArray(doc.releases) ? doc.releases : [];
  const newColumn = () => ({current: [], superseded: []});
  const byStage = new Map(stages.map((s) => [String(s.name), newColumn()]));
  const notStarted = newColumn();
  for (const r of releases) {
    const names = (r.stages || []).map((s) => s.name);
    const reachedIndex = r.reached ? names.indexOf(r.reached) : -1;
    const column = reachedIndex >= 0 && byStage.has(r.reached) ? byStage.get(r.reached) : notStarted;
    (r.superseded_by ? column.superseded : column.current).push(releaseCard(r, reachedIndex));
  }
  const parts = [];
  if (!stages.length) {
    parts.push(el('p', {class: 'empty-board'},
      'No release stages: add [stage.NAME] tables to shipshape.toml (see the manual).'));
  }
  if (!releases.length) {
    parts.push(el('p', {class: 'empty-board'},
      'No releases yet. Make one with `shipshape release create NAME --package FILE --checklist FILE`.'));
  }
  parts.push(releaseColumn(NOT_STARTED, 'Not started', 'no stage has run this release yet', notStarted));
  for (const s of stages) {
    const wanted = Object.entries(s.sign_offs || {}).map(([role, n]) => n + ' ' + role).join(', ');
    const hint = 'on ' + s.env + (s.after ? ', after ' + s.after : '') +
      (wanted ? '; wants sign-offs: ' + wanted : '');
    parts.push(releaseColumn(String(s.name), String(s.name), 'finished ' + hint, byStage.get(String(s.name))));
  }
  return parts;
}

async function showReleases() {
  const columns = el('div', {class: 'board release-board', id: 'release-board'},
    el('p', {class: 'loading'}, 'Loading…'));
  mainWith('Releases', el('p', {class: 'hint'},
    'Each release sits in the column of the furthest stage whose run of it finished; the card says ' +
    'what its next stage needs. Sign off with `shipshape sign-off`.'), columns);
  let last = '';
  const load = async () => {
    let doc;
    try {
      doc = await api('/api/v1/releases');
    } catch (e) {
      columns.replaceChildren(errorBox(e));
      last = '';
      return;
    }
    const text = JSON.stringify(doc);
    if (text === last || state.view !== 'releases') return;
    last = text;
    columns.replaceChildren(...renderReleases(doc));
  };
  await load();
  if (state.view === 'releases') state.timer = setInterval(load, RELEASES_REFRESH_MS);
}
