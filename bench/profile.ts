/**
 * CPU profile of ferry's side of one benchmark only (the set-up is not profiled): writes a
 * .cpuprofile (open it in Chrome DevTools or speedscope) and prints the top functions by self time.
 *
 *   pnpm exec tsx bench/profile.ts download [--size 512MiB] [--runs 3]
 *   pnpm exec tsx bench/profile.ts import
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { parseSize } from '@ferry/shared';
import { DownloadCache } from '@ferry/site-agent/internal';
import { log, MiB, mibPerSec, now, REPO_ROOT } from './common.js';
import { BenchWorld, benchLibrary, cacheComplete, prefilledImporter } from './world.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function top(profile: Profile, n = 30): string[] {
  const byId = new Map(profile.nodes.map((x) => [x.id, x]));
  const self = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id)!;
    const d = profile.timeDeltas[i] ?? 0;
    total += d;
    const cf = node.callFrame;
    const key = `${cf.functionName || '(anonymous)'} ${cf.url.split('/').slice(-2).join('/')}:${cf.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + d);
  });
  return [
    `total ${(total / 1000).toFixed(0)} ms`,
    ...[...self.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(
        ([k, v]) => `${(v / 1000).toFixed(0).padStart(7)} ms  ${((100 * v) / total).toFixed(1).padStart(5)} %  ${k}`,
      ),
  ];
}

const argv = process.argv.slice(2);
const what = argv[0];
const opt = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const size = parseSize(opt('--size') ?? '512MiB') ?? 512 * MiB;
const runs = Number(opt('--runs') ?? 3);
if (what !== 'download' && what !== 'import') {
  process.stderr.write('usage: tsx bench/profile.ts download|import [--size 512MiB] [--runs 3]\n');
  process.exit(2);
}

const world = await BenchWorld.start();
try {
  const staged = await world.ova(size);
  const { ova, manifest } = staged;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  let body: () => Promise<number>;
  let cleanup = async () => {};
  if (what === 'download') {
    const store = world.newStore();
    let i = 0;
    body = async () => {
      const cache = new DownloadCache({ dir: join(world.dir, `pcache-${i++}`), maxBytes: 64 * 2 ** 30 });
      await cache.init();
      const t0 = now();
      const got = await cache.fetch(store, { artifact: manifest.artifact, sha256: ova.sha256, size: ova.size });
      const ms = now() - t0;
      got.release();
      await rm(cache.dir, { recursive: true, force: true });
      return ms;
    };
  } else {
    const vc = await world.vcsim();
    const { library, libraryId } = await benchLibrary(vc);
    // ferry: the verified file is already in the cache (a hard link to the OVA).
    const importer = await prefilledImporter(world, join(world.dir, 'pcache'), library, libraryId, ova);
    body = async () => {
      let verified = 0;
      const r = await importer.import({
        manifest,
        onProgress: (p) => {
          // The cache has re-verified the reused file: the upload phase starts.
          if (cacheComplete(p) && !verified) verified = now();
        },
      });
      if (!verified) throw new Error('import: no progress report said the cache file was complete');
      const ms = now() - verified;
      await library.deleteItem(r.itemId);
      return ms;
    };
    cleanup = () => library.logout();
  }
  await body(); // warm-up, not profiled
  await session.post('Profiler.start');
  for (let r = 0; r < runs; r++) {
    const cpu0 = process.cpuUsage();
    const ms = await body();
    const cpu = process.cpuUsage(cpu0);
    const cpuSecPerGiB = (cpu.user + cpu.system) / 1e6 / (ova.size / 2 ** 30);
    log(
      `${what} run ${r + 1}: ${(ms / 1000).toFixed(2)} s, ${mibPerSec(ova.size, ms).toFixed(0)} MiB/s, CPU ${cpuSecPerGiB.toFixed(2)} s/GiB (user ${(cpu.user / 1e6).toFixed(2)} s, sys ${(cpu.system / 1e6).toFixed(2)} s)`,
    );
  }
  const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: Profile };
  await cleanup();
  const out = join(REPO_ROOT, 'bench', 'work', `profile-${what}.cpuprofile`);
  await mkdir(join(REPO_ROOT, 'bench', 'work'), { recursive: true });
  await writeFile(out, JSON.stringify(profile));
  for (const line of top(profile)) process.stdout.write(`${line}\n`);
  process.stdout.write(`profile: ${out}\n`);
} finally {
  await world.stop();
}
