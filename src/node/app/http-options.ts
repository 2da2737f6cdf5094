// Fastify options of a node listener: the shared limits and error shape, and the node's pino logger with a
// request id on every line a request logs. Per-request lines appear at debug; warnings and errors always.
import { randomUUID } from 'node:crypto';
import type { FastifyServerOptions } from 'fastify';
import type { Logger } from 'pino';
import { NODE_HTTP_OPTIONS } from '../http/error-handler.ts';

export function listenerOptions(logger: Logger, listener: 'api' | 'federation'): FastifyServerOptions {
  const verbose = ['debug', 'trace'].includes(logger.level);
  return {
    ...NODE_HTTP_OPTIONS,
    loggerInstance: logger.child({ listener }, { level: verbose ? logger.level : 'warn' }),
    genReqId: () => randomUUID(),
  };
}
