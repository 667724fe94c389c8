import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SiteWorld } from '../support/site-world.js';

let world: SiteWorld;
const marker = join(tmpdir(), `ferry-pwned-${process.pid}`);
const evil = `$(touch ${marker}); \`touch ${marker}\` && echo "x" | sh`;

beforeAll(async () => {
  world = await SiteWorld.start([{ site: 'dc1', vcsim: { username: `svc'${evil}@vsphere.local` } }]);
});
afterAll(async () => {
  await world?.stop();
});

describe('config values with shell metacharacters', () => {
  it('are taken literally: nothing runs, the library and cache get exactly those names', async () => {
    const cacheDir = join(world.dir, `cache dir; ${evil}`);
    await world.writeConfig('dc1', {
      library: `golden ${evil}`,
      extra: { cache: { dir: cacheDir, maxBytes: '1GiB' } },
    });
    const agent = await world.startAgent('dc1');
    const m = await world.publish(await world.buildOva({ name: 'plain' }), { name: 'plain', version: '1' });
    await world.waitForStatus('dc1', m.name, m.version);
    expect(await agent.rt.library.findLibraryByName(`golden ${evil}`)).toBeTruthy();
    expect(existsSync(join(cacheDir, `${m.sha256}.ova`))).toBe(true);
    expect(existsSync(marker)).toBe(false);
  });
});
