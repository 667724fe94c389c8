import { readFile } from 'node:fs/promises';
import { type ConnectionOptions, connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import type { NatsConfig } from './config.js';
import { MessagingError } from './errors.js';
import type { Logger } from './logger.js';

export interface ConnectNatsOptions {
  /** Client name shown by the server (`ferry-agent dc1-corp`). */
  name: string;
  logger?: Logger;
  /** Give up the first connection after this long (reconnects after that are forever). */
  timeoutMs?: number;
  /** false for one-shot CLI commands that should fail fast. */
  reconnectForever?: boolean;
}

/** Connects with the config's auth and TLS; later reconnects retry forever with backoff. */
export async function connectNats(config: NatsConfig, options: ConnectNatsOptions): Promise<NatsConnection> {
  const opts: ConnectionOptions = {
    servers: config.servers,
    name: config.name ?? options.name,
    timeout: options.timeoutMs ?? 10_000,
    maxReconnectAttempts: options.reconnectForever === false ? 3 : -1,
    reconnectTimeWait: 1_000,
    reconnectJitter: 500,
    pingInterval: 20_000,
  };
  if (config.credsFile) {
    opts.authenticator = credsAuthenticator(new Uint8Array(await readFile(config.credsFile)));
  }
  if (config.user) opts.user = config.user;
  if (config.password) opts.pass = config.password.reveal();
  if (config.token) opts.token = config.token.reveal();
  // Least-privilege users may subscribe to their own reply subjects only (deploy/nats).
  if (config.inboxPrefix) opts.inboxPrefix = config.inboxPrefix;
  if (config.tls) {
    opts.tls = {
      caFile: config.tls.caFile,
      certFile: config.tls.certFile,
      keyFile: config.tls.keyFile,
      ...(config.tls.insecure ? { rejectUnauthorized: false } : {}),
    } as ConnectionOptions['tls'];
  }
  let nc: NatsConnection;
  try {
    nc = await connect(opts);
  } catch (err) {
    throw new MessagingError(
      `cannot connect to NATS at ${config.servers.join(', ')}: ${(err as Error).message} (check nats.servers, credentials and that the server is up)`,
      { cause: err },
    );
  }
  const log = options.logger;
  if (log) {
    (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') log.warn({ server: s.server }, 'NATS disconnected; reconnecting');
        else if (s.type === 'reconnect') log.info({ server: s.server }, 'NATS reconnected');
        else if (s.type === 'error') log.warn({ err: s.error?.message }, 'NATS error');
      }
    })().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'NATS status events ended'));
  }
  return nc;
}
