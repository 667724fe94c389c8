/**
 * Unit tests of the JobRunner's decisions with in-memory fakes (no servers): retry and backoff,
 * resume, one job per image, retire-cancel, suspension. The same paths against real
 * nats-server/s3rver/vcsim are in test/faults (agent-crash, stuck-states, vcenter-faults).
 */
import { type Logger, type Manifest, NotFoundError, type StatusRecord, StoreError, statusKey } from '@ferry/shared';
import {
  createAgentMetrics,
  DeployCheckError,
  type DeployCheckResult,
  decideRequest,
  type ImportRequest,
  type ImportResult,
  type InFlightJob,
  type ItemChecker,
  type JobRequest,
  JobRunner,
  type JobStatusStore,
  type LibraryItemInfo,
  parseMarker,
  type RequestDecision,
  type StatusPatch,
} from '@ferry/site-agent/internal';
import { describe, expect, it } from 'vitest';

const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);

function manifest(over: Partial<Manifest> = {}): Manifest {
  return {
    schema: 'ferry/manifest/v1',
    name: 'ubuntu',
    version: '1',
    artifact: 'ubuntu/1/u.ova',
    sha256: SHA_A,
    size: 100,
    files: [{ name: 'u.ovf', size: 100, sha256: 'c'.repeat(64) }],
    targets: ['*'],
    labels: {},
    publishedAt: '2026-11-02T00:00:00Z',
    keyId: 'k',
    signature: 's',
    ...over,
  };
}

function record(over: Partial<StatusRecord>): StatusRecord {
  return {
    site: 'dc1',
    name: 'ubuntu',
    version: '1',
    sha256: SHA_A,
    state: 'pending',
    bytesDone: 0,
    bytesTotal: 100,
    attempts: 0,
    updatedAt: '2026-11-02T00:00:00Z',
    agentVersion: 't',
    ...over,
  };
}

/** Status records in memory, with every write kept in order. */
class FakeStatus implements JobStatusStore {
  readonly records = new Map<string, StatusRecord>();
  readonly writes: Array<{ key: string; state: string }> = [];

  current(name: string, version: string): StatusRecord | undefined {
    return this.records.get(statusKey('dc1', name, version));
  }

  async update(name: string, version: string, patch: StatusPatch & { sha256?: string }): Promise<void> {
    const key = statusKey('dc1', name, version);
    const next: StatusRecord = { ...(this.records.get(key) ?? record({ name, version })), ...patch };
    if (patch.state && patch.state !== 'failed') delete next.error;
    this.records.set(key, next);
    this.writes.push({ key, state: next.state });
  }

  progress(name: string, version: string, state: StatusRecord['state'], bytesDone: number, bytesTotal: number): void {
    void this.update(name, version, { state, bytesDone, bytesTotal });
  }

  state(name = 'ubuntu', version = '1'): string | undefined {
    return this.current(name, version)?.state;
  }
}

/** An importer whose imports the test ends one by one; aborting a request rejects it. */
class FakeImporter {
  readonly calls: Array<{
    request: ImportRequest;
    resolve: (r: Partial<ImportResult>) => void;
    reject: (err: unknown) => void;
  }> = [];
  item: LibraryItemInfo | undefined;
  /** Like an upload that had already completed when the abort came. */
  ignoreAbort = false;

  import(request: ImportRequest): Promise<ImportResult> {
    return new Promise((resolve, reject) => {
      if (!this.ignoreAbort)
        request.signal?.addEventListener('abort', () => reject(request.signal?.reason), { once: true });
      this.calls.push({
        request,
        resolve: (r) =>
          resolve({
            itemId: 'item-1',
            itemName: 'ubuntu-1',
            skipped: false,
            bytesDownloaded: 100,
            bytesUploaded: 100,
            ...r,
          }),
        reject,
      });
    });
  }

  async findItem(): Promise<LibraryItemInfo | undefined> {
    return this.item;
  }

  last() {
    const call = this.calls.at(-1);
    if (!call) throw new Error('no import started');
    return call;
  }
}

const silent: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silent,
};

