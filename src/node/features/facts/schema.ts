// The wire schemas of facts (zod 4): what a client may POST, what a peer may send in its feed, and the
// query of GET /v1/facts. A failure becomes NodeError(422, 'validation_failed', '<field path>: <problem>').
//
// Rules:
// - entity, value.v of a `ref`, origin_node_id: a URI-like `scheme:rest` (RFC 3986 scheme, then at least
//   one character; `scheme://` needs an authority), at most 1024 characters, no whitespace, no control or
//   invisible (format) characters. That admits Stigmem's formal `stigmem://org/type/id` and its older
//   informal `user:alice`, and refuses plain words whose meaning differs from node to node. Nothing is
//   normalized (no lower-casing): the CID is over the text as sent, so changing it would change the CID.
// - relation: 1–1024 characters, no whitespace, no control/invisible characters (`memory:role`, `says`).
// - source: 1–1024 characters, no control/invisible characters, no leading or trailing whitespace.
// - Every string: no U+0000 and no lone surrogate. Neither survives a round trip through SQLite/PostgreSQL
//   text unchanged, and a changed byte would make the stored fact disagree with its CID.
// - scope defaults to `local` when absent, as Stigmem's reference node does: a client that forgets the
//   scope keeps the fact on this node instead of federating it.
// - Stigmem clients' short forms (issue 12), POST bodies only: `value` may be a plain JSON scalar (string →
//   {type: string}, number → number, boolean → boolean, null → null), and `source` may be left out (the
//   service fills in the caller's entity URI). The fact is stored, hashed and returned in the typed form,
//   so a short body and its typed spelling are the same fact with the same CID. Peer records stay typed.
// - Unknown fields are refused (422), not dropped: a misspelt `valid_untill` or `scope_` would otherwise be
//   accepted silently and the fact stored without the expiry or with the default scope the client did
//   not mean, and the mistake would be content-addressed and replicated for good.
import { z } from 'zod';
import {
  type FactRecord,
  type FactValue,
  SCOPES,
  type Scope,
  VALUE_TYPES,
} from '../../../store/ports/facts.ts';
import { NodeError } from '../../errors.ts';
import { component, describedAs } from '../../http/openapi/components.ts';
import { parseInput } from '../../validate.ts';

import { CID_PATTERN, factCid } from './cid.ts';
import { isHlc } from './hlc.ts';
import { isRfc3339DateTime } from './rfc3339.ts';

export const MAX_IDENTIFIER_LENGTH = 1024;
export const MAX_STRING_VALUE_LENGTH = 8 * 1024;
export const MAX_TEXT_VALUE_LENGTH = 64 * 1024;
export const MAX_ID_LENGTH = 128;
export const MAX_LIMIT = 500;
export const DEFAULT_LIMIT = 50;
export const DEFAULT_SCOPE: Scope = 'local';

const LONE_SURROGATE = /\p{Cs}/u;
const CONTROL_OR_INVISIBLE = /[\p{Cc}\p{Cf}\p{Cs}]/u;
const WHITESPACE = /\s/u;
const URI_LIKE = /^[A-Za-z][A-Za-z0-9+.-]*:(?!\/\/\/)(?!\/\/$).+$/su;

type Check = (text: string) => string | null;

const notEmpty: Check = (s) => (s.length === 0 ? 'must not be empty' : null);
const maxLength =
  (n: number): Check =>
  (s) =>
    s.length > n ? `must be at most ${n} characters (got ${s.length})` : null;
const storable: Check = (s) =>
  s.includes('\u0000') || LONE_SURROGATE.test(s)
    ? 'contains U+0000 or an unpaired surrogate, which cannot be stored'
    : null;
const visible: Check = (s) =>
  CONTROL_OR_INVISIBLE.test(s) ? 'contains a control or invisible character' : null;
const noWhitespace: Check = (s) => (WHITESPACE.test(s) ? 'must not contain whitespace' : null);
const trimmed: Check = (s) => (s.trim() !== s ? 'must not start or end with whitespace' : null);
const uriLike: Check = (s) =>
  URI_LIKE.test(s)
    ? null
    : 'must be a URI-like scheme:rest, e.g. stigmem://example.org/user/alice or user:alice';
const dateTime: Check = (s) =>
  isRfc3339DateTime(s) ? null : 'must be an RFC 3339 date-time with offset, e.g. 2026-01-02T03:04:05Z';

function problem(text: string, checks: Check[]): string | null {
  for (const check of checks) {
    const found = check(text);
    if (found) return found;
  }
  return null;
}

