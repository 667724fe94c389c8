import {
  catalogKey,
  eventSubject,
  InvalidNameError,
  parseCatalogKey,
  parseDuration,
  parseImageRef,
  parseSize,
  parseStatusKey,
  selectorMatches,
  statusKey,
} from '@ferry/shared';
import { describe, expect, it } from 'vitest';

describe('names and keys', () => {
  it.each([
    ['ubuntu-22_04', '2026.11.21', 'ubuntu-22_04.2026.11.21'],
    ['win2022', 'v1', 'win2022.v1'],
  ])('catalog key of %s@%s', (name, version, key) => {
    expect(catalogKey(name, version)).toBe(key);
    expect(parseCatalogKey(key)).toEqual({ name, version });
  });

  it.each([
    ['ubuntu 22', '1'],
    ['ubuntu.22', '1'],
    ['ubuntu/22', '1'],
    ['ok', '../1'],
    ['ok', '1.'],
    ['ok', '*'],
    ['', '1'],
  ])('rejects %j @ %j', (name, version) => {
    expect(() => catalogKey(name, version)).toThrow(InvalidNameError);
  });

  it('status keys round-trip', () => {
    expect(parseStatusKey(statusKey('dc1', 'ubuntu', '1.2.3'))).toEqual({
      site: 'dc1',
      name: 'ubuntu',
      version: '1.2.3',
    });
  });

  it('subjects', () => {
    expect(eventSubject('all', 'published')).toBe('ferry.events.all.published');
    expect(eventSubject('dc2-pci', 'republish')).toBe('ferry.events.dc2-pci.republish');
    expect(() => eventSubject('dc1.*', 'published')).toThrow(InvalidNameError);
  });

  it('image refs', () => {
    expect(parseImageRef('ubuntu@2026.11.21')).toEqual({ name: 'ubuntu', version: '2026.11.21' });
    expect(parseImageRef('ubuntu')).toEqual({ name: 'ubuntu' });
    expect(() => parseImageRef('ub untu@1')).toThrow(/invalid name "ub untu"/);
  });
});

describe('target selectors', () => {
  const site = { site: 'dc1-corp', zone: 'corporate', labels: { region: 'eu-west', tier: 'gold' } };
  it.each([
    ['*', true],
    ['dc1-corp', true],
    ['dc2-corp', false],
    ['zone:corporate', true],
    ['zone:pci', false],
    ['label:region=eu-west', true],
    ['label:region=us-east', false],
    ['label:missing=', false],
    ['label:toString=x', false],
  ])('%s → %s', (selector, expected) => {
    expect(selectorMatches(selector, site)).toBe(expected);
  });
});

describe('units', () => {
  it.each([
    ['30s', 30_000],
    ['5m', 300_000],
    ['1.5h', 5_400_000],
    ['250ms', 250],
    [1000, 1000],
    ['soon', undefined],
  ])('duration %j', (input, ms) => expect(parseDuration(input)).toBe(ms));
  it.each([
    ['200GiB', 200 * 2 ** 30],
    ['1.5GB', 1.5e9],
    ['512MiB', 512 * 2 ** 20],
    [42, 42],
    ['-1', undefined],
    ['lots', undefined],
  ])('size %j', (input, bytes) => expect(parseSize(input)).toBe(bytes));
});
