/** Human-readable output of the CLI commands (the `--json` variants print the objects themselves). */

import { formatBytes, type Manifest, type PublishedEvent, type SiteControl } from '@ferry/shared';
import type { PublishResult } from '../publish/publish-image.js';
import type { RepublishResult } from '../publish/republish-image.js';
import type { RetireResult } from '../publish/retire-image.js';
import type { RemoveSiteResult } from '../sites/remove-site.js';
import { renderColumns } from '../status/status-table.js';

function eventLine(e: PublishedEvent): string {
  return e.duplicate ? `${e.subject} (duplicate of seq ${e.seq}, not stored again)` : `${e.subject} seq ${e.seq}`;
}

function manifestLines(m: Manifest): string[][] {
  const rows: string[][] = [
    ['  artifact', `${m.artifact} (${formatBytes(m.size)})`],
    ['  sha256', m.sha256],
    ['  files', m.files.map((f) => f.name).join(', ')],
    ['  targets', m.targets.join(' ')],
  ];
  const labels = Object.entries(m.labels);
  if (labels.length > 0) rows.push(['  labels', labels.map(([k, v]) => `${k}=${v}`).join(' ')]);
  rows.push(['  published', m.publishedAt], ['  key id', m.keyId]);
  if (m.replaces) rows.push(['  replaces', m.replaces]);
  if (m.retiredAt) rows.push(['  retired', m.retiredAt]);
  return rows;
}

export function formatPublish(r: PublishResult): string {
  const ref = `${r.manifest.name}@${r.manifest.version}`;
  if (r.status === 'already-published') {
    const restored = r.restoredFromSidecar ? ' (catalog entry restored from the store)' : '';
    return `${ref} already published with the same bytes (sha256 ${r.manifest.sha256}): nothing to do${restored}\n`;
  }
  const rows = manifestLines(r.manifest);
  if (r.event) rows.push(['  event', eventLine(r.event)]);
  return `published ${ref}${r.replaced ? ' (replacing the previous bytes)' : ''}\n${renderColumns(rows)}\n`;
}

export function formatRepublish(r: RepublishResult): string {
  return `republished ${r.name}@${r.version}\n${r.events.map((e) => `  event ${eventLine(e)}`).join('\n')}\n`;
}

export function formatRetire(r: RetireResult): string {
  const ref = `${r.manifest.name}@${r.manifest.version}`;
  if (r.status === 'already-retired') return `${ref} was already retired at ${r.manifest.retiredAt}: nothing to do\n`;
  return `retired ${ref} at ${r.manifest.retiredAt}${r.event ? `\n  event ${eventLine(r.event)}` : ''}\n`;
}

export function formatReconcile(events: PublishedEvent[]): string {
  return `reconcile requested\n${events.map((e) => `  event ${eventLine(e)}`).join('\n')}\n`;
}

export function formatSiteControl(c: SiteControl, known: boolean): string {
  const what = c.suspended
    ? `suspend requested for ${c.site}: its agent finishes running transfers and starts no new ones`
    : `resume requested for ${c.site}`;
  const warn = known ? '' : `\nwarning: no agent has reported as ${c.site} yet; the request applies when one does`;
  return `${what}${warn}\n`;
}

export function formatSiteRemoved(r: RemoveSiteResult): string {
  const what = [r.heartbeat ? 'heartbeat' : '', r.statusKeys.length > 0 ? `${r.statusKeys.length} status key(s)` : '']
    .filter(Boolean)
    .join(' and ');
  return `site ${r.site} removed (${what})\n`;
}
