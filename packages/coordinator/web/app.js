// ferry status page: plain modern JavaScript, no framework, no build step, served as is.
//
// Data comes from GET /api/events (Server-Sent Events, see src/web/event-stream.ts): `hello`,
// then the full ferry/status/v1 document (`status`), then row-level patches (`patch`). The stream
// is read with fetch(), not EventSource, because EventSource cannot send the Authorization header
// and the API token must never travel in a URL. The token (when the coordinator has one) is asked
// for once and kept in sessionStorage. Everything that comes from the server reaches the DOM
// through textContent or setAttribute, never innerHTML.

const TRANSFERRING = new Set(['downloading', 'verifying', 'importing']);
const SHORT = { downloading: 'download', verifying: 'verify', importing: 'import' };
const TOKEN_KEY = 'ferry-api-token';
/** Reconnect when nothing (not even a keepalive, every 15 s) arrived for this long. */
const SILENCE_MS = 45_000;

const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

const view = {
  sites: [],
  rows: new Map(),
  order: [],
  /** Server clock minus this browser's clock, ms (ages are computed in server time). */
  offset: 0,
  republish: false,
  selected: null,
  columns: [],
  columnsSignature: '',
  trs: new Map(),
  ready: false,
};

// ---------------------------------------------------------------------------------- formatting

