// Fastify options of a node listener: the shared limits and error shape, and the node's pino logger with a
// request id on every line a request logs. Per-request lines appear at debug; warnings and errors always.
import { randomUUID } from 'node:crypto';
import type { ServerOptions } from 'node:https';
import type { FastifyInstance, FastifyRequest, FastifyServerOptions } from 'fastify';
import type { Logger } from 'pino';
import { NODE_HTTP_OPTIONS } from '../http/error-handler.ts';
import type { ConnectionBounds } from '../settings/config.ts';

export function listenerOptions(
  logger: Logger,
  listener: 'api' | 'federation',
  bounds: ConnectionBounds,
): FastifyServerOptions {
  // `http` reaches http.createServer for a plain listener (fastify's server options type omits it).
  const verbose = ['debug', 'trace'].includes(logger.level);
  return {
    ...NODE_HTTP_OPTIONS,
    loggerInstance: logger.child(
      { listener },
      { level: verbose ? logger.level : 'warn', serializers: { req: requestLine } },
    ),
    genReqId: () => randomUUID(),
    requestTimeout: bounds.requestTimeoutMs,
    keepAliveTimeout: bounds.keepAliveTimeoutMs,
    http: serverBounds(bounds),
  } as FastifyServerOptions;
}

/** A request on a log line; its address is the client's, behind a trusted proxy too (request.clientIp). */
function requestLine(request: FastifyRequest) {
  return {
    method: request.method,
    url: request.url,
    host: request.host,
    remoteAddress: request.clientIp ?? request.ip,
    remotePort: request.socket?.remotePort,
  };
}

/**
 * The Node server options that bound a slow or idle client. Node checks header and request deadlines on an
 * interval: it is kept short, so a deadline holds to within a fraction of itself.
 */
export function serverBounds(bounds: ConnectionBounds): ServerOptions {
  return {
    headersTimeout: bounds.headersTimeoutMs,
    requestTimeout: bounds.requestTimeoutMs,
    keepAliveTimeout: bounds.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(bounds.headersTimeoutMs / 4))),
    // TLS listeners: a connection that has not completed its handshake in time is closed.
    handshakeTimeout: bounds.handshakeTimeoutMs,
  };
}

/** Over the cap a new connection is closed at accept; established connections are not touched. */
export function capConnections(app: FastifyInstance, bounds: ConnectionBounds): void {
  app.server.maxConnections = bounds.maxConnections;
  app.server.headersTimeout = bounds.headersTimeoutMs;
}
