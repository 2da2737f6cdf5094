import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import canonicalizeModule from 'canonicalize';
import { factCid } from '../../../src/node/features/facts/cid.ts';
import type { FactContent } from '../../../src/store/ports/facts.ts';

const canonicalize = canonicalizeModule as unknown as (input: unknown) => string;

const content: FactContent = {
  entity: 'stigmem://example.org/user/alice',
  relation: 'memory:role',
  value: { type: 'string', v: 'CTO' },
  source: 'stigmem://example.org/agent/assistant',
  confidence: 0.5,
  scope: 'company',
};

test('known vector: sha256 over the JCS text written out by hand', () => {
  // RFC 8785: keys sorted by UTF-16 code units, no whitespace, numbers in ECMAScript form.
  const jcs =
    '{"confidence":0.5,"entity":"stigmem://example.org/user/alice","relation":"memory:role",' +
    '"scope":"company","source":"stigmem://example.org/agent/assistant","value":{"type":"string","v":"CTO"}}';
  assert.equal(canonicalize(content), jcs);
  const expected = `sha256:${createHash('sha256').update(jcs, 'utf8').digest('hex')}`;
  assert.equal(factCid(content), expected);
  assert.match(expected, /^sha256:[0-9a-f]{64}$/);
});

test('same content in any key order → same CID', () => {
  const reordered = {
    value: { v: 'CTO', type: 'string' },
    scope: 'company',
    source: 'stigmem://example.org/agent/assistant',
    confidence: 0.5,
    relation: 'memory:role',
    entity: 'stigmem://example.org/user/alice',
  } as FactContent;
  assert.equal(factCid(reordered), factCid(content));
});

test('only the six content fields count: record fields and extra properties do not change the CID', () => {
  const record = {
    ...content,
    id: 'x',
    timestamp: '2026-01-01T00:00:00Z',
    hlc: '001763900000000-000003',
    origin_node_id: 'spiffe://example.org/node/a',
  };
  assert.equal(factCid(record), factCid(content));
});

test('every content field changes the CID', () => {
  const base = factCid(content);
  const variants: FactContent[] = [
    { ...content, entity: 'stigmem://example.org/user/bob' },
    { ...content, relation: 'memory:title' },
    { ...content, value: { type: 'text', v: 'CTO' } },
    { ...content, value: { type: 'string', v: 'CEO' } },
    { ...content, source: 'user:alice' },
    { ...content, confidence: 0.51 },
    { ...content, scope: 'public' },
  ];
  const cids = new Set(variants.map(factCid));
  assert.equal(cids.size, variants.length);
  assert.ok(!cids.has(base));
});

test('a null value hashes the same with or without v', () => {
  const withV: FactContent = { ...content, value: { type: 'null', v: null } };
  const withoutV = { ...content, value: { type: 'null' } } as unknown as FactContent;
  assert.equal(factCid(withoutV), factCid(withV));
  assert.ok(
    canonicalize({ ...content, value: { type: 'null', v: null } }).includes(
      '"value":{"type":"null","v":null}',
    ),
  );
});

test('numbers hash in their JCS form: 1, 1.0 and 1e0 are one number', () => {
  const a = factCid({ ...content, confidence: 1 });
  const b = factCid({ ...content, confidence: JSON.parse('1.0') as number });
  const c = factCid({ ...content, confidence: JSON.parse('1e0') as number });
  assert.equal(a, b);
  assert.equal(a, c);
});
