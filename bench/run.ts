/**
 * ferry's benchmarks, side by side with plain tools on the same data and the same servers, on
 * loopback (s3rver in its own process, vcsim, nats-server).
 *
 *   pnpm bench                  # full sizes (1 GiB, 4 GiB memory case); writes docs/benchmarks.md,
 *                               # bench/results/<date>.json and bench/results/latest.json
 *   pnpm bench:quick            # small sizes; writes bench/results/quick-<date>.json only and
 *                               # reports (never fails on) ratios below 0.5× of a baseline
 *   … --only download,import    # some scenarios only (download import e2e publish memory fanout reconcile bandwidth)
 *   … --size 512MiB             # another size for the transfer scenarios (1–3)
 *   … --note 'text'             # a paragraph for docs/benchmarks.md (e.g. how quiet the machine was)
 *   … --render [results.json]   # only docs/benchmarks.md again, from a stored full run (default latest.json)
 *   BENCH_AGENT_LOG=<file>      # e2e: the agents log at debug level into <file> (where the time goes)
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseSize } from '@ferry/shared';
import { extras, WHAT_IS_LEFT } from './analysis.js';
import { BEFORE_FILE, beforeAfterRows, loadResults, REUSED_FILE, STREAMS_FILE, TAR_WALK_FILE } from './before-after.js';
import {
  type BenchOptions,
  GiB,
  log,
  MiB,
  machineInfo,
  REPO_ROOT,
  round,
  type ScenarioResult,
  toolVersions,
} from './common.js';
import { renderMarkdown } from './report.js';
import { benchBandwidth } from './scenarios/bandwidth.js';
import { benchDownload } from './scenarios/download.js';
import { benchE2e } from './scenarios/e2e.js';
import { benchFanout } from './scenarios/fanout.js';
import { benchImport, type ImportTimes } from './scenarios/import.js';
import { benchMemory } from './scenarios/memory.js';
import { benchPublish } from './scenarios/publish.js';
import { benchReconcile } from './scenarios/reconcile.js';
import { BenchWorld } from './world.js';

const ALL = ['download', 'import', 'e2e', 'publish', 'memory', 'fanout', 'reconcile', 'bandwidth'] as const;
type ScenarioId = (typeof ALL)[number];

const GUARD_RATIO = 0.5;

function guardMisses(scenarios: readonly ScenarioResult[]): Array<{ name: string; ratio: number }> {
  return scenarios.flatMap((s) => s.guard).filter((g) => !(g.ratio >= GUARD_RATIO));
}

function parseArgs(argv: string[]) {
  const quick = argv.includes('--quick');
  const onlyIdx = argv.indexOf('--only');
  const only = onlyIdx >= 0 ? (argv[onlyIdx + 1] ?? '').split(',').filter(Boolean) : [...ALL];
  for (const o of only) if (!ALL.includes(o as ScenarioId)) throw new Error(`--only: unknown scenario ${o}`);
  return { quick, only: only as ScenarioId[] };
}

export interface BenchResults {
  schema: 'ferry/bench/v1';
  mode: 'full' | 'quick';
  date: string;
  durationSec: number;
  machine: Awaited<ReturnType<typeof machineInfo>>;
  versions: Record<string, string>;
  sizes: Record<string, number>;
  scenarios: ScenarioResult[];
  guard: { minRatio: number; below: Array<{ name: string; ratio: number }> };
}

/** docs/benchmarks.md from a full run's results (with `--note`, the analysis and the before/after). */
async function writeDocs(results: BenchResults): Promise<void> {
  const noteIdx = process.argv.indexOf('--note');
  const note = noteIdx >= 0 ? process.argv[noteIdx + 1] : undefined;
  const before = await loadResults(BEFORE_FILE);
  const streams = await loadResults(STREAMS_FILE);
  const reused = await loadResults(REUSED_FILE);
  const tarWalk = await loadResults(TAR_WALK_FILE);
  const page = renderMarkdown(results, {
    ...extras(note),
    beforeAfter: {
      beforeDate: before?.date,
      streamsDate: streams?.date,
      reusedDate: reused?.date,
      tarWalkDate: tarWalk?.date,
      rows: beforeAfterRows(before, streams, reused, tarWalk, results),
      left: WHAT_IS_LEFT,
    },
  });
  await writeFile(join(REPO_ROOT, 'docs', 'benchmarks.md'), page);
  log('wrote docs/benchmarks.md');
}

