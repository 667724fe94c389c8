import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadTrustedKeys, privateKeyModeProblem, writeKeyPair } from '@ferry/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let dir: string;
let pair: { privateKeyFile: string; publicKeyFile: string; keyId: string };
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-keys-'));
  pair = await writeKeyPair(join(dir, 'release'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('trusted keys', () => {
  it('loads a public key', async () => {
    const [key] = await loadTrustedKeys([pair.publicKeyFile]);
    expect(key?.keyId).toBe(pair.keyId);
  });

  it('refuses a PRIVATE key listed in trust.publicKeys, without printing it', async () => {
    const err = await loadTrustedKeys([pair.publicKeyFile, pair.privateKeyFile]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).key).toBe('trust.publicKeys');
    expect((err as Error).message).toMatch(/is a PRIVATE key: an agent trusts public keys only/);
    const pem = await readFile(pair.privateKeyFile, 'utf8');
    expect((err as Error).message).not.toContain(pem.split('\n')[1]);
  });
});

describe('private key file mode', () => {
  it('keygen writes the private key 0600', async () => {
    expect((await stat(pair.privateKeyFile)).mode & 0o777).toBe(0o600);
    expect(await privateKeyModeProblem(pair.privateKeyFile)).toBeUndefined();
  });

  it.each([0o640, 0o604, 0o644])('mode %o is a problem that says how to fix it', async (mode) => {
    await chmod(pair.privateKeyFile, mode);
    try {
      const problem = await privateKeyModeProblem(pair.privateKeyFile);
      expect(problem).toContain(`mode 0${mode.toString(8)}`);
      expect(problem).toContain(`chmod 600 ${pair.privateKeyFile}`);
    } finally {
      await chmod(pair.privateKeyFile, 0o600);
    }
  });

  it('a missing file is left to the loader to report', async () => {
    expect(await privateKeyModeProblem(join(dir, 'absent.key'))).toBeUndefined();
  });
});
