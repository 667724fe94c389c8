/** `ferry publish` warns when the signing key file can be read by group or others (real NATS and s3rver). */
import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOva } from '../../../test/world/ova.js';
import { startWorld, type World } from './world.js';

let world: World;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world?.stop();
});

describe('signing key permissions at publish', () => {
  it('warns (and still publishes) when group/others can read the key; quiet at 0600', async () => {
    const keyFile = join(world.dir, 'keys', 'release.key');
    const ova = await buildOva(world.dir, { name: 'perm', seed: 'perm' });

    await chmod(keyFile, 0o644);
    const loose = await world.ferry('publish', ova.path, '--name', 'perm', '--version', '1');
    expect(loose.code, loose.stderr).toBe(0);
    expect(loose.stderr).toContain(`ferry: warning: private key ${keyFile} has mode 0644`);
    expect(loose.stderr).toContain(`chmod 600 ${keyFile}`);
    expect(loose.stderr).not.toContain('PRIVATE KEY');

    await chmod(keyFile, 0o600);
    const tight = await world.ferry('publish', ova.path, '--name', 'perm', '--version', '2');
    expect(tight.code, tight.stderr).toBe(0);
    expect(tight.stderr).not.toContain('warning');
  });
});
