/**
 * The live status behind the web page: ONE set of KV watches per coordinator process (on
 * `ferry_status`, `ferry_sites` and `ferry_catalog`), kept in memory and turned into the
 * `ferry/status/v1` document with the pure buildStatusMatrix. Every browser shares it: the SSE
 * endpoint (event-stream.ts) subscribes here, it never opens a watch of its own.
 *
 * After a change the matrix is rebuilt at most every `throttleMs` (250 ms), and every `refreshMs`
 * (5 s) regardless, so a site turns stale when its heartbeats stop. Subscribers get the full
 * document once (`snapshot`) and then row-level patches (StatusPatch): the site list in full (it is
 * small), the changed image rows, and the row order when it changed. A watch that ends (lost
 * connection, deleted bucket) is restarted after a second with a fresh initial load; until that
 * load is complete, no partial document is published.
 */
import {
  type Heartbeat,
  type Logger,
  type Manifest,
  parseCatalogKey,
  parseHeartbeat,
  parseManifest,
  parseReconcileReport,
  parseRolloutRecord,
  parseSiteControl,
  parseStatusKey,
  parseStatusRecord,
  type ReconcileReport,
  type RolloutRecord,
  type SiteControl,
  type Topology,
} from '@ferry/shared';
import type { KvWatchEntry } from '@nats-io/kv';
import { buildStatusMatrix, STATUS_JSON_SCHEMA, type StatusInput } from '../status/status-matrix.js';

export const STATUS_PATCH_SCHEMA = 'ferry/status-patch/v1';

/**
 * What a subscriber receives after the first full document. Applying it: take `sites` as the new
 * site list; replace the image rows given in `images` (by `name@version`), and when `order` is not
 * null, keep exactly the rows it lists, in its order (rows not in it are gone).
 */
export interface StatusPatch {
  schema: typeof STATUS_PATCH_SCHEMA;
  generatedAt: string;
  sites: unknown[];
  images: unknown[];
  order: string[] | null;
}

export interface LiveStatusOptions {
  topology: Topology;
  logger?: Logger;
  /** Minimum time between two rebuilds after changes (default 250 ms). */
  throttleMs?: number;
  /** Rebuild at least this often, for staleness (default 5 s). */
  refreshMs?: number;
  /** Publish whatever is loaded after this long even if an initial load has not finished (default 10 s). */
  readyTimeoutMs?: number;
  now?: () => Date;
}

/** `name@version`: unique, since neither names nor versions contain `@`. */
export const rowKey = (name: string, version: string): string => `${name}@${version}`;

type Listener = (patchJson: string) => void;

interface Snapshot {
  generatedAt: string;
  sitesJson: string;
  order: string[];
  rows: Map<string, string>;
}

type Bucket = 'status' | 'sites' | 'catalog' | 'rollouts';

/** Watch loop state of one bucket. */
interface WatchState {
  loaded: boolean;
  stop?: () => void;
}

