/**
 * `readSites`: the sites a rollout addresses, from the heartbeats in `ferry_sites`. A table test of
 * what the bucket listing may hand it (pure logic: the bucket is an in-memory stand-in that lists
 * keys the way @nats-io/kv does; packages/shared/test/kv-keys.test.ts shows NATS doing it).
 */
import type { Topology } from '@ferry/shared';
import { describe, expect, it } from 'vitest';
import { readSites } from '../src/rollout/site-status.js';

const hb = (site: string, labels: Record<string, string> = {}) => ({
  site,
  zone: 'corp',
  labels,
  agentVersion: '0.1.0',
  lastSeen: '2026-01-01T00:00:00.000Z',
});

/** A `ferry_sites` whose listing yields `listed` in that order (repeats included) and holds `values`. */
function sitesBucket(listed: string[], values: Record<string, unknown>): Topology {
  const sites = {
    keys: async () =>
      (async function* () {
        yield* listed;
      })(),
    get: async (key: string) => {
      if (!(key in values)) return null;
      const text = JSON.stringify(values[key]);
      return { operation: 'PUT', length: text.length, json: () => JSON.parse(text) };
    },
  };
  return { sites } as unknown as Topology;
}

describe('readSites', () => {
  const values = { dc1: hb('dc1', { canary: 'true' }), dc2: hb('dc2'), dc3: hb('dc3') };
  it.each([
    { why: 'each key listed once', listed: ['dc1', 'dc2', 'dc3'], sites: ['dc1', 'dc2', 'dc3'] },
    // What NATS lists when dc1's agent writes a heartbeat while the coordinator lists the bucket.
    {
      why: 'a key listed again (written during the listing)',
      listed: ['dc2', 'dc3', 'dc1', 'dc1'],
      sites: ['dc1', 'dc2', 'dc3'],
    },
    { why: 'every key listed twice', listed: ['dc1', 'dc2', 'dc1', 'dc2'], sites: ['dc1', 'dc2'] },
    { why: 'a key gone by the time it is read', listed: ['dc1', 'gone'], sites: ['dc1'] },
  ])('$why → $sites', async ({ listed, sites }) => {
    const out = await readSites(sitesBucket(listed, values));
    expect(out.map((s) => s.site)).toEqual(sites);
    expect(out.find((s) => s.site === 'dc1')).toEqual({ site: 'dc1', zone: 'corp', labels: { canary: 'true' } });
  });

  it('two heartbeats naming the same site give one site (the first key in order)', async () => {
    const out = await readSites(
      sitesBucket(['dc1', 'dc1-old'], { dc1: hb('dc1', { canary: 'true' }), 'dc1-old': hb('dc1') }),
    );
    expect(out).toEqual([{ site: 'dc1', zone: 'corp', labels: { canary: 'true' } }]);
  });
});
