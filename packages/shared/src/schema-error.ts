import type { z } from 'zod';
import { SchemaError } from './errors.js';

/**
 * Key names whose values are never echoed back, even when they are wrong or misspelled
 * (`passwd`, `pasword`, `pwd`, `tokn`, `apiKey`, `secretAccessKeyFile`…). Deliberately broad: hiding a
 * harmless value costs a look at the file, printing a secret costs a rotation.
 */
const SECRET_KEY = /pas|pw|secr|scret|secert|tok|tkn|key|cred|auth|cookie|bearer|sign|priv|cert|sess/i;

const HIDDEN = '[hidden]';

/** True for a key name that may hold a secret (see SECRET_KEY). */
export function isSecretKeyName(key: PropertyKey): boolean {
  return SECRET_KEY.test(String(key));
}

/**
 * A copy of `value` safe to print: the value under every secret-like key, at any depth, is
 * replaced by `[hidden]`. Used on anything an error shows of its input (an unknown key's path is
 * its parent object, so the object itself is printed).
 */
export function redactSecrets(value: unknown, depth = 0): unknown {
  // `scheme://user:password@host`: the user info of a URL is a credential too.
  if (typeof value === 'string') return value.replace(/\/\/[^/@\s]*@/g, `//${HIDDEN}@`);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 20) return HIDDEN;
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, depth + 1));
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, isSecretKeyName(k) ? HIDDEN : redactSecrets(v, depth + 1)]),
  );
}

/** Turns zod issues into lines that name the field and the offending value. */
export function formatIssues(error: z.ZodError, input: unknown): string[] {
  return error.issues.map((issue) => {
    const field = issue.path.length ? issue.path.map(String).join('.') : '(root)';
    const value = valueAt(input, issue.path);
    const shown =
      value === undefined ? 'missing' : issue.path.some(isSecretKeyName) ? 'value hidden' : `got ${preview(value)}`;
    return `${field}: ${issue.message} (${shown})`;
  });
}

export function parseWith<T extends z.ZodType>(schema: T, input: unknown, what: string): z.infer<T> {
  const result = schema.safeParse(input);
  if (!result.success) throw new SchemaError(what, formatIssues(result.error, input));
  return result.data;
}

/** The parse function of one kind of record (`what`, for the SchemaError): `parseWith` bound to its schema. */
export function parserOf<T>(schema: z.ZodType<T>, what: string): (input: unknown) => T {
  return (input) => parseWith(schema, input, what);
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
  const text = JSON.stringify(redactSecrets(value)) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
