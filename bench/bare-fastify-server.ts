// A second reference for the API rows: Fastify 5 (the HTTP framework DESIGN.md gives the node) with the same
// TLS policy and material, answering the same two routes with the same bytes as bench/raw-https-server.ts and
// nothing else: no logger, no hooks, no store. Its cost per request less raw Node's is what the framework
// itself adds, which no Fastify-based node can avoid.
// Usage: tsx bench/bare-fastify-server.ts CERT KEY CA POST_REPLY_FILE GET_REPLY_FILE   (prints its port)
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { referenceArgs } from './reference-args.ts';

const { tls, postReply, getReply } = referenceArgs(process.argv.slice(2));

const app = Fastify({
  https: tls,
  keepAliveTimeout: 60_000,
  logger: false,
});
// Fastify's own JSON body parser reads and parses the body, as the raw reference does by hand.
app.post('/v1/facts', (_request, reply) => {
  reply.code(201).type('application/json').send(postReply);
});
app.get('/v1/facts', (_request, reply) => {
  reply.type('application/json').send(getReply);
});
app.server.on('tlsClientError', () => {});
await app.listen({ port: 0, host: '127.0.0.1' });
console.log((app.server.address() as AddressInfo).port);
process.on('SIGTERM', () => process.exit(0));
