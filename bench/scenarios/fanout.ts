/**
 * 5. Fan-out: 100 lightweight agents (real EventConsumer + decodeEvent/decideEvent + StatusWriter,
 * no importer) in worker processes against the real nats-server; one `published` event → each
 * site's `pending` record stored.
 */
import { EventBus, ensureTopology, publishedMsgId, signManifest } from '@ferry/shared';
import { connect } from '@nats-io/transport-node';
import {
  type BenchOptions,
  log,
  median,
  percentile,
  round,
  type ScenarioResult,
  startTsProcess,
  stopChild,
  wallMs,
} from '../common.js';
import type { BenchWorld } from '../world.js';

const SITES = 100;
const WORKERS = 2;

export async function benchFanout(world: BenchWorld, opts: BenchOptions): Promise<ScenarioResult> {
  const events = opts.quick ? 5 : 10;
  const nats = await world.nats();
  const nc = await connect({ servers: nats.url });
  await ensureTopology(nc);
  const bus = new EventBus(nc);
  log(`fanout: starting ${SITES} agents in ${WORKERS} processes`);
  const t0 = performance.now();
  const per = SITES / WORKERS;
  const stored = new Map<string, number[]>(); // `${name}@${version}` → store times
  let waiters: Array<() => void> = [];
  const workers = await Promise.all(
    Array.from({ length: WORKERS }, async (_, w) => {
      const p = await startTsProcess('fanout-worker.ts', [
        nats.url,
        world.key.publicKeyFile,
        'fan',
        String(w * per),
        String(per),
      ]);
      void (async () => {
        for await (const line of p.lines) {
          const rec = JSON.parse(line) as { name?: string; version?: string; at?: number; ready?: number };
          if (rec.at === undefined) continue;
          const key = `${rec.name}@${rec.version}`;
          stored.set(key, [...(stored.get(key) ?? []), rec.at]);
          for (const wake of waiters.splice(0)) wake();
        }
      })().catch(() => {});
      return p;
    }),
  );
  // The first line is either {"ready": n} or a record: the workers print ready after starting all sites.
  const startupMs = performance.now() - t0;
  log(`fanout: agents up in ${round(startupMs / 1000, 1)} s; ${events} events`);

  const latencies: number[][] = [];
  try {
    for (let e = 0; e < events; e++) {
      const manifest = signManifest(
        {
          schema: 'ferry/manifest/v1',
          name: 'fanout',
          version: `${e + 1}`,
          artifact: `fanout/${e + 1}/fanout.ova`,
          sha256: 'a'.repeat(64),
          size: 2 ** 30,
          files: [{ name: 'fanout.ovf', size: 100, sha256: 'b'.repeat(64) }],
          targets: ['*'],
          labels: {},
          publishedAt: new Date().toISOString(),
        },
        world.key,
      );
      const key = `fanout@${e + 1}`;
      const sent = wallMs();
      await bus.publish('all', { kind: 'published', manifest }, publishedMsgId(manifest));
      const deadline = Date.now() + 60_000;
      while ((stored.get(key)?.length ?? 0) < SITES) {
        if (Date.now() > deadline) throw new Error(`fanout: only ${stored.get(key)?.length ?? 0} of ${SITES} stored`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 200);
        });
      }
      latencies.push(stored.get(key)!.map((at) => at - sent));
    }
  } finally {
    waiters = [];
    await Promise.all(workers.map((w) => stopChild(w.child)));
    await nc.close();
  }
  const all = latencies.flat();
  const first = latencies[0]!;
  const ms = (x: number) => round(x, 1);
  const p99 = percentile(all, 99);
  return {
    id: 'fanout',
    title: `Fan-out: one \`published\` event → ${SITES} sites' \`pending\` records`,
    method: [
      `${SITES} fake sites in ${WORKERS} processes (bench/fanout-worker.ts), each with its own NATS connection, the real \`EventConsumer\` (two durable pull consumers), \`decodeEvent\` + \`decideEvent\` (ed25519 signature check) and a \`StatusWriter\`; no importer.`,
      `The latency of a site is from just before \`EventBus.publish\` to its \`StatusWriter.update('pending')\` resolving (the KV put acknowledged), in wall-clock ms across processes. ${events} events, one after another, each once all sites stored the previous one.`,
    ],
    table: {
      head: ['events', 'samples', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'],
      rows: [
        [
          'first event',
          first.length,
          ms(median(first)),
          ms(percentile(first, 90)),
          ms(percentile(first, 99)),
          ms(Math.max(...first)),
        ],
        [`all ${events} events`, all.length, ms(median(all)), ms(percentile(all, 90)), ms(p99), ms(Math.max(...all))],
      ],
    },
    targets: [
      {
        name: 'fan-out: p99 publish → pending stored',
        target: '< 1 s',
        value: `${Math.round(p99)} ms`,
        met: p99 < 1000,
      },
    ],
    guard: [],
    notes: [
      `Starting the ${SITES} agents (connections, 2 consumers each) took ${round(startupMs / 1000, 1)} s (not in the latencies).`,
    ],
    data: { sites: SITES, workers: WORKERS, events, latenciesMs: latencies, startupMs },
  };
}
