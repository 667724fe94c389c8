import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/wait.js';
import { startVcsim, type VcsimHandle } from './vcsim.js';

/** A tiny HTTPS client that trusts vcsim's certificate through its caFile (no `insecure`). */
function call(
  vc: VcsimHandle,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, vc.url), { method, headers, ca: readFileSync(vc.caFile) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const basic = (u: string, p: string) => ({ authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` });

describe('vcsim test world', () => {
  let vc: VcsimHandle;

  beforeAll(async () => {
    vc = await startVcsim();
  });
  afterAll(async () => {
    await vc?.stop();
  });

  it('reports a https URL, the datastore id and its directory inside the temp dir', () => {
    expect(vc.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(vc.insecure).toBe(true);
    expect(vc.datastoreId).toContain('@');
    expect(vc.datastoreId.split('@')[0]).toBe(vc.datastorePath);
    expect(vc.datastorePath.startsWith(vc.dir)).toBe(true);
    expect(existsSync(vc.datastorePath)).toBe(true);
    expect(existsSync(vc.caFile)).toBe(true);
    expect(vc.pid).toBeGreaterThan(0);
  });

  it('accepts only the configured credentials on the REST login', async () => {
    const ok = await call(vc, 'POST', '/rest/com/vmware/cis/session', {
      ...basic(vc.username, vc.password),
      'vmware-use-header-authn': 'true',
    });
    expect(ok.status).toBe(200);
    const sid = (JSON.parse(ok.body) as { value: string }).value;
    expect(sid).toMatch(/^[0-9a-f-]{36}$/);

    const bad = await call(vc, 'POST', '/rest/com/vmware/cis/session', basic(vc.username, `${vc.password}x`));
    expect(bad.status).toBe(401);
    const otherUser = await call(vc, 'POST', '/rest/com/vmware/cis/session', basic('someone', vc.password));
    expect(otherUser.status).toBe(401);

    // The session works, and after DELETE it is gone (the 401 a long upload must survive).
    const auth = { 'vmware-api-session-id': sid };
    expect((await call(vc, 'GET', '/rest/com/vmware/content/library', auth)).status).toBe(200);
    expect((await call(vc, 'DELETE', '/rest/com/vmware/cis/session', auth)).status).toBe(200);
    expect((await call(vc, 'GET', '/rest/com/vmware/content/library', auth)).status).toBe(401);
  });

  it('restarts on the same URL with fresh state, and stop() removes the temp dir', async () => {
    const other = await startVcsim({ username: 'admin', password: 'secret' });
    try {
      const { url, pid } = other;
      const restarted = await other.restart();
      expect(restarted).toBe(other);
      expect(other.url).toBe(url);
      expect(other.pid).not.toBe(pid);
      const login = await call(other, 'POST', '/rest/com/vmware/cis/session', basic('admin', 'secret'));
      expect(login.status).toBe(200);
    } finally {
      await other.stop();
    }
    expect(existsSync(other.dir)).toBe(false);
    await other.stop(); // idempotent
  });

  it('kill() ends the process at once; stop() still cleans up', async () => {
    const other = await startVcsim();
    other.kill();
    await waitFor(() => !alive(other.pid), { what: 'the killed vcsim to be gone', timeoutMs: 2_000, intervalMs: 20 });
    await expect(call(other, 'GET', '/rest/com/vmware/cis/session')).rejects.toThrow();
    await other.stop();
    expect(existsSync(other.dir)).toBe(false);
  });
});
