// The API listener: facts, admin and health for clients with API keys. Plain HTTP (loopback or behind a
// TLS proxy), TLS, or mutual TLS (any client certificate of our CA bundle; the API key still decides what
// it may do), following credential reloads. Features add their hooks and routes (feature.ts).
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyHttpsOptions, type FastifyInstance } from 'fastify';
import { allow } from '../../tls/authorize.ts';
import { followCredentials } from '../../tls/follow.ts';
import type { Material } from '../../tls/material.ts';
import { serverTlsOptions } from '../../tls/policy.ts';
import { createMtlsServer } from '../../transport/https-server.ts';
import { installErrorHandler } from '../http/error-handler.ts';
import { installStrictJson } from '../http/strict-json-body.ts';
import { urlHost } from '../settings/config.ts';
import type { NodeContext } from './context.ts';
import { type Feature, mountFeatures } from './feature.ts';
import { capConnections, listenerOptions, serverBounds } from './http-options.ts';
import type { Listener } from './lifecycle.ts';
import { installTrustedProxy } from './trusted-proxy.ts';

export interface ApiListener extends Listener {
  readonly app: FastifyInstance;
  /** Where the API answers, once listening. */
  readonly url: string;
}

export async function createApiListener(
  ctx: NodeContext,
  features: readonly Feature[],
): Promise<ApiListener> {
  const { config } = ctx;
  const app = createApp(ctx);
  // Any client certificate of our CA bundle, as on the mTLS API; the API key still decides what it may do.
  installTrustedProxy(app, ctx, () => allow, config.apiTls === 'mtls');
  capConnections(app, config.connections);
  installErrorHandler(app);
  installStrictJson(app);
  await mountFeatures(app, features, 'api');
  let url = '';
  return {
    name: 'api',
    app,
    get url() {
      return url;
    },
    async listen() {
      await app.listen({ host: config.apiHost, port: config.apiPort });
      const { port } = app.server.address() as AddressInfo;
      url = `${config.apiTls === 'off' ? 'http' : 'https'}://${urlHost(config.apiHost)}:${port}`;
    },
    close: () => app.close(),
  };
}

function createApp(ctx: NodeContext): FastifyInstance {
  const { config, credentials, logger, clock } = ctx;
  const bounds = config.connections;
  const base = listenerOptions(logger, 'api', bounds);
  if (config.apiTls === 'off' || !credentials) {
    const app = Fastify(base);
    app.decorateRequest('peer', null);
    return app;
  }
  if (config.apiTls === 'mtls')
    return createMtlsServer({
      credentials,
      authorize: () => allow,
      logger,
      clock,
      metrics: ctx.tlsMetrics,
      fastify: base,
      server: serverBounds(bounds),
    }) as unknown as FastifyInstance;
  const tlsOptions = (material: Material) => ({
    ...serverBounds(bounds),
    ...serverTlsOptions(material),
    requestCert: false,
    rejectUnauthorized: false,
  });
  const app = Fastify({
    ...base,
    https: tlsOptions(credentials.material),
  } as unknown as FastifyHttpsOptions<HttpsServer>) as unknown as FastifyInstance;
  const stop = followCredentials(credentials, (material) =>
    (app.server as unknown as HttpsServer).setSecureContext(tlsOptions(material)),
  );
  app.addHook('onClose', async () => stop());
  app.decorateRequest('peer', null);
  return app;
}
