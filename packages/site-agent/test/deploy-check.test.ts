/**
 * The deploy check against a real vcsim: REST deploy of a library item (vcsim parses the .ovf
 * and creates a real VM, without disk bytes), power and hardware through vim25 SOAP at /sdk.
 * Every test lists the VMs afterwards: no check VM may be left.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BuiltOva, buildOva, deployableOvfDescriptor, tarEntryOffsets } from '../../../test/world/ova.js';
import { startVcsim, type VcsimHandle } from '../../../test/world/vcsim.js';
import {
  cleanupLeftovers,
  DEPLOY_CHECK_PREFIX,
  type DeployCheckOptions,
  runDeployCheck,
} from '../src/deploy-check/deploy-check.js';
import { ovfExpectations } from '../src/deploy-check/ovf-expectations.js';
import { VimClient, type VmInventory } from '../src/deploy-check/vim-client.js';
import { ContentLibraryClient } from '../src/vcenter/content-library-client.js';

describe('deploy check against vcsim', () => {
  let vc: VcsimHandle;
  let dir: string;
  let library: ContentLibraryClient;
  let vim: VimClient;
  let libraryId: string;
  let resourcePool: string;
  let initialVms: string[];

  /** PUSH every entry of the OVA into a new item (the import path itself is tested elsewhere). */
  async function importOva(ova: BuiltOva, name: string): Promise<{ id: string; name: string }> {
    const id = await library.createItem(libraryId, { name, description: 'deploy check test' });
    const session = await library.openUpdateSession(id);
    for (const e of await tarEntryOffsets(ova.path)) {
      const uri = await session.addFile({ name: e.name, size: e.size });
      const body = createReadStream(ova.path, { start: e.offset, end: e.offset + e.size - 1 });
      await session.upload(uri, body, e.size);
    }
    await session.complete();
    return { id, name };
  }

  const checkOpts = (extra: Partial<DeployCheckOptions> = {}): DeployCheckOptions => ({
    library,
    vms: vim,
    resourcePool,
    timeoutMs: 60_000,
    ...extra,
  });
  const vmNames = async () => (await vim.listVms()).map((v) => v.name).sort();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-deploy-check-'));
    vc = await startVcsim();
    library = new ContentLibraryClient({ url: vc.url, username: vc.username, password: vc.password, insecure: true });
    vim = new VimClient({ url: vc.url, username: vc.username, password: vc.password, insecure: true });
    libraryId = await library.ensureLibrary('checked-images', vc.datastoreId);
    resourcePool = (await vim.listObjects('ResourcePool', ['name']))[0]!.id;
    initialVms = await vmNames();
  });
  afterAll(async () => {
    await vim?.logout();
    await library?.logout();
    await vc?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a good OVA deploys, runs with its disks and leaves no VM', async () => {
    const ova = await buildOva(join(dir), { name: 'good', disks: 2, ovf: deployableOvfDescriptor });
    const item = await importOva(ova, 'good-1.0');
    const result = await runDeployCheck(item, checkOpts());
    expect(result.error).toBeUndefined();
    expect(result.passed).toBe(true);
    expect(result.vm).toMatch(/^vm-\d+$/);
    expect(result.durationMs).toBeGreaterThan(0);
    expect(await vim.vmState(result.vm!)).toBeUndefined();
    expect(await vmNames()).toEqual(initialVms);
  });

  it('an OVF whose disk hangs off a missing controller fails with DEPLOY_CHECK_FAILED and leaves no VM', async () => {
    const ova = await buildOva(join(dir), {
      name: 'nocontroller',
      ovf: (n, d) => deployableOvfDescriptor(n, d, { diskParent: '99' }),
    });
    const item = await importOva(ova, 'nocontroller-1.0');
    // The .ovf comes back from the library here (no ovfDescriptor given).
    const result = await runDeployCheck(item, checkOpts());
    expect(result.passed).toBe(false);
    expect(result.error?.code).toBe('DEPLOY_CHECK_FAILED');
    expect(result.error?.message).toMatch(/has 0 disk\(s\) but the OVF declares 1/);
    expect(result.vm).toMatch(/^vm-\d+$/);
    expect(await vmNames()).toEqual(initialVms);
  });

  it("an OVF vCenter refuses to deploy fails with vCenter's message", async () => {
    const ova = await buildOva(join(dir), {
      name: 'badcontroller',
      ovf: (n, d) => deployableOvfDescriptor(n, d).replace('lsilogic', 'no-such-controller'),
    });
    const item = await importOva(ova, 'badcontroller-1.0');
    const result = await runDeployCheck(item, checkOpts());
    expect(result.passed).toBe(false);
    expect(result.error?.code).toBe('DEPLOY_CHECK_FAILED');
    expect(result.error?.message).toMatch(/vCenter could not deploy the item: .*no-such-controller/);
    expect(result.vm).toBeUndefined();
    expect(await vmNames()).toEqual(initialVms);
  });

  it('a check that times out still removes its VM', async () => {
    const ova = await buildOva(join(dir), { name: 'slow', ovf: deployableOvfDescriptor });
    const item = await importOva(ova, 'slow-1.0');
    // Power on never finishes within the check's time: the VM is deployed but stuck.
    const stuck: VmInventory = {
      listVms: () => vim.listVms(),
      vmState: (id) => vim.vmState(id),
      powerOn: (_id, ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 2_000))),
      powerOff: (id, ms) => vim.powerOff(id, ms),
      destroy: (id, ms) => vim.destroy(id, ms),
    };
    const result = await runDeployCheck(item, checkOpts({ vms: stuck, timeoutMs: 500 }));
    expect(result.passed).toBe(false);
    expect(result.error?.message).toMatch(/timed out after 500 ms/);
    expect(result.error?.retryable).toBe(true);
    expect(await vmNames()).toEqual(initialVms);
  });

  it('cleanupLeftovers removes check VMs a crash left behind, and nothing else', async () => {
    const ova = await buildOva(join(dir), { name: 'crash', ovf: deployableOvfDescriptor });
    const item = await importOva(ova, 'crash-1.0');
    // The agent "crashes" before it can power the VM off and destroy it: the VM stays, running.
    const died = () => Promise.reject(new Error('agent died'));
    const crashing: VmInventory = { ...bind(vim), powerOff: died, destroy: died };
    const result = await runDeployCheck(item, checkOpts({ vms: crashing }));
    expect(result.passed).toBe(true);
    const left = (await vmNames()).filter((n) => n.startsWith(DEPLOY_CHECK_PREFIX));
    expect(left).toHaveLength(1);
    expect((await vim.vmState(result.vm!))?.powerState).toBe('poweredOn');

    expect(await cleanupLeftovers(vim)).toEqual(left);
    expect(await vmNames()).toEqual(initialVms);
    expect(await cleanupLeftovers(vim)).toEqual([]);
  });
});

