/**
 * ferry's main job in one command, on loopback: a NATS hub with one leaf node per
 * agent, s3rver as the image store, one vcsim (vCenter simulator) per site, the
 * coordinator and the agents as real processes: three single-site agents (dc1-corp,
 * dc2-corp, dc2-pci in two zones) and one zone agent (dc3-corp) serving two vCenters
 * (dc3-vc1, dc3-vc2) from one verified download. It builds
 * a sample OVA, publishes it with `ferry publish`, shows live progress per site, and
 * ends with `ferry status` and the item in each site's Content Library.
 *
 *   npm run demo                      # everything, then stops and cleans up
 *   npm run demo -- --keep            # leave it running and print what to try next
 *   npm run demo -- --size 64MiB      # a smaller OVA
 *   npm run demo -- --keep-files      # keep the work dir (configs, logs, cache) after it stops
 *   npm run demo -- --help
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  formatBytes,
  formatDuration,
  openTopology,
  parseStatusRecord,
  type StatusRecord,
  statusKey,
} from '@ferry/shared';
import { ContentLibraryClient } from '@ferry/site-agent';
import { connect } from '@nats-io/transport-node';
import { stringify } from 'yaml';
import { FERRY_AGENT_BIN, FERRY_BIN } from '../test/support/processes.js';
import { startHubWithLeaves } from '../test/world/nats.js';
import { buildOva } from '../test/world/ova.js';
import { freePort } from '../test/world/ports.js';
import { startS3 } from '../test/world/s3.js';
import { startVcsim, type VcsimHandle } from '../test/world/vcsim.js';
import { parseDemoArgs } from './demo-args.js';
import { type DemoAgent, type DemoSite, demoAgents, writeDemoAgentConfig } from './demo-configs.js';

const SITES: readonly DemoSite[] = [
  { site: 'dc1-corp', zone: 'corporate', labels: { region: 'eu-west' }, agent: 'dc1-corp' },
  { site: 'dc2-corp', zone: 'corporate', labels: { region: 'us-east' }, agent: 'dc2-corp' },
  { site: 'dc2-pci', zone: 'pci', labels: { region: 'us-east' }, agent: 'dc2-pci' },
  // One zone agent, two vCenters: the image is downloaded once and imported into both.
  { site: 'dc3-vc1', zone: 'corporate', labels: { region: 'eu-central' }, agent: 'dc3-corp' },
  { site: 'dc3-vc2', zone: 'corporate', labels: { region: 'eu-central' }, agent: 'dc3-corp' },
];
const AGENTS = demoAgents(SITES);
const IMAGE = { name: 'ubuntu-22.04', version: '2026.11.21' };
const TIMEOUT_MS = 170_000;

const { keep, keepFiles, diskSize } = parseDemoArgs(process.argv.slice(2));

const tty = process.stdout.isTTY === true;
const bold = (s: string) => (tty ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s: string) => (tty ? `\x1b[2m${s}\x1b[0m` : s);
const green = (s: string) => (tty ? `\x1b[32m${s}\x1b[0m` : s);
const red = (s: string) => (tty ? `\x1b[31m${s}\x1b[0m` : s);
const say = (line = '') => process.stdout.write(`${line}\n`);
const step = (line: string) => say(`${bold('==>')} ${line}`);

const children: Array<{ name: string; child: ChildProcess }> = [];
const cleanups: Array<() => Promise<unknown>> = [];

/** Set once a signal started the shutdown: main() must not start new processes behind its back. */
let stopping = false;

