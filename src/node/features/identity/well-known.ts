// The node's public self-description: GET /.well-known/tessera (what this node is and how to talk to it)
// and GET /.well-known/tessera-manifest.json (the signed manifest). ManifestSigner keeps the manifest
// current: re-signed when the TLS leaf changes (its SPKI is in the manifest) and past half its lifetime.
import type { FastifyInstance, RawServerBase } from 'fastify';
import { z } from 'zod';
import { type Clock, systemClock } from '../../../tls/clock.ts';
import type { CredentialSource } from '../../../tls/credential-source.ts';
import { followCredentials } from '../../../tls/follow.ts';
import { component } from '../../http/openapi/components.ts';
import { describeRoute } from '../../http/openapi/route-doc.ts';
import { FEDERATION_PATHS } from '../federation/https/paths.ts';
import {
  buildManifest,
  DEFAULT_MANIFEST_TTL_SECONDS,
  type ManifestEndpoints,
  opensslFingerprint,
  type RotationEvent,
  type SignedManifest,
  SignedManifestSchema,
} from './manifest.ts';
import type { NodeKey } from './node-key.ts';

export const WELL_KNOWN_PATH = '/.well-known/tessera';
/** The same signed manifest under the name Stigmem operators and tools fetch. */
export const STIGMEM_MANIFEST_PATH = '/.well-known/stigmem-manifest.json';

export interface WellKnownInfo {
  version: string;
  entity_uri: string;
  node_url: string;
  federation_url: string;
  /** e.g. `{api_keys: true}`. */
  auth: { api_keys: boolean };
  /** e.g. `{transport: 'mtls' | 'insecure', token: 'EdDSA-JWT'}`. */
  federation: { transport: string; token: string };
  /** The node key, raw base64url, and its key id. */
  public_key: string;
  key_id: string;
}

export interface WellKnownSources {
  getInfo: () => WellKnownInfo;
  getManifest: () => SignedManifest;
}

const wellKnownInfoSchema = component(
  'WellKnownInfo',
  z.strictObject({
    version: z.string(),
    entity_uri: z.string(),
    node_url: z.string(),
    federation_url: z.string(),
    auth: z.strictObject({ api_keys: z.boolean() }),
    federation: z.strictObject({ transport: z.enum(['mtls', 'insecure', 'disabled']), token: z.string() }),
    public_key: z.string().meta({ description: 'The node key, raw Ed25519, base64url.' }),
    key_id: z.string(),
  }),
);

const TAG = 'identity';
const infoDoc = describeRoute({
  tag: TAG,
  summary: 'What this node is and how to talk to it',
  responses: {
    200: {
      description: 'The summary (cached up to a minute).',
      schema: wellKnownInfoSchema,
      example: {
        version: '0.1.0',
        entity_uri: 'spiffe://example.org/node/a',
        node_url: 'https://node-a.example.org:8765',
        federation_url: 'https://node-a.example.org:8765',
        auth: { api_keys: true },
        federation: { transport: 'mtls', token: 'EdDSA-JWT' },
        public_key: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo',
        key_id: '9f86d081884c7d65',
      },
    },
  },
});
const manifestDoc = describeRoute({
  tag: TAG,
  summary: 'The signed manifest',
  description:
    'Entity URI, node and issuer keys, the TLS key it serves with and recent key rotations, signed with the ' +
    'node key; re-signed when the TLS material or a key changes. The same document at ' +
    '`/.well-known/tessera-manifest.json` and `/.well-known/stigmem-manifest.json` (the name Stigmem tools fetch).',
  responses: { 200: { description: 'The manifest (cached up to a minute).', schema: SignedManifestSchema } },
});

// Public by nature: what a peer needs before it can prove anything.
const OPEN = { access: 'open' } as const;

