// ferry status page: plain modern JavaScript, no framework, no build step, served as is.
//
// Data comes from GET /api/events (Server-Sent Events, see src/web/event-stream.ts): `hello`,
// then the full ferry/status/v1 document (`status`), then row-level patches (`patch`). The stream
// is read with fetch(), not EventSource, because EventSource cannot send the Authorization header
// and the API token must never travel in a URL. The token (when the coordinator has one) is asked
// for once and kept in sessionStorage. Everything that comes from the server reaches the DOM
// through textContent or setAttribute, never innerHTML.
//
// targets.js and format-age.js are @ferry/shared's compiled modules, served as they are: the page
// and the CLI share one targeting rule and one age format.

import {
  agentState,
  columnsSignature,
  renderColumns,
  renderHead,
  renderRow,
  renderSitesTable,
  renderSummary,
  rolloutDetails,
  suspensionText,
} from './render.js';
import { $, ago, el, fmtBytes, fmtTime, refreshAges, rowFilter, targets, view, visibleSites } from './view.js';

const TOKEN_KEY = 'ferry-api-token';
/** Reconnect when nothing (not even a keepalive, every 15 s) arrived for this long. */
const SILENCE_MS = 45_000;

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
  }
  for (const [k, v] of rolloutDetails(row, cell)) add(k, v);
  const flags = `${site.stale ? ', stale' : ''}${site.suspended ? ', suspended' : ''}`;
  add('site', `${site.site} (zone ${site.zone ?? '?'})${flags}`);
  if (site.suspension) add('suspension', suspensionText(site));
  if (!site.stale && site.ready === false) add('agent', agentState(site));
  if (!row.inCatalog) add('catalog', 'not in the catalog: an agent reports it, the catalog has no entry');
  if (row.retired) add('retired', fmtTime(row.retiredAt));
  // The page does not check manifest signatures: this is what the catalog claims; agents verify it.
  if (row.sha256) add('catalog sha256 (unverified here)', row.sha256);
  const info = [dl];
  if (cell?.error) info.push(el('div', 'error', `${cell.error.code}: ${cell.error.message}`));
  if (cell?.refused) {
    info.push(
      el(
        'div',
        'error refusal',
        `refused ${cell.refused.code} ${fmtTime(cell.refused.at)}: ${cell.refused.message}\nThe agent kept what it had and ignored the event.`,
      ),
    );
  }
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