function startProcess(name: string, bin: string, argv: string[], logDir: string): ChildProcess {
  if (stopping) throw new Error('stopping');
  const log = createWriteStream(join(logDir, `${name}.log`));
  const child = spawn(process.execPath, [bin, ...argv], {
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  children.push({ name, child });
  return child;
}

/** Runs the `ferry` CLI to completion and shows its output indented. */
function ferry(argv: string[], show = true): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [FERRY_BIN, ...argv], {
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const onData = (d: Buffer) => {
      out += d;
      if (show) process.stdout.write(d.toString().replace(/^(?=.)/gm, '    '));
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('close', (code) => resolve({ code, out }));
  });
}

async function waitHttp(url: string, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${what} did not become ready at ${url}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

let shuttingDown: Promise<void> | undefined;

/** Stops every process and runs the cleanups once, however many ways out ask for it at once. */
function shutdown(): Promise<void> {
  shuttingDown ??= stopAll();
  return shuttingDown;
}

async function stopAll(): Promise<void> {
  for (const { child } of children) if (child.exitCode === null) child.kill('SIGTERM');
  await Promise.all(
    children.map(
      ({ child }) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null) return resolve();
          const t = setTimeout(() => {
            child.kill('SIGKILL');
            resolve();
          }, 10_000);
          child.on('exit', () => {
            clearTimeout(t);
            resolve();
          });
        }),
    ),
  );
  for (const c of cleanups.reverse()) {
    await c().catch((err: Error) => process.stderr.write(`demo: cleanup step failed: ${err.message}\n`));
  }
}

function bar(done: number, total: number, width = 24): string {
  const frac = total > 0 ? Math.min(1, done / total) : 0;
  const full = Math.round(frac * width);
  return `${'█'.repeat(full)}${'░'.repeat(width - full)}`;
}

function progressLine(site: string, agent: string, r: StatusRecord | undefined): string {
  const state = r?.state ?? 'waiting';
  const pct = r && r.bytesTotal > 0 ? Math.floor((r.bytesDone / r.bytesTotal) * 100) : 0;
  const coloured =
    state === 'ready' ? green(state.padEnd(11)) : state === 'failed' ? red(state.padEnd(11)) : state.padEnd(11);
  const bytes = r && r.bytesTotal > 0 ? `${formatBytes(r.bytesDone)} / ${formatBytes(r.bytesTotal)}` : '';
  const err = r?.state === 'failed' && r.error ? `  ${red(r.error.message)}` : '';
  return `  ${site.padEnd(10)} ${dim(agent.padEnd(10))} ${coloured} ${bar(r?.bytesDone ?? 0, r?.bytesTotal ?? 0)} ${String(pct).padStart(3)}%  ${bytes}${err}`;
}

