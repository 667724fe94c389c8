/**
 * The deploy check wired into the agent, against real nats-server, s3rver and vcsim: statuses go
 * through `checking`, the record keeps the result, the item's marker says how the check went,
 * reconcile leaves a failed item alone, and no check VM is ever left (each test lists the VMs
 * through vim25). Also: this site's leftovers are swept at start (another site's are not), and
 * `ferry-agent check` says whether the settings resolve.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EventBus, statusKey } from '@ferry/shared';
import {
  ContentLibraryClient,
  checkVmPrefix,
  cleanupLeftovers,
  parseMarker,
  runDeployCheck,
  VimClient,
  type VmInventory,
} from '@ferry/site-agent/internal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stageImage } from '../../../test/support/images.js';
import { FERRY_AGENT_BIN, runBin } from '../../../test/support/processes.js';
import { SiteWorld } from '../../../test/support/site-world.js';
import { waitFor } from '../../../test/support/wait.js';
import { deployableOvfDescriptor } from '../../../test/world/ova.js';

const SITE = 'dc1-corp';
/** Shares dc1-corp's vCenter in the leftover test; its name starts with dc1-corp's on purpose. */
const NEIGHBOUR = 'dc1-corp-b';

let world: SiteWorld;
let vim: VimClient;
let library: ContentLibraryClient;
let resourcePool: string;
let vmsBefore: string[];

const vmNames = async () => (await vim.listVms()).map((v) => v.name).sort();
const checkVms = async () => (await vmNames()).filter((n) => n.startsWith('ferry-check-'));

async function writeConfig(deployCheck: Record<string, unknown>, dir?: string): Promise<string> {
  return world.writeConfig(SITE, { ...(dir ? { dir } : {}), extra: { deployCheck } });
}

/** Every state the site's record for the image takes, in order (from a KV watch). */
async function watchStates(name: string, version: string) {
  const states: string[] = [];
  const watch = await world.statusKv.watch({ key: statusKey(SITE, name, version) });
  void (async () => {
    for await (const e of watch) {
      if (e.operation !== 'PUT') continue;
      const state = e.json<{ state: string }>().state;
      if (states.at(-1) !== state) states.push(state);
    }
  })();
  return { states, stop: () => watch.stop() };
}

beforeAll(async () => {
  world = await SiteWorld.start([{ site: SITE, zone: 'corporate' }]);
  const vc = world.vcsims[SITE]!;
  const creds = { url: vc.url, username: vc.username, password: vc.password, insecure: true };
  vim = new VimClient(creds);
  library = new ContentLibraryClient({ ...creds, keepAliveMs: 0 });
  resourcePool = (await vim.listObjects('ResourcePool', ['name']))[0]!.id;
  vmsBefore = await vmNames();
  await writeConfig({ enabled: true, resourcePool, timeout: '60s' });
});
afterAll(async () => {
  await vim?.logout();
  await library?.logout();
  await world?.stop();
});

