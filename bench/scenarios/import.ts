/**
 * 2. Import of an OVA into vcsim's Content Library: ferry's ImageImporter (upload phase only; the
 * cache is pre-filled so nothing is downloaded) vs ContentLibraryClient for the calls + `curl -T`
 * for each file extracted from the OVA beforehand.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Manifest } from '@ferry/shared';
import { type ContentLibraryClient, type ImageImporter, OvaProofs } from '@ferry/site-agent/internal';
import type { VcsimHandle } from '../../test/world/vcsim.js';
import {
  type BenchOptions,
  childEnv,
  interleave,
  log,
  MiB,
  median,
  mibPerSec,
  now,
  round,
  run,
  type ScenarioResult,
} from '../common.js';
import { type BenchWorld, benchLibrary, cacheComplete, prefilledImporter, type StagedOva } from '../world.js';

/** A REST session id of vcsim (the header curl sends), by the documented login call, through curl. */
export async function vcenterSession(vc: VcsimHandle): Promise<string> {
  const { stdout } = await run('curl', [
    '-sS',
    '-f',
    '-k',
    '-X',
    'POST',
    '-u',
    `${vc.username}:${vc.password}`,
    `${vc.url}/rest/com/vmware/cis/session`,
  ]);
  const value = (JSON.parse(stdout) as { value?: string }).value;
  if (!value) throw new Error(`import: vcsim login answered ${stdout}`);
  return value;
}

/**
 * The plain tools' import: the REST calls through `ContentLibraryClient` (item, update session,
 * add file with its SHA-256, complete) and `curl -T` of each file extracted beforehand into
 * `filesDir`. Returns the ms from the item's creation to DONE; the item is deleted after.
 */
export async function curlImport(
  vc: VcsimHandle,
  library: ContentLibraryClient,
  libraryId: string,
  manifest: Manifest,
  filesDir: string,
  itemName: string,
): Promise<number> {
  const sid = await vcenterSession(vc);
  const t0 = now();
  const itemId = await library.createItem(libraryId, { name: itemName, description: 'curl baseline', type: 'ovf' });
  const session = await library.openUpdateSession(itemId);
  for (const f of manifest.files) {
    const url = await session.addFile({
      name: f.name,
      size: f.size,
      checksum: { algorithm: 'SHA256', checksum: f.sha256 },
    });
    await run('curl', ['-sS', '-f', '-k', '-T', join(filesDir, f.name), '-H', `vmware-api-session-id: ${sid}`, url], {
      env: childEnv(),
    });
  }
  await session.complete();
  const ms = now() - t0;
  await library.deleteItem(itemId);
  return ms;
}

export interface ImportTimes {
  /** Median upload phase of ferry (from the cache's re-verified progress callback to the import's end), ms. */
  ferryUploadMs: number;
  /** Median whole first import of ferry (the cache's re-verification and the OVA's proof, then the upload), ms. */
  ferryWholeMs: number;
  curlMs: number;
}

