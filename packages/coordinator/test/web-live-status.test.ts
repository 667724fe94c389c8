/**
 * Pure logic of the web page's server side: LiveStatus (document + row-level patches, throttled)
 * over an in-memory stand-in for the three KV watches, and the CSRF origin check. The real
 * nats-server path is covered by test/e2e/web-page.test.ts.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Heartbeat, StatusRecord, Topology } from '@ferry/shared';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { buildStatusMatrix, createEventStreamHub, LiveStatus, type StatusPatch, sameOrigin } from '../src/internal.js';

interface FakeEntry {
  key: string;
  operation: 'PUT' | 'DEL';
  value?: unknown;
  isUpdate: boolean;
}

/** Just enough of a KV for LiveStatus: status().values and a watch that delivers pushed entries. */
class FakeKv {
  readonly #queue: FakeEntry[] = [];
  #wake: (() => void) | undefined;
  #stopped = false;
  constructor(readonly initial: FakeEntry[] = []) {
    this.#queue.push(...initial.map((e, i) => ({ ...e, isUpdate: i === initial.length - 1 })));
  }
  async status() {
    return { values: this.initial.length };
  }
  async watch() {
    const self = this;
    return {
      stop() {
        self.#stopped = true;
        self.#wake?.();
      },
      async *[Symbol.asyncIterator]() {
        while (!self.#stopped) {
          const e = self.#queue.shift();
          if (!e) {
            await new Promise<void>((r) => {
              self.#wake = r;
            });
            continue;
          }
          const body = e.value === undefined ? new Uint8Array() : new TextEncoder().encode(JSON.stringify(e.value));
          yield { ...e, length: body.length, json: () => JSON.parse(new TextDecoder().decode(body)) };
        }
      },
    };
  }
  put(key: string, value: unknown) {
    this.#queue.push({ key, operation: 'PUT', value, isUpdate: true });
    this.#wake?.();
  }
  del(key: string) {
    this.#queue.push({ key, operation: 'DEL', isUpdate: true });
    this.#wake?.();
  }
}

const NOW = new Date('2026-11-21T12:00:00.000Z');

const heartbeat = (site: string): Heartbeat => ({
  site,
  zone: 'corp',
  labels: {},
  agentVersion: '0.1.0',
  lastSeen: '2026-11-21T11:59:58.000Z',
  queueDepth: 0,
  activeDownloads: 0,
  activeImports: 0,
  suspended: false,
});

const record = (site: string, name: string, version: string, extra: Partial<StatusRecord> = {}): StatusRecord => ({
  site,
  name,
  version,
  sha256: 'a'.repeat(64),
  state: 'ready',
  bytesDone: 10,
  bytesTotal: 10,
  attempts: 1,
  updatedAt: '2026-11-21T11:00:00.000Z',
  agentVersion: '0.1.0',
  ...extra,
});

function world(status: FakeEntry[] = [], sites: FakeEntry[] = []) {
  const kv = { status: new FakeKv(status), sites: new FakeKv(sites), catalog: new FakeKv() };
  const live = new LiveStatus({
    topology: kv as unknown as Topology,
    throttleMs: 100,
    refreshMs: 60_000,
    now: () => NOW,
  });
  return { kv, live };
}

const put = (key: string, value: unknown): FakeEntry => ({ key, operation: 'PUT', value, isUpdate: false });