describe('deploy check in the agent (nats-server, s3rver, vcsim)', () => {
  it('a good OVA: importing → checking → ready with a passed check, and no VM left', async () => {
    const agent = await world.startAgent(SITE);
    const ova = await world.buildOva({ name: 'good', disks: 2, ovf: deployableOvfDescriptor });
    const watch = await watchStates('good', '1');
    await world.publish(ova, { name: 'good', version: '1' });
    const r = await world.waitForStatus(SITE, 'good', '1', (s) => s.state === 'ready' || s.state === 'failed');
    watch.stop();
    expect(r.error).toBeUndefined();
    expect(r.state).toBe('ready');
    expect(r.check).toMatchObject({ passed: true, vm: expect.stringMatching(/^vm-\d+$/) });
    expect(r.check!.durationMs).toBeGreaterThan(0);
    expect(watch.states.slice(watch.states.indexOf('importing'))).toEqual(['importing', 'checking', 'ready']);
    const item = await agent.rt.library.getItem(r.libraryItemId!);
    expect(parseMarker(item?.description)).toMatchObject({ name: 'good', version: '1' });
    expect(parseMarker(item?.description)?.checking).toBeUndefined();
    expect(parseMarker(item?.description)?.checkFailed).toBeUndefined();
    expect(await vim.vmState(r.check!.vm!)).toBeUndefined();
    expect(await vmNames()).toEqual(vmsBefore);
  });

  it('an OVF broken for deploy: failed DEPLOY_CHECK_FAILED, no VM left, reconcile neither re-imports nor keeps it', async () => {
    const agent = world.agents.get(SITE)!;
    const ova = await world.buildOva({
      name: 'broken',
      ovf: (n, d) => deployableOvfDescriptor(n, d, { diskParent: '99' }),
    });
    const m = await world.publish(ova, { name: 'broken', version: '1' });
    const r = await world.waitForStatus(SITE, 'broken', '1', (s) => s.state === 'failed' || s.state === 'ready');
    expect(r.state).toBe('failed');
    expect(r.error?.code).toBe('DEPLOY_CHECK_FAILED');
    expect(r.error?.message).toMatch(/has 0 disk\(s\) but the OVF declares 1/);
    expect(r.retryAt).toBeUndefined();
    expect(r.check).toMatchObject({ passed: false, error: r.error?.message });
    expect(await vmNames()).toEqual(vmsBefore);

    const libraryId = await agent.rt.libraryId();
    const [item] = (await agent.rt.library.listItems(libraryId)).filter((i) => i.name === 'broken-1');
    expect(parseMarker(item?.description)?.checkFailed).toBe(true);

    const plan = await agent.reconciler.plan();
    const action = plan.find(
      (a) => ('itemId' in a && a.itemId === item!.id) || ('manifest' in a && a.manifest.name === 'broken'),
    );
    expect(action).toMatchObject({ kind: 'ignore', reason: expect.stringMatching(/deploy check failed.*republish/) });
    const report = await agent.reconciler.run('manual');
    expect(report.counts).toMatchObject({ import: 0, reimport: 0 });
    expect(agent.runner.inFlight('broken', '1')).toBeUndefined();
    const after = await world.status(SITE, 'broken', '1');
    expect(after).toMatchObject({ state: 'failed', updatedAt: r.updatedAt });
    // The same item: not deleted and made again.
    expect((await agent.rt.library.listItems(libraryId)).filter((i) => i.name === 'broken-1').map((i) => i.id)).toEqual(
      [item!.id],
    );
    expect(await vmNames()).toEqual(vmsBefore);

    // Republish retries: the check runs again on the same item (no download), and fails again.
    const watch = await watchStates('broken', '1');
    await new EventBus(world.nc).publish(SITE, { kind: 'republish', manifest: m, force: false });
    const again = await world.waitForStatus(
      SITE,
      'broken',
      '1',
      (s) => s.state === 'failed' && s.updatedAt !== r.updatedAt,
    );
    watch.stop();
    expect(watch.states).toContain('checking');
    expect(watch.states).not.toContain('downloading');
    expect(again).toMatchObject({ libraryItemId: item!.id, error: { code: 'DEPLOY_CHECK_FAILED' } });
    expect(await vmNames()).toEqual(vmsBefore);
  });

  it("this site's leftover check VMs are removed at start; a neighbour's on the same vCenter are not", async () => {
    await world.stopAgent(SITE);
    const libraryId = (await library.findLibraryByName('golden-images'))!;
    const good = (await library.listItems(libraryId)).find((i) => i.name === 'good-1')!;
    // An agent "crashes" mid-check: its VM stays, running (once for this site, once for the neighbour).
    const died = () => Promise.reject(new Error('agent died'));
    const crashing: VmInventory = {
      listVms: () => vim.listVms(),
      vmState: (id) => vim.vmState(id),
      powerOn: (id, ms) => vim.powerOn(id, ms),
      powerOff: died,
      destroy: died,
    };
    for (const site of [SITE, NEIGHBOUR]) {
      const r = await runDeployCheck(
        { id: good.id, name: good.name },
        { library, vms: crashing, resourcePool, timeoutMs: 60_000, vmPrefix: checkVmPrefix(site) },
      );
      expect(r.passed).toBe(true);
    }
    const left = await checkVms();
    expect(left).toHaveLength(2);
    expect(left.filter((n) => n.startsWith(`ferry-check-${SITE}.`))).toHaveLength(1);

    await world.startAgent(SITE);
    const remaining = await waitFor(
      async () => {
        const names = await checkVms();
        return names.length === 1 ? names : undefined;
      },
      { what: 'the leftover check VM of dc1-corp to be removed' },
    );
    expect(remaining[0]).toMatch(new RegExp(`^ferry-check-${NEIGHBOUR}\\.good-1-[0-9a-f]{6}$`));
    expect(await cleanupLeftovers(vim, { prefix: checkVmPrefix(NEIGHBOUR) })).toEqual(remaining);
    expect(await vmNames()).toEqual(vmsBefore);
  });

  it('a one-shot `ferry-agent import` checks too: a broken OVF exits 1 with the reason, no VM left', async () => {
    const ova = await world.buildOva({
      name: 'oneshot',
      ovf: (n, d) => deployableOvfDescriptor(n, d).replace('lsilogic', 'no-such-controller'),
    });
    const manifest = await stageImage(world.store, world.key, ova, { name: 'oneshot', version: '1' });
    const file = join(world.dir, 'oneshot.manifest.json');
    await writeFile(file, JSON.stringify(manifest));
    const res = await runBin(FERRY_AGENT_BIN, ['import', '--config', world.configs.get(SITE)!, '--manifest', file]);
    expect(res.stderr).toMatch(/deploy check: vCenter could not deploy the item: .*no-such-controller/);
    expect(res.code).toBe(1);
    const libraryId = (await library.findLibraryByName('golden-images'))!;
    const item = (await library.listItems(libraryId)).find((i) => i.name === 'oneshot-1');
    expect(parseMarker(item?.description)?.checkFailed).toBe(true);
    expect(await vmNames()).toEqual(vmsBefore);
  });

  it('`ferry-agent check` resolves the deploy check settings, and names a resource pool that does not exist', async () => {
    const good = await runBin(FERRY_AGENT_BIN, ['check', '--config', world.configs.get(SITE)!]);
    expect(good.stdout).toMatch(new RegExp(`^OK {4}deployCheck .*resourcePool ${resourcePool} \\(Resources\\)`, 'm'));
    // Not the exit code: s3rver answers the store probe (ListObjectsV2, MaxKeys 1) with a 500 once
    // the bucket holds two or more objects, as it does here after the tests above.
    expect(good.stdout).not.toMatch(/^FAIL {2}(deployCheck|vcenter)/m);

    const bad = await writeConfig({ enabled: true, resourcePool: 'resgroup-404' }, join(world.dir, 'bad-pool'));
    const res = await runBin(FERRY_AGENT_BIN, ['check', '--config', bad]);
    expect(res.stdout).toMatch(/^FAIL {2}deployCheck .*deployCheck\.resourcePool resgroup-404 is not a ResourcePool/m);
    expect(res.code).toBe(1);
    await writeConfig({ enabled: true, resourcePool, timeout: '60s' });
  });
});
