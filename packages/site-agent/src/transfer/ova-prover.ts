import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import {
  CacheError,
  ChecksumMismatchError,
  type ManifestFile,
  type OvaEntryRole,
  OvaFormatError,
  type OvaSummary,
} from '@ferry/shared';
import type { ReadableGrowingFile } from './growing-file.js';

/** An entry of the archive whose header the prover has checked; its bytes are proven later (`summary()`). */
export interface ProverEntry {
  name: string;
  size: number;
  role: OvaEntryRole;
  /** Where its bytes start in the archive. */
  offset: number;
}

/**
 * The worker's code: walks the tar headers of the growing cache file (`decodeTarHeader`, as
 * tar-stream decodes them) and reads each entry's bytes at their offset through one reused 1 MiB
 * buffer, hashing them as they come; `OvaChecker` (the same rules `OvaReader` applies) checks each
 * header, descriptor and digest. No stream and no buffer per block: the proof costs SHA-256 and a
 * read from the page cache, nothing more. It posts each entry once its header is checked (with the
 * offset of its bytes), then the summary once every entry is proven, or the error that ended it.
 * Messages in: `{ available, proven, failed }` as the download goes. Plain JS run with `eval`, so
 * the same code works from the sources (tests) and from dist without a second file to locate.
 */
const WORKER_SOURCE = `
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync } = require('node:fs');
const { parentPort, workerData } = require('node:worker_threads');
const BLOCK = 1 << 20;
const { partialPath, finalPath, checkerUrl, tarUrl, options } = workerData;
let available = 0;
let proven = false;
let failed = false;
let wake;
parentPort.on('message', (m) => {
  available = Math.max(available, m.available);
  proven = m.proven;
  failed = m.failed;
  if (wake) {
    const w = wake;
    wake = undefined;
    w();
  }
});
let fd;
function open() {
  if (fd !== undefined) return fd;
  try {
    fd = openSync(proven ? finalPath : partialPath, 'r');
  } catch (err) {
    // Proven and renamed meanwhile: the final file holds the same bytes.
    if (err.code !== 'ENOENT') throw err;
    fd = openSync(finalPath, 'r');
  }
  return fd;
}
// Reads bytes [pos, pos + n) into target once they are on disk; fewer only where the proven file ends.
async function readAt(target, n, pos) {
  for (;;) {
    if (failed) throw new Error('the download failed');
    // Proven, or the whole archive on disk (an earlier download's file, checked again meanwhile).
    if (available >= pos + n || proven || available >= options.archiveSize) break;
    await new Promise((r) => { wake = r; });
  }
  const have = Math.max(0, Math.min(n, available - pos));
  for (let got = 0; got < have; ) {
    const k = readSync(open(), target, got, have - got, pos + got);
    if (k === 0) throw new Error('the cache file is shorter than the ' + available + ' bytes written to it');
    got += k;
  }
  return have;
}
async function readWhole(target, n, pos) {
  if ((await readAt(target, n, pos)) < n) throw new Error('Unexpected end of data');
}
const block = Buffer.allocUnsafeSlow(BLOCK);
function describe(err) {
  return {
    name: err && err.name,
    code: err && err.code,
    message: String(err && err.message),
    entry: err && err.entry,
    reason: err && err.reason,
    subject: err && err.subject,
    expected: err && err.expected,
    actual: err && err.actual,
    kind: err && err.kind,
  };
}
(async () => {
  const { OvaChecker } = await import(checkerUrl);
  const tar = await import(tarUrl);
  const checker = new OvaChecker(options);
  const header = Buffer.alloc(tar.TAR_BLOCK);
  let pos = 0;
  let longPath = null;
  let pax = null;
  let paxGlobal = null;
  for (;;) {
    const got = await readAt(header, tar.TAR_BLOCK, pos);
    if (got === 0 && pos >= available) {
      if (pos > available) throw new Error('Unexpected end of data');
      break;
    }
    if (got < tar.TAR_BLOCK) throw new Error('Unexpected end of data');
    const h = tar.decodeTarHeader(header);
    pos += tar.TAR_BLOCK;
    if (h === null) continue;
    if (h.type === 'pax-header' || h.type === 'pax-global-header' || h.type === 'gnu-long-path' || h.type === 'gnu-long-link-path') {
      if (h.size > tar.MAX_LONG_HEADER_BYTES) throw new Error('Header exceeds max size');
      const body = Buffer.alloc(h.size);
      await readWhole(body, h.size, pos);
      pos += h.size + tar.tarPadding(h.size);
      if (h.type === 'gnu-long-path') longPath = tar.decodeLongPath(body);
      else if (h.type === 'pax-global-header') paxGlobal = tar.decodePax(body);
      else if (h.type === 'pax-header') pax = Object.assign({}, paxGlobal, tar.decodePax(body));
      continue;
    }
    let name = h.name;
    let size = h.size;
    if (longPath !== null) name = longPath;
    if (pax && pax.path) name = pax.path;
    if (pax && pax.size) size = parseInt(pax.size, 10);
    longPath = null;
    pax = null;
    if (!(size >= 0)) throw new Error('Invalid header');
    const plan = checker.begin(name, h.type, size);
    const sha256 = createHash('sha256');
    const sha1 = plan.sha1 ? createHash('sha1') : undefined;
    const entry = { name, size, role: plan.role, offset: pos };
    if (plan.small) {
      // Descriptors are read whole first: their content decides what follows.
      const body = Buffer.alloc(size);
      await readWhole(body, size, pos);
      sha256.update(body);
      if (sha1) sha1.update(body);
      checker.descriptor(name, plan.role, body.toString('utf8'));
      parentPort.postMessage({ entry });
    } else {
      parentPort.postMessage({ entry });
      for (let done = 0; done < size; ) {
        const n = Math.min(BLOCK, size - done);
        await readWhole(block, n, pos + done);
        const bytes = n === BLOCK ? block : block.subarray(0, n);
        sha256.update(bytes);
        if (sha1) sha1.update(bytes);
        done += n;
      }
    }
    checker.end(name, plan.role, size, sha256.digest('hex'), sha1 && sha1.digest('hex'));
    pos += size + tar.tarPadding(size);
  }
  parentPort.postMessage({ summary: checker.finish() });
})()
  .catch((err) => parentPort.postMessage({ error: describe(err) }))
  .finally(() => {
    if (fd !== undefined) closeSync(fd);
    // The verdict is posted: let the thread end (an import waiting for its slot holds no thread).
    parentPort.close();
  });
`;

