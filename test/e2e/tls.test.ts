import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectNats, createLogger, loadAgentConfig, MessagingError } from '@ferry/shared';
import { createAgentRuntime } from '@ferry/site-agent/internal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SiteWorld } from '../support/site-world.js';
import { makeTlsFiles, type TlsFiles } from '../support/tls.js';

let world: SiteWorld;
let tls: TlsFiles;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-tls-'));
  tls = await makeTlsFiles(dir);
  world = await SiteWorld.start([{ site: 'dc1' }], { natsTls: tls });
});
afterAll(async () => {
  await world?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('TLS: NATS with a private CA and client certificates, vCenter with its CA', () => {
  it('an agent with the CA and its client certificate imports over TLS', async () => {
    const config = await world.agentConfig('dc1');
    expect(config.nats.tls?.certFile).toBe(tls.clientCert);
    expect(config.vsphere.insecure).toBe(false);
    expect(config.vsphere.caFile).toBeTruthy();
    await world.startAgent('dc1');
    const m = await world.publish(await world.buildOva({ name: 'secure' }), { name: 'secure', version: '1' });
    await world.waitForStatus('dc1', m.name, m.version);
  });

  it('without a client certificate the server refuses the connection, with an error that says where', async () => {
    const err = await connectNats(
      { servers: [world.nats.url], tls: { caFile: tls.caFile, insecure: false } },
      { name: 'no-cert', reconnectForever: false, timeoutMs: 3_000 },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MessagingError);
    expect((err as Error).message).toContain(world.nats.url);
  });

  it('without the CA the server certificate is not trusted', async () => {
    const err = await connectNats(
      { servers: [world.nats.url], tls: { certFile: tls.clientCert, keyFile: tls.clientKey, insecure: false } },
      { name: 'no-ca', reconnectForever: false, timeoutMs: 3_000 },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MessagingError);
    expect((err as Error).message).toMatch(/certificate|self.signed|verify/i);
  });

  it('`insecure: true` logs a warning at every start', async () => {
    const file = world.configs.get('dc1')!;
    const { readFile, writeFile } = await import('node:fs/promises');
    const { parse, stringify } = await import('yaml');
    const cfg = parse(await readFile(file, 'utf8'));
    cfg.vsphere.insecure = true;
    delete cfg.vsphere.caFile;
    await writeFile(file, stringify(cfg));
    for (let start = 0; start < 2; start++) {
      const lines: Array<{ level: number; msg: string }> = [];
      const log = createLogger({ destination: { write: (m: string) => void lines.push(JSON.parse(m)) } });
      await createAgentRuntime(await loadAgentConfig(file), log);
      expect(lines.some((l) => l.level === 40 && /vsphere\.insecure is true/.test(l.msg))).toBe(true);
    }
  });
});
