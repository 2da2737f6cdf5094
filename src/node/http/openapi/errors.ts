// The error half of each operation, from the error catalog: the codes a route can answer with (what its
// access, quota, audit entry and inputs imply on its listener, plus the codes it declares), grouped by HTTP
// status, each status a `{error, detail}` body whose `error` is one of that status's codes.
import { z } from 'zod';
import { ERROR_CATALOG, type ErrorCode, httpStatusOf } from '../../errors.ts';
import type { RouteAccess } from '../route-config.ts';
import { component, type JsonSchema } from './components.ts';
import type { RouteDoc } from './route-doc.ts';

const CODES = Object.keys(ERROR_CATALOG) as [ErrorCode, ...ErrorCode[]];

/** Every error answer of the node (error-handler.ts); some codes add fields (quota_exceeded: retry_after …). */
export const errorBodySchema = component(
  'Error',
  z
    .looseObject({
      error: z.enum(CODES).meta({ description: 'The catalog code: stable, match on it.' }),
      detail: z.string().meta({ description: 'What happened, for a human; its wording may change.' }),
    })
    .meta({
      description: 'An error answer. Some codes carry more fields (`quota_exceeded`: `retry_after` …).',
    }),
);

export type Listener = 'api' | 'federation';

/** Any route: a malformed URL, an unexpected failure. */
const ALWAYS: ErrorCode[] = ['bad_request', 'internal'];
const BODY: ErrorCode[] = [
  'invalid_json',
  'payload_too_large',
  'unsupported_media_type',
  'validation_failed',
];
// Checking a key or a token reads the store (managed keys, seen token ids): it can be unavailable.
const API_KEY: ErrorCode[] = ['unauthorized', 'forbidden', 'too_many_auth_failures', 'store_unavailable'];
const PEER_TOKEN: ErrorCode[] = [
  'store_unavailable',
  'token_missing',
  'token_invalid',
  'token_replayed',
  'token_binding_mismatch',
  'peer_not_approved',
  'peer_revoked',
];

export interface RouteFacts {
  listener: Listener;
  access: RouteAccess;
  quota: boolean;
  audited: boolean;
  doc: RouteDoc;
}

/** The catalog codes a route can answer with, in catalog order. */
export function errorCodesOf(route: RouteFacts): ErrorCode[] {
  const { doc } = route;
  const codes = new Set<ErrorCode>([...ALWAYS, ...(doc.errors ?? [])]);
  const add = (more: ErrorCode[]) => {
    for (const code of more) codes.add(code);
  };
  if (doc.body) add(BODY);
  if (doc.query || doc.params) add(['validation_failed']);
  if (doc.params) add(['uri_too_long']);
  if (route.access !== 'open') add(route.listener === 'api' ? API_KEY : PEER_TOKEN);
  if (route.quota) add(['quota_exceeded']);
  if (route.audited) add(['audit_write_failed']);
  return CODES.filter((code) => codes.has(code));
}

/** The OpenAPI responses for `codes`, one per status. */
export function errorResponses(
  codes: readonly ErrorCode[],
  errorRef: JsonSchema,
): Record<string, JsonSchema> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes)
    byStatus.set(httpStatusOf(code), [...(byStatus.get(httpStatusOf(code)) ?? []), code]);
  const responses: Record<string, JsonSchema> = {};
  for (const [status, group] of [...byStatus].sort(([a], [b]) => a - b)) {
    const first = group[0] as ErrorCode;
    responses[String(status)] = {
      description: group.map((code) => `\`${code}\`: ${ERROR_CATALOG[code].message}`).join('; '),
      content: {
        'application/json': {
          schema: { allOf: [errorRef, { properties: { error: { enum: group } } }] },
          example: errorExample(first),
        },
      },
    };
  }
  return responses;
}

/** The example body of a code: its catalog meaning as the detail. */
export function errorExample(code: ErrorCode): { error: ErrorCode; detail: string } {
  return { error: code, detail: ERROR_CATALOG[code].message };
}
