// Identity: what this node says it is. /.well-known/tessera (summary) and the signed manifest (entity URI,
// node and issuer keys, TLS key, rotation events) on both listeners; the manifest is re-signed when the
// TLS material or a key changes.
import type { FastifyPluginAsync } from 'fastify';
import type { NodeContext } from '../../app/context.ts';
import type { Feature } from '../../app/feature.ts';
import { manifestRotationEvents } from '../rotation/key-ring.ts';
import { ManifestSigner, registerWellKnownRoutes, type WellKnownSources } from './well-known.ts';

export const NODE_VERSION = '0.1.0';

export function identityFeature(ctx: NodeContext): Feature & { signer: ManifestSigner } {
  const { config, keys, clock, credentials } = ctx;
  const signer = new ManifestSigner({
    nodeKey: keys.nodeKey,
    issuerKey: () => keys.issuerRing.current(),
    rotationEvents: () => manifestRotationEvents(keys.rings, clock()),
    entityUri: config.entityUri,
    ...(credentials ? { credentials } : {}),
    clock,
    // Published only with a gRPC listener: a node without one signs the same manifest as before.
    endpoints: () => (ctx.grpcEndpoint ? { https: ctx.nodeUrl, grpc: ctx.grpcEndpoint } : undefined),
  });
  const sources: WellKnownSources = {
    getInfo: () => ({
      version: NODE_VERSION,
      entity_uri: config.entityUri,
      node_url: ctx.nodeUrl,
      federation_url: ctx.nodeUrl,
      auth: { api_keys: config.authRequired },
      federation: {
        transport: !config.federationEnabled ? 'disabled' : credentials ? 'mtls' : 'insecure',
        token: 'EdDSA-JWT',
      },
      public_key: keys.nodeKey().publicKeyB64,
      key_id: keys.nodeKey().keyId,
    }),
    getManifest: () => signer.manifest(),
  };
  const routes: FastifyPluginAsync = async (app) => registerWellKnownRoutes(app, sources);
  return { name: 'identity', signer, api: routes, federation: routes, close: () => signer.close() };
}