const typeError = (expected: string) => (issue: { input?: unknown }) =>
  issue.input === undefined ? 'is required' : `must be ${expected}`;

function checkedString(checks: Check[]) {
  return z.string({ error: typeError('a string') }).superRefine((text, ctx) => {
    const found = problem(text, checks);
    if (found) ctx.addIssue({ code: 'custom', message: found });
  });
}

const URI_CHECKS = [notEmpty, maxLength(MAX_IDENTIFIER_LENGTH), storable, visible, noWhitespace, uriLike];
// The meta only describes (in the API description) what the checks enforce.
const uriField = checkedString(URI_CHECKS).meta({
  maxLength: MAX_IDENTIFIER_LENGTH,
  description:
    'A URI-like `scheme:rest` without whitespace, e.g. `stigmem://example.org/user/alice` or `user:alice`.',
});
const relationField = checkedString([
  notEmpty,
  maxLength(MAX_IDENTIFIER_LENGTH),
  storable,
  visible,
  noWhitespace,
]).meta({ minLength: 1, maxLength: MAX_IDENTIFIER_LENGTH, description: 'No whitespace, e.g. `status`.' });
const sourceField = checkedString([
  notEmpty,
  maxLength(MAX_IDENTIFIER_LENGTH),
  storable,
  visible,
  trimmed,
]).meta({
  minLength: 1,
  maxLength: MAX_IDENTIFIER_LENGTH,
  description: 'Who says so; no leading or trailing whitespace.',
});
const dateTimeField = checkedString([dateTime]).meta({
  format: 'date-time',
  description: 'An RFC 3339 date-time with offset, kept exactly as given.',
});
const confidenceField = z
  .number({ error: typeError('a number from 0 to 1') })
  .min(0, { error: 'must be from 0 to 1' })
  .max(1, { error: 'must be from 0 to 1' });
const scopeField = z.enum(SCOPES, { error: typeError(`one of ${SCOPES.join(', ')}`) });

/** Why `v` does not fit `type`, or null. */
function valueProblem(type: FactValue['type'], v: unknown): string | null {
  if (type === 'null') return v === null || v === undefined ? null : 'must be null for type "null"';
  if (v === undefined) return 'is required';
  switch (type) {
    case 'number':
      return typeof v === 'number' && Number.isFinite(v) ? null : 'must be a finite number for type "number"';
    case 'boolean':
      return typeof v === 'boolean' ? null : 'must be true or false for type "boolean"';
    default:
      break;
  }
  if (typeof v !== 'string') return `must be a string for type "${type}"`;
  switch (type) {
    case 'string':
      return problem(v, [maxLength(MAX_STRING_VALUE_LENGTH), storable]);
    case 'text':
      return problem(v, [maxLength(MAX_TEXT_VALUE_LENGTH), storable]);
    case 'datetime':
      return problem(v, [dateTime]);
    case 'ref':
      return problem(v, URI_CHECKS);
  }
}

const valueField = z
  .strictObject(
    {
      type: z.enum(VALUE_TYPES, { error: typeError(`one of ${VALUE_TYPES.join(', ')}`) }),
      v: z.unknown().optional(),
    },
    { error: typeError('an object {type, v}') },
  )
  .superRefine((value, ctx) => {
    const found = valueProblem(value.type, value.v);
    if (found) ctx.addIssue({ code: 'custom', path: ['v'], message: found });
  })
  // Stigmem clients may send `{type: "null"}` without `v`; it is stored (and hashed) as `v: null`.
  .transform((value) => ({ type: value.type, v: value.type === 'null' ? null : value.v }) as FactValue)
  // Always passes (the checks above are stricter): it names the stored form for the API description.
  .pipe(
    component(
      'FactValue',
      z.discriminatedUnion('type', [
        z.object({ type: z.enum(['string', 'text', 'datetime', 'ref']), v: z.string() }),
        z.object({ type: z.literal('number'), v: z.number() }),
        z.object({ type: z.literal('boolean'), v: z.boolean() }),
        z.object({ type: z.literal('null'), v: z.null() }),
      ]),
    ),
  );

/** A Stigmem client's plain scalar value, in our typed form; anything else is left for valueField to judge. */
function typedScalar(value: unknown): unknown {
  if (value === null) return { type: 'null', v: null };
  switch (typeof value) {
    case 'string':
      return { type: 'string', v: value };
    case 'number':
      return { type: 'number', v: value };
    case 'boolean':
      return { type: 'boolean', v: value };
    default:
      return value;
  }
}

