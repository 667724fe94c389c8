/**
 * 7. Bandwidth limit (`bandwidth.vcenter`): a 256 MiB file imported into vcsim at 50 MiB/s, once
 * PUSHed through the token-bucket stream and once PULLed by vcsim from the agent's HTTPS
 * listener limited by the same bucket. Issue 16's target: at least 5 s and at most 6.5 s.
 * A measurement, not a test: it reports the times and whether they are inside the target.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { PullServer, pullIntoSession, TokenBucket, throttle } from '@ferry/site-agent/internal';
import { randomStream, sha256Of } from '../../test/world/ova.js';
import { type BenchOptions, log, MiB, median, now, repeat, round, type ScenarioResult } from '../common.js';
import { type BenchWorld, benchLibrary } from '../world.js';

const SIZE = 256 * MiB;
const RATE = 50 * MiB;
const TARGET_S = { min: 5, max: 6.5 };

export async function benchBandwidth(world: BenchWorld, opts: BenchOptions): Promise<ScenarioResult> {
  const vc = await world.vcsim();
  const dir = await world.tempDir('bandwidth');
  const file = join(dir, 'disk.vmdk');
  await pipeline(randomStream(SIZE, 'bandwidth'), createWriteStream(file));
  const sha256 = await sha256Of(createReadStream(file));
  const { library, libraryId } = await benchLibrary(vc, 'bench-bandwidth');
  const runs = Math.min(opts.runs, 2);

  log(`bandwidth: PUSH of ${SIZE / MiB} MiB at ${RATE / MiB} MiB/s, ${runs} runs + warm-up`);
  let n = 0;
  const pushMs = await repeat(runs, async () => {
    const itemId = await library.createItem(libraryId, { name: `push-${n++}`, description: 'bandwidth bench' });
    const bucket = new TokenBucket(RATE);
    const t0 = now();
    const session = await library.openUpdateSession(itemId);
    const url = await session.addFile({ name: 'disk.vmdk', size: SIZE });
    await session.upload(url, createReadStream(file).pipe(throttle([bucket])), SIZE);
    await session.complete();
    const ms = now() - t0;
    await library.deleteItem(itemId);
    return ms;
  });

  log(`bandwidth: PULL of ${SIZE / MiB} MiB at ${RATE / MiB} MiB/s, ${runs} runs + warm-up`);
  const pullMs = await repeat(runs, async () => {
    const server = await PullServer.start({ listen: '127.0.0.1:0', buckets: [new TokenBucket(RATE)] });
    try {
      const itemId = await library.createItem(libraryId, { name: `pull-${n++}`, description: 'bandwidth bench' });
      const t0 = now();
      const reg = server.register([{ name: 'disk.vmdk', path: file, offset: 0, size: SIZE, sha256 }], 60_000);
      await pullIntoSession(await library.openUpdateSession(itemId), reg, { timeoutMs: 60_000 });
      const ms = now() - t0;
      await library.deleteItem(itemId);
      return ms;
    } finally {
      await server.close();
    }
  });
  await library.logout();

  const inside = (ms: number) => ms / 1000 >= TARGET_S.min && ms / 1000 <= TARGET_S.max;
  const target = `${TARGET_S.min}–${TARGET_S.max} s`;
  return {
    id: 'bandwidth',
    title: `Bandwidth limit: ${SIZE / MiB} MiB into vcsim at bandwidth.vcenter ${RATE / MiB} MiB/s`,
    method: [
      'PUSH: create item, update session, add file, the streaming PUT read through `throttle([TokenBucket(50 MiB/s)])`, complete; timed from opening the session to DONE.',
      'PULL: the same file registered at a `PullServer` whose sends go through the same bucket; vcsim GETs it (`pullIntoSession`); timed from registering to DONE.',
      `One warm-up, then the median of ${runs} runs. Unlimited, the same PUSH runs at ~230 MiB/s here.`,
    ],
    table: {
      head: ['transfer', 'median s', 'runs (s)', 'target'],
      rows: [
        ['PUSH', round(median(pushMs) / 1000, 2), pushMs.map((x) => round(x / 1000, 2)).join(', '), target],
        ['PULL', round(median(pullMs) / 1000, 2), pullMs.map((x) => round(x / 1000, 2)).join(', '), target],
      ],
    },
    targets: [
      {
        name: 'bandwidth: PUSH at 50 MiB/s',
        target,
        value: `${round(median(pushMs) / 1000, 2)} s`,
        met: inside(median(pushMs)),
      },
      {
        name: 'bandwidth: PULL at 50 MiB/s',
        target,
        value: `${round(median(pullMs) / 1000, 2)} s`,
        met: inside(median(pullMs)),
      },
    ],
    guard: [],
    notes: ['The bucket holds 0.1 s of traffic, so the first 5 MiB pass at once: 251 MiB at 50 MiB/s is 5.02 s.'],
    data: { pushMs, pullMs, sizeBytes: SIZE, rateBytesPerSec: RATE },
  };
}
