import type { z } from 'zod';
import { SchemaError } from './errors.js';

/** Values under keys like these are never echoed back, even when they are wrong. */
const SECRET_KEY = /pass|token|secret|apikey|credential|signature/i;

/** Turns zod issues into lines that name the field and the offending value. */
export function formatIssues(error: z.ZodError, input: unknown): string[] {
  return error.issues.map((issue) => {
    const field = issue.path.length ? issue.path.map(String).join('.') : '(root)';
    const value = valueAt(input, issue.path);
    const last = String(issue.path[issue.path.length - 1] ?? '');
    const shown = value === undefined ? 'missing' : SECRET_KEY.test(last) ? 'value hidden' : `got ${preview(value)}`;
    return `${field}: ${issue.message} (${shown})`;
  });
}

export function parseWith<T extends z.ZodType>(schema: T, input: unknown, what: string): z.infer<T> {
  const result = schema.safeParse(input);
  if (!result.success) throw new SchemaError(what, formatIssues(result.error, input));
  return result.data;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = input;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
