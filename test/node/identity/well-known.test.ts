// The well-known documents and the ManifestSigner: the served manifest stays signed over the TLS key
// actually in use (re-signed on rotation) and fresh (re-signed past half its lifetime).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Fastify from 'fastify';
import { FEDERATION_PATHS } from '../../../src/node/features/federation/https/paths.ts';
import { type SignedManifest, verifyManifest } from '../../../src/node/features/identity/manifest.ts';
import { loadOrCreateNodeKey } from '../../../src/node/features/identity/node-key.ts';
import {
  ManifestSigner,
  registerWellKnownRoutes,
  WELL_KNOWN_PATH,
  type WellKnownInfo,
} from '../../../src/node/features/identity/well-known.ts';
import { createTestCa, tempDir, testUri, writeMaterial } from '../../support/pki.ts';
import { replaceFile } from '../../support/reload.ts';
import { openStaticCredentials } from '../../support/tls-peers.ts';

const seedKey = (byte: number) =>
  loadOrCreateNodeKey({
    dataDir: '/nonexistent',
    privateKeyB64: Buffer.alloc(32, byte).toString('base64url'),
  });

describe('well-known documents and ManifestSigner', () => {
  test('GET /.well-known/tessera and /.well-known/tessera-manifest.json serve the current documents', async () => {
    const key = await seedKey(1);
    const signer = new ManifestSigner({ nodeKey: key, entityUri: testUri('a') });
    const info: WellKnownInfo = {
      version: '0.1.0',
      entity_uri: testUri('a'),
      node_url: 'https://127.0.0.1:8765',
      federation_url: 'https://127.0.0.1:8765',
      auth: { api_keys: true },
      federation: { transport: 'insecure', token: 'EdDSA-JWT' },
      public_key: key.publicKeyB64,
      key_id: key.keyId,
    };
    const app = Fastify();
    registerWellKnownRoutes(app, { getInfo: () => info, getManifest: () => signer.manifest() });
    const infoResponse = await app.inject({ method: 'GET', url: WELL_KNOWN_PATH });
    assert.equal(infoResponse.statusCode, 200);
    assert.deepEqual(infoResponse.json(), info);
    const manifestResponse = await app.inject({ method: 'GET', url: FEDERATION_PATHS.manifest });
    assert.equal(manifestResponse.statusCode, 200);
    assert.match(String(manifestResponse.headers['content-type']), /application\/json/);
    const manifest = verifyManifest(manifestResponse.json(), {
      now: new Date(),
      expectedEntityUri: testUri('a'),
    });
    assert.equal(manifest.public_key, key.publicKeyB64);
    assert.equal(manifest.tls_spki_sha256, '', 'no TLS credentials: no TLS key named');
    await app.close();
  });

  test('the signed manifest is cached, and re-signed once past half its TTL', async () => {
    const key = await seedKey(2);
    let now = new Date('2030-01-01T00:00:00.000Z');
    const signer = new ManifestSigner({
      nodeKey: key,
      entityUri: testUri('a'),
      clock: () => now,
      ttlSeconds: 3600,
    });
    const first = signer.manifest();
    assert.equal(first.issued_at, '2030-01-01T00:00:00.000Z');
    assert.equal(first.expires_at, '2030-01-01T01:00:00.000Z');
    now = new Date('2030-01-01T00:29:59.000Z');
    assert.equal(signer.manifest(), first, 'same object before half the TTL');
    now = new Date('2030-01-01T00:30:00.000Z');
    const second = signer.manifest();
    assert.equal(second.issued_at, '2030-01-01T00:30:00.000Z');
    assert.notEqual(second.signature, first.signature);
    verifyManifest(second, { now });
  });

  test('a TLS rotation (new leaf key) re-signs the manifest with the new tls_spki_sha256', async (t) => {
    const ca = await createTestCa();
    const dir = await tempDir(t);
    const paths = await writeMaterial(dir, 'a', await ca.issue('a'), ca.certPem);
    const credentials = await openStaticCredentials(paths);
    t.after(() => credentials.close());
    const signer = new ManifestSigner({ nodeKey: await seedKey(3), entityUri: testUri('a'), credentials });
    const before: SignedManifest = signer.manifest();
    assert.equal(before.tls_spki_sha256, credentials.material.leaf.spkiSha256);

    const renewed = await ca.issue('a');
    await replaceFile(paths.keyPath, renewed.keyPem, 0o600);
    await replaceFile(paths.certPath, renewed.chainPem);
    const event = await credentials.reload('manual');
    assert.equal(event.result, 'success', event.message);
    const after = signer.manifest();
    assert.equal(after.tls_spki_sha256, credentials.material.leaf.spkiSha256);
    assert.notEqual(after.tls_spki_sha256, before.tls_spki_sha256);
    verifyManifest(after, { now: new Date() });

    assert.equal(credentials.listenerCount('change'), 1);
    signer.close();
    assert.equal(credentials.listenerCount('change'), 0, 'close() unsubscribes');
  });
});
