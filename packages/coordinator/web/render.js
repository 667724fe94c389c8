// ferry status page: the matrix, its headers, the sites table and the summary, drawn from the
// page's state (view.js). Everything from the server reaches the DOM through textContent or
// setAttribute, never innerHTML.

import { $, ageEl, ago, el, fmtBytes, fmtTime, plural, SHORT, TRANSFERRING, targets, view } from './view.js';

// -------------------------------------------------------------------------------------- rendering

export function renderCell(row, site) {
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
  // A refused event (bad signature, rollback): the agent kept what it had, but someone must look.
  if (cell.refused && !cell.error) {
    td.classList.add('refused');
    td.append(el('span', 'sub refusal', `refused ${cell.refused.code}`));
  }
  const bytes = TRANSFERRING.has(cell.state) ? ` ${fmtBytes(cell.bytesDone)} of ${fmtBytes(cell.bytesTotal)}` : '';
  const err = cell.error
    ? `\n${cell.error.code}: ${cell.error.message}`
    : cell.refused
      ? `\nrefused ${cell.refused.code}: ${cell.refused.message}`
      : '';
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
  badge.title = `rollout: ${r.summary}${r.approvedBy ? `\napproved ${approvalText(r)}` : ''}`;
  return badge;
}

/** "by alice at 2026-12-01 10:00:00Z (scan 4711 passed)" */
function approvalText(r) {
  return `by ${r.approvedBy} at ${fmtTime(r.approvedAt)}${r.note ? ` (${r.note})` : ''}`;
}

/** The detail panel's rows about the cell's wave and deploy check and the image's rollout. */
export function rolloutDetails(row, cell) {
  const out = [];
  if (cell?.wave) out.push(['wave', cell.wave]);
  if (cell?.check) out.push(['deploy check', cell.check.passed ? 'passed' : 'failed']);
  if (row.rollout) out.push(['rollout', row.rollout.summary]);
  if (row.rollout?.approvedBy) out.push(['approved', approvalText(row.rollout)]);
  return out;
}

export function renderRow(row, first) {
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

export function siteHeader(site) {
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
  if (!site.stale && site.ready === false) th.append(el('span', 'badge bad', 'not ready'));
  th.title = [
    site.site,
    suspensionText(site),
    site.ready === false ? `not ready: ${site.notReady.join('; ')}` : '',
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

/** "suspended by op@host 5m ago: reason", or '' when the site is not suspended. */
export function suspensionText(site) {
  const s = site.suspension;
  if (!s) return '';
  return `suspended by ${s.by} ${ago(s.at)}${s.reason ? `: ${s.reason}` : ' (no reason given)'}`;
}

/** The agent's state as the sites table shows it: never "ok" for an agent that is not ready. */
export function agentState(site) {
  if (site.stale) return 'stale (no heartbeat)';
  if (site.ready === false) return `not ready: ${site.notReady.join('; ') || 'no detail'}`;
  return site.ready === null ? 'up (readiness not reported)' : 'ready';
}

export function renderHead() {
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

export function renderSitesTable() {
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
      el('td', s.ready === false && !s.stale ? 'errors' : '', agentState(s)),
      el(
        'td',
        '',
        s.suspended || s.suspendRequested
          ? `${s.suspended ? 'yes' : 'requested'}${s.suspension ? ` — ${suspensionText(s)}` : ''}`
          : 'no',
      ),
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
export function renderColumns() {
  const m = $('matrix');
  m.style.setProperty('--cols', `170px 110px repeat(${view.columns.length}, 104px)`);
  m.style.width = `${170 + 110 + 104 * view.columns.length}px`;
}

export function columnsSignature(cols) {
  return cols.map((s) => `${s.site}\u0000${s.zone}\u0000${s.stale}`).join('\u0001');
}

/** Counts cells of live sites only: a stale site's last transfers and failures are frozen, not news. */
export function renderSummary() {
  const live = new Set(view.sites.filter((s) => !s.stale).map((s) => s.site));
  let failed = 0;
  let moving = 0;
  let ready = 0;
  let refused = 0;
  for (const row of view.rows.values()) {
    for (const [site, c] of Object.entries(row.sites)) {
      if (!live.has(site)) continue;
      if (c.state === 'failed') failed++;
      else if (c.state === 'ready') ready++;
      else if (TRANSFERRING.has(c.state)) moving++;
      if (c.refused && c.state !== 'failed') refused++;
    }
  }
  const stale = view.sites.length - live.size;
  $('summary').textContent = [
    plural(view.rows.size, 'image version'),
    `${plural(live.size, 'live site')}${stale > 0 ? ` (+${stale} stale, not counted)` : ''}`,
    `${ready} ready`,
    `${moving} transferring`,
    `${failed} failed`,
    ...(refused > 0 ? [`${refused} refused`] : []),
  ].join(' · ');
}
