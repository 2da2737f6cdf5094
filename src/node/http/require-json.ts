// fastify would parse text/plain into a string and let it reach validation as a confusing 422; a wrong
// media type is a 415, decided before the body is read. Used as a route's onRequest hook.
import type { FastifyRequest } from 'fastify';
import { NodeError } from '../errors.ts';

export async function requireJson(request: FastifyRequest): Promise<void> {
  const type = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json')
    throw new NodeError(
      'unsupported_media_type',
      `${request.method} ${request.routeOptions.url} takes Content-Type: application/json (got ${type ? JSON.stringify(type) : 'none'})`,
    );
}
