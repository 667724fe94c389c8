import { type DestinationStream, type Logger as PinoLogger, pino } from 'pino';

export type Logger = PinoLogger;

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
  const level = options.level ?? process.env.FERRY_LOG_LEVEL ?? 'info';
  const opts = {
    level,
    base: options.name ? { logger: options.name } : undefined,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return pino(opts, options.destination ?? pino.destination({ fd: 2, sync: true }));
}

/** A logger that drops everything, for library callers that pass none. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
