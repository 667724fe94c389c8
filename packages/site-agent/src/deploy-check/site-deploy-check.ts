/**
 * One site's deploy check, from its `deployCheck` settings and its vCenter clients (the REST
 * client that imports, a vim25 client with the same URL, user, password and CA): runs checks,
 * removes this site's leftover check VMs at start, and says whether the settings resolve
 * (`ferry-agent check`). Self-contained per (site, library), so a zone
 * agent can hold one per target.
 */
import { ConfigError, type DeployCheckSettings, describeError, type Logger, silentLogger } from '@ferry/shared';
import type { ContentLibraryClient } from '../vcenter/content-library-client.js';
import type { ItemChecker } from './check-stage.js';
import { checkVmPrefix, cleanupLeftovers, type DeployCheckResult, destroyVm, runDeployCheck } from './deploy-check.js';
import type { VimClient } from './vim-client.js';

export interface SiteDeployCheckOptions {
  site: string;
  settings: DeployCheckSettings;
  library: ContentLibraryClient;
  vim: VimClient;
  logger?: Logger;
}

/** Longest wait for one power-off or destroy while removing leftovers. */
const CLEANUP_TASK_TIMEOUT_MS = 60_000;

export class SiteDeployCheck implements ItemChecker {
  readonly prefix: string;
  readonly #o: SiteDeployCheckOptions;
  readonly #log: Logger;
  readonly #resourcePool: string;
  #startup: Promise<unknown> = Promise.resolve();

  constructor(options: SiteDeployCheckOptions) {
    if (!options.settings.resourcePool) {
      throw new ConfigError(
        'deployCheck.enabled needs deployCheck.resourcePool',
        undefined,
        'deployCheck.resourcePool',
      );
    }
    this.#o = options;
    this.#resourcePool = options.settings.resourcePool;
    this.prefix = checkVmPrefix(options.site);
    this.#log = (options.logger ?? silentLogger()).child({ component: 'deploy-check', site: options.site });
  }

  /**
   * Removes check VMs a crash left behind; called at agent start. Checks wait for it, so a
   * resumed check never has its own new VM swept. Never rejects: a vCenter that is away now is
   * logged, and the next start or failed check sweeps again.
   */
  cleanupAtStart(): Promise<string[]> {
    const sweep = this.#sweep('start');
    this.#startup = sweep;
    return sweep;
  }

  async check(item: { id: string; name: string }): Promise<DeployCheckResult> {
    await this.#startup;
    const { settings, library, vim } = this.#o;
    const result = await runDeployCheck(item, {
      library,
      vms: vim,
      resourcePool: this.#resourcePool,
      folder: settings.folder,
      network: settings.network,
      datastore: settings.datastore,
      timeoutMs: settings.timeoutMs,
      vmPrefix: this.prefix,
      logger: this.#log,
    });
    // runDeployCheck removed its VM (logging if vCenter refused): after a failure, make sure once
    // more. Only this VM: a sweep by prefix could take the VM of a check running meanwhile (a
    // concurrent import, or a one-shot `ferry-agent import` next to the daemon).
    if (!result.passed && result.vm !== undefined) await this.#removeLeft(result.vm);
    return result;
  }

  /** For `ferry-agent check`: each configured moref exists; throws what is wrong. */
  async probe(): Promise<string> {
    const { settings, vim } = this.#o;
    const wanted: Array<[string, string, string | undefined]> = [
      ['resourcePool', 'ResourcePool', this.#resourcePool],
      ['folder', 'Folder', settings.folder],
      ['network', 'Network', settings.network],
      ['datastore', 'Datastore', settings.datastore],
    ];
    const found: string[] = [];
    const missing: string[] = [];
    try {
      for (const [key, type, id] of wanted) {
        if (id === undefined) continue;
        const name = await vim.objectName(type, id);
        if (name === undefined) missing.push(`deployCheck.${key} ${id} is not a ${type} in this vCenter`);
        else found.push(`${key} ${id} (${name})`);
      }
    } finally {
      await vim.logout();
    }
    if (missing.length > 0) {
      throw new ConfigError(`${missing.join('; ')}: use a moref value, e.g. resgroup-8`, undefined, 'deployCheck');
    }
    return `check VMs go to ${found.join(', ')}; timeout ${Math.round(settings.timeoutMs / 1000)} s`;
  }

  async close(): Promise<void> {
    await this.#o.vim.logout();
  }

  async #removeLeft(vm: string): Promise<void> {
    try {
      await destroyVm(this.#o.vim, vm, CLEANUP_TASK_TIMEOUT_MS);
    } catch (err) {
      this.#log.warn({ vm, err: describeError(err).message }, 'check VM still there; the next start removes it');
    }
  }

  async #sweep(when: string): Promise<string[]> {
    try {
      const removed = await cleanupLeftovers(this.#o.vim, {
        prefix: this.prefix,
        timeoutMs: CLEANUP_TASK_TIMEOUT_MS,
        logger: this.#log,
      });
      if (removed.length > 0) this.#log.info({ removed, when }, 'leftover check VMs removed');
      return removed;
    } catch (err) {
      this.#log.warn({ err: describeError(err).message, when }, 'could not sweep leftover check VMs (next start does)');
      return [];
    }
  }
}
