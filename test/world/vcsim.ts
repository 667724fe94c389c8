/**
 * The vCenter of the test world: govmomi's vcsim, started through ferry's launcher
 * (test/vcsim/main.go, built by scripts/bootstrap.sh) on a free loopback port, with its
 * datastore in a temp dir of the test. It serves the real Content Library REST API over
 * HTTPS with a self-signed certificate (use `insecure: true`, or `caFile` as the CA).
 *
 * All vcsim state lives in its memory: a restart keeps the URL (same port) but forgets
 * libraries, items and sessions.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const VCSIM_BINARY = fileURLToPath(new URL('../vcsim/vcsim', import.meta.url));

const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

export interface StartVcsimOptions {
  /** The only user the launcher's login check accepts (default ferry@vsphere.local). */
  username?: string;
  /** The only password it accepts (default: random). */
  password?: string;
  /** Expire idle REST sessions after this many ms (vcsim's SessionIdleTimeout; default never). */
  sessionIdleMs?: number;
}

export interface VcsimHandle {
  /** e.g. https://127.0.0.1:41947 (no path) */
  url: string;
  /** Datastore id to give a library's storage backing (`<dir>@folder-N` in vcsim). */
  datastoreId: string;
  /** Host directory of that datastore: libraries land in `contentlib-<library id>/<item id>/`. */
  datastorePath: string;
  /** PEM file of vcsim's self-signed certificate (valid for 127.0.0.1). */
  caFile: string;
  username: string;
  password: string;
  /** vcsim serves https with a self-signed certificate: clients need this (or `caFile`). */
  insecure: boolean;
  /** Temp dir of this vcsim (datastore, CA file); removed by stop(). */
  dir: string;
  pid: number;
  /** SIGTERM, wait for exit (SIGKILL after 10 s), remove the temp dir. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL right now, without waiting or cleaning up (stop() still cleans up after it). */
  kill(): void;
  /**
   * Stop vcsim (keeping the temp dir) and start a fresh one on the same port and credentials.
   * Updates this handle in place (url, datastoreId, datastorePath, pid) and returns it.
   * vcsim's state (libraries, items, sessions) does not survive.
   */
  restart(): Promise<VcsimHandle>;
  /**
   * Update sessions counted by the launcher itself (the source of truth for import concurrency):
   * open now, the most ever open at once, and created in all. `resetPeak` first sets peak to open.
   */
  updateSessions(opts?: { resetPeak?: boolean }): Promise<UpdateSessionCounts>;
}

export interface UpdateSessionCounts {
  open: number;
  peak: number;
  created: number;
}

interface ReadyLine {
  url: string;
  datastoreId: string;
  datastorePath: string;
  caFile: string;
}

interface Running {
  child: ChildProcess;
  exited: Promise<void>;
  ready: ReadyLine;
}

/** Start vcsim. Always `await handle.stop()` (e.g. in afterAll). */
export async function startVcsim(opts: StartVcsimOptions = {}): Promise<VcsimHandle> {
  if (!existsSync(VCSIM_BINARY)) {
    throw new Error(`vcsim launcher not built (${VCSIM_BINARY} is missing): run \`bash scripts/bootstrap.sh\``);
  }
  const username = opts.username ?? 'ferry@vsphere.local';
  const password = opts.password ?? randomBytes(12).toString('base64url');
  const dir = await mkdtemp(join(tmpdir(), 'ferry-vcsim-'));

  const args = (listen: string): string[] => {
    const a = ['-listen', listen, '-dir', dir, '-username', username, '-password', password];
    if (opts.sessionIdleMs !== undefined) a.push('-session-idle', `${opts.sessionIdleMs}ms`);
    return a;
  };

  let running: Running;
  try {
    running = await launch(args('127.0.0.1:0'));
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  let stopped = false;

  const handle: VcsimHandle = {
    url: running.ready.url,
    datastoreId: running.ready.datastoreId,
    datastorePath: running.ready.datastorePath,
    caFile: running.ready.caFile,
    username,
    password,
    insecure: true,
    dir,
    pid: running.child.pid ?? -1,
    async stop() {
      if (stopped) return;
      stopped = true;
      await terminate(running);
      await rm(dir, { recursive: true, force: true });
    },
    kill() {
      if (running.child.exitCode === null && running.child.signalCode === null) running.child.kill('SIGKILL');
    },
    async restart() {
      if (stopped) throw new Error('vcsim: restart() after stop()');
      await terminate(running);
      running = await launch(args(new URL(handle.url).host));
      handle.url = running.ready.url;
      handle.datastoreId = running.ready.datastoreId;
      handle.datastorePath = running.ready.datastorePath;
      handle.caFile = running.ready.caFile;
      handle.pid = running.child.pid ?? -1;
      return handle;
    },
    updateSessions: (o = {}) =>
      new Promise<UpdateSessionCounts>((resolve, reject) => {
        // vcsim's certificate is self-signed: trust exactly it.
        const req = httpsRequest(
          `${handle.url}/ferry-test/update-sessions`,
          { method: o.resetPeak ? 'DELETE' : 'GET', ca: readFileSync(handle.caFile) },
          (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => (body += d));
            res.on('end', () => {
              if (res.statusCode !== 200)
                reject(new Error(`vcsim update-session counts: HTTP ${res.statusCode} ${body}`));
              else resolve(JSON.parse(body) as UpdateSessionCounts);
            });
          },
        );
        req.on('error', reject);
        req.end();
      }),
  };
  return handle;
}

async function launch(args: string[]): Promise<Running> {
  const child = spawn(VCSIM_BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    // Keep the tail only: vcsim logs every 404 and decode error.
    stderr = (stderr + chunk).slice(-8192);
  });

  const ready = await new Promise<ReadyLine>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`vcsim did not become ready within ${READY_TIMEOUT_MS} ms; stderr:\n${stderr}`));
    }, READY_TIMEOUT_MS);
    const fail = (what: string) => {
      clearTimeout(timer);
      // Give stderr a moment to drain so the error shows why it died.
      setTimeout(() => reject(new Error(`vcsim ${what} before it was ready; stderr:\n${stderr}`)), 50);
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      fail(`exited (code ${code}, signal ${signal})`);
    child.once('error', (err) => fail(`failed to start (${err.message})`));
    child.once('exit', onExit);
    child.stdout?.setEncoding('utf8');
    const onData = (chunk: string) => {
      stdout += chunk;
      const nl = stdout.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      child.stdout?.off('data', onData);
      try {
        resolve(JSON.parse(stdout.slice(0, nl)) as ReadyLine);
      } catch (err) {
        child.kill('SIGKILL');
        reject(new Error(`vcsim printed an unexpected first line ${JSON.stringify(stdout.slice(0, nl))}: ${err}`));
      }
    };
    child.stdout?.on('data', onData);
  });
  // Nothing more is expected on stdout; keep draining so the pipe never fills.
  child.stdout?.resume();
  child.on('error', () => {}); // e.g. kill() racing exit; the exit itself is what matters
  // Never leave an orphaned vcsim behind when the test process exits without stop().
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  void exited.then(() => process.off('exit', killOnExit));
  return { child, exited, ready };
}

async function terminate({ child, exited }: Running): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}