function setup(options: { maxAttempts?: number; manifests?: Manifest[]; checker?: ItemChecker } = {}) {
  const status = new FakeStatus();
  const importer = new FakeImporter();
  const deleted: string[] = [];
  const catalog = new Map((options.manifests ?? [manifest()]).map((m) => [`${m.name}@${m.version}`, m]));
  const runner = new JobRunner({
    importer,
    library: {
      deleteItem: async (id) => void deleted.push(id),
      getItem: async () => importer.item,
      updateItem: async (id, patch) => {
        importer.item = { id, name: 'ubuntu-1', description: patch.description ?? '' };
      },
    },
    ...(options.checker ? { checker: options.checker } : {}),
    status,
    metrics: createAgentMetrics({
      queueDepth: () => 0,
      activeDownloads: () => 0,
      peak: () => ({ downloads: 0, imports: 0 }),
      activeImports: () => 0,
      suspended: () => false,
    }),
    log: silent,
    retry: { maxAttempts: options.maxAttempts ?? 3, retryBaseMs: 1, retryMaxMs: 5 },
    loadManifest: async (name, version) => catalog.get(`${name}@${version}`),
  });
  return { runner, status, importer, deleted };
}

async function until(what: string, pred: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

const transient = () => new StoreError('s3', 'get', 'u.ova', 'reset; will retry', { retryable: true });

describe('decideRequest (pure)', () => {
  const req = (over: Partial<JobRequest> = {}): JobRequest => ({
    sha256: SHA_A,
    force: false,
    source: 'event',
    retired: false,
    ...over,
  });
  const running: InFlightJob = { phase: 'running', sha256: SHA_A };
  const permanent = (code: string) => code === 'CHECKSUM_MISMATCH';
  const failed = (code: string, sha256 = SHA_A) => record({ state: 'failed', sha256, error: { code, message: 'x' } });
  const cases: Array<
    [string, JobRequest, InFlightJob | undefined, StatusRecord | undefined, RequestDecision['action']]
  > = [
    ['nothing in flight: start', req(), undefined, undefined, 'start'],
    ['retired manifest: never imported', req({ retired: true }), undefined, undefined, 'skip'],
    ['same bytes running: duplicate', req(), running, undefined, 'skip'],
    ['other bytes running: after it', req({ sha256: SHA_B }), running, undefined, 'after-current'],
    ['forced republish while running: after it', req({ force: true }), running, undefined, 'after-current'],
    ['event while waiting to retry: now', req(), { phase: 'retry-wait', sha256: SHA_A }, undefined, 'replace'],
    ['same bytes recorded pending: duplicate', req(), { phase: 'pending', sha256: SHA_A }, undefined, 'skip'],
    [
      'other bytes recorded pending: replace',
      req({ sha256: SHA_B }),
      { phase: 'pending', sha256: SHA_A },
      undefined,
      'replace',
    ],
    ['reconcile, job running: in progress', req({ source: 'reconcile' }), running, undefined, 'skip'],
    [
      'reconcile re-import, job running: in progress',
      req({ source: 'reconcile', force: true }),
      running,
      undefined,
      'skip',
    ],
    [
      'reconcile, job waiting to retry',
      req({ source: 'reconcile' }),
      { phase: 'retry-wait', sha256: SHA_A },
      undefined,
      'skip',
    ],
    [
      'reconcile, proven-bad bytes: refused',
      req({ source: 'reconcile' }),
      undefined,
      failed('CHECKSUM_MISMATCH'),
      'refuse',
    ],
    [
      'reconcile, proven-bad older bytes',
      req({ source: 'reconcile' }),
      undefined,
      failed('CHECKSUM_MISMATCH', SHA_B),
      'start',
    ],
    ['reconcile, transient failure', req({ source: 'reconcile' }), undefined, failed('STORE_ERROR'), 'start'],
    ['event, proven-bad bytes: operator asked', req(), undefined, failed('CHECKSUM_MISMATCH'), 'start'],
    [
      'reconcile, deploy check failed on these bytes: refused',
      req({ source: 'reconcile' }),
      undefined,
      { ...failed('DEPLOY_CHECK_FAILED'), check: { passed: false, durationMs: 1, at: 't' } },
      'refuse',
    ],
    [
      'event after a failed deploy check (republish): start',
      req(),
      undefined,
      { ...failed('DEPLOY_CHECK_FAILED'), check: { passed: false, durationMs: 1, at: 't' } },
      'start',
    ],
  ];
  it.each(cases)('%s', (_what, request, inFlight, current, action) => {
    expect(decideRequest(request, inFlight, current, permanent).action).toBe(action);
  });
});

describe('JobRunner with fakes', () => {
  it('deploy check: a timed-out check is retried on the item already there (no new import), then ready', async () => {
    const results: DeployCheckResult[] = [
      {
        passed: false,
        durationMs: 9,
        vm: 'vm-1',
        error: new DeployCheckError('timed out after 9 ms', { retryable: true }),
      },
      { passed: true, durationMs: 3, vm: 'vm-2' },
    ];
    const checked: string[] = [];
    const checker: ItemChecker = {
      check: async (item) => {
        checked.push(item.id);
        return results.shift()!;
      },
    };
    const { runner, status, importer } = setup({ checker });
    await runner.request(manifest(), { force: false, source: 'event' });
    importer.last().resolve({});
    await until('failed with a retry', () => status.state() === 'failed');
    expect(status.current('ubuntu', '1')).toMatchObject({
      error: { code: 'DEPLOY_CHECK_FAILED' },
      check: { passed: false, vm: 'vm-1' },
    });
    expect(status.current('ubuntu', '1')?.retryAt).toBeDefined();
    expect(parseMarker(importer.item?.description)?.checkFailed).toBe(true);
    // The retry: the importer finds the bytes in the library (skipped); the check runs again.
    await until('the retry started', () => importer.calls.length === 2);
    importer.last().resolve({ skipped: true });
    await until('ready', () => status.state() === 'ready');
    expect(checked).toEqual(['item-1', 'item-1']);
    expect(status.current('ubuntu', '1')?.check).toMatchObject({ passed: true, vm: 'vm-2' });
    expect(status.writes.map((w) => w.state)).toContain('checking');
    expect(parseMarker(importer.item?.description)).toMatchObject({ name: 'ubuntu', sha256: SHA_A });
    expect(parseMarker(importer.item?.description)?.checkFailed).toBeUndefined();
  });

  it('a transient failure is retried with backoff until ready; the job stays in flight meanwhile', async () => {
    const { runner, status, importer } = setup();
    await runner.request(manifest(), { force: false, source: 'event' });
    importer.last().reject(transient());
    await until('failed with a retry', () => status.state() === 'failed');
    expect(status.current('ubuntu', '1')).toMatchObject({ attempts: 1, error: { code: 'STORE_ERROR' } });
    expect(status.current('ubuntu', '1')?.retryAt).toBeDefined();
    await until('the retry started', () => importer.calls.length === 2);
    importer.last().resolve({});
    await until('ready', () => status.state() === 'ready');
    expect(status.current('ubuntu', '1')?.attempts).toBe(2);
    expect(runner.inFlight('ubuntu', '1')).toBeUndefined();
  });

  it.each([
    ['not retryable', () => new NotFoundError('s3', 'u.ova'), 1, 'NOT_FOUND'],
    ['retryable, until maxAttempts', transient, 2, 'STORE_ERROR'],
  ])('%s: ends failed without retryAt', async (_what, makeError, expectedCalls, code) => {
    const { runner, status, importer } = setup({ maxAttempts: 2 });
    await runner.request(manifest(), { force: false, source: 'event' });
    for (let i = 1; i <= expectedCalls; i++) {
      await until(`attempt ${i}`, () => importer.calls.length === i);
      importer.last().reject(makeError());
    }
    await until('given up', () => status.state() === 'failed' && runner.inFlight('ubuntu', '1') === undefined);
    expect(status.current('ubuntu', '1')?.retryAt).toBeUndefined();
    expect(status.current('ubuntu', '1')?.error?.code).toBe(code);
    expect(importer.calls).toHaveLength(expectedCalls);
  });

  it('one job per image: duplicates and reconcile passes while it runs start nothing; a forced republish runs after', async () => {
    const { runner, importer, status } = setup();
    const m = manifest();
    await runner.request(m, { force: false, source: 'event' });
    expect((await runner.request(m, { force: false, source: 'event' })).action).toBe('skip');
    expect((await runner.request(m, { force: true, source: 'reconcile' })).action).toBe('skip');
    expect(importer.calls).toHaveLength(1);
    expect((await runner.request(m, { force: true, source: 'event' })).action).toBe('after-current');
    importer.last().resolve({});
    await until('the forced import started', () => importer.calls.length === 2);
    expect(importer.last().request.force).toBe(true);
    importer.last().resolve({});
    await until('ready', () => status.state() === 'ready' && runner.running === 0);
  });

  it('resume: unfinished and due jobs run once; a missing manifest fails; a retired image ends retired', async () => {
    const retired = manifest({ name: 'old', retiredAt: '2026-11-03T00:00:00Z' });
    const { runner, importer, status } = setup({ manifests: [manifest(), retired] });
    const records = [
      record({ state: 'downloading', bytesDone: 40 }),
      record({ name: 'gone', state: 'pending' }),
      record({ name: 'old', state: 'importing' }),
      record({ name: 'done', state: 'ready' }),
      record({ name: 'bad', state: 'failed' }),
    ];
    for (const r of records) await status.update(r.name, r.version, r);
    expect(await runner.resume(records)).toBe(1);
    expect(importer.calls.map((c) => c.request.manifest.name)).toEqual(['ubuntu']);
    expect(status.current('gone', '1')?.error?.code).toBe('MANIFEST_MISSING');
    expect(status.state('old')).toBe('retired');
    // A reconcile pass right after start sees the resumed job as the import under way.
    expect((await runner.request(manifest(), { force: true, source: 'reconcile' })).action).toBe('skip');
    expect(importer.calls).toHaveLength(1);
  });

  it('retire cancels a running job: its late progress is not written, and it ends retired', async () => {
    const { runner, importer, status, deleted } = setup();
    importer.item = {
      id: 'item-9',
      name: 'ubuntu-1',
      description: 'ferry:{"name":"ubuntu","version":"1","sha256":"x"}',
    };
    await runner.request(manifest(), { force: false, source: 'event' });
    const call = importer.last();
    await runner.retire(manifest({ retiredAt: '2026-11-03T00:00:00Z' }), true);
    call.request.onProgress?.({ state: 'downloading', bytesDone: 6, bytesTotal: 100 });
    await until('the job ended', () => runner.running === 0);
    expect(status.state()).toBe('retired');
    expect(deleted).toEqual(['item-9']);
    expect(runner.inFlight('ubuntu', '1')).toBeUndefined();
  });

  it('retire of a job that finished its upload just then deletes the new item (prune)', async () => {
    const { runner, importer, status, deleted } = setup();
    importer.ignoreAbort = true;
    await runner.request(manifest(), { force: false, source: 'event' });
    const call = importer.last();
    const retiring = runner.retire(manifest({ retiredAt: '2026-11-03T00:00:00Z' }), true);
    call.resolve({ itemId: 'item-new' });
    await retiring;
    await until('the job ended', () => runner.running === 0);
    expect(status.state()).toBe('retired');
    expect(status.writes.filter((w) => w.state === 'ready')).toEqual([]);
    expect(deleted).toEqual(['item-new']);
  });

  it.each([
    ['held while suspended', 'pending'],
    ['waiting for its retry', 'retry-wait'],
  ] as const)('retire of a job %s: never started again, ends retired', async (_what, phase) => {
    const { runner, importer, status } = setup();
    if (phase === 'pending') runner.setSuspended(true);
    await runner.request(manifest(), { force: false, source: 'event' });
    if (phase === 'retry-wait') {
      importer.last().reject(new StoreError('s3', 'get', 'u.ova', 'x', { retryable: true }));
      await until('waiting', () => runner.inFlight('ubuntu', '1') === 'retry-wait');
    }
    expect(runner.inFlight('ubuntu', '1')).toBe(phase);
    const started = importer.calls.length;
    await runner.retire(manifest({ retiredAt: '2026-11-03T00:00:00Z' }), false);
    runner.setSuspended(false);
    await new Promise((r) => setTimeout(r, 20)); // longer than retryMaxMs: a live timer would have fired
    expect(importer.calls).toHaveLength(started);
    expect(status.state()).toBe('retired');
    expect(runner.inFlight('ubuntu', '1')).toBeUndefined();
  });

  it('while suspended a request is recorded pending and starts when the site is resumed', async () => {
    const { runner, importer, status } = setup();
    runner.setSuspended(true);
    await runner.request(manifest(), { force: false, source: 'event' });
    expect(status.state()).toBe('pending');
    expect(importer.calls).toHaveLength(0);
    runner.setSuspended(false);
    expect(importer.calls).toHaveLength(1);
    importer.last().resolve({});
    await until('ready', () => status.state() === 'ready');
  });
});
