/**
 * 6. Reconcile scale: one pass over N catalog entries against N in-sync library items on vcsim
 * (Reconciler.run of a real SiteAgent, in this process).
 */
import { Catalog, ensureTopology, loadAgentConfig, silentLogger } from '@ferry/shared';
import { createAgentRuntime, SiteAgent } from '@ferry/site-agent/internal';
import { connect } from '@nats-io/transport-node';
import { seedInSyncItems } from '../../test/support/in-sync-items.js';
import { startNats } from '../../test/world/nats.js';
import { type BenchOptions, log, median, repeat, round, type ScenarioResult } from '../common.js';
import type { BenchWorld } from '../world.js';

const ITEMS = 1000;

export async function benchReconcile(world: BenchWorld, opts: BenchOptions): Promise<ScenarioResult> {
  // Its own nats-server: the catalog holds only this scenario's entries.
  const nats = await startNats();
  world.onStop(() => nats.destroy());
  const vc = await world.vcsim();
  const site = 'scale';
  const { file } = await world.agentConfig(site, vc, nats.url);
  const nc = await connect({ servers: nats.url });
  const catalog = new Catalog((await ensureTopology(nc)).catalog);
  const agent = new SiteAgent(await createAgentRuntime(await loadAgentConfig(file), silentLogger()), { http: false });
  await agent.start();
  try {
    const lib = agent.rt.library;
    const libraryId = await agent.rt.libraryId();
    log(`reconcile: setting up ${ITEMS} catalog entries and ${ITEMS} in-sync items`);
    const t0 = performance.now();
    await seedInSyncItems({ count: ITEMS, site, catalog, key: world.key, library: lib, libraryId });
    const setupMs = performance.now() - t0;
    log(`reconcile: set up in ${round(setupMs / 1000, 1)} s; ${opts.runs} passes + warm-up`);
    const passes = await repeat(opts.runs, async () => {
      const s = performance.now();
      const report = await agent.reconciler.run('manual');
      const ms = performance.now() - s;
      if (report.errors.length || report.counts.keep !== ITEMS || report.counts.import || report.counts.reimport) {
        throw new Error(
          `reconcile: unexpected report ${JSON.stringify({ counts: report.counts, errors: report.errors })}`,
        );
      }
      return ms;
    });
    const m = median(passes);
    return {
      id: 'reconcile',
      title: `Reconcile: one pass over ${ITEMS} catalog entries and ${ITEMS} in-sync items`,
      method: [
        `A real \`SiteAgent\` (in the bench process) against nats-server and vcsim; ${ITEMS} signed catalog entries and ${ITEMS} library items with ferry's marker and their file, as packages/site-agent/test/reconcile.test.ts sets them up. \`agent.reconciler.run('manual')\`: read the catalog, verify every signature, list items and their files, plan (all keep). One warm-up, median of ${opts.runs}.`,
      ],
      table: {
        head: ['pass', 'seconds'],
        rows: [
          ['median', round(m / 1000, 2)],
          ['runs', passes.map((x) => round(x / 1000, 2)).join(', ')],
        ],
      },
      targets: [
        { name: `reconcile: ${ITEMS} in-sync items`, target: '< 5 s', value: `${round(m / 1000, 2)} s`, met: m < 5000 },
      ],
      guard: [],
      notes: [`Setting up the ${ITEMS} items took ${round(setupMs / 1000, 1)} s (not timed).`],
      data: { items: ITEMS, passesMs: passes, setupMs },
    };
  } finally {
    await agent.stop(1_000).catch(() => {});
    await nc.close();
    await vc.stop();
    await nats.destroy();
  }
}
