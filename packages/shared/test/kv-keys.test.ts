/**
 * `listKeys`: each key once, even when the bucket is written while it is listed. The first tests
 * are pure (an in-memory listing that repeats keys); the last runs against a real nats-server,
 * whose listing does repeat a key written meanwhile (it fails with a plain `kv.keys()`).
 */
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NatsHandle, startNats } from '../../../test/world/nats.js';
import { listKeys, MessagingError } from '../src/index.js';

const listing = (keys: string[]) => ({
  keys: async () =>
    (async function* () {
      yield* keys;
    })(),
});

describe('listKeys (pure)', () => {
  it.each([
    { listed: [], keys: [] },
    { listed: ['dc2', 'dc1'], keys: ['dc1', 'dc2'] },
    { listed: ['dc2', 'dc3', 'dc1', 'dc1'], keys: ['dc1', 'dc2', 'dc3'] },
    { listed: ['a.x', 'a.y', 'a.x', 'a.y', 'a.x'], keys: ['a.x', 'a.y'] },
  ])('$listed → $keys', async ({ listed, keys }) => {
    expect(await listKeys(listing(listed), 'ferry_sites')).toEqual(keys);
  });

  it('a listing that fails is one MessagingError naming the bucket', async () => {
    const broken = {
      keys: async () => {
        throw new Error('stream not found');
      },
    };
    const err = await listKeys(broken, 'ferry_sites').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MessagingError);
    expect((err as Error).message).toBe('cannot list ferry_sites: stream not found');
  });
});

/** A listing that never ends (as a stalled consumer does) until stopped; `stopped` counts the stops. */
function stalling(keys: string[]) {
  const state = { stopped: 0 };
  const lister = {
    keys: async () => {
      let stop!: () => void;
      const stopped = new Promise<void>((resolve) => {
        stop = resolve;
      });
      const iter = (async function* () {
        yield* keys;
        await stopped;
      })();
      return Object.assign(iter, {
        stop: () => {
          state.stopped++;
          stop();
        },
      });
    },
  };
  return { lister, state };
}

describe('listKeys (a listing that does not end)', () => {
  it('is stopped after the timeout and tried again; the second listing answers', async () => {
    const { lister, state } = stalling(['dc1', 'dc2']);
    let calls = 0;
    const once = {
      keys: async () => (++calls === 1 ? lister.keys() : listing(['dc2', 'dc1']).keys()),
    };
    expect(await listKeys(once, 'ferry_sites', undefined, 50)).toEqual(['dc1', 'dc2']);
    expect(calls).toBe(2);
    expect(state.stopped).toBe(1);
  });

  it('stalling twice is a retryable MessagingError naming the bucket, with both listings stopped', async () => {
    const { lister, state } = stalling(['dc1']);
    const err = await listKeys(lister, 'ferry_sites', undefined, 50).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MessagingError);
    expect((err as MessagingError).retryable).toBe(true);
    expect((err as Error).message).toBe('cannot list ferry_sites: no answer within 50 ms, twice');
    expect(state.stopped).toBe(2);
  });
});

describe('listKeys (real nats-server)', () => {
  let nats: NatsHandle;
  let nc: NatsConnection;
  beforeAll(async () => {
    nats = await startNats();
    nc = await connect({ servers: nats.url });
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  it('a key written while the bucket is listed is listed once', async () => {
    const sites = Array.from({ length: 20 }, (_, i) => `dc${i}`);
    // A fresh bucket per round: its first write during a listing makes kv.keys() list a key twice
    // in most rounds (nats-server 2.9.10; later writes tend to stall the listing instead).
    for (let round = 0; round < 5; round++) {
      const kv = await new Kvm(nc).create(`listing${round}`);
      for (const site of sites) await kv.put(site, '{}');
      // dc1's agent writes a heartbeat just after the listing started.
      const heartbeatMidListing = {
        keys: async (filter?: string) => {
          const iter = await kv.keys(filter);
          await kv.put('dc1', '{}');
          return iter;
        },
      };
      expect(await listKeys(heartbeatMidListing, 'listing'), `round ${round}`).toEqual([...sites].sort());
    }
  });
});
