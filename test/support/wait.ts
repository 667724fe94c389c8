/**
 * The one polling helper of the tests: wait for a condition, never for a fixed time, so a test
 * passes or fails by what the system did, not by how fast a busy machine did it.
 */
export interface WaitOptions {
  /** What is awaited, for the timeout message (e.g. "dc1 ready"); a function is called at the timeout. */
  what: string | (() => string);
  /** Give up after this long (default 30 s: generous for a loaded 2-core machine). */
  timeoutMs?: number;
  /** Pause between checks (default 100 ms). */
  intervalMs?: number;
  /** Keep polling when the check throws (e.g. a server still starting or reconnecting). */
  ignoreErrors?: boolean;
}

/**
 * Calls `check` until it returns something other than `undefined`, `null` or `false`, and
 * returns that value. On timeout throws one error naming `what`, the last value seen and the
 * last error thrown (with `ignoreErrors`).
 */
export async function waitFor<T>(
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  opts: WaitOptions,
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const intervalMs = opts.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== null && value !== false) return value;
      last = value;
    } catch (err) {
      if (!opts.ignoreErrors) throw err;
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const why = lastError ? `; last error: ${(lastError as Error).message ?? String(lastError)}` : '';
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${typeof opts.what === 'function' ? opts.what() : opts.what}; last value: ${show(last)}${why}`,
        {
          cause: lastError,
        },
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

function show(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
