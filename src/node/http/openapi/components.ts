// Names for the shared records of the API description, and the rare correction where zod's generator cannot
// see what a schema accepts. Both are declarations made once when a schema's module loads (like the
// schemas themselves), read by every node's document builder; nothing here changes at run time.
import type { z } from 'zod';

export type JsonSchema = Record<string, unknown>;

const componentIds = new Map<z.ZodType, string>();
const rewrites = new Map<object, (generated: JsonSchema) => JsonSchema>();

/** `schema`, described once as `components.schemas[id]` (FactRecord, Peer, …) and referenced by `$ref`. */
export function component<S extends z.ZodType>(id: string, schema: S): S {
  for (const [other, taken] of componentIds)
    if (taken === id && other !== schema) throw new Error(`two OpenAPI components are named ${id}`);
  componentIds.set(schema, id);
  return schema;
}

/** Every declared component: schema → name. */
export function declaredComponents(): ReadonlyMap<z.ZodType, string> {
  return componentIds;
}

/**
 * `schema`, described by `rewrite(generated)` instead of what zod generates for it: for the few schemas
 * whose input zod cannot see (a `z.preprocess` that also takes short forms).
 */
export function describedAs<S extends z.ZodType>(
  schema: S,
  rewrite: (generated: JsonSchema) => JsonSchema,
): S {
  rewrites.set(schema, rewrite);
  return schema;
}

export function rewriteOf(schema: object): ((generated: JsonSchema) => JsonSchema) | undefined {
  return rewrites.get(schema);
}
