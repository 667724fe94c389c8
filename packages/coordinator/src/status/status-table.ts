/** Plain-text rendering of the status matrix (pure: same matrix and `now`, same text). */
import { formatAgeAt } from '@ferry/shared';
import {
  type ImageRow,
  isTransferring,
  rowTargetsSite,
  type SiteRow,
  type StatusCell,
  type StatusMatrix,
} from './status-matrix.js';

/** Compact age: 12s, 5m, 3h, 4d (the same function the web page uses). */
export function formatAge(iso: string | null, now: Date): string {
  return formatAgeAt(iso, now.getTime());
}

/** One matrix cell: state, percent while transferring, error code when failed, age. `*`: record for replaced bytes. */
export function formatCell(cell: StatusCell | undefined, targeted: boolean, now: Date): string {
  if (!cell) return targeted ? 'none' : '-';
  const parts: string[] = [cell.outdated ? `${cell.state}*` : cell.state];
  if (cell.wave) parts.unshift(`${cell.wave}:`);
  if (isTransferring(cell.state) && cell.percent !== null) parts.push(`${cell.percent}%`);
  if (cell.state === 'failed' && cell.error) parts.push(cell.error.code);
  else if (cell.refused) parts.push(`(refused ${cell.refused.code})`);
  if (cell.check) parts.push(cell.check.passed ? 'check ok' : 'check FAILED');
  parts.push(formatAge(cell.updatedAt, now));
  return parts.join(' ');
}

function siteMarks(site: SiteRow): string[] {
  const marks: string[] = [];
  if (site.stale) marks.push('STALE');
  else if (site.ready === false) marks.push('NOT READY');
  if (site.suspended) marks.push('SUSPENDED');
  else if (site.suspendRequested) marks.push('SUSPEND REQUESTED');
  return marks;
}

/** `ok` only for a live agent that reports itself ready; older agents do not report readiness. */
function siteState(site: SiteRow): string {
  const marks = siteMarks(site).join(', ');
  if (marks) return marks;
  return site.ready === null ? 'up (readiness not reported)' : 'ok';
}

/** One line per suspension (who, when, why) and per not-ready agent (which check, why). */
export function siteNotes(matrix: StatusMatrix, now: Date): string[] {
  const notes: string[] = [];
  for (const s of matrix.sites) {
    const sus = s.suspension;
    if (sus) {
      const why = sus.reason ? `: ${sus.reason}` : ' (no reason given)';
      notes.push(`${s.site}: suspended by ${sus.by} ${formatAge(sus.at, now)} ago${why}`);
    }
    if (!s.stale && s.ready === false) notes.push(`${s.site}: not ready: ${s.notReady.join('; ') || 'no detail'}`);
  }
  return notes;
}

function siteHeader(site: SiteRow): string {
  const marks = siteMarks(site);
  return marks.length > 0 ? `${site.site} (${marks.map((m) => m.toLowerCase()).join(', ')})` : site.site;
}

/** Left-aligned columns separated by two spaces; trailing spaces trimmed. */
export function renderColumns(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    for (let i = 0; i < row.length; i++) widths[i] = Math.max(widths[i] ?? 0, row[i]?.length ?? 0);
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function imageLabel(row: ImageRow): string {
  let label = `${row.name}@${row.version}`;
  if (row.retired) label += ' (retired)';
  else if (!row.inCatalog) label += ' (not in catalog)';
  return label;
}

/** Explains the two empty cells, which look alike but mean different things. */
export const CELL_LEGEND = 'none: targeted, no status yet · -: not targeted (or the site has not reported its zone)';

export function renderImagesTable(matrix: StatusMatrix, now: Date): string {
  if (matrix.images.length === 0) return 'no images published yet';
  const header = ['IMAGE', 'PUBLISHED', ...matrix.sites.map(siteHeader)];
  const rows = matrix.images.map((img) => [
    imageLabel(img),
    formatAge(img.publishedAt, now),
    ...matrix.sites.map((s) => formatCell(img.sites[s.site], rowTargetsSite(img, s), now)),
  ]);
  const legend = [CELL_LEGEND];
  if (matrix.images.some((img) => Object.values(img.sites).some((c) => c.outdated))) {
    legend.push('*: status of bytes that were replaced since (publish --replace)');
  }
  if (matrix.images.some((img) => !img.inCatalog)) {
    legend.push('not in catalog: agents report it, the catalog has no entry (deleted or never published here)');
  }
  return `${renderColumns([header, ...rows])}\n${legend.join('\n')}`;
}

export function renderSitesTable(matrix: StatusMatrix, now: Date): string {
  if (matrix.sites.length === 0) return 'no sites have reported yet';
  const header = ['SITE', 'ZONE', 'LAST SEEN', 'AGENT', 'QUEUE', 'DOWNLOADS', 'IMPORTS', 'STATE'];
  const rows = matrix.sites.map((s) => [
    s.site,
    s.zone ?? '-',
    formatAge(s.lastSeen, now),
    s.agentVersion ?? '-',
    s.queueDepth === null ? '-' : String(s.queueDepth),
    s.activeDownloads === null ? '-' : String(s.activeDownloads),
    s.activeImports === null ? '-' : String(s.activeImports),
    siteState(s),
  ]);
  return [renderColumns([header, ...rows]), ...siteNotes(matrix, now)].join('\n');
}

export function renderReconcileTable(matrix: StatusMatrix, now: Date): string {
  const withReport = matrix.sites.filter((s) => s.lastReconcile);
  if (withReport.length === 0) return 'no reconcile reports yet';
  const header = ['SITE', 'FINISHED', 'TRIGGER', 'IMPORT', 'REIMPORT', 'DELETE', 'KEEP', 'IGNORED', 'ERRORS'];
  const rows = withReport.map((s) => {
    const r = s.lastReconcile!;
    return [
      s.site,
      r.finishedAt ? formatAge(r.finishedAt, now) : `running ${formatAge(r.startedAt, now)}`,
      r.dryRun ? `${r.trigger} (dry run)` : r.trigger,
      String(r.counts.import),
      String(r.counts.reimport),
      String(r.counts.delete),
      String(r.counts.keep),
      String(r.counts.ignored),
      r.errors.length === 0 ? '0' : `${r.errors.length}: ${r.errors[0]}`,
    ];
  });
  return renderColumns([header, ...rows]);
}

/** Images with a rollout: its state (held, wave n of m, soaking until, halted: why, done) and approval. */
export function renderRolloutsTable(matrix: StatusMatrix): string | undefined {
  const rolling = matrix.images.filter((img) => img.rollout);
  if (rolling.length === 0) return undefined;
  const header = ['IMAGE', 'ROLLOUT', 'APPROVED'];
  const rows = rolling.map((img) => {
    const r = img.rollout!;
    const approved = r.approvedBy ? `by ${r.approvedBy} at ${r.approvedAt}${r.note ? ` (${r.note})` : ''}` : '-';
    return [`${img.name}@${img.version}`, r.summary, approved];
  });
  return renderColumns([header, ...rows]);
}

/** The whole `ferry status` page: matrix, rollouts (if any), sites, last reconcile. */
export function renderStatus(matrix: StatusMatrix, now: Date): string {
  const rollouts = renderRolloutsTable(matrix);
  return [
    renderImagesTable(matrix, now),
    ...(rollouts ? ['', 'ROLLOUTS', rollouts] : []),
    '',
    'SITES',
    renderSitesTable(matrix, now),
    '',
    'LAST RECONCILE',
    renderReconcileTable(matrix, now),
    '',
  ].join('\n');
}
