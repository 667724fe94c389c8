import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import {
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
 * The worker's code: `OvaReader` (from @ferry/shared's build) over the growing cache file, read
 * back from the page cache in 1 MiB blocks. It posts each entry as its header is checked (with the
 * exact offset of its bytes, found by walking the tar headers, extended ones included), then the
 * summary once every entry is proven, or the error that ended it. Messages in: `{ available,
 * proven, failed }` as the download goes. Plain JS run with `eval`, so the same code works from
 * the sources (tests) and from dist without a second file to locate.
 */
const WORKER_SOURCE = `
const { openSync, readSync, closeSync } = require('node:fs');
const { Readable } = require('node:stream');
const { parentPort, workerData } = require('node:worker_threads');
const BLOCK = 1 << 20;
const { partialPath, finalPath, sharedUrl, options } = workerData;
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
let pos = 0;
let pumping = false;
const source = new Readable({
  highWaterMark: BLOCK,
  read() {
    if (pumping) return;
    pumping = true;
    pump().then(undefined, (err) => source.destroy(err));
  },
});
// Reads one block (or ends the stream) once the bytes are on disk. Not pumping any more before
// push(): push() may call read() at once for the next block.
async function pump() {
  for (;;) {
    if (failed) throw new Error('the download failed');
    if (pos < available) {
      const n = Math.min(BLOCK, available - pos);
      const buf = Buffer.allocUnsafe(n);
      const got = readSync(open(), buf, 0, n, pos);
      if (got === 0) throw new Error('the cache file is shorter than the ' + available + ' bytes written to it');
      pos += got;
      pumping = false;
      source.push(got === n ? buf : buf.subarray(0, got));
      return;
    }
    if (proven) {
      pumping = false;
      source.push(null);
      return;
    }
    await new Promise((r) => { wake = r; });
  }
}
const header = Buffer.alloc(512);
function octal(buf) {
  const text = buf.toString('latin1').replace(/\\0.*$/s, '').trim();
  return text === '' ? 0 : parseInt(text, 8);
}
// The offset of the bytes of the entry whose header starts at p: extended headers (pax 'x'/'g',
// GNU long names 'L'/'K') come first, each with its own data blocks.
function dataOffset(p) {
  for (;;) {
    if (readSync(open(), header, 0, 512, p) !== 512) throw new Error('a tar header at ' + p + ' is cut short');
    const type = String.fromCharCode(header[156]);
    if (type !== 'x' && type !== 'g' && type !== 'L' && type !== 'K') return p + 512;
    p += 512 + Math.ceil(octal(header.subarray(124, 136)) / 512) * 512;
  }
}
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
  const { OvaReader } = await import(sharedUrl);
  const reader = new OvaReader(source, options);
  let next = 0;
  for await (const entry of reader) {
    const offset = dataOffset(next);
    if (entry.offset !== undefined && entry.offset !== offset) {
      throw new Error('entry ' + entry.name + ' found at ' + offset + ', the tar reader says ' + entry.offset);
    }
    parentPort.postMessage({ entry: { name: entry.name, size: entry.size, role: entry.role, offset } });
    next = offset + Math.ceil(entry.size / 512) * 512;
    entry.body.resume();
  }
  parentPort.postMessage({ summary: reader.summary });
})().then(
  () => { if (fd !== undefined) closeSync(fd); },
  (err) => parentPort.postMessage({ error: describe(err) }),
);
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
 * The built OvaReader of @ferry/shared, which the worker imports: plain Node, no TS loader, and
 * only the reader (the whole package takes ~0.25 s to load, per import).
 */
const SHARED_URL = pathToFileURL(createRequire(import.meta.url).resolve('@ferry/shared/ova-reader')).href;

/**
 * Proves an OVA in a growing cache file in a worker thread, with the same `OvaReader` checks as
 * everywhere else (entry names and order, OVF references, `.mf` digests, the signed file list,
 * sizes): so the import's main thread only moves bytes. Measured on the 2-core bench machine,
 * SHA-256 of the entries and the GC of the reader's buffers were ~2/3 of the import's main thread
 * (profile in docs/benchmarks.md); here they run beside it, reading the file back from the page cache.
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
  #waiters: Array<() => void> = [];

  constructor(file: ReadableGrowingFile, options: { archiveSize: number; expectedFiles: readonly ManifestFile[] }) {
    const state = () => ({ available: file.available, proven: file.proven, failed: file.failed });
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      // The reader's blocks die young: a small young generation keeps the garbage (and the agent's
      // peak RSS) small; 16–256 MiB measured no faster.
      resourceLimits: { maxYoungGenerationSizeMb: 8 },
      workerData: {
        partialPath: file.partialPath,
        finalPath: file.finalPath,
        sharedUrl: SHARED_URL,
        options: { archiveSize: options.archiveSize, expectedFiles: options.expectedFiles },
      },
    });
    this.#worker.postMessage(state());
    this.#unwatch = file.watch(() => this.#worker.postMessage(state()));
    this.#worker.on('message', (m: { entry?: ProverEntry; summary?: OvaSummary; error?: WorkerError }) => {
      if (m.entry) this.#entries.push(m.entry);
      else if (m.summary) this.#summary = m.summary;
      else if (m.error) this.#error ??= revive(m.error);
      this.#notify();
    });
    this.#worker.once('error', (err) => {
      this.#error ??= new Error(`proving the OVA: ${err.message}`);
      this.#notify();
    });
    this.#worker.once('exit', (code) => {
      if (!this.#summary) this.#error ??= new Error(`the OVA prover stopped (exit code ${code})`);
      this.#notify();
    });
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
