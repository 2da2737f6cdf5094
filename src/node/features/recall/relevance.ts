// How well a fact matches a recall query: a small lexical score, documented so clients can predict it.
// Query and fields are cut into terms: NFKC-normalised, lower-cased, split on anything that is not a letter
// or a digit (`acme:site/1` → acme, site, 1). Each distinct query term (the first 32) adds 3 when it is a
// term of the entity, 2 of the relation, 1 of the value (strings as written, numbers and booleans as JSON
// text, the first 8,192 characters of each field only). A fact with score 0 does not match.
import type { FactRecord } from '../../../store/ports/facts.ts';

export const MAX_QUERY_TERMS = 32;
/** Bounds the work per fact: a 64 KiB text value is searched in its first 8,192 characters. */
export const MAX_FIELD_CHARS = 8192;
export const WEIGHTS = { entity: 3, relation: 2, value: 1 } as const;

const SEPARATORS = /[^\p{L}\p{N}]+/u;

function terms(text: string): string[] {
  return text.normalize('NFKC').toLowerCase().split(SEPARATORS).filter(Boolean);
}

/** The distinct terms of a query, in order, at most MAX_QUERY_TERMS. */
export function queryTerms(query: string): string[] {
  return [...new Set(terms(query))].slice(0, MAX_QUERY_TERMS);
}

function valueText(record: FactRecord): string {
  const { v } = record.value;
  return v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
}

const fieldTerms = (text: string) => new Set(terms(text.slice(0, MAX_FIELD_CHARS)));

/** The fact's score for the query terms (see above); 0 = no match. */
export function relevance(record: FactRecord, query: readonly string[]): number {
  const entity = fieldTerms(record.entity);
  const relation = fieldTerms(record.relation);
  const value = fieldTerms(valueText(record));
  let score = 0;
  for (const term of query) {
    if (entity.has(term)) score += WEIGHTS.entity;
    if (relation.has(term)) score += WEIGHTS.relation;
    if (value.has(term)) score += WEIGHTS.value;
  }
  return score;
}
