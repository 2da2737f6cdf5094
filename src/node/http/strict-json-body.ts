// Every JSON body a listener accepts goes through the node's strict JSON (strict-json.ts): valid UTF-8,
// no duplicate keys, bounded depth; the body size limit stays fastify's (checked before parsing).
import type { FastifyInstance } from 'fastify';
import { NodeError } from '../errors.ts';
import { decodeUtf8, parseStrictJson } from '../strict-json.ts';

export function installStrictJson(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => {
    try {
      const bytes = body as Buffer;
      if (bytes.length === 0) throw new NodeError('invalid_json', 'request body is not valid JSON');
      done(null, parseStrictJson(decodeUtf8(bytes, 'request body'), 'request body'));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
}
