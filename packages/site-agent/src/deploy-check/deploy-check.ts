/**
 * The deploy check (issue 17.1): deploy a VM from a freshly imported library item, power it on,
 * check it runs with the disks its OVF declares, then power it off and delete it — always, also
 * on failure or timeout. Check VMs are named `ferry-check-<site>.…` (checkVmPrefix), so one left
 * behind by a crash is found and removed by cleanupLeftovers() — only this site's: two agents
 * sharing a vCenter never remove each other's running check VMs.
 *
 * The deploy itself is REST (`/rest/com/vmware/vcenter/ovf/library-item/id:{id}?~action=deploy`,
 * served by vCenter 6.5+ and vcsim); power and hardware reads are vim25 SOAP (VmInventory),
 * because neither vcsim's REST API nor vCenters before 7.0 offer them.
 */
import { randomBytes } from 'node:crypto';
import { FerryError, type Logger, silentLogger } from '@ferry/shared';
import type { ContentLibraryClient } from '../vcenter/content-library-client.js';
import { type OvfExpectations, ovfExpectations } from './ovf-expectations.js';
import type { VmInventory } from './vim-client.js';

export const DEPLOY_CHECK_PREFIX = 'ferry-check-';
/** vCenter's longest VM name. */
const MAX_VM_NAME = 80;

/**
 * Name prefix of one site's check VMs. `.` ends the site id because site ids never contain one:
 * with `-` there, site `dc1` would take `dc1-b`'s VMs for its own.
 */
export function checkVmPrefix(site: string): string {
  return `${DEPLOY_CHECK_PREFIX}${site}.`;
}
/** Largest .ovf read back from the library (real descriptors are tens of KiB). */
const MAX_OVF_BYTES = 4 << 20;

export class DeployCheckError extends FerryError {
  constructor(message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super('DEPLOY_CHECK_FAILED', `deploy check: ${message}`, options);
  }
}

export interface DeployCheckOptions {
  library: ContentLibraryClient;
  vms: VmInventory;
  /** Moref values of where the check VM goes. */
  resourcePool: string;
  folder?: string | undefined;
  datastore?: string | undefined;
  /** Network every OVF network is mapped to. */
  network?: string | undefined;
  timeoutMs: number;
  /** Name prefix of the check VM (default DEPLOY_CHECK_PREFIX; agents use checkVmPrefix(site)). */
  vmPrefix?: string;
  /** The item's .ovf text, when the caller has it (else it is read back from the library). */
  ovfDescriptor?: string;
  logger?: Logger;
}

export interface DeployCheckResult {
  passed: boolean;
  durationMs: number;
  /** Moref value of the check VM, once deployed (it is deleted again). */
  vm?: string;
  error?: DeployCheckError;
}

/** Deploy, power on, check, and always remove the check VM. Never throws: the result says. */
export async function runDeployCheck(
  item: { id: string; name: string },
  opts: DeployCheckOptions,
): Promise<DeployCheckResult> {
  const log = (opts.logger ?? silentLogger()).child({ component: 'deploy-check', itemId: item.id });
  const started = Date.now();
  const deadline = started + opts.timeoutMs;
  const left = () => Math.max(1, deadline - Date.now());
  const prefix = opts.vmPrefix ?? DEPLOY_CHECK_PREFIX;
  const room = Math.max(8, MAX_VM_NAME - prefix.length - 7);
  const vmName = `${prefix}${item.name.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, room)}-${randomBytes(3).toString('hex')}`;
  const state: { vm?: string } = {};

  const work = (async () => {
    const expected = ovfExpectations(`${item.name}.ovf`, opts.ovfDescriptor ?? (await readOvf(opts.library, item.id)));
    state.vm = await deployLibraryItem(opts, item.id, vmName, expected);
    log.info({ vm: state.vm, vmName }, 'check VM deployed');
    await opts.vms.powerOn(state.vm, left());
    const vmState = await opts.vms.vmState(state.vm);
    if (vmState?.powerState !== 'poweredOn') {
      throw new DeployCheckError(`VM ${state.vm} is ${vmState?.powerState ?? 'gone'} after power on`);
    }
    if (vmState.diskCount !== expected.disks) {
      throw new DeployCheckError(
        `VM ${state.vm} has ${vmState.diskCount} disk(s) but the OVF declares ${expected.disks}: vCenter dropped what it could not attach (check the OVF's disk controllers and file references)`,
      );
    }
  })();

  let timer: NodeJS.Timeout | undefined;
  let error: DeployCheckError | undefined;
  try {
    await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new DeployCheckError(`timed out after ${opts.timeoutMs} ms`, { retryable: true })),
          opts.timeoutMs,
        );
      }),
    ]);
  } catch (err) {
    error = toCheckError(err);
  } finally {
    clearTimeout(timer);
    // After a timeout the steps still running are bounded by the deadline: let them settle, so a
    // VM deployed late is known and removed too.
    await work.catch((err: unknown) => log.debug({ err: (err as Error).message }, 'check step ended'));
    await removeCheckVm(opts.vms, state.vm, vmName, log);
  }
  const result: DeployCheckResult = { passed: error === undefined, durationMs: Date.now() - started };
  if (state.vm !== undefined) result.vm = state.vm;
  if (error) result.error = error;
  log.info({ passed: result.passed, durationMs: result.durationMs, error: error?.message }, 'deploy check done');
  return result;
}

