/**
 * Issue 17, Done-when 1 and 2, end to end: a rollout in two waves whose canary runs the deploy
 * check. Real nats-server, s3rver and one vcsim per site; the `ferry` CLI and the coordinator
 * daemon in-process; three agents in this process. dc1 is the canary (label canary=true) and the
 * only site with `deployCheck` enabled. Every test lists the VMs of every vCenter afterwards.
 */
import { type CoordinatorDaemon, startCoordinator } from '@ferry/coordinator';
import { loadCoordinatorConfig, silentLogger } from '@ferry/shared';
import { VimClient } from '@ferry/site-agent/internal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry, writeCoordinatorConfig } from '../support/coordinator-config.js';
import { eventsAbout, readRollout } from '../support/rollout-state.js';
import { SiteWorld } from '../support/site-world.js';
import { waitFor } from '../support/wait.js';
import { deployableOvfDescriptor } from '../world/ova.js';

const SITES = ['dc1', 'dc2', 'dc3'];
const CANARY = 'dc1';
const WAVES = ['--wave', 'canary=label:canary=true', '--wave', 'rest=*', '--soak', '5s'];
/** For what the coordinator's rollout loop does after an agent's record: generous on a loaded machine. */
const ROLLOUT_STEP_TIMEOUT_MS = 90_000;

let world: SiteWorld;
let config: string;
let daemon: CoordinatorDaemon | undefined;
const vims = new Map<string, VimClient>();
const vmsBefore = new Map<string, string[]>();

async function vmNames(site: string): Promise<string[]> {
  return (await vims.get(site)!.listVms()).map((v) => v.name).sort();
}

async function cli(...args: string[]): Promise<string> {
  const r = await ferry([...args, '--config', config]);
  expect(r.code, `ferry ${args.join(' ')}: ${r.err}`).toBe(0);
  return r.out;
}

const rollout = (name: string, version: string) => readRollout(world.nc, name, version);

/** Subjects of every FERRY_EVENTS message about name@version, sorted. */
async function eventSubjects(name: string, version: string): Promise<string[]> {
  return (await eventsAbout(world.nc, name, version)).map((e) => e.subject).sort();
}

beforeAll(async () => {
  world = await SiteWorld.start([
    { site: 'dc1', zone: 'corp', labels: { canary: 'true' } },
    { site: 'dc2', zone: 'corp' },
    { site: 'dc3', zone: 'corp' },
  ]);
  for (const site of SITES) {
    const vc = world.vcsims[site]!;
    const vim = new VimClient({ url: vc.url, username: vc.username, password: vc.password, insecure: true });
    vims.set(site, vim);
    vmsBefore.set(site, await vmNames(site));
  }
  const resourcePool = (await vims.get(CANARY)!.listObjects('ResourcePool', ['name']))[0]!.id;
  await world.writeConfig(CANARY, { extra: { deployCheck: { enabled: true, resourcePool, timeout: '60s' } } });
  config = await writeCoordinatorConfig(world, { discovery: { enabled: false } });
  for (const site of SITES) await world.startAgent(site);
  daemon = await startCoordinator(await loadCoordinatorConfig(config), {
    logger: silentLogger(),
    discoverAtStart: false,
    rollouts: { intervalMs: 1_000 },
  });
}, 120_000);

afterAll(async () => {
  await daemon?.stop();
  for (const vim of vims.values()) await vim.logout();
  await world?.stop();
});

describe('rollout with a deploy check on the canary', () => {
  it('the canary is ready with a passed deploy check before the other two start downloading; then they finish', async () => {
    const ova = await world.buildOva({ name: 'golden', disks: 2, ovf: deployableOvfDescriptor });
    await cli('publish', ova.path, '--name', 'golden', '--version', '1', ...WAVES);

    let othersBeforeCanaryChecked = false;
    await waitFor(
      async () => {
        const [canary, ...others] = await Promise.all(SITES.map((s) => world.status(s, 'golden', '1')));
        const canaryDone = canary?.state === 'ready' && canary.check?.passed === true;
        if (others.some((o) => o !== undefined) && !canaryDone) othersBeforeCanaryChecked = true;
        return canaryDone && others.every((o) => o?.state === 'ready');
      },
      { what: 'golden@1 ready everywhere', timeoutMs: 120_000 },
    );
    expect(othersBeforeCanaryChecked).toBe(false);

    const canary = (await world.status(CANARY, 'golden', '1'))!;
    expect(canary.check).toMatchObject({ passed: true, vm: expect.stringMatching(/^vm-\d+$/) });
    for (const site of ['dc2', 'dc3']) expect((await world.status(site, 'golden', '1'))?.check).toBeUndefined();
    const record = await waitFor(
      async () => {
        const r = await rollout('golden', '1');
        return r?.doneAt ? r : undefined;
      },
      { what: 'rollout golden@1 done', timeoutMs: ROLLOUT_STEP_TIMEOUT_MS },
    );
    const [first, rest] = record.waves;
    // The second wave was released after the canary's ready record (check passed) and its soak.
    expect(Date.parse(rest!.releasedAt!)).toBeGreaterThanOrEqual(Date.parse(canary.updatedAt) + 5_000);
    expect(first!.sites).toEqual([CANARY]);
    for (const site of SITES) expect(await vmNames(site), site).toEqual(vmsBefore.get(site));
  });

  it('an OVF broken for deploy fails the check on the canary, halts the rollout, and never reaches the others', async () => {
    const ova = await world.buildOva({
      name: 'broken',
      ovf: (n, d) => deployableOvfDescriptor(n, d, { diskParent: '99' }),
    });
    await cli('publish', ova.path, '--name', 'broken', '--version', '1', ...WAVES);

    const failed = await world.waitForStatus(CANARY, 'broken', '1', (s) => s.state === 'failed', 120_000);
    expect(failed.error?.code).toBe('DEPLOY_CHECK_FAILED');
    expect(failed.check?.passed).toBe(false);
    const halted = await waitFor(async () => (await rollout('broken', '1'))?.halt, {
      what: 'rollout broken@1 halted',
      timeoutMs: ROLLOUT_STEP_TIMEOUT_MS,
    });
    expect(halted.reason).toMatch(/dc1: deploy check failed/);
    const status = await cli('rollout', 'status', 'broken@1');
    expect(status).toMatch(/halted/);

    // Halted: the other sites never got an event nor a record.
    for (const site of ['dc2', 'dc3']) expect(await world.status(site, 'broken', '1'), site).toBeUndefined();
    expect(await eventSubjects('broken', '1')).toEqual(['ferry.events.dc1.published']);
    // And their reconcile does not import it either (its wave is not released).
    for (const site of ['dc2', 'dc3']) {
      const report = await world.agents.get(site)!.reconciler.run('manual');
      expect(report.counts.import, site).toBe(0);
      expect(await world.status(site, 'broken', '1'), site).toBeUndefined();
    }
    for (const site of SITES) expect(await vmNames(site), site).toEqual(vmsBefore.get(site));
  });
});
