// The facts API's entries in the API description (routes.ts declares them): the request schemas are the
// ones the routes validate with (schema.ts); the example record is computed from the example body, so its
// CID and id are the ones a node gives that fact.
import { z } from 'zod';
import { component } from '../../http/openapi/components.ts';
import { describeRoute } from '../../http/openapi/route-doc.ts';
import { factCid } from './cid.ts';
import { factId } from './fact-id.ts';
import { DEFAULT_LIMIT, factInputSchema, factQuerySchema, factRecordSchema, MAX_LIMIT } from './schema.ts';

const TAG = 'facts';

export const factPageSchema = component(
  'FactPage',
  z.strictObject({
    facts: z.array(factRecordSchema),
    total: z
      .number()
      .int()
      .nonnegative()
      .meta({ description: 'Facts matching the filter, all pages together.' }),
    cursor: z
      .string()
      .nullable()
      .meta({ description: 'Pass it back for the next page; null on the last page.' }),
  }),
);

const factIdParams = z.strictObject({
  id: z.string().meta({ description: 'The fact id (UUID form), or its CID `sha256:<64 lowercase hex>`.' }),
});

const content = {
  entity: 'acme:site/1',
  relation: 'status',
  value: { type: 'string', v: 'up' },
  source: 'ops',
  confidence: 1,
  scope: 'company',
} as const;
const cid = factCid(content);

/** The fact the typed example body stores (on any node: its CID and id depend on the content only). */
export const exampleFactRecord: z.input<typeof factRecordSchema> = {
  ...content,
  id: factId(cid),
  cid,
  timestamp: '2026-05-01T10:00:00.000Z',
  valid_until: null,
  hlc: '001777629600000-000000',
  attested: null,
  received_from: null,
  origin_node_id: 'spiffe://example.org/node/a',
  origin_sig: { kid: '5d41402abc4b2a76', sig: `${'A'.repeat(85)}Q` },
};

export const assertFactDoc = describeRoute({
  tag: TAG,
  summary: 'Assert a fact',
  description:
    'Stores a fact of this node (Stigmem-shaped). The same content again answers 200 with the record ' +
    'stored first: asserting is idempotent, and ids are derived from the CID. `scope` defaults to `local`, ' +
    '`confidence` to 1, `source` to the API key’s entity URI; `value` may be a plain JSON scalar (Stigmem ' +
    'short form). Unknown fields are refused. Body at most 64 KiB, `Content-Type: application/json`.',
  body: factInputSchema,
  responses: {
    201: {
      description: 'Stored: the record.',
      schema: factRecordSchema,
      example: exampleFactRecord,
      headers: { location: 'The fact’s URL, `/v1/facts/{id}`.' },
    },
    200: { description: 'The same content was stored before: that record.', schema: factRecordSchema },
  },
  errors: ['id_conflict', 'hlc_out_of_range', 'store_unavailable'],
  examples: {
    typed: {
      summary: 'A typed value',
      body: {
        entity: content.entity,
        relation: content.relation,
        value: content.value,
        source: content.source,
        scope: content.scope,
      },
    },
    shortForm: {
      summary: 'Stigmem short form: a plain value, the caller as source',
      body: { entity: 'user:alice', relation: 'memory:role', value: 'engineer', scope: 'team' },
    },
    expiring: {
      summary: 'A number with a confidence and an expiry',
      body: {
        entity: 'acme:site/1',
        relation: 'load',
        value: { type: 'number', v: 0.42 },
        source: 'monitor',
        confidence: 0.9,
        scope: 'company',
        valid_until: '2027-01-01T00:00:00Z',
      },
    },
  },
});

export const listFactsDoc = describeRoute({
  tag: TAG,
  summary: 'List facts',
  description: `Filters combine with AND; pages of \`limit\` (1–${MAX_LIMIT}, default ${DEFAULT_LIMIT}) in a stable order, \`cursor\` from the previous page. Unknown parameters are refused.`,
  query: factQuerySchema,
  responses: {
    200: {
      description: 'One page.',
      schema: factPageSchema,
      example: { facts: [exampleFactRecord], total: 1, cursor: null },
    },
  },
  errors: ['invalid_cursor', 'store_unavailable'],
  examples: {
    byEntity: {
      summary: 'The facts about one entity, ten at a time',
      query: { entity: 'acme:site/1', limit: '10' },
    },
    byScope: { summary: 'Company-wide facts', query: { scope: 'company' } },
  },
});

export const getFactDoc = describeRoute({
  tag: TAG,
  summary: 'Get one fact by id or CID',
  params: factIdParams,
  responses: { 200: { description: 'The record.', schema: factRecordSchema, example: exampleFactRecord } },
  errors: ['not_found', 'store_unavailable'],
  examples: {
    byId: { summary: 'By id', params: { id: exampleFactRecord.id } },
    byCid: { summary: 'By CID', params: { id: cid } },
  },
});