async function main(): Promise<number> {
  const renderIdx = process.argv.indexOf('--render');
  if (renderIdx >= 0) {
    // Only the page, again, from a stored full run (after its analysis text changed).
    const file = process.argv[renderIdx + 1] ?? join(REPO_ROOT, 'bench', 'results', 'latest.json');
    const results = await loadResults(file);
    if ((results as Partial<BenchResults> | undefined)?.mode !== 'full')
      throw new Error(`--render: ${file} is not the results of a full run`);
    await writeDocs(results as unknown as BenchResults);
    return 0;
  }
  const args = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const sizes = args.quick
    ? { transfer: 128 * MiB, memorySmall: 64 * MiB, memoryLarge: 256 * MiB }
    : { transfer: 1 * GiB, memorySmall: 1 * GiB, memoryLarge: 4 * GiB };
  const sizeIdx = process.argv.indexOf('--size');
  if (sizeIdx >= 0) sizes.transfer = parseSize(process.argv[sizeIdx + 1] ?? '') ?? sizes.transfer;
  const opts: BenchOptions = { quick: args.quick, runs: 3 };
  log(`${args.quick ? 'quick' : 'full'} run: ${args.only.join(', ')}`);

  const [machine, versions] = await Promise.all([machineInfo(), toolVersions()]);
  const world = await BenchWorld.start();
  const scenarios: ScenarioResult[] = [];
  const stopOnSignal = () => {
    void world.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  try {
    const want = (id: ScenarioId) => args.only.includes(id);
    let download: ScenarioResult | undefined;
    let imported: (ScenarioResult & { times: ImportTimes }) | undefined;
    if (want('download') || want('import') || want('e2e') || want('publish') || want('memory')) {
      const staged = await world.ova(sizes.transfer);
      if (want('download')) {
        download = await benchDownload(world, staged, opts);
        scenarios.push(download);
      }
      if (want('import')) {
        imported = await benchImport(world, staged, opts);
        scenarios.push(imported);
      }
      if (want('e2e')) scenarios.push(await benchE2e(world, staged, opts));
      if (want('publish')) scenarios.push(await benchPublish(world, staged, opts));
      if (want('memory')) scenarios.push(await benchMemory(world, [sizes.memorySmall, sizes.memoryLarge], opts));
    }
    if (want('fanout')) scenarios.push(await benchFanout(world, opts));
    if (want('reconcile')) scenarios.push(await benchReconcile(world, opts));
    if (want('bandwidth')) scenarios.push(await benchBandwidth(world, opts));
  } finally {
    await world.stop();
  }

  const below = guardMisses(scenarios);
  const date = new Date(started).toISOString();
  const results: BenchResults = {
    schema: 'ferry/bench/v1',
    mode: args.quick ? 'quick' : 'full',
    date,
    durationSec: round((Date.now() - started) / 1000, 1),
    machine,
    versions,
    sizes,
    scenarios,
    guard: { minRatio: GUARD_RATIO, below },
  };

  const resultsDir = join(REPO_ROOT, 'bench', 'results');
  await mkdir(resultsDir, { recursive: true });
  const stamp = date.replace(/[:.]/g, '-');
  const partial = args.only.length < ALL.length;
  const prefix = args.quick ? 'quick-' : partial ? 'partial-' : '';
  const json = `${JSON.stringify(results, null, 2)}\n`;
  await writeFile(join(resultsDir, `${prefix}${stamp}.json`), json);
  await writeFile(join(resultsDir, `${prefix}latest.json`), json);
  log(`results in bench/results/${prefix}${stamp}.json`);
  if (!args.quick && !partial) await writeDocs(results);

  for (const s of scenarios) {
    process.stdout.write(`\n${s.title}\n`);
    for (const row of s.table.rows) process.stdout.write(`  ${row.join(' | ')}\n`);
    for (const t of s.targets)
      process.stdout.write(`  ${t.met ? 'MET ' : 'MISS'} ${t.name}: ${t.value} (target ${t.target})\n`);
  }
  process.stdout.write(`\nbench: done in ${results.durationSec} s\n`);
  // Reported, never a failure: speed on a shared machine is a measurement, not a test (issue 19).
  for (const b of below)
    process.stdout.write(`bench: below the line ${b.name}: ferry at ${b.ratio.toFixed(2)}× (< ${GUARD_RATIO}×)\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`bench: failed: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