function fmtBytes(n) {
  if (n === null || n === undefined) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

function fmtAge(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d`;
}

const fmtTime = (iso) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '–');
const serverNow = () => Date.now() + view.offset;
const ago = (iso) => (iso ? `${fmtAge(serverNow() - Date.parse(iso))} ago` : 'never');

/** An element whose text is "<prefix><age> ago", refreshed every second. */
function ageEl(tag, className, prefix, iso) {
  const e = el(tag, className, prefix + ago(iso));
  if (iso) {
    e.dataset.since = iso;
    e.dataset.prefix = prefix;
  }
  return e;
}

function refreshAges() {
  for (const e of document.querySelectorAll('[data-since]')) {
    e.textContent = e.dataset.prefix + ago(e.dataset.since);
  }
}

// ------------------------------------------------------------------------------------ targeting

/** The same rule as targetsSite in packages/shared/src/targets.ts. */
function selectorMatches(sel, site) {
  if (sel === '*') return true;
  if (sel.startsWith('zone:')) return sel.slice(5) === site.zone;
  if (sel.startsWith('label:')) {
    const body = sel.slice(6);
    const eq = body.indexOf('=');
    if (eq <= 0) return false;
    const key = body.slice(0, eq);
    return Object.hasOwn(site.labels, key) && site.labels[key] === body.slice(eq + 1);
  }
  return sel === site.site;
}

function targets(row, site) {
  if (!row.inCatalog || site.zone === null) return false;
  return row.targets.some((t) => selectorMatches(t, site));
}

// ------------------------------------------------------------------------------------- filtering

const terms = (id) => $(id).value.trim().toLowerCase().split(/\s+/).filter(Boolean);

function visibleSites() {
  const want = terms('filter-site');
  const zone = (s) => s.zone ?? '\uffff';
  return view.sites
    .filter(
      (s) =>
        want.length === 0 ||
        want.some((t) => s.site.toLowerCase().includes(t) || (s.zone ?? '').toLowerCase().includes(t)),
    )
    .sort((a, b) => zone(a).localeCompare(zone(b)) || a.site.localeCompare(b.site));
}

function rowFilter() {
  const want = terms('filter-image');
  return (row) => {
    const ref = `${row.name}@${row.version}`.toLowerCase();
    return want.every((t) => ref.includes(t));
  };
}

// -------------------------------------------------------------------------------------- rendering

function renderCell(row, site) {
  const td = document.createElement('div');
  td.setAttribute('role', 'cell');
  td.dataset.site = site.site;
  const cell = row.sites[site.site];
  const staleCls = site.stale ? ' stale-col' : '';
  if (!cell) {
    const targeted = targets(row, site);
    td.className = (targeted ? 'c none' : 'c untargeted') + staleCls;
    td.dataset.state = targeted ? 'none' : 'untargeted';
    if (targeted) td.textContent = '–';
    td.title = `${site.site}: ${targeted ? 'targeted, no status yet' : 'not targeted'}`;
    return td;
  }
  td.className = `c s-${cell.state}${cell.outdated ? ' outdated' : ''}${staleCls}`;
  td.dataset.state = cell.state;
  if (TRANSFERRING.has(cell.state)) {
    const pct = cell.percent ?? 0;
    td.style.setProperty('--p', `${pct}%`);
    td.append(`${SHORT[cell.state]} ${cell.percent === null ? '' : `${pct}%`}`);
    const compact = (n) => fmtBytes(n).replace(' ', '');
    td.append(el('span', 'sub', `${compact(cell.bytesDone)}/${compact(cell.bytesTotal)}`));
  } else if (cell.state === 'failed') {
    td.textContent = 'failed';
    if (cell.error) td.append(el('span', 'sub', cell.error.code));
  } else {
    td.textContent = cell.state;
  }
  const bytes = TRANSFERRING.has(cell.state) ? ` ${fmtBytes(cell.bytesDone)} of ${fmtBytes(cell.bytesTotal)}` : '';
  const err = cell.error ? `\n${cell.error.code}: ${cell.error.message}` : '';
  if (cell.check && !cell.check.passed) td.append(el('span', 'sub', 'check failed'));
  const wave = cell.wave ? `, wave ${cell.wave}` : '';
  const check = cell.check ? `, deploy check ${cell.check.passed ? 'passed' : 'failed'}` : '';
  td.title = `${site.site}: ${cell.state}${bytes}${cell.outdated ? ' (older bytes)' : ''}${wave}${check}, updated ${fmtTime(cell.updatedAt)}${err}`;
  if (view.selected && view.selected.key === `${row.name}@${row.version}` && view.selected.site === site.site) {
    td.classList.add('selected');
  }
  return td;
}

/** held, wave 1/2, soaking, halted, done: the rollout at a glance; the full summary on hover. */
function rolloutBadge(r) {
  const short =
    r.state === 'rolling' || r.state === 'soaking' || r.state === 'pending'
      ? `${r.state === 'soaking' ? 'soak ' : ''}wave ${r.waveNumber}/${r.of}`
      : r.state;
  const badge = el('span', `badge rollout r-${r.state}`, short);
  const approved = r.approvedBy
    ? `\napproved by ${r.approvedBy} at ${fmtTime(r.approvedAt)}${r.note ? ` (${r.note})` : ''}`
    : '';
  badge.title = `rollout: ${r.summary}${approved}`;
  return badge;
}

function renderRow(row, first) {
  const key = `${row.name}@${row.version}`;
  const tr = el('div', `row${first ? ' first' : ''}${row.retired ? ' retired-row' : ''}`);
  tr.setAttribute('role', 'row');
  tr.dataset.image = key;
  const th = el('div', 'rowname', row.name);
  th.setAttribute('role', 'rowheader');
  tr.append(th);
  const version = el('div', 'version', row.version);
  version.setAttribute('role', 'cell');
  version.title = [
    key,
    row.inCatalog ? `published ${fmtTime(row.publishedAt)}` : 'not in the catalog',
    row.retired ? `retired ${fmtTime(row.retiredAt)}` : '',
    row.inCatalog ? `targets ${row.targets.join(' ')}` : '',
    row.sha256 ? `sha256 ${row.sha256}` : '',
  ]
    .filter(Boolean)
    .join('\n');
  if (!row.inCatalog) version.append(el('span', 'badge', 'not in catalog'));
  if (row.rollout) version.append(rolloutBadge(row.rollout));
  tr.append(version);
  for (const site of view.columns) tr.append(renderCell(row, site));
  return tr;
}

function siteHeader(site) {
  const th = el('div', `site${site.stale ? ' stale' : ''}${site.suspended ? ' suspended' : ''}`);
  th.setAttribute('role', 'columnheader');
  th.dataset.site = site.site;
  th.append(el('div', 'name', site.site));
  th.append(ageEl('div', 'meta', site.stale ? 'stale · ' : 'seen ', site.lastSeen));
  const rec = site.lastReconcile;
  if (rec) {
    const note = rec.finishedAt === null ? ' (running)' : rec.errors.length > 0 ? ` · ${rec.errors.length} err` : '';
    const e = ageEl('div', 'meta', 'reconciled ', rec.startedAt);
    th.append(e, note ? el('div', 'meta', note.replace(/^ · /, '')) : '');
  } else {
    th.append(el('div', 'meta', 'no reconcile yet'));
  }
  if (site.suspended) th.append(el('span', 'badge', 'suspended'));
  else if (site.suspendRequested) th.append(el('span', 'badge', 'suspend requested'));
  th.title = [
    site.site,
    `zone ${site.zone ?? '(unknown: no heartbeat)'}`,
    `last seen ${fmtTime(site.lastSeen)}${site.stale ? ' (stale)' : ''}`,
    site.agentVersion ? `agent ${site.agentVersion}` : '',
    rec ? `last reconcile ${fmtTime(rec.startedAt)} (${rec.trigger}${rec.dryRun ? ', dry run' : ''})` : '',
    ...(rec?.errors ?? []),
  ]
    .filter(Boolean)
    .join('\n');
  return th;
}

function renderHead() {
  const zones = el('div', 'hrow zones');
  zones.setAttribute('role', 'row');
  const corner = el('div', 'corner', 'image');
  const ver = el('div', 'corner-v', 'version');
  zones.append(corner, ver);
  let last;
  let zoneTh;
  let span = 0;
  const close = () => {
    if (zoneTh) zoneTh.style.gridColumn = `span ${span}`;
  };
  for (const s of view.columns) {
    const zone = s.zone ?? '(no heartbeat)';
    if (zone !== last) {
      close();
      zoneTh = el('div', 'zone', zone);
      zoneTh.setAttribute('role', 'columnheader');
      zones.append(zoneTh);
      last = zone;
      span = 0;
    }
    span++;
  }
  close();
  const names = el('div', 'hrow names');
  names.setAttribute('role', 'row');
  names.append(el('div', 'corner'), el('div', 'corner-v'));
  for (const s of view.columns) names.append(siteHeader(s));
  $('matrix-head').replaceChildren(zones, names);
}

function renderSitesTable() {
  const rows = view.sites.map((s) => {
    const tr = el('tr', s.stale ? 'stale' : '');
    tr.dataset.site = s.site;
    const rec = s.lastReconcile;
    const counts = rec
      ? Object.entries(rec.counts)
          .map(([k, v]) => `${k} ${v}`)
          .join(' · ')
      : '';
    tr.append(
      el('td', '', s.site),
      el('td', '', s.zone ?? '–'),
      s.lastSeen ? ageEl('td', '', s.stale ? 'stale, ' : '', s.lastSeen) : el('td', '', 'never'),
      el('td', '', s.agentVersion ?? '–'),
      el('td', '', s.queueDepth ?? '–'),
      el('td', '', s.activeDownloads ?? '–'),
      el('td', '', s.activeImports ?? '–'),
      el('td', '', s.suspended ? 'yes' : s.suspendRequested ? 'requested' : 'no'),
      rec ? ageEl('td', '', `${rec.trigger}${rec.dryRun ? ' (dry run)' : ''}, `, rec.startedAt) : el('td', '', '–'),
      el(
        'td',
        rec?.errors.length ? 'errors' : '',
        rec ? (rec.finishedAt === null ? 'running' : [counts, ...rec.errors].join('\n')) : '',
      ),
    );
    return tr;
  });
  $('sites').tBodies[0].replaceChildren(...rows);
}

/** Fixed column widths: rows lay out independently, and rows off screen not at all. */
function renderColumns() {
  const m = $('matrix');
  m.style.setProperty('--cols', `170px 110px repeat(${view.columns.length}, 92px)`);
  m.style.width = `${170 + 110 + 92 * view.columns.length}px`;
}

function columnsSignature(cols) {
  return cols.map((s) => `${s.site}\u0000${s.zone}\u0000${s.stale}`).join('\u0001');
}

function renderSummary() {
  let failed = 0;
  let moving = 0;
  let ready = 0;
  for (const row of view.rows.values()) {
    for (const c of Object.values(row.sites)) {
      if (c.state === 'failed') failed++;
      else if (c.state === 'ready') ready++;
      else if (TRANSFERRING.has(c.state)) moving++;
    }
  }
  $('summary').textContent =
    `${view.rows.size} image versions · ${view.sites.length} sites · ${ready} ready · ${moving} transferring · ${failed} failed`;
}

/** Rebuilds the whole table (first document, new rows or columns, filters). */
function renderAll() {
  view.columns = visibleSites();
  view.columnsSignature = columnsSignature(view.columns);
  renderColumns();
  renderHead();
  const keep = rowFilter();
  const frag = document.createDocumentFragment();
  view.trs.clear();
  let lastName;
  for (const key of view.order) {
    const row = view.rows.get(key);
    if (!row || !keep(row)) continue;
    const tr = renderRow(row, row.name !== lastName);
    lastName = row.name;
    view.trs.set(key, tr);
    frag.append(tr);
  }
  $('matrix-body').replaceChildren(frag);
  $('empty').hidden = view.order.length > 0 || view.sites.length > 0;
  renderSitesTable();
  renderSummary();
  renderDetail();
}

/** Applies a patch: the changed rows only, unless rows or columns come and go. */
function applyPatch(p) {
  view.sites = p.sites;
  for (const row of p.images) view.rows.set(`${row.name}@${row.version}`, row);
  if (p.order !== null) {
    const keep = new Set(p.order);
    for (const key of view.rows.keys()) if (!keep.has(key)) view.rows.delete(key);
    view.order = p.order;
  }
  const cols = visibleSites();
  if (p.order !== null || columnsSignature(cols) !== view.columnsSignature) return renderAll();
  view.columns = cols;
  renderHead();
  for (const row of p.images) {
    const key = `${row.name}@${row.version}`;
    const old = view.trs.get(key);
    if (!old) continue; // filtered out
    const tr = renderRow(row, old.classList.contains('first'));
    old.replaceWith(tr);
    view.trs.set(key, tr);
  }
  renderSitesTable();
  renderSummary();
  renderDetail();
}

// ---------------------------------------------------------------------------------- cell details

/** The panel's frame (title, close, republish controls) is built once per selection; live
 *  updates replace only its info part, so a click or a ticked checkbox is never lost to a patch. */
let detailFor = '';

function detailFrame(sel, row, site) {
  const close = el('button', 'close', '×');
  close.type = 'button';
  close.title = 'close';
  close.addEventListener('click', () => select(null));
  const parts = [close, el('h3', '', `${sel.key} @ ${site.site}`), el('div', 'info')];
  if (view.republish) {
    const actions = el('div', 'actions');
    const button = el('button', 'republish', `Republish to ${site.site}`);
    button.type = 'button';
    const force = el('input');
    force.type = 'checkbox';
    const label = el('label', '', ' force re-import');
    label.prepend(force);
    button.addEventListener('click', () => republish(row.name, row.version, site.site, force.checked, button));
    actions.append(button, label);
    parts.push(actions);
  }
  $('detail').replaceChildren(...parts);
}

function renderDetail() {
  const box = $('detail');
  const sel = view.selected;
  const row = sel && view.rows.get(sel.key);
  const site = sel && view.sites.find((s) => s.site === sel.site);
  if (!row || !site) {
    box.hidden = true;
    box.replaceChildren();
    detailFor = '';
    return;
  }
  const id = `${sel.key}\u0000${sel.site}\u0000${view.republish}`;
  if (detailFor !== id) {
    detailFrame(sel, row, site);
    detailFor = id;
  }
  const cell = row.sites[site.site];
  const dl = el('dl');
  const add = (k, v) => dl.append(el('dt', '', k), el('dd', '', String(v)));
  add('state', cell ? cell.state : targets(row, site) ? 'no status yet (targeted)' : 'not targeted');
  if (cell) {
    if (cell.bytesTotal > 0) {
      add('bytes', `${fmtBytes(cell.bytesDone)} / ${fmtBytes(cell.bytesTotal)} (${cell.percent}%)`);
    }
    add('updated', `${fmtTime(cell.updatedAt)} (${ago(cell.updatedAt)})`);
    add('attempts', cell.attempts);
    if (cell.retryAt) add('retry at', fmtTime(cell.retryAt));
    if (cell.outdated) add('note', 'this record is for older bytes than the catalog holds now');
    if (cell.wave) add('wave', cell.wave);
    if (cell.check) add('deploy check', cell.check.passed ? 'passed' : 'failed');
  }
  if (row.rollout) {
    add('rollout', row.rollout.summary);
    if (row.rollout.approvedBy) {
      add(
        'approved',
        `by ${row.rollout.approvedBy} at ${fmtTime(row.rollout.approvedAt)}${row.rollout.note ? ` (${row.rollout.note})` : ''}`,
      );
    }
  }
  const flags = `${site.stale ? ', stale' : ''}${site.suspended ? ', suspended' : ''}`;
  add('site', `${site.site} (zone ${site.zone ?? '?'})${flags}`);
  if (!row.inCatalog) add('catalog', 'not in the catalog');
  if (row.retired) add('retired', fmtTime(row.retiredAt));
  if (row.sha256) add('sha256', row.sha256);
  const info = [dl];
  if (cell?.error) info.push(el('div', 'error', `${cell.error.code}: ${cell.error.message}`));
  box.querySelector('.info').replaceChildren(...info);
  const actions = box.querySelector('.actions');
  // republishImage refuses what is not in the catalog or retired: do not offer it.
  if (actions) actions.hidden = !row.inCatalog || row.retired;
  box.hidden = false;
}

function select(sel) {
  for (const td of document.querySelectorAll('#matrix .selected')) td.classList.remove('selected');
  view.selected = sel;
  if (sel)
    view.trs
      .get(sel.key)
      ?.querySelector(`[data-site="${CSS.escape(sel.site)}"]`)
      ?.classList.add('selected');
  renderDetail();
}

function flash(text, bad = false) {
  const f = $('flash');
  f.textContent = text;
  f.className = bad ? 'bad' : '';
}

async function republish(name, version, site, force, button) {
  button.disabled = true;
  try {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const res = await fetch('/api/republish', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ name, version, site, force }),
      credentials: 'omit',
      cache: 'no-store',
    });
    const body = await res.json().catch(() => ({}));
    if (res.ok) {
      const evs = (body.events ?? []).map((e) => `${e.subject} #${e.seq}`).join(', ');
      flash(`republish of ${name}@${version} to ${site} sent (${evs})`);
    } else {
      flash(`republish refused: ${res.status} ${body.error ?? ''}`, true);
      if (res.status === 401) {
        sessionStorage.removeItem(TOKEN_KEY);
        showAuth('The token was refused; enter it again.');
      }
    }
  } catch (err) {
    flash(`republish failed: ${err.message}`, true);
  } finally {
    button.disabled = false;
  }
}