async function main(): Promise<void> {
  const started = Date.now();
  const dir = await mkdtemp(join(tmpdir(), 'ferry-demo-'));
  const logDir = join(dir, 'logs');
  await mkdir(logDir);
  // Removed last (cleanups run in reverse), on every way out, unless --keep-files.
  if (!keepFiles) cleanups.push(() => rm(dir, { recursive: true, force: true }));

  say(bold('ferry demo: one OVA, five sites in two zones (one zone agent serves two vCenters), all on loopback'));
  say(
    dim(
      `  work dir ${dir} (process logs in ${logDir}; ${keepFiles ? 'kept' : 'removed at the end, --keep-files keeps it'})`,
    ),
  );
  say();

  step('starting NATS (a hub with JetStream and one leaf node per agent), s3rver and one vcsim per site');
  const nats = await startHubWithLeaves(AGENTS.map((a) => a.agent));
  cleanups.push(() => nats.stop());
  const s3 = await startS3();
  cleanups.push(() => s3.destroy());
  const vcsims: Record<string, VcsimHandle> = {};
  for (const s of SITES) {
    vcsims[s.site] = await startVcsim();
    cleanups.push(() => vcsims[s.site]!.stop());
  }
  say(
    `    NATS hub ${nats.hub.url}; leaves ${AGENTS.map((a) => `${a.agent} ${nats.leaves[a.agent]!.url}`).join(', ')}`,
  );
  say(`    S3 ${s3.endpoint} bucket ${s3.bucket}; vCenters ${SITES.map((s) => vcsims[s.site]!.url).join(', ')}`);

  step('creating a signing key (ferry keygen)');
  const keygen = await ferry(['keygen', '--out', join(dir, 'keys', 'release')]);
  if (keygen.code !== 0) throw new Error('ferry keygen failed');

  // Configs: secrets in files next to them, as in production.
  await writeFile(join(dir, 's3.id'), s3.accessKeyId, { mode: 0o600 });
  await writeFile(join(dir, 's3.secret'), s3.secretAccessKey, { mode: 0o600 });
  const store = {
    type: 's3',
    endpoint: s3.endpoint,
    bucket: s3.bucket,
    region: s3.region,
    forcePathStyle: true,
    accessKeyIdFile: 's3.id',
    secretAccessKeyFile: 's3.secret',
  };
  const coordPort = await freePort();
  const coordConfig = join(dir, 'coordinator.yaml');
  await writeFile(
    coordConfig,
    stringify({
      nats: { servers: [nats.hub.url] },
      store,
      signing: { privateKeyFile: 'keys/release.key' },
      discovery: { schedule: '*/5 * * * *' },
      http: { listen: `127.0.0.1:${coordPort}` },
    }),
  );
  const agents: DemoAgent[] = [];
  for (const a of AGENTS) {
    agents.push(await writeDemoAgentConfig(dir, a, { natsUrl: nats.leaves[a.agent]!.url, store, vcsims }));
  }

  step('starting the coordinator, three site agents and one zone agent');
  startProcess('coordinator', FERRY_BIN, ['coordinator', '--config', coordConfig], logDir);
  await waitHttp(`http://127.0.0.1:${coordPort}/healthz`, 'the coordinator');
  for (const a of agents) startProcess(`agent-${a.agent}`, FERRY_AGENT_BIN, ['--config', a.config], logDir);
  for (const a of agents) await waitHttp(`${a.url}/readyz`, `agent ${a.agent}`);
  say(`    coordinator http://127.0.0.1:${coordPort}/ ; agents ${agents.map((a) => `${a.agent} ${a.url}`).join(', ')}`);
  const zone = agents.find((a) => a.sites.length > 1)!;
  say(`    zone agent ${zone.agent} serves ${zone.sites.map((s) => s.site).join(' and ')}: one download, two imports`);

  step(`building a sample OVA (OVF descriptor, .mf with SHA256 lines, one ${formatBytes(diskSize)} disk)`);
  const ovaDir = join(dir, 'ova');
  await mkdir(ovaDir);
  const ova = await buildOva(ovaDir, { name: 'ubuntu', diskSize });
  say(`    ${ova.path}  ${formatBytes(ova.size)}  sha256 ${ova.sha256.slice(0, 16)}…`);

  step(`publishing it: ferry publish ubuntu.ova --name ${IMAGE.name} --version ${IMAGE.version}`);
  const publishedAt = Date.now();
  const pub = await ferry([
    'publish',
    ova.path,
    '--name',
    IMAGE.name,
    '--version',
    IMAGE.version,
    '--config',
    coordConfig,
  ]);
  if (pub.code !== 0) throw new Error('ferry publish failed');

  step('each agent downloads from its zone store, verifies SHA-256, imports into its Content Libraries');
  const nc = await connect({ servers: nats.hub.url });
  cleanups.push(() => nc.close());
  const { status } = await openTopology(nc);
  const readyAt: Record<string, number> = {};
  let drawn = 0;
  let lastPrinted = '';
  for (;;) {
    const records = await Promise.all(
      SITES.map(async (s) => {
        const e = await status.get(statusKey(s.site, IMAGE.name, IMAGE.version));
        return e && e.operation === 'PUT' && e.length > 0 ? parseStatusRecord(e.json()) : undefined;
      }),
    );
    const lines = SITES.map((s, i) => progressLine(s.site, s.agent, records[i]));
    if (tty) {
      if (drawn) process.stdout.write(`\x1b[${drawn}A`);
      for (const l of lines) process.stdout.write(`\x1b[2K${l}\n`);
      drawn = lines.length;
    } else {
      // Without a terminal: a line per site when its state or its quarter changes.
      const key = records
        .map((r) => `${r?.state}:${r?.bytesTotal ? Math.floor((4 * r.bytesDone) / r.bytesTotal) : 0}`)
        .join();
      if (key !== lastPrinted) for (const l of lines) say(l);
      if (key !== lastPrinted) say();
      lastPrinted = key;
    }
    records.forEach((r, i) => {
      if (r?.state === 'ready') readyAt[SITES[i]!.site] ??= Date.now();
    });
    const failed = records.find((r) => r?.state === 'failed' && !r.retryAt);
    if (failed) throw new Error(`${failed.site} failed: ${failed.error?.code} ${failed.error?.message}`);
    if (records.every((r) => r?.state === 'ready')) break;
    if (Date.now() - publishedAt > TIMEOUT_MS) throw new Error('not every site was ready in time');
    await new Promise((r) => setTimeout(r, 250));
  }
  say();
  say(
    `    ready everywhere ${formatDuration(Date.now() - publishedAt)} after publish (${SITES.map((s) => `${s.site} ${formatDuration(readyAt[s.site]! - publishedAt)}`).join(', ')})`,
  );

  step('ferry status');
  await ferry(['status', '--config', coordConfig]);

  step('the item in each site’s Content Library (read back from each vCenter)');
  for (const s of SITES) {
    const vc = vcsims[s.site]!;
    const lib = new ContentLibraryClient({
      url: vc.url,
      username: vc.username,
      password: vc.password,
      insecure: true,
      keepAliveMs: 0,
    });
    const libraryId = await lib.findLibraryByName('golden-images');
    const items = libraryId ? await lib.listItems(libraryId) : [];
    for (const item of items) {
      const files = await lib.listFiles(item.id);
      const bytes = files.reduce((sum, f) => sum + f.size, 0);
      say(
        `    ${s.site.padEnd(10)} golden-images / ${bold(item.name)}  ${files.length} files, ${formatBytes(bytes)}  (item ${item.id})`,
      );
    }
    // The session ends with vcsim anyway; a failed logout only costs a note.
    await lib.logout().catch((err: Error) => say(dim(`    (logout from ${s.site} failed: ${err.message})`)));
  }
  say();
  say(green(`done in ${formatDuration(Date.now() - started)}`));

  if (keep) {
    say();
    say(bold('still running (--keep). Try:'));
    say(`  web page          http://127.0.0.1:${coordPort}/`);
    say(`  watch             FERRY_CONFIG=${coordConfig} pnpm exec ferry status --watch`);
    say(
      `  republish         FERRY_CONFIG=${coordConfig} pnpm exec ferry republish ${IMAGE.name}@${IMAGE.version} --force`,
    );
    say(
      `  one site only     FERRY_CONFIG=${coordConfig} pnpm exec ferry republish ${IMAGE.name}@${IMAGE.version} --site dc2-pci --force`,
    );
    const coordinator = children.find((c) => c.name === 'coordinator')!;
    say(
      `  stop the coordinator  kill ${coordinator.child.pid}   (the web page goes; agents keep importing; ferry status still answers from NATS)`,
    );
    const agent = children.find((c) => c.name === 'agent-dc2-pci')!;
    say(`  stop an agent     kill ${agent.child.pid}   (dc2-pci turns stale in ferry sites / status after 60 s)`);
    say(
      `  restart it        pnpm exec ferry-agent --config ${agents.find((a) => a.agent === 'dc2-pci')!.config} 2>>${join(logDir, 'agent-dc2-pci.log')} &`,
    );
    say(dim('                    (an agent you restart yourself is not stopped by Ctrl-C: kill it when done)'));
    say(`  agent metrics     ${agents[0]!.url}/metrics   (zone agent: ${zone.url}/metrics)`);
    say(`  logs              ${logDir}`);
    say(`Press Ctrl-C to stop everything${keepFiles ? '' : ' and remove the work dir'}.`);
    await new Promise<void>((resolve) => {
      stopWaiting = resolve;
    });
  }
}

/** Set while `--keep` waits: Ctrl-C or SIGTERM then ends the wait and main() stops everything. */
let stopWaiting: (() => void) | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    if (stopWaiting) return stopWaiting();
    say();
    stopping = true;
    step(`${signal}: stopping everything${keepFiles ? '' : ' and removing the work dir'}`);
    void shutdown().then(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}

main()
  .then(async () => {
    step('stopping everything');
    await shutdown();
    process.exit(0);
  })
  .catch(async (err: Error) => {
    // A signal is stopping everything: what failed in main() since is a consequence, not news.
    if (stopping) return;
    process.stderr.write(`\n${red('demo failed:')} ${err.message}\n`);
    for (const { name } of children) process.stderr.write(`  log of ${name}: see the work dir's logs/${name}.log\n`);
    keep || (await shutdown());
    process.exit(1);
  });
