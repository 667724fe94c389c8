import { isSecretKeyName, redactSecrets } from '@ferry/shared';
import { describe, expect, it } from 'vitest';

describe('secret key names', () => {
  it.each([
    'password',
    'passwd',
    'pasword',
    'pass',
    'pwd',
    'nats_pw',
    'secret',
    'secretAccessKey',
    'scret',
    'token',
    'tokn',
    'apiKey',
    'privateKeyFile',
    'credentials',
    'authorization',
    'cookie',
    'signature',
  ])('%s is secret-like', (key) => expect(isSecretKeyName(key)).toBe(true));

  it.each(['url', 'username', 'library', 'datastore', 'servers', 'name', 'version', 'dir', 'maxBytes'])(
    '%s is not',
    (key) => expect(isSecretKeyName(key)).toBe(false),
  );
});

describe('redactSecrets', () => {
  it.each([
    ['a scalar', 'plain', 'plain'],
    ['a URL with user info', 'nats://u:pw@h:4222', 'nats://[hidden]@h:4222'],
    ['a flat object', { url: 'x', passwd: 's' }, { url: 'x', passwd: '[hidden]' }],
    ['nested', { a: { b: { pasword: 's', c: 1 } } }, { a: { b: { pasword: '[hidden]', c: 1 } } }],
    ['in arrays', [{ tokn: 's' }, 'ok'], [{ tokn: '[hidden]' }, 'ok']],
    ['an object under a secret key', { creds: { user: 'u' } }, { creds: '[hidden]' }],
    ['null', null, null],
  ])('%s', (_what, input, expected) => expect(redactSecrets(input)).toEqual(expected));
});