const inputValueField = describedAs(z.preprocess(typedScalar, valueField), (typed) => ({
  anyOf: [
    typed,
    {
      type: ['string', 'number', 'boolean', 'null'],
      description: 'Stigmem short form: stored as `{type, v}`.',
    },
  ],
}));

const bodyError = typeError('a JSON object');

/** POST /v1/facts body. */
export const factInputSchema = z.strictObject(
  {
    entity: uriField,
    relation: relationField,
    value: inputValueField,
    // Absent: the authenticated caller's entity URI (FactService.assert).
    source: sourceField.optional(),
    confidence: confidenceField.default(1),
    scope: scopeField.default(DEFAULT_SCOPE),
    // null is accepted as "not given": clients serialising an unset optional send it that way.
    valid_until: dateTimeField.nullable().optional(),
    timestamp: dateTimeField.nullable().optional(),
  },
  { error: bodyError },
);

export type FactInput = z.output<typeof factInputSchema>;

/**
 * A stored fact, as the API answers it and as a peer's federation feed must send it: every field required,
 * CID checked separately.
 */
export const factRecordSchema = component(
  'FactRecord',
  z.strictObject(
    {
      id: checkedString([notEmpty, maxLength(MAX_ID_LENGTH), storable, visible, noWhitespace]),
      entity: uriField,
      relation: relationField,
      value: valueField,
      source: sourceField,
      confidence: confidenceField,
      scope: scopeField,
      timestamp: dateTimeField,
      valid_until: dateTimeField.nullable(),
      hlc: z
        .string({ error: typeError('a string') })
        .refine(isHlc, { error: 'must be a fixed-width HLC like 001763900000000-000003' }),
      cid: z
        .string({ error: typeError('a string') })
        .regex(CID_PATTERN, { error: 'must be sha256:<64 hex>' }),
      // Sizes and depth are the node's settings (FactService.checkRemote); the strict JSON parse caps depth first.
      attested: z.union([z.null(), z.record(z.string(), z.unknown())], {
        error: typeError('null or an object'),
      }),
      received_from: uriField.nullable(),
      origin_node_id: uriField,
      // Null reaches the origin check, which refuses it with its own reason (origin_unverified).
      origin_sig: z
        .strictObject(
          {
            kid: checkedString([notEmpty, maxLength(64), storable, visible, noWhitespace]),
            sig: z.string({ error: typeError('a string') }).regex(/^[A-Za-z0-9_-]{86}$/, {
              error: 'must be 64 bytes in base64url (86 characters)',
            }),
          },
          { error: typeError('null or an object {kid, sig}') },
        )
        .nullable(),
    },
    { error: typeError('a JSON object') },
  ),
);

const filterField = checkedString([notEmpty, maxLength(MAX_IDENTIFIER_LENGTH), storable]);
const limitField = z.string({ error: typeError('given once') }).transform((text, ctx) => {
  const n = /^\d{1,4}$/.test(text) ? Number(text) : Number.NaN;
  if (n >= 1 && n <= MAX_LIMIT) return n;
  ctx.addIssue({ code: 'custom', message: `must be an integer from 1 to ${MAX_LIMIT}` });
  return z.NEVER;
});

/** GET /v1/facts query. Unknown parameters are refused for the same reason as unknown body fields. */
export const factQuerySchema = z.strictObject(
  {
    entity: filterField.optional(),
    relation: filterField.optional(),
    source: filterField.optional(),
    scope: scopeField.optional(),
    limit: limitField.optional(),
    cursor: checkedString([notEmpty, maxLength(MAX_IDENTIFIER_LENGTH), storable]).optional(),
  },
  { error: typeError('a query string') },
);

export type FactQuery = z.output<typeof factQuerySchema>;

export const parseFactInput = (body: unknown): FactInput => parseInput(factInputSchema, body, 'body');

export const parseFactQuery = (query: unknown): FactQuery =>
  parseInput(factQuerySchema, query, 'query', 'unknown parameter');

/** A peer's record, validated; its CID must equal the one recomputed here (else `cid_mismatch`). */
export function parseFactRecord(input: unknown): FactRecord {
  const record: FactRecord = parseInput(factRecordSchema, input, 'record');
  const expected = factCid(record);
  if (record.cid !== expected)
    throw new NodeError(
      'cid_mismatch',
      `cid: ${record.cid} does not match the fact's content (computed ${expected})`,
    );
  return record;
}
