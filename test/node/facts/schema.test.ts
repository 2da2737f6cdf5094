import assert from 'node:assert/strict';
import { test } from 'node:test';
import { httpStatusOf, NodeError } from '../../../src/node/errors.ts';
import { factCid } from '../../../src/node/features/facts/cid.ts';
import { parseFactInput, parseFactQuery, parseFactRecord } from '../../../src/node/features/facts/schema.ts';
import type { FactRecord } from '../../../src/store/ports/facts.ts';

const body = {
  entity: 'stigmem://example.org/user/alice',
  relation: 'memory:role',
  value: { type: 'string', v: 'CTO' },
  source: 'stigmem://example.org/agent/assistant',
  confidence: 0.9,
  scope: 'company',
};

/** Asserts a 422 whose detail starts with the field path and mentions the problem. */
function rejects(fn: () => unknown, field: string, problem: RegExp, code = 'validation_failed'): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof NodeError, `expected NodeError, got ${String(error)}`);
    assert.equal(httpStatusOf(error.code), 422);
    assert.equal(error.code, code);
    assert.ok(
      error.message.startsWith(`${field}: `),
      `detail ${JSON.stringify(error.message)} names ${field}`,
    );
    assert.match(error.message, problem);
    return true;
  });
}

test('a Stigmem body passes; confidence defaults to 1 and scope to local', () => {
  assert.deepEqual(parseFactInput(body), body);
  const { confidence: _c, scope: _s, ...minimal } = body;
  const parsed = parseFactInput(minimal);
  assert.equal(parsed.confidence, 1);
  assert.equal(parsed.scope, 'local');
});

test('every value type with a v of its JS type passes', () => {
  const values = [
    { type: 'string', v: '' },
    { type: 'text', v: 'line one\nline two\ttabbed 😀' },
    { type: 'number', v: -12.5e3 },
    { type: 'boolean', v: false },
    { type: 'datetime', v: '2026-01-02T03:04:05.123456+02:00' },
    { type: 'ref', v: 'stigmem://example.org/project/p-1' },
    { type: 'null', v: null },
  ];
  for (const value of values) assert.deepEqual(parseFactInput({ ...body, value }).value, value);
  assert.deepEqual(parseFactInput({ ...body, value: { type: 'null' } }).value, { type: 'null', v: null });
});

test('value: unknown type, wrong v type, missing v, extra key', () => {
  rejects(
    () => parseFactInput({ ...body, value: { type: 'integer', v: 1 } }),
    'value.type',
    /one of string, text/,
  );
  rejects(() => parseFactInput({ ...body, value: { type: 'string', v: 1 } }), 'value.v', /string/);
  rejects(() => parseFactInput({ ...body, value: { type: 'number', v: '1' } }), 'value.v', /finite number/);
  rejects(
    () => parseFactInput({ ...body, value: { type: 'boolean', v: 'true' } }),
    'value.v',
    /true or false/,
  );
  rejects(() => parseFactInput({ ...body, value: { type: 'null', v: 0 } }), 'value.v', /null/);
  rejects(() => parseFactInput({ ...body, value: { type: 'text' } }), 'value.v', /required/);
  rejects(
    () => parseFactInput({ ...body, value: { type: 'datetime', v: '2026-01-02' } }),
    'value.v',
    /RFC 3339/,
  );
  rejects(() => parseFactInput({ ...body, value: { type: 'ref', v: 'alice' } }), 'value.v', /scheme:rest/);
  rejects(
    () => parseFactInput({ ...body, value: { type: 'string', v: 'x', lang: 'en' } }),
    'value.lang',
    /unknown/,
  );
  rejects(() => parseFactInput({ ...body, value: ['CTO'] }), 'value', /object/);
  rejects(() => parseFactInput({ ...body, value: 'x'.repeat(8 * 1024 + 1) }), 'value.v', /at most 8192/);
  rejects(() => parseFactInput({ ...body, value: { type: 'text', v: 'a\u0000b' } }), 'value.v', /U\+0000/);
  rejects(() => parseFactInput({ ...body, value: { type: 'text', v: 'a\ud800b' } }), 'value.v', /surrogate/);
});

test('Stigmem short forms: a plain scalar value is the typed value; source may be left out', () => {
  for (const [plain, typed] of [
    ['CTO', { type: 'string', v: 'CTO' }],
    ['', { type: 'string', v: '' }],
    [42.5, { type: 'number', v: 42.5 }],
    [0, { type: 'number', v: 0 }],
    [false, { type: 'boolean', v: false }],
    [null, { type: 'null', v: null }],
  ] as const) {
    const parsed = parseFactInput({ ...body, value: plain });
    assert.deepEqual(parsed.value, typed, JSON.stringify(plain));
    // The same fact as its typed spelling: the CID is over the typed form.
    const { value: _, ...rest } = body;
    const content = { ...rest, scope: 'company' as const };
    assert.equal(factCid({ ...content, value: parsed.value }), factCid({ ...content, value: typed }));
  }
  const { source: _s, ...withoutSource } = body;
  assert.equal(parseFactInput(withoutSource).source, undefined, 'filled in by the service');
  rejects(() => parseFactInput({ ...body, source: '' }), 'source', /empty/);
  rejects(() => parseFactInput({ ...body, value: undefined }), 'value', /required/);
});

