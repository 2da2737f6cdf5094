// The query of GET /v1/admin/audit, validated strictly (unknown parameters refused, as for /v1/facts).
// since/until accept any RFC 3339 date-time and are normalized to UTC with millisecond precision — the
// form the log's own `ts` has — rounding up, which keeps "since" inclusive and "until" exclusive exactly
// for millisecond timestamps whatever offset or precision the client wrote.
import { z } from 'zod';
import type { AuditFilter } from '../../../store/ports/audit.ts';
import { parseInput } from '../../validate.ts';
import { isRfc3339DateTime } from '../facts/rfc3339.ts';
import { AUDIT_EVENT_TYPES } from './event-types.ts';

export const AUDIT_MAX_LIMIT = 500;
export const AUDIT_DEFAULT_LIMIT = 100;
const MAX_TEXT = 1024;

/** An RFC 3339 date-time as UTC milliseconds, rounded up to the next millisecond; null if not one. */
export function rfc3339ToMillisCeil(text: string): number | null {
  if (!isRfc3339DateTime(text)) return null;
  // A leap second (:60) is the instant right after :59.999…; Date.parse does not take it.
  const leap = /:60(?=[.Zz+-])/.test(text.slice(16));
  const base = Date.parse(leap ? `${text.slice(0, 17)}59${text.slice(19)}` : text);
  if (Number.isNaN(base)) return null;
  const fraction = /\.(\d+)/.exec(text.slice(19))?.[1] ?? '';
  const belowMillis = /[1-9]/.test(fraction.slice(3)) ? 1 : 0;
  return base + (leap ? 1000 : 0) + belowMillis;
}

const given = (expected: string) => (issue: { input?: unknown }) =>
  issue.input === undefined ? 'is required' : `must be ${expected}, given once`;

const text = z
  .string({ error: given('a string') })
  .min(1, { error: 'must not be empty' })
  .max(MAX_TEXT, { error: `must be at most ${MAX_TEXT} characters` })
  .refine((s) => !s.includes('\u0000') && !/\p{Cs}/u.test(s), {
    error: 'contains U+0000 or an unpaired surrogate',
  });

const instant = z.string({ error: given('a string') }).transform((s, ctx) => {
  const millis = rfc3339ToMillisCeil(s);
  if (millis !== null) return new Date(millis).toISOString();
  ctx.addIssue({
    code: 'custom',
    message: 'must be an RFC 3339 date-time with offset, e.g. 2026-01-02T03:04:05Z',
  });
  return z.NEVER;
});

const limit = z.string({ error: given('a string') }).transform((s, ctx) => {
  const n = /^\d{1,4}$/.test(s) ? Number(s) : Number.NaN;
  if (n >= 1 && n <= AUDIT_MAX_LIMIT) return n;
  ctx.addIssue({ code: 'custom', message: `must be an integer from 1 to ${AUDIT_MAX_LIMIT}` });
  return z.NEVER;
});

/** GET /v1/admin/audit query (also its description in the API). */
export const auditQuerySchema = z
  .strictObject(
    {
      event_type: z
        .enum(AUDIT_EVENT_TYPES, { error: given(`one of ${AUDIT_EVENT_TYPES.join(', ')}`) })
        .optional(),
      principal: text.optional(),
      since: instant.optional(),
      until: instant.optional(),
      cursor: text.optional(),
      limit: limit.optional(),
    },
    { error: given('a query string') },
  )
  .refine((q) => q.since === undefined || q.until === undefined || q.since <= q.until, {
    path: ['until'],
    error: 'must not be before since',
  });

export interface AuditQuery {
  filter: AuditFilter;
  limit: number;
  cursor?: string;
}

export function parseAuditQuery(query: unknown): AuditQuery {
  const { event_type, principal, since, until, cursor, limit } = parseInput(
    auditQuerySchema,
    query,
    'query',
    'unknown parameter',
  );
  const filter: AuditFilter = {};
  if (event_type !== undefined) filter.event_type = event_type;
  if (principal !== undefined) filter.principal = principal;
  if (since !== undefined) filter.since = since;
  if (until !== undefined) filter.until = until;
  return {
    filter,
    limit: limit ?? AUDIT_DEFAULT_LIMIT,
    ...(cursor !== undefined ? { cursor } : {}),
  };
}
