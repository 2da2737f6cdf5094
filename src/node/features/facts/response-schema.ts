// Fastify response schemas of the fact replies (GET /v1/facts, GET /v1/facts/:id, POST /v1/facts, the
// federation feed): fastify compiles them with fast-json-stringify into a serializer that writes the known
// fields directly instead of JSON.stringify walking each record. They only serialize: the API description
// is built from the routes' `config.openapi` (zod), not from these, and nothing is validated with them.
//
// The output is the JSON JSON.stringify gave: the fields in the order the stores build a record, null where
// the record has null (`nullable`, else fast-json-stringify would write "" or 0), an absent (undefined)
// field left out (no `required`), `value` and `attested` (arbitrary JSON) through JSON.stringify as they
// are (the empty schema). A property a record does not declare here is not written.

const string = { type: 'string' } as const;
const nullableString = { type: 'string', nullable: true } as const;
/** Any JSON: serialized by JSON.stringify, as it is. */
const anyJson = {} as const;

/** One FactRecord (store/ports/facts.ts), its fields in factFromRow's order. */
export const factRecordResponse = {
  type: 'object',
  properties: {
    id: string,
    entity: string,
    relation: string,
    value: anyJson,
    source: string,
    confidence: { type: 'number' },
    scope: string,
    timestamp: string,
    valid_until: nullableString,
    hlc: string,
    cid: string,
    attested: anyJson,
    received_from: nullableString,
    origin_node_id: string,
    origin_sig: {
      type: 'object',
      nullable: true,
      properties: { kid: string, sig: string },
    },
  },
} as const;

/** GET /v1/facts: a FactPage. */
export const factPageResponse = {
  type: 'object',
  properties: {
    facts: { type: 'array', items: factRecordResponse },
    total: { type: 'number' },
    cursor: nullableString,
  },
} as const;

/** The federation feed page (FederationPage with the scope-tagged cursor). */
export const federationPageResponse = {
  type: 'object',
  properties: {
    facts: { type: 'array', items: factRecordResponse },
    cursor: string,
    more: { type: 'boolean' },
    remaining: { type: 'number' },
  },
} as const;
