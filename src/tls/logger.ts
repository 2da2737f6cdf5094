// The minimal logger shape the core needs; pino satisfies it. The default logger honours TESSERA_LOG_LEVEL.
import { pino } from 'pino';

export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

let fallback: Logger | undefined;

export function defaultLogger(): Logger {
  fallback ??= pino({ name: 'tessera', level: process.env.TESSERA_LOG_LEVEL ?? 'info' });
  return fallback;
}
