import { z } from 'zod';
import { manifestSchema } from './manifest.js';
import type { EVENT_KINDS } from './nats-names.js';
import { parserOf } from './schema-error.js';

export const EVENT_SCHEMA = 'ferry/event/v1';
/** Events larger than this are refused before parsing (a manifest is a few KiB). */
export const MAX_EVENT_BYTES = 1024 * 1024;

const base = {
  schema: z.literal(EVENT_SCHEMA),
  id: z.string().min(1).max(200),
  sentAt: z.iso.datetime({ offset: true }),
};

export const eventSchema = z.discriminatedUnion('kind', [
  z.strictObject({ ...base, kind: z.literal('published'), manifest: manifestSchema }),
  z.strictObject({
    ...base,
    kind: z.literal('republish'),
    manifest: manifestSchema,
    force: z.boolean().default(false),
  }),
  z.strictObject({ ...base, kind: z.literal('retired'), manifest: manifestSchema }),
  z.strictObject({ ...base, kind: z.literal('reconcile') }),
]);

export type FerryEvent = z.infer<typeof eventSchema>;
export type FerryEventKind = (typeof EVENT_KINDS)[number];

export const parseEvent = parserOf<FerryEvent>(eventSchema, 'event');