// ------------------------------------------------------------------------------------ the stream

let controller = null;
let retryMs = 1000;
let lastByte = 0;

function setConn(kind, text) {
  const c = $('conn');
  c.dataset.conn = kind;
  c.textContent = text;
}

function showAuth(message) {
  $('auth-msg').textContent = message;
  $('auth').hidden = false;
  setConn('token', 'token needed');
  $('auth-token').focus();
}

function onEvent(type, data) {
  if (type === 'hello') {
    view.republish = JSON.parse(data).republish === true;
    return;
  }
  if (type !== 'status' && type !== 'patch') return;
  if (!view.ready) performance.mark('ferry-first-document');
  const doc = JSON.parse(data);
  view.offset = Date.parse(doc.generatedAt) - Date.now();
  if (type === 'status') {
    view.sites = doc.sites;
    view.rows = new Map(doc.images.map((r) => [`${r.name}@${r.version}`, r]));
    view.order = doc.images.map((r) => `${r.name}@${r.version}`);
    renderAll();
    retryMs = 1000;
    setConn('live', 'live');
    if (!view.ready) {
      view.ready = true;
      // For tests and the curious: milliseconds from navigation start to the first full table,
      // built (DOM) and then laid out and painted (the frame after it has run).
      const root = document.documentElement;
      root.dataset.builtMs = String(Math.round(performance.now()));
      requestAnimationFrame(() =>
        setTimeout(() => {
          root.dataset.renderMs = String(Math.round(performance.now()));
          root.dataset.ready = 'true';
        }, 0),
      );
    }
  } else {
    applyPatch(doc);
  }
}

