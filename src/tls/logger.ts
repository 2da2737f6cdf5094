// The minimal logger shape the core needs; pino satisfies it. The library never reads the environment:
// the default logger logs at 'info' unless the application (the CLI) sets another level at start-up.
import { pino } from 'pino';

export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

let fallbackLevel = 'info';
let fallback: Logger | undefined;

/** Sets the level of the logger used where no logger was passed in (the CLI passes TESSERA_LOG_LEVEL). */
export function setDefaultLogLevel(level: string | undefined): void {
  fallbackLevel = level ?? 'info';
  fallback = undefined;
}

export function defaultLogger(): Logger {
  fallback ??= pino({ name: 'tessera', level: fallbackLevel });
  return fallback;
}