/** Remove every VM whose name starts with `prefix` (left by a crash or a failed clean-up); returns their names. */
export async function cleanupLeftovers(
  vms: VmInventory,
  opts: { timeoutMs?: number; logger?: Logger; prefix?: string } = {},
): Promise<string[]> {
  const prefix = opts.prefix ?? DEPLOY_CHECK_PREFIX;
  const log = (opts.logger ?? silentLogger()).child({ component: 'deploy-check' });
  const removed: string[] = [];
  for (const vm of await vms.listVms()) {
    if (!vm.name.startsWith(prefix)) continue;
    await destroyVm(vms, vm.id, opts.timeoutMs ?? 60_000);
    log.info({ vm: vm.id, vmName: vm.name }, 'removed a leftover check VM');
    removed.push(vm.name);
  }
  return removed;
}

async function removeCheckVm(vms: VmInventory, id: string | undefined, name: string, log: Logger): Promise<void> {
  try {
    const target = id ?? (await vms.listVms()).find((v) => v.name === name)?.id;
    if (target === undefined) return;
    await destroyVm(vms, target, 60_000);
    log.info({ vm: target }, 'check VM removed');
  } catch (err) {
    // cleanupLeftovers() finds it by its prefix later.
    log.warn({ vm: id, vmName: name, err: (err as Error).message }, 'could not remove the check VM');
  }
}

/** Powers a VM off (when on) and destroys it; a VM that is gone already is fine. */
export async function destroyVm(vms: VmInventory, id: string, timeoutMs: number): Promise<void> {
  const state = await vms.vmState(id);
  if (state === undefined) return;
  if (state.powerState !== 'poweredOff') await vms.powerOff(id, timeoutMs);
  await vms.destroy(id, timeoutMs);
}

interface RawDeployment {
  succeeded?: boolean;
  resource_id?: { type?: string; id?: string };
  error?: {
    errors?: Array<{
      error?: { messages?: Array<{ default_message?: string }> };
      message?: { default_message?: string };
      issues?: Array<{ message?: { default_message?: string } }>;
    }>;
  };
}

async function deployLibraryItem(
  opts: DeployCheckOptions,
  itemId: string,
  name: string,
  expected: OvfExpectations,
): Promise<string> {
  const spec: Record<string, unknown> = { name, accept_all_EULA: true };
  if (opts.datastore) spec['default_datastore_id'] = opts.datastore;
  if (opts.network && expected.networks.length > 0) {
    spec['network_mappings'] = expected.networks.map((key) => ({ key, value: opts.network }));
  }
  const res = await opts.library.call<RawDeployment>(
    'deploy',
    'POST',
    `/rest/com/vmware/vcenter/ovf/library-item/id:${itemId}`,
    {
      searchParams: { '~action': 'deploy' },
      json: {
        target: { resource_pool_id: opts.resourcePool, ...(opts.folder ? { folder_id: opts.folder } : {}) },
        deployment_spec: spec,
      },
    },
  );
  const vm = res?.resource_id?.id;
  if (res?.succeeded && vm) return vm;
  const messages = (res?.error?.errors ?? []).flatMap((e) => [
    ...(e.error?.messages ?? []).map((m) => m.default_message),
    e.message?.default_message,
    ...(e.issues ?? []).map((i) => i.message?.default_message),
  ]);
  const text = messages.filter(Boolean).join('; ') || 'vCenter did not say why';
  throw new DeployCheckError(`vCenter could not deploy the item: ${text}`);
}

async function readOvf(library: ContentLibraryClient, itemId: string): Promise<string> {
  const ovf = (await library.listFiles(itemId)).find((f) => f.name.toLowerCase().endsWith('.ovf'));
  if (!ovf) throw new DeployCheckError('the library item has no .ovf file to deploy');
  const stream = await library.downloadFile(itemId, ovf.name);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > MAX_OVF_BYTES) {
      stream.destroy();
      throw new DeployCheckError(`${ovf.name} is larger than ${MAX_OVF_BYTES} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function toCheckError(err: unknown): DeployCheckError {
  if (err instanceof DeployCheckError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new DeployCheckError(message, {
    cause: err,
    retryable: err instanceof FerryError ? err.retryable : false,
  });
}
