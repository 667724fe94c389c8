import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/processes.js';

describe('the demo (npm run demo)', () => {
  it('publishes one OVA to five sites in two zones (one zone agent, two vCenters), all ready, and exits 0', async () => {
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
    expect(out).toMatch(/zone agent dc3-corp serves dc3-vc1 and dc3-vc2/);
    for (const site of ['dc1-corp', 'dc2-corp', 'dc2-pci', 'dc3-vc1', 'dc3-vc2']) {
      expect(out).toMatch(new RegExp(`${site}\\s+golden-images / ubuntu-22\\.04-2026\\.11\\.21\\s+3 files`));
    }
    expect(out).toMatch(/ready everywhere/);
    expect(out).not.toMatch(/at .*\.ts:\d+/); // no stack traces
    expect(out).not.toMatch(/^\{"level"/m); // no JSON log dumps
  });
});

describe('the demo, briefly', () => {
  const demo = (args: string[]) =>
    spawn(process.execPath, ['node_modules/tsx/dist/cli.mjs', 'scripts/demo.ts', ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });

  it('--help prints usage and starts nothing', async () => {
    const child = demo(['--help']);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    expect(out).toMatch(/^usage: npm run demo -- /);
    expect(out).toContain('--keep-files');
    expect(out).not.toContain('starting NATS');
  });

  it('SIGTERM stops everything and removes the work dir', async () => {
    const child = demo(['--size', '1MiB']);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const closed = new Promise((resolve) => child.on('close', resolve));
    const deadline = Date.now() + 60_000;
    while (!/starting the coordinator/.test(out)) {
      if (Date.now() > deadline) throw new Error(`the demo did not get going:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const dir = /work dir (\S+)/.exec(out)![1]!;
    expect(existsSync(dir)).toBe(true);
    child.kill('SIGTERM');
    expect(await closed).toBe(143);
    expect(existsSync(dir), out).toBe(false);
    expect(out).toContain('SIGTERM: stopping everything and removing the work dir');
  });
});