interface WorkerError {
  name?: string;
  code?: string;
  message: string;
  entry?: string;
  reason?: string;
  subject?: string;
  expected?: string;
  actual?: string;
  kind?: 'sha256' | 'sha1' | 'size';
}

/** The worker's error as the same ferry error the reader threw (same code, same message). */
function revive(e: WorkerError): Error {
  if (e.code === 'OVA_INVALID') return new OvaFormatError(e.entry ?? undefined, e.reason ?? e.message);
  if (e.code === 'CHECKSUM_MISMATCH') return new ChecksumMismatchError(e.subject!, e.expected!, e.actual!, e.kind);
  return new Error(`proving the OVA: ${e.message}`);
}

/**
 * The built modules of @ferry/shared the worker imports: plain Node, no TS loader, and only what
 * it needs (the whole package takes ~0.25 s to load, per import).
 */
const sharedModule = (subpath: string): string =>
  pathToFileURL(createRequire(import.meta.url).resolve(`@ferry/shared/${subpath}`)).href;
const CHECKER_URL = sharedModule('ova-checker');
const TAR_URL = sharedModule('tar-header');

/**
 * Proves an OVA in a growing cache file in a worker thread, with the same `OvaChecker` rules as
 * `OvaReader` everywhere else (entry names and order, OVF references, `.mf` digests, the signed
 * file list, sizes): so the import's main thread only moves bytes. Measured on the 2-core bench
 * machine, SHA-256 of the entries and the GC of the reader's buffers were ~2/3 of the import's main
 * thread (profile in docs/benchmarks.md); here they run beside it, reading the file back from the
 * page cache at the entries' offsets, with no stream between the file and the hash.
 *
 *   const prover = new OvaProver(file, { archiveSize, expectedFiles });
 *   for await (const entry of prover.entries()) upload(entry.offset, entry.size);
 *   await prover.summary(); // every entry proven
 */
