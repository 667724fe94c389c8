/**
 * deploy/systemd/: `systemd-analyze verify` (systemd 252 here) finds nothing to say about the
 * units, and the keys ferry relies on are set: an instance per zone config, its state
 * directory, hardening, restart policy, and a stop timeout longer than the agent's grace.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAgentConfig } from '@ferry/shared';
import { describe, expect, it } from 'vitest';
import { withExampleSecrets } from './example-secrets.js';
import { DEPLOY_DIR } from './nats-deploy.js';

const UNITS = join(DEPLOY_DIR, 'systemd');

function hasSystemdAnalyze(): boolean {
  try {
    execFileSync('systemd-analyze', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** `[Section]` → key → values (a key may repeat). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    if (!current || eq < 0) throw new Error(`not a unit file line: ${line}`);
    const key = line.slice(0, eq);
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1)]);
  }
  return sections;
}

const HARDENING: Record<string, string> = {
  NoNewPrivileges: 'yes',
  ProtectSystem: 'strict',
  ProtectHome: 'yes',
  PrivateTmp: 'yes',
  PrivateDevices: 'yes',
  RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX',
  SystemCallFilter: '@system-service',
  CapabilityBoundingSet: '',
  RestrictSUIDSGID: 'yes',
  ProtectKernelTunables: 'yes',
  ProtectControlGroups: 'yes',
};

function seconds(value: string): number {
  const m = /^(\d+)(s|min)?$/.exec(value);
  if (!m) throw new Error(`unexpected time span ${value}`);
  return Number(m[1]) * (m[2] === 'min' ? 60 : 1);
}

describe('deploy/systemd units', () => {
  it.skipIf(!hasSystemdAnalyze())('systemd-analyze verify reports nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-units-'));
    try {
      for (const f of ['ferry-agent@.service', 'ferry-coordinator.service']) {
        writeFileSync(join(dir, f), readFileSync(join(UNITS, f)));
      }
      symlinkSync(join(dir, 'ferry-agent@.service'), join(dir, 'ferry-agent@dc1-corp.service'));
      const r = spawnSync(
        'systemd-analyze',
        ['verify', '--man=no', './ferry-agent@dc1-corp.service', './ferry-coordinator.service'],
        { cwd: dir, encoding: 'utf8' },
      );
      // Unknown keys and bad values are only warnings (exit 0): any output is a failure here.
      expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const file of ['ferry-agent@.service', 'ferry-coordinator.service']) {
    it(`${file}: non-root, hardened, restarts on failure, SIGTERM`, () => {
      const unit = parseUnit(readFileSync(join(UNITS, file), 'utf8'));
      const service = unit.get('Service')!;
      const one = (k: string) => service.get(k)?.at(-1);
      expect(one('User')).toBe('ferry');
      for (const [k, v] of Object.entries(HARDENING)) expect(one(k), `${file}: ${k}`).toBe(v);
      expect(one('Restart')).toBe('on-failure');
      expect(one('KillSignal')).toBe('SIGTERM');
      expect(unit.get('Install')?.get('WantedBy')).toEqual(['multi-user.target']);
      expect(one('ExecStart')).toMatch(/^\/usr\/bin\/node \/opt\/ferry\//);
    });
  }

  it('ferry-agent@: one instance per /etc/ferry/%i.yaml, cache in its StateDirectory, stop timeout above the grace', async () => {
    const unit = parseUnit(readFileSync(join(UNITS, 'ferry-agent@.service'), 'utf8'));
    const service = unit.get('Service')!;
    expect(service.get('ExecStart')![0]).toMatch(/ferry-agent\.js --config \/etc\/ferry\/%i\.yaml$/);
    expect(service.get('StateDirectory')).toEqual(['ferry/%i']);
    const timeoutStop = seconds(service.get('TimeoutStopSec')![0]!);
    // The example zone configs as this unit runs them.
    await withExampleSecrets(async (file, site) => {
      const config = await loadAgentConfig(file, {});
      expect(config.cache.dir.startsWith(`/var/lib/ferry/${site}/`), config.cache.dir).toBe(true);
      expect(timeoutStop * 1000).toBeGreaterThan(config.jobs.shutdownGraceMs + 10_000);
    });
  });
});
