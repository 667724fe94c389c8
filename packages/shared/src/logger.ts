import { type DestinationStream, type Logger as PinoLogger, pino } from 'pino';
import { DEFAULT_LOG_LEVEL } from './config.js';

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
  name?: string;
  destination?: DestinationStream;
}

/** JSON-lines logger; use `.child({ site, image })` to carry context. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.FERRY_LOG_LEVEL ?? DEFAULT_LOG_LEVEL;
  const opts = {
    level,
    name: options.name,
    base: undefined,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return options.destination ? pino(opts, options.destination) : pino(opts);
}

/** A logger that drops everything, for library callers that pass none. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