describe('LiveStatus', () => {
  it('serves the same document as buildStatusMatrix, then throttled row-level patches', async () => {
    // Fake clock: the throttle is checked by time moved on purpose, not by sleeping and hoping.
    vi.useFakeTimers();
    onTestFinished(() => {
      vi.useRealTimers();
    });
    const r1 = record('dc1', 'ubuntu', '1');
    const r2 = record('dc1', 'alma', '9');
    const { kv, live } = world([put('dc1.ubuntu.1', r1), put('dc1.alma.9', r2)], [put('dc1', heartbeat('dc1'))]);
    live.start();
    await live.ready;
    const patches: StatusPatch[] = [];
    const sub = live.subscribe((p) => patches.push(JSON.parse(p) as StatusPatch));
    const expected = buildStatusMatrix(
      { manifests: [], records: [r2, r1], heartbeats: [heartbeat('dc1')], reports: [], controls: [] },
      NOW,
    );
    expect(JSON.parse(sub.document)).toEqual(expected);

    // Three quick changes to one row: one patch with only that row, order unchanged.
    for (const done of [2, 5, 8]) {
      kv.status.put('dc1.ubuntu.1', { ...r1, state: 'downloading', bytesDone: done });
      await vi.advanceTimersByTimeAsync(5);
    }
    expect(patches).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(100); // throttleMs
    expect(patches).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(patches).toHaveLength(1);
    expect(patches[0]).toMatchObject({ schema: 'ferry/status-patch/v1', order: null });
    expect(patches[0]!.images).toEqual([expect.objectContaining({ name: 'ubuntu', version: '1' })]);
    expect((patches[0]!.images[0] as { sites: Record<string, { bytesDone: number }> }).sites.dc1!.bytesDone).toBe(8);

    // A row that goes away changes the order.
    kv.status.del('dc1.alma.9');
    await vi.advanceTimersByTimeAsync(100);
    expect(patches).toHaveLength(2);
    expect(patches[1]).toMatchObject({ images: [], order: ['ubuntu@1'] });

    // An unchanged rewrite publishes nothing.
    kv.sites.put('dc1', heartbeat('dc1'));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(patches).toHaveLength(2);

    sub.unsubscribe();
    expect(live.subscribers).toBe(0);
    live.close();
  });

  it('is ready at once on empty buckets, and skips entries that do not parse', async () => {
    const { kv, live } = world();
    live.start();
    await live.ready;
    expect(JSON.parse(live.document())).toMatchObject({ sites: [], images: [] });
    kv.status.put('dc1.ubuntu.1', { nonsense: true });
    kv.status.put('dc1.ubuntu.2', record('dc1', 'ubuntu', '2'));
    await expect.poll(() => JSON.parse(live.document()).images.length).toBe(1);
    live.close();
  });
});

describe('event stream', () => {
  it('sends hello, the document, patches and keepalive comments; ends every stream on close', async () => {
    const { kv, live } = world([], [put('dc1', heartbeat('dc1'))]);
    live.start();
    const hub = createEventStreamHub(live, { keepaliveMs: 50 });
    const server = createServer((req, res) => void hub.serve(req, res, { republish: false }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      const decoder = new TextDecoder();
      let text = '';
      const reader = res.body!.getReader();
      const until = async (re: RegExp) => {
        while (!re.test(text)) {
          const { value, done } = await reader.read();
          if (done) return false;
          text += decoder.decode(value, { stream: true });
        }
        return true;
      };
      expect(await until(/event: status\ndata: \{"schema":"ferry\/status\/v1"/)).toBe(true);
      expect(text.startsWith('retry: 3000\nevent: hello\ndata: {"republish":false}\n\n')).toBe(true);
      kv.status.put('dc1.ubuntu.1', record('dc1', 'ubuntu', '1'));
      expect(
        await until(/event: patch\ndata: \{"schema":"ferry\/status-patch\/v1"[^\n]*"order":\["ubuntu@1"\]\}\n\n/),
      ).toBe(true);
      expect(await until(/\n: keepalive\n\n/)).toBe(true);
      expect(hub.clients).toBe(1);
      expect(live.subscribers).toBe(1);
      hub.close();
      expect(await until(/never/)).toBe(false); // the stream ended
      expect(hub.clients).toBe(0);
    } finally {
      hub.close();
      live.close();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('sameOrigin (CSRF)', () => {
  const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;
  it('accepts no Origin, or the page own origin; refuses anything else', () => {
    expect(sameOrigin(req({ host: '127.0.0.1:9470' }))).toBe(true);
    expect(sameOrigin(req({ host: '127.0.0.1:9470', origin: 'http://127.0.0.1:9470' }))).toBe(true);
    expect(
      sameOrigin(req({ host: 'ferry:9470', 'x-forwarded-host': 'ferry.example', origin: 'https://ferry.example' })),
    ).toBe(true);
    expect(sameOrigin(req({ host: '127.0.0.1:9470', origin: 'http://127.0.0.1:9471' }))).toBe(false);
    expect(sameOrigin(req({ host: '127.0.0.1:9470', origin: 'https://evil.example' }))).toBe(false);
    expect(sameOrigin(req({ host: '127.0.0.1:9470', origin: 'null' }))).toBe(false);
    expect(sameOrigin(req({ host: '127.0.0.1:9470', 'sec-fetch-site': 'cross-site' }))).toBe(false);
    expect(sameOrigin(req({ host: '127.0.0.1:9470', 'sec-fetch-site': 'same-origin' }))).toBe(true);
  });
});
