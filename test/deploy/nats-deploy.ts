/**
 * Runs the NATS configs of deploy/nats/ as they are: a 3-node hub cluster and one leaf node per
 * site, on loopback. Rendering only swaps the operator's addresses and store dir for test ones
 * (each swap must find its text, so a template that drifts fails loudly) and feeds the
 * passwords through the environment variables the templates name.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../support/wait.js';
import { NATS_SERVER_BIN } from '../world/nats.js';
import { freePort, LOOPBACK } from '../world/ports.js';

export const DEPLOY_DIR = fileURLToPath(new URL('../../deploy/', import.meta.url));
export const NATS_DEPLOY_DIR = join(DEPLOY_DIR, 'nats');
export const EXAMPLE_SITES = ['dc1-corp', 'dc2-corp', 'dc2-pci'] as const;

/** Replaces each `from` (which must occur) with `to`. */
export function renderTemplate(text: string, file: string, swaps: Array<[string, string]>): string {
  let out = text;
  for (const [from, to] of swaps) {
    if (!out.includes(from)) throw new Error(`${file}: expected ${JSON.stringify(from)} in the template`);
    out = out.split(from).join(to);
  }
  return out;
}

/**
 * `sync_interval` arrived in nats-server 2.10; the 2.9.10 installed here refuses it. The test
 * checks the template has it, then drops that one line for this server.
 */
export const SYNC_INTERVAL_LINE = '  sync_interval: always\n';

export function envName(site: string): string {
  return site.toUpperCase().replaceAll('-', '_');
}

export interface DeployedServer {
  name: string;
  url: string;
  port: number;
  monitorUrl: string;
  /** Everything the server logged (up to 1 MB). */
  output(): string;
  stop(): Promise<void>;
}

export interface DeployedNats {
  hub: DeployedServer[];
  leaves: Record<string, DeployedServer>;
  passwords: { coordinator: string; agents: Record<string, string> };
  dir: string;
  stop(): Promise<void>;
}

function spawnServer(name: string, configFile: string, env: Record<string, string>): Promise<DeployedServer> {
  let tail = '';
  const proc: ChildProcess = spawn(NATS_SERVER_BIN, ['-c', configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
  });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${name} not ready:\n${tail}`));
    }, 20_000);
    const onData = (d: Buffer) => {
      tail = (tail + d.toString()).slice(-1_000_000);
      if (tail.includes('Server is ready')) {
        clearTimeout(timer);
        resolve({
          name,
          url: '',
          port: 0,
          monitorUrl: '',
          output: () => tail,
          stop: async () => {
            if (proc.exitCode === null && proc.signalCode === null) {
              proc.kill('SIGTERM');
              const t = setTimeout(() => proc.kill('SIGKILL'), 5_000);
              await exited;
              clearTimeout(t);
            }
          },
        });
      }
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}) before it was ready:\n${tail}`));
    });
  });
}

