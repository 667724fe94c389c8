import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/processes.js';

describe('the demo (npm run demo)', () => {
  it('publishes one OVA to three sites in two zones, all ready, and exits 0', async () => {
    const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, ['node_modules/tsx/dist/cli.mjs', 'scripts/demo.ts', '--size', '16MiB'], {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      child.on('close', (c) => resolve({ code: c, out }));
    });
    expect(code, out).toBe(0);
    for (const site of ['dc1-corp', 'dc2-corp', 'dc2-pci']) {
      expect(out).toMatch(new RegExp(`${site}\\s+golden-images / ubuntu-2204-2026\\.11\\.21\\s+3 files`));
    }
    expect(out).toMatch(/ready everywhere/);
    expect(out).not.toMatch(/at .*\.ts:\d+/); // no stack traces
    expect(out).not.toMatch(/^\{"level"/m); // no JSON log dumps
  });
});
