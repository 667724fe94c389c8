/** zod field helpers shared by the config schemas: durations, sizes, URLs, listen addresses. */
import { z } from 'zod';
import { LISTEN_RE } from './listen-address.js';
import { parseDuration, parseRate, parseSize } from './units.js';

/** A field written as a string or a number that `parse` reads; what it rejects is an issue naming the expected form. */
function parsedBy(parse: (v: string | number) => number | undefined, expected: string) {
  return z.union([z.string(), z.number()]).transform((v, ctx) => {
    const n = parse(v);
    if (n === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected ${expected}` });
      return z.NEVER;
    }
    return n;
  });
}

export const duration = parsedBy(parseDuration, 'a duration like "30s", "5m", "2h"');

export const size = parsedBy(parseSize, 'a size like "200GiB", "512MiB" or a number of bytes');

export const httpUrl = z.string().refine((v) => {
  try {
    const u = new URL(v);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}, 'expected an http:// or https:// URL');

export const listen = z.string().regex(LISTEN_RE, 'expected host:port, e.g. 127.0.0.1:9464');

/** A rate like "200MiB/s" (bytes per second). */
export const rate = parsedBy((v) => {
  const bytesPerSec = parseRate(v);
  return bytesPerSec !== undefined && bytesPerSec > 0 ? bytesPerSec : undefined;
}, 'a rate like "200MiB/s" or "1.5GB/s" (more than 0)');