async function monitor(server: DeployedServer, path: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${server.monitorUrl}${path}`, { signal: AbortSignal.timeout(2_000) });
  return (await res.json()) as Record<string, unknown>;
}

/** The checks of cluster and leaf readiness: polled with the tests' one helper, errors tolerated while starting. */
function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<true> {
  return waitFor(() => check(), { what, timeoutMs, ignoreErrors: true }) as Promise<true>;
}

const secret = () => randomBytes(12).toString('base64url');

/**
 * nats-server parses an environment variable's value as a config value: a password that
 * starts with a digit fails ("Expected a digit"), a `$2a$…` bcrypt hash reads as a variable.
 * Operators give it as a quoted NATS string (docs/operations.md), and so do the tests.
 */
export const natsString = (value: string) => JSON.stringify(value);

/** Starts deploy/nats/hub.conf three times and deploy/nats/leaf-<site>.conf for each site. */
export async function startDeployedNats(sites: readonly string[] = EXAMPLE_SITES): Promise<DeployedNats> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-deploy-nats-'));
  const servers: DeployedServer[] = [];
  const stop = async () => {
    await Promise.allSettled(servers.map((s) => s.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const nodes = await Promise.all(
      [1, 2, 3].map(async (i) => ({
        name: `hub-${i}`,
        client: await freePort(),
        monitor: await freePort(),
        cluster: await freePort(),
        leaf: await freePort(),
      })),
    );
    const routePassword = secret();
    const passwords = {
      coordinator: secret(),
      agents: Object.fromEntries(sites.map((s) => [s, secret()])),
    };
    const leafPasswords = Object.fromEntries(sites.map((s) => [s, secret()]));
    const hubTemplate = await readFile(join(NATS_DEPLOY_DIR, 'hub.conf'), 'utf8');
    const hubEnv: Record<string, string> = {
      FERRY_NATS_ROUTE_PASSWORD: natsString(routePassword),
      FERRY_NATS_COORDINATOR_PASSWORD: natsString(passwords.coordinator),
    };
    // The template names every example site; sites a test leaves out still need a value.
    for (const s of EXAMPLE_SITES)
      hubEnv[`FERRY_NATS_LEAF_${envName(s)}_PASSWORD`] = natsString(leafPasswords[s] ?? secret());

    const hub = await Promise.all(
      nodes.map(async (n) => {
        const store = join(dir, n.name, 'jetstream');
        await mkdir(store, { recursive: true });
        const conf = renderTemplate(hubTemplate, 'deploy/nats/hub.conf', [
          [SYNC_INTERVAL_LINE, ''],
          ['listen: 0.0.0.0:4222', `listen: ${LOOPBACK}:${n.client}`],
          ['http: 127.0.0.1:8222', `http: ${LOOPBACK}:${n.monitor}`],
          ['"/var/lib/nats/jetstream"', JSON.stringify(store)],
          ['listen: 0.0.0.0:6222', `listen: ${LOOPBACK}:${n.cluster}`],
          ['listen: 0.0.0.0:7422', `listen: ${LOOPBACK}:${n.leaf}`],
        ]);
        const file = join(dir, `${n.name}.conf`);
        await writeFile(file, conf);
        const routes = nodes
          .filter((o) => o !== n)
          .map((o) => JSON.stringify(`nats-route://ferry-route:${routePassword}@${LOOPBACK}:${o.cluster}`));
        const server = await spawnServer(n.name, file, {
          ...hubEnv,
          FERRY_NATS_SERVER_NAME: n.name,
          FERRY_NATS_ROUTES: `[${routes.join(', ')}]`,
        });
        servers.push(server);
        Object.assign(server, { url: `nats://${LOOPBACK}:${n.client}`, port: n.client });
        server.monitorUrl = `http://${LOOPBACK}:${n.monitor}`;
        return server;
      }),
    );
    await waitUntil('a JetStream meta leader on the hub', async () => {
      for (const s of hub) {
        const meta = (await monitor(s, '/jsz')).meta_cluster as { leader?: string } | undefined;
        if (!meta?.leader) return false;
      }
      return true;
    });

    const leaves: Record<string, DeployedServer> = {};
    await Promise.all(
      sites.map(async (site) => {
        const template = await readFile(join(NATS_DEPLOY_DIR, `leaf-${site}.conf`), 'utf8');
        const client = await freePort();
        const mon = await freePort();
        const conf = renderTemplate(template, `deploy/nats/leaf-${site}.conf`, [
          ['listen: 0.0.0.0:4222', `listen: ${LOOPBACK}:${client}`],
          ['http: 127.0.0.1:8222', `http: ${LOOPBACK}:${mon}`],
        ]);
        const file = join(dir, `leaf-${site}.conf`);
        await writeFile(file, conf);
        const hubUrls = nodes.map((n) =>
          JSON.stringify(`nats-leaf://leaf-${site}:${leafPasswords[site]}@${LOOPBACK}:${n.leaf}`),
        );
        const server = await spawnServer(`leaf-${site}`, file, {
          FERRY_NATS_AGENT_PASSWORD: natsString(passwords.agents[site]!),
          FERRY_NATS_HUB_URLS: `[${hubUrls.join(', ')}]`,
        });
        servers.push(server);
        Object.assign(server, { url: `nats://${LOOPBACK}:${client}`, port: client });
        server.monitorUrl = `http://${LOOPBACK}:${mon}`;
        leaves[site] = server;
      }),
    );
    await waitUntil(`${sites.length} leaf node(s) linked to the hub`, async () => {
      let count = 0;
      for (const s of hub) count += Number((await monitor(s, '/leafz')).leafnodes ?? 0);
      return count >= sites.length;
    });
    return { hub, leaves, passwords, dir, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
