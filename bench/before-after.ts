/**
 * docs/benchmarks.md's "Before and after": the Done-when ratios of issue 15 (one pass from store to
 * Content Library) from this run beside the last full run before it (kept in
 * bench/results/before-one-pass.json; its numbers are "before").
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT, type ScenarioResult } from './common.js';

export const BEFORE_FILE = join(REPO_ROOT, 'bench', 'results', 'before-one-pass.json');

interface Results {
  date: string;
  scenarios: ScenarioResult[];
}

export interface BeforeAfterRow {
  measurement: string;
  target: string;
  before: string;
  after: string;
}

const x = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? `${v.toFixed(2)}×` : '—');
const mb = (v: unknown) => (typeof v === 'number' ? `${Math.round(v / 1e6)} MB` : '—');

function data(r: Results | undefined, id: string): Record<string, unknown> {
  return r?.scenarios.find((s) => s.id === id)?.data ?? {};
}

/** The rows for the Done-when list; `—` where a run did not measure it. */
export function beforeAfterRows(before: Results | undefined, after: Results): BeforeAfterRow[] {
  const e2eB = data(before, 'e2e');
  const e2eA = data(after, 'e2e');
  const plainA = (e2eA['plain'] ?? {}) as Record<string, number>;
  const oneA = (e2eA['one'] as { readyMs?: Record<string, number> } | undefined)?.readyMs?.['site1'];
  const oneB = (e2eB['one'] as { readyMs?: Record<string, number> } | undefined)?.readyMs?.['site1'];
  const sumB = (e2eB['baselines'] as { sumMs?: number } | undefined)?.sumMs;
  const memB = data(before, 'memory');
  const memA = data(after, 'memory');
  return [
    {
      measurement: 'e2e one site, event → ready, ÷ plain tools both at once (time)',
      target: '≤ 1.1× (goal 1.0×)',
      // Not in the bench before: measured by hand for the issue (12.0 s vs 8.4 s).
      before: '1.43× (by hand)',
      after: x(e2eA['vsBoth']),
    },
    {
      measurement: 'e2e one site ÷ plain tools one after the other (time)',
      target: 'reported',
      before: oneB && sumB ? x(oneB / sumB) : '—',
      after: x(e2eA['vsSum']),
    },
    {
      measurement: 'e2e one site ÷ the slower plain tool alone (time)',
      target: 'reported',
      before: x(e2eB['vsSlower']),
      after: x(e2eA['vsSlower']),
    },
    {
      measurement: 'e2e one site, event → ready (s)',
      target: '',
      before: oneB ? (oneB / 1000).toFixed(2) : '—',
      after: oneA ? `${(oneA / 1000).toFixed(2)} (both at once ${((plainA['bothMs'] ?? 0) / 1000).toFixed(2)})` : '—',
    },
    {
      measurement: 'download into the verified cache ÷ curl | openssl (speed)',
      target: '≥ 0.75× (goal 0.95×)',
      before: x(data(before, 'download')['ratioVsCurl']),
      after: x(data(after, 'download')['ratioVsCurl']),
    },
    {
      measurement: 'download into the verified cache ÷ rclone (speed)',
      target: '≥ 1.0×',
      before: x(data(before, 'download')['ratioVsRclone']),
      after: x(data(after, 'download')['ratioVsRclone']),
    },
    {
      measurement: 'import upload phase ÷ curl -T (speed)',
      target: '≥ 0.9×',
      before: x(data(before, 'import')['ratio']),
      after: x(data(after, 'import')['ratio']),
    },
    {
      measurement: 'ferry publish ÷ rclone copy (speed)',
      target: '≥ 1.0×',
      // Not in the bench before: measured by hand for the issue (18–19 s vs 19–21 s).
      before: '≈ 1.0–1.1× (by hand)',
      after: x(data(after, 'publish')['vsRclone']),
    },
    {
      measurement: 'agent peak RSS (largest size)',
      target: '< 200 MB',
      before: mb(memB['maxPeakBytes']),
      after: mb(memA['maxPeakBytes']),
    },
    {
      measurement: 'agent peak RSS, largest ÷ smallest size',
      target: 'flat',
      before: x(memB['growth']),
      after: x(memA['growth']),
    },
  ];
}

export async function loadBefore(): Promise<Results | undefined> {
  try {
    return JSON.parse(await readFile(BEFORE_FILE, 'utf8')) as Results;
  } catch (err) {
    process.stderr.write(`bench: no "before" results (${(err as Error).message}); the table shows — for them\n`);
    return undefined;
  }
}
