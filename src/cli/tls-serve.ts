// `tessera tls serve`: a small mTLS HTTPS server built only from the library, for checking a peer's
// client setup (pair it with `tls probe`) and as the child process of the transport tests.
// Routes: GET /whoami (the caller's PeerIdentity), POST /echo (streams the body back), GET /healthz.

import { pino } from 'pino';
import type { Authorizer } from '../tls/authorize.ts';
import { CredentialSource } from '../tls/credential-source.ts';
import { ExpiryMonitor } from '../tls/expiry.ts';
import { createMtlsServer } from '../transport/https-server.ts';

export interface TlsServeOptions {
  certPath: string;
  keyPath: string;
  caPath: string;
  host: string;
  port: number;
  entityUri?: string;
  pollIntervalMs: number;
  /** Watch the material's directory (default true); false leaves SIGHUP and polling as the only triggers. */
  watch?: boolean;
  authorize: Authorizer;
}

export async function tlsServe(options: TlsServeOptions): Promise<void> {
  const logger = pino({ name: 'tessera', level: process.env.TESSERA_LOG_LEVEL ?? 'info' });
  // Fails closed: invalid material throws here and the process exits non-zero before listening.
  const credentials = await CredentialSource.open({ ...options, logger });
  const expiry = new ExpiryMonitor({ logger }).track(credentials);
  const app = createMtlsServer({
    credentials,
    authorize: options.authorize,
    logger,
    expiry,
    fastify: { bodyLimit: 1 << 30 },
  });
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/whoami', async (request) => ({
    peer: request.peer,
    served: credentials.material.leaf.fingerprint256,
  }));
  app.post('/echo', (request, reply) => {
    reply.header('content-type', 'application/octet-stream').send(request.raw);
  });
  // Handlers first: a supervisor that signals right after `listening` gets a clean stop, not the default kill.
  const stop = async () => {
    credentials.close();
    expiry.close();
    await app.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const url = await app.listen({ host: options.host, port: options.port });
  logger.info(
    {
      event: 'listening',
      url,
      port: app.server.address() && (app.server.address() as { port: number }).port,
    },
    'mTLS server listening',
  );
}
