/**
 * Shared helpers of the benchmarks: timing, child processes (never through a shell), the S3
 * server in its own process, /proc readings, and the machine and tool versions for the report.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { S3Handle } from '../test/world/s3.js';

export const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
export const MiB = 2 ** 20;
export const GiB = 2 ** 30;

const execFileP = promisify(execFile);

/** Environment for child processes: no SDK warning, and no AWS_CA_BUNDLE (rclone refuses it on http). */
export function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
  delete env['AWS_CA_BUNDLE'];
  return { ...env, ...extra };
}

export function now(): number {
  return performance.now();
}

/** Wall clock in ms with sub-ms precision, comparable across processes on this machine. */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Nearest-rank percentile (p in 0..100). */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length)));
  return s[rank - 1]!;
}

export const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;
export const mibPerSec = (bytes: number, ms: number): number => bytes / MiB / (ms / 1000);

export function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

/** One warm-up run (not kept), then `n` timed runs; `fn` returns the time it measured in ms. */
export async function repeat(n: number, fn: (run: number) => Promise<number>, warmup = true): Promise<number[]> {
  if (warmup) await fn(-1);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await fn(i));
  return out;
}

/**
 * Like `repeat` for several tools at once, taking turns: one warm-up round, then `n` rounds of
 * each tool in order. On this VM a write into file pages not used before is ~10× slower than into
 * pages just freed, so runs one tool after the other favour whichever comes after a delete.
 */
export async function interleave<K extends string>(
  n: number,
  tools: Record<K, (run: number) => Promise<number>>,
  /** Runs before every run of every tool, not timed (the page cache as each run starts). */
  before: () => Promise<void> = async () => {},
): Promise<Record<K, number[]>> {
  const names = Object.keys(tools) as K[];
  const out = Object.fromEntries(names.map((k) => [k, [] as number[]])) as Record<K, number[]>;
  const once = async (k: K, i: number) => {
    await before();
    return tools[k](i);
  };
  for (const k of names) await once(k, -1);
  for (let i = 0; i < n; i++) for (const k of names) out[k].push(await once(k, i));
  return out;
}

/**
 * Why the bench manages the page cache, for the methods of the scenarios that write a GiB (measured
 * with `dd` alone, 1 GiB files back to back, in the first and seventh sessions).
 */
export const PAGE_CACHE_COST =
  'On this VM a GiB written into the page cache costs 0.2–0.35 s of system time while the guest has about as much memory it freed just before, and 8–17 s after that (`dd` alone, 256 KiB to 1 MiB writes alike), and nothing frees cached pages while memory is free.';

/**
 * Drops the files of the bench's servers and runs (every `ferry-*` dir in the temp dir) from the
 * page cache, all but those under `keep`: `dd iflag=nocache count=0` per file of 1 MiB or more, which
 * is posix_fadvise(DONTNEED) of the whole file. Why: `PAGE_CACHE_COST`; without this a run's
 * speed depended on what the runs before it had left cached. Dirty pages are not dropped: `flush`
 * runs `sync` first.
 */
export async function dropPageCache(opts: { keep?: readonly string[]; flush?: boolean } = {}): Promise<void> {
  if (opts.flush) await run('sync', []);
  const keep = opts.keep ?? [];
  const files: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    // A dir or file removed by a server meanwhile (vcsim, s3rver) has nothing left to drop.
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const p = join(dir, e.name);
      if (keep.some((k) => p === k || p.startsWith(`${k}/`))) continue;
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && ((await stat(p).catch(() => undefined))?.size ?? 0) >= MiB) files.push(p);
    }
  };
  for (const e of await readdir(tmpdir(), { withFileTypes: true })) {
    if (e.isDirectory() && e.name.startsWith('ferry-')) await walk(join(tmpdir(), e.name));
  }
  await dropFromPageCache(files);
}

/** `dropPageCache` for the given files only (their clean pages). */
export async function dropFromPageCache(files: readonly string[]): Promise<void> {
  // A file deleted since it was listed is not an error: there is nothing left to drop.
  for (const f of files) await run('dd', [`if=${f}`, 'iflag=nocache', 'count=0', 'status=none']).catch(() => undefined);
}

export async function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<{ stdout: string; stderr: string }> {
  return execFileP(cmd, args, {
    env: opts.env ?? childEnv(),
    cwd: opts.cwd,
    timeout: opts.timeoutMs ?? 600_000,
    maxBuffer: 16 * MiB,
  });
}

