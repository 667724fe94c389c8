/**
 * 1. Download + verify of one object from S3 (s3rver, its own process) into the cache:
 * ferry's S3Store + DownloadCache.fetch vs `curl | openssl dgst -sha256` vs `rclone copy`.
 */
import { spawn } from 'node:child_process';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DownloadCache } from '@ferry/site-agent/internal';
import {
  type BenchOptions,
  childEnv,
  dropPageCache,
  exited,
  interleave,
  log,
  MiB,
  median,
  mibPerSec,
  now,
  PAGE_CACHE_COST,
  round,
  run,
  type ScenarioResult,
  s3ObjectFile,
} from '../common.js';
import type { BenchWorld, StagedOva } from '../world.js';

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** rclone's S3 remote `bench:` from the environment only (no config file). */
export function rcloneEnv(world: BenchWorld, dir: string): NodeJS.ProcessEnv {
  const h = world.s3.handle;
  return childEnv({
    RCLONE_CONFIG: join(dir, 'rclone.conf'), // does not exist: env only
    RCLONE_CONFIG_BENCH_TYPE: 's3',
    RCLONE_CONFIG_BENCH_PROVIDER: 'Other',
    RCLONE_CONFIG_BENCH_ENDPOINT: h.endpoint,
    RCLONE_CONFIG_BENCH_REGION: h.region,
    RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE: 'true',
    RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: h.accessKeyId,
    RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: h.secretAccessKey,
  });
}

/** curl's options for one request to s3rver: SigV4 with the bench's keys, this payload hash header. */
export function curlS3(world: BenchWorld, payloadSha256: string): string[] {
  const h = world.s3.handle;
  return [
    '-sS',
    '-f',
    '--aws-sigv4',
    `aws:amz:${h.region}:s3`,
    '--user',
    `${h.accessKeyId}:${h.secretAccessKey}`,
    '-H',
    `x-amz-content-sha256: ${payloadSha256}`,
  ];
}

/**
 * `curl -s URL | openssl dgst -sha256` as two processes joined by a kernel pipe (no shell, no node in
 * between); with `teeTo`, `curl | tee FILE | openssl`: the plain tools' verified copy on disk.
 */
export async function curlOpensslSha256(url: string, world: BenchWorld, teeTo?: string): Promise<string> {
  const openssl = spawn('openssl', ['dgst', '-sha256', '-r'], { stdio: ['pipe', 'pipe', 'pipe'], env: childEnv() });
  const tee = teeTo ? spawn('tee', [teeTo], { stdio: ['pipe', openssl.stdin, 'pipe'], env: childEnv() }) : undefined;
  const curl = spawn('curl', [...curlS3(world, EMPTY_SHA256), url], {
    stdio: ['ignore', tee ? tee.stdin! : openssl.stdin, 'pipe'],
    env: childEnv(),
  });
  // The children hold the pipes' write ends now; each reader sees EOF when its writer exits.
  openssl.stdin.destroy();
  tee?.stdin?.destroy();
  let out = '';
  openssl.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  await Promise.all([exited(curl, 'curl'), exited(openssl, 'openssl'), ...(tee ? [exited(tee, 'tee')] : [])]);
  return out.trim().split(/\s+/)[0] ?? '';
}

export interface DownloadResult {
  bytes: number;
  ferryMs: number[];
  curlMs: number[];
  rcloneMs: number[];
}