export class LiveStatus {
  readonly #o: Required<Omit<LiveStatusOptions, 'logger'>> & { logger?: Logger };
  readonly #records = new Map<string, StatusInput['records'][number]>();
  readonly #reports = new Map<string, ReconcileReport>();
  readonly #controls = new Map<string, SiteControl>();
  readonly #heartbeats = new Map<string, Heartbeat>();
  readonly #manifests = new Map<string, Manifest>();
  readonly #rollouts = new Map<string, RolloutRecord>();
  readonly #listeners = new Set<Listener>();
  readonly #watches: Record<Bucket, WatchState> = {
    status: { loaded: false },
    sites: { loaded: false },
    catalog: { loaded: false },
    rollouts: { loaded: false },
  };
  #snapshot: Snapshot | undefined;
  #dirty = true;
  #timer: NodeJS.Timeout | undefined;
  #refresh: NodeJS.Timeout | undefined;
  #readyTimer: NodeJS.Timeout | undefined;
  #lastFlush = 0;
  #started = false;
  #closed = false;
  #forcedReady = false;
  #resolveReady!: () => void;
  /** Resolves once every bucket's initial load is in (or readyTimeoutMs passed). */
  readonly ready: Promise<void>;

  constructor(options: LiveStatusOptions) {
    this.#o = {
      throttleMs: 250,
      refreshMs: 5_000,
      readyTimeoutMs: 10_000,
      now: () => new Date(),
      ...options,
    };
    this.ready = new Promise((r) => {
      this.#resolveReady = r;
    });
  }

  /** Starts the three watches (idempotent). */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    const { topology } = this.#o;
    void this.#watchLoop('status', topology.status);
    void this.#watchLoop('sites', topology.sites);
    void this.#watchLoop('catalog', topology.catalog);
    if (topology.rollouts) void this.#watchLoop('rollouts', topology.rollouts);
    else this.#watches.rollouts.loaded = true;
    this.#refresh = setInterval(() => this.#flush(), this.#o.refreshMs);
    this.#refresh.unref();
    this.#readyTimer = setTimeout(() => {
      if (this.#isReady()) return;
      this.#o.logger?.warn('live status: initial KV load is slow; publishing what is loaded');
      this.#forcedReady = true;
      this.#flush();
      this.#resolveReady();
    }, this.#o.readyTimeoutMs);
    this.#readyTimer.unref();
  }

  get subscribers(): number {
    return this.#listeners.size;
  }

  /**
   * The current full `ferry/status/v1` document (compact JSON) and, from then on, every patch to
   * `listener`, in order. Call after `ready`. Returns the document and the unsubscribe function.
   */
  subscribe(listener: Listener): { document: string; unsubscribe: () => void } {
    // Bring the snapshot up to date first, so the document and the patches after it agree.
    if (this.#dirty || !this.#snapshot) this.#flush(true);
    const document = this.#documentJson();
    this.#listeners.add(listener);
    return { document, unsubscribe: () => this.#listeners.delete(listener) };
  }

  /** The current document (compact JSON); after `ready`. */
  document(): string {
    if (this.#dirty || !this.#snapshot) this.#flush(true);
    return this.#documentJson();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    clearInterval(this.#refresh);
    clearTimeout(this.#readyTimer);
    for (const w of Object.values(this.#watches)) w.stop?.();
    this.#listeners.clear();
    this.#resolveReady();
  }

  #isReady(): boolean {
    return this.#forcedReady || Object.values(this.#watches).every((w) => w.loaded);
  }

  #documentJson(): string {
    const s = this.#snapshot!;
    // generatedAt is "now": the content is what the buckets hold now (a change would have marked
    // it dirty and rebuilt it above), and the page derives ages from it.
    const rows = s.order.map((k) => s.rows.get(k)!).join(',');
    return `{"schema":${JSON.stringify(STATUS_JSON_SCHEMA)},"generatedAt":"${this.#o.now().toISOString()}","sites":${s.sitesJson},"images":[${rows}]}`;
  }

  #changed(): void {
    this.#dirty = true;
    if (this.#timer || this.#closed || !this.#isReady()) return;
    const wait = Math.max(20, this.#lastFlush + this.#o.throttleMs - Date.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#flush();
    }, wait);
  }

  #input(): StatusInput {
    const sorted = <T>(m: Map<string, T>): T[] =>
      [...m.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, v]) => v);
    return {
      manifests: sorted(this.#manifests),
      records: sorted(this.#records),
      heartbeats: sorted(this.#heartbeats),
      reports: sorted(this.#reports),
      controls: sorted(this.#controls),
      rollouts: sorted(this.#rollouts),
    };
  }

  /** Rebuilds the matrix; publishes a patch when something changed. `force`: even before ready. */
  #flush(force = false): void {
    if (this.#closed || (!force && !this.#isReady())) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#dirty = false;
    this.#lastFlush = Date.now();
    const matrix = buildStatusMatrix(this.#input(), this.#o.now());
    const prev = this.#snapshot;
    const sitesJson = JSON.stringify(matrix.sites);
    const rows = new Map<string, string>();
    const order: string[] = [];
    const changed: string[] = [];
    for (const row of matrix.images) {
      const key = rowKey(row.name, row.version);
      const json = JSON.stringify(row);
      rows.set(key, json);
      order.push(key);
      if (prev?.rows.get(key) !== json) changed.push(json);
    }
    const sameOrder =
      prev !== undefined && prev.order.length === order.length && prev.order.every((k, i) => k === order[i]);
    if (prev && sameOrder && changed.length === 0 && prev.sitesJson === sitesJson) return;
    this.#snapshot = { generatedAt: matrix.generatedAt, sitesJson, order, rows };
    if (!prev || this.#listeners.size === 0) return;
    const patch = `{"schema":"${STATUS_PATCH_SCHEMA}","generatedAt":"${matrix.generatedAt}","sites":${sitesJson},"images":[${changed.join(',')}],"order":${sameOrder ? 'null' : JSON.stringify(order)}}`;
    for (const listener of [...this.#listeners]) {
      try {
        listener(patch);
      } catch (err) {
        this.#o.logger?.warn({ err: (err as Error).message }, 'live status: subscriber failed; dropped');
        this.#listeners.delete(listener);
      }
    }
  }

  #clear(bucket: Bucket): void {
    if (bucket === 'status') {
      this.#records.clear();
      this.#reports.clear();
      this.#controls.clear();
    } else if (bucket === 'sites') this.#heartbeats.clear();
    else if (bucket === 'rollouts') this.#rollouts.clear();
    else this.#manifests.clear();
  }

  #apply(bucket: Bucket, e: KvWatchEntry): void {
    const key = e.key;
    const put = e.operation === 'PUT' && e.length > 0;
    const log = this.#o.logger;
    const parse = <T>(what: string, fn: (v: unknown) => T): T | undefined => {
      try {
        return fn(e.json());
      } catch (err) {
        log?.warn({ bucket, key, err: (err as Error).message }, `live status: invalid ${what} skipped`);
        return undefined;
      }
    };
    const set = <T>(map: Map<string, T>, value: T | undefined) => {
      if (value === undefined) map.delete(key);
      else map.set(key, value);
    };
    if (bucket === 'sites') {
      set(this.#heartbeats, put ? parse('heartbeat', parseHeartbeat) : undefined);
    } else if (bucket === 'rollouts') {
      set(this.#rollouts, put ? parse('rollout', parseRolloutRecord) : undefined);
    } else if (bucket === 'catalog') {
      if (!parseCatalogKey(key)) return;
      set(this.#manifests, put ? parse('manifest', parseManifest) : undefined);
    } else if (key.endsWith('._reconcile')) {
      set(this.#reports, put ? parse('reconcile report', parseReconcileReport) : undefined);
    } else if (key.endsWith('._control')) {
      set(this.#controls, put ? parse('site control', parseSiteControl) : undefined);
    } else if (parseStatusKey(key)) {
      set(this.#records, put ? parse('status record', parseStatusRecord) : undefined);
    }
  }

  async #watchLoop(bucket: Bucket, kv: Topology['status']): Promise<void> {
    const state = this.#watches[bucket];
    const log = this.#o.logger;
    while (!this.#closed) {
      let stopped = false;
      try {
        // A watch delivers the last value of every key first; the one delivered last is flagged
        // isUpdate. An empty bucket delivers nothing, so ask first whether there is anything.
        const empty = (await kv.status()).values === 0;
        const iter = await kv.watch({ key: '>' });
        state.stop = () => {
          stopped = true;
          iter.stop();
        };
        if (this.#closed) {
          iter.stop();
          return;
        }
        this.#clear(bucket);
        state.loaded = false;
        if (empty) this.#loaded(bucket);
        for await (const e of iter) {
          this.#apply(bucket, e);
          if (!state.loaded && e.isUpdate) this.#loaded(bucket);
          else this.#changed();
        }
      } catch (err) {
        if (!this.#closed) log?.warn({ bucket, err: (err as Error).message }, 'live status: KV watch failed');
      }
      if (this.#closed || stopped) return;
      log?.warn({ bucket }, 'live status: KV watch ended; restarting');
      await new Promise((r) => setTimeout(r, 1_000).unref());
    }
  }

  #loaded(bucket: Bucket): void {
    this.#watches[bucket].loaded = true;
    this.#dirty = true;
    if (this.#isReady()) {
      this.#flush();
      this.#resolveReady();
    }
  }
}