/** Resolves when the child exits; rejects on a non-zero exit with its stderr tail. */
export function exited(child: ChildProcess, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr?.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-4000);
    });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${what} exited with ${code ?? signal}: ${err.trim()}`));
    });
  });
}

/** CPU seconds (user + system, all threads) a process has used so far; 0 when it is gone. */
export async function procCpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / 100;
}

/** Reads a field in kB (VmRSS, VmHWM) of /proc/<pid>/status as bytes; 0 when the process is gone. */
export async function procStatusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = new RegExp(`${field}:\\s+(\\d+) kB`).exec(text)?.[1];
  return kb ? Number(kb) * 1024 : 0;
}

/** A child started by the benchmark: stopped with SIGTERM (SIGKILL after 10 s). */
export interface ChildHandle {
  child: ChildProcess;
  stop(): Promise<void>;
}

export function stopChild(child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Starts a TypeScript file of bench/ as its own node process (tsx loader); resolves on its first stdout line. */
export async function startTsProcess(
  file: string,
  args: string[] = [],
): Promise<{ child: ChildProcess; firstLine: string; lines: AsyncIterable<string> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench', file), ...args], {
    cwd: REPO_ROOT,
    env: childEnv(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  process.once('exit', () => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-8000);
  });
  child.stdout!.setEncoding('utf8');
  const queue: string[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  let buf = '';
  child.stdout!.on('data', (d: string) => {
    buf += d;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      queue.push(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
    wake?.();
  });
  child.once('exit', () => {
    ended = true;
    wake?.();
  });
  const lines: AsyncIterable<string> = {
    async *[Symbol.asyncIterator]() {
      for (;;) {
        while (queue.length) yield queue.shift()!;
        if (ended) {
          if (child.exitCode !== 0 && child.exitCode !== null) {
            throw new Error(`${file} exited with ${child.exitCode}: ${stderr.trim()}`);
          }
          return;
        }
        await new Promise<void>((r) => {
          wake = r;
        });
        wake = undefined;
      }
    },
  };
  const it = lines[Symbol.asyncIterator]();
  const first = await Promise.race([
    it.next(),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${file} did not start: ${stderr}`)), 60_000)),
  ]);
  if (first.done) throw new Error(`${file} ended before it was ready: ${stderr.trim()}`);
  return { child, firstLine: first.value, lines: { [Symbol.asyncIterator]: () => it } };
}

/** s3rver in its own process (bench/s3-server.ts): the handle the test world's startS3 gives, and stop(). */
export interface S3Process extends ChildHandle {
  handle: S3Handle;
}

/** The file in which s3rver (its filesystem store) keeps an object's bytes. */
export function s3ObjectFile(h: Pick<S3Handle, 'dir' | 'bucket'>, key: string): string {
  return join(h.dir, h.bucket, ...`${key}._S3rver_object`.split('/'));
}

export async function startS3Process(): Promise<S3Process> {
  const { child, firstLine } = await startTsProcess('s3-server.ts');
  const info = JSON.parse(firstLine) as Omit<S3Handle, 'stop' | 'restart' | 'destroy'>;
  const stop = async () => {
    await stopChild(child);
    await rm(info.dir, { recursive: true, force: true });
  };
  const unsupported = () => Promise.reject(new Error('the bench S3 server runs in another process'));
  return { child, stop, handle: { ...info, stop: unsupported, restart: unsupported, destroy: stop } };
}

// ---- machine and versions ----------------------------------------------------------------

export interface Machine {
  nproc: number;
  memoryBytes: number;
  memory: string;
  cpuModel: string;
  kernel: string;
}

export async function machineInfo(): Promise<Machine> {
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown';
  const nproc = Number((await run('nproc', []).catch(() => ({ stdout: String(cpus().length) }))).stdout.trim());
  const kernel = (await run('uname', ['-r']).catch(() => ({ stdout: 'unknown' }))).stdout.trim();
  const mem = totalmem();
  return { nproc, memoryBytes: mem, memory: `${(mem / GiB).toFixed(1)} GiB`, cpuModel: model, kernel };
}

async function firstLineOf(cmd: string, args: string[], pattern?: RegExp): Promise<string> {
  try {
    const { stdout, stderr } = await run(cmd, args, { timeoutMs: 10_000 });
    const text = `${stdout}\n${stderr}`;
    if (pattern) return pattern.exec(text)?.[1] ?? text.trim().split('\n')[0]!;
    return text.trim().split('\n')[0]!;
  } catch (err) {
    return `unavailable (${(err as Error).message.split('\n')[0]})`;
  }
}

async function packageVersion(name: string): Promise<string> {
  try {
    const { createRequire } = await import('node:module');
    const require = createRequire(join(REPO_ROOT, 'package.json'));
    const file = require.resolve(`${name}/package.json`);
    return (JSON.parse(await readFile(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export async function toolVersions(): Promise<Record<string, string>> {
  // dpkg-query's format string, not a template literal.
  const dpkgFormat = ['$', '{Version}'].join('');
  const govmomi = await firstLineOf(
    'dpkg-query',
    ['-W', '-f', dpkgFormat, 'golang-github-vmware-govmomi-dev'],
    /^(\S+)/,
  );
  return {
    node: process.version,
    'nats-server': await firstLineOf('nats-server', ['--version'], /v?(\d+\.\d+\.\d+)/),
    'vcsim (govmomi)': govmomi,
    s3rver: await packageVersion('s3rver'),
    '@aws-sdk/client-s3': await packageVersion('@aws-sdk/client-s3'),
    curl: await firstLineOf('curl', ['--version'], /^curl (\S+)/),
    openssl: await firstLineOf('openssl', ['version'], /^OpenSSL (\S+)/),
    rclone: await firstLineOf('rclone', ['version'], /^rclone (\S+)/),
  };
}

// ---- results -------------------------------------------------------------------------------

export interface TargetCheck {
  /** What is compared, e.g. "download: ferry / curl|openssl". */
  name: string;
  /** The target as written in the issue, e.g. "≥ 0.9×". */
  target: string;
  value: string;
  met: boolean;
}

export interface ScenarioResult {
  id: string;
  title: string;
  /** How each side was run, in one or two sentences each. */
  method: string[];
  table: { head: string[]; rows: Array<Array<string | number>> };
  targets: TargetCheck[];
  /** ferry's ratio to each baseline (higher is better, 1 = as fast); `--quick` fails below 0.5. */
  guard: Array<{ name: string; ratio: number }>;
  notes: string[];
  data: Record<string, unknown>;
}

export interface BenchOptions {
  quick: boolean;
  /** Timed runs per measurement (after one warm-up). */
  runs: number;
}
