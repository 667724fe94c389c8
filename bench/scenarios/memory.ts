/**
 * 4. Memory: peak RSS of `ferry-agent import` (a process) importing OVAs of two sizes; it must
 * not grow with the image size.
 */
import { spawn } from 'node:child_process';
import { rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { FERRY_AGENT_BIN } from '../../test/support/processes.js';
import {
  type BenchOptions,
  childEnv,
  exited,
  GiB,
  log,
  MiB,
  procStatusBytes,
  round,
  type ScenarioResult,
} from '../common.js';
import type { BenchWorld } from '../world.js';

interface MemoryRun {
  size: number;
  peakRssBytes: number;
  /** VmHWM read last before the process exited. */
  hwmBytes: number;
  seconds: number;
  skipped?: string;
}

export async function benchMemory(world: BenchWorld, sizes: number[], _opts: BenchOptions): Promise<ScenarioResult> {
  const nats = await world.nats();
  const runs: MemoryRun[] = [];
  for (const size of sizes) {
    // OVA file + the copy in s3rver + the agent's cache + vcsim's datastore, plus slack.
    const need = 4 * size + 2 * GiB;
    const fs = await statfs(tmpdir());
    const free = Number(fs.bavail) * Number(fs.bsize);
    if (free < need) {
      const why = `skipped: ${round(free / GiB, 1)} GiB free in ${tmpdir()}, needs ${round(need / GiB, 1)} GiB`;
      log(`memory: ${Math.round(size / MiB)} MiB ${why}`);
      runs.push({ size, peakRssBytes: 0, hwmBytes: 0, seconds: 0, skipped: why });
      continue;
    }
    // The transfer scenarios' OVA when the size is the same (built and staged once).
    const staged = await world.ova(size);
    const vc = await world.vcsim();
    const { file, dir } = await world.agentConfig('memsite', vc, nats.url);
    log(`memory: ferry-agent import of ${Math.round(staged.ova.size / MiB)} MiB`);
    const t0 = performance.now();
    const child = spawn(
      process.execPath,
      [FERRY_AGENT_BIN, 'import', '--config', file, '--manifest', staged.manifestFile],
      {
        env: childEnv(),
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    const done = exited(child, 'ferry-agent import');
    let peak = 0;
    let hwm = 0;
    let running = true;
    const sampler = (async () => {
      while (running) {
        peak = Math.max(peak, await procStatusBytes(child.pid!, 'VmRSS'));
        hwm = Math.max(hwm, await procStatusBytes(child.pid!, 'VmHWM'));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      await done;
    } finally {
      running = false;
      await sampler;
    }
    runs.push({ size: staged.ova.size, peakRssBytes: peak, hwmBytes: hwm, seconds: (performance.now() - t0) / 1000 });
    await vc.stop();
    await rm(dir, { recursive: true, force: true });
    if (size >= GiB) await world.dropOva(`bench${Math.round(size / MiB)}m`);
  }

  const measured = runs.filter((r) => !r.skipped);
  const peakOf = (r: MemoryRun) => Math.max(r.peakRssBytes, r.hwmBytes);
  const max = Math.max(...measured.map(peakOf));
  const small = measured[0];
  const large = measured[measured.length - 1];
  const growth = small && large && small !== large ? peakOf(large) / peakOf(small) : Number.NaN;
  const flat = Number.isNaN(growth) ? false : growth <= 1.25;
  const mb = (b: number) => round(b / 1e6, 0);
  return {
    id: 'memory',
    title: 'Memory: peak RSS of `ferry-agent import`',
    method: [
      '`ferry-agent import --config <site>.yaml --manifest <sidecar>` as a process: downloads from s3rver into an empty cache, verifies, imports into a fresh vcsim. VmRSS and VmHWM from /proc/<pid>/status sampled every 20 ms; the peak is the larger of the two maxima.',
    ],
    table: {
      head: ['OVA size', 'peak RSS (MB)', 'VmHWM (MB)', 'wall s', 'note'],
      rows: runs.map((r) => [
        r.size >= GiB ? `${round(r.size / GiB, 2)} GiB` : `${Math.round(r.size / MiB)} MiB`,
        r.skipped ? '–' : mb(r.peakRssBytes),
        r.skipped ? '–' : mb(r.hwmBytes),
        r.skipped ? '–' : round(r.seconds, 1),
        r.skipped ?? '',
      ]),
    },
    targets: [
      { name: 'memory: peak RSS', target: '< 200 MB', value: `${mb(max)} MB`, met: max < 200e6 },
      {
        name: 'memory: flat with size (largest ÷ smallest peak)',
        target: '≤ 1.25×',
        value: Number.isNaN(growth) ? 'n/a' : `${growth.toFixed(2)}×`,
        met: flat,
      },
    ],
    guard: [],
    notes: runs.filter((r) => r.skipped).map((r) => `${Math.round(r.size / MiB)} MiB case ${r.skipped}`),
    data: { runs, maxPeakBytes: max, growth },
  };
}
