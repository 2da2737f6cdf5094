// The zod schemas of one API description as JSON Schema 2020-12 (OpenAPI 3.1's dialect), with zod's own
// generator (z.toJSONSchema). Requests are described as their input (what a client may send: defaults
// optional, strings before coercion), responses as their output. Declared components become
// `components.schemas` and `$ref`s; every other schema is inlined where it is used.
import { z } from 'zod';
import { declaredComponents, type JsonSchema, rewriteOf } from './components.ts';

const COMPONENT_REF = '#/components/schemas/';
/** Route schemas go through the registry under these ids, then are inlined. */
const INLINE = 'inline-';

export interface ConvertedSchemas {
  /** A request schema (body, query, params), inline. */
  request(schema: z.ZodType): JsonSchema;
  /** A response schema: a `$ref` when it is a component, else inline (referring to components). */
  response(schema: z.ZodType): JsonSchema;
  /** The components the responses refer to (directly or through other components), by name. */
  components: Record<string, JsonSchema>;
}

export function convertSchemas(
  requests: Iterable<z.ZodType>,
  responses: Iterable<z.ZodType>,
): ConvertedSchemas {
  const request = convert(requests, 'input', new Map());
  const response = convert(responses, 'output', declaredComponents());
  const used = referencedComponents([...response.inline.values()], response.components);
  return {
    request: (schema) => lookup(request.inline, schema),
    response: (schema) => lookup(response.inline, schema),
    components: Object.fromEntries(Object.entries(response.components).filter(([name]) => used.has(name))),
  };
}

function lookup(converted: Map<z.ZodType, JsonSchema>, schema: z.ZodType): JsonSchema {
  const found = converted.get(schema);
  if (!found) throw new Error('schema was not converted with the document');
  return found;
}

function convert(
  schemas: Iterable<z.ZodType>,
  io: 'input' | 'output',
  components: ReadonlyMap<z.ZodType, string>,
): { inline: Map<z.ZodType, JsonSchema>; components: Record<string, JsonSchema> } {
  const registry = z.registry<{ id: string }>();
  const ids = new Map<z.ZodType, string>();
  for (const [schema, id] of components) {
    registry.add(schema, { id });
    ids.set(schema, id);
  }
  const routeSchemas = [...new Set(schemas)];
  for (const [i, schema] of routeSchemas.entries())
    if (!ids.has(schema)) {
      registry.add(schema, { id: `${INLINE}${i}` });
      ids.set(schema, `${INLINE}${i}`);
    }
  const generated = z.toJSONSchema(registry, {
    io,
    // A schema zod cannot describe (a transform's output, a custom check) must be fixed, not hidden.
    unrepresentable: 'throw',
    uri: (id) => `${COMPONENT_REF}${id}`,
    override: ({ zodSchema, jsonSchema }) => {
      const rewrite = rewriteOf(zodSchema);
      if (!rewrite) return;
      const replacement = rewrite({ ...jsonSchema });
      for (const key of Object.keys(jsonSchema)) delete (jsonSchema as JsonSchema)[key];
      Object.assign(jsonSchema, replacement);
    },
  }).schemas;
  if ('__shared' in generated)
    throw new Error('a recursive schema in the API description must be a component (openapi/components.ts)');
  const byId = new Map(Object.entries(generated).map(([id, schema]) => [id, withoutIdentity(schema)]));
  const inlined = (node: unknown, visiting: string[]): unknown => {
    if (Array.isArray(node)) return node.map((item) => inlined(item, visiting));
    if (node === null || typeof node !== 'object') return node;
    const { $ref, ...rest } = node as JsonSchema;
    const entries = Object.entries(rest).map(([key, value]) => [key, inlined(value, visiting)]);
    if (typeof $ref === 'string' && $ref.startsWith(`${COMPONENT_REF}${INLINE}`)) {
      const id = $ref.slice(COMPONENT_REF.length);
      if (visiting.includes(id))
        throw new Error(
          'a recursive schema in the API description must be a component (openapi/components.ts)',
        );
      return { ...(inlined(byId.get(id), [...visiting, id]) as JsonSchema), ...Object.fromEntries(entries) };
    }
    return { ...(typeof $ref === 'string' ? { $ref } : {}), ...Object.fromEntries(entries) };
  };
  const inline = new Map<z.ZodType, JsonSchema>();
  for (const schema of routeSchemas) {
    const id = ids.get(schema) as string;
    inline.set(
      schema,
      id.startsWith(INLINE) ? (inlined(byId.get(id), [id]) as JsonSchema) : { $ref: `${COMPONENT_REF}${id}` },
    );
  }
  const named: Record<string, JsonSchema> = {};
  for (const id of components.values()) named[id] = inlined(byId.get(id), []) as JsonSchema;
  return { inline, components: named };
}

/** A generated schema without `$schema` and `$id`: inside an OpenAPI document those would re-root its refs. */
function withoutIdentity(schema: JsonSchema): JsonSchema {
  const { $schema: _schema, $id: _id, ...rest } = schema;
  return rest;
}

/** The component names `roots` refer to, following references between components. */
function referencedComponents(roots: unknown[], components: Record<string, JsonSchema>): Set<string> {
  const used = new Set<string>();
  const walk = (node: unknown): void => {
    if (node === null || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string' && value.startsWith(COMPONENT_REF)) {
        const name = value.slice(COMPONENT_REF.length);
        if (!used.has(name)) {
          used.add(name);
          walk(components[name]);
        }
      } else walk(value);
    }
  };
  roots.forEach(walk);
  return used;
}
