import {
  catalogKey,
  decodeKeyPart,
  encodeKeyPart,
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
    ['ubuntu-22_04', '2026.11.21', 'ubuntu-22_04.2026=2E11=2E21'],
    ['win2022', 'v1', 'win2022.v1'],
    ['ubuntu-22.04', '22.04.5', 'ubuntu-22=2E04.22=2E04=2E5'],
    ['rhel-9.4', '2026.12.01', 'rhel-9=2E4.2026=2E12=2E01'],
    ['win_2022', '1.2.3+build.7', 'win_2022.1=2E2=2E3=2Bbuild=2E7'],
    ['9', 'a+b-c_d', '9.a=2Bb-c_d'],
  ])('catalog key of %s@%s is %s and reverses', (name, version, key) => {
    expect(catalogKey(name, version)).toBe(key);
    expect(parseCatalogKey(key)).toEqual({ name, version });
  });

  it.each([
    ['', ''],
    ['ubuntu', 'ubuntu'],
    ['a.b', 'a=2Eb'],
    ['a+b', 'a=2Bb'],
    ['1.2.3+build.7', '1=2E2=2E3=2Bbuild=2E7'],
    ['a-_b', 'a-_b'],
  ])('encodeKeyPart(%j) = %j', (plain, token) => {
    expect(encodeKeyPart(plain)).toBe(token);
    if (plain) expect(decodeKeyPart(token)).toBe(plain);
  });

  it.each([
    ['a.b', 'a raw dot is a token separator, never inside a part'],
    ['a=3Db', 'an escape ferry never writes'],
    ['a=2eb', 'escapes are upper case'],
    ['a=', 'a dangling ='],
    ['_reconcile', 'names never start with _'],
    ['_control', 'names never start with _'],
    ['a=2E=2Eb', '".." is not a name'],
    ['a=2E', 'a name never ends in "."'],
  ])('decodeKeyPart(%j) is undefined: %s', (token) => {
    expect(decodeKeyPart(token)).toBeUndefined();
  });

  it.each([
    ['ubuntu 22', '1'],
    ['ubuntu/22', '1'],
    ['.ubuntu', '1'],
    ['_ubuntu', '1'],
    ['-ubuntu', '1'],
    ['ubuntu.', '1'],
    ['ubuntu..22', '1'],
    ['ub=untu', '1'],
    ['ub@untu', '1'],
    ['a'.repeat(129), '1'],
    ['ok', '../1'],
    ['ok', '1.'],
    ['ok', '.1'],
    ['ok', '1..2'],
    ['ok', '*'],
    ['ok', '1=2'],
    ['ok', '+1'],
    ['', '1'],
    ['ok', ''],
  ])('rejects %j @ %j with the rule', (name, version) => {
    expect(() => catalogKey(name, version)).toThrow(InvalidNameError);
    expect(() => catalogKey(name, version)).toThrow(/starting with a letter or digit/);
  });

  it('accepts 128 characters', () => {
    const long = `a${'.b'.repeat(63)}c`;
    expect(long).toHaveLength(128);
    expect(parseCatalogKey(catalogKey(long, long))).toEqual({ name: long, version: long });
  });

  it.each([
    ['dc1', 'ubuntu', '1.2.3'],
    ['dc2-pci', 'ubuntu-22.04', '22.04.5'],
    ['site_3', 'win_2022', '1.2.3+build.7'],
  ])('status key of %s %s@%s reverses', (site, name, version) => {
    const key = statusKey(site, name, version);
    expect(key.split('.')).toHaveLength(3);
    expect(key.startsWith(`${site}.`)).toBe(true);
    expect(parseStatusKey(key)).toEqual({ site, name, version });
  });

  it.each([
    'dc1._reconcile',
    'dc1._control',
    'dc1.ubuntu',
    'dc1.ubuntu.1.2',
    'dc1._reconcile.x',
    'dc1.ub=3Du.1',
    '.ubuntu.1',
  ])('status key %j is not an image record', (key) => {
    expect(parseStatusKey(key)).toBeUndefined();
  });

  it.each(['ubuntu', 'ubuntu.1.2', 'ubuntu.', '.1', 'a._b'])('catalog key %j is not an image', (key) => {
    expect(parseCatalogKey(key)).toBeUndefined();
  });

  it('site ids stay without dots and "all" stays reserved', () => {
    expect(() => statusKey('dc1.x', 'ubuntu', '1')).toThrow(InvalidNameError);
    expect(() => statusKey('all', 'ubuntu', '1')).toThrow(/"all" is reserved/);
  });

  it('subjects', () => {
    expect(eventSubject('all', 'published')).toBe('ferry.events.all.published');
    expect(eventSubject('dc2-pci', 'republish')).toBe('ferry.events.dc2-pci.republish');
    expect(() => eventSubject('dc1.*', 'published')).toThrow(InvalidNameError);
  });

  it('image refs', () => {
    expect(parseImageRef('ubuntu@2026.11.21')).toEqual({ name: 'ubuntu', version: '2026.11.21' });
    expect(parseImageRef('ubuntu-22.04@22.04.5')).toEqual({ name: 'ubuntu-22.04', version: '22.04.5' });
    expect(parseImageRef('win_2022@1.2.3+build.7')).toEqual({ name: 'win_2022', version: '1.2.3+build.7' });
    expect(parseImageRef('ubuntu')).toEqual({ name: 'ubuntu' });
    expect(() => parseImageRef('ub untu@1')).toThrow(/invalid name "ub untu"/);
    expect(() => parseImageRef('ubuntu@1@2')).toThrow(/invalid version "1@2"/);
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
