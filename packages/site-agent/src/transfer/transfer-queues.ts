import PQueue from 'p-queue';

/**
 * The two bounded queues every transfer goes through, whatever asked for it
 * (event, resume at start, reconcile): store → cache, and cache → vCenter.
 */
export class TransferQueues {
  readonly downloads: PQueue;
  readonly imports: PQueue;
  /** Transfers running right now, for metrics and tests (not the queued ones). */
  readonly active = { downloads: 0, imports: 0 };
  readonly peak = { downloads: 0, imports: 0 };

  constructor(limits: { downloads: number; imports: number }) {
    this.downloads = new PQueue({ concurrency: limits.downloads });
    this.imports = new PQueue({ concurrency: limits.imports });
  }

  download<T>(fn: () => Promise<T>): Promise<T> {
    return this.downloads.add(() => this.#track('downloads', fn)) as Promise<T>;
  }

  import<T>(fn: () => Promise<T>): Promise<T> {
    return this.imports.add(() => this.#track('imports', fn)) as Promise<T>;
  }

  /** Jobs waiting or running in either queue. */
  get depth(): number {
    return this.downloads.size + this.downloads.pending + this.imports.size + this.imports.pending;
  }

  async #track<T>(kind: 'downloads' | 'imports', fn: () => Promise<T>): Promise<T> {
    this.active[kind]++;
    this.peak[kind] = Math.max(this.peak[kind], this.active[kind]);
    try {
      return await fn();
    } finally {
      this.active[kind]--;
    }
  }
}
