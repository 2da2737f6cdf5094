// The wire of POST /v1/recall: the body {query, scope?, token_budget?} and the Stigmem-Verify header.
// A bad body is 422 naming the field (as for facts), a bad header 400; unknown body fields are refused.
import { z } from 'zod';
import { SCOPES } from '../../../store/ports/facts.ts';
import { NodeError } from '../../errors.ts';
import { parseInput } from '../../validate.ts';
import { queryTerms } from './relevance.ts';

export const MAX_QUERY_LENGTH = 1024;
export const MAX_TOKEN_BUDGET = 100_000;
export const DEFAULT_TOKEN_BUDGET = 1000;
/** The body is a query and two small fields: anything larger is not a recall. */
export const RECALL_BODY_LIMIT = 8 * 1024;

const required = (expected: string) => (issue: { input?: unknown }) =>
  issue.input === undefined ? 'is required' : `must be ${expected}`;

export const recallInputSchema = z.strictObject(
  {
    query: z
      .string({ error: required('a string') })
      .max(MAX_QUERY_LENGTH, { error: `must be at most ${MAX_QUERY_LENGTH} characters` })
      .refine((q) => queryTerms(q).length > 0, { error: 'must contain at least one letter or digit' }),
    // Absent: facts of every scope.
    scope: z.enum(SCOPES, { error: required(`one of ${SCOPES.join(', ')}`) }).optional(),
    token_budget: z
      .number({ error: required(`an integer from 1 to ${MAX_TOKEN_BUDGET}`) })
      .int({ error: `must be an integer from 1 to ${MAX_TOKEN_BUDGET}` })
      .min(1, { error: `must be an integer from 1 to ${MAX_TOKEN_BUDGET}` })
      .max(MAX_TOKEN_BUDGET, { error: `must be an integer from 1 to ${MAX_TOKEN_BUDGET}` })
      .default(DEFAULT_TOKEN_BUDGET),
  },
  { error: required('a JSON object') },
);

export type RecallInput = z.output<typeof recallInputSchema>;

export const parseRecallInput = (body: unknown): RecallInput => parseInput(recallInputSchema, body, 'body');

export const VERIFY_HEADER = 'stigmem-verify';

/**
 * Stigmem-Verify: absent or `none` → no proofs; `full` → each fact's chain proof and the signed checkpoint.
 * Anything else (another level, the header twice) is refused rather than silently answered without proofs.
 */
export function parseVerifyHeader(value: string | string[] | undefined): boolean {
  if (value === undefined) return false;
  const level = typeof value === 'string' ? value.trim().toLowerCase() : null;
  if (level === 'full') return true;
  if (level === 'none') return false;
  throw new NodeError(
    'bad_request',
    `Stigmem-Verify: must be "full" or "none" (got ${typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : 'the header more than once'})`,
  );
}