function bind(vim: VimClient): VmInventory {
  return {
    listVms: () => vim.listVms(),
    vmState: (id) => vim.vmState(id),
    powerOn: (id, ms) => vim.powerOn(id, ms),
    powerOff: (id, ms) => vim.powerOff(id, ms),
    destroy: (id, ms) => vim.destroy(id, ms),
  };
}

describe('ovfExpectations', () => {
  const disks = [
    { href: 'a.vmdk', size: 1 },
    { href: 'b.vmdk', size: 1 },
  ];
  it.each([
    ['two disks', deployableOvfDescriptor('x', disks), { disks: 2, networks: [] }],
    ['one disk', deployableOvfDescriptor('x', disks.slice(0, 1)), { disks: 1, networks: [] }],
    [
      'a network',
      deployableOvfDescriptor('x', disks).replace(
        '<VirtualSystem',
        '<NetworkSection><Info>n</Info><Network ovf:name="VM Network"/></NetworkSection><VirtualSystem',
      ),
      { disks: 2, networks: ['VM Network'] },
    ],
  ])('%s', (_name, xml, expected) => {
    expect(ovfExpectations('x.ovf', xml)).toEqual(expected);
  });

  it.each([
    ['<notovf/>', /no <Envelope>/],
    ['<Envelope><VirtualSystem><Info/></VirtualSystem></Envelope>', /no <VirtualHardwareSection>/],
    ['<Envelope></Envelope>', /no <VirtualSystem>/],
  ])('refuses %s', (xml, message) => {
    expect(() => ovfExpectations('x.ovf', xml)).toThrow(message);
  });
});
