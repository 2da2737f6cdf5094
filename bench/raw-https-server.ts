// The reference for the API rows of the benchmark: a bare node:https server with the same TLS policy and
// material as a node's mTLS API listener, answering the same two routes with the least work that is still
// honest: POST /v1/facts reads the body, JSON-parses it and answers 201 with a reply of the size Tessera
// sends; GET /v1/facts?entity=… answers 200 with a body of the size Tessera's answer has.
// Usage: tsx bench/raw-https-server.ts CERT KEY CA POST_REPLY_FILE GET_REPLY_FILE   (prints its port)
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { referenceArgs } from './reference-args.ts';

const { tls, postReply, getReply } = referenceArgs(process.argv.slice(2));
const MAX_BODY = 1024 * 1024;

const server = createServer(
  {
    ...tls,
    keepAlive: true,
    keepAliveTimeout: 60_000,
  },
  (req, res) => {
    if (req.method === 'POST' && req.url === '/v1/facts') {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_BODY) chunks.push(chunk);
      });
      req.on('end', () => {
        try {
          JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          res.writeHead(400).end();
          return;
        }
        res.writeHead(201, { 'content-type': 'application/json', 'content-length': postReply.length });
        res.end(postReply);
      });
      return;
    }
    if (req.method === 'GET' && req.url?.startsWith('/v1/facts?entity=')) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': getReply.length });
      res.end(getReply);
      return;
    }
    res.writeHead(404).end();
  },
);
server.on('tlsClientError', () => {});
server.listen(0, '127.0.0.1', () => console.log((server.address() as AddressInfo).port));
process.on('SIGTERM', () => process.exit(0));
