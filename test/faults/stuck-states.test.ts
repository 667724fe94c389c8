/**
 * No stuck states (issue 14.6), against real nats-server, s3rver and vcsim:
 * - a site that joins late replays `published` then `retired` events: every job ends `retired`,
 *   never left `pending` or `downloading`;
 * - after `kill -9` during an import, the restarted agent resumes the job and its reconcile pass at
 *   start sees the job in flight: one upload of the image, not two.
 */
import { EventBus, type Manifest, signManifest } from '@ferry/shared';
import type { SiteAgent } from '@ferry/site-agent/internal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SiteWorld } from '../support/site-world.js';

let world: SiteWorld;
const LATE = 'late';
const CRASH = 'crash';

beforeAll(async () => {
  world = await SiteWorld.start([{ site: LATE }, { site: CRASH }]);
  // One download at a time: the replayed jobs wait in the queue when their retirement arrives.
  await world.writeConfig(LATE, { concurrency: { downloads: 1, imports: 1 } });
});
afterAll(async () => {
  for (const p of world?.processes ?? []) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await world?.stop();
});

function unsigned(m: Manifest): Omit<Manifest, 'signature' | 'keyId'> {
  const { signature: _s, keyId: _k, ...rest } = m;
  return rest;
}

async function until(what: string, pred: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const counter = async (agent: SiteAgent, name: string, labels: Record<string, string> = {}) => {
  const metric = await agent.metrics.registry.getSingleMetric(name)?.get();
  const match = metric?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return match?.value ?? 0;
};

describe('no stuck states', () => {
  it('a newly joined site replaying published + retired events ends every image `retired`', async () => {
    const manifests: Manifest[] = [];
    for (const i of [1, 2, 3, 4]) {
      const ova = await world.buildOva({ name: `gone${i}`, diskSize: 24 * 2 ** 20, seed: `gone-${i}` });
      manifests.push(await world.publish(ova, { name: `gone${i}`, version: '1', targets: [LATE] }));
    }
    const bus = new EventBus(world.nc);
    for (const m of manifests) {
      const retired = signManifest({ ...unsigned(m), retiredAt: new Date().toISOString() }, world.key);
      await world.catalog.put(retired);
      await bus.publish('all', { kind: 'retired', manifest: retired });
    }

    const agent = await world.startAgent(LATE);
    for (const m of manifests) await world.waitForStatus(LATE, m.name, m.version, (r) => r.state === 'retired');
    // Once nothing runs any more, nothing wrote over the retirement.
    await until('the agent is idle', () => agent.runner.running === 0 && agent.rt.queues.depth === 0);
    await agent.status.settled();
    for (const m of manifests) expect((await world.status(LATE, m.name, m.version))?.state).toBe('retired');
    const items = await agent.rt.library.listItems(await agent.rt.libraryId());
    expect(items.map((i) => i.name).filter((n) => n.startsWith('gone'))).toEqual([]);
    await world.stopAgent(LATE);
  });

  it('kill -9 during an import: the restarted agent resumes it and reconcile does not import it again', async () => {
    const size = 240 * 2 ** 20;
    const ova = await world.buildOva({ name: 'once', diskSize: size });
    const proc = world.startAgentProcess(CRASH);
    const m = await world.publish(ova, { name: 'once', version: '1', targets: [CRASH] });
    await world.waitForStatus(CRASH, m.name, m.version, (r) => r.state === 'importing' && r.bytesDone > 0, 90_000);
    proc.child.kill('SIGKILL');
    await proc.exited;
    expect((await world.status(CRASH, m.name, m.version))?.state).not.toBe('ready');

    // The reconcile pass at start sees the unfinished item (`importing` marker) while the job resumes.
    await world.writeConfig(CRASH, { extra: { reconcile: { enabled: true, schedule: '0 0 1 1 *' } } });
    const agent = await world.startAgent(CRASH);
    const ready = await world.waitForStatus(CRASH, m.name, m.version, undefined, 120_000);
    await until('the start-up reconcile pass is done', () => agent.reconciler.lastReport !== undefined);
    await until('the agent is idle', () => agent.runner.running === 0 && agent.rt.queues.depth === 0);
    expect(await counter(agent, 'ferry_imports_total', { result: 'ready' })).toBe(1);
    expect(await counter(agent, 'ferry_bytes_imported_total')).toBe(sumFiles(m));
    const items = (await agent.rt.library.listItems(await agent.rt.libraryId())).filter((i) => i.name === 'once-1');
    expect(items.map((i) => i.id)).toEqual([ready.libraryItemId]);
    await world.stopAgent(CRASH);
  });
});

function sumFiles(m: Manifest): number {
  return m.files.reduce((s, f) => s + f.size, 0);
}