/** Reads a text/event-stream body: blocks separated by a blank line; `:` lines are comments. */
async function readStream(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  let from = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    lastByte = Date.now();
    buf += value;
    for (;;) {
      const end = buf.indexOf('\n\n', from);
      if (end < 0) {
        from = Math.max(0, buf.length - 1);
        break;
      }
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      from = 0;
      let type = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line === '' || line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let v = colon < 0 ? '' : line.slice(colon + 1);
        if (v.startsWith(' ')) v = v.slice(1);
        if (field === 'event') type = v;
        else if (field === 'data') data.push(v);
      }
      if (data.length > 0) onEvent(type, data.join('\n'));
    }
  }
}

function reconnectLater() {
  const wait = retryMs;
  retryMs = Math.min(retryMs * 2, 15_000);
  setConn('offline', `disconnected; retrying in ${Math.round(wait / 1000)} s`);
  setTimeout(connect, wait);
}

async function connect() {
  controller?.abort();
  const mine = new AbortController();
  controller = mine;
  const token = sessionStorage.getItem(TOKEN_KEY);
  let res;
  try {
    res = await fetch('/api/events', {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      credentials: 'omit',
      cache: 'no-store',
      signal: mine.signal,
    });
  } catch {
    if (controller === mine) reconnectLater();
    return;
  }
  if (res.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    showAuth(
      token
        ? 'That token was refused. Enter the API token again.'
        : 'This coordinator requires its API token (http.tokenFile or FERRY_API_TOKEN).',
    );
    return;
  }
  if (!res.ok || !res.body) {
    if (controller === mine) reconnectLater();
    return;
  }
  $('auth').hidden = true;
  lastByte = Date.now();
  try {
    await readStream(res.body);
  } catch {
    // aborted or cut: reconnect below
  }
  if (controller === mine) reconnectLater();
}

