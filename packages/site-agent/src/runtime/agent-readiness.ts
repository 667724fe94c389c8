/**
 * The agent's readiness: the checks behind `/readyz` (NATS connected, vCenter session, cache
 * writable), and the summary its heartbeat carries so `ferry sites` can say "not ready" and why.
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { describeError, type Logger, withTimeout } from '@ferry/shared';
import type { ReadinessCheck } from './agent-http.js';

export interface ReadinessDeps {
  natsConnected(): boolean;
  /** One session check per vCenter of the zone (`vcenter`, or `vcenter <site>` in a zone agent). */
  vcenters: Array<{ name: string; checkSession(): Promise<unknown> }>;
  cacheDir: string;
}

export async function checkReadiness(deps: ReadinessDeps): Promise<ReadinessCheck[]> {
  const connected = deps.natsConnected();
  const checks: ReadinessCheck[] = [{ name: 'nats', ok: connected, detail: connected ? undefined : 'disconnected' }];
  const vcenters = await Promise.all(
    deps.vcenters.map(async ({ name, checkSession }): Promise<ReadinessCheck> => {
      try {
        await withTimeout(checkSession(), 5_000, 'vCenter session check');
        return { name, ok: true };
      } catch (err) {
        return { name, ok: false, detail: describeError(err).message };
      }
    }),
  );
  checks.push(...vcenters);
  try {
    await access(deps.cacheDir, constants.W_OK);
    checks.push({ name: 'cache', ok: true });
  } catch (err) {
    checks.push({ name: 'cache', ok: false, detail: `${deps.cacheDir} not writable: ${(err as Error).message}` });
  }
  return checks;
}

/** The failing checks that concern `site`: the zone's own, and its vCenter's (not another target's). */
export function failingForSite(failing: readonly string[], site: string): string[] {
  return failing.filter((line) => !/^vcenter \S+:/.test(line) || line.startsWith(`vcenter ${site}:`));
}

/**
 * Failing checks as `check: detail` lines for the heartbeat, re-checked at most every `maxAgeMs`
 * (heartbeats also go out after every job). Logs "agent ready" when every check passes (at the
 * first heartbeat and after each recovery) and "agent not ready" when the failures change.
 */
export class ReadinessReporter {
  #last: string[] | undefined;
  #at = 0;

  constructor(
    private readonly check: () => Promise<ReadinessCheck[]>,
    private readonly log: Logger,
    private readonly url: () => string | undefined,
    private readonly maxAgeMs = 5_000,
  ) {}

  /** The last result without checking again (shutdown: nothing should be probed any more). */
  get last(): string[] {
    return this.#last ?? [];
  }

  async failing(): Promise<string[]> {
    const now = Date.now();
    if (this.#last && now - this.#at < this.maxAgeMs) return this.#last;
    const failing = (await this.check()).filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail ?? 'failing'}`);
    const was = this.#last;
    this.#last = failing;
    this.#at = now;
    if (failing.length === 0 && (was === undefined || was.length > 0)) {
      this.log.info({ url: this.url() }, 'agent ready');
    } else if (failing.length > 0 && (was === undefined || was.join() !== failing.join())) {
      this.log.warn({ failing }, 'agent not ready');
    }
    return failing;
  }
}
