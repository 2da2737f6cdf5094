// Content identifier of a fact: `sha256:` + hex SHA-256 of the RFC 8785 (JCS) canonical JSON of exactly
// {entity, relation, value, source, confidence, scope}. JCS fixes key order, whitespace and number form,
// so every node computes the same CID for the same content, whatever the JSON it was sent in.
import { hash } from 'node:crypto';
import type { FactContent } from '../../../store/ports/facts.ts';
import { canonicalJson } from '../identity/canonical-json.ts';

export const CID_PATTERN = /^sha256:[0-9a-f]{64}$/;

/** Exactly the fields the CID covers, copied so no extra property of the input can leak into the hash. */
export function cidContent(content: FactContent): FactContent {
  const { entity, relation, value, source, confidence, scope } = content;
  // `{type:'null'}` and `{type:'null', v:null}` are the same value and must hash the same.
  const v = value.type === 'null' ? null : value.v;
  return {
    entity,
    relation,
    value: { type: value.type, v } as FactContent['value'],
    source,
    confidence,
    scope,
  };
}

export function factCid(content: FactContent): string {
  const json = canonicalJson(cidContent(content));
  return `sha256:${hash('sha256', json, 'hex')}`;
}
