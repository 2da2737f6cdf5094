// Input validation for every boundary of the node (API bodies and queries, peer records, feed queries):
// a zod schema, and on failure one NodeError `validation_failed` naming each bad field.
import type { z } from 'zod';
import { NodeError } from './errors.ts';

/** One readable sentence per problem, each naming its field: `value.v: must be a string for type "ref"`. */
export function describeIssues(error: z.ZodError, root: string, unknown = 'unknown field'): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => {
      const at = (path: PropertyKey[]) => (path.length ? path.map(String).join('.') : root);
      if (issue.code === 'unrecognized_keys')
        return `${issue.keys.map((key) => at([...issue.path, key])).join(', ')}: ${unknown}`;
      return `${at(issue.path)}: ${issue.message}`;
    })
    .join('; ');
}

/** `input` parsed by `schema`, or NodeError `validation_failed`; `root` names the input when a path is empty. */
export function parseInput<S extends z.ZodType>(
  schema: S,
  input: unknown,
  root = 'body',
  unknown?: string,
): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new NodeError('validation_failed', describeIssues(parsed.error, root, unknown));
  return parsed.data;
}
