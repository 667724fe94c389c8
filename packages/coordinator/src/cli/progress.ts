import type { Writable } from 'node:stream';
import { formatBytes } from '@ferry/shared';
import cliProgress from 'cli-progress';

/** Byte progress of a long read: a live bar on a terminal, a plain line every ~10 % otherwise. */
export interface Progress {
  update(bytesDone: number): void;
  stop(): void;
  /** The work failed after the bar moved (maybe to 100 %): say so, so the bar does not read as success. */
  fail(): void;
}

export const noProgress: Progress = { update: () => undefined, stop: () => undefined, fail: () => undefined };

function isTty(stream: Writable): boolean {
  return (stream as Writable & { isTTY?: boolean }).isTTY === true;
}

export function createProgress(out: Writable, label: string, total: number): Progress {
  if (isTty(out)) {
    const bar = new cliProgress.SingleBar(
      {
        stream: out as unknown as NodeJS.WritableStream,
        format: `${label} [{bar}] {percentage}% | {done} of {size} | {speed}`,
        hideCursor: true,
        clearOnComplete: false,
        barsize: 30,
      },
      cliProgress.Presets.shades_classic,
    );
    const started = Date.now();
    bar.start(total, 0, { done: formatBytes(0), size: formatBytes(total), speed: '' });
    return {
      update: (done) => {
        const secs = (Date.now() - started) / 1000;
        bar.update(done, { done: formatBytes(done), speed: secs > 0 ? `${formatBytes(done / secs)}/s` : '' });
      },
      stop: () => bar.stop(),
      fail: () => {
        bar.stop();
        out.write(`${label}: failed; nothing was published (the error follows)\n`);
      },
    };
  }
  let nextStep = 10;
  return {
    update: (done) => {
      if (total <= 0) return;
      const pct = Math.floor((done / total) * 100);
      if (pct >= nextStep) {
        out.write(`${label}: ${pct}% (${formatBytes(done)} of ${formatBytes(total)})\n`);
        nextStep = (Math.floor(pct / 10) + 1) * 10;
      }
    },
    stop: () => undefined,
    fail: () => {
      out.write(`${label}: failed; nothing was published (the error follows)\n`);
    },
  };
}
