// What a route says about itself for the API description, declared in its route options next to its
// access, quota and audit entry: `config: { access: 'read', openapi: describeRoute({...}) }`. The zod
// schemas named here are the ones the handler parses with, so the description cannot drift from the
// validation; the examples are sent to a real node by the tests (test/node/openapi.test.ts).
import type { z } from 'zod';
import type { ErrorCode } from '../../errors.ts';

export interface ResponseDoc {
  description: string;
  /** The body's schema (a JSON body unless `contentType` says otherwise); absent for a body not described. */
  schema?: z.ZodType;
  /** Default `application/json`. */
  contentType?: string;
  /** An example body; it must pass `schema` (checked by the tests). */
  example?: unknown;
  /** Response headers worth knowing: name → meaning. */
  headers?: Record<string, string>;
}

/** One request a client could send; the tests send each to a real node and expect a 2xx. */
export interface RequestExample<P = unknown, Q = unknown, B = unknown> {
  summary: string;
  params?: P;
  query?: Q;
  body?: B;
}

export interface RouteDoc<
  P extends z.ZodType = z.ZodType,
  Q extends z.ZodType = z.ZodType,
  B extends z.ZodType = z.ZodType,
> {
  summary: string;
  /** Markdown (CommonMark), as OpenAPI allows. */
  description?: string;
  /** The group the route is listed under (the feature). */
  tag: string;
  /** The path parameters (`/v1/facts/:id` → `{id}`). */
  params?: P;
  /** The query string, as the handler parses it (every value a string). */
  query?: Q;
  /** The JSON body, as the handler parses it. */
  body?: B;
  /** Success responses (and any non-error answer, e.g. `/readyz`'s 503) by status. */
  responses: Record<number, ResponseDoc>;
  /**
   * Error codes of the catalog this route's own work can answer with. Those its access, quota, audit
   * entry, inputs and the listener imply are added by the document builder (openapi/errors.ts).
   */
  errors?: readonly ErrorCode[];
  examples?: Record<string, RequestExample<z.input<P>, z.input<Q>, z.input<B>>>;
}

/** A route's description, with its examples typed by its own schemas. */
export function describeRoute<
  P extends z.ZodType = z.ZodType,
  Q extends z.ZodType = z.ZodType,
  B extends z.ZodType = z.ZodType,
>(doc: RouteDoc<P, Q, B>): RouteDoc {
  return doc as unknown as RouteDoc;
}