test('scope and confidence bounds', () => {
  rejects(() => parseFactInput({ ...body, scope: 'global' }), 'scope', /local, team, company, public/);
  rejects(() => parseFactInput({ ...body, confidence: -0.1 }), 'confidence', /0 to 1/);
  rejects(() => parseFactInput({ ...body, confidence: 1.1 }), 'confidence', /0 to 1/);
  rejects(() => parseFactInput({ ...body, confidence: '0.5' }), 'confidence', /number/);
  assert.equal(parseFactInput({ ...body, confidence: 0 }).confidence, 0);
});

test('entity rule: scheme:rest, no whitespace, no control or invisible characters, ≤ 1024', () => {
  for (const ok of ['stigmem://example.org/user/alice', 'user:alice', 'urn:uuid:1234', 'test:item/1', 'x:y'])
    assert.equal(parseFactInput({ ...body, entity: ok }).entity, ok);
  rejects(() => parseFactInput({ ...body, entity: 'alice' }), 'entity', /scheme:rest/);
  rejects(() => parseFactInput({ ...body, entity: '1http://x' }), 'entity', /scheme:rest/);
  rejects(() => parseFactInput({ ...body, entity: 'user:' }), 'entity', /scheme:rest/);
  rejects(() => parseFactInput({ ...body, entity: 'stigmem://' }), 'entity', /scheme:rest/);
  rejects(() => parseFactInput({ ...body, entity: 'stigmem:///user/alice' }), 'entity', /scheme:rest/);
  rejects(() => parseFactInput({ ...body, entity: 'user:alice smith' }), 'entity', /whitespace/);
  rejects(() => parseFactInput({ ...body, entity: ' user:alice' }), 'entity', /whitespace/);
  rejects(() => parseFactInput({ ...body, entity: 'user:ali\u0007ce' }), 'entity', /control/);
  rejects(() => parseFactInput({ ...body, entity: 'user:ali\u202ece' }), 'entity', /invisible/);
  rejects(() => parseFactInput({ ...body, entity: '' }), 'entity', /empty/);
  rejects(() => parseFactInput({ ...body, entity: `user:${'a'.repeat(1020)}` }), 'entity', /1024/);
  rejects(() => parseFactInput({ ...body, entity: 42 }), 'entity', /string/);
});

test('relation and source rules', () => {
  assert.equal(parseFactInput({ ...body, relation: 'says' }).relation, 'says');
  assert.equal(parseFactInput({ ...body, source: 'Alice Smith' }).source, 'Alice Smith');
  rejects(() => parseFactInput({ ...body, relation: 'has role' }), 'relation', /whitespace/);
  rejects(() => parseFactInput({ ...body, relation: '' }), 'relation', /empty/);
  rejects(() => parseFactInput({ ...body, relation: 'memory:\nrole' }), 'relation', /control/);
  rejects(() => parseFactInput({ ...body, source: ' me' }), 'source', /start or end with whitespace/);
  rejects(() => parseFactInput({ ...body, source: 'me\r\n' }), 'source', /control/);
  rejects(() => parseFactInput({ ...body, source: '' }), 'source', /empty/);
});

test('timestamps: RFC 3339 with offset, kept exactly as sent; null = not given', () => {
  const stamps = {
    timestamp: '2026-01-02T03:04:05.123456+02:00',
    valid_until: '2028-02-29T23:59:60z',
  };
  const parsed = parseFactInput({ ...body, ...stamps });
  assert.equal(parsed.timestamp, stamps.timestamp);
  assert.equal(parsed.valid_until, stamps.valid_until);
  const nulls = parseFactInput({ ...body, timestamp: null, valid_until: null });
  assert.equal(nulls.timestamp, null);
  assert.equal(nulls.valid_until, null);
  for (const bad of [
    '2026-01-02',
    '2026-01-02T03:04:05', // no offset
    '2026-01-02 03:04:05Z',
    '2026-02-29T00:00:00Z', // not a leap year
    '2026-13-01T00:00:00Z',
    '2026-01-02T24:00:00Z',
    '2026-01-02T03:04:05+24:00',
    '2026-01-02T03:04:05.Z',
    'yesterday',
  ]) {
    rejects(() => parseFactInput({ ...body, timestamp: bad }), 'timestamp', /RFC 3339/);
    rejects(() => parseFactInput({ ...body, valid_until: bad }), 'valid_until', /RFC 3339/);
  }
});