export async function benchImport(
  world: BenchWorld,
  staged: StagedOva,
  opts: BenchOptions,
): Promise<ScenarioResult & { times: ImportTimes }> {
  const { ova, manifest } = staged;
  const vc = await world.vcsim();
  const dir = await world.tempDir('import');
  const { library, libraryId } = await benchLibrary(vc);
  // ferry: the verified file is already in the cache (a hard link to the OVA).
  const importer = await prefilledImporter(world, join(dir, 'cache'), library, libraryId, ova);
  // Another target of a zone whose agent proved this OVA before (its warm-up run proves it).
  const zoneTarget = await prefilledImporter(world, join(dir, 'cache-zone'), library, libraryId, ova, new OvaProofs());
  // Short runs: five rounds, the two taking turns (this machine's speed drifts within minutes).
  const runs = Math.max(opts.runs, 5);
  const reverifyMs: number[] = [];
  const wholeMs: number[] = [];
  // Baseline: the OVA's files, extracted beforehand (not timed).
  const files = join(dir, 'files');
  await mkdir(files, { recursive: true });
  await run('tar', ['-xf', ova.path, '-C', files]);
  log(
    `import: ferry ImageImporter (first import; another target of the zone) and ContentLibraryClient + curl -T, ${runs} rounds + warm-up, taking turns`,
  );
  let n = 0;
  const uploadPhase = async (from: ImageImporter, reverified?: number[], whole?: number[]) => {
    const t0 = now();
    let verified = 0;
    const result = await from.import({
      manifest,
      onProgress: (p) => {
        // The cache has re-verified the reused file: the upload phase starts.
        if (cacheComplete(p) && !verified) verified = now();
      },
    });
    const end = now();
    if (!verified) throw new Error('import: no progress report said the cache file was complete');
    if (result.skipped || result.bytesDownloaded !== 0) throw new Error('import: ferry did not upload from the cache');
    reverified?.push(verified - t0);
    whole?.push(end - t0);
    await library.deleteItem(result.itemId);
    return end - verified;
  };
  const {
    ferry: ferryMs,
    curl: curlMs,
    zone: zoneMs,
  } = await interleave(runs, {
    ferry: () => uploadPhase(importer, reverifyMs, wholeMs),
    zone: () => uploadPhase(zoneTarget),
    curl: () => curlImport(vc, library, libraryId, manifest, files, `baseline-${n++}`),
  });
  await library.logout();
  await rm(dir, { recursive: true, force: true });
  await vc.stop();

  const f = median(ferryMs);
  const c = median(curlMs);
  const ratio = c / f;
  const upload = manifest.files.reduce((s, x) => s + x.size, 0);
  const row = (name: string, ms: number[], r: string) => [
    name,
    round(median(ms) / 1000, 2),
    round(mibPerSec(upload, median(ms)), 0),
    ms.map((x) => round(x / 1000, 2)).join(', '),
    r,
  ];
  return {
    id: 'import',
    title: `Import a ${Math.round(ova.size / MiB)} MiB OVA into vcsim's Content Library`,
    method: [
      "ferry: `ImageImporter.import` with the OVA already in the cache (hard link), as after a restart. The cache checks the file's SHA-256 again before anything is sent; meanwhile `OvaProver` (a worker walking the tar headers) proves every entry (SHA-256 against the `.mf` and the signed file list) on the other core, and its verdict counts only if the check passes. The upload phase is timed from the progress callback that reports the file complete in the cache (re-verified) to the end: item, update session, add file + PUT of the byte range of each tar entry from the cache file, waiting for the proof, validate, complete, marker update. The whole import (from the call) is reported too.",
      'baseline: the same REST calls through `ContentLibraryClient` (create item, update session, add file with its SHA-256 for each file, complete and wait for DONE), each file uploaded with `curl -sS -f -k -T <file> -H "vmware-api-session-id: <id>" <uploadUrl>`; files extracted with `tar -xf` beforehand, not timed.',
      `One warm-up each, then ${runs} rounds in which the two take turns, and the median of each; the item is deleted after each run.`,
    ],
    table: {
      head: ['tool', 'median s', 'MiB/s', 'runs (s)', 'ferry ÷ tool (speed)'],
      rows: [
        row('ferry (upload phase)', ferryMs, '1.00'),
        row('ContentLibraryClient + curl -T', curlMs, ratio.toFixed(2)),
        row(
          'ferry, whole first import (SHA-256 checked again and OVA proven, then the upload)',
          wholeMs,
          (median(wholeMs) / median(ferryMs)).toFixed(2),
        ),
        row(
          'ferry, OVA proven before in the zone (another target)',
          zoneMs,
          (median(zoneMs) / median(ferryMs)).toFixed(2),
        ),
      ],
    },
    targets: [{ name: 'import: ferry vs curl -T', target: '≥ 0.9×', value: `${ratio.toFixed(2)}×`, met: ratio >= 0.9 }],
    guard: [{ name: 'import vs curl -T', ratio }],
    notes: [
      `The target is the upload phase of the first import of an OVA, which proves every entry: for a file already in the cache, that proof runs beside the cache's SHA-256 check, before the upload. The whole first import (the third row) takes ${(c / median(wholeMs)).toFixed(2)}× the speed of curl -T, which checks nothing. The last row is another target of a zone agent that proved the same bytes before (or a retry after a vCenter outage): it sends without hashing (\`OvaProofs\`), at ${(c / median(zoneMs)).toFixed(2)}× the speed of curl -T. The ratio column of the last two rows is against ferry's upload phase.`,
      `Not in the upload time: ferry's cache checks a reused file's SHA-256 again, with the OVA's proof beside it (median ${round(median(reverifyMs) / 1000, 2)} s here).`,
    ],
    data: {
      bytes: ova.size,
      uploadBytes: upload,
      ferryMs,
      curlMs,
      zoneMs,
      reverifyMs,
      wholeMs,
      ratio,
      zoneVsCurl: c / median(zoneMs),
    },
    times: { ferryUploadMs: f, ferryWholeMs: median(wholeMs), curlMs: c },
  };
}
