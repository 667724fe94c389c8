/**
 * 4. Publish of one OVA into the store (s3rver, its own process): `ferry publish` (a process: hash,
 * OVA check, multipart upload, sign, catalog, event) vs `rclone copyto` (multipart, MD5) vs one
 * `curl -T` PUT (no hashing, no parts) of the same file.
 */
import { spawn } from 'node:child_process';
import { FERRY_BIN } from '../../test/support/processes.js';
import {
  type BenchOptions,
  childEnv,
  exited,
  log,
  MiB,
  median,
  mibPerSec,
  now,
  repeat,
  round,
  run,
  type ScenarioResult,
} from '../common.js';
import type { BenchWorld, StagedOva } from '../world.js';
import { curlS3, rcloneEnv } from './download.js';

/** One `curl -T` PUT of a file into s3rver under `key` (SigV4, unsigned payload): no parts, no hashing. */
export async function curlPut(world: BenchWorld, file: string, key: string): Promise<void> {
  const h = world.s3.handle;
  await run('curl', [...curlS3(world, 'UNSIGNED-PAYLOAD'), '-T', file, `${h.endpoint}/${h.bucket}/${key}`]);
}

export async function benchPublish(world: BenchWorld, staged: StagedOva, opts: BenchOptions): Promise<ScenarioResult> {
  const { ova, manifest } = staged;
  const h = world.s3.handle;
  const nats = await world.nats();
  const coord = await world.coordinatorConfig(nats.url);
  const dir = await world.tempDir('publish');
  const runs = opts.runs;
  const name = `${manifest.name}-pub`;

  log(`publish: ferry publish, ${runs} runs + warm-up`);
  const ferryMs = await repeat(runs, async (i) => {
    const version = `p${i}`;
    const t0 = now();
    const child = spawn(
      process.execPath,
      [FERRY_BIN, 'publish', ova.path, '--name', name, '--version', version, '--config', coord],
      { env: childEnv(), stdio: ['ignore', 'ignore', 'pipe'] },
    );
    await exited(child, 'ferry publish');
    const ms = now() - t0;
    await world.store.delete(`${name}/${version}/${name}.ova`);
    return ms;
  });

  log(`publish: rclone copyto, ${runs} runs + warm-up`);
  const rcEnv = rcloneEnv(world, dir);
  const rcloneMs = await repeat(runs, async (i) => {
    const key = `publish-rclone/${i}.ova`;
    const t0 = now();
    await run('rclone', ['copyto', '-q', ova.path, `bench:${h.bucket}/${key}`], { env: rcEnv });
    const ms = now() - t0;
    await world.store.delete(key);
    return ms;
  });

  log(`publish: curl -T (one PUT), ${runs} runs + warm-up`);
  const curlMs = await repeat(runs, async (i) => {
    const key = `publish-curl/${i}.ova`;
    const t0 = now();
    await curlPut(world, ova.path, key);
    const ms = now() - t0;
    await world.store.delete(key);
    return ms;
  });

  const f = median(ferryMs);
  const vsRclone = median(rcloneMs) / f;
  const vsCurl = median(curlMs) / f;
  const row = (tool: string, ms: number[], r: string) => [
    tool,
    round(median(ms) / 1000, 2),
    round(mibPerSec(ova.size, median(ms)), 0),
    ms.map((x) => round(x / 1000, 2)).join(', '),
    r,
  ];
  return {
    id: 'publish',
    title: `Publish a ${Math.round(ova.size / MiB)} MiB OVA into the store (s3rver)`,
    method: [
      '`ferry publish <ova> --name … --version … --config …` as a process, start to exit: SHA-256 and OVA check while it streams the file to the store as a multipart upload, then the sidecar, the signed manifest in the catalog and the event on NATS.',
      "`rclone copyto <ova> bench:<bucket>/<key>`: rclone's own multipart upload (with its MD5 check).",
      '`curl -T <ova>` with `--aws-sigv4` and `x-amz-content-sha256: UNSIGNED-PAYLOAD`: one PUT, no hashing, no parts (S3 takes single PUTs up to 5 GiB only).',
      `One warm-up, then the median of ${runs} runs each; the object is deleted after each run.`,
    ],
    table: {
      head: ['tool', 'median s', 'MiB/s', 'runs (s)', 'ferry ÷ tool (speed)'],
      rows: [
        row('ferry publish', ferryMs, '1.00'),
        row('rclone copyto', rcloneMs, vsRclone.toFixed(2)),
        row('curl -T (one PUT)', curlMs, vsCurl.toFixed(2)),
      ],
    },
    targets: [
      {
        name: 'publish: ferry vs rclone copy',
        target: '≥ 1.0×',
        value: `${vsRclone.toFixed(2)}×`,
        met: vsRclone >= 1.0,
      },
    ],
    guard: [{ name: 'publish vs rclone copy', ratio: vsRclone }],
    notes: [`Beside it: ferry publish at ${vsCurl.toFixed(2)}× the speed of a single \`curl -T\` PUT.`],
    data: { bytes: ova.size, ferryMs, rcloneMs, curlMs, vsRclone, vsCurl },
  };
}