export class OvaProver {
  readonly #worker: Worker;
  readonly #unwatch: () => void;
  readonly #entries: ProverEntry[] = [];
  #summary: OvaSummary | undefined;
  #error: Error | undefined;
  /** An error in an earlier download's file while the cache checks it again (see the constructor). */
  #held: Error | undefined;
  #waiters: Array<() => void> = [];

  constructor(file: ReadableGrowingFile, options: { archiveSize: number; expectedFiles: readonly ManifestFile[] }) {
    const state = () => ({ available: file.onDisk, proven: file.proven, failed: file.failed });
    // An earlier download's file is proven while the cache checks its SHA-256 again (the cores are
    // free then): the verdict waits for that check, and is void if the check fails.
    let readOld = false;
    const settle = () => {
      if (file.reuse === 'checking') readOld = true;
      if (!readOld || this.#error) return;
      if (file.reuse === 'failed') {
        this.#error = new CacheError(
          file.finalPath,
          `the cached file ${file.finalPath} did not match its SHA-256 while its OVA was proven; it is downloaded again, and the import retried`,
          { retryable: true },
        );
      } else if (this.#held && (file.proven || file.failed)) this.#error = this.#held;
    };
    settle();
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      // It allocates almost nothing (one reused block): a small young generation keeps the agent's
      // peak RSS small.
      resourceLimits: { maxYoungGenerationSizeMb: 8 },
      workerData: {
        partialPath: file.partialPath,
        finalPath: file.finalPath,
        checkerUrl: CHECKER_URL,
        tarUrl: TAR_URL,
        options: { archiveSize: options.archiveSize, expectedFiles: options.expectedFiles },
      },
    });
    this.#worker.postMessage(state());
    this.#unwatch = file.watch(() => {
      settle();
      this.#worker.postMessage(state());
      this.#notify();
    });
    this.#worker.on('message', (m: { entry?: ProverEntry; summary?: OvaSummary; error?: WorkerError }) => {
      if (m.entry) this.#entries.push(m.entry);
      else if (m.summary) this.#summary = m.summary;
      else if (m.error) {
        // Found in bytes not proven yet: it is the verdict only if the check keeps them.
        if (readOld && !file.proven) this.#held ??= revive(m.error);
        else this.#error ??= revive(m.error);
        settle();
      }
      this.#notify();
    });
    this.#worker.once('error', (err) => {
      this.#error ??= new Error(`proving the OVA: ${err.message}`);
      this.#notify();
    });
    this.#worker.once('exit', (code) => {
      if (!this.done) this.#error ??= new Error(`the OVA prover stopped (exit code ${code})`);
      this.#notify();
    });
  }

  /** The worker has given its verdict (a summary or an error, held or not): it reads nothing more. */
  get done(): boolean {
    return this.#summary !== undefined || this.#held !== undefined || this.#error !== undefined;
  }

  /** Throws the error that ended the proof, if one did (checked between the chunks of an upload). */
  throwIfFailed(): void {
    if (this.#error) throw this.#error;
  }

  /** The entries in archive order as their headers are checked; throws the proof's error. */
  async *entries(): AsyncGenerator<ProverEntry> {
    for (let i = 0; ; ) {
      this.throwIfFailed();
      if (i < this.#entries.length) yield this.#entries[i++]!;
      else if (this.#summary) return;
      else await this.#changed();
    }
  }

  /** Resolves once every entry and the archive as a whole are proven; rejects with what was wrong. */
  async summary(): Promise<OvaSummary> {
    for (;;) {
      this.throwIfFailed();
      if (this.#summary) return this.#summary;
      await this.#changed();
    }
  }

  async stop(): Promise<void> {
    this.#unwatch();
    await this.#worker.terminate();
  }

  #changed(): Promise<void> {
    return new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  #notify(): void {
    for (const w of this.#waiters.splice(0)) w();
  }
}
