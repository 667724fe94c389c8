/**
 * `ferry coordinator`: the long-running side. Keeps the topology, runs store discovery on a UTC
 * cron schedule (and once at start), drives rollouts (rollout/rollout-loop.ts), serves the HTTP API
 * and the Artifactory webhook. Discovery
 * passes and webhook registrations run one at a time (a serial queue), so the same OVA is never
 * registered twice concurrently. SIGTERM/SIGINT: stop cron, close HTTP, drain NATS.
 */
import { ConfigError, type CoordinatorConfig, createLogger, describeError, type Logger } from '@ferry/shared';
import cron, { type ScheduledTask } from 'node-cron';
import { type CoordinatorContext, openContext } from './coordinator-context.js';
import type { WebhookRegistration } from './discovery/artifactory-webhook.js';
import { type DiscoveryReport, StoreDiscovery } from './discovery/store-discovery.js';
import { type HttpApi, startHttpApi } from './http/http-server.js';
import { publishFromStore } from './publish/publish-image.js';
import { rolloutDeps } from './rollout/rollout-deps.js';
import { RolloutLoop, type RolloutLoopOptions } from './rollout/rollout-loop.js';
import { resolveRollout, rolloutHook } from './rollout/rollout-start.js';
import { buildStatusMatrix } from './status/status-matrix.js';
import { readStatusInput } from './status/status-snapshot.js';

export interface CoordinatorDaemonOptions {
  logger?: Logger;
  /** Run a discovery pass right after start (default true when discovery is enabled). */
  discoverAtStart?: boolean;
  /** See DiscoveryOptions.settleMs. */
  settleMs?: number;
  rollouts?: RolloutLoopOptions;
}

/** A running coordinator: its parts, fixed at start, and what callers may ask of it. */
export interface CoordinatorDaemon {
  readonly context: CoordinatorContext;
  readonly discovery: StoreDiscovery;
  readonly rollouts: RolloutLoop;
  readonly http: HttpApi;
  /** `http://host:port` of the API. */
  readonly url: string;
  /** Queues a discovery pass behind whatever runs now, and returns its report. */
  runDiscovery(): Promise<DiscoveryReport>;
  /** Resolves once every queued pass and registration has finished. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/** Runs jobs one after the other. */
function serialQueue() {
  let tail: Promise<unknown> = Promise.resolve();
  return {
    run<T>(job: () => Promise<T>): Promise<T> {
      const result = tail.then(job);
      tail = result.catch(() => undefined);
      return result;
    },
    idle: () => tail.then(() => undefined),
  };
}

export async function startCoordinator(
  config: CoordinatorConfig,
  options: CoordinatorDaemonOptions = {},
): Promise<CoordinatorDaemon> {
  const logger = options.logger ?? createLogger({ level: config.log.level, name: 'ferry-coordinator' });
  const schedule = config.discovery.schedule;
  if (config.discovery.enabled && !cron.validate(schedule)) {
    throw new ConfigError(
      `${config.file}: discovery.schedule: ${JSON.stringify(schedule)} is not a cron expression`,
      config.file,
      'discovery.schedule',
    );
  }
  const context = await openContext(config, { clientName: 'ferry-coordinator', reconnectForever: true, logger });
  // Fail at start, not at the first publish, when the key is missing or wrong.
  await context.signingKey().catch(async (err: unknown) => {
    await context.close();
    throw err;
  });

  const queue = serialQueue();
  const rollouts = rolloutDeps(context);
  // Discovery and the webhook publish with the config's rollout policy, like `ferry publish`.
  const hook = rolloutHook(rollouts, resolveRollout(config.rollout, { hold: false }));
  const publishDeps = hook ? { ...context, rollout: hook } : context;
  const discovery = new StoreDiscovery(publishDeps, {
    prefix: config.discovery.prefix,
    targets: config.discovery.targets,
    settleMs: options.settleMs,
    logger,
  });
  const runDiscovery = () => queue.run(() => discovery.runOnce());

  const inFlight = new Set<string>();
  const register = (job: WebhookRegistration) => {
    if (inFlight.has(job.path)) return;
    inFlight.add(job.path);
    queue
      .run(() =>
        publishFromStore(publishDeps, {
          path: job.path,
          name: job.name,
          version: job.version,
          targets: config.discovery.targets,
          expectedSha256: job.sha256,
        }),
      )
      .then(
        (r) => logger.info({ path: job.path, status: r.status, sha256: r.manifest.sha256 }, 'webhook: registered'),
        (err: unknown) =>
          logger.warn({ path: job.path, err: describeError(err).message }, 'webhook: registration failed'),
      )
      .finally(() => inFlight.delete(job.path));
  };

  let http: HttpApi;
  try {
    http = await startHttpApi({
      listen: config.http.listen,
      token: config.http.token,
      approve: { rollouts, tokenName: config.http.tokenName },
      status: async () => buildStatusMatrix(await readStatusInput(context), new Date()),
      live: context,
      webhook: {
        secret: config.http.webhookSecret,
        repo: config.store.type === 'artifactory' ? config.store.repo : undefined,
        prefix: config.discovery.prefix,
        register,
        logger,
      },
      logger,
    });
  } catch (err) {
    await context.close();
    throw new ConfigError(
      `cannot listen on ${config.http.listen} (http.listen): ${(err as Error).message}`,
      config.file,
      'http.listen',
      { cause: err },
    );
  }

  const rolloutLoop = new RolloutLoop(rollouts, options.rollouts);
  try {
    await rolloutLoop.start();
  } catch (err) {
    await http.close();
    await context.close();
    throw err;
  }

  let task: ScheduledTask | undefined;
  if (config.discovery.enabled) {
    task = cron.schedule(
      schedule,
      async () => {
        await runDiscovery().catch((err: unknown) =>
          logger.warn({ err: describeError(err).message }, 'discovery pass failed'),
        );
      },
      { timezone: 'UTC', name: 'ferry-discovery', noOverlap: true },
    );
    if (options.discoverAtStart ?? true) {
      runDiscovery().catch((err: unknown) => logger.warn({ err: describeError(err).message }, 'discovery pass failed'));
    }
  }
  logger.info({ url: http.url, discovery: config.discovery.enabled ? schedule : 'off' }, 'coordinator started');

  let stopped = false;
  return {
    context,
    discovery,
    rollouts: rolloutLoop,
    http,
    url: http.url,
    runDiscovery,
    idle: () => queue.idle(),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await task?.destroy();
      await rolloutLoop.stop();
      await http.close();
      await queue.idle();
      await context.close();
      logger.info('coordinator stopped');
    },
  };
}

/** Runs the daemon until SIGTERM or SIGINT (or `signal` aborts), then stops it cleanly. */
export async function runCoordinator(
  config: CoordinatorConfig,
  options: CoordinatorDaemonOptions & { signal?: AbortSignal } = {},
): Promise<void> {
  const daemon = await startCoordinator(config, options);
  await new Promise<void>((resolve) => {
    const done = () => {
      process.off('SIGTERM', done);
      process.off('SIGINT', done);
      options.signal?.removeEventListener('abort', done);
      resolve();
    };
    process.once('SIGTERM', done);
    process.once('SIGINT', done);
    options.signal?.addEventListener('abort', done, { once: true });
    if (options.signal?.aborted) done();
  });
  await daemon.stop();
}