test('unknown top-level fields and non-object bodies are refused, naming the field', () => {
  rejects(
    () => parseFactInput({ ...body, valid_untill: '2026-01-01T00:00:00Z' }),
    'valid_untill',
    /unknown field/,
  );
  rejects(() => parseFactInput({ ...body, id: 'mine', hlc: 'x' }), 'id, hlc', /unknown field/);
  rejects(() => parseFactInput([body]), 'body', /JSON object/);
  rejects(() => parseFactInput('{"entity":1}'), 'body', /JSON object/);
  rejects(() => parseFactInput(undefined), 'body', /required/);
  const { relation: _r, ...noRelation } = body;
  rejects(() => parseFactInput(noRelation), 'relation', /required/);
});

test('query: filters, limit 1–500 as a decimal integer, one value per parameter, no unknown parameters', () => {
  assert.deepEqual(parseFactQuery({}), {});
  assert.deepEqual(parseFactQuery({ entity: 'user:alice', scope: 'team', limit: '500', cursor: 'abc' }), {
    entity: 'user:alice',
    scope: 'team',
    limit: 500,
    cursor: 'abc',
  });
  for (const limit of ['0', '501', 'x', '1.5', '-1', '', ' 5', '1e2'])
    rejects(() => parseFactQuery({ limit }), 'limit', /integer from 1 to 500/);
  rejects(() => parseFactQuery({ limit: ['5', '6'] }), 'limit', /once/);
  rejects(() => parseFactQuery({ scope: 'galaxy' }), 'scope', /one of/);
  rejects(() => parseFactQuery({ min_confidence: '0.5' }), 'min_confidence', /unknown parameter/);
  rejects(() => parseFactQuery({ entity: '' }), 'entity', /empty/);
});

function peerRecord(overrides: Partial<FactRecord> = {}): FactRecord {
  const content = {
    entity: 'test:e',
    relation: 'test:r',
    value: { type: 'number' as const, v: 3 },
    source: 'seed',
    confidence: 1,
    scope: 'company' as const,
  };
  return {
    id: '0b6d4c1e-4a1f-4f5e-9b0e-6f1f0c6b8d11',
    ...content,
    timestamp: '2026-01-02T03:04:05Z',
    valid_until: null,
    hlc: '001763900000000-000003',
    cid: factCid(content),
    attested: null,
    received_from: null,
    origin_node_id: 'spiffe://example.org/node/a',
    origin_sig: { kid: '0123456789abcdef', sig: 'A'.repeat(86) },
    ...overrides,
  };
}

test('peer record: complete and consistent passes unchanged; attested may be an object', () => {
  const record = peerRecord();
  assert.deepEqual(parseFactRecord(record), record);
  const attested = peerRecord({ attested: { alg: 'EdDSA', sig: 'abc' } });
  assert.deepEqual(parseFactRecord(attested).attested, { alg: 'EdDSA', sig: 'abc' });
});

test('peer record: CID must equal the recomputed one → cid_mismatch', () => {
  const record = peerRecord();
  rejects(
    () => parseFactRecord({ ...record, value: { type: 'number', v: 4 } }),
    'cid',
    /does not match/,
    'cid_mismatch',
  );
  rejects(
    () => parseFactRecord({ ...record, cid: `sha256:${'0'.repeat(64)}` }),
    'cid',
    /does not match/,
    'cid_mismatch',
  );
  rejects(() => parseFactRecord({ ...record, cid: 'sha256:ABC' }), 'cid', /sha256:<64 hex>/);
});

test('peer record: every field required and checked', () => {
  const record = peerRecord();
  for (const field of Object.keys(record)) {
    const { [field]: _dropped, ...missing } = record as unknown as Record<string, unknown>;
    rejects(() => parseFactRecord(missing), field, /required/);
  }
  rejects(() => parseFactRecord({ ...record, hlc: '1763900000000.003' }), 'hlc', /fixed-width HLC/);
  rejects(() => parseFactRecord({ ...record, attested: 'yes' }), 'attested', /null or an object/);
  rejects(() => parseFactRecord({ ...record, attested: ['sig'] }), 'attested', /null or an object/);
  rejects(() => parseFactRecord({ ...record, origin_node_id: 'node a' }), 'origin_node_id', /whitespace/);
  rejects(() => parseFactRecord({ ...record, timestamp: '2026-01-02' }), 'timestamp', /RFC 3339/);
  rejects(() => parseFactRecord({ ...record, id: '' }), 'id', /empty/);
  rejects(() => parseFactRecord({ ...record, contradicted: false }), 'contradicted', /unknown field/);
});
