/**
 * CPU seconds per GiB of ferry's agent-side data path and of the plain tools on the same bytes and
 * servers. On a loaded 2-core machine wall-clock ratios are noise; CPU per byte is what the agent
 * can change. ferry runs in this process (s3rver and vcsim are other processes), so
 * `process.cpuUsage()` (all threads: main + hash worker) is ferry's alone; the plain tools are
 * children, counted by the kernel's cutime/cstime of this process once they are reaped.
 *
 *   pnpm exec tsx bench/cpu.ts [--size 256MiB] [--runs 2] [--only download,import,e2e,curl-download,curl-import]
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseSize } from '@ferry/shared';
import { DownloadCache, ImageImporter, TransferQueues } from '@ferry/site-agent/internal';
import { log, MiB, now, round, run } from './common.js';
import { curlOpensslSha256 } from './scenarios/download.js';
import { curlImport } from './scenarios/import.js';
import { BenchWorld, benchLibrary, prefilledImporter } from './world.js';

const argv = process.argv.slice(2);
const opt = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const size = parseSize(opt('--size') ?? '256MiB') ?? 256 * MiB;
const runs = Number(opt('--runs') ?? 2);
const only = (opt('--only') ?? 'download,import,e2e,curl-download,curl-import').split(',');

/** CPU seconds (user + system) of this process's reaped children, from /proc/self/stat. */
async function childCpuSec(): Promise<number> {
  const stat = await readFile('/proc/self/stat', 'utf8');
  // Fields after the command name (which may hold spaces) start at field 3; cutime, cstime are 16, 17.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = 100; // USER_HZ: 100 on every Linux this runs on
  return (Number(fields[13]) + Number(fields[14])) / ticks;
}

const world = await BenchWorld.start();
const results: Array<{ what: string; wallS: number; cpuSPerGiB: number }> = [];
try {
  const { ova, manifest } = await world.ova(size);
  const gib = ova.size / 2 ** 30;
  const vc = await world.vcsim();
  const { library, libraryId } = await benchLibrary(vc);

  const measure = async (what: string, body: () => Promise<void>, children = false) => {
    await body(); // warm-up
    for (let r = 0; r < runs; r++) {
      const cpu0 = process.cpuUsage();
      const child0 = await childCpuSec();
      const t0 = now();
      await body();
      const wallS = (now() - t0) / 1000;
      const c = process.cpuUsage(cpu0);
      const cpu = children ? (await childCpuSec()) - child0 : (c.user + c.system) / 1e6;
      results.push({ what, wallS: round(wallS, 2), cpuSPerGiB: round(cpu / gib, 2) });
      log(`${what} run ${r + 1}: ${wallS.toFixed(2)} s, CPU ${(cpu / gib).toFixed(2)} s/GiB`);
    }
  };

  let n = 0;
  const store = world.newStore();
  if (only.includes('download')) {
    await measure('ferry download (DownloadCache.fetch)', async () => {
      const cache = new DownloadCache({ dir: join(world.dir, `cpu-dl-${n++}`), maxBytes: 64 * 2 ** 30 });
      await cache.init();
      const got = await cache.fetch(store, { artifact: manifest.artifact, sha256: ova.sha256, size: ova.size });
      got.release();
      await rm(cache.dir, { recursive: true, force: true });
    });
  }
  if (only.includes('import')) {
    // The cache holds the file already: the import re-verifies it (hash worker) and uploads it.
    const importer = await prefilledImporter(world, join(world.dir, 'cpu-import'), library, libraryId, ova);
    await measure('ferry import from cache (re-verify + upload)', async () => {
      const r = await importer.import({ manifest });
      await library.deleteItem(r.itemId);
    });
  }
  if (only.includes('e2e')) {
    await measure('ferry one pass (download + import)', async () => {
      const cache = new DownloadCache({ dir: join(world.dir, `cpu-e2e-${n++}`), maxBytes: 64 * 2 ** 30 });
      await cache.init();
      const importer = new ImageImporter({
        library,
        libraryId: async () => libraryId,
        store,
        cache,
        queues: new TransferQueues({ downloads: 1, imports: 1 }),
        itemNameTemplate: `{name}-{version}-${n}`,
      });
      const r = await importer.import({ manifest });
      await library.deleteItem(r.itemId);
      await rm(cache.dir, { recursive: true, force: true });
    });
  }
  const url = `${world.s3.handle.endpoint}/${world.s3.handle.bucket}/${manifest.artifact}`;
  if (only.includes('curl-download')) {
    const copy = join(world.dir, 'curl-copy.ova');
    await measure(
      'curl | tee | openssl',
      async () => {
        const digest = await curlOpensslSha256(url, world, copy);
        if (digest !== ova.sha256) throw new Error(`curl|tee|openssl digest ${digest}`);
        await rm(copy, { force: true });
      },
      true,
    );
  }
  if (only.includes('curl-import')) {
    const files = join(world.dir, 'cpu-files');
    await mkdir(files, { recursive: true });
    await run('tar', ['-xf', ova.path, '-C', files]);
    await measure(
      'curl -T of the files',
      () => curlImport(vc, library, libraryId, manifest, files, `plain-${n++}`).then(() => {}),
      true,
    );
  }
  await library.logout();
  process.stdout.write(`${JSON.stringify({ size: ova.size, results }, null, 1)}\n`);
} finally {
  await world.stop();
}
