/**
 * A small client of the vim25 SOAP API (`/sdk`), which vCenter 6.x–8.x and vcsim serve alike:
 * what the REST API of older vCenters (and vcsim) lacks for a deploy check — power a VM on and
 * off, read its power state and disks, destroy it, list VMs by name. Its own SOAP session: the
 * REST session id is not accepted at /sdk (checked on vcsim 0.24), so it logs in through the
 * SessionManager and keeps the `vmware_soap_session` cookie, logging in again once on
 * NotAuthenticated. Answers are parsed with fast-xml-parser (no entity expansion beyond XML's own).
 */
import { type Logger, silentLogger } from '@ferry/shared';
import { XMLParser } from 'fast-xml-parser';
import { type Got, got } from 'got';
import { VsphereAuthError, VsphereError } from '../errors.js';
import { pollUntil } from '../poll.js';

export interface VimClientOptions {
  url: string;
  username: string;
  password: string;
  insecure?: boolean;
  ca?: string | Buffer;
  logger?: Logger;
  requestTimeoutMs?: number;
}

export interface VmSummary {
  /** Moref value, e.g. vm-42 */
  id: string;
  name: string;
}

export interface VmState {
  powerState: 'poweredOn' | 'poweredOff' | 'suspended' | string;
  diskCount: number;
}

/** What a deploy check needs of vCenter's inventory (vim25 here; a fake in unit tests). */
export interface VmInventory {
  listVms(): Promise<VmSummary[]>;
  /** undefined when the VM is gone. */
  vmState(id: string): Promise<VmState | undefined>;
  /** Each waits for its task to succeed (VsphereError with vCenter's message otherwise). */
  powerOn(id: string, timeoutMs: number): Promise<void>;
  powerOff(id: string, timeoutMs: number): Promise<void>;
  destroy(id: string, timeoutMs: number): Promise<void>;
}

type Node = Record<string, unknown>;

interface ServiceContent {
  propertyCollector: string;
  sessionManager: string;
  rootFolder: string;
  viewManager: string;
}

const SOAP_ACTION = 'urn:vim25/6.7';
const COOKIE = 'vmware_soap_session';

export class VimClient implements VmInventory {
  private readonly http: Got;
  private readonly endpoint: string;
  private readonly log: Logger;
  private readonly timeoutMs: number;
  private readonly parser = new XMLParser({
    ignoreAttributes: false,
    removeNSPrefix: true,
    parseTagValue: false,
    parseAttributeValue: false,
    processEntities: true,
    htmlEntities: false,
  });
  private cookie: string | undefined;
  private content: ServiceContent | undefined;

  constructor(private readonly opts: VimClientOptions) {
    this.endpoint = `${new URL(opts.url).origin}/sdk`;
    this.log = (opts.logger ?? silentLogger()).child({ component: 'vim25', vcenter: new URL(opts.url).origin });
    this.timeoutMs = opts.requestTimeoutMs ?? 60_000;
    this.http = got.extend({
      throwHttpErrors: false,
      retry: { limit: 0 },
      https: {
        rejectUnauthorized: !opts.insecure,
        ...(opts.ca === undefined ? {} : { certificateAuthority: opts.ca }),
      },
    });
  }

  // ---- session -----------------------------------------------------------------------------

  async login(): Promise<void> {
    const sc = await this.serviceContent();
    this.cookie = undefined;
    const res = await this.post(
      'login',
      `<Login>${moref('SessionManager', sc.sessionManager)}<userName>${esc(this.opts.username)}</userName><password>${esc(this.opts.password)}</password></Login>`,
      { auth: false },
    );
    if (res.fault) {
      if (/InvalidLogin/.test(res.fault.type)) throw new VsphereAuthError(this.opts.url, this.opts.username);
      throw new VsphereError('vim25 login', res.fault.message, { retryable: false });
    }
    if (!this.cookie) throw new VsphereError('vim25 login', 'vCenter answered the login without a session cookie');
    this.log.debug({ user: this.opts.username }, 'logged in to vim25');
  }