export async function benchDownload(world: BenchWorld, staged: StagedOva, opts: BenchOptions): Promise<ScenarioResult> {
  const { ova } = staged;
  const dir = await world.tempDir('download');
  const key = `dl/${ova.sha256.slice(0, 12)}.ova`;
  const url = `${world.s3.handle.endpoint}/${world.s3.handle.bucket}/${key}`;
  const rcEnv = rcloneEnv(world, dir);
  // The same bytes under a key rclone uploaded, so rclone finds its MD5 metadata and verifies too.
  log(`download: uploading ${key} with rclone`);
  await run('rclone', ['copyto', '-q', ova.path, `bench:${world.s3.handle.bucket}/${key}`], { env: rcEnv });
  const store = world.newStore();
  // Five rounds, as the import and the e2e: this VM's cost of a new page-cache page swings 15×
  // from minute to minute, and with three rounds one slow run moved the median.
  const runs = Math.max(opts.runs, 5);

  log(
    `download: ferry (DownloadCache.fetch + S3Store), curl | openssl, rclone copy: ${runs} rounds + warm-up, taking turns`,
  );
  const times = await interleave(
    runs,
    {
      ferry: async (i) => {
        const cacheDir = join(dir, `cache-${i + 1}`);
        const cache = new DownloadCache({ dir: cacheDir, maxBytes: 64 * 2 ** 30 });
        const t0 = now();
        await cache.init();
        const got = await cache.fetch(store, { artifact: key, sha256: ova.sha256, size: ova.size });
        const ms = now() - t0;
        got.release();
        if (got.reused || got.bytesFromStore !== ova.size) throw new Error('download: ferry did not download');
        await rm(cacheDir, { recursive: true, force: true });
        return ms;
      },
      curl: async () => {
        const t0 = now();
        const digest = await curlOpensslSha256(url, world);
        const ms = now() - t0;
        if (digest !== ova.sha256) throw new Error(`download: curl|openssl digest ${digest} != ${ova.sha256}`);
        return ms;
      },
      rclone: async (i) => {
        const dest = join(dir, `rclone-${i + 1}`);
        await mkdir(dest, { recursive: true });
        const t0 = now();
        await run('rclone', ['copy', '-q', `bench:${world.s3.handle.bucket}/${key}`, dest], { env: rcEnv });
        const ms = now() - t0;
        const s = await stat(join(dest, key.split('/').pop()!));
        if (s.size !== ova.size) throw new Error(`download: rclone wrote ${s.size} of ${ova.size} bytes`);
        await rm(dest, { recursive: true, force: true });
        return ms;
      },
    },
    () => dropPageCache({ flush: true, keep: [s3ObjectFile(world.s3.handle, key)] }),
  );
  const { ferry: ferryMs, curl: curlMs, rclone: rcloneMs } = times;
  await world.store.delete(key);
  await rm(dir, { recursive: true, force: true });

  const f = median(ferryMs);
  const c = median(curlMs);
  const r = median(rcloneMs);
  const vsCurl = c / f;
  const vsRclone = r / f;
  const row = (name: string, ms: number[], ratio: string) => [
    name,
    round(median(ms) / 1000, 2),
    round(mibPerSec(ova.size, median(ms)), 0),
    ms.map((x) => round(x / 1000, 2)).join(', '),
    ratio,
  ];
  return {
    id: 'download',
    title: `Download + verify ${Math.round(ova.size / MiB)} MiB from S3 (s3rver) into the cache`,
    method: [
      'ferry: `DownloadCache.fetch` with `S3Store` (@aws-sdk/client-s3, SigV4), fresh cache dir each run: streams to `<sha>.partial`, SHA-256 while streaming, checks size and hash, renames.',
      `curl | openssl: \`curl -sS -f --aws-sigv4 aws:amz:us-east-1:s3 --user S3RVER:S3RVER -H 'x-amz-content-sha256: <empty>' URL\` piped (kernel pipe between the two spawned processes, no shell) into \`openssl dgst -sha256 -r\`; digest compared. Writes nothing to disk.`,
      '`rclone copy -q bench:images/<key> <fresh dir>` (remote from RCLONE_CONFIG_BENCH_* env: s3, provider Other, path style, keys S3RVER/S3RVER); rclone defaults (multi-thread download above 250 MiB, MD5 check against the metadata its own upload stored).',
      `s3rver runs in its own node process (bench/s3-server.ts). One warm-up round, then ${runs} rounds in which the three take turns (ferry, curl | openssl, rclone; each deletes its copy after it), and the median of each. Before every run (not timed) the bench drops all its files but this object from the page cache (\`sync\`, then \`dd iflag=nocache count=0\`): ${PAGE_CACHE_COST}`,
    ],
    table: {
      head: ['tool', 'median s', 'MiB/s', 'runs (s)', 'ferry ÷ tool (speed)'],
      rows: [
        row('ferry', ferryMs, '1.00'),
        row('curl | openssl', curlMs, round(vsCurl, 2).toFixed(2)),
        row('rclone copy', rcloneMs, round(vsRclone, 2).toFixed(2)),
      ],
    },
    targets: [
      {
        name: 'download: ferry vs curl | openssl',
        target: '≥ 0.9×',
        value: `${vsCurl.toFixed(2)}×`,
        met: vsCurl >= 0.9,
      },
      { name: 'download: ferry vs rclone', target: '≥ 1.0×', value: `${vsRclone.toFixed(2)}×`, met: vsRclone >= 1.0 },
    ],
    guard: [
      { name: 'download vs curl|openssl', ratio: vsCurl },
      { name: 'download vs rclone', ratio: vsRclone },
    ],
    notes: [],
    data: { bytes: ova.size, ferryMs, curlMs, rcloneMs, ratioVsCurl: vsCurl, ratioVsRclone: vsRclone },
  };
}
