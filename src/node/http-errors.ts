// One error shape for every HTTP answer of the node: `{error: "<code>", detail: "<human sentence>"}`.
// Route code throws HttpError; the node's error handler (installErrorHandler) turns it, fastify's own
// errors (body too large, bad JSON) and anything unexpected into that shape without leaking internals.
import type {
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  FastifyServerOptions,
} from 'fastify';
import type { z } from 'zod';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
    /** Extra top-level fields of the JSON body (e.g. quota details). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail);
    this.name = 'HttpError';
  }
}

export interface ErrorBody {
  error: string;
  detail: string;
  [key: string]: unknown;
}

/** Maps fastify's built-in errors to stable codes. */
function fromFastify(error: FastifyError): { status: number; body: ErrorBody } | null {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, body: { error: 'payload_too_large', detail: error.message } };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, body: { error: 'unsupported_media_type', detail: error.message } };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, body: { error: 'invalid_json', detail: 'request body is not valid JSON' } };
    default:
      break;
  }
  if (error instanceof SyntaxError || error.statusCode === 400) {
    return { status: 400, body: { error: 'bad_request', detail: error.message } };
  }
  return null;
}

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof HttpError) {
      return reply.status(error.status).send({ error: error.code, detail: error.message, ...error.extra });
    }
    const known = fromFastify(error);
    if (known) return reply.status(known.status).send(known.body);
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

/** Validates `value` with a zod schema, or throws 422 `validation_failed` naming each bad field. */
export function parseOr422<T>(schema: z.ZodType<T>, value: unknown, root = 'body'): T {
  const parsed = schema.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  throw new HttpError(
    422,
    'validation_failed',
    parsed.error.issues.map((i) => `${i.path.join('.') || root}: ${i.message}`).join('; '),
  );
}

/**
 * A Store's input error (a cursor it did not issue, …) as a 422, or null for anything else. Matched by shape
 * (`name` / `code`), not by class, so every Store implementation (SQLite, PostgreSQL) maps alike.
 */
export function storeInputError(error: unknown): HttpError | null {
  if (!(error instanceof Error)) return null;
  const code = (error as { code?: unknown }).code;
  if (error.name !== 'StoreInputError' && code !== 'invalid_cursor') return null;
  return new HttpError(
    422,
    typeof code === 'string' ? code : 'validation_failed',
    code === 'invalid_cursor' ? `cursor: ${error.message}` : error.message,
  );
}