// Nothing for SILENCE_MS (keepalives come every 15 s): the connection is dead without knowing it.
setInterval(() => {
  if (controller && lastByte && Date.now() - lastByte > SILENCE_MS) {
    lastByte = 0;
    controller.abort();
  }
}, 5_000);

// ------------------------------------------------------------------------------------ wiring

// A grid of divs for speed (see app.css), announced as a table.
$('matrix').setAttribute('role', 'table');
$('matrix').setAttribute('aria-label', 'images by sites');
$('matrix-head').setAttribute('role', 'rowgroup');
$('matrix-body').setAttribute('role', 'rowgroup');

$('auth').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const token = $('auth-token').value.trim();
  if (!token) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  $('auth-token').value = '';
  $('auth').hidden = true;
  setConn('connecting', 'connecting…');
  connect();
});

let filterTimer;
for (const id of ['filter-image', 'filter-site']) {
  $(id).addEventListener('input', () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(renderAll, 120);
  });
}

$('matrix-body').addEventListener('click', (ev) => {
  const td = ev.target.closest('[data-site]');
  const tr = td?.closest('[data-image]');
  if (!td || !tr) return;
  select({ key: tr.dataset.image, site: td.dataset.site });
});

document.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape') select(null);
});

setInterval(refreshAges, 1000);
connect();
