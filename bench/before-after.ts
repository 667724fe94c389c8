/**
 * docs/benchmarks.md's "Before and after": the Done-when ratios of issue 15 (one pass from store to
 * Content Library) from this run beside the last full run of the two-pass design
 * (bench/results/before-one-pass.json), the first one-pass run (bench/results/one-pass-streams.json),
 * the third session's last run (bench/results/one-pass-reused-buffers.json) and the fourth's
 * (bench/results/one-pass-tar-walk.json).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT, type ScenarioResult } from './common.js';

export const BEFORE_FILE = join(REPO_ROOT, 'bench', 'results', 'before-one-pass.json');
/** The first full run of the one-pass design, whose data path was node streams (December, session 2). */
export const STREAMS_FILE = join(REPO_ROOT, 'bench', 'results', 'one-pass-streams.json');
/** The last full run of the third session: no allocation per byte, the OVA proof in a stream-reading worker. */
export const REUSED_FILE = join(REPO_ROOT, 'bench', 'results', 'one-pass-reused-buffers.json');
/** The last full run of the fourth session: the prover walks the tar itself, the download is hashed from its write buffers. */
export const TAR_WALK_FILE = join(REPO_ROOT, 'bench', 'results', 'one-pass-tar-walk.json');

interface Results {
  date: string;
  scenarios: ScenarioResult[];
}

export interface BeforeAfterRow {
  measurement: string;
  target: string;
  before: string;
  streams: string;
  reused: string;
  tarWalk: string;
  after: string;
}

const x = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? `${v.toFixed(2)}×` : '—');
const mb = (v: unknown) => (typeof v === 'number' ? `${Math.round(v / 1e6)} MB` : '—');

function data(r: Results | undefined, id: string): Record<string, unknown> {
  return r?.scenarios.find((s) => s.id === id)?.data ?? {};
}

/** The Done-when values of one run (as the current run reports them); `—` where it did not measure one. */
function cells(r: Results | undefined): string[] {
  const e2e = data(r, 'e2e');
  const plain = (e2e['plain'] ?? {}) as Record<string, number>;
  // The median of the single-site runs where a run has several, else its one run.
  const one =
    (e2e['singleMs'] as number | undefined) ??
    (e2e['one'] as { readyMs?: Record<string, number> } | undefined)?.readyMs?.['site1'];
  const mem = data(r, 'memory');
  return [
    x(e2e['vsBoth']),
    x(e2e['vsSum']),
    x(e2e['vsSlower']),
    one ? `${(one / 1000).toFixed(2)} (both at once ${((plain['bothMs'] ?? 0) / 1000).toFixed(2)})` : '—',
    x(data(r, 'download')['ratioVsCurl']),
    x(data(r, 'download')['ratioVsRclone']),
    x(data(r, 'import')['ratio']),
    x(data(r, 'publish')['vsRclone']),
    mb(mem['maxPeakBytes']),
    x(mem['growth']),
  ];
}

/**
 * The rows for the Done-when list: the two-pass design (`before`), the first one-pass
 * data path on node streams (`streams`) and this run; `—` where a run did not measure it.
 */
export function beforeAfterRows(
  before: Results | undefined,
  streams: Results | undefined,
  reused: Results | undefined,
  tarWalk: Results | undefined,
  after: Results,
): BeforeAfterRow[] {
  const e2eB = data(before, 'e2e');
  const oneB = (e2eB['one'] as { readyMs?: Record<string, number> } | undefined)?.readyMs?.['site1'];
  const sumB = (e2eB['baselines'] as { sumMs?: number } | undefined)?.sumMs;
  const memB = data(before, 'memory');
  const rows: Array<Omit<BeforeAfterRow, 'streams' | 'reused' | 'tarWalk' | 'after'>> = [
    // Not in the bench before: measured by hand for the issue (12.0 s vs 8.4 s).
    {
      measurement: 'e2e one site, event → ready, ÷ plain tools both at once (time)',
      target: '≤ 1.1× (goal 1.0×)',
      before: '1.43× (by hand)',
    },
    {
      measurement: 'e2e one site ÷ plain tools one after the other (time)',
      target: 'reported',
      before: oneB && sumB ? x(oneB / sumB) : '—',
    },
    {
      measurement: 'e2e one site ÷ the slower plain tool alone (time)',
      target: 'reported',
      before: x(e2eB['vsSlower']),
    },
    { measurement: 'e2e one site, event → ready (s)', target: '', before: oneB ? (oneB / 1000).toFixed(2) : '—' },
    {
      measurement: 'download into the verified cache ÷ curl | openssl (speed)',
      target: '≥ 0.75× (goal 0.95×)',
      before: x(data(before, 'download')['ratioVsCurl']),
    },
    {
      measurement: 'download into the verified cache ÷ rclone (speed)',
      target: '≥ 1.0×',
      before: x(data(before, 'download')['ratioVsRclone']),
    },
    {
      measurement: 'import upload phase ÷ curl -T (speed)',
      target: '≥ 0.9×',
      before: x(data(before, 'import')['ratio']),
    },
    // Not in the bench before: measured by hand for the issue (18–19 s vs 19–21 s).
    { measurement: 'ferry publish ÷ rclone copy (speed)', target: '≥ 1.0×', before: '≈ 1.0–1.1× (by hand)' },
    { measurement: 'agent peak RSS (largest size)', target: '< 200 MB', before: mb(memB['maxPeakBytes']) },
    { measurement: 'agent peak RSS, largest ÷ smallest size', target: 'flat', before: x(memB['growth']) },
  ];
  const mid = cells(streams);
  const third = cells(reused);
  const fourth = cells(tarWalk);
  const now = cells(after);
  return rows.map((row, i) => ({
    ...row,
    streams: mid[i] ?? '—',
    reused: third[i] ?? '—',
    tarWalk: fourth[i] ?? '—',
    after: now[i] ?? '—',
  }));
}

export async function loadResults(file: string): Promise<Results | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Results;
  } catch (err) {
    process.stderr.write(`bench: no results in ${file} (${(err as Error).message}); the table shows — for them\n`);
    return undefined;
  }
}
