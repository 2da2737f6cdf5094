// The route layer's half of the error catalog: every HTTP answer of the node that is not a success is
// `{error: "<code>", detail: "<human sentence>"}` with the status the catalog gives the code. Domain
// errors (NodeError), a store's input errors, fastify's own errors (body too large, bad JSON) and anything
// unexpected all end here, without leaking internals.
import type {
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  FastifyServerOptions,
} from 'fastify';
import { StoreError, StoreInputError } from '../../store/errors.ts';
import { ForwardedCertError } from '../../transport/proxy/errors.ts';
import { type ErrorCode, httpStatusOf, NodeError } from '../errors.ts';

export interface ErrorBody {
  error: string;
  detail: string;
  [key: string]: unknown;
}

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
};

/** The catalog code and detail of an error, or null when it is unexpected (a 500). */
export function describeError(error: unknown): { code: ErrorCode; detail: string; extra?: object } | null {
  if (error instanceof NodeError) return { code: error.code, detail: error.message, extra: error.extra };
  // The forwarded-identity hook (trusted proxies): a malformed header (400) or a refused certificate (403).
  if (error instanceof ForwardedCertError)
    return {
      code: error.code,
      detail: error.syntax ? `${error.syntax}: ${error.message}` : error.message,
    };
  // Matched by class: every store implementation throws the store's own StoreInputError.
  if (error instanceof StoreInputError)
    return {
      code: error.code,
      detail: error.code === 'invalid_cursor' ? `cursor: ${error.message}` : error.message,
    };
  // The database went away (PostgreSQL restart, lost connection): a 503 the client may retry.
  if (error instanceof StoreError && error.code === 'store_unavailable')
    return { code: 'store_unavailable', detail: 'the database is unavailable; retry later' };
  const fastify = error as FastifyError;
  const known = typeof fastify?.code === 'string' ? FASTIFY_CODES[fastify.code] : undefined;
  if (known)
    return {
      code: known,
      detail: known === 'invalid_json' ? 'request body is not valid JSON' : fastify.message,
    };
  if (error instanceof SyntaxError || fastify?.statusCode === 400)
    return { code: 'bad_request', detail: (error as Error).message };
  return null;
}

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const known = describeError(error);
    if (known)
      return reply
        .status(httpStatusOf(known.code))
        .send({ error: known.code, detail: known.detail, ...known.extra });
    request.log.error({ err: error }, 'unhandled error');
    return reply.status(500).send({ error: 'internal', detail: 'internal server error' });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ error: 'not_found', detail: `no route ${request.method} ${request.url}` }),
  );
}

/** Errors fastify raises before routing (bad URL, path parameter too long) get the same `{error, detail}` shape. */
export function frameworkErrors(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const status = error.statusCode ?? 400;
  const code = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'uri_too_long' : 'bad_request';
  reply
    .status(status)
    .send({ error: code, detail: status === 414 ? 'a path parameter is too long' : 'malformed URL' });
}

/** Fastify options every node listener shares: a 64 KiB body limit and the error shape above. */
export const NODE_HTTP_OPTIONS: FastifyServerOptions = { bodyLimit: 64 * 1024, frameworkErrors };