  async logout(): Promise<void> {
    if (!this.cookie || !this.content) return;
    try {
      await this.post('logout', `<Logout>${moref('SessionManager', this.content.sessionManager)}</Logout>`, {
        auth: false,
      });
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'vim25 logout failed (ignored)');
    }
    this.cookie = undefined;
  }

  // ---- inventory ---------------------------------------------------------------------------

  /** Every object of `type` below the root folder with the given properties (paged). */
  async listObjects(type: string, paths: readonly string[]): Promise<Array<{ id: string; props: Node }>> {
    const sc = await this.serviceContent();
    const view = await this.invoke(
      'create view',
      `<CreateContainerView>${moref('ViewManager', sc.viewManager)}${moref('Folder', sc.rootFolder)
        .replace('<_this', '<container')
        .replace(
          '</_this>',
          '</container>',
        )}<type>${esc(type)}</type><recursive>true</recursive></CreateContainerView>`,
    );
    const viewId = text(view['returnval']);
    try {
      const spec =
        `<specSet><propSet><type>${esc(type)}</type>${paths.map((p) => `<pathSet>${esc(p)}</pathSet>`).join('')}</propSet>` +
        `<objectSet><obj type="ContainerView">${esc(viewId)}</obj><skip>true</skip>` +
        '<selectSet xsi:type="TraversalSpec"><name>view</name><type>ContainerView</type><path>view</path><skip>false</skip></selectSet>' +
        '</objectSet></specSet>';
      return await this.retrieve(spec);
    } finally {
      await this.invoke('destroy view', `<DestroyView>${moref('ContainerView', viewId)}</DestroyView>`).catch(
        (err: unknown) => this.log.debug({ err: (err as Error).message }, 'could not destroy a container view'),
      );
    }
  }

  /** Properties of one object; undefined when it does not exist (any more). */
  async getProperties(type: string, id: string, paths: readonly string[]): Promise<Node | undefined> {
    const spec =
      `<specSet><propSet><type>${esc(type)}</type>${paths.map((p) => `<pathSet>${esc(p)}</pathSet>`).join('')}</propSet>` +
      `<objectSet><obj type="${esc(type)}">${esc(id)}</obj><skip>false</skip></objectSet></specSet>`;
    try {
      return (await this.retrieve(spec))[0]?.props;
    } catch (err) {
      if (err instanceof VsphereError && err.code === 'VSPHERE_NOT_FOUND') return undefined;
      throw err;
    }
  }

  /** The `name` of a managed object; undefined when it does not exist. */
  async objectName(type: string, id: string): Promise<string | undefined> {
    const props = await this.getProperties(type, id, ['name']);
    return props === undefined ? undefined : text(props['name']);
  }

  async listVms(): Promise<VmSummary[]> {
    return (await this.listObjects('VirtualMachine', ['name'])).map((o) => ({ id: o.id, name: text(o.props['name']) }));
  }

  async vmState(id: string): Promise<VmState | undefined> {
    const props = await this.getProperties('VirtualMachine', id, ['runtime.powerState', 'config.hardware.device']);
    if (props === undefined) return undefined;
    const devices = arr((props['config.hardware.device'] as Node | undefined)?.['VirtualDevice']);
    return {
      powerState: text(props['runtime.powerState']),
      diskCount: devices.filter((d) => (d as Node)['@_type'] === 'VirtualDisk').length,
    };
  }

  powerOn(id: string, timeoutMs: number): Promise<void> {
    return this.runTask('power on', 'PowerOnVM_Task', id, timeoutMs);
  }

  powerOff(id: string, timeoutMs: number): Promise<void> {
    return this.runTask('power off', 'PowerOffVM_Task', id, timeoutMs);
  }

  destroy(id: string, timeoutMs: number): Promise<void> {
    return this.runTask('destroy', 'Destroy_Task', id, timeoutMs);
  }

  /** Start `method` on a VM and wait until its task succeeds; VsphereError with vCenter's message if not. */
  private async runTask(operation: string, method: string, vm: string, timeoutMs: number): Promise<void> {
    const res = await this.invoke(operation, `<${method}>${moref('VirtualMachine', vm)}</${method}>`);
    const task = text(res['returnval']);
    await pollUntil(
      async () => {
        const info = await this.getProperties('Task', task, ['info.state', 'info.error']);
        const state = text(info?.['info.state']);
        if (state === 'success') return true;
        if (state === 'error') {
          const error = info?.['info.error'] as Node | undefined;
          const msg = text(error?.['localizedMessage']) || faultType(error?.['fault']) || 'task failed';
          throw new VsphereError(`vim25 ${operation}`, `${vm}: ${msg}`, { retryable: false });
        }
        return undefined;
      },
      {
        timeoutMs,
        onTimeout: () =>
          new VsphereError(`vim25 ${operation}`, `${vm}: task ${task} did not finish in ${timeoutMs} ms`, {
            code: 'VSPHERE_TIMEOUT',
          }),
      },
    );
  }

  // ---- SOAP plumbing -----------------------------------------------------------------------

  private async retrieve(specSet: string): Promise<Array<{ id: string; props: Node }>> {
    const sc = await this.serviceContent();
    const pc = moref('PropertyCollector', sc.propertyCollector);
    const out: Array<{ id: string; props: Node }> = [];
    let res = await this.invoke(
      'retrieve properties',
      `<RetrievePropertiesEx>${pc}${specSet}<options/></RetrievePropertiesEx>`,
    );
    for (;;) {
      const ret = res['returnval'] as Node | undefined;
      for (const o of arr(ret?.['objects'])) {
        const props: Node = {};
        for (const p of arr((o as Node)['propSet'])) props[text((p as Node)['name'])] = (p as Node)['val'];
        out.push({ id: text((o as Node)['obj']), props });
      }
      const token = ret?.['token'];
      if (token === undefined) return out;
      res = await this.invoke(
        'retrieve properties',
        `<ContinueRetrievePropertiesEx>${pc}<token>${esc(text(token))}</token></ContinueRetrievePropertiesEx>`,
      );
    }
  }

  private async serviceContent(): Promise<ServiceContent> {
    if (this.content) return this.content;
    const res = await this.post(
      'service content',
      `<RetrieveServiceContent>${moref('ServiceInstance', 'ServiceInstance')}</RetrieveServiceContent>`,
      { auth: false },
    );
    if (res.fault) throw new VsphereError('vim25 service content', res.fault.message);
    const rv = res.body['returnval'] as Node;
    this.content = {
      propertyCollector: text(rv['propertyCollector']),
      sessionManager: text(rv['sessionManager']),
      rootFolder: text(rv['rootFolder']),
      viewManager: text(rv['viewManager']),
    };
    return this.content;
  }

  /** One authenticated call: logs in first if needed, and once more on NotAuthenticated. */
  private async invoke(operation: string, body: string): Promise<Node> {
    if (!this.cookie) await this.login();
    for (let attempt = 0; ; attempt++) {
      const res = await this.post(operation, body, { auth: true });
      if (!res.fault) return res.body;
      if (attempt === 0 && /NotAuthenticated/.test(res.fault.type)) {
        this.log.info('vim25 session expired, logging in again');
        await this.login();
        continue;
      }
      throw new VsphereError(`vim25 ${operation}`, res.fault.message, {
        retryable: false,
        ...(/ManagedObjectNotFound/.test(res.fault.type) ? { code: 'VSPHERE_NOT_FOUND' } : {}),
      });
    }
  }

  private async post(
    operation: string,
    body: string,
    opts: { auth: boolean },
  ): Promise<{ body: Node; fault?: { type: string; message: string } }> {
    const envelope =
      '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" ' +
      'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns="urn:vim25"><soapenv:Body>' +
      body +
      '</soapenv:Body></soapenv:Envelope>';
    let res: { statusCode: number; body: string; headers: Record<string, string | string[] | undefined> };
    try {
      res = await this.http.post(this.endpoint, {
        body: envelope,
        headers: {
          'content-type': 'text/xml; charset=utf-8',
          soapaction: SOAP_ACTION,
          ...(opts.auth && this.cookie ? { cookie: `${COOKIE}=${this.cookie}` } : {}),
        },
        timeout: { request: this.timeoutMs },
      });
    } catch (err) {
      throw new VsphereError(`vim25 ${operation}`, (err as Error).message, { cause: err });
    }
    const setCookie = [res.headers['set-cookie'] ?? []].flat();
    for (const c of setCookie) {
      const m = new RegExp(`^${COOKIE}=([^;]*)`).exec(c);
      if (m) this.cookie = m[1];
    }
    let doc: Node;
    try {
      doc = this.parser.parse(res.body) as Node;
    } catch (err) {
      throw new VsphereError(`vim25 ${operation}`, `HTTP ${res.statusCode}: not XML`, { cause: err });
    }
    const soapBody = (doc['Envelope'] as Node | undefined)?.['Body'] as Node | undefined;
    if (!soapBody) {
      throw new VsphereError(`vim25 ${operation}`, `HTTP ${res.statusCode}: no SOAP body in the answer`, {
        retryable: res.statusCode >= 500,
      });
    }
    const fault = soapBody['Fault'] as Node | undefined;
    if (fault) {
      const detail = fault['detail'] as Node | undefined;
      const type = faultType(detail) || 'Fault';
      return { body: soapBody, fault: { type, message: `${text(fault['faultstring']) || type} (${type})` } };
    }
    if (res.statusCode >= 300) throw new VsphereError(`vim25 ${operation}`, `HTTP ${res.statusCode}`);
    const response = Object.values(soapBody).find((v) => typeof v === 'object') as Node | undefined;
    return { body: response ?? {} };
  }
}

// ---- XML helpers ---------------------------------------------------------------------------

function moref(type: string, value: string): string {
  return `<_this type="${esc(type)}">${esc(value)}</_this>`;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The text of an element, whether it came with attributes or not. */
function text(node: unknown): string {
  if (node === undefined || node === null) return '';
  if (typeof node === 'object') return String((node as Node)['#text'] ?? '');
  return String(node);
}

function arr(node: unknown): unknown[] {
  if (node === undefined || node === null) return [];
  return Array.isArray(node) ? node : [node];
}

/** `xsi:type` of a fault detail's first element, e.g. InvalidPowerState. */
function faultType(detail: unknown): string {
  if (!detail || typeof detail !== 'object') return '';
  const d = detail as Node;
  if (typeof d['@_type'] === 'string') return d['@_type'] as string;
  for (const [k, v] of Object.entries(d)) {
    if (k.startsWith('@_') || k === '#text') continue;
    if (v && typeof v === 'object' && typeof (v as Node)['@_type'] === 'string') return (v as Node)['@_type'] as string;
    return k.replace(/Fault$/, '');
  }
  return '';
}
