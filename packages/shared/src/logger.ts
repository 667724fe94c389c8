import { type DestinationStream, type Logger as PinoLogger, pino } from 'pino';
import { DEFAULT_LOG_LEVEL } from './config.js';

/** One level's method: structured fields first, then the message (pino's calling convention). */
export interface LogFn {
  (fields: object, message?: string): void;
  (message: string): void;
}

/**
 * What ferry's code logs through. pino is the implementation behind `createLogger`; code and
 * unit tests depend only on this, so a test can pass an in-memory logger.
 */
export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  /** A logger that adds `bindings` to every record (e.g. `{ site, image }`). */
  child(bindings: Record<string, unknown>): Logger;
}

/** pino behind the Logger interface: records stay pino's JSON lines, with redaction. */
function adapt(log: PinoLogger): Logger {
  return log;
}

/** Keys whose values are replaced wherever they appear in a log record. */
const REDACT_PATHS = [
  'password',
  'token',
  'secret',
  'secretAccessKey',
  'authorization',
  '*.password',
  '*.token',
  '*.secret',
  '*.secretAccessKey',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  '*.headers["x-jfrog-art-api"]',
];

export interface LoggerOptions {
  level?: string;
  /** Written as `logger` on every line (never `name`, which would collide with an image's name). */
  name?: string;
  /** Default: stderr, so a command's results on stdout stay parseable. */
  destination?: DestinationStream;
}

/**
 * JSON-lines logger; use `.child({ site, image })` to carry context. Field names are distinct per
 * line: `logger` (the program), `site` (set once, by the program's child), `image` (NAME@VERSION).
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.FERRY_LOG_LEVEL ?? DEFAULT_LOG_LEVEL;
  const opts = {
    level,
    base: options.name ? { logger: options.name } : undefined,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return adapt(pino(opts, options.destination ?? pino.destination({ fd: 2, sync: true })));
}

/** A logger that drops everything, for library callers that pass none. */
export function silentLogger(): Logger {
  return adapt(pino({ level: 'silent' }));
}
