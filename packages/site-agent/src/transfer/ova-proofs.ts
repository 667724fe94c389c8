import type { ManifestFile, OvaSummary } from '@ferry/shared';
import type { OvaProver, ProverEntry } from './ova-prover.js';

/** What an import needs of a proof: the entries to send, then that all of them hold. */
export type EntryProof = Pick<OvaProver, 'entries' | 'summary' | 'throwIfFailed' | 'stop'>;

/** A finished proof of one object's OVA: its entries (with offsets) and the reader's summary. */
export interface OvaProof {
  entries: readonly ProverEntry[];
  summary: OvaSummary;
}

/** A prover running for one object, shared by the imports that follow it. */
interface Running {
  prover: EntryProof;
  files: readonly ManifestFile[];
  users: number;
}

/**
 * The OVA proofs of this agent, by the object's SHA-256, for every target of the zone. A proof is
 * a function of the bytes alone, and a SHA-256 the cache verifies names exactly those bytes: so
 * the targets importing one image at the same time follow one prover, and a later target (or a
 * retry after a vCenter outage) sends the entries without hashing them again. The signed file
 * list is compared each time: a manifest that signs other digests for the same bytes gets a
 * prover of its own, and its error. Every import still waits for the object's own SHA-256.
 */
export class OvaProofs {
  readonly #done = new Map<string, OvaProof>();
  readonly #running = new Map<string, Running>();
  /** Since start: provers started (each hashes every entry once), and imports that followed one or used a kept proof. */
  readonly counts = { hashed: 0, reused: 0 };

  /** @param max finished proofs kept (the oldest is forgotten first); @default 64 */
  constructor(readonly max = 64) {}

  /**
   * A proof of the object `sha256` against these signed files: the kept one, the one running, or
   * a new prover from `start`. Call `stop()` on it when the import is done with it.
   */
  acquire(sha256: string, expectedFiles: readonly ManifestFile[], start: () => EntryProof): EntryProof {
    const done = this.#done.get(sha256);
    if (done && sameFiles(done.summary.files, expectedFiles)) {
      this.counts.reused++;
      return kept(done);
    }
    const running = this.#running.get(sha256);
    if (running && sameFiles(running.files, expectedFiles)) {
      this.counts.reused++;
      return this.#share(sha256, running);
    }
    this.counts.hashed++;
    const prover = start();
    if (running) return prover; // other signed files than the running prover's: not shared
    const fresh: Running = { prover, files: expectedFiles, users: 0 };
    this.#running.set(sha256, fresh);
    return this.#share(sha256, fresh);
  }

  /** Keeps a finished proof; call only once the object's own SHA-256 is verified too. */
  remember(sha256: string, proof: OvaProof): void {
    this.#done.delete(sha256);
    this.#done.set(sha256, proof);
    while (this.#done.size > this.max) this.#done.delete(this.#done.keys().next().value!);
  }

  /** One user's handle on a running prover: it stops when its last user does. */
  #share(sha256: string, running: Running): EntryProof {
    running.users++;
    let stopped = false;
    const { prover } = running;
    return {
      entries: () => prover.entries(),
      summary: () => prover.summary(),
      throwIfFailed: () => prover.throwIfFailed(),
      stop: async () => {
        if (stopped) return;
        stopped = true;
        if (--running.users > 0) return;
        if (this.#running.get(sha256) === running) this.#running.delete(sha256);
        await prover.stop();
      },
    };
  }
}

function kept(proof: OvaProof): EntryProof {
  return {
    entries: async function* () {
      yield* proof.entries;
    },
    summary: async () => proof.summary,
    throwIfFailed: () => {},
    stop: async () => {},
  };
}

/** Every entry proven is in the signed list with its size and digest, and nothing signed is missing. */
function sameFiles(proven: readonly ManifestFile[], signed: readonly ManifestFile[]): boolean {
  if (proven.length !== signed.length) return false;
  const byName = new Map(signed.map((f) => [f.name, f]));
  return proven.every((f) => {
    const s = byName.get(f.name);
    return s !== undefined && s.size === f.size && s.sha256 === f.sha256;
  });
}