export function registerWellKnownRoutes<S extends RawServerBase>(
  app: FastifyInstance<S>,
  sources: WellKnownSources,
): void {
  // Short caching: the manifest is re-signed on TLS rotation and peers should see that soon.
  app.get(WELL_KNOWN_PATH, { config: { ...OPEN, openapi: infoDoc } }, async (_request, reply) => {
    reply.header('cache-control', 'max-age=60');
    return sources.getInfo();
  });
  for (const path of [FEDERATION_PATHS.manifest, STIGMEM_MANIFEST_PATH])
    app.get(path, { config: { ...OPEN, openapi: manifestDoc } }, async (_request, reply) => {
      reply.header('cache-control', 'max-age=60');
      return sources.getManifest();
    });
}

export interface ManifestSignerOptions {
  /** The node key, or a getter for it (a KeyRing's current key: the manifest follows a rotation). */
  nodeKey: NodeKey | (() => NodeKey);
  entityUri: string;
  /** Our TLS credentials; absent in the insecure dev mode (the manifest then names no TLS key). */
  credentials?: CredentialSource;
  clock?: Clock;
  ttlSeconds?: number;
  /** Signed rotation events still inside their dual-trust window, or a getter for them. */
  rotationEvents?: RotationEvent[] | (() => RotationEvent[]);
  /** The capability issuer key to publish (a getter, so it follows an issuer key rotation). */
  issuerKey?: () => { keyId: string; publicKeyB64: string } | undefined;
  /** The endpoints to publish (a getter: a port-0 gRPC bind is known only once listening). */
  endpoints?: () => ManifestEndpoints | undefined;
}

export class ManifestSigner {
  #cached: SignedManifest | undefined;
  #signedAt = 0;
  readonly #clock: Clock;
  readonly #ttlMs: number;
  readonly #stopFollowing: () => void;

  constructor(private readonly options: ManifestSignerOptions) {
    this.#clock = options.clock ?? systemClock;
    this.#ttlMs = (options.ttlSeconds ?? DEFAULT_MANIFEST_TTL_SECONDS) * 1000;
    // A new TLS key changes the manifest's tls_spki_sha256: sign a fresh one on next use.
    this.#stopFollowing = options.credentials
      ? followCredentials(options.credentials, () => this.invalidate())
      : () => undefined;
  }

  /** The current signed manifest, re-signed when the TLS key changed or half its lifetime has passed. */
  manifest(): SignedManifest {
    const now = this.#clock();
    const spki = this.#tlsSpki();
    const certSha256 = this.options.credentials?.material.leaf.fingerprint256;
    const nodeKey =
      typeof this.options.nodeKey === 'function' ? this.options.nodeKey() : this.options.nodeKey;
    const issuerKey = this.options.issuerKey?.();
    const endpoints = this.options.endpoints?.();
    const stale =
      !this.#cached ||
      this.#cached.tls_spki_sha256 !== spki ||
      // A renewed certificate may keep its key (same SPKI): its fingerprint still changes.
      this.#cached.tls_cert_fingerprint !== (certSha256 && opensslFingerprint(certSha256)) ||
      this.#cached.key_id !== nodeKey.keyId ||
      this.#cached.issuer_key_id !== issuerKey?.keyId ||
      JSON.stringify(this.#cached.endpoints) !== JSON.stringify(endpoints) ||
      now.getTime() - this.#signedAt >= this.#ttlMs / 2 ||
      now.getTime() < this.#signedAt; // the clock went back: do not serve a manifest from the future
    if (stale) {
      const events = this.options.rotationEvents;
      this.#cached = buildManifest({
        nodeKey,
        entityUri: this.options.entityUri,
        tlsSpkiSha256: spki,
        ...(certSha256 ? { tlsCertSha256: certSha256 } : {}),
        now,
        ttlSeconds: this.#ttlMs / 1000,
        rotationEvents: (typeof events === 'function' ? events() : events) ?? [],
        ...(issuerKey ? { issuerKey } : {}),
        ...(endpoints ? { endpoints } : {}),
      });
      this.#signedAt = now.getTime();
    }
    return this.#cached as SignedManifest;
  }

  /** Forces a re-sign on the next request (e.g. after a key rotation added a rotation event). */
  invalidate(): void {
    this.#cached = undefined;
  }

  close(): void {
    this.#stopFollowing();
  }

  #tlsSpki(): string {
    return this.options.credentials?.material.leaf.spkiSha256 ?? '';
  }
}
