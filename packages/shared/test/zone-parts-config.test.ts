import {
  bandwidthConfigSchema,
  DEFAULT_DEPLOY_CHECK_TIMEOUT_MS,
  DEFAULT_PULL_TTL_MS,
  deployCheckConfigSchema,
  parseRate,
  pullConfigSchema,
} from '@ferry/shared';
import { describe, expect, it } from 'vitest';

describe('parseRate', () => {
  it.each([
    ['200MiB/s', 200 * 2 ** 20],
    ['400 MiB / s', 400 * 2 ** 20],
    ['1.5GB/s', 1.5e9],
    [1000, 1000],
    ['200MiB', undefined],
    ['fast', undefined],
    ['-1MiB/s', undefined],
  ])('%j → %j', (input, expected) => {
    expect(parseRate(input)).toBe(expected);
  });
});

describe('bandwidthConfigSchema', () => {
  it('parses both directions to bytes per second', () => {
    expect(bandwidthConfigSchema.parse({ store: '400MiB/s', vcenter: '200MiB/s' })).toEqual({
      store: 400 * 2 ** 20,
      vcenter: 200 * 2 ** 20,
    });
    expect(bandwidthConfigSchema.parse({})).toEqual({});
  });

  it('refuses a size without /s and a zero rate, saying what it expects', () => {
    for (const bad of [{ store: '400MiB' }, { vcenter: 0 }]) {
      const r = bandwidthConfigSchema.safeParse(bad);
      expect(r.success).toBe(false);
      expect(r.error?.issues[0]?.message).toMatch(/rate like "200MiB\/s"/);
    }
  });
});

describe('pullConfigSchema', () => {
  it('fills the defaults once', () => {
    expect(pullConfigSchema.parse({})).toEqual({ listen: '0.0.0.0:9465', ttl: DEFAULT_PULL_TTL_MS });
  });

  it('wants certFile and keyFile together and an https url', () => {
    expect(pullConfigSchema.safeParse({ certFile: '/c.pem' }).error?.issues[0]?.message).toMatch(
      /both certFile and keyFile/,
    );
    expect(pullConfigSchema.safeParse({ url: 'http://agent:9465' }).error?.issues[0]?.message).toMatch(/https/);
    expect(pullConfigSchema.parse({ url: 'https://agent.example:9465', ttl: '2h' }).ttl).toBe(7_200_000);
  });
});

describe('deployCheckConfigSchema', () => {
  it('is off by default with a 10 minute timeout', () => {
    expect(deployCheckConfigSchema.parse({})).toEqual({ enabled: false, timeout: DEFAULT_DEPLOY_CHECK_TIMEOUT_MS });
  });

  it('needs a resource pool when enabled', () => {
    const r = deployCheckConfigSchema.safeParse({ enabled: true });
    expect(r.error?.issues[0]?.path).toEqual(['resourcePool']);
    expect(deployCheckConfigSchema.parse({ enabled: true, resourcePool: 'resgroup-8', timeout: '5m' }).timeout).toBe(
      300_000,
    );
  });
});
