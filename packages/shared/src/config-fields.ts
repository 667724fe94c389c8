/** zod field helpers shared by the config schemas: durations, sizes, URLs, listen addresses. */
import { z } from 'zod';
import { LISTEN_RE } from './listen-address.js';
import { parseDuration, parseRate, parseSize } from './units.js';

export const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const ms = parseDuration(v);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: 'expected a duration like "30s", "5m", "2h"' });
    return z.NEVER;
  }
  return ms;
});

export const size = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const bytes = parseSize(v);
  if (bytes === undefined) {
    ctx.addIssue({ code: 'custom', message: 'expected a size like "200GiB", "512MiB" or a number of bytes' });
    return z.NEVER;
  }
  return bytes;
});

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
export const rate = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const bytesPerSec = parseRate(v);
  if (bytesPerSec === undefined || bytesPerSec <= 0) {
    ctx.addIssue({ code: 'custom', message: 'expected a rate like "200MiB/s" or "1.5GB/s" (more than 0)' });
    return z.NEVER;
  }
  return bytesPerSec;
});
